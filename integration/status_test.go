package integration

// Every daemon serves a control socket, at the path derived from its root
// (bfsdaemon.CtlPath) unless --ctl says otherwise: `bondingfs status --root R`
// finds the daemon `bondingfs serve --root R` started, and one `bondingfs
// exec` started, with no --ctl anywhere.

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	bfsdaemon "bondingfs/daemon"
	"bondingfs/fusefs"
	"bondingfs/internal/nettest"
)

func TestStatusByRoot(t *testing.T) {
	nettest.SkipUnlessRoot(t)
	needTools(t, "ip", "bash")
	bin := bondingfsBin(t)
	A := nettest.NewNetns(t, "bfs-st-")
	d := startDaemon(t, A.Name(), "max_bonds=1", "mode=active-backup")
	ctl := bfsdaemon.CtlPath(d.root)
	if st, err := os.Stat(ctl); err != nil || st.Mode()&os.ModeSocket == 0 {
		t.Fatalf("serve --root %s serves no control socket at %s: %v", d.root, ctl, err)
	}
	out, err := exec.Command(bin, "status", "--root", d.root).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "---- bond0 ----\nmode: active-backup\n") {
		t.Errorf("status --root %s: %v\n%s", d.root, err, out)
	}
	if err := d.stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(ctl); !os.IsNotExist(err) {
		t.Errorf("%s left after a clean stop: %v", ctl, err)
	}
	if out, err := exec.Command(bin, "status", "--root", d.root).CombinedOutput(); err == nil || !strings.Contains(string(out), "no daemon at "+ctl) {
		t.Errorf("status of a stopped daemon: %v\n%s", err, out)
	}

	// a daemon `bondingfs exec` starts, asked from inside the command and
	// from outside while it runs
	B := nettest.NewNetns(t, "bfs-stb-")
	root := filepath.Join(t.TempDir(), "mnt")
	stdout, stderr, rc := bfsExec(t, []string{"--root", root, "--netns", B.Name(), "--log", root + ".log", "max_bonds=2", "mode=balance-xor"},
		bin+" status --root "+root+" bond1 && "+bin+" status --json --ctl "+bfsdaemon.CtlPath(root))
	if rc != 0 || !strings.Contains(stdout, "---- bond1 ----\nmode: balance-xor\n") || !strings.Contains(stdout, `"name": "bond0"`) {
		t.Errorf("status inside bondingfs exec: rc %d\nstdout:\n%s\nstderr:\n%s", rc, stdout, stderr)
	}

	// bondingfs --version: the driver version as modinfo bonding shows it
	for _, arg := range []string{"--version", "version"} {
		out, err := exec.Command(bin, arg).Output()
		lines := strings.Split(string(out), "\n")
		if err != nil || len(lines) != 4 || !strings.HasPrefix(lines[0], "bondingfs ") || lines[2] != "vermagic:       "+fusefs.DriverVersion {
			t.Errorf("bondingfs %s: %v\n%s", arg, err, out)
		}
	}
}
