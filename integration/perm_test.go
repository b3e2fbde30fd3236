package integration

// Permissions as the kernel decides them: writes follow the file
// modes (default_permissions: root and CAP_DAC_OVERRIDE may write a 0644
// file), reads of the 802.3ad details follow the caller's CAP_NET_ADMIN.

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"bondingfs/internal/nettest"
)

// asNobody runs sh -c script as nobody with the given capabilities
// (setpriv from util-linux: inheritable + ambient, so that sh keeps them).
func asNobody(caps, script string) (string, error) {
	args := []string{"--reuid=nobody", "--regid=nogroup", "--clear-groups"}
	if caps != "" {
		args = append(args, "--inh-caps=+"+caps, "--ambient-caps=+"+caps)
	}
	args = append(args, "sh", "-c", script)
	out, err := exec.Command("setpriv", args...).CombinedOutput()
	return string(out), err
}

func TestPermissions(t *testing.T) {
	nettest.SkipUnlessRoot(t)
	needTools(t, "ip", "setpriv")
	tp := newTopo(t, 1)
	// let nobody reach the mount through the test's temporary directories
	for dir := tp.d.root; dir != "/" && dir != os.TempDir(); dir = filepath.Dir(dir) {
		_ = os.Chmod(dir, 0o755)
	}
	miimon := filepath.Join(tp.d.sys, "bond0/bonding/miimon")
	if out, err := asNobody("", "echo 100 > "+miimon); err == nil || !strings.Contains(out, "Permission denied") {
		t.Errorf("nobody wrote miimon: %v %s", err, out)
	}
	if out, err := asNobody("dac_override", "echo 100 > "+miimon); err != nil {
		t.Errorf("nobody with CAP_DAC_OVERRIDE cannot write miimon: %v %s", err, out)
	} else if got := readTrim(t, miimon); got != "100" {
		t.Errorf("miimon = %s after the write with CAP_DAC_OVERRIDE", got)
	}
	// a real device attribute: the kernel's net-sysfs store needs
	// CAP_NET_ADMIN too (the daemon writes as root)
	mtu := filepath.Join(tp.d.sys, "eth0/mtu")
	if out, err := asNobody("dac_override", "/bin/echo 1400 > "+mtu); err == nil || !strings.Contains(out, "Operation not permitted") {
		t.Errorf("nobody with only CAP_DAC_OVERRIDE wrote eth0/mtu: %v %s", err, out)
	}
	if out, err := asNobody("dac_override,+net_admin", "echo 1400 > "+mtu); err != nil {
		t.Errorf("nobody with CAP_DAC_OVERRIDE and CAP_NET_ADMIN cannot write eth0/mtu: %v %s", err, out)
	} else if got := slaveState(t, tp.A, "eth0").mtu; got != "1400" {
		t.Errorf("eth0 mtu %s after the write", got)
	}
	// 802.3ad: the actor/partner details need CAP_NET_ADMIN
	mustEcho(t, filepath.Join(tp.d.sys, "bond0/bonding/mode"), "802.3ad")
	mustEcho(t, filepath.Join(tp.d.sys, "bond0/bonding/slaves"), "+eth0")
	proc := filepath.Join(tp.d.proc, "bond0")
	root := readTrim(t, proc)
	if !strings.Contains(root, "System priority") {
		t.Fatalf("root does not see the 802.3ad details:\n%s", root)
	}
	out, err := asNobody("", "cat "+proc)
	if err != nil || strings.Contains(out, "System priority") || !strings.Contains(out, "802.3ad") {
		t.Errorf("nobody reads /proc/net/bonding/bond0 (%v):\n%s", err, out)
	}
	out, err = asNobody("net_admin", "cat "+proc)
	if err != nil || !strings.Contains(out, "System priority") {
		t.Errorf("nobody with CAP_NET_ADMIN does not see the 802.3ad details (%v):\n%s", err, out)
	}
}
