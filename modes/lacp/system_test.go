package lacp

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBackToBackSlowAndLoss(t *testing.T) {
	// lacp_rate slow: still within the aggregate wait plus a few ticks.
	n, b0, b1 := backToBack(t, DefaultOptions(), DefaultOptions())
	b0.Open()
	b1.Open()
	ticks := n.until(100, func() bool { return distributing(b0) && distributing(b1) })
	assert.True(t, ticks > 0 && ticks <= 30, "slow took %d ticks", ticks)

	// One LACPDU in three lost on every wire: negotiation still completes
	// (in at most 6 s) and then holds for a minute.
	for _, fast := range []bool{true, false} {
		o := DefaultOptions()
		o.LACPFast = fast
		n, b0, b1 := backToBack(t, o, o)
		count := 0
		n.drop = func(endpoint, []byte) bool { count++; return count%3 == 0 }
		b0.Open()
		b1.Open()
		// A lost LACPDU costs a fast periodic time (1 s) with lacp_rate
		// fast, a slow one (30 s) with lacp_rate slow.
		limit := 60
		if !fast {
			limit = 700
		}
		ticks := n.until(700, func() bool { return distributing(b0) && distributing(b1) })
		require.True(t, ticks > 0 && ticks <= limit, "fast=%v with loss took %d ticks", fast, ticks)
		for i := 0; i < 600; i++ {
			n.step()
			require.True(t, distributing(b0) && distributing(b1), "fast=%v: link lost at tick %d with 1/3 loss", fast, n.ticks)
		}
	}
}

func TestPartnerLost(t *testing.T) {
	n, b0, b1 := backToBack(t, fastOpts(), fastOpts())
	b0.Open()
	b1.Open()
	require.Positive(t, n.until(100, func() bool { return distributing(b0) && distributing(b1) }))
	n.run(10)
	// The partner's port p1 goes silent (its link stays up on our side).
	n.disconnect(endpoint{1, 1})
	start := n.ticks
	// Short timeout: 3 s after the last LACPDU, EXPIRED; 3 s later DEFAULTED.
	exp := n.until(40, func() bool { p, _ := b0.Port(1); return p.RxState == RxExpired })
	require.Positive(t, exp)
	assert.LessOrEqual(t, n.ticks-start, 30)
	p, _ := b0.Port(1)
	assert.NotZero(t, p.ActorOperState&StateExpired)
	assert.Zero(t, p.PartnerOperState&StateSynchronization)
	assert.NotZero(t, p.PartnerOperState&StateTimeout)
	assert.Equal(t, MuxAttached, p.MuxState)
	assert.True(t, p.Backup)
	assert.Equal(t, []PortID{0}, b0.DistributingPorts(nil))
	expiredAt := n.ticks
	def := n.until(40, func() bool { p, _ := b0.Port(1); return p.RxState == RxDefaulted })
	require.Positive(t, def)
	assert.Equal(t, 30, n.ticks-expiredAt)
	n.step()
	p, _ = b0.Port(1)
	assert.Zero(t, p.ActorOperState&StateExpired)
	assert.NotZero(t, p.ActorOperState&StateDefaulted)
	assert.Equal(t, 1, p.Partner.Key)
	assert.Equal(t, []byte{0, 0, 0, 0, 0, 0}, []byte(p.Partner.System))
	// The defaulted port left the LAG for an aggregator of its own.
	assert.NotEqual(t, 1, p.AggregatorID)
	a, _ := b0.ActiveAggregator()
	assert.Equal(t, 1, a.ID)
	assert.Equal(t, 1, a.NumPorts)
	assert.Equal(t, ChurnMonitor, p.ActorChurnState)

	// Churn: 60 s after the port expired, neither side is in sync.
	n.run(60*TicksPerSecond - (n.ticks - expiredAt) - 1)
	p, _ = b0.Port(1)
	assert.Equal(t, ChurnMonitor, p.ActorChurnState)
	n.step()
	p, _ = b0.Port(1)
	assert.Equal(t, Churned, p.ActorChurnState)
	assert.Equal(t, Churned, p.PartnerChurnState)
	assert.Equal(t, 1, p.ActorChurnCount)
	assert.Equal(t, 1, p.PartnerChurnCount)
	// The healthy port saw no churn: its monitors ended in "none".
	q, _ := b0.Port(0)
	assert.Equal(t, NoChurn, q.ActorChurnState)
	assert.Equal(t, NoChurn, q.PartnerChurnState)
	assert.Zero(t, q.ActorChurnCount)

	// The partner comes back: the port rejoins the LAG, churn monitoring
	// restarts.
	n.connect(endpoint{0, 1}, endpoint{1, 1})
	require.Positive(t, n.until(100, func() bool { return distributing(b0) && distributing(b1) }))
	p, _ = b0.Port(1)
	assert.Equal(t, 1, p.AggregatorID)
	assert.Equal(t, ChurnMonitor, p.ActorChurnState)
	assert.Equal(t, 1, p.ActorChurnCount)
}

