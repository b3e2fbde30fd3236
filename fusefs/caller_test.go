package fusefs

import (
	"os"
	"path/filepath"
	"testing"
)

// fakeProc makes procRoot/<pid> with a status file whose CapEff is capEff
// and an ns/user link to userns.
func fakeProc(t *testing.T, root, pid, capEff, userns string) {
	t.Helper()
	dir := filepath.Join(root, pid)
	if err := os.MkdirAll(filepath.Join(dir, "ns"), 0o755); err != nil {
		t.Fatal(err)
	}
	status := "Name:\tcat\nCapInh:\t0000000000000000\nCapPrm:\t" + capEff + "\nCapEff:\t" + capEff + "\n"
	if err := os.WriteFile(filepath.Join(dir, "status"), []byte(status), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(userns, filepath.Join(dir, "ns/user")); err != nil {
		t.Fatal(err)
	}
}

func TestPidHasCapNetAdmin(t *testing.T) {
	root := t.TempDir()
	old := procRoot
	procRoot = root
	defer func() { procRoot = old }()
	self := selfUserNS
	if self == "" {
		self = "user:[4026531837]"
	}
	fakeProc(t, root, "10", "0000000000001000", self)            // CAP_NET_ADMIN only
	fakeProc(t, root, "11", "000001ffffffefff", self)            // everything but CAP_NET_ADMIN
	fakeProc(t, root, "12", "000001ffffffffff", "user:[999999]") // all caps, in a child user namespace
	for _, tc := range []struct {
		pid  uint32
		want bool
	}{{10, true}, {11, false}, {12, selfUserNS == ""}, {13, false}} {
		if got := pidHasCap(tc.pid, capNetAdmin); got != tc.want {
			t.Errorf("pid %d: CAP_NET_ADMIN = %v, want %v", tc.pid, got, tc.want)
		}
	}
}
