package daemon

import (
	"path/filepath"
	"strings"
	"testing"
)

// CtlPath derives the control socket from the root as StateDir derives the
// journal, short enough to bind, and distinct for distinct roots.
func TestCtlPath(t *testing.T) {
	for root, want := range map[string]string{
		"/run/bondingfs":  "/run/bondingfs.ctl",
		"/run/bondingfs/": "/run/bondingfs.ctl",
		"/srv/bonds":      "/run/bondingfs-ctl/srv-bonds.ctl",
		"/":               "/run/bondingfs-ctl/-.ctl",
		"/tmp/a/mnt":      "/run/bondingfs-ctl/tmp-a-mnt.ctl",
	} {
		if got := CtlPath(root); got != want {
			t.Errorf("CtlPath(%q) = %q, want %q", root, got, want)
		}
	}
	if got, want := StateDir("/srv/bonds", "ns1"), "/run/bondingfs-state/srv-bonds@ns1"; got != want {
		t.Errorf("StateDir = %q, want %q", got, want)
	}
	// serve --netns A and exec --netns A (which passes serve the path) share
	// one journal
	for _, ns := range []string{"A", "/var/run/netns/A", "/run/netns/A", "/var/run/netns/A/"} {
		if got, want := StateDir("/srv/bonds", ns), "/run/bondingfs-state/srv-bonds@A"; got != want {
			t.Errorf("StateDir(--netns %s) = %q, want %q", ns, got, want)
		}
	}
	if got, want := StateDir("/srv/bonds", "/proc/77/ns/net"), "/run/bondingfs-state/srv-bonds@proc-77-ns-net"; got != want {
		t.Errorf("StateDir(another path) = %q, want %q", got, want)
	}
	if long := StateDir("/"+strings.Repeat("x", 300), ""); len(filepath.Base(long)) > 255 || long == StateDir("/"+strings.Repeat("x", 301), "") {
		t.Errorf("long root: %q", long)
	}
	rel := CtlPath("mnt")
	abs, _ := filepath.Abs("mnt")
	if rel != CtlPath(abs) {
		t.Errorf("a relative root %q: %q, its absolute path: %q", "mnt", rel, CtlPath(abs))
	}
	long1 := "/tmp/" + strings.Repeat("TestRealPathsExecDaemonKilled", 4) + "/001/mnt"
	long2 := "/tmp/" + strings.Repeat("TestRealPathsExecDaemonKilled", 4) + "/002/mnt"
	p1, p2 := CtlPath(long1), CtlPath(long2)
	if len(p1) > maxSocketPath || len(p2) > maxSocketPath || p1 == p2 || filepath.Dir(p1) != DefaultCtlDir {
		t.Errorf("long roots: %q (%d bytes), %q (%d bytes)", p1, len(p1), p2, len(p2))
	}
	if CtlPath(long1) != p1 {
		t.Error("CtlPath is not deterministic")
	}
}
