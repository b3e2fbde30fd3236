package integration

// The real paths: /sys/class/net and /proc/net served by the
// emulation at their own paths. Every test works inside private mount
// namespaces (bondingfs exec, or ip netns exec, which unshares the mount
// namespace) and network namespaces it creates; the host's /sys/class/net
// and /proc/net are never mounted over.

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"bondingfs/internal/nettest"
)

// dumpFn is a bash function: dump DIR prints every entry below DIR, sorted,
// as "path/" (directory), "path -> base" (symlink: the last element of its
// target, which is what scripts take from it) or "path = text" (the file's
// text with newlines as |, or cat's error message for an attribute the
// device cannot report, such as speed while it is down).
const dumpFn = `dump() { ( cd "$1" && find . -mindepth 1 | LC_ALL=C sort | while read -r p; do
  if [ -L "$p" ]; then echo "$p -> $(basename "$(readlink "$p")")"
  elif [ -d "$p" ]; then echo "$p/"
  else echo "$p = $( (cat < "$p") 2>&1 | tr '\n' '|')"; fi; done ); }
`

// realPathsTopo is namespace A with eth0 (a veth to B, down on both ends)
// and eth1 (a veth to B, whose peer is up), and namespace B.
func realPathsTopo(t *testing.T) (a, b *nettest.Netns) {
	t.Helper()
	nettest.SkipUnlessRoot(t)
	needTools(t, "ip", "bash", "find", "ss", "nsenter", "awk")
	a = nettest.NewNetns(t, "bfs-rp-a-")
	b = nettest.NewNetns(t, "bfs-rp-b-")
	nettest.Veth(t, a, "eth0", b, "p0")
	a.SetDown(t, "eth0")
	b.SetDown(t, "p0")
	nettest.Veth(t, a, "eth1", b, "p1")
	a.SetDown(t, "eth1")
	return a, b
}

// bfsExec runs `bondingfs exec ARGS -- bash -c SCRIPT` and returns its
// stdout, stderr and exit status.
func bfsExec(t *testing.T, args []string, script string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	all := append([]string{"exec"}, args...)
	all = append(all, "--", "bash", "-c", "set -u\n"+script)
	cmd := exec.CommandContext(ctx, bondingfsBin(t), all...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	rc := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		rc = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("bondingfs exec: %v", err)
	}
	return out.String(), errb.String(), rc
}

// section returns the lines of out between "== name" and the next "== ".
func section(out, name string) string {
	var b strings.Builder
	in := false
	for _, l := range strings.SplitAfter(out, "\n") {
		if strings.HasPrefix(l, "== ") {
			in = strings.TrimSpace(l) == "== "+name
			continue
		}
		if in {
			b.WriteString(l)
		}
	}
	return b.String()
}

// hostPathsUntouched fails the test if this process's /proc/net or
// /sys/class/net show the emulation (they never may).
func hostPathsUntouched(t *testing.T) {
	t.Helper()
	if l, err := os.Readlink("/proc/net"); err != nil || l != "self/net" {
		t.Errorf("the host's /proc/net is %q, %v", l, err)
	}
	if _, err := os.Stat("/sys/class/net/bonding_masters"); err == nil && !hostHasBonding {
		t.Errorf("the host's /sys/class/net has a bonding_masters")
	}
}

// hostHasBonding: whether the host has the kernel's bonding module loaded
// (then /sys/class/net/bonding_masters exists there legitimately).
var hostHasBonding = func() bool {
	_, err := os.Stat("/sys/module/bonding")
	return err == nil
}()

