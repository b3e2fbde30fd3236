package lacp

import "fmt"

// PortID names a port (a bond slave) in calls to System. The adapter
// chooses it (an ifindex, a slave index); it must be unique in a System.
type PortID int

// ADSelect is the aggregator selection policy (the ad_select option,
// BOND_AD_STABLE/BANDWIDTH/COUNT).
type ADSelect int

// ad_select values, numbered as the kernel numbers them.
const (
	SelectStable    ADSelect = 0
	SelectBandwidth ADSelect = 1
	SelectCount     ADSelect = 2
)

// String returns the option value's name ("stable", "bandwidth", "count").
func (a ADSelect) String() string {
	switch a {
	case SelectStable:
		return "stable"
	case SelectBandwidth:
		return "bandwidth"
	case SelectCount:
		return "count"
	}
	return fmt.Sprintf("ADSelect(%d)", int(a))
}

// LinkStatus is the bond's view of a slave's link (struct slave's link,
// BOND_LINK_*), as the MII monitor keeps it.
type LinkStatus int

// Link states, numbered as the kernel numbers them.
const (
	LinkUp   LinkStatus = 0 // BOND_LINK_UP
	LinkFail LinkStatus = 1 // BOND_LINK_FAIL: going down (downdelay)
	LinkDown LinkStatus = 2 // BOND_LINK_DOWN
	LinkBack LinkStatus = 3 // BOND_LINK_BACK: going back (updelay)
)

// Speed and duplex values as ethtool reports them (SPEED_UNKNOWN,
// DUPLEX_*).
const (
	SpeedUnknown  = -1
	DuplexHalf    = 0
	DuplexFull    = 1
	DuplexUnknown = 0xff
)

// Link is what bond_3ad.c reads of a slave outside its own port structure:
// the MII monitor's link state, the speed and duplex last read with
// ethtool (bond_update_speed_duplex), and whether the device is running
// with carrier (bond_slave_is_up: netif_running && netif_carrier_ok).
type Link struct {
	Status LinkStatus
	Speed  int // Mb/s, or SpeedUnknown
	Duplex int // DuplexHalf, DuplexFull or DuplexUnknown
	DevUp  bool
}

// ChurnState is the state of a churn detection machine
// (802.1AX-2014 §6.4.17; the kernel's churn_state_t).
type ChurnState int

// Churn states, numbered as the kernel numbers them.
const (
	ChurnMonitor ChurnState = 0 // AD_CHURN_MONITOR
	Churned      ChurnState = 1 // AD_CHURN
	NoChurn      ChurnState = 2 // AD_NO_CHURN
)

// String returns the text /proc/net/bonding shows for the state
// (bond_3ad_churn_desc): "monitoring", "churned", "none" or "unknown".
func (c ChurnState) String() string {
	switch c {
	case ChurnMonitor:
		return "monitoring"
	case Churned:
		return "churned"
	case NoChurn:
		return "none"
	}
	return "unknown"
}

// RxState is the state of a port's Receive machine (rx_states_t).
type RxState int

// Receive machine states, numbered as the kernel numbers them.
const (
	RxDummy RxState = iota
	RxInitialize
	RxPortDisabled
	RxLACPDisabled
	RxExpired
	RxDefaulted
	RxCurrent
)

var rxNames = [...]string{"DUMMY", "INITIALIZE", "PORT_DISABLED", "LACP_DISABLED", "EXPIRED", "DEFAULTED", "CURRENT"}

// String returns the kernel's name of the Receive machine state without its
// AD_ prefix ("CURRENT", "COLLECTING_DISTRIBUTING").
func (s RxState) String() string {
	if s >= 0 && int(s) < len(rxNames) {
		return rxNames[s]
	}
	return fmt.Sprintf("RxState(%d)", int(s))
}

// PeriodicState is the state of a port's Periodic Transmission machine
// (periodic_states_t).
type PeriodicState int

