package modes

import (
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

// The 802.3ad adapter: one lacp.System per bond, fed by the engine's mode
// hooks and driven by its own timer.
//
// Goroutines. The kernel runs bond_3ad_state_machine_handler on the bond's
// workqueue every 100 ms under the 3ad mode lock, independently of RTNL; a
// slow enslave never holds it. The adapter does the same: the System is
// guarded by one mutex (the lacp package allows "one goroutine or one
// mutex"), the engine's hooks take it on the control goroutine, and Tick runs
// under it on the clock's own timer goroutine (Control.Clock().AfterFunc,
// re-armed every lacp.TickInterval ms against a fixed schedule), never on the
// control goroutine. LACPDUs go out from that timer through the slaves'
// sockets directly (Slave.Dev, kept between Bind and Unbind), and the set
// of distributing ports the data path reads is an atomic pointer the adapter
// swaps under the mutex, so neither waits for the control goroutine. What
// the engine itself must apply — slave flags (bonding_slave/state, the
// inactive-slave drop), the bond's carrier, log lines and the snapshot — is
// applied on the control goroutine: at the end of each hook, and after a
// tick through one Control.Post made from a helper goroutine (at most one
// outstanding). Received LACPDUs and markers are handled on the slave's
// reader goroutine (Control.SetRecvDirect, the kernel's softirq recv_probe),
// under the same mutex. A control goroutine blocked for seconds therefore
// delays only what /proc and sysfs show and the slave flags, never an
// LACPDU sent or received: a fast partner (3 s timeout) never expires.
//
// Determinism. The kernel's choice of aggregator is a function of the slave
// order, the LACPDUs' contents and the ticks, never of timing: a tick runs
// to its end (its LACPDUs sent) before another bond's tick starts, and an
// LACPDU that reached a port is handled (softirq) before that port's bond
// ticks again. Bonds of one daemon facing each other (three bonds in one
// namespace, oracle 60-8023ad-agg-ids) see the same: every tick of every
// bond of the process runs under adTickMu, which it takes before waiting
// for its ports' receive paths (waitRx), so the frames another bond's tick
// sent (delivered to the veth peer's socket within the send) are handled
// before this tick runs, and no tick sends in between.
//
// Lock contract: adTickMu before m.mu (the ticks and Open take both; the
// readers and the other hooks take m.mu only). m.mu is the kernel's
// mode_lock. A method whose name ends in Locked runs with m.mu held; every
// other method says whether it takes it.

// adTickMu serializes the state machine runs of every 802.3ad bond of the
// process (bond_3ad_state_machine_handler runs one at a time on one CPU).
var adTickMu sync.Mutex

// adMode is one bond's 802.3ad mode (bond_3ad.c's glue in bond_main.c).
type adMode struct {
	c      bond.Control
	clock  bond.Clock
	rxWait time.Duration // waitRx's bound (newAD)

	mu      sync.Mutex
	sys     *lacp.System
	ports   []*adPort // in enslave order
	nextID  lacp.PortID
	changes lacp.Change
	logq    []lacp.Event
	txbuf   [bond.VnetHdrLen + lacp.FrameLen]byte
	ids     []lacp.PortID // scratch for DistributingPorts
	last    lacp.Status   // status at the last publish, to publish only changes
	tickGen uint64
	timer   bond.Timer
	next    time.Time // when the next tick is due

	syncPending atomic.Bool
	// dist is the usable-slaves array the data path transmits on
	// (bond.HashTx): the Collecting_Distributing ports of the active
	// aggregator, in enslave order.
	dist atomic.Pointer[[]bond.SlaveDev]
}

// adPort is one bound slave.
type adPort struct {
	id  lacp.PortID
	s   *bond.Slave
	dev bond.SlaveDev
}

// newAD makes the 802.3ad mode of the bond c; each tick waits at most
// rxWaitMax for the ports' receive paths (waitRx; Factories passes rxWait).
// Control goroutine.
func newAD(c bond.Control, rxWaitMax time.Duration) *adMode {
	m := &adMode{c: c, clock: c.Clock(), rxWait: rxWaitMax}
	p := c.Params()
	var mac [6]byte
	copy(mac[:], c.HWAddr())
	m.sys = lacp.New(lacp.Config{
		Name:     c.Name(),
		BondMAC:  mac,
		Options:  optionsOf(p),
		Transmit: m.transmitLocked,
		Log:      func(e lacp.Event) { m.logq = append(m.logq, e) },
		Changed:  func(ch lacp.Change) { m.changes |= ch },
	})
	return m
}

// optionsOf maps the bond's parameters to the protocol's options.
func optionsOf(p *bond.Params) lacp.Options {
	o := lacp.DefaultOptions()
	o.LACPActive = p.LACPActive != 0
	o.LACPFast = p.LACPRate != bond.LACPRateSlow
	o.ADSelect = lacp.ADSelect(p.ADSelect)
	o.MinLinks = p.MinLinks
	o.ActorSysPrio = uint16(p.ADActorSysPrio)
	copy(o.ActorSystem[:], p.ADActorSystem)
	o.UserPortKey = uint16(p.ADUserPortKey)
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

// transmitLocked sends a frame the System built (Config.Transmit: m.mu
// held, any goroutine) on the port's socket with an empty vnet header.
func (m *adMode) transmitLocked(id lacp.PortID, frame []byte) {
	p := m.portByIDLocked(id)
	if p == nil || p.dev == nil {
		return
	}
	n := copy(m.txbuf[bond.VnetHdrLen:], frame)
	_ = p.dev.WriteFrame(m.txbuf[:bond.VnetHdrLen+n])
}

// portByIDLocked finds a port by its number (m.mu held).
func (m *adMode) portByIDLocked(id lacp.PortID) *adPort {
	for _, p := range m.ports {
		if p.id == id {
			return p
		}
	}
	return nil
}

// portOfLocked finds a slave's port (m.mu held: the slave readers call it
// too).
func (m *adMode) portOfLocked(s *bond.Slave) *adPort {
	for _, p := range m.ports {
		if p.s == s {
			return p
		}
	}
	return nil
}

// locked runs fn on the System under the mutex, then refreshes the
// distributing table if the call changed it. Control goroutine; takes m.mu.
func (m *adMode) locked(fn func(sys *lacp.System)) {
	m.mu.Lock()
	fn(m.sys)
	m.afterCallLocked()
	m.mu.Unlock()
}

// afterCallLocked republishes the distributing ports if the last System
// call changed the slave array (m.mu held).
func (m *adMode) afterCallLocked() {
	if m.changes&lacp.ChangeSlaveArray != 0 {
		m.rebuildDistLocked()
	}
}

// rebuildDistLocked publishes the ports to transmit on
// (bond_update_slave_arr; m.mu held).
func (m *adMode) rebuildDistLocked() {
	m.ids = m.sys.DistributingPorts(m.ids[:0])
	devs := make([]bond.SlaveDev, 0, len(m.ids))
	for _, id := range m.ids {
		if p := m.portByIDLocked(id); p != nil && p.dev != nil {
			devs = append(devs, p.dev)
		}
	}
	m.dist.Store(&devs)
	bond.UsableChanged(m.c) // the fast path's array, in the same step
}

// apply brings the engine up to date with the System: log lines, slave
// flags, carrier, snapshot. Control goroutine; takes m.mu, and calls the
// engine without it.
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
	m.c.StatusChanged()
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

// emit writes one event to the kernel log. Control goroutine; m.mu not
// held (it takes logBudget.mu).
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
// Control goroutine; takes adTickMu (for the first tick: another bond's
// tick may hold it for up to rxWait) and m.mu.
func (m *adMode) Open() error {
	adTickMu.Lock()
	defer adTickMu.Unlock()
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
	m.c.SetRecvDirect(m.recvDirect)
	m.c.SetRecvProbe(bond.FrameSlow)
	m.apply()
	return nil
}

// Close is bond_close: the machines stop (ports keep their state). Control
// goroutine; takes m.mu.
func (m *adMode) Close() {
	m.locked(func(sys *lacp.System) {
		m.stopTickLocked()
		sys.Close()
	})
	m.apply()
}

// setBondMACLocked gives the System the bond's MAC (m.mu held).
func (m *adMode) setBondMACLocked() {
	var mac [6]byte
	copy(mac[:], m.c.HWAddr())
	m.sys.SetBondMAC(mac)
}

// Bind is bond_enslave's 802.3ad branch (bond_3ad_bind_slave). Control
// goroutine; takes m.mu.
func (m *adMode) Bind(s *bond.Slave) error {
	var mac [6]byte
	copy(mac[:], s.PermHWAddr())
	var err error
	m.locked(func(sys *lacp.System) {
		m.setBondMACLocked()
		p := &adPort{id: m.nextID, s: s, dev: s.Dev()}
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
// Control goroutine; takes m.mu.
func (m *adMode) Unbind(s *bond.Slave) {
	m.locked(func(sys *lacp.System) {
		p := m.portOfLocked(s)
		if p == nil {
			return
		}
		_ = sys.RemovePort(p.id)
		for i, q := range m.ports {
			if q == p {
				m.ports = slices.Delete(m.ports, i, i+1)
				break
			}
		}
		m.rebuildDistLocked()
	})
	m.apply()
}

// LinkChanged is bond_miimon_commit's 802.3ad part
// (bond_3ad_handle_link_change). Control goroutine; takes m.mu.
func (m *adMode) LinkChanged(s *bond.Slave) {
	m.locked(func(sys *lacp.System) {
		if p := m.portOfLocked(s); p != nil {
			_ = sys.LinkChange(p.id, linkOf(s))
		}
	})
	m.apply()
}

// DevStateChanged records a slave's admin state or carrier change
// (bond.DevStateNotifier): the selection logic reads it on the next tick.
// Control goroutine; takes m.mu.
func (m *adMode) DevStateChanged(s *bond.Slave) {
	m.locked(func(sys *lacp.System) {
		if p := m.portOfLocked(s); p != nil {
			_ = sys.SetLink(p.id, linkOf(s))
		}
	})
	m.apply()
}

// SpeedDuplexChanged is bond_3ad_adapter_speed_duplex_changed
// (bond.SpeedDuplexNotifier): the port's key takes the slave's new speed
// and duplex. Control goroutine; takes m.mu.
func (m *adMode) SpeedDuplexChanged(s *bond.Slave) {
	m.locked(func(sys *lacp.System) {
		if p := m.portOfLocked(s); p != nil {
			_ = sys.SpeedDuplexChanged(p.id, linkOf(s))
		}
	})
	m.apply()
}

// ActiveChanged is bond_change_active_slave's 802.3ad part: a slave still
// going back (updelay) that is made curr_active_slave is promoted to link
// up at once (the engine has set its link), and bond_3ad_handle_link_change
// hears of it. Control goroutine; takes m.mu.
func (m *adMode) ActiveChanged(_, n *bond.Slave) {
	if n == nil || n.Link() != bond.LinkUp {
		return
	}
	changed := false
	m.locked(func(sys *lacp.System) {
		if p := m.portOfLocked(n); p != nil {
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
// bond_option_min_links_set, …). Control goroutine; takes m.mu.
func (m *adMode) OptionChanged(name string) {
	p := m.c.Params()
	m.locked(func(sys *lacp.System) {
		switch name {
		case "lacp_rate":
			sys.SetLACPRate(p.LACPRate != bond.LACPRateSlow)
		case "lacp_active":
			sys.SetLACPActive(p.LACPActive != 0)
		case "ad_select":
			_ = sys.SetADSelect(lacp.ADSelect(p.ADSelect))
		case "min_links":
			_ = sys.SetMinLinks(p.MinLinks)
		case "ad_actor_sys_prio":
			_ = sys.SetActorSysPrio(uint16(p.ADActorSysPrio))
		case "ad_actor_system":
			var mac [6]byte
			copy(mac[:], p.ADActorSystem)
			m.setBondMACLocked()
			_ = sys.SetActorSystem(mac)
		case "ad_user_port_key":
			_ = sys.SetUserPortKey(uint16(p.ADUserPortKey))
		case "all_slaves_active":
			sys.SetAllSlavesActive(p.AllSlavesActive != 0)
		}
	})
	m.apply()
}

// Tick is the engine's delayed work for the mode; 802.3ad does not use it
// (its machines run on the adapter's own timer). m.mu not taken.
func (m *adMode) Tick() time.Duration { return 0 }

// Recv is bond_3ad_lacpdu_recv for a frame the receive probe queued for the
// control goroutine (before Open sets the direct hook, or after Close).
// Control goroutine; takes m.mu.
func (m *adMode) Recv(s *bond.Slave, frame []byte) {
	m.locked(func(sys *lacp.System) {
		if p := m.portOfLocked(s); p != nil {
			sys.Receive(p.id, frame)
		}
	})
	m.apply()
}

// recvDirect is bond_3ad_lacpdu_recv on the slave's reader goroutine
// (Control.SetRecvDirect), as the kernel runs it in softirq: an LACPDU is
// handled at once, whatever the control goroutine is doing. Takes m.mu.
func (m *adMode) recvDirect(s *bond.Slave, frame []byte) {
	m.mu.Lock()
	p := m.portOfLocked(s)
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

// Carrier is bond_3ad_set_carrier. Control goroutine; takes m.mu.
func (m *adMode) Carrier() (on, decided bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sys.Carrier(), true
}

// Tx is bond_3ad_xor_xmit: the xmit_hash_policy hash of the frame modulo the
// distributing ports of the active aggregator, which the adapter republishes
// under m.mu without a new selector. Control goroutine; m.mu not taken.
func (m *adMode) Tx(v bond.TxView) bond.TxSelector {
	return bond.NewHashTx(&m.dist, v.Params.XmitPolicy)
}

// Status fills the 802.3ad part of a snapshot. Control goroutine; takes
// m.mu.
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

// startTickLocked starts the tick 100 ms from now (m.mu held).
func (m *adMode) startTickLocked() {
	m.stopTickLocked()
	m.next = m.clock.Now().Add(lacp.TickInterval * time.Millisecond)
	m.armLocked(m.tickGen, lacp.TickInterval*time.Millisecond)
}

// stopTickLocked stops the tick; a run already under way sees the new
// generation and does nothing (m.mu held).
func (m *adMode) stopTickLocked() {
	m.tickGen++
	if m.timer != nil {
		m.timer.Stop()
		m.timer = nil
	}
}

// armLocked arms the next tick of generation gen after d (m.mu held).
func (m *adMode) armLocked(gen uint64, d time.Duration) {
	m.timer = m.clock.AfterFunc(d, func() { m.tick(gen) })
}

// rxWait bounds how long a tick waits for the ports' receive paths
// (waitRx): a fifth of a 100 ms tick. A frame already queued is normally
// handled within microseconds; the bound matters only when a port never
// drains (a flood), where each tick then runs up to 20 ms late, on its
// fixed schedule.
const rxWait = 20 * time.Millisecond

// waitRx lets the frames the kernel has already queued on the ports (an
// LACPDU among them) through the receive path before the tick runs the
// machines, for at most m.rxWait. In the kernel an LACPDU is handled in
// softirq as it arrives, so a tick never runs between its arrival and its
// handling; here the slave's reader goroutine takes it some 0.1–1 ms later,
// and a tick in between sees one port's new partner and not the other's:
// two bonds back to back whose ticks run apart would put the LAG in
// different aggregators (TestADTickSeesReceivedLACPDU). Ports that cannot
// tell (bond.RxPender) are not waited for.
//
// The wait is on the real clock, not m.clock: it waits for frames, which
// arrive and are read in real time whatever the bond's clock says (a test's
// hand-driven clock does not move while a reader runs). Timer goroutine;
// takes m.mu to list the slaves, and waits without it.
func (m *adMode) waitRx() {
	m.mu.Lock()
	ss := make([]*bond.Slave, len(m.ports)) // one small slice per 100 ms
	for i, p := range m.ports {
		ss[i] = p.s
	}
	limit := m.rxWait
	m.mu.Unlock()
	deadline := time.Now().Add(limit)
	for slices.ContainsFunc(ss, (*bond.Slave).RxPending) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Microsecond)
	}
}

// tick runs one AD_TIMER_INTERVAL on the clock's goroutine and re-arms.
// Takes adTickMu, then m.mu (after waitRx).
func (m *adMode) tick(gen uint64) {
	adTickMu.Lock()
	defer adTickMu.Unlock()
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

// postApply has the control goroutine apply what a tick or a received
// frame changed, without making the timer or the reader wait for it: one
// Control.Post from a helper goroutine, at most one outstanding. Timer or
// reader goroutine; m.mu not held (the posted function takes it).
func (m *adMode) postApply(gen uint64) {
	if !m.syncPending.CompareAndSwap(false, true) {
		return
	}
	go func() {
		err := m.c.Post(func() {
			m.syncPending.Store(false)
			m.mu.Lock()
			cur := m.tickGen == gen
			m.mu.Unlock()
			if cur {
				m.apply()
			}
		})
		if err != nil { // the registry is closed: fn never ran
			m.syncPending.Store(false)
		}
	}()
}
