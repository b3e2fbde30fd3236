package integration

// Bonds configured over rtnetlink under `bondingfs exec`: iproute2's ip,
// unmodified, talks to a real NETLINK_ROUTE socket the supervisor mediates
// (rtnl/supervisor). The texts and statuses expected here are the 6.1
// kernel's, from testdata/oracle/golden-rtnl/51-rtnl-config.txt.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"bondingfs/internal/nettest"
)

// rtnlTopo is namespace A with eth0 and eth1 (veths to B, whose ends are
// up), both down in A, as the oracle scenario's mkveth leaves them.
func rtnlTopo(t *testing.T) (a, b *nettest.Netns) {
	t.Helper()
	nettest.SkipUnlessRoot(t)
	needTools(t, "ip", "bash", "setpriv")
	a = nettest.NewNetns(t, "bfs-nl-a-")
	b = nettest.NewNetns(t, "bfs-nl-b-")
	nettest.Veth(t, a, "eth0", b, "p0")
	nettest.Veth(t, a, "eth1", b, "p1")
	a.SetDown(t, "eth0")
	a.SetDown(t, "eth1")
	return a, b
}

// rtnlExec runs script under `bondingfs exec` in a with a daemon of its own
// (no bonds at load) and returns its output, status and the daemon's
// kernel log.
func rtnlExec(t *testing.T, a *nettest.Netns, script string) (string, int, string) {
	t.Helper()
	root := filepath.Join(t.TempDir(), "mnt")
	out, errOut, rc := bfsExec(t, []string{"--netns", a.Name(), "--root", root, "--log", root + ".log", "max_bonds=0"}, script)
	klog, _ := os.ReadFile(root + ".log")
	// the daemon's start-up notice of its data path is not the script's
	var rest []string
	for _, l := range strings.SplitAfter(errOut, "\n") {
		if l != "" && !strings.HasPrefix(l, "bondingfs: data path: ") {
			rest = append(rest, l)
		}
	}
	if len(rest) > 0 {
		out += "stderr: " + strings.Join(rest, "")
	}
	return out, rc, string(klog)
}

// The five steps of the issue: create with options, enslave, change an
// option, release, delete; the sysfs files and /proc/net/bonding agree
// after each.
func TestRtnlIPLinkSteps(t *testing.T) {
	a, _ := rtnlTopo(t)
	out, rc, klog := rtnlExec(t, a, `
S=/sys/class/net
step() { echo "== $*"; "$@"; echo "rc=$?"; }
step ip link add bond1 type bond mode 802.3ad miimon 100 lacp_rate fast
cat $S/bonding_masters $S/bond1/bonding/mode $S/bond1/bonding/miimon $S/bond1/bonding/lacp_rate
grep -e "^Bonding Mode" -e "^MII Polling" -e "^LACP rate" /proc/net/bonding/bond1
step ip link set eth0 master bond1
cat $S/bond1/bonding/slaves $S/eth0/bonding_slave/state
grep "^Slave Interface" /proc/net/bonding/bond1
step ip link set bond1 type bond miimon 200
cat $S/bond1/bonding/miimon
grep "^MII Polling" /proc/net/bonding/bond1
step ip link set eth0 nomaster
echo "slaves=[$(cat $S/bond1/bonding/slaves)]"
grep -c "^Slave Interface" /proc/net/bonding/bond1
step ip link del bond1
echo "masters=[$(cat $S/bonding_masters)]"
ls /proc/net/bonding
`)
	assert.Equal(t, 0, rc)
	assert.Equal(t, `== ip link add bond1 type bond mode 802.3ad miimon 100 lacp_rate fast
rc=0
bond1
802.3ad 4
100
fast 1
Bonding Mode: IEEE 802.3ad Dynamic link aggregation
MII Polling Interval (ms): 100
LACP rate: fast
== ip link set eth0 master bond1
rc=0
eth0
backup
Slave Interface: eth0
== ip link set bond1 type bond miimon 200
rc=0
200
MII Polling Interval (ms): 200
== ip link set eth0 nomaster
rc=0
slaves=[]
0
== ip link del bond1
rc=0
masters=[]
`, out)
	assert.Equal(t, `bond1: (slave eth0): Enslaving as a backup interface with an up link
bond1: (slave eth0): Releasing backup interface
bond1 (unregistering): Released all slaves
`, bondLines(klog))
}

