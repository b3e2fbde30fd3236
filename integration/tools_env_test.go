package integration

// Helpers of the tests of modprobe, ifenslave, ifupdown and node_exporter
//: a daemon started unloaded with a control socket, the
// modprobe.d rule as `make install` writes it, and commands run by the real
// modprobe in a private mount namespace whose /etc/modprobe.d is the test's.

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var (
	ifenslaveOnce sync.Once
	ifenslavePath string
	ifenslaveErr  error
)

// ifenslaveBin returns bin/ifenslave built from this checkout.
func ifenslaveBin(t *testing.T) string {
	t.Helper()
	ifenslaveOnce.Do(func() {
		gobin, err := exec.LookPath("go")
		if err != nil {
			gobin = "/usr/local/go/bin/go"
		}
		ifenslavePath = filepath.Join(repoRoot, "bin", "ifenslave")
		cmd := exec.Command(gobin, "build", "-o", ifenslavePath, "./cmd/ifenslave")
		cmd.Dir = repoRoot
		if out, err := cmd.CombinedOutput(); err != nil {
			ifenslaveErr = fmt.Errorf("go build ./cmd/ifenslave: %v\n%s", err, out)
		}
	})
	if ifenslaveErr != nil {
		t.Fatal(ifenslaveErr)
	}
	return ifenslavePath
}

// ctlDaemon is a daemon with a control socket.
type ctlDaemon struct {
	*daemon
	ctl string
}

// startCtlDaemon starts `bondingfs serve --root <tmp> --netns NS --log <tmp>
// --ctl <tmp> opts...` and waits until its control socket answers (with
// --unloaded there is no bonding_masters to wait for). It is stopped when
// the test ends, as startDaemon's.
func startCtlDaemon(t *testing.T, netns string, opts ...string) *ctlDaemon {
	t.Helper()
	var ctl string
	d := launchDaemon(t, netns, func(dir string) []string {
		ctl = filepath.Join(dir, "bondingfs.ctl")
		return []string{"--ctl", ctl}
	}, opts, func(d *daemon) (bool, string) {
		c, err := net.Dial("unix", ctl)
		if err != nil {
			return false, ctl + " not served"
		}
		c.Close()
		return isMounted(d.root), d.root + " not mounted"
	})
	return &ctlDaemon{daemon: d, ctl: ctl}
}

// klogLines returns the daemon's kernel log.
func (d *daemon) klogLines(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(d.klog)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	s := strings.TrimRight(string(b), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// modprobeDir writes a modprobe.d directory: the rule of
// dist/modprobe.d/bondingfs.conf.in with this checkout's bin/ as SBINDIR
// (what `make install SBINDIR=…` writes), plus extra files (name → text).
func modprobeDir(t *testing.T, extra map[string]string) string {
	t.Helper()
	bin := bondingfsBin(t)
	in, err := os.ReadFile(filepath.Join(repoRoot, "dist/modprobe.d/bondingfs.conf.in"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rule := strings.ReplaceAll(string(in), "@SBINDIR@", filepath.Dir(bin))
	if err := os.WriteFile(filepath.Join(dir, "bondingfs.conf"), []byte(rule), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, text := range extra {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// privateModprobeScript is the prologue of every script run with the
// test's modprobe.d: in a private mount namespace (unshare -m, propagation
// private) /etc/modprobe.d is replaced by $MODPROBE_D, and the script stops
// unless the rule is in place, so the real modprobe can never reach the
// host's configuration.
const privateModprobeScript = `set -e
mount --bind "$MODPROBE_D" /etc/modprobe.d
grep -q 'bondingfs modprobe' /etc/modprobe.d/bondingfs.conf
set +e
`

// inPrivateModprobe runs script with sh in netns (through ip netns exec)
// and a private mount namespace with confDir as /etc/modprobe.d; env adds
// environment variables. It returns the combined output and the exit code.
func inPrivateModprobe(t *testing.T, netns, confDir string, env []string, script string) (string, int) {
	t.Helper()
	args := []string{"netns", "exec", netns, "unshare", "-m", "--propagation", "private",
		"sh", "-c", privateModprobeScript + script}
	cmd := exec.Command("ip", args...)
	cmd.Env = append(append(os.Environ(), "MODPROBE_D="+confDir), env...)
	out, err := cmd.CombinedOutput()
	rc := 0
	if ee, ok := err.(*exec.ExitError); ok {
		rc = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("ip netns exec %s unshare -m sh: %v\n%s", netns, err, out)
	}
	return string(out), rc
}