// TestPassive checks lacp_active off. In Linux 6.1 a passive port never
// runs its periodic timer, so it never sends an LACPDU on its own schedule,
// but it does send one whenever its state changes (NTT from the Mux and
// Receive machines, e.g. at start-up). Two passive bonds therefore find each
// other, and then lose each other every current_while timeout, as the kernel
// did until "bonding: send LACPDUs periodically in passive mode after
// receiving partner's LACPDU" (Linux 6.17).
func TestPassive(t *testing.T) {
	passive := fastOpts()
	passive.LACPActive = false

	t.Run("passive-passive", func(t *testing.T) {
		n, b0, b1 := backToBack(t, passive, passive)
		b0.Open()
		b1.Open()
		flaps := 0
		was := false
		for i := 0; i < 30*TicksPerSecond; i++ {
			n.step()
			for _, s := range []*System{b0, b1} {
				for _, p := range s.Status().Ports {
					require.Equal(t, NoPeriodic, p.PeriodicState, "periodic machine ran on a passive-passive link")
					require.Zero(t, p.ActorOperState&StateActivity)
				}
			}
			d := distributing(b0) && distributing(b1)
			if was && !d {
				flaps++
			}
			was = d
		}
		// Never a steady aggregation: the link drops at every 3 s timeout.
		assert.GreaterOrEqual(t, flaps, 8)
		// No more LACPDUs than state changes: about one per timeout and port.
		for ep, at := range n.sentAt {
			assert.LessOrEqual(t, len(at), 60, "%v sent %d LACPDUs in 30 s", ep, len(at))
		}
	})

	t.Run("passive-passive-silent", func(t *testing.T) {
		// A passive bond whose ports have no partner settles after its
		// start-up LACPDU and then sends nothing more.
		n := newTestNet(t)
		b := n.addSystem("bond0", mac(0, 0, 1), passive)
		require.NoError(t, b.AddPort(0, "eth0", mac(0, 0, 1), up10G))
		b.Open()
		// Start-up: DETACHED and then ATTACHED each set NTT.
		n.run(40)
		first := len(n.sentAt[endpoint{0, 0}])
		assert.Equal(t, 2, first)
		n.run(1200)
		assert.Equal(t, first, len(n.sentAt[endpoint{0, 0}]), "a passive port without partner kept sending")
		// Active, the same port keeps sending at the defaulted partner's
		// rate: every slow periodic time (30 s), whatever lacp_rate is.
		n2 := newTestNet(t)
		b2 := n2.addSystem("bond0", mac(0, 0, 1), fastOpts())
		require.NoError(t, b2.AddPort(0, "eth0", mac(0, 0, 1), up10G))
		b2.Open()
		n2.run(40)
		start := len(n2.sentAt[endpoint{0, 0}])
		n2.run(1200)
		at := n2.sentAt[endpoint{0, 0}]
		assert.Equal(t, 4, len(at)-start, "sent at %v", at)
		for i := start + 1; i < len(at); i++ {
			assert.Equal(t, 300, at[i]-at[i-1])
		}
	})

	t.Run("active-passive", func(t *testing.T) {
		n, b0, b1 := backToBack(t, fastOpts(), passive)
		b0.Open()
		b1.Open()
		ticks := n.until(100, func() bool { return distributing(b0) && distributing(b1) })
		require.True(t, ticks > 0 && ticks <= 30, "took %d ticks", ticks)
		for i := 0; i < 60*TicksPerSecond; i++ {
			n.step()
			require.True(t, distributing(b0) && distributing(b1), "lost at tick %d", n.ticks)
		}
		// The passive side answers at its partner's (fast) rate.
		p, _ := b1.Port(0)
		assert.Equal(t, FastPeriodic, p.PeriodicState)
		assert.Zero(t, p.ActorOperState&StateActivity)
	})
}

