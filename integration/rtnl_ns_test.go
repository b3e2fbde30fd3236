package integration

// The NS monitor through real namespaces, configured over rtnetlink:
// ns_ip6_target is netlink-only in 6.1, so iproute2's ip sets it under
// `bondingfs exec`. The kernel's behaviour is in
// testdata/oracle/golden-rtnl/52-ns-ip6-target.txt and 53-ns-ab.txt.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"bondingfs/internal/nettest"
)

// TestRtnlNSMonitorFailover: an active-backup bond whose only monitor is
// the NS monitor (arp_interval 100 with ns_ip6_target 2001:db8::9 on the
// peer's bridge, no arp_ip_target) keeps both slaves up while the target
// answers, and fails over when the target stops answering on the active
// slave's path (its peer port leaves the bridge; the carrier stays up).
// The procfs line lists the target; a bad target gets the kernel's error.
func TestRtnlNSMonitorFailover(t *testing.T) {
	nettest.SkipUnlessRoot(t)
	needTools(t, "ip", "bash", "sysctl")
	a := nettest.NewNetns(t, "bfs-ns-a-")
	b := nettest.NewNetns(t, "bfs-ns-b-")
	nettest.Veth(t, a, "eth0", b, "p0")
	nettest.Veth(t, a, "eth1", b, "p1")
	a.SetDown(t, "eth0")
	a.SetDown(t, "eth1")
	// IPv6 on the peer's bridge only: a port that leaves the bridge stays
	// silent (no router solicitation or MLD through the dead path), as the
	// oracle's scenario has it
	b.Run(t, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
	nettest.Bridge(t, b, "br0", peerAddr+"/24", "p0", "p1")
	b.Run(t, "sysctl", "-qw", "net.ipv6.conf.br0.disable_ipv6=0")
	b.Run(t, "ip", "-6", "addr", "add", "2001:db8::9/64", "dev", "br0", "nodad")

	dir := t.TempDir()
	root := filepath.Join(dir, "mnt")
	type result struct {
		out, errOut string
		rc          int
	}
	done := make(chan result, 1)
	go func() {
		out, errOut, rc := bfsExec(t, []string{"--netns", a.Name(), "--root", root, "--log", root + ".log", "max_bonds=0"}, `
D=`+dir+`
S=/sys/class/net
echo "== errors"
ip link add bond0 type bond mode active-backup arp_interval 100 ns_ip6_target ff02::1 2>&1; echo "rc=$?"
ip link add bond0 type bond mode active-backup arp_interval 100 ns_ip6_target 2001:db8::9; echo "rc=$?"
ip link set bond0 type bond ns_ip6_target 2001:db8::9,2001:db8::9 2>&1; echo "rc=$?"
grep "^NS IPv6" /proc/net/bonding/bond0
ip link set bond0 type bond ns_ip6_target 2001:db8::9; echo "rc=$?"
ls $S/bond0/bonding/ns_ip6_target 2>/dev/null; echo "ls=$?"
ip link set eth0 master bond0
ip link set eth1 master bond0
ip -6 addr add 2001:db8::1/64 dev bond0 nodad
ip link set bond0 up
ok=0
for i in $(seq 200); do
	if [ "$(cat $S/eth0/bonding_slave/mii_status)" = up ] && [ "$(cat $S/eth1/bonding_slave/mii_status)" = up ] && [ -n "$(cat $S/bond0/bonding/active_slave)" ]; then ok=1; break; fi
	sleep 0.05
done
sleep 1
echo "== before"
echo "up=$ok eth0=$(cat $S/eth0/bonding_slave/mii_status) eth1=$(cat $S/eth1/bonding_slave/mii_status)"
grep -e "^ARP Polling" -e "^ARP IP" -e "^NS IPv6" /proc/net/bonding/bond0
ip -d link show bond0 | grep -o "ns_ip6_target [^ ]*"
old=$(cat $S/bond0/bonding/active_slave)
echo "$old" >$D/ready
for i in $(seq 600); do [ -e $D/cut ] && break; sleep 0.05; done
new=$old
for i in $(seq 200); do new=$(cat $S/bond0/bonding/active_slave); [ "$new" != "$old" ] && break; sleep 0.05; done
echo "== after"
echo "changed=$([ "$new" != "$old" ] && [ -n "$new" ] && echo yes || echo no) old=$(cat $S/$old/bonding_slave/mii_status) new=$(cat $S/$new/bonding_slave/mii_status)"
`)
		done <- result{out, errOut, rc}
	}()

	var old string
	deadline := time.Now().Add(60 * time.Second)
	for old == "" && time.Now().Before(deadline) {
		if b, err := os.ReadFile(filepath.Join(dir, "ready")); err == nil {
			old = strings.TrimSpace(string(b))
			break
		}
		select {
		case r := <-done:
			t.Fatalf("exec ended before the bond was ready (rc %d):\n%s%s", r.rc, r.out, r.errOut)
		case <-time.After(50 * time.Millisecond):
		}
	}
	require.True(t, strings.HasPrefix(old, "eth"), "active slave %q", old)
	b.Run(t, "ip", "link", "set", "p"+strings.TrimPrefix(old, "eth"), "nomaster")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "cut"), nil, 0o644))
	var r result
	select {
	case r = <-done:
	case <-time.After(90 * time.Second):
		t.Fatal("exec did not end")
	}
	klog, _ := os.ReadFile(root + ".log")
	assert.Equal(t, 0, r.rc, r.errOut)
	assert.Equal(t, `Error: invalid option value.
rc=2
rc=0
Error: invalid option value.
rc=2
NS IPv6 target/s (xx::xx form): 2001:db8::9
rc=0
ls=2
`, section(r.out, "errors"))
	assert.Equal(t, `up=1 eth0=up eth1=up
ARP Polling Interval (ms): 100
ARP IP target/s (n.n.n.n form):
NS IPv6 target/s (xx::xx form): 2001:db8::9
ns_ip6_target 2001:db8::9
`, section(r.out, "before"))
	assert.Equal(t, "changed=yes old=down new=up\n", section(r.out, "after"))
	lines := bondLines(string(klog))
	assert.Contains(t, lines, "bond0 (uninitialized): invalid NS target ff02::1 specified for addition\n")
	assert.Contains(t, lines, "bond0: NS target 2001:db8::9 is already present\n")
	assert.Contains(t, lines, "bond0: option ns_ip6_target: invalid value (18446744073709551615)\n")
	assert.Contains(t, lines, "bond0: (slave "+old+"): link status definitely down, disabling slave\n")
	if t.Failed() {
		t.Logf("output:\n%s\nstderr:\n%s\nlog:\n%s", r.out, r.errOut, klog)
	}
}
