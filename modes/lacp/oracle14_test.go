package lacp

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests replay the kernel oracle's scenario 14-8023ad
// (/work/shared/oracle/golden/14-8023ad.txt, Linux 6.1.192) at the level of
// this package: every 802.3ad value the transcript records after each
// step must come out the same.

type wantPort struct {
	agg          int // 0: none (N/A)
	actor        int
	partner      int
	backup       bool
	key          int
	partnerKey   int
	partnerMAC   [6]byte
	partnerPort  int
	actorChurn   ChurnState
	partnerChurn ChurnState
}

func checkPort(t *testing.T, s *System, id PortID, w wantPort) {
	t.Helper()
	p, ok := s.Port(id)
	require.True(t, ok)
	if w.agg == 0 {
		assert.False(t, p.HasAggregator, "%s has an aggregator", p.Name)
		return
	}
	assert.True(t, p.HasAggregator, "%s has no aggregator", p.Name)
	assert.Equal(t, w.agg, p.AggregatorID, "%s aggregator", p.Name)
	assert.Equal(t, w.actor, p.ActorOperState, "%s actor state", p.Name)
	assert.Equal(t, w.partner, p.PartnerOperState, "%s partner state", p.Name)
	assert.Equal(t, w.backup, p.Backup, "%s backup", p.Name)
	assert.Equal(t, w.key, p.Actor.Key, "%s actor key", p.Name)
	assert.Equal(t, w.partnerKey, p.Partner.Key, "%s partner key", p.Name)
	assert.Equal(t, w.partnerMAC[:], []byte(p.Partner.System), "%s partner system", p.Name)
	assert.Equal(t, w.partnerPort, p.Partner.PortNumber, "%s partner port", p.Name)
	assert.Equal(t, w.actorChurn, p.ActorChurnState, "%s actor churn", p.Name)
	assert.Equal(t, w.partnerChurn, p.PartnerChurnState, "%s partner churn", p.Name)
	assert.Equal(t, 0, p.ActorChurnCount)
	assert.Equal(t, 0, p.PartnerChurnCount)
}

func checkActive(t *testing.T, s *System, id, ports, key, pkey int, pmac [6]byte) {
	t.Helper()
	a, ok := s.ActiveAggregator()
	require.True(t, ok, "no active aggregator")
	assert.Equal(t, AggregatorInfo{ID: id, NumPorts: ports, ActorKey: key, PartnerKey: pkey, PartnerMAC: pmac}, a)
}

