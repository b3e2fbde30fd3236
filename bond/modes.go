package bond

import (
	"math/rand/v2"
	"sync/atomic"
)

// The simple modes, as bond_main.c implements them: balance-rr,
// active-backup, balance-xor and broadcast, plus the stand-ins for 802.3ad,
// balance-tlb and balance-alb until their packages register the real ones.
// Each Xmit is a TxSelector built by Tx from an immutable TxView.

func init() {
	RegisterMode(ModeRoundRobin, func(c Control) Mode { return &rrMode{allActive: allActive{b: c.(*Bond)}} })
	RegisterMode(ModeActiveBackup, func(c Control) Mode { return &abMode{b: c.(*Bond)} })
	RegisterMode(ModeXOR, func(c Control) Mode { return newXORMode(c) })
	RegisterMode(ModeBroadcast, func(c Control) Mode { return &bcastMode{allActive{b: c.(*Bond)}} })
	RegisterMode(Mode8023AD, func(c Control) Mode { return &adStandIn{b: c.(*Bond)} })
	RegisterMode(ModeTLB, func(c Control) Mode { return &lbStandIn{b: c.(*Bond)} })
	RegisterMode(ModeALB, func(c Control) Mode { return &lbStandIn{b: c.(*Bond)} })
}

// allActive is the slave handling of the modes in which every slave with a
// link transmits (balance-rr, balance-xor, broadcast): bond_open sets every
// slave active, bond_enslave's default branch sets the new slave active and
// makes it curr_active_slave if there is none and its link is up, and the
// MII monitor sets a slave active when its link comes up.
type allActive struct {
	ModeBase
	b *Bond
}

func (m *allActive) Open() error {
	for _, s := range m.b.slaves {
		m.b.SetSlaveActive(s)
	}
	return nil
}

func (m *allActive) Bind(s *Slave) error {
	m.b.SetSlaveActive(s)
	if m.b.currActive == nil && s.link == LinkUp {
		m.b.currActive = s
	}
	return nil
}

func (m *allActive) LinkChanged(s *Slave) {
	if s.link == LinkUp {
		m.b.SetSlaveActive(s)
	}
}

// rrMode is balance-rr (bond_xmit_roundrobin): packets_per_slave frames
// per slave in turn, a random slave when it is 0.
type rrMode struct {
	allActive
	count atomic.Uint64 // frames sent (bond->rr_tx_counter)
}

func (m *rrMode) Tx(v TxView) TxSelector {
	return &rrTx{ports: v.UsablePorts, pps: uint64(v.Params.PacketsPerSlave), count: &m.count}
}

type rrTx struct {
	ports []Port
	pps   uint64
	count *atomic.Uint64
}

func (t *rrTx) Xmit(frame []byte) {
	n := uint64(len(t.ports))
	if n == 0 {
		return
	}
	var id uint64
	switch t.pps {
	case 0:
		id = rand.Uint64()
	case 1:
		id = t.count.Add(1) - 1
	default:
		id = (t.count.Add(1) - 1) / t.pps
	}
	_ = t.ports[id%n].WriteFrame(frame)
}

// XmitBatch places a batch as Xmit would frame by frame, with one counter
// update for the whole batch.
func (t *rrTx) XmitBatch(frames [][]byte, out *TxBatch) {
	n := uint64(len(t.ports))
	if n == 0 {
		return
	}
	k := uint64(len(frames))
	var base uint64
	if t.pps != 0 {
		base = t.count.Add(k) - k
	}
	for i, f := range frames {
		var id uint64
		switch t.pps {
		case 0:
			id = rand.Uint64()
		case 1:
			id = base + uint64(i)
		default:
			id = (base + uint64(i)) / t.pps
		}
		out.Add(t.ports[id%n], f)
	}
}

// xorMode is balance-xor (bond_3ad_xor_xmit): the slave is the
// xmit_hash_policy hash of the frame modulo the usable slaves.
type xorMode struct{ allActive }

func newXORMode(c Control) *xorMode { return &xorMode{allActive{b: c.(*Bond)}} }

func (m *xorMode) Tx(v TxView) TxSelector {
	return &hashTx{ports: v.UsablePorts, policy: v.Params.XmitPolicy}
}

type hashTx struct {
	ports  []Port
	policy int
}

func (t *hashTx) Xmit(frame []byte) {
	n := uint32(len(t.ports))
	if n == 0 {
		return
	}
	_ = t.ports[XmitHash(t.policy, frame[VnetHdrLen:])%n].WriteFrame(frame)
}