// bondLines are the log lines of the bonding driver (bond*: ...).
func bondLines(klog string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(klog, "\n") {
		if strings.HasPrefix(l, "bond") && !strings.HasPrefix(l, "bondingfs") {
			b.WriteString(l)
		}
	}
	return b.String()
}

// A bad request gets the kernel's error text (extack) and ip's exit
// status; a create that fails leaves no device; the log lines are the
// kernel's.
func TestRtnlIPLinkErrors(t *testing.T) {
	a, _ := rtnlTopo(t)
	out, rc, klog := rtnlExec(t, a, `
S=/sys/class/net
x() { echo "\$ $*"; "$@" 2>&1; r=$?; [ $r -eq 0 ] || echo "=> rc=$r"; }
ip link add bond1 type bond mode 802.3ad miimon 100 lacp_rate fast
x ip link add bond1 type bond
x ip link add bond2 type bond mode balance-rr lacp_rate fast
cat $S/bonding_masters
x ip link add bond3 type bond mode 802.3ad ad_actor_system 01:00:00:00:00:01
x ip link add bond4 type bond arp_interval 100 miimon 100
x ip link add bond5 type bond mode active-backup arp_validate active miimon 100
x ip link add bond7 type bond tlb_dynamic_lb 0
x ip link set bond1 type bond mode balance-rr
x ip link set eth0 master bond1
x ip link set bond1 type bond mode balance-rr
x ip link set bond1 master bond1
x ip link set eth0 type bond_slave queue_id 3
cat $S/eth0/bonding_slave/queue_id
x ip link set eth0 nomaster
cat $S/bonding_masters
x ip link del bond1
x ip link del bond1
x ip link add bond%d type bond
cat $S/bonding_masters
x ip -echo link add bond1 type bond mode 1
x ip -echo link set bond1 type bond miimon 100
cat $S/bond1/bonding/miimon
`)
	assert.Equal(t, 0, rc)
	assert.Equal(t, `$ ip link add bond1 type bond
RTNETLINK answers: File exists
=> rc=2
$ ip link add bond2 type bond mode balance-rr lacp_rate fast
Error: option not supported in mode.
=> rc=2
bond1
$ ip link add bond3 type bond mode 802.3ad ad_actor_system 01:00:00:00:00:01
Error: invalid option value.
=> rc=2
$ ip link add bond4 type bond arp_interval 100 miimon 100
Error: ARP monitoring cannot be used with MII monitoring.
=> rc=2
$ ip link add bond5 type bond mode active-backup arp_validate active miimon 100
Error: ARP validating cannot be used with MII monitoring.
=> rc=2
$ ip link add bond7 type bond tlb_dynamic_lb 0
Error: option not supported in mode.
=> rc=2
$ ip link set bond1 type bond mode balance-rr
$ ip link set eth0 master bond1
$ ip link set bond1 type bond mode balance-rr
Error: unable to set option because the bond device has slaves.
=> rc=2
$ ip link set bond1 master bond1
Error: Cannot enslave bond to itself.
=> rc=2
$ ip link set eth0 type bond_slave queue_id 3
3
$ ip link set eth0 nomaster
bond1
$ ip link del bond1
$ ip link del bond1
Cannot find device "bond1"
=> rc=1
$ ip link add bond%d type bond
bond0
$ ip -echo link add bond1 type bond mode 1
$ ip -echo link set bond1 type bond miimon 100
100
`, out)
	assert.Equal(t, `bond2 (uninitialized): option lacp_rate: mode dependency failed, not supported in mode balance-rr(0)
bond3 (uninitialized): Invalid ad_actor_system MAC address.
bond3 (uninitialized): option ad_actor_system: invalid value (1099511627777)
bond7 (uninitialized): option tlb_dynamic_lb: mode dependency failed, not supported in mode balance-rr(0)
bond1: (slave eth0): Enslaving as an active interface with an up link
bond1: option mode: unable to set because the bond device has slaves
bond1: (slave eth0): Releasing backup interface
bond1 (unregistering): Released all slaves
bond0 (unregistering): Released all slaves
bond1 (unregistering): Released all slaves
`, bondLines(klog))
}

