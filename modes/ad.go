// Package modes holds the bonding modes that live outside the engine, each
// registered with bond.RegisterMode from an init function: 802.3ad (ad.go,
// on top of the pure protocol package modes/lacp). Importing the package
// (cmd/bondingfs does) installs them.
package modes

import (
	"cmp"
	"context"
	"net"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"bondingfs/bond"
	"bondingfs/modes/lacp"
)

func init() {
	bond.RegisterMode(bond.Mode8023AD, func(c bond.Control) bond.Mode { return newAD(c) })
}

// The 802.3ad adapter: one lacp.System per bond, fed by the engine's mode
// hooks and driven by its own timer.
//
// Goroutines. The kernel runs bond_3ad_state_machine_handler on the bond's
// workqueue every 100 ms under the 3ad mode lock, independently of RTNL; a
// slow enslave never holds it. The adapter does the same: the System is
// guarded by one mutex (the lacp package allows "one goroutine or one
// mutex"), the engine's hooks take it on the control goroutine, and Tick runs
// under it on the clock's own timer goroutine (Registry.Clock().AfterFunc,
// re-armed every lacp.TickInterval ms against a fixed schedule), never on the
// control goroutine. LACPDUs go out from that timer through the slaves'
// sockets directly (Slave.Port, kept between Bind and Unbind), and the set
// of distributing ports the data path reads is an atomic pointer the adapter
// swaps under the mutex, so neither waits for the control goroutine. What
// the engine itself must apply — slave flags (bonding_slave/state, the
// inactive-slave drop), the bond's carrier, log lines and the snapshot — is
// applied on the control goroutine: at the end of each hook, and after a
// tick through one Registry.Do posted from a helper goroutine (at most one
// outstanding). Received LACPDUs and markers are handled on the slave's
// reader goroutine (Bond.SetRecvDirect, the kernel's softirq recv_probe),
// under the same mutex. A control goroutine blocked for seconds therefore
// delays only what /proc and sysfs show and the slave flags, never an
// LACPDU sent or received: a fast partner (3 s timeout) never expires.

// adMode is one bond's 802.3ad mode (bond_3ad.c's glue in bond_main.c).
type adMode struct {
	c     bond.Control
	reg   *bond.Registry
	clock bond.Clock

	mu    sync.Mutex
	sys   *lacp.System
	ports []*adPort // in enslave order
	// rxWaitMax replaces rxWait when not 0 (tests).
	rxWaitMax time.Duration
	nextID    lacp.PortID
	changes   lacp.Change
	logq      []lacp.Event
	txbuf     [bond.VnetHdrLen + lacp.FrameLen]byte
	ids       []lacp.PortID // scratch for DistributingPorts
	last      lacp.Status   // status at the last publish, to publish only changes
	tickGen   uint64
	timer     bond.Timer
	next      time.Time // when the next tick is due

	syncPending atomic.Bool
	dist        atomic.Pointer[distTable]
}

// adPort is one bound slave.
type adPort struct {
	id   lacp.PortID
	s    *bond.Slave
	port bond.Port
}

// distTable is the set of ports the data path transmits on: the
// Collecting_Distributing ports of the active aggregator, in enslave order.
type distTable struct{ ports []bond.Port }

func newAD(c bond.Control) *adMode {
	m := &adMode{c: c}
	if b, ok := c.(*bond.Bond); ok {
		m.reg = b.Registry()
		m.clock = m.reg.Clock()
	}
	p := c.Params()
	var mac [6]byte
	copy(mac[:], c.HWAddr())
	m.sys = lacp.New(lacp.Config{
		Name:     c.Name(),
		BondMAC:  mac,
		Options:  optionsOf(p),
		Transmit: m.transmit,
		Log:      func(e lacp.Event) { m.logq = append(m.logq, e) },
		Changed:  func(ch lacp.Change) { m.changes |= ch },
	})
	m.dist.Store(&distTable{})
	return m
}

// optionsOf maps the bond's parameters to the protocol's options.
func optionsOf(p *bond.Params) lacp.Options {
	o := lacp.DefaultOptions()
	o.LACPActive = p.LacpActive != 0
	o.LACPFast = p.LacpRate != 0
	o.ADSelect = lacp.ADSelect(p.AdSelect)
	o.MinLinks = p.MinLinks
	o.ActorSysPrio = uint16(p.AdActorSysPrio)
	copy(o.ActorSystem[:], p.AdActorSystem)
	o.UserPortKey = uint16(p.AdUserPortKey)
	o.AllSlavesActive = p.AllSlavesActive != 0
	return o
}