// Periodic Transmission machine states, numbered as the kernel numbers them.
const (
	PeriodicDummy PeriodicState = iota
	NoPeriodic
	FastPeriodic
	SlowPeriodic
	PeriodicTX
)

var periodicNames = [...]string{"DUMMY", "NO_PERIODIC", "FAST_PERIODIC", "SLOW_PERIODIC", "PERIODIC_TX"}

// String returns the kernel's name of the Periodic Transmission machine state without its
// AD_ prefix ("CURRENT", "COLLECTING_DISTRIBUTING").
func (s PeriodicState) String() string {
	if s >= 0 && int(s) < len(periodicNames) {
		return periodicNames[s]
	}
	return fmt.Sprintf("PeriodicState(%d)", int(s))
}

// MuxState is the state of a port's Mux machine (mux_states_t).
// MuxCollecting and MuxDistributing are used only with coupled_control off.
type MuxState int

// Mux machine states, numbered as the kernel numbers them.
const (
	MuxDummy MuxState = iota
	MuxDetached
	MuxWaiting
	MuxAttached
	MuxCollecting
	MuxDistributing
	MuxCollectingDistributing
)

var muxNames = [...]string{"DUMMY", "DETACHED", "WAITING", "ATTACHED", "COLLECTING", "DISTRIBUTING", "COLLECTING_DISTRIBUTING"}

// String returns the kernel's name of the Mux machine state without its
// AD_ prefix ("CURRENT", "COLLECTING_DISTRIBUTING").
func (s MuxState) String() string {
	if s >= 0 && int(s) < len(muxNames) {
		return muxNames[s]
	}
	return fmt.Sprintf("MuxState(%d)", int(s))
}

// Stats are the LACPDU and Marker counters of a port or a bond
// (struct bond_3ad_stats; netlink BOND_3AD_STAT_*, shown by iproute2 as
// "LACPDU Rx" and so on).
type Stats struct {
	LACPDURx        uint64
	LACPDUTx        uint64
	LACPDUUnknownRx uint64 // Slow Protocols frames of another subtype
	LACPDUIllegalRx uint64 // Slow Protocols frames shorter than PDULen
	MarkerRx        uint64 // Marker Information received
	MarkerTx        uint64 // Marker Information sent (never: the kernel sends none)
	MarkerRespRx    uint64
	MarkerRespTx    uint64
	MarkerUnknownRx uint64
}

// Level is the printk level of a log event.
type Level int

// Log levels as the kernel numbers them (KERN_ERR, KERN_WARNING, KERN_INFO).
const (
	LevelErr  Level = 3
	LevelWarn Level = 4
	LevelInfo Level = 6
)

// Event is one line the kernel's bond_3ad.c would print at its default log
// level (netdev_dbg/slave_dbg lines are not produced).
type Event struct {
	Level Level
	// Text is the message as it appears in the kernel log, without the
	// trailing newline, e.g. "bond0: (slave eth0): Removing an active
	// aggregator". The illegal-loopback message spans two lines joined by
	// "\n", as the kernel prints it.
	Text string
	// RateLimited marks net_warn_ratelimited messages: the adapter should
	// drop them beyond net_ratelimit()'s budget (10 per 5 s by default).
	RateLimited bool
	// Once marks pr_err_once messages: the kernel prints each of them once
	// per module load; the adapter should too.
	Once bool
}

// Change tells the adapter, after a call, what of the state it mirrors
// may have changed.
type Change uint8

// Change bits.
const (
	// ChangeSlaveArray: the set of ports to transmit on may differ
	// (the kernel's update_slave_arr / bond_update_slave_arr): rebuild the
	// TX table from DistributingPorts.
	ChangeSlaveArray Change = 1 << iota
	// ChangePortFlags: a port's Backup, Inactive or RxDisabled flag
	// changed (bonding_slave/state, receive filtering).
	ChangePortFlags
	// ChangeCarrier: the bond's carrier changed (Carrier).
	ChangeCarrier
)