// XmitBatch places each frame of a batch on its hash's port.
func (t *hashTx) XmitBatch(frames [][]byte, out *TxBatch) {
	n := uint32(len(t.ports))
	if n == 0 {
		return
	}
	for _, f := range frames {
		out.Add(t.ports[XmitHash(t.policy, f[VnetHdrLen:])%n], f)
	}
}

// bcastMode is broadcast (bond_xmit_broadcast): every usable slave.
type bcastMode struct{ allActive }

func (m *bcastMode) Tx(v TxView) TxSelector { return &bcastTx{ports: v.UsablePorts} }

type bcastTx struct{ ports []Port }

func (t *bcastTx) Xmit(frame []byte) {
	for _, p := range t.ports {
		_ = p.WriteFrame(frame)
	}
}

// XmitBatch places every frame on every usable port.
func (t *bcastTx) XmitBatch(frames [][]byte, out *TxBatch) {
	for _, p := range t.ports {
		for _, f := range frames {
			out.Add(p, f)
		}
	}
}

// activeTx sends through curr_active_slave (bond_xmit_activebackup).
type activeTx struct{ port Port }

func (t *activeTx) Xmit(frame []byte) {
	if t.port != nil {
		_ = t.port.WriteFrame(frame)
	}
}

// XmitBatch places the whole batch on the active port.
func (t *activeTx) XmitBatch(frames [][]byte, out *TxBatch) {
	if t.port == nil {
		return
	}
	for _, f := range frames {
		out.Add(t.port, f)
	}
}

// openPrimary is bond_open for the modes with a current active slave: the
// others become inactive, the current one active.
func openPrimary(b *Bond) {
	for _, s := range b.slaves {
		if s != b.currActive {
			b.SetSlaveInactive(s)
		} else {
			b.SetSlaveActive(s)
		}
	}
}

// abMode is active-backup: one slave (curr_active_slave) transmits and
// receives; on a change the old one becomes inactive, the new one active,
// fail_over_mac is applied and the peers are notified.
type abMode struct {
	ModeBase
	b *Bond
}

func (m *abMode) Open() error { openPrimary(m.b); return nil }

func (m *abMode) Bind(s *Slave) error { m.b.SetSlaveInactive(s); return nil }

func (m *abMode) LinkChanged(s *Slave) {
	if s.link == LinkDown {
		m.b.SetSlaveInactive(s)
	}
}

func (m *abMode) ActiveChanged(old, n *Slave) {
	b := m.b
	if old != nil {
		b.SetSlaveInactive(old)
	}
	if old != nil && n != nil && old.link != LinkUp {
		b.requeueDropped(old, n) // a failover: resend what old's link dropped
	}
	if n != nil {
		b.SetSlaveActive(n)
		if b.params.FailOverMACInEffect() != FOMNone {
			b.failOverMAC(n, old)
		}
		b.startPeerNotif()
	}
}

func (m *abMode) Tx(v TxView) TxSelector { return &activeTx{port: v.Active} }

// adStandIn is 802.3ad until modes/ad registers the real mode: slaves are
// bound as backups and never become active, so nothing is sent (the state
// bondingfs had before the seam); sysfs and procfs show the mode's files.
type adStandIn struct {
	ModeBase
	b *Bond
}

func (m *adStandIn) Bind(s *Slave) error { m.b.SetSlaveInactive(s); return nil }

func (m *adStandIn) LinkChanged(s *Slave) {
	if s.link == LinkUp {
		m.b.SetSlaveBackup(s)
	} else {
		m.b.SetSlaveInactive(s)
	}
}

func (m *adStandIn) Tx(v TxView) TxSelector {
	return &hashTx{ports: v.UsablePorts, policy: v.Params.XmitPolicy}
}

// lbStandIn is balance-tlb and balance-alb until modes/alb registers them:
// slaves stay active (bond_is_lb keeps the flag) and frames go out through
// curr_active_slave only, without TLB/RLB balancing.
type lbStandIn struct {
	ModeBase
	b *Bond
}

func (m *lbStandIn) Open() error { openPrimary(m.b); return nil }

func (m *lbStandIn) Bind(s *Slave) error {
	s.active = true
	m.b.SetSlaveInactive(s)
	return nil
}

func (m *lbStandIn) LinkChanged(s *Slave) {
	if s.link == LinkUp {
		m.b.SetSlaveActive(s)
	}
}

func (m *lbStandIn) Tx(v TxView) TxSelector { return &activeTx{port: v.Active} }
