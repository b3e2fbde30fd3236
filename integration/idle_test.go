package integration

// Idle cost (issue 19): carrier comes from link events plus one link dump
// per namespace per miimon period, and receive buffers follow the traffic.
// These tests check that the MII monitor's semantics hold with many slaves
// (failover of every bond at once, downdelay and updelay with the kernel's
// log lines, traffic after buffers were given back); the cost figures are
// measured by scripts/bench-idle.sh (make bench), not asserted here.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"bondingfs/internal/nettest"
)

// waitFor polls cond every 50 ms until it holds, failing the test with
// what() after timeout.
func waitFor(t *testing.T, timeout time.Duration, cond func() bool, what func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", timeout, what())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestIdleManySlavesMIISemantics: 20 active-backup bonds of 2 slaves each
// (miimon 100; bond1 with downdelay 200, bond2 with updelay 300). The peers
// of every active slave go down in one `ip -batch`: every bond fails over
// to its other slave, with the kernel's lines (bond1 counts its downdelay
// first). The peers come back: every slave is up again, bond2's after its
// updelay line. Then traffic crosses bond0 and every bond is deleted.
func TestIdleManySlavesMIISemantics(t *testing.T) {
	nettest.SkipUnlessRoot(t)
	needTools(t, "ip", "ping")
	const bonds = 20
	tp := newTopo(t, 2*bonds, "--state", "none", "mode=active-backup", "miimon=100")
	for i := 1; i < bonds; i++ {
		mustEcho(t, filepath.Join(tp.d.sys, "bonding_masters"), fmt.Sprintf("+bond%d", i))
	}
	opt := func(bond, name, value string) {
		t.Helper()
		mustEcho(t, filepath.Join(tp.d.sys, bond, "bonding", name), value)
	}
	opt("bond1", "downdelay", "200")
	opt("bond2", "updelay", "300")
	for i := 0; i < bonds; i++ {
		b := fmt.Sprintf("bond%d", i)
		opt(b, "slaves", fmt.Sprintf("+eth%d", 2*i))
		opt(b, "slaves", fmt.Sprintf("+eth%d", 2*i+1))
		tp.A.SetUp(t, b)
	}
	mii := func(slave string) string {
		return readTrim(t, filepath.Join(tp.d.sys, slave, "bonding_slave/mii_status"))
	}
	allUp := func() bool {
		for s := 0; s < 2*bonds; s++ {
			if mii(fmt.Sprintf("eth%d", s)) != "up" {
				return false
			}
		}
		return true
	}
	proc := func() string {
		var b strings.Builder
		for i := 0; i < bonds; i++ {
			p, _ := os.ReadFile(filepath.Join(tp.d.proc, fmt.Sprintf("bond%d", i)))
			b.Write(p)
		}
		return b.String()
	}
	waitFor(t, 20*time.Second, allUp, func() string { return "every slave up:\n" + proc() })

	active := make([]string, bonds)
	var batch strings.Builder
	for i := range active {
		active[i] = readTrim(t, filepath.Join(tp.d.sys, fmt.Sprintf("bond%d", i), "bonding/active_slave"))
		if active[i] != fmt.Sprintf("eth%d", 2*i) && active[i] != fmt.Sprintf("eth%d", 2*i+1) {
			t.Fatalf("bond%d: active_slave %q", i, active[i])
		}
		fmt.Fprintf(&batch, "link set p%s down\n", strings.TrimPrefix(active[i], "eth"))
	}
	log0 := len(tp.d.klogLines(t))
	f := filepath.Join(t.TempDir(), "down.batch")
	if err := os.WriteFile(f, []byte(batch.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	tp.B.Run(t, "ip", "-batch", f)
	failedOver := func() bool {
		for i := range active {
			if readTrim(t, filepath.Join(tp.d.sys, fmt.Sprintf("bond%d", i), "bonding/active_slave")) == active[i] {
				return false
			}
		}
		return true
	}
	waitFor(t, 10*time.Second, failedOver, func() string { return "every bond failed over:\n" + proc() })
	for i := range active {
		if got := mii(active[i]); got != "down" {
			t.Errorf("%s (was bond%d's active slave) mii_status %q, want down", active[i], i, got)
		}
	}
	// Each bond logs its own lines; bonds interleave, a bond's lines keep
	// their order.
	linesOf := func(from int, bond string) []string {
		var out []string
		for _, l := range tp.d.klogLines(t)[from:] {
			if strings.Contains(l, bond+": ") {
				out = append(out, l[strings.Index(l, bond+": "):])
			}
		}
		return out
	}
	for i := range active {
		b := fmt.Sprintf("bond%d", i)
		other := fmt.Sprintf("eth%d", 2*i+1)
		if active[i] == other {
			other = fmt.Sprintf("eth%d", 2*i)
		}
		want := []string{
			fmt.Sprintf("%s: (slave %s): link status definitely down, disabling slave", b, active[i]),
			fmt.Sprintf("%s: (slave %s): making interface the new active one", b, other),
		}
		if i == 1 {
			want = append([]string{fmt.Sprintf("%s: (slave %s): link status down for active interface, disabling it in 200 ms", b, active[i])}, want...)
		}
		if got := linesOf(log0, b); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s log:\n%s\nwant:\n%s", b, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}

	log1 := len(tp.d.klogLines(t))
	if err := os.WriteFile(f, []byte(strings.ReplaceAll(batch.String(), " down\n", " up\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	tp.B.Run(t, "ip", "-batch", f)
	waitFor(t, 20*time.Second, allUp, func() string { return "every slave up again:\n" + proc() })
	for i := range active {
		b := fmt.Sprintf("bond%d", i)
		want := []string{fmt.Sprintf("%s: (slave %s): link status definitely up, 10000 Mbps full duplex", b, active[i])}
		if i == 2 {
			want = append([]string{fmt.Sprintf("%s: (slave %s): link status up, enabling it in 300 ms", b, active[i])}, want...)
		}
		if got := linesOf(log1, b); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s log:\n%s\nwant:\n%s", b, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}

	// The idle readers gave their buffers back; traffic takes them again.
	tp.A.AddAddr(t, "bond0", bondAddr+"/24")
	tp.waitPing(t, 10*time.Second)
	if out, err := tp.A.Exec("ping", "-n", "-c", "20", "-i", "0.01", "-s", "1400", "-W", "1", peerAddr); err != nil {
		t.Errorf("ping through bond0: %v\n%s", err, out)
	}
	for i := 0; i < bonds; i++ {
		mustEcho(t, filepath.Join(tp.d.sys, "bonding_masters"), fmt.Sprintf("-bond%d", i))
	}
	if got := readTrim(t, filepath.Join(tp.d.sys, "bonding_masters")); got != "" {
		t.Errorf("bonding_masters after deleting every bond: %q", got)
	}
}