// Without CAP_NET_ADMIN a supervised process gets EPERM for changes, as
// from the kernel, and can still list links.
func TestRtnlNoNetAdmin(t *testing.T) {
	a, _ := rtnlTopo(t)
	out, rc, _ := rtnlExec(t, a, `
x() { echo "\$ $*"; "$@" 2>&1; r=$?; [ $r -eq 0 ] || echo "=> rc=$r"; }
ip link add bond1 type bond
u() { setpriv --inh-caps=-all --bounding-set=-all "$@"; }
x u ip link add bond2 type bond mode 802.3ad
x u ip link set eth0 master bond1
x u ip link set bond1 type bond miimon 100
x u ip link del bond1
u ip -o link show | awk '{print $2}' | tr '\n' ' '; echo
cat /sys/class/net/bonding_masters /sys/class/net/bond1/bonding/slaves /sys/class/net/bond1/bonding/miimon
`)
	assert.Equal(t, 0, rc)
	assert.Equal(t, `$ u ip link add bond2 type bond mode 802.3ad
RTNETLINK answers: Operation not permitted
=> rc=2
$ u ip link set eth0 master bond1
RTNETLINK answers: Operation not permitted
=> rc=2
$ u ip link set bond1 type bond miimon 100
RTNETLINK answers: Operation not permitted
=> rc=2
$ u ip link del bond1
RTNETLINK answers: Operation not permitted
=> rc=2
lo: eth0@if2: eth1@if3: bond1: 
bond1
0
`, out)
}

// Dump filters of NETLINK_GET_STRICT_CHK (`ip link show master bond1`,
// `type bond`) select the bond's ports and the bond, which the kernel,
// knowing a TAP and no ports, cannot.
func TestRtnlDumpFilter(t *testing.T) {
	a, _ := rtnlTopo(t)
	// ip names a veth's link-netns by trying every /run/netns entry; one
	// made after exec's private mount namespace is an empty file there
	// (other jobs on the machine), which the kernel refuses with "Peer netns
	// reference is invalid": not what this test is about
	out, rc, _ := rtnlExec(t, a, `
exec 2> >(grep -v "Peer netns reference is invalid" >&2)
ip link add bond1 type bond
ip link set eth0 master bond1
echo "master: $(ip -o link show master bond1 | cut -d' ' -f2 | tr '\n' ' ')"
echo "bond: $(ip -o link show type bond | cut -d' ' -f2 | tr '\n' ' ')"
echo "bond_slave: $(ip -o link show type bond_slave | cut -d' ' -f2 | tr '\n' ' ')"
echo "tun: $(ip -o link show type tun | cut -d' ' -f2 | tr '\n' ' ')"
echo "veth: $(ip -o link show type veth | cut -d' ' -f2 | tr '\n' ' ')"
`)
	assert.Equal(t, 0, rc)
	assert.Regexp(t, `^master: eth0@\S+: 
bond: bond1: 
bond_slave: eth0@\S+: 
tun: 
veth: eth0@\S+: eth1@\S+: 
$`, out)
}

// If the daemon (and with it the supervisor) dies, a supervised process's
// netlink calls fail at once with ENOSYS, a clear error instead of a hang.
func TestRtnlDaemonDies(t *testing.T) {
	a, _ := rtnlTopo(t)
	root := filepath.Join(t.TempDir(), "mnt")
	out, errOut, rc := bfsExec(t, []string{"--netns", a.Name(), "--root", root, "--log", root + ".log", "max_bonds=0"}, `
ip link add bond1 type bond && echo "bond1 made"
# the daemon exec started for this root (a process of this test)
for p in /proc/[0-9]*; do
  [ "$(tr '\0' '\n' < $p/cmdline 2>/dev/null | sed -n 2,4p | tr '\n' ' ')" = "serve --root `+root+` " ] && D=${p#/proc/}
done
kill -KILL ${D:?no daemon}
# gone, or a zombie exec has not reaped yet
while grep -q "^State:[[:space:]]*[^Z]" /proc/$D/status 2>/dev/null; do sleep 0.05; done
ip link show lo 2>&1; echo "rc=$?"
`)
	assert.Equal(t, 0, rc, "stderr: %s", errOut)
	assert.Equal(t, "bond1 made\nCannot open netlink socket: Function not implemented\nrc=1\n", out)
}