// linkOf is what bond_3ad.c reads of a slave.
func linkOf(s *bond.Slave) lacp.Link {
	speed, duplex := s.Speed()
	return lacp.Link{
		Status: lacp.LinkStatus(s.Link()),
		Speed:  speed,
		Duplex: duplex,
		DevUp:  s.DevUp() && s.Carrier(),
	}
}

// transmit sends a frame the System built (under m.mu, any goroutine) on the
// port's socket with an empty vnet header.
func (m *adMode) transmit(id lacp.PortID, frame []byte) {
	p := m.portByID(id)
	if p == nil || p.port == nil {
		return
	}
	n := copy(m.txbuf[bond.VnetHdrLen:], frame)
	_ = p.port.WriteFrame(m.txbuf[:bond.VnetHdrLen+n])
}

func (m *adMode) portByID(id lacp.PortID) *adPort {
	for _, p := range m.ports {
		if p.id == id {
			return p
		}
	}
	return nil
}

// portOf finds a slave's port (under m.mu: the slave readers call it too).
func (m *adMode) portOf(s *bond.Slave) *adPort {
	for _, p := range m.ports {
		if p.s == s {
			return p
		}
	}
	return nil
}

// locked runs fn on the System under the mutex, then refreshes the
// distributing table if the call changed it. Control goroutine or timer.
func (m *adMode) locked(fn func(sys *lacp.System)) {
	m.mu.Lock()
	fn(m.sys)
	m.afterCallLocked()
	m.mu.Unlock()
}

func (m *adMode) afterCallLocked() {
	if m.changes&lacp.ChangeSlaveArray != 0 {
		m.rebuildDistLocked()
	}
}

// rebuildDistLocked publishes the ports to transmit on (bond_update_slave_arr).
func (m *adMode) rebuildDistLocked() {
	m.ids = m.sys.DistributingPorts(m.ids[:0])
	t := &distTable{ports: make([]bond.Port, 0, len(m.ids))}
	for _, id := range m.ids {
		if p := m.portByID(id); p != nil && p.port != nil {
			t.ports = append(t.ports, p.port)
		}
	}
	m.dist.Store(t)
}

// apply brings the engine up to date with the System (control goroutine):
// log lines, slave flags, carrier, snapshot.
func (m *adMode) apply() {
	type flags struct {
		s                *bond.Slave
		backup, inactive bool
	}
	m.mu.Lock()
	ch := m.changes
	m.changes = 0
	logs := m.logq
	m.logq = nil
	fl := make([]flags, 0, len(m.ports))
	for _, p := range m.ports {
		b, in, _ := m.sys.PortFlags(p.id)
		fl = append(fl, flags{p.s, b, in})
	}
	m.mu.Unlock()
	for _, e := range logs {
		m.emit(e)
	}
	for _, f := range fl {
		switch {
		case !f.backup:
			m.c.SetSlaveActive(f.s)
		case f.inactive:
			m.c.SetSlaveInactive(f.s)
		default:
			m.c.SetSlaveActive(f.s)
			m.c.SetSlaveBackup(f.s)
		}
	}
	if ch&lacp.ChangeCarrier != 0 {
		m.c.CarrierChanged()
	}
	if sc, ok := m.c.(interface{ StatusChanged() }); ok {
		sc.StatusChanged()
	}
}

// Log budgets the adapter applies (the kernel's net_ratelimit(): 10 messages
// per 5 s, module-wide; printk_once: once per module load).
var logBudget struct {
	mu    sync.Mutex
	start time.Time
	n     int
	once  map[string]bool
}

const (
	rateLimitInterval = 5 * time.Second
	rateLimitBurst    = 10
)

// emit writes one event to the kernel log (control goroutine).
func (m *adMode) emit(e lacp.Event) {
	if e.RateLimited || e.Once {
		now := m.c.Now()
		logBudget.mu.Lock()
		drop := false
		if e.Once {
			if logBudget.once == nil {
				logBudget.once = map[string]bool{}
			}
			drop = logBudget.once[e.Text]
			logBudget.once[e.Text] = true
		} else {
			if logBudget.start.IsZero() || now.Sub(logBudget.start) >= rateLimitInterval {
				logBudget.start, logBudget.n = now, 0
			}
			logBudget.n++
			drop = logBudget.n > rateLimitBurst
		}
		logBudget.mu.Unlock()
		if drop {
			return
		}
	}
	// Every event starts with the bond's name; Logf puts it back (with
	// "(unregistering)" while the bond is deleted, as netdev_printk does).
	// The illegal-loopback message keeps its second line, which the kernel
	// prints without prefix, inside the one record.
	if rest, ok := strings.CutPrefix(e.Text, m.c.Name()+": "); ok {
		m.c.Logf("%s", rest)
	} else {
		m.c.Logf("%s", e.Text)
	}
}