func TestRealPathsExec(t *testing.T) {
	a, b := realPathsTopo(t)
	root := filepath.Join(t.TempDir(), "mnt")
	klog := filepath.Join(t.TempDir(), "kernel.log")
	// eth0 stays down and untouched during both dumps, so that every
	// attribute (statistics, carrier_changes, …) must be equal, not only
	// the names: the comparison is exact.
	realEth0 := a.Run(t, "bash", "-c", dumpFn+"dump /sys/class/net/eth0")
	out, errOut, rc := bfsExec(t, []string{"--root", root, "--netns", a.Name(), "--log", klog, "miimon=100"}, dumpFn+`
echo "== dump"; dump /sys/class/net/eth0
echo "== ls"; ls /sys/class/net | tr '\n' ' '; echo
echo "== proc"
head -n 1 /proc/net/bonding/bond0
grep -c 'eth0:' /proc/net/dev
ip -s link show eth0 | grep -c 'RX:'
for f in if_inet6 route arp snmp netstat unix tcp; do [ -r /proc/net/$f ] && cat /proc/net/$f > /dev/null && echo $f ok; done
ss -a > /dev/null && echo ss ok
readlink /proc/net
echo "== bond"
cd /sys/class/net/bond0
cat type operstate; [ -e tun_flags ] || [ -e owner ] || [ -e group ] || echo no tun files
ls | grep -c -e '^tun_flags$' -e '^owner$' -e '^group$'
echo "== enslave"
echo +eth1 > /sys/class/net/bond0/bonding/slaves
ip link set bond0 up
for i in $(seq 100); do [ "$(cat /sys/class/net/bond0/operstate)" = up ] && break; sleep 0.05; done
cat /sys/class/net/bond0/operstate /sys/class/net/bond0/lower_eth1/operstate
readlink /sys/class/net/eth1/master
cat /sys/class/net/eth1/bonding_slave/mii_status
cat /sys/class/net/bond0/addr_assign_type
[ "$(cat /sys/class/net/bond0/address)" = "$(cat /sys/class/net/eth1/address)" ] && echo same mac
cat /sys/class/net/bond0/speed /sys/class/net/bond0/duplex
grep -c 'Slave Interface: eth1' /proc/net/bonding/bond0
echo "== devices"
ip link add eth5 type veth peer name eth6
ls /sys/class/net | tr '\n' ' '; echo; cat /sys/class/net/eth5/ifindex > /dev/null && echo eth5 attrs
ip link set eth5 name eth7
ls /sys/class/net | tr '\n' ' '; echo; [ -e /sys/class/net/eth5 ] || echo eth5 gone
ip link del eth7
ls /sys/class/net | tr '\n' ' '; echo
echo "== othernetns"
nsenter --net=/var/run/netns/`+b.Name()+` sh -c 'grep -c p0: /proc/net/dev; ls /proc/net | grep -c bonding; ls /proc/net/bonding | wc -l; [ -e /proc/net/bonding/bond0 ] || echo no bond0'
exit 3
`)
	t.Logf("stderr:\n%s", errOut)
	if rc != 3 {
		t.Fatalf("exit status %d, want CMD's 3\nstdout:\n%s", rc, out)
	}
	if got := section(out, "dump"); got != realEth0 || len(realEth0) < 1000 {
		t.Errorf("recursive read of /sys/class/net/eth0 differs from the kernel's:\n%s", lineDiff(realEth0, got))
	}
	want := map[string]string{
		"ls": "bond0 bonding_masters eth0 eth1 lo \n",
		"proc": "Ethernet Channel Bonding Driver: v6.1.0-56-amd64\n1\n1\n" +
			"if_inet6 ok\nroute ok\narp ok\nsnmp ok\nnetstat ok\nunix ok\ntcp ok\nss ok\n" + root + "/proc/self/net\n",
		"bond":       "1\ndown\nno tun files\n0\n",
		"enslave":    "up\nup\n../bond0\nup\n2\nsame mac\n10000\nfull\n1\n",
		"devices":    "bond0 bonding_masters eth0 eth1 eth5 eth6 lo \neth5 attrs\nbond0 bonding_masters eth0 eth1 eth6 eth7 lo \neth5 gone\nbond0 bonding_masters eth0 eth1 lo \n",
		"othernetns": "1\n1\n0\nno bond0\n",
	}
	for name, w := range want {
		if got := section(out, name); got != w {
			t.Errorf("section %s:\ngot  %q\nwant %q", name, got, w)
		}
	}
	// exec started the daemon and stopped it: nothing is left mounted
	if isMounted(root) {
		t.Errorf("%s still mounted after exec returned", root)
		_ = os.Remove(root)
	}
	if _, err := a.Exec("ip", "link", "show", "bond0"); err == nil {
		t.Errorf("bond0 outlived exec's daemon")
	}
	hostPathsUntouched(t)
}