// selectNet builds bond0 with three ports: eth0 to system A's only port,
// eth1 and eth2 to system B's two ports.
func selectNet(t *testing.T, sel ADSelect, eth0Speed int) (*testNet, *System) {
	n := newTestNet(t)
	o := fastOpts()
	o.ADSelect = sel
	b := n.addSystem("bond0", mac(0, 0, 1), o)
	a := n.addSystem("sysA", mac(0, 0xa, 0), fastOpts())
	bb := n.addSystem("sysB", mac(0, 0xb, 0), fastOpts())
	l0 := up10G
	l0.Speed = eth0Speed
	require.NoError(t, b.AddPort(0, "eth0", mac(0, 0, 1), l0))
	require.NoError(t, b.AddPort(1, "eth1", mac(0, 0, 2), up10G))
	require.NoError(t, b.AddPort(2, "eth2", mac(0, 0, 3), up10G))
	require.NoError(t, a.AddPort(0, "a0", mac(0, 0xa, 1), l0))
	require.NoError(t, bb.AddPort(0, "b0", mac(0, 0xb, 1), up10G))
	require.NoError(t, bb.AddPort(1, "b1", mac(0, 0xb, 2), up10G))
	n.connect(endpoint{0, 0}, endpoint{1, 0})
	n.connect(endpoint{0, 1}, endpoint{2, 0})
	n.connect(endpoint{0, 2}, endpoint{2, 1})
	for _, s := range n.systems {
		s.Open()
	}
	return n, b
}

func activePartner(t *testing.T, s *System) ([6]byte, int) {
	t.Helper()
	a, ok := s.ActiveAggregator()
	require.True(t, ok)
	return a.PartnerMAC, a.NumPorts
}

func TestADSelect(t *testing.T) {
	sysA, sysB := mac(0, 0xa, 0), mac(0, 0xb, 0)
	cases := []struct {
		sel      ADSelect
		speed    int
		partner  [6]byte
		numPorts int
	}{
		// count: two ports beat one.
		{SelectCount, 10000, sysB, 2},
		// bandwidth: 2 × 10G beat 1 × 10G ...
		{SelectBandwidth, 10000, sysB, 2},
		// ... but 1 × 100G beats 2 × 10G.
		{SelectBandwidth, 100000, sysA, 1},
		// count ignores the speed.
		{SelectCount, 100000, sysB, 2},
	}
	for _, c := range cases {
		n, b := selectNet(t, c.sel, c.speed)
		n.run(50)
		p, np := activePartner(t, b)
		assert.Equal(t, c.partner, p, "%s with eth0 at %d Mb/s", c.sel, c.speed)
		assert.Equal(t, c.numPorts, np)
		// Only the active aggregator's ports distribute.
		d := b.DistributingPorts(nil)
		if c.partner == sysA {
			assert.Equal(t, []PortID{0}, d)
		} else {
			assert.Equal(t, []PortID{1, 2}, d)
		}
	}
}