// Open is bond_open in 802.3ad mode (bond_3ad_initialize's per-open part):
// the receive probe takes slow-protocol frames and the state machines tick.
func (m *adMode) Open() error {
	m.locked(func(sys *lacp.System) {
		m.setBondMACLocked()
		for _, p := range m.ports {
			_ = sys.SetLink(p.id, linkOf(p.s))
		}
		sys.Open()
		// bond_open queues ad_work with no delay, and it runs before the
		// MII monitor can commit (its commit waits for RTNL, which the
		// open holds): the first tick sees the slaves as they are now
		sys.Tick()
		m.afterCallLocked()
		m.startTickLocked()
	})
	if d, ok := m.c.(interface {
		SetRecvDirect(func(*bond.Slave, []byte))
	}); ok {
		d.SetRecvDirect(m.recvDirect)
	}
	m.c.SetRecvProbe(bond.FrameSlow)
	m.apply()
	return nil
}

// Close is bond_close: the machines stop (ports keep their state).
func (m *adMode) Close() {
	m.locked(func(sys *lacp.System) {
		m.stopTickLocked()
		sys.Close()
	})
	m.apply()
}

func (m *adMode) setBondMACLocked() {
	var mac [6]byte
	copy(mac[:], m.c.HWAddr())
	m.sys.SetBondMAC(mac)
}

// Bind is bond_enslave's 802.3ad branch (bond_3ad_bind_slave).
func (m *adMode) Bind(s *bond.Slave) error {
	var mac [6]byte
	copy(mac[:], s.PermHWAddr())
	var err error
	m.locked(func(sys *lacp.System) {
		m.setBondMACLocked()
		p := &adPort{id: m.nextID, s: s, port: s.Port()}
		m.nextID++
		if err = sys.AddPort(p.id, s.Name(), mac, linkOf(s)); err == nil {
			m.ports = append(m.ports, p)
			m.rebuildDistLocked()
		}
	})
	m.apply()
	return err
}

// Unbind is __bond_release_one's 802.3ad part (bond_3ad_unbind_slave).
func (m *adMode) Unbind(s *bond.Slave) {
	m.locked(func(sys *lacp.System) {
		p := m.portOf(s)
		if p == nil {
			return
		}
		_ = sys.RemovePort(p.id)
		for i, q := range m.ports {
			if q == p {
				m.ports = append(m.ports[:i], m.ports[i+1:]...)
				break
			}
		}
		m.rebuildDistLocked()
	})
	m.apply()
}

// LinkChanged is bond_miimon_commit's 802.3ad part
// (bond_3ad_handle_link_change).
func (m *adMode) LinkChanged(s *bond.Slave) {
	m.locked(func(sys *lacp.System) {
		if p := m.portOf(s); p != nil {
			_ = sys.LinkChange(p.id, linkOf(s))
		}
	})
	m.apply()
}

// DevStateChanged records a slave's admin state or carrier change
// (bond.DevStateNotifier): the selection logic reads it on the next tick.
func (m *adMode) DevStateChanged(s *bond.Slave) {
	m.locked(func(sys *lacp.System) {
		if p := m.portOf(s); p != nil {
			_ = sys.SetLink(p.id, linkOf(s))
		}
	})
	m.apply()
}

// ActiveChanged is bond_change_active_slave's 802.3ad part: a slave still
// going back (updelay) that is made curr_active_slave is promoted to link
// up at once (the engine has set its link), and bond_3ad_handle_link_change
// hears of it.
func (m *adMode) ActiveChanged(_, n *bond.Slave) {
	if n == nil || n.Link() != bond.LinkUp {
		return
	}
	changed := false
	m.locked(func(sys *lacp.System) {
		if p := m.portOf(n); p != nil {
			if ps, ok := sys.Port(p.id); ok && ps.Link.Status != lacp.LinkUp {
				_ = sys.LinkChange(p.id, linkOf(n))
				changed = true
			}
		}
	})
	if changed {
		m.apply()
	}
}

