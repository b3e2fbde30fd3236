package nettest

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestTopologyAndCleanup(t *testing.T) {
	SkipUnlessRoot(t)
	var names []string
	var bg *exec.Cmd
	t.Run("build", func(t *testing.T) {
		a, b := NewNetns(t, "ntA"), NewNetns(t, "ntB")
		names = []string{a.Name(), b.Name()}
		if a.Name() == b.Name() || a.Path() != "/var/run/netns/"+a.Name() {
			t.Fatalf("names %q %q, path %q", a.Name(), b.Name(), a.Path())
		}
		Veth(t, a, "v0", b, "p0")
		Veth(t, b, "s0", b, "s1") // both ends in one namespace
		Bridge(t, b, "br0", "198.51.100.2/24", "p0", "s0")
		a.SetMAC(t, "v0", "02:00:5e:00:53:aa")
		a.AddAddr(t, "v0", "198.51.100.1/24")
		out := a.Run(t, "ping", "-c", "1", "-W", "2", "198.51.100.2")
		if !strings.Contains(out, "1 received") {
			t.Errorf("ping over veth+bridge: %s", out)
		}
		if out := a.Run(t, "ip", "link", "show", "v0"); !strings.Contains(out, "02:00:5e:00:53:aa") {
			t.Errorf("SetMAC: %s", out)
		}
		if _, err := a.Exec("false"); err == nil {
			t.Error("Exec(false) succeeded")
		}
		bg = b.Start(t, "sleep", "60")
	})
	if bg.ProcessState == nil {
		t.Error("background process not reaped by cleanup")
	}
	for _, n := range names {
		if _, err := os.Stat("/var/run/netns/" + n); !os.IsNotExist(err) {
			t.Errorf("namespace %s left behind: %v", n, err)
		}
	}
}
