package lacp

import (
	"errors"
	"fmt"
	"slices"
)

// Options are the bond options bond_3ad.c reads (struct bond_params).
type Options struct {
	LACPActive      bool     // lacp_active: on sends LACPDUs periodically
	LACPFast        bool     // lacp_rate: fast asks the partner for 1 s LACPDUs
	ADSelect        ADSelect // ad_select
	MinLinks        int      // min_links
	ActorSysPrio    uint16   // ad_actor_sys_prio, 1..65535
	ActorSystem     [6]byte  // ad_actor_system; all zero means the bond's MAC
	UserPortKey     uint16   // ad_user_port_key, 0..1023: bits 6-15 of port keys
	CoupledControl  bool     // coupled_control (netlink only; on by default)
	AllSlavesActive bool     // all_slaves_active: inactive ports still deliver
}

// DefaultOptions returns the kernel's defaults: lacp_active on, lacp_rate
// slow, ad_select stable, min_links 0, ad_actor_sys_prio 65535,
// ad_actor_system 00:00:00:00:00:00, ad_user_port_key 0, coupled_control
// on, all_slaves_active off.
func DefaultOptions() Options {
	return Options{LACPActive: true, ActorSysPrio: 0xffff, CoupledControl: true}
}

// Config creates a System.
type Config struct {
	// Name is the bond's name, the prefix of every log line ("bond0").
	Name string
	// BondMAC is the bond's hardware address (dev_addr), the actor system
	// when Options.ActorSystem is zero. Keep it current with SetBondMAC.
	BondMAC [6]byte
	Options Options
	// Transmit sends a frame (FrameLen bytes, source address the port's
	// permanent MAC) on a port. frame is only valid during the call.
	Transmit func(id PortID, frame []byte)
	// Log receives the lines the kernel would print.
	Log func(Event)
	// Changed is told, at the end of a call, what the call changed.
	Changed func(Change)
}

// Errors of System's methods.
var (
	ErrNoPort     = errors.New("lacp: no such port")
	ErrPortExists = errors.New("lacp: port already added")
	// ErrInvalid: an option value out of the kernel's range (the option
	// layer answers EINVAL).
	ErrInvalid = errors.New("lacp: invalid value")
)

// System is one bond's 802.3ad state (struct ad_bond_info with the bond's
// slaves' ports and aggregators). It is not safe for concurrent use; see
// the package documentation for the calling contract.
type System struct {
	name     string
	bondMAC  [6]byte
	opt      Options
	transmit func(PortID, []byte)
	log      func(Event)
	changed  func(Change)

	open           bool
	ports          []*port // in enslave order (bond_for_each_slave)
	sysPriority    uint16  // BOND_AD_INFO(bond).system
	sysMAC         [6]byte
	aggSelectTimer int
	aggIdentifier  uint16
	stats          Stats
	carrier        bool
	pending        Change

	txbuf [FrameLen]byte
	txPDU LACPDU
	rxPDU LACPDU
}

// New returns the 802.3ad state of a bond without ports, closed, carrier
// off. The system priority and MAC stay zero until the first port is added
// (bond_3ad_initialize) or an actor setting changes.
func New(cfg Config) *System {
	return &System{
		name:     cfg.Name,
		bondMAC:  cfg.BondMAC,
		opt:      cfg.Options,
		transmit: cfg.Transmit,
		log:      cfg.Log,
		changed:  cfg.Changed,
	}
}

func (s *System) emit(e Event) {
	if s.log != nil {
		s.log(e)
	}
}

// slaveLog emits "<bond>: (slave <port>): <msg>" (slave_err/warn/info).
func (s *System) slaveLog(l Level, p *port, msg string) {
	s.emit(Event{Level: l, Text: s.name + ": (slave " + p.name + "): " + msg})
}

// flush reports the accumulated changes.
func (s *System) flush() {
	if c := s.pending; c != 0 {
		s.pending = 0
		if s.changed != nil {
			s.changed(c)
		}
	}
}

