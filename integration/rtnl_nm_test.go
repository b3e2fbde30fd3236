package integration

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"bondingfs/internal/nettest"
)

// NetworkManager 1.42 (Debian's, unmodified), on a private system bus in
// the test's namespaces, brings up an active-backup bond of two ports from
// nmcli under exec; a ping to the peer's bridge goes on while the active
// port's link is pulled. NetworkManager's dispatcher scripts are left out
// (see below): Debian's ifupdown hooks would release the ports it enslaves.
func TestRtnlNetworkManager(t *testing.T) {
	a, b := rtnlTopo(t)
	needTools(t, "ping", "mount", "nmcli", "NetworkManager", "dbus-daemon")
	nettest.Bridge(t, b, "br0", "192.0.2.2/24", "p0", "p1")
	dir := t.TempDir()
	conn := filepath.Join(dir, "conn")
	require.NoError(t, os.Mkdir(conn, 0o700))
	cfg := filepath.Join(dir, "nm.conf")
	require.NoError(t, os.WriteFile(cfg, []byte("[main]\nplugins=keyfile\nno-auto-default=*\n\n[keyfile]\npath="+conn+"\n"), 0o644))
	logf := filepath.Join(dir, "nm.log")
	out, rc, _ := rtnlExec(t, a, `
# a private system bus and NetworkManager's state, in this mount namespace;
# /sys read-only tells NetworkManager there is no udev
mkdir -p /run/NetworkManager
mount -t tmpfs -o mode=0755 tmpfs /run/dbus
mount -t tmpfs -o mode=0755 tmpfs /run/NetworkManager
mount -t tmpfs -o mode=0755 tmpfs /var/lib/NetworkManager
mount -o remount,bind,ro /sys
# no dispatcher scripts: Debian's 01-ifupdown runs ifupdown's hooks on
# NetworkManager's "down" events, and ifenslave's if-post-down.d hook, run
# asynchronously, writes -eth0 to the port's master/bonding/slaves and runs
# "ip link del bond0" after NetworkManager has enslaved the ports again
# (when "connection up bond0" re-activates the bond autoconnect brought up);
# it does that to the kernel's bonding driver too
mount -t tmpfs -o mode=0755 tmpfs /etc/NetworkManager/dispatcher.d
# the bus forks: its pid is kept so that it is stopped whatever happens
D=$(dbus-daemon --system --fork --nopidfile --print-pid); trap 'kill $D 2>/dev/null' EXIT
NetworkManager --no-daemon --debug --config=`+cfg+` > `+logf+` 2>&1 & P=$!
for i in $(seq 200); do nmcli -t general status >/dev/null 2>&1 && break; sleep 0.1; done
nmcli -w 30 connection add type bond con-name bond0 ifname bond0 bond.options "mode=active-backup,miimon=100" \
  ipv4.method manual ipv4.addresses 192.0.2.1/24 ipv6.method disabled connection.autoconnect-slaves yes >/dev/null
nmcli -w 30 connection add type ethernet con-name bond0-eth0 ifname eth0 master bond0 >/dev/null
nmcli -w 30 connection add type ethernet con-name bond0-eth1 ifname eth1 master bond0 >/dev/null
nmcli -w 30 connection up bond0 >/dev/null
S=/sys/class/net/bond0/bonding
for i in $(seq 300); do [ "$(tr ' ' '\n' < $S/slaves | sort | tr '\n' ' ')" = "eth0 eth1 " ] && ping -c1 -W1 192.0.2.2 >/dev/null 2>&1 && break; sleep 0.1; done
cat $S/mode $S/miimon
tr ' ' '\n' < $S/slaves | sort | tr '\n' ' '; echo
ip -d link show bond0 | grep -o -e "bond mode [a-z-]*" -e " miimon [0-9]*"
nmcli -g GENERAL.STATE device show bond0
old=$(cat $S/active_slave)
ping -i 0.05 -c 100 192.0.2.2 > /tmp/ping.$$ 2>&1 & Q=$!
sleep 1
# pull the active port's cable: its peer in B goes down
ip -n `+b.Name()+` link set "p${old#eth}" down
for i in $(seq 100); do [ "$(cat $S/active_slave)" != "$old" ] && break; sleep 0.05; done
[ "$(cat $S/active_slave)" != "$old" ] && echo "failed over"
# the last request sent by now
sent=$(grep -o "icmp_seq=[0-9]*" /tmp/ping.$$ | tail -1 | cut -d= -f2)
wait $Q
# the same ping goes on: requests sent after the failover are answered
after=$(grep -o "icmp_seq=[0-9]*" /tmp/ping.$$ | cut -d= -f2 | awk -v s="${sent:-0}" '$1 > s' | wc -l)
[ "$after" -ge 3 ] && echo "ping survived" || { echo "ping: $after replies after the failover"; grep -v icmp_seq /tmp/ping.$$;
  echo "replies:" $(grep -o "icmp_seq=[0-9]*.*time=[0-9]*" /tmp/ping.$$ | sed 's/icmp_seq=\([0-9]*\).*time=\([0-9]*\)/\1:\2/'); cat /proc/net/bonding/bond0; }
rm -f /tmp/ping.$$
kill $P; wait $P
`)
	if !assert.Equal(t, 0, rc) || !assert.Equal(t, `active-backup 1
100
eth0 eth1 
bond mode active-backup
 miimon 100
100 (connected)
failed over
ping survived
`, out) {
		l, _ := os.ReadFile(logf)
		t.Logf("NetworkManager log:\n%s", tail(string(l), 60))
	}
}
