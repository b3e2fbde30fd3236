package integration

// Hardening (issue 19): a restart never touches an interface that is not a
// journaled slave, the reaper detaches the mount as the daemon dies whatever
// the number of bonds, a write that cannot be journaled fails, the servers
// are bounded, and the journal's inputs are checked.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"bondingfs/internal/nettest"
)

// makeBonds creates bond0 … bond<n-1> through bonding_masters (bond0 may
// exist already).
func makeBonds(t *testing.T, d *daemon, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if err := echo(filepath.Join(d.sys, "bonding_masters"), fmt.Sprintf("+bond%d", i)); err != nil && !strings.Contains(err.Error(), "file exists") {
			t.Fatalf("+bond%d: %v", i, err)
		}
	}
}

// timeToDetach SIGKILLs the daemon and waits until its mount is gone from
// this mount namespace; it returns the time from the kill to then (polled
// every 200 µs in /proc/self/mountinfo, which never touches the mount).
func timeToDetach(t *testing.T, d *daemon) time.Duration {
	t.Helper()
	start := time.Now()
	_ = d.cmd.Process.Kill()
	for isMounted(d.root) {
		if time.Since(start) > 2*time.Minute {
			t.Fatalf("%s still mounted 2 min after the daemon was killed", d.root)
		}
		time.Sleep(200 * time.Microsecond)
	}
	took := time.Since(start)
	<-d.done
	d.stopped = true
	return took
}

// After kill -9 the reaper detaches the mount; with many bonds the dying
// daemon takes seconds to close its TAP devices, and the reaper must not wait
// for them. The time from the kill to the detach is logged (the figure of
// docs/benchmarks.md); what is asserted is that the mount is gone and that
// what was under it answers again, never a time.
func TestReaperDetachesManyBonds(t *testing.T) {
	nettest.SkipUnlessRoot(t)
	for _, n := range []int{81, 1000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			A := nettest.NewNetns(t, "bfs-rp-")
			d := launchDaemon(t, A.Name(), nil, []string{"max_bonds=0"}, func(d *daemon) (bool, string) {
				_, err := os.Stat(filepath.Join(d.sys, "bonding_masters"))
				return err == nil, "bonding_masters did not appear"
			})
			makeBonds(t, d, n)
			took := timeToDetach(t, d)
			t.Logf("BENCH reaper-detach bonds=%d ms=%.1f", n, float64(took.Microseconds())/1000)
			var st unix.Statfs_t
			if err := unix.Statfs(d.root, &st); err != nil {
				t.Fatalf("statfs %s after the detach: %v", d.root, err)
			}
			if st.Type == unix.FUSE_SUPER_MAGIC {
				t.Errorf("%s is still a FUSE mount after the detach", d.root)
			}
		})
	}
}