func TestOracle14(t *testing.T) {
	n := newTestNet(t)
	eth := func(i int) [6]byte { return mac(0, 0, byte(i+1)) }
	// [1] 802.3ad, no slaves: system priority and MAC are zero.
	b0 := n.addSystem("bond0", [6]byte{}, DefaultOptions())
	st := b0.Status()
	assert.Equal(t, 0, st.SystemPriority)
	assert.Equal(t, []byte{0, 0, 0, 0, 0, 0}, []byte(st.SystemMAC))
	assert.Nil(t, st.Active)

	// [3] slaves added while the bond is down: the bond took eth0's MAC.
	b0.SetBondMAC(eth(0))
	require.NoError(t, b0.AddPort(0, "eth0", eth(0), up10G))
	require.NoError(t, b0.AddPort(1, "eth1", eth(1), up10G))
	st = b0.Status()
	assert.Equal(t, 65535, st.SystemPriority)
	e0 := eth(0)
	assert.Equal(t, e0[:], []byte(st.SystemMAC))
	assert.Nil(t, st.Active)
	checkPort(t, b0, 0, wantPort{})
	checkPort(t, b0, 1, wantPort{})
	assert.Empty(t, n.takeLogs())

	// [4] bond up, no LACP partner (lacp_rate slow), 5 s.
	b0.Open()
	n.run(50)
	checkActive(t, b0, 1, 1, 15, 1, [6]byte{})
	noPartner := func(agg, actor int, backup bool, key int) wantPort {
		return wantPort{agg: agg, actor: actor, partner: 0, backup: backup, key: key, partnerKey: 1, partnerPort: 1}
	}
	checkPort(t, b0, 0, noPartner(1, 77, false, 15))
	checkPort(t, b0, 1, noPartner(2, 69, true, 15))
	assert.True(t, b0.Carrier())
	assert.Empty(t, n.takeLogs())

	// [5] third slave added while up.
	require.NoError(t, b0.AddPort(2, "eth2", eth(2), up10G))
	n.run(50)
	checkActive(t, b0, 1, 1, 15, 1, [6]byte{})
	checkPort(t, b0, 0, noPartner(1, 77, false, 15))
	checkPort(t, b0, 1, noPartner(2, 69, true, 15))
	checkPort(t, b0, 2, noPartner(3, 69, true, 15))

	// [6] the active aggregator's port loses carrier.
	down := Link{Status: LinkDown, Speed: 10000, Duplex: DuplexFull}
	require.NoError(t, b0.LinkChange(0, down))
	n.run(50)
	checkActive(t, b0, 2, 1, 15, 1, [6]byte{})
	checkPort(t, b0, 0, noPartner(1, 77, true, 0))
	checkPort(t, b0, 1, noPartner(2, 77, false, 15))
	checkPort(t, b0, 2, noPartner(3, 69, true, 15))
	require.NoError(t, b0.LinkChange(0, up10G))
	n.run(50)
	checkActive(t, b0, 2, 1, 15, 1, [6]byte{})
	checkPort(t, b0, 0, noPartner(1, 69, true, 15))
	checkPort(t, b0, 1, noPartner(2, 77, false, 15))
	checkPort(t, b0, 2, noPartner(3, 69, true, 15))
	assert.Empty(t, n.takeLogs())

	// [7] two bonds back to back, lacp_rate fast.
	b0.Close()
	require.NoError(t, b0.RemovePort(0))
	assert.Empty(t, n.takeLogs())
	require.NoError(t, b0.RemovePort(1))
	assert.Equal(t, []string{"bond0: (slave eth1): Removing an active aggregator"}, n.takeLogs())
	require.NoError(t, b0.RemovePort(2))
	assert.Equal(t, []string{"bond0: (slave eth2): Removing an active aggregator"}, n.takeLogs())
	assert.False(t, b0.Carrier())
	b0.SetLACPRate(true)

	b1 := n.addSystem("bond1", mac(0, 0xb1, 0), fastOpts())
	downNoSpeed := Link{Status: LinkDown, Speed: SpeedUnknown, Duplex: DuplexUnknown}
	require.NoError(t, b1.AddPort(0, "p0", mac(0, 1, 1), downNoSpeed))
	require.NoError(t, b1.AddPort(1, "p1", mac(0, 1, 2), downNoSpeed))
	b0.SetBondMAC(eth(0))
	require.NoError(t, b0.AddPort(0, "eth0", eth(0), up10G))
	require.NoError(t, b0.AddPort(1, "eth1", eth(1), up10G))
	n.connect(endpoint{0, 0}, endpoint{1, 0})
	n.connect(endpoint{0, 1}, endpoint{1, 1})
	for i := PortID(0); i < 2; i++ { // carrier, not yet seen by miimon
		require.NoError(t, b1.SetLink(i, Link{Status: LinkDown, Speed: SpeedUnknown, Duplex: DuplexUnknown, DevUp: true}))
	}
	b1.Open()
	b0.Open()
	// The first tick selects p0's individual aggregator (carrier, no link
	// yet): the kernel's one warning. The MII monitor then brings both
	// links up, which restarts both ports.
	n.step()
	assert.Equal(t, []string{"bond1: Warning: No 802.3ad response from the link partner for any adapters in the bond"}, n.takeLogs())
	require.NoError(t, b1.LinkChange(0, up10G))
	require.NoError(t, b1.LinkChange(1, up10G))
	n.run(49)
	assert.Empty(t, n.takeLogs())
	b1mac := mac(0, 0xb1, 0)
	checkActive(t, b0, 1, 2, 15, 15, b1mac)
	both := func(partnerMAC [6]byte, pport int) wantPort {
		return wantPort{agg: 1, actor: 63, partner: 63, key: 15, partnerKey: 15, partnerMAC: partnerMAC, partnerPort: pport}
	}
	checkPort(t, b0, 0, both(b1mac, 1))
	checkPort(t, b0, 1, both(b1mac, 2))
	checkActive(t, b1, 1, 2, 15, 15, eth(0))
	checkPort(t, b1, 0, both(eth(0), 1))
	checkPort(t, b1, 1, both(eth(0), 2))
	assert.Equal(t, []PortID{0, 1}, b0.DistributingPorts(nil))
	assert.Equal(t, []PortID{0, 1}, b1.DistributingPorts(nil))

	// [8] one link of the LAG fails (p1 down on bond1's side).
	n.disconnect(endpoint{1, 1})
	require.NoError(t, b0.LinkChange(1, Link{Status: LinkDown, Speed: 10000, Duplex: DuplexFull}))
	require.NoError(t, b1.LinkChange(1, Link{Status: LinkDown, Speed: 10000, Duplex: DuplexFull}))
	n.run(50)
	checkActive(t, b0, 1, 1, 15, 15, b1mac)
	checkPort(t, b0, 0, both(b1mac, 1))
	checkPort(t, b0, 1, wantPort{agg: 1, actor: 15, partner: 55, backup: true, key: 0, partnerKey: 15, partnerMAC: b1mac, partnerPort: 2})
	assert.Equal(t, []PortID{0}, b0.DistributingPorts(nil))
	n.connect(endpoint{0, 1}, endpoint{1, 1})
	require.NoError(t, b0.LinkChange(1, up10G))
	require.NoError(t, b1.LinkChange(1, up10G))
	n.run(50)
	checkActive(t, b0, 1, 2, 15, 15, b1mac)
	checkPort(t, b0, 0, both(b1mac, 1))
	checkPort(t, b0, 1, both(b1mac, 2))
	assert.Equal(t, []PortID{0, 1}, b0.DistributingPorts(nil))
	assert.Empty(t, slices.DeleteFunc(n.takeLogs(), func(string) bool { return false }))
}
