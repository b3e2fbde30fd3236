package lacp

import "net"

// AggregatorInfo describes the active aggregator as the kernel reports it
// (struct ad_info from __bond_3ad_get_active_agg_info): the "Active
// Aggregator Info" block of /proc/net/bonding/<bond> and bonding/ad_*.
type AggregatorInfo struct {
	ID         int // ad_aggregator
	NumPorts   int // ad_num_ports: attached ports whose link is enabled
	ActorKey   int // ad_actor_key
	PartnerKey int // ad_partner_key
	PartnerMAC [6]byte
}

// PortInfo is one side of a port's operational parameters, the "details
// actor lacp pdu" / "details partner lacp pdu" blocks. Its fields are those
// of the engine's bond.ADPortInfo, so a struct conversion fills one.
type PortInfo struct {
	SystemPriority int
	System         net.HardwareAddr
	Key            int // "port key" (actor) or "oper key" (partner)
	PortPriority   int
	PortNumber     int
	PortState      int
}

// PortStatus is one port at one moment. AggregatorID through Partner match
// the engine's bond.ADSlaveStatus (ChurnState.String gives its churn
// strings); the adapter leaves bond.SlaveStatus.AD nil when HasAggregator
// is false.
type PortStatus struct {
	ID   PortID
	Name string
	// HasAggregator is false until the port's first selection (sysfs and
	// /proc then show "N/A" and no 802.3ad details).
	HasAggregator     bool
	AggregatorID      int
	ActorOperState    int // bonding_slave/ad_actor_oper_port_state
	PartnerOperState  int // bonding_slave/ad_partner_oper_port_state
	ActorChurnState   ChurnState
	PartnerChurnState ChurnState
	ActorChurnCount   int
	PartnerChurnCount int
	Actor             PortInfo
	Partner           PortInfo

	// Slave flags kept by 802.3ad: Backup is bonding_slave/state "backup"
	// (not transmitting), Inactive means received frames other than
	// LACPDUs are not delivered (bond_should_deliver_exact_match),
	// RxDisabled is the kernel's rx_disabled.
	Backup     bool
	Inactive   bool
	RxDisabled bool

	// Machine states, for tracing.
	PortNumber    int
	Selected      bool
	RxState       RxState
	MuxState      MuxState
	PeriodicState PeriodicState
	Link          Link
	Stats         Stats
}

// Status is the bond's 802.3ad state at one moment.
type Status struct {
	// SystemPriority and SystemMAC are the bond's actor system ("System
	// priority", "System MAC address" in /proc): zero until the first
	// port is added.
	SystemPriority int
	SystemMAC      net.HardwareAddr
	// Active is the active aggregator; nil when there is none ("bond X has
	// no active aggregator", bonding/ad_* read 0 or empty).
	Active  *AggregatorInfo
	Carrier bool
	Open    bool
	Stats   Stats        // the bond's counters (all ports, removed ones too)
	Ports   []PortStatus // in enslave order
}

// Carrier is the bond's carrier as bond_3ad_set_carrier sets it.
func (s *System) Carrier() bool { return s.carrier }

// Stats returns the bond-wide LACPDU and Marker counters.
func (s *System) Stats() Stats { return s.stats }

// ActiveAggregator returns the active aggregator, looked up as
// __bond_3ad_get_active_agg_info does (through the ports' aggregators), and
// false when there is none. It does not allocate.
func (s *System) ActiveAggregator() (AggregatorInfo, bool) {
	for _, p := range s.ports {
		if a := p.agg; a != nil && a.isActive {
			return AggregatorInfo{
				ID:         int(a.id),
				NumPorts:   a.activePorts(),
				ActorKey:   int(a.actorOperKey),
				PartnerKey: int(a.partnerOperKey),
				PartnerMAC: a.partnerSystem,
			}, true
		}
	}
	return AggregatorInfo{}, false
}

// DistributingPorts appends to dst the ports the bond transmits on, in
// enslave order, and returns it: the ports attached to the active
// aggregator whose slave can transmit (link up, device up, not backup), as
// bond_update_slave_arr builds usable_slaves. Empty when no aggregator is
// active. It does not allocate when dst has room.
func (s *System) DistributingPorts(dst []PortID) []PortID {
	info, ok := s.ActiveAggregator()
	if !ok {
		return dst
	}
	for _, p := range s.ports {
		if p.agg == nil || int(p.agg.id) != info.ID {
			continue
		}
		if p.link.DevUp && p.link.Status == LinkUp && !p.backup {
			dst = append(dst, p.id)
		}
	}
	return dst
}

// PortFlags returns a port's Backup and Inactive flags without building
// a status: backup means not transmitting (bonding_slave/state), inactive
// means frames other than LACPDUs must not be delivered. ok is false for
// an unknown port.
func (s *System) PortFlags(id PortID) (backup, inactive, ok bool) {
	p := s.find(id)
	if p == nil {
		return false, false, false
	}
	return p.backup, p.inactive, true
}

// Port returns one port's status.
func (s *System) Port(id PortID) (PortStatus, bool) {
	p := s.find(id)
	if p == nil {
		return PortStatus{}, false
	}
	return p.status(), true
}

func (p *port) status() PortStatus {
	st := PortStatus{
		ID:                p.id,
		Name:              p.name,
		HasAggregator:     p.agg != nil,
		ActorOperState:    int(p.actorOperState),
		PartnerOperState:  int(p.partnerOper.portState),
		ActorChurnState:   p.churnActorState,
		PartnerChurnState: p.churnPartnerState,
		ActorChurnCount:   int(p.churnActorCount),
		PartnerChurnCount: int(p.churnPartnerCount),
		Actor: PortInfo{
			SystemPriority: int(p.actorSystemPriority),
			System:         net.HardwareAddr(clone6(p.actorSystem)),
			Key:            int(p.actorOperKey),
			PortPriority:   int(p.actorPortPriority),
			PortNumber:     int(p.actorPortNumber),
			PortState:      int(p.actorOperState),
		},
		Partner: PortInfo{
			SystemPriority: int(p.partnerOper.systemPriority),
			System:         net.HardwareAddr(clone6(p.partnerOper.system)),
			Key:            int(p.partnerOper.key),
			PortPriority:   int(p.partnerOper.portPriority),
			PortNumber:     int(p.partnerOper.portNumber),
			PortState:      int(p.partnerOper.portState),
		},
		Backup:        p.backup,
		Inactive:      p.inactive,
		RxDisabled:    p.rxDisabled,
		PortNumber:    int(p.actorPortNumber),
		Selected:      p.smVars&portSelected != 0,
		RxState:       p.rxState,
		MuxState:      p.muxState,
		PeriodicState: p.periodicState,
		Link:          p.link,
		Stats:         p.stats,
	}
	if p.agg != nil {
		st.AggregatorID = int(p.agg.id)
	}
	return st
}

func clone6(m [6]byte) []byte { return append([]byte(nil), m[:]...) }

// Status returns a copy of the bond's 802.3ad state. It allocates.
func (s *System) Status() Status {
	st := Status{
		SystemPriority: int(s.sysPriority),
		SystemMAC:      net.HardwareAddr(clone6(s.sysMAC)),
		Carrier:        s.carrier,
		Open:           s.open,
		Stats:          s.stats,
		Ports:          make([]PortStatus, 0, len(s.ports)),
	}
	if info, ok := s.ActiveAggregator(); ok {
		st.Active = &info
	}
	for _, p := range s.ports {
		st.Ports = append(st.Ports, p.status())
	}
	return st
}
