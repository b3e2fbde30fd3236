package lacp

// Timer and protocol constants of bond_3ad.c (802.1AX-2014 §6.4.4), in
// seconds unless noted.
const (
	// TickInterval is the period of Tick in milliseconds
	// (AD_TIMER_INTERVAL).
	TickInterval = 100
	// TicksPerSecond is the number of Ticks in a second (ad_ticks_per_sec).
	TicksPerSecond = 1000 / TickInterval

	fastPeriodicTime     = 1
	slowPeriodicTime     = 30
	shortTimeoutTime     = 3 * fastPeriodicTime
	longTimeoutTime      = 3 * slowPeriodicTime
	churnDetectionTime   = 60
	aggregateWaitTime    = 2
	maxTxInSecond        = 3 // AD_MAX_TX_IN_SECOND
	aggSelectionTimerSec = 8 // AD_AGGREGATOR_SELECTION_TIMER
)

// Port variables (sm_vars bits, 802.1AX-2014 §6.4.7).
const (
	portBegin        = 0x1
	portLACPEnabled  = 0x2
	portActorChurn   = 0x4
	portPartnerChurn = 0x8
	portReady        = 0x10
	portReadyN       = 0x20
	portMatched      = 0x40
	portStandby      = 0x80
	portSelected     = 0x100
	portMoved        = 0x200
	portChurned      = portActorChurn | portPartnerChurn
)

// Port key layout: user key (10 bits) | speed (5 bits) | duplex (1 bit).
const (
	duplexKeyMask = 0x1
	speedKeyMask  = 0x3e
	userKeyMask   = 0xffc0
)

// portParams is one end's operational or administrative parameters
// (struct port_params).
type portParams struct {
	system         [6]byte
	systemPriority uint16
	key            uint16
	portNumber     uint16
	portPriority   uint16
	portState      uint8
}

// partnerAdminDefaults are the partner parameters a port starts with and
// falls back to when defaulted (ad_initialize_port's template).
var partnerAdminDefaults = portParams{
	systemPriority: 0xffff,
	key:            1,
	portNumber:     1,
	portPriority:   0xff,
}

// aggregator is one slave's aggregator (struct aggregator, 802.1AX-2014
// §6.4.6). Every port owns one; a port may be attached to another port's.
type aggregator struct {
	macAddress            [6]byte
	id                    uint16
	isIndividual          bool
	actorAdminKey         uint16
	actorOperKey          uint16
	partnerSystem         [6]byte
	partnerSystemPriority uint16
	partnerOperKey        uint16
	receiveState          bool
	transmitState         bool
	lagPorts              *port // head of the attached ports, newest first
	owner                 *port // the slave this aggregator belongs to
	isActive              bool
	numPorts              uint16
}

// port is one slave's LACP port (struct port) with the slave fields
// bond_3ad.c reads and writes (struct slave, struct ad_slave_info).
type port struct {
	id      PortID
	name    string
	permMAC [6]byte

	// slave state as the bond keeps it
	link       Link
	backup     bool // slave->backup: bonding_slave/state "backup"
	inactive   bool // slave->inactive: frames received are not delivered
	rxDisabled bool // slave->rx_disabled
	slaveID    uint16
	portPrio   uint16 // SLAVE_AD_INFO(slave)->port_priority
	bound      bool   // port->slave != NULL
	stats      Stats

	actorPortNumber     uint16
	actorPortPriority   uint16
	actorSystem         [6]byte
	actorSystemPriority uint16
	actorPortAggID      uint16
	ntt                 bool
	actorAdminKey       uint16
	actorOperKey        uint16
	actorAdminState     uint8
	actorOperState      uint8
	partnerAdmin        portParams
	partnerOper         portParams
	isEnabled           bool

	smVars            uint16
	rxState           RxState
	rxTimer           uint16
	periodicState     PeriodicState
	periodicTimer     uint16
	muxState          MuxState
	muxTimer          uint16
	txTimer           uint16
	churnActorTimer   uint16
	churnPartnerTimer uint16
	churnActorCount   uint32
	churnPartnerCount uint32
	churnActorState   ChurnState
	churnPartnerState ChurnState
	agg               *aggregator
	nextInAgg         *port

	ownAgg aggregator
}

// timerTicks converts the kernel's timer types to ticks
// (__ad_timer_to_ticks).
func currentWhileTicks(short bool) uint16 {
	if short {
		return shortTimeoutTime * TicksPerSecond
	}
	return longTimeoutTime * TicksPerSecond
}

