package integration

// The distribution's and the seeds' tools at the kernel's own paths (issue
// 6): ifenslave (cmd/ifenslave), Debian's ifupdown + ifenslave packages and
// prometheus-node-exporter, unmodified, run through `bondingfs exec`, which
// gives each script a private mount namespace (inside the test's network
// namespace) where /sys/class/net and /proc/net are the emulation's. Inside
// it the script "installs" bondingfs as `make install` does — the binaries
// in /usr/local/sbin (a private tmpfs) and the modprobe.d rule in
// /etc/modprobe.d (a private bind mount) — so `modprobe bonding` and
// `ifenslave` are the installed ones. The host's paths and configuration
// are never touched.

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"bondingfs/internal/nettest"
)

// toolsTopo is newTopo's topology (bond side A with eth0..ethN-1 down, peer
// side B bridging p0..pN-1 with 192.0.2.2/24) with a daemon started
// --unloaded and a control socket, as bondingfs.service runs it.
type toolsTopo struct {
	A, B *nettest.Netns
	d    *ctlDaemon
	conf string // the private /etc/modprobe.d
}

func newToolsTopo(t *testing.T, slaves int, modprobeD map[string]string) *toolsTopo {
	t.Helper()
	tp := &toolsTopo{A: nettest.NewNetns(t, "bfs-ta-"), B: nettest.NewNetns(t, "bfs-tb-")}
	var ports []string
	for i := 0; i < slaves; i++ {
		eth, p := fmt.Sprintf("eth%d", i), fmt.Sprintf("p%d", i)
		nettest.Veth(t, tp.A, eth, tp.B, p)
		tp.A.SetDown(t, eth)
		ports = append(ports, p)
	}
	nettest.Bridge(t, tp.B, "br0", peerAddr+"/24", ports...)
	tp.d = startCtlDaemon(t, tp.A.Name(), "--unloaded")
	if modprobeD == nil {
		modprobeD = map[string]string{}
	}
	// systemd's /lib/modprobe.d/systemd.conf (max_bonds=0) is masked, so
	// the result does not depend on the host having it.
	if _, ok := modprobeD["systemd.conf"]; !ok {
		modprobeD["systemd.conf"] = ""
	}
	tp.conf = installedModprobeDir(t, modprobeD)
	return tp
}