// exec uses a daemon that already serves --root, and leaves it running.
func TestRealPathsExecExistingDaemon(t *testing.T) {
	a, _ := realPathsTopo(t)
	d := startDaemon(t, a.Name(), "max_bonds=2")
	out, errOut, rc := bfsExec(t, []string{"--root", d.root, "--netns", a.Name()},
		`cat /sys/class/net/bonding_masters; ls /proc/net/bonding | tr '\n' ' '; echo; grep -c lo: /proc/net/dev`)
	if rc != 0 || out != "bond0 bond1\nbond0 bond1 \n1\n" {
		t.Errorf("exec with a running daemon: rc %d stdout %q stderr %q", rc, out, errOut)
	}
	if !d.alive() || !isMounted(d.root) {
		t.Errorf("exec stopped a daemon it did not start")
	}
	hostPathsUntouched(t)
}

// An invalid module option makes exec fail as serve does, without running CMD.
func TestRealPathsExecBadOption(t *testing.T) {
	a, _ := realPathsTopo(t)
	root := filepath.Join(t.TempDir(), "mnt")
	out, errOut, rc := bfsExec(t, []string{"--root", root, "--netns", a.Name(), "mode=9"}, "echo ran")
	if rc != 1 || strings.Contains(out, "ran") || !strings.Contains(errOut, `Invalid bonding mode "9"`) {
		t.Errorf("exec mode=9: rc %d stdout %q stderr %q", rc, out, errOut)
	}
}

// serve --real-paths in a private mount namespace (ip netns exec makes one):
// SIGTERM restores /proc/net and /sys/class/net; SIGKILL leaves no dead mount
// over them either (the reaper removes them).
func TestRealPathsServeKilled(t *testing.T) {
	a, _ := realPathsTopo(t)
	bin := bondingfsBin(t)
	root := filepath.Join(t.TempDir(), "mnt")
	script := `
start() { ` + bin + ` serve --root ` + root + ` --real-paths 2>>` + root + `.log & P=$!
  for i in $(seq 300); do [ -e /sys/class/net/bonding_masters ] && return; sleep 0.05; done; echo not ready; }
restored() { for i in $(seq 100); do
  if [ "$(readlink /proc/net)" = self/net ] && [ ! -e /sys/class/net/bonding_masters ] && ! grep -q -e ' /proc/net ' -e ' /sys/class/net ' -e ' ` + root + ` ' /proc/self/mountinfo; then
    echo restored; return; fi; sleep 0.05; done; echo NOT restored; grep bondingfs /proc/self/mountinfo; }
start
readlink /proc/net; head -n 1 /proc/net/bonding/bond0; grep -c eth0: /proc/net/dev
kill -TERM $P; wait $P; echo "rc $?"; restored
start
cat /sys/class/net/bond0/type
kill -KILL $P; wait $P 2>/dev/null; restored
cat /proc/net/dev > /dev/null && ls /sys/class/net | tr '\n' ' '
`
	out, err := a.Exec("bash", "-c", script)
	want := root + "/proc/self/net\nEthernet Channel Bonding Driver: v6.1.0-56-amd64\n1\nrc 0\nrestored\n1\nrestored\neth0 eth1 lo "
	if err != nil || out != want {
		log, _ := os.ReadFile(root + ".log")
		t.Errorf("got %q (%v), want %q\ndaemon log:\n%s", out, err, want, log)
	}
	if isMounted(root) {
		t.Errorf("%s still mounted", root)
		_ = os.Remove(root)
	}
	hostPathsUntouched(t)
}

// A daemon exec started that dies while CMD runs leaves CMD no dead mount:
// exec's watcher removes the real paths in CMD's mount namespace.
func TestRealPathsExecDaemonKilled(t *testing.T) {
	a, _ := realPathsTopo(t)
	root := filepath.Join(t.TempDir(), "mnt")
	out, errOut, rc := bfsExec(t, []string{"--root", root, "--netns", a.Name()}, `
readlink /proc/net
# the daemon: the child of exec (our grandparent) whose first argument is serve
outer=$(awk '{print $4}' /proc/$PPID/stat)
for p in /proc/[0-9]*; do
  [ "$(awk '{print $4}' $p/stat 2>/dev/null)" = "$outer" ] && [ "$(tr '\0' '\n' < $p/cmdline | sed -n 2p)" = serve ] && kill -KILL ${p#/proc/}
done
for i in $(seq 100); do [ "$(readlink /proc/net)" = self/net ] && break; sleep 0.05; done
readlink /proc/net; cat /proc/net/dev > /dev/null && echo dev ok; ls /sys/class/net | tr '\n' ' '
`)
	want := root + "/proc/self/net\nself/net\ndev ok\neth0 eth1 lo "
	if rc != 0 || out != want {
		t.Errorf("got rc %d stdout %q stderr %q, want %q", rc, out, errOut, want)
	}
	hostPathsUntouched(t)
}

