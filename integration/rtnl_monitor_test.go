package integration

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// `ip monitor link` under exec sees the enslave (the port with SLAVE and
// master bond1) and an option change made through the sysfs file by
// another process (bond1 with its new miimon): events the kernel never
// sends here, which the supervisor makes from the engine's changes.
func TestRtnlMonitorLink(t *testing.T) {
	a, _ := rtnlTopo(t)
	out, rc, _ := rtnlExec(t, a, `
M=$(mktemp)
waitfor() { for i in $(seq 200); do grep -q -e "$1" "$M" && return 0; sleep 0.05; done; echo "no $1 in:"; cat "$M"; return 1; }
ip -d monitor link > "$M" 2>&1 & P=$!
# the monitor listens once it sees a kernel event of ours
for i in $(seq 100); do ip link set eth1 mtu $((1400 + i)); grep -q "eth1.*mtu $((1400 + i))" "$M" && break; sleep 0.05; done
ip link add bond1 type bond mode active-backup miimon 100
waitfor "bond1: <.*MASTER"
ip link set eth0 master bond1
waitfor "eth0@[^:]*: <.*SLAVE.*master bond1"
waitfor "bond_slave state"
echo 300 > /sys/class/net/bond1/bonding/miimon
waitfor "miimon 300"
kill $P; wait $P 2>/dev/null
echo done
`)
	assert.Equal(t, 0, rc, out)
	assert.True(t, strings.HasSuffix(out, "done\n"), out)
}
