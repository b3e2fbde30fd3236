package integration

// Soak: links flapping every 100 ms with traffic, 500 bonds
// created and deleted in a loop, 8 concurrent writers, for
// BONDINGFS_SOAK (default 60 s; `make soak` runs 10 min). The daemon's
// goroutines, descriptors, RSS and heap are read from its own metrics
// endpoint before the load and after it, and must not grow beyond noise.

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"bondingfs/internal/nettest"
)

type soakFigures struct {
	goroutines, fds, rss, heap float64
}

func (f soakFigures) String() string {
	return fmt.Sprintf("goroutines %.0f, fds %.0f, RSS %.1f MB, heap in use %.1f MB", f.goroutines, f.fds, f.rss/1e6, f.heap/1e6)
}

func soakScrape(t *testing.T, url string) soakFigures {
	t.Helper()
	fams := checkMetricsText(t, scrape(t, url))
	one := func(name string) float64 {
		f := fams[name]
		if f == nil || len(f.GetMetric()) == 0 {
			t.Fatalf("metrics lack %s", name)
		}
		m := f.GetMetric()[0]
		if f.GetType() == dto.MetricType_COUNTER {
			return m.GetCounter().GetValue()
		}
		return m.GetGauge().GetValue()
	}
	return soakFigures{goroutines: one("go_goroutines"), fds: one("process_open_fds"),
		rss: one("process_resident_memory_bytes"), heap: one("go_memstats_heap_inuse_bytes")}
}

// fdKinds counts the daemon's descriptors by kind (socket, pipe,
// anon_inode:…, /dev/…, files), for the report.
func fdKinds(pid int) map[string]int {
	out := map[string]int{}
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		l, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		k := l
		if i := strings.IndexAny(l, ":["); i > 0 && !strings.HasPrefix(l, "/") {
			k = l[:i]
		} else if strings.HasPrefix(l, "/proc/") || strings.HasPrefix(l, "/tmp/") {
			k = "file"
		}
		out[k]++
	}
	return out
}