func TestADSelectStableKeepsAnsweringAggregator(t *testing.T) {
	sysA, sysB := mac(0, 0xa, 0), mac(0, 0xb, 0)
	for _, sel := range []ADSelect{SelectStable, SelectCount} {
		n, b := selectNet(t, sel, 10000)
		// Only system A answers at first.
		n.disconnect(endpoint{0, 1})
		n.disconnect(endpoint{0, 2})
		n.run(50)
		p, _ := activePartner(t, b)
		require.Equal(t, sysA, p, "%s", sel)
		// System B's two ports come: stable keeps A, count moves to B
		// when the new ports are selected. Both sides are defaulted by
		// then and send every 30 s (the defaulted partner's long
		// timeout), so this takes up to 30 s.
		n.connect(endpoint{0, 1}, endpoint{2, 0})
		n.connect(endpoint{0, 2}, endpoint{2, 1})
		n.run(320)
		p, np := activePartner(t, b)
		if sel == SelectStable {
			assert.Equal(t, sysA, p)
			assert.Equal(t, 1, np)
		} else {
			assert.Equal(t, sysB, p)
			assert.Equal(t, 2, np)
		}
		// stable changes only when the active aggregator has no port left.
		if sel == SelectStable {
			require.NoError(t, b.LinkChange(0, Link{Status: LinkDown, Speed: 10000, Duplex: DuplexFull}))
			p, np = activePartner(t, b)
			assert.Equal(t, sysB, p)
			assert.Equal(t, 2, np)
		}
	}
}

func TestMinLinksCarrier(t *testing.T) {
	o := fastOpts()
	o.MinLinks = 2
	n, b0, b1 := backToBack(t, o, fastOpts())
	var changes []Change
	b0.changed = func(c Change) { changes = append(changes, c) }
	assert.False(t, b0.Carrier())
	b0.Open()
	b1.Open()
	n.step()
	// One individual port in the active aggregator: below min_links.
	assert.False(t, b0.Carrier())
	require.Positive(t, n.until(100, func() bool { return distributing(b0) && distributing(b1) }))
	assert.True(t, b0.Carrier())
	hasCarrierChange := func() bool {
		for _, c := range changes {
			if c&ChangeCarrier != 0 {
				return true
			}
		}
		return false
	}
	assert.True(t, hasCarrierChange())
	changes = nil
	down := Link{Status: LinkDown, Speed: 10000, Duplex: DuplexFull}
	require.NoError(t, b0.LinkChange(1, down))
	assert.False(t, b0.Carrier())
	assert.True(t, hasCarrierChange())
	require.NoError(t, b0.SetMinLinks(1))
	assert.True(t, b0.Carrier())
	require.NoError(t, b0.SetMinLinks(0))
	require.NoError(t, b0.LinkChange(0, down))
	// No enabled port in any aggregator: no active aggregator, no carrier.
	assert.False(t, b0.Carrier())
	_, ok := b0.ActiveAggregator()
	assert.False(t, ok)
	require.Error(t, b0.SetMinLinks(-1))
	// Without ports the carrier is off (bond_set_carrier).
	require.NoError(t, b0.RemovePort(0))
	require.NoError(t, b0.RemovePort(1))
	assert.False(t, b0.Carrier())
}