func lineDiff(want, got string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	w, g := in(want), in(got)
	var b strings.Builder
	for _, l := range strings.Split(want, "\n") {
		if !g[l] {
			b.WriteString("- " + l + "\n")
		}
	}
	for _, l := range strings.Split(got, "\n") {
		if !w[l] {
			b.WriteString("+ " + l + "\n")
		}
	}
	return b.String()
}

// Without --netns, exec and the daemon it starts use the caller's network
// namespace (here A, entered with ip netns exec).
func TestRealPathsExecCallerNetns(t *testing.T) {
	a, _ := realPathsTopo(t)
	root := filepath.Join(t.TempDir(), "mnt")
	out, err := a.Exec(bondingfsBin(t), "exec", "--root", root, "--log", root+".log", "max_bonds=2", "--", "bash", "-c",
		`ls /sys/class/net | tr '\n' ' '; ls /proc/net/bonding | tr '\n' ' '; grep -c -e eth0: -e eth1: /proc/net/dev`)
	// the started daemon's notice of its data path is not the command's
	out = regexp.MustCompile(`(?m)^bondingfs: data path: .*\n`).ReplaceAllString(out, "")
	if err != nil || out != "bond0 bond1 bonding_masters eth0 eth1 lo bond0 bond1 2\n" {
		t.Errorf("got %q, %v", out, err)
	}
	if isMounted(root) {
		t.Errorf("%s still mounted", root)
	}
	hostPathsUntouched(t)
}

// Real paths a daemon left without its reaper (both SIGKILLed) do not stop
// the next daemon: it removes the dead mounts before it puts up its own,
// and its SIGTERM then leaves the kernel's paths.
func TestRealPathsStaleMounts(t *testing.T) {
	a, _ := realPathsTopo(t)
	bin := bondingfsBin(t)
	root := filepath.Join(t.TempDir(), "mnt")
	script := `
start() { ` + bin + ` serve --root ` + root + ` --real-paths 2>>` + root + `.log & P=$!
  for i in $(seq 300); do [ -e /sys/class/net/bonding_masters ] && [ -e ` + root + `/sys/class/net/bonding_masters ] && return; sleep 0.05; done; echo not ready; }
start
for p in /proc/[0-9]*; do
  [ "$(awk '{print $4}' $p/stat 2>/dev/null)" = "$P" ] && [ "$(tr '\0' '\n' < $p/cmdline | sed -n 2p)" = __reaper ] && R=${p#/proc/}
done
kill -KILL ${R:?no reaper} $P; wait $P 2>/dev/null
ls /sys/class/net > /dev/null 2>&1 || echo dead mount
umount -l ` + root + `
start
readlink /proc/net; cat /sys/class/net/bond0/type; head -n 1 /proc/net/bonding/bond0
kill -TERM $P; wait $P; echo "rc $?"
readlink /proc/net; grep -c -e ' /proc/net ' -e ' /sys/class/net ' -e ' ` + root + ` ' /proc/self/mountinfo; ls /sys/class/net | tr '\n' ' '
`
	out, err := a.Exec("bash", "-c", script)
	want := "dead mount\n" + root + "/proc/self/net\n1\nEthernet Channel Bonding Driver: v6.1.0-56-amd64\nrc 0\nself/net\n0\neth0 eth1 lo "
	if err != nil || out != want {
		log, _ := os.ReadFile(root + ".log")
		t.Errorf("got %q (%v), want %q\ndaemon log:\n%s", out, err, want, log)
	}
	hostPathsUntouched(t)
}