// installedModprobeDir is modprobeDir with SBINDIR /usr/local/sbin, where
// installPrelude puts the binaries.
func installedModprobeDir(t *testing.T, extra map[string]string) string {
	t.Helper()
	in, err := os.ReadFile(filepath.Join(repoRoot, "dist/modprobe.d/bondingfs.conf.in"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files := map[string]string{"bondingfs.conf": strings.ReplaceAll(string(in), "@SBINDIR@", "/usr/local/sbin")}
	for k, v := range extra {
		files[k] = v
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// installPrelude installs bondingfs privately (see the file comment) and
// stops the script unless the rule is in place.
const installPrelude = `set -e
mount -t tmpfs bfs-sbin /usr/local/sbin
install -m 0755 "$BFS_BINDIR/bondingfs" "$BFS_BINDIR/ifenslave" /usr/local/sbin/
mount --bind "$MODPROBE_D" /etc/modprobe.d
grep -q '/usr/local/sbin/bondingfs modprobe' /etc/modprobe.d/bondingfs.conf
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
set +e
`

// sh runs script with sh through `bondingfs exec --root <daemon's root>
// --netns A` after installPrelude, and returns its combined output and exit
// status.
func (tp *toolsTopo) sh(t *testing.T, script string) (string, int) {
	t.Helper()
	bin := bondingfsBin(t)
	ifenslaveBin(t)
	cmd := exec.Command(bin, "exec", "--root", tp.d.root, "--ctl", tp.d.ctl, "--netns", tp.A.Name(), "--",
		"sh", "-c", installPrelude+script)
	cmd.Env = append(os.Environ(), "MODPROBE_D="+tp.conf, "BFS_BINDIR="+filepath.Dir(bin),
		"BONDINGFS_CTL="+tp.d.ctl, "LC_ALL=C")
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(120 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("script did not finish within 120 s:\n%s\n%s", script, out)
	}
	rc := 0
	if ee, ok := err.(*exec.ExitError); ok {
		rc = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("bondingfs exec: %v\n%s", err, out)
	}
	t.Logf("script (rc %d):\n%s\noutput:\n%s", rc, strings.TrimSpace(script), out)
	return string(out), rc
}

func (tp *toolsTopo) mustSh(t *testing.T, script string) string {
	t.Helper()
	out, rc := tp.sh(t, script)
	if rc != 0 {
		t.Fatalf("script failed with status %d", rc)
	}
	return out
}

func (tp *toolsTopo) sys(t *testing.T, path string) string {
	t.Helper()
	return readTrim(t, filepath.Join(tp.d.sys, path))
}

func needRealPathTools(t *testing.T, tools ...string) {
	t.Helper()
	nettest.SkipUnlessRoot(t)
	needTools(t, append([]string{"ip", "ping", "modprobe", "mount", "install", "sh"}, tools...)...)
}

// bonding.txt (2007) §3.3 "Configuring Bonding Manually", the boot.local
// example (mode balance-rr rather than balance-alb, which the engine does
// not have yet), then §8's `ifenslave -d` and the shutdown of §3.3.
func TestIfenslaveSeedManual(t *testing.T) {
	needRealPathTools(t, "ifconfig")
	tp := newToolsTopo(t, 2, nil)
	eth0MAC := strings.TrimSpace(tp.A.Run(t, "cat", "/sys/class/net/eth0/address"))
	out := tp.mustSh(t, `
test -e /sys/class/net/bonding_masters && echo UNEXPECTED: bonding_masters before modprobe
test -e /proc/net/bonding && echo UNEXPECTED: /proc/net/bonding before modprobe
ls /proc/net | grep -qx bonding && echo UNEXPECTED: bonding listed in /proc/net before modprobe
ls /sys/class/net | grep -qx bonding_masters && echo UNEXPECTED: bonding_masters listed before modprobe
test -e /sys/class/net/eth0/address || echo UNEXPECTED: no eth0
modprobe bonding mode=balance-rr miimon=100
ifconfig bond0 192.0.2.1 netmask 255.255.255.0 up
ifenslave bond0 eth0
ifenslave bond0 eth1
cat /proc/net/bonding/bond0
`)
	if strings.Contains(out, "UNEXPECTED") {
		t.Errorf("the real paths of an unloaded daemon are wrong:\n%s", out)
	}
	if got := tp.sys(t, "bond0/bonding/slaves"); got != "eth0 eth1" {
		t.Errorf("slaves %q, want \"eth0 eth1\"", got)
	}
	if got := tp.sys(t, "bond0/address"); got != eth0MAC {
		t.Errorf("bond0 address %s, want eth0's %s (the first slave's)", got, eth0MAC)
	}
	for _, s := range []string{"eth0", "eth1"} {
		if got := tp.sys(t, s+"/address"); got != eth0MAC {
			t.Errorf("%s address %s, want the bond's %s", s, got, eth0MAC)
		}
		if f := tp.sys(t, s+"/flags"); !flagUp(t, f) {
			t.Errorf("%s flags %s: not up after ifenslave", s, f)
		}
	}
	waitPingFrom(t, tp.A, 10*time.Second)

	// ifenslave with no slave shows the master; -d releases eth0.
	out = tp.mustSh(t, "ifenslave bond0\nifenslave -d bond0 eth0\n")
	if !strings.Contains(out, "The result of SIOCGIFFLAGS on bond0 is ") {
		t.Errorf("ifenslave bond0 printed %q", out)
	}
	if got := tp.sys(t, "bond0/bonding/slaves"); got != "eth1" {
		t.Errorf("slaves %q after ifenslave -d bond0 eth0, want eth1", got)
	}
	if _, err := os.Stat(filepath.Join(tp.d.sys, "eth0/bonding_slave")); !os.IsNotExist(err) {
		t.Errorf("eth0/bonding_slave after release: %v", err)
	}
	waitPingFrom(t, tp.A, 10*time.Second)

	// Errors come back as ifenslave.c printed them.
	out, rc := tp.sh(t, "ifenslave bond0 eth1; ifenslave -c bond0 eth0; ifenslave bond7 eth0\n")
	for _, want := range []string{
		"Illegal operation: The specified slave interface 'eth1' is already a slave\n",
		"Master 'bond0', Slave 'eth1': Error: Enslave failed\n",
		"Illegal operation: The specified slave interface 'eth0' is not a slave\n",
		"Master 'bond7': Error: handshake with driver failed. Aborting\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if rc == 0 {
		t.Error("the failing ifenslave commands exited 0")
	}

	// §3.3: "ifconfig bond0 down ; modprobe -r bonding".
	tp.mustSh(t, "ifconfig bond0 down; modprobe -r bonding\n")
	if _, err := os.Stat(filepath.Join(tp.d.sys, "bonding_masters")); !os.IsNotExist(err) {
		t.Errorf("bonding_masters after modprobe -r: %v", err)
	}
	if out, err := tp.A.Exec("ip", "link", "show", "bond0"); err == nil {
		t.Errorf("bond0 left after modprobe -r:\n%s", out)
	}
}

// Seed 001 (§"High availability") and seed 004: active-backup with miimon
// 100 set up with `ifenslave bond0 eth0 eth1`; a 10 ms ping survives
// unplugging the active slave, and `ifenslave -c` moves the active slave.
func TestIfenslaveFailover(t *testing.T) {
	needRealPathTools(t, "ifconfig")
	tp := newToolsTopo(t, 2, map[string]string{"bonding.conf": "options bonding mode=active-backup miimon=100\n"})
	tp.mustSh(t, `
modprobe bonding
ifconfig bond0 192.0.2.1 netmask 255.255.255.0 up
ifenslave bond0 eth0 eth1
`)
	waitPingFrom(t, tp.A, 10*time.Second)
	victim := tp.sys(t, "bond0/bonding/active_slave")
	if victim != "eth0" {
		t.Fatalf("active_slave %q, want eth0 (the first slave)", victim)
	}
	ping := startBg(t, "ip", "netns", "exec", tp.A.Name(), "ping", "-n", "-i", "0.01", "-c", "400", "-W", "1", peerAddr)
	time.Sleep(time.Second)
	tp.B.SetDown(t, "p0") // unplug eth0's cable
	time.Sleep(1500 * time.Millisecond)
	active := tp.sys(t, "bond0/bonding/active_slave")
	tp.B.SetUp(t, "p0")
	out, err := ping.wait(t, 30*time.Second)
	sent, recv, ok := pingStats(out)
	if !ok {
		t.Fatalf("ping produced no summary (%v):\n%s", err, out)
	}
	t.Logf("RESULT ifenslave failover: %d of %d pings lost at a 10 ms interval (eth0 unplugged for 1.5 s, miimon=100)", sent-recv, sent)
	if active != "eth1" {
		t.Errorf("active_slave %q while eth0 was unplugged, want eth1", active)
	}
	if sent-recv > maxABLoss {
		t.Errorf("lost %d pings, want ≤ %d", sent-recv, maxABLoss)
	}

	// eth0 back up: `ifenslave -c bond0 eth0` makes it active again.
	deadline := time.Now().Add(5 * time.Second)
	for tp.sys(t, "eth0/bonding_slave/mii_status") != "up" && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	tp.mustSh(t, "ifenslave -c bond0 eth0\n")
	if got := tp.sys(t, "bond0/bonding/active_slave"); got != "eth0" {
		t.Errorf("active_slave %q after ifenslave -c bond0 eth0", got)
	}
	waitPingFrom(t, tp.A, 10*time.Second)
}

// Debian's ifupdown and ifenslave packages, unmodified, bring bond0 up from
// /etc/network/interfaces with bond-* options and take it down again. The
// bond comes from the module load (max_bonds=1): Debian's if-pre-up script
// creates a missing bond with `ip link add … type bond`, a netlink request
// only a kernel bonding driver can serve.
func TestIfupdownBondOptions(t *testing.T) {
	needRealPathTools(t, "ifup", "ifdown")
	if _, err := os.Stat("/etc/network/if-pre-up.d/ifenslave"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("Debian's ifenslave package is not installed: .ci/run (scripts/deps.sh) installs it")
		}
		t.Skip("Debian's ifenslave package is not installed (apt-get install ifenslave)")
	}
	tp := newToolsTopo(t, 2, map[string]string{"bonding.conf": "options bonding max_bonds=1\n"})
	ifaces := writeTemp(t, "interfaces", `auto lo
iface lo inet loopback

auto bond0
iface bond0 inet static
    address 192.0.2.1/24
    bond-slaves eth0 eth1
    bond-mode active-backup
    bond-miimon 100
    bond-primary eth1
`)
	state := t.TempDir()
	prelude := ifupdownPrelude(ifaces, state)
	tp.mustSh(t, prelude+"modprobe bonding\nifup bond0\n")
	if got := tp.sys(t, "bond0/bonding/slaves"); got != "eth0 eth1" {
		t.Errorf("slaves %q after ifup, want \"eth0 eth1\"", got)
	}
	if got := tp.sys(t, "bond0/bonding/mode"); got != "active-backup 1" {
		t.Errorf("mode %q after ifup", got)
	}
	if got := tp.sys(t, "bond0/bonding/miimon"); got != "100" {
		t.Errorf("miimon %q after ifup", got)
	}
	if got := tp.sys(t, "bond0/bonding/primary"); got != "eth1" {
		t.Errorf("primary %q after ifup", got)
	}
	waitPingFrom(t, tp.A, 10*time.Second)
	if got := tp.sys(t, "bond0/bonding/active_slave"); got != "eth1" {
		t.Errorf("active_slave %q, want the primary eth1", got)
	}
	tp.mustSh(t, prelude+"ifdown bond0\n")
	if out, err := tp.A.Exec("ip", "link", "show", "bond0"); err == nil {
		t.Errorf("bond0 still exists after ifdown (Debian's post-down deletes it):\n%s", out)
	}
	if got := tp.sys(t, "bonding_masters"); got != "" {
		t.Errorf("bonding_masters %q after ifdown", got)
	}
	for _, s := range []string{"eth0", "eth1"} {
		if _, err := os.Stat(filepath.Join(tp.d.sys, s, "bonding_slave")); !os.IsNotExist(err) {
			t.Errorf("%s still a slave after ifdown: %v", s, err)
		}
	}
}

// Seed 004, the Debian Sarge how-to: `options bonding mode=0 miimon=100`
// and an interfaces stanza with `up ifenslave bond0 eth0 eth1` and
// `down ifenslave -d bond0 eth0 eth1` (our ifenslave, as installed), with
// the `hwaddress ether` line.
func TestIfupdownSargeSeed(t *testing.T) {
	needRealPathTools(t, "ifup", "ifdown")
	tp := newToolsTopo(t, 2, map[string]string{"aliases.conf": "alias bond0 bonding\noptions bonding mode=0 miimon=100\n"})
	ifaces := writeTemp(t, "interfaces", `auto bond0
iface bond0 inet static
address 192.0.2.1
netmask 255.255.255.0
hwaddress ether 02:02:b3:48:50:2c
up ifenslave bond0 eth0 eth1
down ifenslave -d bond0 eth0 eth1
`)
	state := t.TempDir()
	prelude := ifupdownPrelude(ifaces, state)
	tp.mustSh(t, prelude+"modprobe bonding\nifup bond0\n")
	if got := tp.sys(t, "bond0/bonding/slaves"); got != "eth0 eth1" {
		t.Errorf("slaves %q after ifup, want \"eth0 eth1\"", got)
	}
	if got := tp.sys(t, "bond0/bonding/mode"); got != "balance-rr 0" {
		t.Errorf("mode %q, want balance-rr 0", got)
	}
	for _, dev := range []string{"bond0", "eth0", "eth1"} {
		if got := tp.sys(t, dev+"/address"); got != "02:02:b3:48:50:2c" {
			t.Errorf("%s address %s, want the hwaddress line's", dev, got)
		}
	}
	waitPingFrom(t, tp.A, 10*time.Second)
	// "If you unplug eth0 … you shouldn't drop any of the ping requests
	// (or no more than a few)".
	ping := startBg(t, "ip", "netns", "exec", tp.A.Name(), "ping", "-n", "-i", "0.01", "-c", "300", "-W", "1", peerAddr)
	time.Sleep(500 * time.Millisecond)
	tp.B.SetDown(t, "p0")
	time.Sleep(1500 * time.Millisecond)
	tp.B.SetUp(t, "p0")
	out, _ := ping.wait(t, 30*time.Second)
	if sent, recv, ok := pingStats(out); !ok || recv == 0 {
		t.Errorf("no ping reply across the unplug:\n%s", out)
	} else {
		t.Logf("RESULT Sarge balance-rr: %d of %d pings lost with eth0 unplugged for 1.5 s", sent-recv, sent)
	}
	tp.mustSh(t, prelude+"ifdown bond0\n")
	for _, s := range []string{"eth0", "eth1"} {
		if _, err := os.Stat(filepath.Join(tp.d.sys, s, "bonding_slave")); !os.IsNotExist(err) {
			t.Errorf("%s still a slave after ifdown: %v", s, err)
		}
	}
}

// prometheus-node-exporter, unmodified with its default paths, reports the
// bond through its bonding collector.
func TestNodeExporterBonding(t *testing.T) {
	needRealPathTools(t, "prometheus-node-exporter", "curl")
	tp := newToolsTopo(t, 2, nil)
	out := tp.mustSh(t, `
modprobe bonding mode=active-backup miimon=100
ip link set bond0 up
ifenslave bond0 eth0 eth1
i=0
while [ "$(cat /sys/class/net/eth1/bonding_slave/mii_status)" != up ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
prometheus-node-exporter --web.listen-address=127.0.0.1:9100 >/tmp/bfs-node-exporter.$$.log 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f /tmp/bfs-node-exporter.$$.log' EXIT
i=0
until curl -fsS http://127.0.0.1:9100/metrics >/dev/null 2>&1; do
	i=$((i+1)); [ $i -lt 100 ] || { cat /tmp/bfs-node-exporter.$$.log; exit 1; }; sleep 0.1
done
curl -fsS http://127.0.0.1:9100/metrics | grep -E '^node_bonding_|collector="bonding"'
`)
	want := map[string]int{`node_bonding_slaves{master="bond0"}`: 2, `node_bonding_active{master="bond0"}`: 2}
	for metric, v := range want {
		re := regexp.MustCompile(regexp.QuoteMeta(metric) + ` (\d+)`)
		m := re.FindStringSubmatch(out)
		if m == nil {
			t.Errorf("node_exporter does not report %s", metric)
			continue
		}
		if got, _ := strconv.Atoi(m[1]); got != v {
			t.Errorf("%s = %d, want %d", metric, got, v)
		}
	}
	if !strings.Contains(out, `node_scrape_collector_success{collector="bonding"} 1`) {
		t.Errorf("the bonding collector did not succeed")
	}
}

// `modprobe bonding` with no daemon starts one, daemonized, with the real
// paths in the caller's mount namespace, and loads it.
func TestModprobeStartsDaemon(t *testing.T) {
	needRealPathTools(t, "unshare", "nsenter")
	A := nettest.NewNetns(t, "bfs-ms-")
	B := nettest.NewNetns(t, "bfs-msb-")
	nettest.Veth(t, A, "eth0", B, "p0")
	dir := t.TempDir()
	ctl := filepath.Join(dir, "ctl")
	conf := installedModprobeDir(t, map[string]string{"systemd.conf": ""})
	bin := bondingfsBin(t)
	ifenslaveBin(t)
	script := installPrelude + `modprobe bonding mode=active-backup miimon=100
ls /sys/class/net; cat /proc/net/bonding/bond0
`
	cmd := exec.Command("ip", "netns", "exec", A.Name(), "unshare", "-m", "--propagation", "private", "sh", "-c", script)
	cmd.Env = append(os.Environ(), "MODPROBE_D="+conf, "BFS_BINDIR="+filepath.Dir(bin), "BONDINGFS_CTL="+ctl,
		"BONDINGFS_ROOT="+filepath.Join(dir, "mnt"), "BONDINGFS_LOG="+filepath.Join(dir, "kernel.log"))
	out, err := cmd.CombinedOutput()
	pid := ctlPeerPid(t, ctl)
	if pid > 0 {
		t.Cleanup(func() { stopPid(t, pid) })
	}
	t.Logf("script:\n%s\noutput:\n%s", script, out)
	if err != nil {
		t.Fatalf("modprobe bonding with no daemon: %v", err)
	}
	if pid <= 0 {
		t.Fatal("no daemon serves the control socket after modprobe")
	}
	for _, want := range []string{"bond0\nbonding_masters\neth0\nlo\n", "Bonding Mode: fault-tolerance (active-backup)\n", "MII Polling Interval (ms): 100\n"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	// The daemon lives on in that mount namespace, serving the real paths.
	got, err := exec.Command("nsenter", "-t", strconv.Itoa(pid), "-m", "-n", "cat", "/sys/class/net/bonding_masters").CombinedOutput()
	if err != nil || strings.TrimSpace(string(got)) != "bond0" {
		t.Errorf("bonding_masters in the daemon's mount namespace: %q (%v)", got, err)
	}
	// Its paths never reached this mount namespace.
	if _, err := os.Stat("/sys/class/net/bonding_masters"); err == nil {
		t.Errorf("/sys/class/net/bonding_masters exists in the test's own mount namespace")
	}
}

// ctlPeerPid returns the pid of the daemon listening on ctl (SO_PEERCRED),
// or 0.
func ctlPeerPid(t *testing.T, ctl string) int {
	t.Helper()
	c, err := net.Dial("unix", ctl)
	if err != nil {
		return 0
	}
	defer c.Close()
	raw, err := c.(*net.UnixConn).SyscallConn()
	if err != nil {
		return 0
	}
	var cred *syscall.Ucred
	_ = raw.Control(func(fd uintptr) {
		cred, err = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	})
	if err != nil || cred == nil {
		return 0
	}
	return int(cred.Pid)
}

// stopPid ends a daemon the test started indirectly: SIGTERM, then SIGKILL
// after 15 s.
func stopPid(t *testing.T, pid int) {
	t.Helper()
	_ = syscall.Kill(pid, syscall.SIGTERM)
	for i := 0; i < 150; i++ {
		if syscall.Kill(pid, 0) != nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("daemon %d ignored SIGTERM for 15 s; killed", pid)
	_ = syscall.Kill(pid, syscall.SIGKILL)
}

// ifupdownPrelude puts the test's interfaces file and state directory in
// place for ifupdown: /run is a private tmpfs (ifupdown keeps its state in
// /run/network), /run/network the test's directory.
func ifupdownPrelude(ifaces, state string) string {
	return fmt.Sprintf(`set -e
mount --bind %q /etc/network/interfaces
mount -t tmpfs bfs-run /run
mkdir -p /run/network
mount --bind %q /run/network
set +e
`, ifaces, state)
}

func writeTemp(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// flagUp reports whether a sysfs flags value ("0x1003") has IFF_UP.
func flagUp(t *testing.T, flags string) bool {
	t.Helper()
	v, err := strconv.ParseUint(strings.TrimPrefix(flags, "0x"), 16, 32)
	if err != nil {
		t.Fatalf("flags %q: %v", flags, err)
	}
	return v&1 != 0
}

// waitPingFrom waits until the peer answers a ping from ns.
func waitPingFrom(t *testing.T, ns *nettest.Netns, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		out, err := ns.Exec("ping", "-n", "-c", "1", "-W", "1", peerAddr)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not reachable within %v:\n%s", peerAddr, timeout, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