func (s *System) find(id PortID) *port {
	for _, p := range s.ports {
		if p.id == id {
			return p
		}
	}
	return nil
}

// actorSystemMAC is the actor system the options give: ad_actor_system, or
// the bond's MAC when that is zero.
func (s *System) actorSystemMAC() [6]byte {
	if s.opt.ActorSystem == ([6]byte{}) {
		return s.bondMAC
	}
	return s.opt.ActorSystem
}

// Open starts the protocol as bond_open does in 802.3ad mode: LACPDUs are
// received and Tick runs the machines; the active aggregator is selected on
// the next Tick (agg_select_timer 1).
func (s *System) Open() {
	s.open = true
	s.aggSelectTimer = 1
}

// Close stops the protocol as bond_close does: Tick and Receive do nothing
// until Open. Ports keep their state.
func (s *System) Close() { s.open = false }

// AddPort binds a new slave as bond_enslave does in 802.3ad mode: the slave
// becomes inactive, its port number is the last slave's plus one (1 for the
// first, which also re-initialises the bond: aggregator IDs restart at 1,
// system priority and MAC are taken from the options, and the aggregator
// selection waits 8 s, AD_AGGREGATOR_SELECTION_TIMER), its aggregator gets
// the next aggregator ID, and its key comes from ad_user_port_key, speed
// and duplex (bond_3ad_bind_slave). name is the slave's name in log lines,
// permMAC its permanent address (the LACPDU source), link its state.
// ErrPortExists if id is taken.
func (s *System) AddPort(id PortID, name string, permMAC [6]byte, link Link) error {
	if s.find(id) != nil {
		return ErrPortExists
	}
	p := &port{id: id, name: name, permMAC: permMAC, link: link}
	s.setInactiveFlags(p)
	if len(s.ports) == 0 {
		p.slaveID = 1
		s.initialize()
	} else {
		p.slaveID = s.ports[len(s.ports)-1].slaveID + 1
	}
	s.bind(p)
	s.ports = append(s.ports, p)
	s.setBondCarrier()
	s.pending |= ChangeSlaveArray | ChangePortFlags
	s.flush()
	return nil
}

// initialize is bond_3ad_initialize.
func (s *System) initialize() {
	s.aggIdentifier = 0
	s.sysPriority = s.opt.ActorSysPrio
	s.sysMAC = s.actorSystemMAC()
	s.aggSelectTimer = aggSelectionTimerSec * TicksPerSecond
}

// bind is bond_3ad_bind_slave.
func (s *System) bind(p *port) {
	p.initialize(&s.opt)
	p.portPrio = p.actorPortPriority
	p.bound = true
	p.actorPortNumber = p.slaveID
	p.actorAdminKey = s.opt.UserPortKey << 6
	s.updateActorKeys(p, false)
	s.actorUpdatePort(p)
	p.txTimer = TicksPerSecond / maxTxInSecond
	s.disablePort(p)
	a := &p.ownAgg
	*a = aggregator{}
	a.macAddress = s.bondMAC
	s.aggIdentifier++
	a.id = s.aggIdentifier
	a.owner = p
}

// actorUpdatePort is __ad_actor_update_port.
func (s *System) actorUpdatePort(p *port) {
	p.actorSystem = s.sysMAC
	p.actorSystemPriority = s.sysPriority
	p.actorPortPriority = p.portPrio
}

// RemovePort releases a slave as __bond_release_one does in 802.3ad mode:
// the slave becomes inactive, an LACPDU without Synchronization,
// Collecting, Distributing and Aggregation tells the partner, the
// aggregator's other ports move to another aggregator, a new active
// aggregator is chosen if the removed one was active
// (bond_3ad_unbind_slave), and the carrier is set. Works open or closed.
// ErrNoPort if id is unknown.
func (s *System) RemovePort(id PortID) error {
	p := s.find(id)
	if p == nil {
		return ErrNoPort
	}
	s.setInactiveFlags(p)
	s.unbind(p)
	for i, q := range s.ports {
		if q == p {
			s.ports = slices.Delete(s.ports, i, i+1)
			break
		}
	}
	s.setBondCarrier()
	s.pending |= ChangeSlaveArray
	s.flush()
	return nil
}