func TestPortKeys(t *testing.T) {
	var logs []Event
	s := New(Config{Name: "bond0", BondMAC: mac(0, 0, 1), Options: DefaultOptions(),
		Log: func(e Event) { logs = append(logs, e) }})
	key := func(id PortID) int { p, _ := s.Port(id); return p.Actor.Key }
	require.NoError(t, s.AddPort(0, "eth0", mac(0, 0, 1), Link{Status: LinkUp, Speed: 1000, Duplex: DuplexFull, DevUp: true}))
	assert.Equal(t, 4<<1|1, key(0))
	require.NoError(t, s.AddPort(1, "eth1", mac(0, 0, 2), Link{Status: LinkUp, Speed: 100, Duplex: DuplexHalf, DevUp: true}))
	assert.Equal(t, 3<<1, key(1))
	for mbps, code := range map[int]int{10: 2, 2500: 5, 5000: 6, 10000: 7, 14000: 8, 20000: 9, 25000: 10,
		40000: 11, 50000: 12, 56000: 13, 100000: 14, 200000: 15, 400000: 16} {
		require.NoError(t, s.SpeedDuplexChanged(0, Link{Status: LinkUp, Speed: mbps, Duplex: DuplexFull, DevUp: true}))
		assert.Equal(t, code<<1|1, key(0), "%d Mb/s", mbps)
	}
	assert.Empty(t, logs)

	// ad_user_port_key applies to ports added later.
	require.NoError(t, s.SetUserPortKey(5))
	assert.Equal(t, 3<<1, key(1))
	require.NoError(t, s.AddPort(2, "eth2", mac(0, 0, 3), Link{Status: LinkUp, Speed: 10000, Duplex: DuplexFull, DevUp: true}))
	assert.Equal(t, 5<<6|7<<1|1, key(2))
	require.Error(t, s.SetUserPortKey(1024))

	// A speed change on a full-duplex port restarts its machines.
	s.Open()
	s.Tick()
	p, _ := s.Port(2)
	require.Equal(t, RxPortDisabled, p.RxState)
	s.Tick()
	p, _ = s.Port(2)
	require.Equal(t, RxExpired, p.RxState)
	require.NoError(t, s.SpeedDuplexChanged(2, Link{Status: LinkUp, Speed: 1000, Duplex: DuplexFull, DevUp: true}))
	assert.Equal(t, 5<<6|4<<1|1, key(2))
	s.Tick()
	p, _ = s.Port(2)
	assert.Equal(t, RxPortDisabled, p.RxState, "BEGIN re-initialised the port")
	// Unchanged values do nothing.
	require.NoError(t, s.SpeedDuplexChanged(2, Link{Status: LinkUp, Speed: 1000, Duplex: DuplexFull, DevUp: true}))
	s.Tick()
	p, _ = s.Port(2)
	assert.Equal(t, RxExpired, p.RxState)

	// Half duplex: no LACP (the port goes LACP_DISABLED, no LACPDUs).
	require.NoError(t, s.SpeedDuplexChanged(2, Link{Status: LinkUp, Speed: 1000, Duplex: DuplexHalf, DevUp: true}))
	assert.Equal(t, 5<<6|4<<1, key(2))

	// An unknown speed: key speed bits 0 and the kernel's two messages.
	logs = nil
	require.NoError(t, s.SpeedDuplexChanged(0, Link{Status: LinkUp, Speed: 12345, Duplex: DuplexFull, DevUp: true}))
	assert.Equal(t, 1, key(0))
	require.Len(t, logs, 2)
	assert.Equal(t, Event{Level: LevelErr, Once: true, Text: "bond0: (slave eth0): unknown ethtool speed (12345) for port 1 (set it to 0)"}, logs[0])
	assert.Equal(t, Event{Level: LevelErr, Text: "bond0: (slave eth0): speed changed to 0 on port 1"}, logs[1])
	// SPEED_UNKNOWN gives only the second.
	logs = nil
	require.NoError(t, s.SpeedDuplexChanged(1, Link{Status: LinkUp, Speed: SpeedUnknown, Duplex: DuplexFull, DevUp: true}))
	assert.Equal(t, []Event{{Level: LevelErr, Text: "bond0: (slave eth1): speed changed to 0 on port 2"}}, logs)
	// Link down zeroes speed and duplex bits, keeping the user key.
	require.NoError(t, s.LinkChange(2, Link{Status: LinkDown, Speed: 1000, Duplex: DuplexFull}))
	assert.Equal(t, 5<<6, key(2))
}

