package bond

import (
	"math/rand/v2"
	"sync/atomic"

	"bondingfs/internal/frame"
)

// The simple modes, as bond_main.c implements them: balance-rr,
// active-backup, balance-xor and broadcast (simpleModes). Each Xmit is a
// TxSelector built by Tx from an immutable TxView.

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
	return &rrTx{devs: v.UsableDevs, pps: uint64(v.Params.PacketsPerSlave), count: &m.count}
}

type rrTx struct {
	devs  []SlaveDev
	pps   uint64
	count *atomic.Uint64
}

func (t *rrTx) Xmit(frame []byte) {
	n := uint64(len(t.devs))
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
	_ = t.devs[id%n].WriteFrame(frame)
}

// XmitBatch places a batch as Xmit would frame by frame, with one counter
// update for the whole batch.
func (t *rrTx) XmitBatch(frames [][]byte, out *TxBatch) {
	n := uint64(len(t.devs))
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
		out.Add(t.devs[id%n], f)
	}
}

// xorMode is balance-xor (bond_3ad_xor_xmit): the slave is the
// xmit_hash_policy hash of the frame modulo the usable slaves.
type xorMode struct{ allActive }

func (m *xorMode) Tx(v TxView) TxSelector {
	usable := new(atomic.Pointer[[]SlaveDev])
	devs := v.UsableDevs
	usable.Store(&devs)
	return NewHashTx(usable, v.Params.XmitPolicy)
}

// HashTx is the transmit selector of balance-xor and 802.3ad
// (bond_3ad_xor_xmit): each frame goes to the device that its
// xmit_hash_policy hash (frame.XmitHash) picks modulo the devices of one
// usable-slaves array (the kernel's bond->usable_slaves). The array is
// loaded once per frame or batch, so a mode may publish a new one from any
// goroutine without building a new selector (802.3ad does, from its timer
// and the slave readers); nothing is sent while it is nil or empty. Xmit and
// XmitBatch run on the TAP reader: no lock, no allocation.
type HashTx struct {
	usable *atomic.Pointer[[]SlaveDev]
	policy XmitPolicy
}

// NewHashTx returns the selector over the usable-slaves array usable with
// xmit_hash_policy policy (XmitLayer2, …).
func NewHashTx(usable *atomic.Pointer[[]SlaveDev], policy XmitPolicy) *HashTx {
	return &HashTx{usable: usable, policy: policy}
}

func (t *HashTx) devs() []SlaveDev {
	if p := t.usable.Load(); p != nil {
		return *p
	}
	return nil
}

// Xmit sends vf (vnet header + Ethernet frame) on its hash's device.
func (t *HashTx) Xmit(vf []byte) {
	devs := t.devs()
	n := uint32(len(devs))
	if n == 0 {
		return
	}
	_ = devs[frame.XmitHash(t.policy, vf[VnetHdrLen:])%n].WriteFrame(vf)
}

// XmitBatch places each frame of a batch on the device Xmit would send it on
// (BatchTxSelector), with one load of the array for the batch.
func (t *HashTx) XmitBatch(frames [][]byte, out *TxBatch) {
	devs := t.devs()
	n := uint32(len(devs))
	if n == 0 {
		return
	}
	for _, f := range frames {
		out.Add(devs[frame.XmitHash(t.policy, f[VnetHdrLen:])%n], f)
	}
}

// bcastMode is broadcast (bond_xmit_broadcast): every usable slave.
type bcastMode struct{ allActive }

func (m *bcastMode) Tx(v TxView) TxSelector { return &bcastTx{devs: v.UsableDevs} }

type bcastTx struct{ devs []SlaveDev }

func (t *bcastTx) Xmit(frame []byte) {
	for _, p := range t.devs {
		_ = p.WriteFrame(frame)
	}
}

// XmitBatch places every frame on every usable device.
func (t *bcastTx) XmitBatch(frames [][]byte, out *TxBatch) {
	for _, p := range t.devs {
		for _, f := range frames {
			out.Add(p, f)
		}
	}
}

// activeTx sends through curr_active_slave (bond_xmit_activebackup).
type activeTx struct{ dev SlaveDev }

func (t *activeTx) Xmit(frame []byte) {
	if t.dev != nil {
		_ = t.dev.WriteFrame(frame)
	}
}

// XmitBatch places the whole batch on the active device.
func (t *activeTx) XmitBatch(frames [][]byte, out *TxBatch) {
	if t.dev == nil {
		return
	}
	for _, f := range frames {
		out.Add(t.dev, f)
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

func (m *abMode) Tx(v TxView) TxSelector { return &activeTx{dev: v.Active} }