// unbind is bond_3ad_unbind_slave.
func (s *System) unbind(p *port) {
	agg := &p.ownAgg
	selectNew := false

	p.actorOperState &^= StateSynchronization | StateCollecting | StateDistributing | StateAggregation
	s.sendLACPDU(p)

	if agg.lagPorts != nil {
		if agg.lagPorts != p || agg.lagPorts.nextInAgg != nil {
			var newAgg *aggregator
			for _, sl := range s.ports {
				na := &sl.ownAgg
				if na.lagPorts == nil || (na.lagPorts == p && na.lagPorts.nextInAgg == nil) {
					newAgg = na
					break
				}
			}
			if newAgg != nil {
				if newAgg.lagPorts == p && newAgg.isActive {
					s.slaveLog(LevelInfo, p, "Removing an active aggregator")
					selectNew = true
				}
				newAgg.isIndividual = agg.isIndividual
				newAgg.actorAdminKey = agg.actorAdminKey
				newAgg.actorOperKey = agg.actorOperKey
				newAgg.partnerSystem = agg.partnerSystem
				newAgg.partnerSystemPriority = agg.partnerSystemPriority
				newAgg.partnerOperKey = agg.partnerOperKey
				newAgg.receiveState = agg.receiveState
				newAgg.transmitState = agg.transmitState
				newAgg.lagPorts = agg.lagPorts
				newAgg.isActive = agg.isActive
				newAgg.numPorts = agg.numPorts
				for q := agg.lagPorts; q != nil; q = q.nextInAgg {
					q.agg = newAgg
					q.actorPortAggID = newAgg.id
				}
				agg.clear()
				if selectNew {
					s.aggSelection(s.firstAgg())
				}
			} else {
				s.slaveLog(LevelWarn, p, "unbinding aggregator, and could not find a new aggregator for its ports")
			}
		} else {
			selectNew = agg.isActive
			agg.clear()
			if selectNew {
				s.slaveLog(LevelInfo, p, "Removing an active aggregator")
				s.aggSelection(s.firstAgg())
			}
		}
	}

	for _, sl := range s.ports {
		ta := &sl.ownAgg
		var prev *port
		for q := ta.lagPorts; q != nil; prev, q = q, q.nextInAgg {
			if q != p {
				continue
			}
			if prev != nil {
				prev.nextInAgg = q.nextInAgg
			} else {
				ta.lagPorts = q.nextInAgg
			}
			ta.numPorts--
			if ta.activePorts() == 0 {
				selectNew = ta.isActive
				if ta.numPorts == 0 {
					ta.clear()
				}
				if selectNew {
					s.slaveLog(LevelInfo, p, "Removing an active aggregator")
					s.aggSelection(s.firstAgg())
				}
			}
			break
		}
	}
	p.bound = false
}

// setBondCarrier is bond_set_carrier in 802.3ad mode: off without ports,
// else bond_3ad_set_carrier.
func (s *System) setBondCarrier() {
	if len(s.ports) == 0 {
		s.setCarrier(false)
		return
	}
	s.setCarrier3AD()
}

// SetLink records what the bond knows of a slave's link without running
// any 802.3ad logic: a link going down or back during downdelay/updelay, a
// carrier or running change, a speed read by ethtool. The kernel's
// 802.3ad code reads these fields when it next runs.
func (s *System) SetLink(id PortID, l Link) error {
	p := s.find(id)
	if p == nil {
		return ErrNoPort
	}
	p.link = l
	return nil
}

