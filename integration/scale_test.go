package integration

// Reads that scale: a read of one bond's files brings only that
// bond and its slaves up to date with the host, so it costs the same with
// 1 or 500 bonds.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"bondingfs/internal/nettest"
)

// medianRead returns the median time of n reads of path.
func medianRead(t *testing.T, path string, n int) time.Duration {
	t.Helper()
	ds := make([]time.Duration, n)
	for i := range ds {
		start := time.Now()
		if _, err := os.ReadFile(path); err != nil {
			t.Fatal(err)
		}
		ds[i] = time.Since(start)
	}
	slices.Sort(ds)
	return ds[n/2]
}

func TestRead500Bonds(t *testing.T) {
	nettest.SkipUnlessRoot(t)
	needTools(t, "ip")
	ns := nettest.NewNetns(t, "bfs-scale-")
	port := freePort(t)
	d := startDaemon(t, ns.Name(), "--state", "none", "--metrics", "127.0.0.1:"+port)
	skipped := func() float64 {
		return metricLabel(checkMetricsText(t, scrape(t, "http://127.0.0.1:"+port+"/metrics")), "bondingfs_read_syncs_total", "result", "skipped")
	}
	proc0 := filepath.Join(d.proc, "bond0")
	one := medianRead(t, proc0, 51)
	for i := 1; i < 500; i++ {
		mustEcho(t, filepath.Join(d.sys, "bonding_masters"), fmt.Sprintf("+bond%d", i))
	}
	// Creating 500 TAPs queues a few thousand link events; on a loaded
	// machine the daemon may still be applying them. Wait until a read
	// skips the host (the stream is drained and applied) before counting.
	for deadline := time.Now().Add(30 * time.Second); ; {
		b := skipped()
		if _, err := os.ReadFile(proc0); err != nil {
			t.Fatal(err)
		}
		if skipped() > b {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("30 s after creating 500 bonds, no read of /proc/net/bonding/bond0 skips the host: the link event stream never reports in sync")
		}
		time.Sleep(10 * time.Millisecond)
	}
	many := medianRead(t, proc0, 51)
	before := skipped()
	start := time.Now()
	for i := 0; i < 500; i++ {
		if _, err := os.ReadFile(filepath.Join(d.proc, fmt.Sprintf("bond%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	all := time.Since(start)
	// Nothing changed on the host meanwhile: the link event stream was in
	// sync, and the reads read nothing from the host. This, not a timing,
	// is what keeps a read's cost independent of the number of bonds; the
	// figures are measured by `make bench` (reads part) and only logged
	// here, as a timed assertion fails on a loaded CI machine.
	if n := skipped() - before; n < 450 {
		t.Errorf("%v of 500 reads skipped the host read (bondingfs_read_syncs_total{result=\"skipped\"}), want nearly all", n)
	}
	t.Logf("RESULT cat /proc/net/bonding/bond0: %v with 1 bond, %v with 500 bonds (%.2f×); all 500 files: %v (target 100 ms)", one, many, float64(many)/float64(one), all)
}

// metricLabel returns the value of the family's sample with label
// key=value (-1 when there is none).
func metricLabel(fams map[string]*dto.MetricFamily, name, key, value string) float64 {
	f := fams[name]
	if f == nil {
		return -1
	}
	for _, m := range f.GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == key && l.GetValue() == value {
				if c := m.GetCounter(); c != nil {
					return c.GetValue()
				}
				return m.GetGauge().GetValue()
			}
		}
	}
	return -1
}

// TestReadAfterHostChange: a read that follows a host change sees it,
// although reads skip the host when the link event stream is in sync —
// the change's RTM_NEWLINK/RTM_DELLINK is queued before `ip` returns, so
// the read finds the stream not drained and reads the links. The daemon's
// event reader usually wins the race anyway; the cases it loses are
// forced in netdev's TestLinkEventsPending and bond's
// TestSyncSkipsWhenEventsInSync. This is the end-to-end check.
func TestReadAfterHostChange(t *testing.T) {
	nettest.SkipUnlessRoot(t)
	needTools(t, "ip")
	ns := nettest.NewNetns(t, "bfs-rahc-")
	d := startDaemon(t, ns.Name(), "--state", "none")
	slaves := filepath.Join(d.sys, "bond0/bonding/slaves")
	for i := 0; i < 20; i++ {
		ns.Run(t, "ip", "link", "add", "eth0", "type", "veth", "peer", "name", "peer0")
		mustEcho(t, slaves, "+eth0")
		if got := readTrim(t, slaves); got != "eth0" {
			t.Fatalf("round %d: slaves %q after enslaving eth0", i, got)
		}
		ns.Run(t, "ip", "link", "del", "eth0")
		if got := readTrim(t, slaves); got != "" {
			t.Fatalf("round %d: slaves %q right after ip link del eth0, want empty", i, got)
		}
		if proc := readTrim(t, filepath.Join(d.proc, "bond0")); strings.Contains(proc, "Slave Interface: eth0") {
			t.Fatalf("round %d: /proc/net/bonding/bond0 still shows eth0 after ip link del:\n%s", i, proc)
		}
	}
}

// TestReadAfterWriteSendfile: after `echo 0 > miimon` the kernel holds the
// file's size as 2 (FUSE_ATOMIC_O_TRUNC sets it to 0, the 2-byte write to 2).
// A reader that copies by the kernel's size — busybox cat, with sendfile,
// whose splice read stops at i_size — must still get the whole text once
// the value is longer ("100\n" after mode 802.3ad forces miimon to 100),
// as must GNU cat (read).
func TestReadAfterWriteSendfile(t *testing.T) {
	nettest.SkipUnlessRoot(t)
	needTools(t, "ip", "busybox", "cat")
	ns := nettest.NewNetns(t, "bfs-cfr-")
	d := startDaemon(t, ns.Name(), "--state", "none")
	for _, cat := range []string{"busybox cat", "cat"} {
		dst := filepath.Join(t.TempDir(), "out")
		// busybox sh, as the oracle scenarios: echo 0 > miimon; cat miimon;
		// echo 4 > mode; cat miimon
		script := `echo 0 > "$1/mode"; echo 0 > "$1/miimon"; ` + cat + ` "$1/miimon" > "$2"; echo 4 > "$1/mode"; ` + cat + ` "$1/miimon" > "$2"`
		if out, err := exec.Command("busybox", "sh", "-c", script, "sh", filepath.Join(d.sys, "bond0/bonding"), dst).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", script, err, out)
		}
		if got, _ := os.ReadFile(dst); string(got) != "100\n" {
			t.Errorf("%s miimon > file: %q after mode 802.3ad, want \"100\\n\"", cat, got)
		}
	}
}