// OptionChanged applies an option write (bond_3ad_update_lacp_rate,
// bond_3ad_update_lacp_active, bond_3ad_update_ad_actor_settings,
// bond_option_min_links_set, …).
func (m *adMode) OptionChanged(name string) {
	p := m.c.Params()
	m.locked(func(sys *lacp.System) {
		switch name {
		case "lacp_rate":
			sys.SetLACPRate(p.LacpRate != 0)
		case "lacp_active":
			sys.SetLACPActive(p.LacpActive != 0)
		case "ad_select":
			_ = sys.SetADSelect(lacp.ADSelect(p.AdSelect))
		case "min_links":
			_ = sys.SetMinLinks(p.MinLinks)
		case "ad_actor_sys_prio":
			_ = sys.SetActorSysPrio(uint16(p.AdActorSysPrio))
		case "ad_actor_system":
			var mac [6]byte
			copy(mac[:], p.AdActorSystem)
			m.setBondMACLocked()
			_ = sys.SetActorSystem(mac)
		case "ad_user_port_key":
			_ = sys.SetUserPortKey(uint16(p.AdUserPortKey))
		case "all_slaves_active":
			sys.SetAllSlavesActive(p.AllSlavesActive != 0)
		}
	})
	m.apply()
}

// Tick is the engine's delayed work for the mode; 802.3ad does not use it
// (its machines run on the adapter's own timer).
func (m *adMode) Tick() time.Duration { return 0 }

// Recv is bond_3ad_lacpdu_recv for a frame the receive probe queued for the
// control goroutine (when the engine has no SetRecvDirect).
func (m *adMode) Recv(s *bond.Slave, frame []byte) {
	m.locked(func(sys *lacp.System) {
		if p := m.portOf(s); p != nil {
			sys.Receive(p.id, frame)
		}
	})
	m.apply()
}

// recvDirect is bond_3ad_lacpdu_recv on the slave's reader goroutine
// (Bond.SetRecvDirect), as the kernel runs it in softirq: an LACPDU is
// handled at once, whatever the control goroutine is doing.
func (m *adMode) recvDirect(s *bond.Slave, frame []byte) {
	m.mu.Lock()
	p := m.portOf(s)
	if p == nil {
		m.mu.Unlock()
		return
	}
	m.sys.Receive(p.id, frame)
	m.afterCallLocked()
	need, gen := m.changes != 0 || len(m.logq) > 0, m.tickGen
	m.mu.Unlock()
	if need {
		m.postApply(gen)
	}
}

// Carrier is bond_3ad_set_carrier.
func (m *adMode) Carrier() (on, decided bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sys.Carrier(), true
}

// Tx is bond_3ad_xor_xmit: the xmit_hash_policy hash of the frame modulo the
// distributing ports of the active aggregator.
func (m *adMode) Tx(v bond.TxView) bond.TxSelector {
	return &adTx{dist: &m.dist, policy: v.Params.XmitPolicy}
}

type adTx struct {
	dist   *atomic.Pointer[distTable]
	policy int
}

// Xmit runs on the TAP reader for every frame; no lock, no allocation.
func (t *adTx) Xmit(frame []byte) {
	ports := t.dist.Load().ports
	n := uint32(len(ports))
	if n == 0 {
		return
	}
	_ = ports[bond.XmitHash(t.policy, frame[bond.VnetHdrLen:])%n].WriteFrame(frame)
}

// XmitBatch places each frame of a batch on the distributing port Xmit
// would send it on (bond.BatchTxSelector): one table load per batch, one
// WriteBatch per port. No lock, no allocation.
func (t *adTx) XmitBatch(frames [][]byte, out *bond.TxBatch) {
	ports := t.dist.Load().ports
	n := uint32(len(ports))
	if n == 0 {
		return
	}
	for _, f := range frames {
		out.Add(ports[bond.XmitHash(t.policy, f[bond.VnetHdrLen:])%n], f)
	}
}

// Status fills the 802.3ad part of a snapshot.
func (m *adMode) Status(st *bond.BondStatus) {
	m.mu.Lock()
	ls := m.sys.Status()
	byID := make(map[*bond.Slave]lacp.PortID, len(m.ports))
	for _, p := range m.ports {
		byID[p.s] = p.id
	}
	m.last = ls
	m.mu.Unlock()
	ad := &bond.ADStatus{
		SystemPriority: ls.SystemPriority,
		SystemMAC:      ls.SystemMAC,
		Stats:          bond.ADStats(ls.Stats),
	}
	if a := ls.Active; a != nil {
		ad.ActiveAggregator = &bond.ADAggregator{
			ID: a.ID, NumPorts: a.NumPorts, ActorKey: a.ActorKey, PartnerKey: a.PartnerKey,
			PartnerMAC: append(net.HardwareAddr(nil), a.PartnerMAC[:]...),
		}
	}
	st.AD = ad
	ports := make(map[lacp.PortID]*lacp.PortStatus, len(ls.Ports))
	for i := range ls.Ports {
		ports[ls.Ports[i].ID] = &ls.Ports[i]
	}
	for i, s := range m.c.Slaves() {
		if i >= len(st.Slaves) {
			break
		}
		id, ok := byID[s]
		if !ok {
			continue
		}
		ps := ports[id]
		if ps == nil {
			continue
		}
		stats := bond.ADStats(ps.Stats)
		st.Slaves[i].ADStats = &stats
		if !ps.HasAggregator {
			continue
		}
		st.Slaves[i].AD = &bond.ADSlaveStatus{
			AggregatorID:      ps.AggregatorID,
			ActorOperState:    ps.ActorOperState,
			PartnerOperState:  ps.PartnerOperState,
			ActorChurnState:   ps.ActorChurnState.String(),
			PartnerChurnState: ps.PartnerChurnState.String(),
			ActorChurnCount:   ps.ActorChurnCount,
			PartnerChurnCount: ps.PartnerChurnCount,
			Actor:             bond.ADPortInfo(ps.Actor),
			Partner:           bond.ADPortInfo(ps.Partner),
		}
	}
}

