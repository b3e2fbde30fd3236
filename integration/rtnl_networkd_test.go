package integration

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const networkdBin = "/lib/systemd/systemd-networkd"

// lacpPeer runs, in namespace b, a second bondingfs with an 802.3ad bond
// (lacp_rate fast) over p0 and p1 holding 192.0.2.2/24, configured with ip
// under exec, until the test ends.
func lacpPeer(t *testing.T, b string) {
	t.Helper()
	root := filepath.Join(t.TempDir(), "peer")
	ready := filepath.Join(t.TempDir(), "ready")
	cmd := exec.Command(bondingfsBin(t), "exec", "--netns", b, "--root", root, "--log", root+".log", "max_bonds=0", "--", "bash", "-c", `
set -e
ip link set p0 down; ip link set p1 down
ip link add bond0 type bond mode 802.3ad lacp_rate fast miimon 100
ip link set p0 master bond0
ip link set p1 master bond0
ip addr add 192.0.2.2/24 dev bond0
ip link set bond0 up
touch `+ready+`
exec sleep 600`)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	for i := 0; i < 300; i++ {
		if _, err := os.Stat(ready); err == nil {
			return
		}
		select {
		case <-done:
			t.Fatalf("peer ended: %s", out.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("peer not ready: %s", out.String())
}

// systemd-networkd 252 (Debian's, unmodified) brings up an 802.3ad bond of
// two ports from .netdev/.network files under exec: it creates the bond
// over rtnetlink, checks its kind, enslaves both ports and sets the
// address; LACP negotiates with a second bondingfs, and traffic passes.
func TestRtnlNetworkd(t *testing.T) {
	a, b := rtnlTopo(t)
	needTools(t, "ping", "mount")
	if _, err := os.Stat(networkdBin); err != nil {
		t.Fatalf("systemd-networkd: %v", err)
	}
	lacpPeer(t, b.Name())
	cfg := t.TempDir()
	for name, text := range map[string]string{
		"bond0.netdev":  "[NetDev]\nName=bond0\nKind=bond\n\n[Bond]\nMode=802.3ad\nLACPTransmitRate=fast\nMIIMonitorSec=100ms\nTransmitHashPolicy=layer3+4\n",
		"bond0.network": "[Match]\nName=bond0\n\n[Network]\nAddress=192.0.2.1/24\nLinkLocalAddressing=no\n",
		"ports.network": "[Match]\nName=eth0 eth1\n\n[Network]\nBond=bond0\n",
	} {
		require.NoError(t, os.WriteFile(filepath.Join(cfg, name), []byte(text), 0o644))
	}
	require.NoError(t, os.Chmod(cfg, 0o755))
	logf := filepath.Join(t.TempDir(), "networkd.log")
	out, rc, _ := rtnlExec(t, a, `
# networkd's own directories, private to this mount namespace; /sys read-only
# tells networkd there is no udev to wait for
mount --bind `+cfg+` /etc/systemd/network
mount -t tmpfs -o mode=0755 tmpfs /run/systemd/netif
chown systemd-network:systemd-network /run/systemd/netif
mount -o remount,bind,ro /sys
`+networkdBin+` > `+logf+` 2>&1 & P=$!
ok=
for i in $(seq 300); do
  if ping -c1 -W1 192.0.2.2 >/dev/null 2>&1; then ok=1; break; fi
  sleep 0.1
done
echo "ping: ${ok:-failed}"
# the first port's aggregator can carry the ping before the second port
# has joined it (LACP at the fast rate: a second or two): wait for both
for i in $(seq 100); do
  grep -A3 "^Active Aggregator Info" /proc/net/bonding/bond0 | grep -q "Number of ports: 2" && break
  sleep 0.1
done
S=/sys/class/net/bond0/bonding
cat $S/mode $S/lacp_rate $S/xmit_hash_policy $S/miimon
tr ' ' '\n' < $S/slaves | sort | tr '\n' ' '; echo
grep -A3 "^Active Aggregator Info" /proc/net/bonding/bond0 | grep "Number of ports"
ip -br -4 addr show dev bond0 | awk '{print $1, $3}'
kill $P; wait $P
`)
	if !assert.Equal(t, 0, rc) || !assert.Equal(t, `ping: 1
802.3ad 4
fast 1
layer3+4 1
100
eth0 eth1 
	Number of ports: 2
bond0 192.0.2.1/24
`, out) {
		l, _ := os.ReadFile(logf)
		t.Logf("networkd log:\n%s", tail(string(l), 60))
	}
}