func TestSoak(t *testing.T) {
	nettest.SkipUnlessRoot(t)
	needTools(t, "ip", "ping")
	dur := 60 * time.Second
	if v := os.Getenv("BONDINGFS_SOAK"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("BONDINGFS_SOAK=%q: %v", v, err)
		}
		dur = d
	}
	port := freePort(t)
	metrics := "http://127.0.0.1:" + port + "/metrics"
	tp := newTopo(t, 2, "--metrics", "127.0.0.1:"+port)
	tp.bond(t, "mode", "active-backup", "miimon", "100", "slaves", "+eth0", "slaves", "+eth1")
	tp.up(t)
	masters := filepath.Join(tp.d.sys, "bonding_masters")
	mustEcho(t, masters, "+soak0") // the writers' bond
	ping := tp.A.Start(t, "ping", "-n", "-q", "-i", "0.01", "-W", "1", peerAddr)
	time.Sleep(2 * time.Second)
	start := soakScrape(t, metrics)
	startFds := fdKinds(tp.d.cmd.Process.Pid)
	t.Logf("start: %v", start)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var flaps, cycles, created, deleted, writes, writeErrs, reads atomic.Int64
	// links flap every 100 ms, one peer port at a time
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			p := fmt.Sprintf("p%d", (i/2)%2)
			state := "down"
			if i%2 == 1 {
				state = "up"
			}
			if _, err := tp.B.Exec("ip", "link", "set", p, state); err == nil {
				flaps.Add(1)
			}
		}
	}()
	// 500 bonds created and deleted in a loop
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			for _, op := range []byte{'+', '-'} {
				for i := 1; i <= 500; i++ {
					select {
					case <-stop:
						// leave no bond of the loop behind: the figures
						// at the end must compare like with like
						from, to := 1, i-1 // created so far
						if op == '-' {
							from, to = i, 500 // not yet deleted
						}
						for j := from; j <= to; j++ {
							_ = echo(masters, fmt.Sprintf("-soakb%d", j))
						}
						return
					default:
					}
					if err := echo(masters, fmt.Sprintf("%csoakb%d", op, i)); err != nil {
						t.Errorf("%csoakb%d: %v", op, i, err)
						return
					}
					if op == '+' {
						created.Add(1)
					} else {
						deleted.Add(1)
					}
				}
			}
			cycles.Add(1)
		}
	}()
	// 8 writers on soak0 (valid and invalid values), readers of every file
	writesOf := [][2]string{
		{"miimon", "100"}, {"miimon", "0"}, {"miimon", "-1"}, {"updelay", "200"}, {"downdelay", "x"},
		{"mode", "balance-xor"}, {"mode", "active-backup"}, {"mode", "9"}, {"xmit_hash_policy", "layer3+4"},
		{"arp_ip_target", "+192.0.2.77"}, {"arp_ip_target", "-192.0.2.77"}, {"primary", "eth9"},
		{"primary", ""}, {"fail_over_mac", "active"}, {"fail_over_mac", "none"}, {"slaves", "+nosuch"},
		{"lacp_rate", "fast"}, {"num_grat_arp", "3"}, {"resend_igmp", "300"}, {"all_slaves_active", "1"},
	}
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(seed, seed))
			for {
				select {
				case <-stop:
					return
				default:
				}
				kv := writesOf[rnd.IntN(len(writesOf))]
				if echo(filepath.Join(tp.d.sys, "soak0/bonding", kv[0]), kv[1]) != nil {
					writeErrs.Add(1)
				}
				writes.Add(1)
				for _, f := range []string{filepath.Join(tp.d.proc, "bond0"), filepath.Join(tp.d.proc, "soak0"), masters} {
					if _, err := os.ReadFile(f); err != nil {
						t.Errorf("read %s: %v", f, err)
						return
					}
					reads.Add(1)
				}
			}
		}(uint64(w + 1))
	}
	time.Sleep(dur)
	close(stop)
	wg.Wait()
	for _, p := range []string{"p0", "p1"} {
		tp.B.Run(t, "ip", "link", "set", p, "up")
	}
	tp.waitPing(t, 10*time.Second)
	_ = ping.Process.Signal(os.Interrupt)
	_ = ping.Wait()
	time.Sleep(3 * time.Second) // FUSE request goroutines and timers settle
	end := soakScrape(t, metrics)
	t.Logf("RESULT soak %v: %d link flaps, %d full create/delete cycles of 500 bonds (%d bonds created, %d deleted), %d writes (%d refused), %d reads",
		dur, flaps.Load(), cycles.Load(), created.Load(), deleted.Load(), writes.Load(), writeErrs.Load(), reads.Load())
	if got := len(strings.Fields(readTrim(t, masters))); got != 2 {
		t.Errorf("bonding_masters lists %d bonds after the soak, want bond0 and soak0", got)
	}
	t.Logf("RESULT soak start: %v", start)
	t.Logf("RESULT soak end:   %v", end)
	endFds := fdKinds(tp.d.cmd.Process.Pid)
	t.Logf("descriptors by kind: start %v, end %v", startFds, endFds)
	if !tp.d.alive() {
		t.Fatal("the daemon died during the soak")
	}
	// noise: a few goroutines and descriptors of requests in flight, the
	// Go runtime's heap growth to a steady state
	if end.goroutines > start.goroutines+20 {
		t.Errorf("goroutines grew from %.0f to %.0f", start.goroutines, end.goroutines)
	}
	// go-fuse keeps a pool of splice pipes (two descriptors each), one per
	// read answered at the same time: at most one per concurrent reader
	// here (8 writers, the create/delete loop, the flapper), and reused.
	// Everything else must stay flat.
	const concurrent = 8 + 2
	if got, was := endFds["pipe"], startFds["pipe"]; got > was+2*concurrent {
		t.Errorf("pipe descriptors grew from %d to %d, more than go-fuse's splice pool for %d concurrent readers", was, got, concurrent)
	}
	if pipes := float64(endFds["pipe"] - startFds["pipe"]); end.fds-pipes > start.fds+10 {
		t.Errorf("open descriptors other than pipes grew from %.0f to %.0f", start.fds, end.fds-pipes)
	}
	if end.rss > 2*start.rss+64e6 {
		t.Errorf("RSS grew from %.1f MB to %.1f MB", start.rss/1e6, end.rss/1e6)
	}
	if end.heap > 2*start.heap+32e6 {
		t.Errorf("heap in use grew from %.1f MB to %.1f MB", start.heap/1e6, end.heap/1e6)
	}
}