// LinkChange is the MII monitor committing a link up or down in 802.3ad
// mode (bond_miimon_commit): the slave's link becomes l; on up the slave is
// made a backup, on down inactive; then bond_3ad_handle_link_change
// enables or disables the port, recomputes its key (speed and duplex, or
// zero when down), reselects the active aggregator, and sets the carrier.
// l.Status must be LinkUp or LinkDown.
func (s *System) LinkChange(id PortID, l Link) error {
	p := s.find(id)
	if p == nil {
		return ErrNoPort
	}
	p.link = l
	if l.Status == LinkUp {
		s.setBackup(p, true)
		p.isEnabled = true
		s.updateActorKeys(p, false)
	} else {
		s.setInactiveFlags(p)
		p.isEnabled = false
		s.updateActorKeys(p, true)
	}
	s.aggSelection(s.firstAgg())
	s.pending |= ChangeSlaveArray
	s.setBondCarrier()
	s.flush()
	return nil
}

// SpeedDuplexChanged records a new speed and duplex for a slave and
// recomputes its port key (bond_3ad_adapter_speed_duplex_changed): a speed
// change on a full-duplex port restarts its machines; a link reporting no
// known speed logs "speed changed to 0". Calling it with unchanged values
// does nothing, so the adapter may call it on every NETDEV_CHANGE and every
// MII monitor pass of an up slave, as the kernel does.
func (s *System) SpeedDuplexChanged(id PortID, l Link) error {
	p := s.find(id)
	if p == nil {
		return ErrNoPort
	}
	p.link = l
	s.updateActorKeys(p, false)
	s.flush()
	return nil
}

// Tick runs one AD_TIMER_INTERVAL (100 ms) of the protocol
// (bond_3ad_state_machine_handler): the aggregator selection timer, then
// for each port in enslave order the Receive, Periodic, Selection, Mux,
// Transmit and Churn machines. It does nothing while closed or without
// ports. It does not allocate unless it logs.
func (s *System) Tick() {
	if !s.open || len(s.ports) == 0 {
		return
	}
	if s.aggSelectTimer > 0 {
		s.aggSelectTimer--
		if s.aggSelectTimer == 0 {
			s.aggSelection(s.firstAgg())
			s.setCarrier3AD()
		}
	}
	for _, p := range s.ports {
		s.rxMachine(nil, p)
		p.periodicMachine()
		s.portSelection(p)
		s.muxMachine(p)
		s.txMachine(p)
		p.churnMachine()
		p.smVars &^= portBegin
	}
	s.flush()
}

// Receive handles a frame received on a port, as bond_3ad_lacpdu_recv does
// for every frame of every slave, active or not, while the bond is open.
// It reports whether the frame was consumed (RX_HANDLER_CONSUMED: an
// LACPDU or a Marker PDU, which the adapter must not deliver); other
// frames, including Slow Protocols frames shorter than PDULen (counted as
// illegal) or of another subtype (counted as unknown), are not consumed.
// A Marker Information PDU is answered at once with a Marker Response
// through Transmit. It does not allocate.
func (s *System) Receive(id PortID, frame []byte) bool {
	if !s.open {
		return false
	}
	p := s.find(id)
	if p == nil {
		return false
	}
	pl, err := SlowPayload(frame)
	if err != nil {
		return false
	}
	if len(pl) < PDULen {
		p.stats.LACPDUIllegalRx++
		s.stats.LACPDUIllegalRx++
		return false
	}
	switch pl[0] {
	case SubtypeLACP:
		s.rxPDU.decode(pl)
		s.rxMachine(&s.rxPDU, p)
	case SubtypeMarker:
		switch pl[2] {
		case MarkerInformation:
			p.stats.MarkerRx++
			s.stats.MarkerRx++
			s.markerRespond(p, pl[:PDULen])
		case MarkerResponse:
			p.stats.MarkerRespRx++
			s.stats.MarkerRespRx++
		default:
			p.stats.MarkerUnknownRx++
			s.stats.MarkerUnknownRx++
		}
	default:
		p.stats.LACPDUUnknownRx++
		s.stats.LACPDUUnknownRx++
		return false
	}
	s.flush()
	return true
}

