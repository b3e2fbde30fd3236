package modes

// balance-tlb and balance-alb on the bond's Mode seam: the hooks of
// bond_main.c that call into bond_alb.c, mapped onto modes/alb's tables.

import (
	"net"
	"time"

	"bondingfs/bond"
	"bondingfs/internal/frame"
	"bondingfs/modes/alb"
)

// albTick is the period of alb_work (alb_delta_in_ticks: HZ / 10).
const albTick = time.Second / alb.TicksPerSec

// albMode is one bond's balance-tlb (rlb false) or balance-alb (rlb true).
type albMode struct {
	c   bond.Control
	rlb bool
	t   *alb.ALB
	// promisc counts each slave's promiscuity references; devices are the
	// slaves' devices from the last TxView (promiscuity goes through the
	// device: PACKET_MR_PROMISC).
	promisc map[*alb.Slave]int
	devs    map[*alb.Slave]bond.SlaveDev
}

func newALBMode(c bond.Control, rlb bool) *albMode {
	m := &albMode{c: c, rlb: rlb, promisc: map[*alb.Slave]int{}, devs: map[*alb.Slave]bond.SlaveDev{}}
	// the mode option needs a bond without slaves (BOND_OPTFLAG_NOSLAVES):
	// the tables start empty
	m.t = alb.New(albHost{m}, m.config())
	return m
}

func mac(a net.HardwareAddr) (m alb.MAC) {
	copy(m[:], a)
	return m
}

// config reads the bond's parameters (xmit_hash_policy, tlb_dynamic_lb,
// lp_interval).
func (m *albMode) config() alb.Config {
	p := m.c.Params()
	policy := p.XmitPolicy
	return alb.Config{
		TLBOnly:    !m.rlb,
		DynamicLB:  p.TLBDynamicLB != 0,
		LPInterval: p.LpInterval,
		Hash:       func(eth []byte) uint32 { return frame.XmitHash(policy, eth) },
		Bound:      m.bound,
	}
}

func slaveOf(s *bond.Slave) *alb.Slave {
	if s == nil {
		return nil
	}
	as, _ := s.ModeData().(*alb.Slave)
	return as
}

// canTx is bond_slave_can_tx: device up, link up, active.
func canTx(s *bond.Slave) bool { return s.DevUp() && s.Link() == bond.LinkUp && s.Active() }

func speedOf(s *bond.Slave) int { sp, _ := s.Speed(); return sp }

// syncRx brings the bond's MAC into the tables and the slaves' receive
// rules up to date with their addresses.
func (m *albMode) syncRx() {
	bm := m.c.HWAddr()
	m.t.SetBondMAC(mac(bm))
	for _, s := range m.c.Slaves() {
		if as := slaveOf(s); as != nil {
			m.c.SetSlaveRx(s, as.MAC[:], bm, m.rlb)
		}
	}
}

func (m *albMode) Open() error {
	m.t.SetConfig(m.config())
	m.syncRx()
	m.t.Initialize(m.rlb)
	curr := m.c.ActiveSlave()
	for _, s := range m.c.Slaves() {
		if s != curr {
			m.c.SetSlaveInactive(s)
		} else {
			m.c.SetSlaveActive(s)
		}
	}
	if m.rlb {
		m.c.SetRecvProbe(bond.FrameARP)
	}
	return nil
}

func (m *albMode) Close() { m.t.Deinitialize() }

func (m *albMode) Bind(s *bond.Slave) error {
	m.syncRx()
	// bond_enslave gave the slave the bond's address (fail_over_mac has
	// no effect outside active-backup)
	as := &alb.Slave{Name: s.Name(), Perm: mac(s.PermHWAddr()), MAC: mac(m.c.HWAddr()), Data: s}
	if err := m.t.InitSlave(as); err != nil {
		return err
	}
	s.SetModeData(as)
	m.c.SetSlaveActive(s)
	m.c.SetSlaveInactive(s) // keeps the active flag: bond_is_lb
	m.t.SetLink(as, canTx(s), speedOf(s))
	m.syncRx()
	return nil
}

func (m *albMode) Unbind(s *bond.Slave) {
	as := slaveOf(s)
	if as == nil {
		return
	}
	m.t.DeinitSlave(as)
	delete(m.promisc, as)
	delete(m.devs, as)
	m.c.SetSlaveRx(s, nil, nil, false)
	m.syncRx()
}

func (m *albMode) LinkChanged(s *bond.Slave) {
	as := slaveOf(s)
	if as == nil {
		return
	}
	switch s.Link() {
	case bond.LinkUp, bond.LinkDown:
		m.t.SetLink(as, canTx(s), speedOf(s))
		m.t.LinkChange(as, s.Link() == bond.LinkUp)
	}
}

func (m *albMode) ActiveChanged(old, n *bond.Slave) {
	an := slaveOf(n)
	if an != nil && !an.CanTx() && canTx(n) {
		// a slave going back promoted at once (bond_change_active_slave
		// calls bond_alb_handle_link_change with BOND_LINK_UP)
		m.t.SetLink(an, true, speedOf(n))
		m.t.LinkChange(an, true)
	}
	m.syncRx()
	m.t.ActiveChange(an)
	if old != nil {
		m.c.SetSlaveInactive(old)
	}
	if n != nil {
		m.c.SetSlaveActive(n)
	}
	m.syncRx()
}

// BondMACChanged is bond_set_mac_address for these modes (bond.MACChanger).
func (m *albMode) BondMACChanged() {
	m.t.SetBondAddress(mac(m.c.HWAddr()))
	m.syncRx()
}

func (m *albMode) OptionChanged(string) { m.t.SetConfig(m.config()) }