func TestAggregatorAndPortNumbering(t *testing.T) {
	s := New(Config{Name: "bond0", BondMAC: mac(0, 0, 1), Options: DefaultOptions()})
	ids := func() (aggs, nums []int) {
		for _, p := range s.ports {
			aggs = append(aggs, int(p.ownAgg.id))
			nums = append(nums, int(p.actorPortNumber))
		}
		return
	}
	for i := 0; i < 3; i++ {
		require.NoError(t, s.AddPort(PortID(i), "eth", mac(0, 0, byte(i+1)), up10G))
	}
	aggs, nums := ids()
	assert.Equal(t, []int{1, 2, 3}, aggs)
	assert.Equal(t, []int{1, 2, 3}, nums)
	require.ErrorIs(t, s.AddPort(1, "dup", mac(9), up10G), ErrPortExists)
	// Removing the middle port: the next one counts on from the last.
	require.NoError(t, s.RemovePort(1))
	require.NoError(t, s.AddPort(3, "eth", mac(0, 0, 4), up10G))
	aggs, nums = ids()
	assert.Equal(t, []int{1, 3, 4}, aggs)
	assert.Equal(t, []int{1, 3, 4}, nums)
	// Removing the last port: its number is reused, the aggregator ID not.
	require.NoError(t, s.RemovePort(3))
	require.NoError(t, s.AddPort(4, "eth", mac(0, 0, 5), up10G))
	aggs, nums = ids()
	assert.Equal(t, []int{1, 3, 5}, aggs)
	assert.Equal(t, []int{1, 3, 4}, nums)
	// Emptying the bond: the first new port re-initialises the numbering.
	for _, id := range []PortID{0, 2, 4} {
		require.NoError(t, s.RemovePort(id))
	}
	require.ErrorIs(t, s.RemovePort(0), ErrNoPort)
	require.NoError(t, s.AddPort(5, "eth", mac(0, 0, 6), up10G))
	require.NoError(t, s.AddPort(6, "eth", mac(0, 0, 7), up10G))
	aggs, nums = ids()
	assert.Equal(t, []int{1, 2}, aggs)
	assert.Equal(t, []int{1, 2}, nums)
}

func TestActorSettings(t *testing.T) {
	n, b0, b1 := backToBack(t, fastOpts(), fastOpts())
	b0.Open()
	b1.Open()
	require.Positive(t, n.until(100, func() bool { return distributing(b0) && distributing(b1) }))
	// A new system priority and MAC reach the partner; the partner's
	// ports re-select and the LAG forms again under the new identity.
	require.NoError(t, b0.SetActorSysPrio(100))
	require.NoError(t, b0.SetActorSystem(mac(0, 0xad, 1)))
	require.ErrorIs(t, b0.SetActorSystem([6]byte{1, 0, 0x5e, 0, 0, 1}), ErrInvalid)
	require.ErrorIs(t, b0.SetActorSysPrio(0), ErrInvalid)
	st := b0.Status()
	assert.Equal(t, 100, st.SystemPriority)
	assert.Equal(t, []byte{2, 0, 0, 0, 0xad, 1}, []byte(st.SystemMAC))
	n.run(50)
	require.True(t, distributing(b0) && distributing(b1))
	a, _ := b1.ActiveAggregator()
	assert.Equal(t, mac(0, 0xad, 1), a.PartnerMAC)
	p, _ := b1.Port(0)
	assert.Equal(t, 100, p.Partner.SystemPriority)
	// Back to the bond's MAC.
	require.NoError(t, b0.SetActorSystem([6]byte{}))
	assert.Equal(t, []byte{2, 0, 0, 0, 0, 1}, []byte(b0.Status().SystemMAC))
	// Port priority (actor_port_prio) is carried to the partner.
	require.NoError(t, b0.setActorPortPrio(1, 7))
	n.run(50)
	p, _ = b1.Port(1)
	assert.Equal(t, 7, p.Partner.PortPriority)
	require.True(t, distributing(b0) && distributing(b1))
	require.ErrorIs(t, b0.setActorPortPrio(9, 1), ErrNoPort)
	// lacp_rate slow: the partner is asked for slow LACPDUs.
	b0.SetLACPRate(false)
	n.run(50)
	p, _ = b1.Port(0)
	assert.Zero(t, p.Partner.PortState&StateTimeout)
	assert.Equal(t, SlowPeriodic, p.PeriodicState)
	require.Error(t, b0.SetADSelect(3))
	require.NoError(t, b0.SetADSelect(SelectCount))
	assert.Equal(t, SelectCount, b0.Options().ADSelect)
}