// The adapter's own tick (bond_3ad_state_machine_handler on ad_work).

func (m *adMode) startTickLocked() {
	if m.clock == nil {
		return
	}
	m.stopTickLocked()
	m.next = m.clock.Now().Add(lacp.TickInterval * time.Millisecond)
	m.armLocked(m.tickGen, lacp.TickInterval*time.Millisecond)
}

func (m *adMode) stopTickLocked() {
	m.tickGen++
	if m.timer != nil {
		m.timer.Stop()
		m.timer = nil
	}
}

func (m *adMode) armLocked(gen uint64, d time.Duration) {
	m.timer = m.clock.AfterFunc(d, func() { m.tick(gen) })
}

// rxWait bounds how long a tick waits for the ports' receive paths
// (waitRx): 2 ms of a 100 ms tick.
const rxWait = 2 * time.Millisecond

// waitRx lets the frames the kernel has already queued on the ports (an
// LACPDU among them) through the receive path before the tick runs the
// machines, for at most rxWait. In the kernel an LACPDU is handled in
// softirq as it arrives, so a tick never runs between its arrival and its
// handling; here the slave's reader goroutine takes it some 0.1–1 ms later,
// and a tick in between sees one port's new partner and not the other's.
// Two bonds back to back whose ticks ran 0.5 ms apart then put the LAG in
// the second port's aggregator, where the kernel puts it in the first's
// (oracle 14-8023ad step 7). Ports that cannot tell (bond.RxPender) are
// not waited for. Timer goroutine; m.mu not held.
func (m *adMode) waitRx() {
	m.mu.Lock()
	ss := make([]*bond.Slave, len(m.ports)) // one small slice per 100 ms
	for i, p := range m.ports {
		ss[i] = p.s
	}
	limit := cmp.Or(m.rxWaitMax, rxWait)
	m.mu.Unlock()
	deadline := time.Now().Add(limit)
	for slices.ContainsFunc(ss, (*bond.Slave).RxPending) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Microsecond)
	}
}

// tick runs one AD_TIMER_INTERVAL on the clock's goroutine and re-arms.
func (m *adMode) tick(gen uint64) {
	m.waitRx()
	m.mu.Lock()
	if gen != m.tickGen {
		m.mu.Unlock()
		return
	}
	m.sys.Tick()
	m.afterCallLocked()
	need := m.changes != 0 || len(m.logq) > 0
	if !need {
		need = !reflect.DeepEqual(m.sys.Status(), m.last)
	}
	now := m.clock.Now()
	m.next = m.next.Add(lacp.TickInterval * time.Millisecond)
	d := m.next.Sub(now)
	if d < 0 {
		// the timer ran late (an overloaded host): tick again at once,
		// then keep 100 ms from now
		d, m.next = 0, now
	}
	m.armLocked(gen, d)
	m.mu.Unlock()
	if need {
		m.postApply(gen)
	}
}

// postApply has the control goroutine apply what a tick changed, without
// making the timer wait for it: at most one request is outstanding.
func (m *adMode) postApply(gen uint64) {
	if m.reg == nil || !m.syncPending.CompareAndSwap(false, true) {
		return
	}
	go func() {
		err := m.reg.Do(context.Background(), func() error {
			m.syncPending.Store(false)
			m.mu.Lock()
			cur := m.tickGen == gen
			m.mu.Unlock()
			if cur {
				m.apply()
			}
			return nil
		})
		if err != nil { // the registry is closed: the op never ran
			m.syncPending.Store(false)
		}
	}()
}