// Tick is alb_work; balance-tlb with tlb_dynamic_lb=0 has none (bond_open
// queues it only with tlb_dynamic_lb or in balance-alb).
func (m *albMode) Tick() time.Duration {
	if !m.rlb && m.c.Params().TLBDynamicLB == 0 {
		return 0
	}
	if f, ok := m.c.(fastTLBBytes); ok && m.t.RebalanceDue() {
		var b [alb.TLBHashSize + 1]uint64
		if f.FastTLBBytes(&b) {
			m.t.AddTxBytes(&b)
		}
	}
	m.t.Monitor()
	return albTick
}

func (m *albMode) Recv(_ *bond.Slave, frame []byte) { m.t.RecvARP(frame) }

func (m *albMode) Carrier() (on, decided bool) { return false, false }

func (m *albMode) Tx(v bond.TxView) bond.TxSelector {
	for _, s := range m.c.Slaves() {
		as := slaveOf(s)
		if as == nil {
			continue
		}
		var p bond.SlaveDev
		for i, u := range v.Usable {
			if u == s {
				p = v.UsableDevs[i]
			}
		}
		m.t.SetLink(as, p != nil, speedOf(s))
		m.t.SetSlaveDev(as, p)
		if p != nil {
			m.devs[as] = p
		}
	}
	return albTx{m.t}
}

// albTx is the tables' transmit path as a bond.BatchTxSelector: a batch
// takes the tables' lock once and each device's share goes out with one
// WriteBatch.
type albTx struct{ t *alb.ALB }

// Xmit is alb.ALB.Xmit.
func (x albTx) Xmit(frame []byte) { x.t.Xmit(frame) }

// XmitBatch places every frame a slave can send on its device.
func (x albTx) XmitBatch(frames [][]byte, out *bond.TxBatch) { x.t.XmitEach(frames, albPlacer{out}) }

// albPlacer hands the tables' choices to a bond.TxBatch: the devices the
// tables hold are the bond.SlaveDevs Tx gave them (SetSlaveDev). A struct of one
// pointer converts to an interface without allocating.
type albPlacer struct{ out *bond.TxBatch }

func (p albPlacer) Place(dev alb.SlaveDev, frame []byte) {
	if bp, ok := dev.(bond.SlaveDev); ok {
		p.out.Add(bp, frame)
	}
}

func (m *albMode) Status(*bond.BondStatus) {}

// albHost is the tables' view of the bond.
type albHost struct{ m *albMode }

func (h albHost) SetMAC(s *alb.Slave, a alb.MAC) error {
	bs, _ := s.Data.(*bond.Slave)
	if bs == nil {
		return nil
	}
	return h.m.c.SetSlaveMAC(bs, net.HardwareAddr(a[:]))
}

// promiscuous is what a device that can turn promiscuous reception on offers
// (netdev's SlaveDev).
type promiscuous interface{ SetPromiscuous(on bool) error }

// SetPromisc keeps a promiscuity count per slave and turns the device's
// promiscuous membership on at the first reference, off at the last.
func (h albHost) SetPromisc(s *alb.Slave, inc int) error {
	m := h.m
	n := m.promisc[s] + inc
	if n < 0 {
		n = 0
	}
	if (n == 0) != (m.promisc[s] == 0) {
		if dev := m.devs[s]; dev != nil {
			if p, ok := dev.(promiscuous); ok {
				if err := p.SetPromiscuous(n > 0); err != nil {
					return err
				}
			}
		}
		// __dev_set_promiscuity's line when IFF_PROMISC changes
		if n > 0 {
			m.c.KernLogf("device %s entered promiscuous mode", s.Name)
		} else {
			m.c.KernLogf("device %s left promiscuous mode", s.Name)
		}
	}
	m.promisc[s] = n
	return nil
}

func (h albHost) SlaveLogf(s *alb.Slave, format string, args ...any) {
	h.m.c.SlaveLogf(s.Name, format, args...)
}

func (h albHost) Logf(format string, args ...any) { h.m.c.Logf(format, args...) }

// bound tells the eBPF fast path that the transmit path bound a tlb bucket
// (alb.Config.Bound): the bond mirrors its table at once. Any goroutine.
func (m *albMode) bound() {
	if f, ok := m.c.(interface{ FastTLBChanged() }); ok {
		f.FastTLBChanged()
	}
}

// fastTLBBytes is the bond's FastTLBBytes (*bond.Bond): the bytes the eBPF
// fast path sent for each bucket, taken before a rebalance.
type fastTLBBytes interface {
	FastTLBBytes(into *[257]uint64) bool
}

// FastTLB is the tables as the eBPF fast path applies them
// (bond.FastTLBer): the current slave for the frames not balanced, the
// bound buckets (tlb_dynamic_lb) or the usable slaves, and the address of
// every slave that can transmit. Control goroutine.
func (m *albMode) FastTLB(c *bond.FastConfig) bool {
	var v alb.FastView
	m.t.FastView(&v)
	c.MACs = map[int][6]byte{}
	index := func(s *alb.Slave) int {
		mac, ok := v.MACs[s]
		if s == nil || !ok {
			return 0
		}
		bs, _ := s.Data.(*bond.Slave)
		if bs == nil {
			return 0
		}
		c.MACs[bs.Index()] = mac
		return bs.Index()
	}
	c.Active = index(v.Curr)
	if m.rlb {
		c.Flags |= bond.FastTLBRLB
	}
	if v.Dynamic {
		c.Flags |= bond.FastTLBDynamic
		c.TLB = new(bond.FastTLBTable)
		for i, s := range v.Table {
			c.TLB[i] = index(s)
		}
		return true
	}
	for _, s := range v.Usable {
		x := index(s)
		if x == 0 {
			return false // a slave without device: the userspace path decides
		}
		c.Slaves = append(c.Slaves, x)
	}
	return true
}