// TestTxRateLimit: NTT set on every tick still gives at most one LACPDU per
// port every 300 ms (ticks_per_sec / AD_MAX_TX_IN_SECOND), i.e. at most 3
// in any 3 consecutive 300 ms slots and 4 in any second.
func TestTxRateLimit(t *testing.T) {
	n, b0, b1 := backToBack(t, fastOpts(), fastOpts())
	b0.Open()
	b1.Open()
	for i := 0; i < 300; i++ {
		// Every actor settings change sets NTT on every port.
		require.NoError(t, b0.SetActorSysPrio(uint16(100+i%2)))
		n.step()
	}
	for ep, at := range n.sentAt {
		if ep.sys != 0 {
			continue
		}
		require.Greater(t, len(at), 90, "%v sent only %d", ep, len(at))
		for i := 1; i < len(at); i++ {
			require.GreaterOrEqual(t, at[i]-at[i-1], 3, "%v sent at ticks %d and %d", ep, at[i-1], at[i])
		}
		for i := 0; i+4 < len(at); i++ {
			require.GreaterOrEqual(t, at[i+4]-at[i], 10, "more than 4 LACPDUs within 1 s")
		}
	}
}

func TestCoupledControlOff(t *testing.T) {
	o := fastOpts()
	o.CoupledControl = false
	n, b0, b1 := backToBack(t, o, o)
	b0.Open()
	b1.Open()
	ticks := n.until(100, func() bool {
		for _, s := range []*System{b0, b1} {
			for _, p := range s.Status().Ports {
				if p.MuxState != MuxDistributing {
					return false
				}
			}
		}
		return true
	})
	require.Positive(t, ticks)
	assert.Equal(t, []PortID{0, 1}, b0.DistributingPorts(nil))
	p, _ := b0.Port(0)
	assert.Equal(t, 63, p.ActorOperState)
	// Lose a partner port: Distributing falls back to Collecting, then
	// Attached once the partner expires.
	n.disconnect(endpoint{1, 1})
	n.run(35)
	p, _ = b0.Port(1)
	assert.Equal(t, MuxAttached, p.MuxState)
	assert.Equal(t, []PortID{0}, b0.DistributingPorts(nil))
}

func TestAllSlavesActive(t *testing.T) {
	s := New(Config{Name: "bond0", BondMAC: mac(0, 0, 1), Options: DefaultOptions()})
	require.NoError(t, s.AddPort(0, "eth0", mac(0, 0, 1), up10G))
	backup, inactive, ok := s.PortFlags(0)
	assert.True(t, ok && backup && inactive)
	s.SetAllSlavesActive(true)
	backup, inactive, _ = s.PortFlags(0)
	assert.True(t, backup)
	assert.False(t, inactive)
	s.SetAllSlavesActive(false)
	_, inactive, _ = s.PortFlags(0)
	assert.True(t, inactive)
	_, _, ok = s.PortFlags(7)
	assert.False(t, ok)
}

func TestUnbindMovesLAG(t *testing.T) {
	// bond0's eth0 and eth1 share aggregator 1 (eth0's). Removing eth0
	// moves the LAG to eth1's aggregator (ID 2), which stays active; the
	// partner is told eth0 left (an LACPDU without Aggregation).
	n, b0, b1 := backToBack(t, fastOpts(), fastOpts())
	b0.Open()
	b1.Open()
	require.Positive(t, n.until(100, func() bool { return distributing(b0) && distributing(b1) }))
	before := b0.Stats().LACPDUTx
	var last []byte
	b0.transmit = func(id PortID, f []byte) { last = append([]byte(nil), f...) }
	require.NoError(t, b0.RemovePort(0))
	assert.Equal(t, before+1, b0.Stats().LACPDUTx)
	pdu, err := DecodeLACPDU(last[HeaderLen:])
	require.NoError(t, err)
	assert.Zero(t, pdu.Actor.State&(StateAggregation|StateSynchronization|StateCollecting|StateDistributing))
	a, ok := b0.ActiveAggregator()
	require.True(t, ok)
	assert.Equal(t, 2, a.ID)
	assert.Equal(t, 1, a.NumPorts)
	assert.Equal(t, []PortID{1}, b0.DistributingPorts(nil))
	assert.Empty(t, n.takeLogs())
	assert.True(t, b0.Carrier())
}