// markerRespond sends back the received Marker PDU with the TLV type of a
// Marker Response, every other byte unchanged (ad_marker_info_received).
func (s *System) markerRespond(p *port, body []byte) {
	p.stats.MarkerRespTx++
	s.stats.MarkerRespTx++
	putHeader(s.txbuf[:], p.permMAC)
	copy(s.txbuf[HeaderLen:], body)
	s.txbuf[HeaderLen+2] = MarkerResponse
	if s.transmit != nil {
		s.transmit(p.id, s.txbuf[:])
	}
}

// --- options ---------------------------------------------------------------

// Options returns the current options.
func (s *System) Options() Options { return s.opt }

// SetLACPRate sets lacp_rate and each port's Timeout bit
// (bond_3ad_update_lacp_rate).
func (s *System) SetLACPRate(fast bool) {
	s.opt.LACPFast = fast
	for _, p := range s.ports {
		if fast {
			p.actorOperState |= StateTimeout
		} else {
			p.actorOperState &^= StateTimeout
		}
	}
}

// SetLACPActive sets lacp_active and each port's Activity bit
// (bond_3ad_update_lacp_active).
func (s *System) SetLACPActive(on bool) {
	s.opt.LACPActive = on
	for _, p := range s.ports {
		if on {
			p.actorOperState |= StateActivity
		} else {
			p.actorOperState &^= StateActivity
		}
	}
}

// SetADSelect sets ad_select; it applies at the next selection.
// ErrInvalid for values other than the three policies.
func (s *System) SetADSelect(a ADSelect) error {
	if a < SelectStable || a > SelectCount {
		return ErrInvalid
	}
	s.opt.ADSelect = a
	return nil
}

// SetMinLinks sets min_links and the carrier (bond_option_min_links_set).
// ErrInvalid when negative.
func (s *System) SetMinLinks(n int) error {
	if n < 0 {
		return ErrInvalid
	}
	s.opt.MinLinks = n
	s.setBondCarrier()
	s.flush()
	return nil
}

// SetUserPortKey sets ad_user_port_key (0..1023, else ErrInvalid). Like the
// kernel it only affects ports added afterwards.
func (s *System) SetUserPortKey(k uint16) error {
	if k > 1023 {
		return ErrInvalid
	}
	s.opt.UserPortKey = k
	return nil
}

// SetActorSysPrio sets ad_actor_sys_prio (1..65535, else ErrInvalid) and
// applies it to the system and every port (bond_3ad_update_ad_actor_settings).
func (s *System) SetActorSysPrio(prio uint16) error {
	if prio == 0 {
		return ErrInvalid
	}
	s.opt.ActorSysPrio = prio
	s.updateActorSettings()
	return nil
}

// SetActorSystem sets ad_actor_system (zero: the bond's MAC) and applies it
// (bond_3ad_update_ad_actor_settings). ErrInvalid for a multicast address,
// which the kernel refuses.
func (s *System) SetActorSystem(mac [6]byte) error {
	if mac[0]&1 != 0 {
		return ErrInvalid
	}
	s.opt.ActorSystem = mac
	s.updateActorSettings()
	return nil
}

// SetBondMAC records a new bond hardware address. As in the kernel, the
// actor system follows it only when the first port is added or an actor
// setting changes.
func (s *System) SetBondMAC(mac [6]byte) { s.bondMAC = mac }

// SetAllSlavesActive sets all_slaves_active: backup ports are marked
// inactive (their frames not delivered) only when it is off
// (bond_option_all_slaves_active_set).
func (s *System) SetAllSlavesActive(on bool) {
	s.opt.AllSlavesActive = on
	for _, p := range s.ports {
		if p.backup {
			s.setInactive(p, !on)
		}
	}
	s.flush()
}

// updateActorSettings is bond_3ad_update_ad_actor_settings.
func (s *System) updateActorSettings() {
	s.sysPriority = s.opt.ActorSysPrio
	s.sysMAC = s.actorSystemMAC()
	for _, p := range s.ports {
		s.actorUpdatePort(p)
		p.ntt = true
	}
}

func (s *System) String() string {
	return fmt.Sprintf("lacp.System(%s, %d ports)", s.name, len(s.ports))
}