// linkSpeedKey maps a speed in Mb/s to the 802.3ad speed code that goes into
// bits 1-5 of the port key (enum ad_link_speed_type); 0 for speeds the
// kernel does not know.
func linkSpeedKey(mbps int) uint16 {
	switch mbps {
	case 10:
		return 2
	case 100:
		return 3
	case 1000:
		return 4
	case 2500:
		return 5
	case 5000:
		return 6
	case 10000:
		return 7
	case 14000:
		return 8
	case 20000:
		return 9
	case 25000:
		return 10
	case 40000:
		return 11
	case 50000:
		return 12
	case 56000:
		return 13
	case 100000:
		return 14
	case 200000:
		return 15
	case 400000:
		return 16
	}
	return 0
}

// speedCodeMbps is the bandwidth weight of a speed code
// (__get_agg_bandwidth); code 1 (AD_LINK_SPEED_1MBPS) is never produced.
func speedCodeMbps(code uint16) uint32 {
	switch code {
	case 1:
		return 1
	case 2:
		return 10
	case 3:
		return 100
	case 4:
		return 1000
	case 5:
		return 2500
	case 6:
		return 5000
	case 7:
		return 10000
	case 8:
		return 14000
	case 9:
		return 20000
	case 10:
		return 25000
	case 11:
		return 40000
	case 12:
		return 50000
	case 13:
		return 56000
	case 14:
		return 100000
	case 15:
		return 200000
	case 16:
		return 400000
	}
	return 0
}

// initialize resets the port's protocol state (ad_initialize_port).
func (p *port) initialize(opt *Options) {
	p.actorPortPriority = 0xff
	p.actorPortAggID = 0
	p.ntt = false
	p.actorAdminState = StateAggregation
	p.actorOperState = StateAggregation
	if opt.LACPActive {
		p.actorAdminState |= StateActivity
		p.actorOperState |= StateActivity
	}
	if opt.LACPFast {
		p.actorOperState |= StateTimeout
	}
	p.partnerAdmin = partnerAdminDefaults
	p.partnerOper = partnerAdminDefaults
	p.isEnabled = true
	p.smVars = portBegin | portLACPEnabled
	p.rxState = 0
	p.rxTimer = 0
	p.periodicState = 0
	p.periodicTimer = 0
	p.muxState = 0
	p.muxTimer = 0
	p.agg = nil
	p.nextInAgg = nil
	p.churnActorTimer = 0
	p.churnActorState = 0
	p.churnActorCount = 0
	p.churnPartnerTimer = 0
	p.churnPartnerState = 0
	p.churnPartnerCount = 0
}

// clear resets an aggregator's parameters (ad_clear_agg).
func (a *aggregator) clear() {
	a.isIndividual = false
	a.actorAdminKey = 0
	a.actorOperKey = 0
	a.partnerSystem = [6]byte{}
	a.partnerSystemPriority = 0
	a.partnerOperKey = 0
	a.receiveState = false
	a.transmitState = false
	a.lagPorts = nil
	a.isActive = false
	a.numPorts = 0
}

// hasPartner reports whether a partner answered (__agg_has_partner).
func (a *aggregator) hasPartner() bool {
	return a.partnerSystem != [6]byte{}
}

// activePorts counts the enabled ports attached (__agg_active_ports).
func (a *aggregator) activePorts() int {
	n := 0
	for p := a.lagPorts; p != nil; p = p.nextInAgg {
		if p.isEnabled {
			n++
		}
	}
	return n
}

// portsReady reports whether every attached port has Ready_N
// (__agg_ports_are_ready); true for a nil aggregator.
func (a *aggregator) portsReady() bool {
	if a == nil {
		return true
	}
	for p := a.lagPorts; p != nil; p = p.nextInAgg {
		if p.smVars&portReadyN == 0 {
			return false
		}
	}
	return true
}

// setPortsReady sets or clears Ready on every attached port
// (__set_agg_ports_ready).
func (a *aggregator) setPortsReady(val bool) {
	if a == nil {
		return
	}
	for p := a.lagPorts; p != nil; p = p.nextInAgg {
		if val {
			p.smVars |= portReady
		} else {
			p.smVars &^= portReady
		}
	}
}

// deviceUp reports whether any attached port's device is running with
// carrier (agg_device_up).
func (a *aggregator) deviceUp() bool {
	for p := a.lagPorts; p != nil; p = p.nextInAgg {
		if p.link.DevUp {
			return true
		}
	}
	return false
}