func TestClosedAndUnknown(t *testing.T) {
	s := New(Config{Name: "bond0", BondMAC: mac(0, 0, 1), Options: DefaultOptions()})
	frame := make([]byte, FrameLen)
	pdu := LACPDU{Version: 1}
	_, err := EncodeLACPDUFrame(frame, mac(0, 9, 9), &pdu)
	require.NoError(t, err)
	require.NoError(t, s.AddPort(0, "eth0", mac(0, 0, 1), up10G))
	assert.False(t, s.Receive(0, frame), "closed bond consumed a frame")
	s.Tick()
	p, _ := s.Port(0)
	assert.Equal(t, RxDummy, p.RxState, "closed bond ran its machines")
	s.Open()
	assert.True(t, s.open)
	assert.False(t, s.Receive(5, frame))
	require.ErrorIs(t, s.LinkChange(5, up10G), ErrNoPort)
	require.ErrorIs(t, s.SetLink(5, up10G), ErrNoPort)
	require.ErrorIs(t, s.SpeedDuplexChanged(5, up10G), ErrNoPort)
	_, ok := s.Port(5)
	assert.False(t, ok)
	assert.Contains(t, s.String(), "bond0")
	s.Close()
	assert.False(t, s.open)
}

func TestSetLACPActive(t *testing.T) {
	n, b0, b1 := backToBack(t, fastOpts(), fastOpts())
	b0.Open()
	b1.Open()
	require.Positive(t, n.until(100, func() bool { return distributing(b0) && distributing(b1) }))
	// lacp_active off on one side of a working LAG: the bit goes out with
	// the next LACPDU and the LAG holds (the partner stays active).
	b0.SetLACPActive(false)
	assert.False(t, b0.Options().LACPActive)
	p, _ := b0.Port(0)
	assert.Zero(t, p.ActorOperState&StateActivity)
	n.run(50)
	require.True(t, distributing(b0) && distributing(b1))
	q, _ := b1.Port(0)
	assert.Zero(t, q.Partner.PortState&StateActivity)
	b0.SetLACPActive(true)
	p, _ = b0.Port(0)
	assert.NotZero(t, p.ActorOperState&StateActivity)
}

func TestBandwidthBySpeed(t *testing.T) {
	// ad_select bandwidth: a single port at each known speed against two
	// 10G ports; the single port wins from 20G up (a tie keeps the
	// aggregator found first, eth0's).
	for _, mbps := range []int{10, 100, 1000, 2500, 5000, 10000, 14000, 20000, 25000, 40000, 50000, 56000, 100000, 200000, 400000} {
		n, b := selectNet(t, SelectBandwidth, mbps)
		n.run(50)
		p, _ := activePartner(t, b)
		if mbps >= 20000 {
			assert.Equal(t, mac(0, 0xa, 0), p, "%d Mb/s", mbps)
		} else {
			assert.Equal(t, mac(0, 0xb, 0), p, "%d Mb/s", mbps)
		}
	}
	assert.Equal(t, uint32(1), speedCodeMbps(1))
	assert.Equal(t, uint32(0), speedCodeMbps(17))
}

// setActorPortPrio sets a port's actor port priority, as the netlink slave
// option actor_port_prio does (which bondingfs does not offer), and applies
// actor settings to every port. ErrNoPort if id is unknown.
func (s *System) setActorPortPrio(id PortID, prio uint16) error {
	p := s.find(id)
	if p == nil {
		return ErrNoPort
	}
	p.portPrio = prio
	s.updateActorSettings()
	return nil
}
