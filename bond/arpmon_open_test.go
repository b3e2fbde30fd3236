package bond_test

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"bondingfs/bond"
	"bondingfs/bond/bondtest"
)

// TestARPFirstProbeAtOpen: bond_open queues the ARP work with no delay, and
// its first run looks up the route to each target as it probes. With
// arp_interval 10000, arp_validate active and a target without a route,
// the kernel logs "no route to arp_ip_target ... and arp_validate is set"
// and sends the probe from 0.0.0.0 as soon as the bond opens, not 10 s
// later: the hand-driven clock never moves here.
func TestARPFirstProbeAtOpen(t *testing.T) {
	bond.ResetARPWarnedNoRoute()
	t.Cleanup(bond.ResetARPWarnedNoRoute)
	target := netip.MustParseAddr("198.51.100.9")
	p := bond.DefaultParams()
	p.Mode = bond.ModeActiveBackup
	p.Miimon = 0
	p.ARPInterval = 10000
	p.ARPTargets = []netip.Addr{target}
	p.ARPValidate = bond.ARPValidateActive
	e := bondtest.New(t, p, "eth0", "eth1")
	enslave(t, e, "eth0", "eth1")
	e.Log.Take()
	start := e.Clock.Now()

	e.SetUp("bond0", true)
	want := "bond0: no route to arp_ip_target 198.51.100.9 and arp_validate is set"
	var logs []string
	// the route read runs on a goroutine of its own; wait for its answer
	// (no clock movement: the first run must not wait for a tick)
	require.Eventually(t, func() bool {
		e.Settle()
		logs = append(logs, e.Log.Take()...)
		return slices.Contains(logs, want)
	}, 5*time.Second, time.Millisecond, "the warning at open; log: %q", logs)
	assert.Equal(t, start, e.Clock.Now(), "no time passed")

	// the probe itself: an ARP request for the target from 0.0.0.0 on
	// the active slave
	var probes int
	for _, f := range e.Host.SlaveDev("eth0").Frames() {
		eth := f[bond.VnetHdrLen:]
		if len(eth) < 42 || binary.BigEndian.Uint16(eth[12:14]) != 0x0806 || binary.BigEndian.Uint16(eth[20:22]) != 1 {
			continue
		}
		sip, _ := netip.AddrFromSlice(eth[28:32])
		tip, _ := netip.AddrFromSlice(eth[38:42])
		if tip == target {
			assert.Equal(t, netip.IPv4Unspecified(), sip, "source without a route")
			probes++
		}
	}
	assert.Equal(t, 1, probes, "one probe at open")

	// printed once (pr_warn_once): the next run probes again, silently
	e.Tick(10 * time.Second)
	assert.NotContains(t, e.Log.Take(), want)
}
