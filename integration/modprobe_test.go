package integration

// `modprobe bonding` with no kernel module: the real modprobe (kmod) runs
// the install/remove rule of dist/modprobe.d/bondingfs.conf.in, whose
// `bondingfs modprobe $CMDLINE_OPTS` loads the emulated module in a daemon
// started --unloaded. /etc/modprobe.d is the test's own, bind-mounted in a
// private mount namespace; the host's configuration is never touched.

import (
	"path/filepath"
	"strings"
	"testing"

	"bondingfs/internal/nettest"
)

func TestModprobeRule(t *testing.T) {
	nettest.SkipUnlessRoot(t)
	needTools(t, "ip", "modprobe", "unshare", "mount")
	A := nettest.NewNetns(t, "bfs-mp-")
	B := nettest.NewNetns(t, "bfs-mpb-")
	nettest.Veth(t, A, "eth0", B, "p0")
	A.SetDown(t, "eth0")
	d := startCtlDaemon(t, A.Name(), "--unloaded")
	masters := filepath.Join(d.sys, "bonding_masters")

	// /proc/net/bonding shows only to processes in the bond's namespace.
	existsInA := func(p string) bool {
		_, err := A.Exec("test", "-e", p)
		return err == nil
	}
	// Unloaded: what a kernel without bonding.ko shows.
	for _, p := range []string{masters, d.proc} {
		if existsInA(p) {
			t.Errorf("%s exists before modprobe", p)
		}
	}
	if !existsInA(filepath.Join(d.sys, "eth0")) {
		t.Errorf("%s/eth0 missing while unloaded", d.sys)
	}

	// /etc/modprobe.d holds the rule and an `options bonding` line, and
	// masks systemd's /lib/modprobe.d/systemd.conf (max_bonds=0) so the
	// test does not depend on the host having it.
	conf := modprobeDir(t, map[string]string{"bonding.conf": "options bonding miimon=100\n", "systemd.conf": ""})
	env := []string{"BONDINGFS_CTL=" + d.ctl}
	modprobe := func(args string) (string, int) {
		t.Helper()
		out, rc := inPrivateModprobe(t, A.Name(), conf, env, "modprobe "+args)
		t.Logf("modprobe %s: rc %d, output %q", args, rc, out)
		return out, rc
	}

	// Invalid options: the load fails with modprobe's own message and
	// changes nothing.
	out, rc := modprobe("bonding mode=bogus")
	if rc != 1 || !strings.Contains(out, "modprobe: ERROR: could not insert 'bonding': Invalid argument\n") {
		t.Errorf("modprobe bonding mode=bogus: rc %d, output %q; want rc 1 and could not insert … Invalid argument", rc, out)
	}
	if existsInA(masters) {
		t.Errorf("bonding_masters exists after a refused load")
	}

	// The first load: modprobe.d's options, then the command line's,
	// exactly once (one bond_check_params log line).
	before := len(d.klogLines(t))
	if out, rc := modprobe("bonding mode=4 max_bonds=2"); rc != 0 || out != "" {
		t.Fatalf("modprobe bonding mode=4 max_bonds=2: rc %d, output %q", rc, out)
	}
	if got := readTrim(t, masters); got != "bond0 bond1" {
		t.Errorf("bonding_masters %q, want \"bond0 bond1\"", got)
	}
	for _, b := range []string{"bond0", "bond1"} {
		if got := readTrim(t, filepath.Join(d.sys, b, "bonding/mode")); got != "802.3ad 4" {
			t.Errorf("%s mode %q, want 802.3ad 4", b, got)
		}
		if got := readTrim(t, filepath.Join(d.sys, b, "bonding/miimon")); got != "100" {
			t.Errorf("%s miimon %q, want 100 (options bonding in modprobe.d)", b, got)
		}
	}
	if !existsInA(filepath.Join(d.proc, "bond0")) {
		t.Errorf("%s/bond0 missing after load", d.proc)
	}
	n := 0
	for _, l := range d.klogLines(t)[before:] {
		if l == "MII link monitoring set to 100 ms" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("bond_check_params logged \"MII link monitoring set to 100 ms\" %d times, want once:\n%s",
			n, strings.Join(d.klogLines(t)[before:], "\n"))
	}

	// A second load is a no-op, as for a live module.
	if out, rc := modprobe("bonding mode=1 max_bonds=5"); rc != 0 || out != "" {
		t.Errorf("second modprobe bonding: rc %d, output %q", rc, out)
	}
	if got := readTrim(t, masters); got != "bond0 bond1" {
		t.Errorf("bonding_masters %q after a second load", got)
	}
	if got := readTrim(t, filepath.Join(d.sys, "bond1/bonding/mode")); got != "802.3ad 4" {
		t.Errorf("bond1 mode %q after a second load", got)
	}

	// modprobe -r removes every bond, as rmmod does, slaves released.
	mustEcho(t, filepath.Join(d.sys, "bond0/bonding/slaves"), "+eth0")
	before = len(d.klogLines(t))
	if out, rc := modprobe("-r bonding"); rc != 0 || out != "" {
		t.Errorf("modprobe -r bonding: rc %d, output %q", rc, out)
	}
	for _, p := range []string{masters, d.proc, filepath.Join(d.sys, "bond0")} {
		if existsInA(p) {
			t.Errorf("%s exists after modprobe -r", p)
		}
	}
	log := strings.Join(d.klogLines(t)[before:], "\n")
	for _, want := range []string{"bond0 (unregistering): Released all slaves", "bond1 (unregistering): Released all slaves"} {
		if !strings.Contains(log, want) {
			t.Errorf("kernel log after modprobe -r lacks %q:\n%s", want, log)
		}
	}
	if out, err := A.Exec("ip", "link", "show", "bond0"); err == nil {
		t.Errorf("bond0 still exists after modprobe -r:\n%s", out)
	}
	// Removing a module that is not loaded fails.
	if out, rc := modprobe("-r bonding"); rc == 0 {
		t.Errorf("modprobe -r bonding while unloaded succeeded: %q", out)
	}

	// SUSE's max_bonds=0: loaded, no bond; bonds come from bonding_masters
	// with modprobe.d's defaults.
	if out, rc := modprobe("bonding max_bonds=0"); rc != 0 || out != "" {
		t.Fatalf("modprobe bonding max_bonds=0: rc %d, output %q", rc, out)
	}
	if got := readTrim(t, masters); got != "" {
		t.Errorf("bonding_masters %q after max_bonds=0, want empty", got)
	}
	mustEcho(t, masters, "+bond0")
	if got := readTrim(t, filepath.Join(d.sys, "bond0/bonding/miimon")); got != "100" {
		t.Errorf("bond0 created after max_bonds=0: miimon %q, want the module default 100", got)
	}
	if out, rc := modprobe("-r bonding"); rc != 0 {
		t.Errorf("modprobe -r bonding: rc %d, %q", rc, out)
	}

	// Plain `modprobe bonding`: bond0 with modprobe.d's options.
	if out, rc := modprobe("bonding"); rc != 0 || out != "" {
		t.Fatalf("modprobe bonding: rc %d, output %q", rc, out)
	}
	if got := readTrim(t, masters); got != "bond0" {
		t.Errorf("bonding_masters %q after modprobe bonding, want bond0", got)
	}
	if got := readTrim(t, filepath.Join(d.sys, "bond0/bonding/mode")); got != "balance-rr 0" {
		t.Errorf("bond0 mode %q, want balance-rr 0", got)
	}
}
