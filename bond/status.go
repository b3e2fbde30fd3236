package bond

import "net"

// LinkState is a slave's link state (the kernel's slave->link, BOND_LINK_*).
type LinkState int

// Slave link states, as bonding_slave/mii_status shows them.
const (
	LinkUp   LinkState = 0 // "up"
	LinkFail LinkState = 1 // "going down"
	LinkDown LinkState = 2 // "down"
	LinkBack LinkState = 3 // "going back"
)

// String is the text of bonding_slave/mii_status and of the "MII Status:"
// line of a slave in /proc/net/bonding (bond_slave_link_status): "up",
// "going down", "down", "going back", or "unknown".
func (s LinkState) String() string {
	switch s {
	case LinkUp:
		return "up"
	case LinkFail:
		return "going down"
	case LinkDown:
		return "down"
	case LinkBack:
		return "going back"
	}
	return "unknown"
}

// Snapshot is an immutable view of every bond, published by the control
// goroutine after each change. Readers must not modify it.
type Snapshot struct {
	Bonds []*BondStatus // in creation order (the order of bonding_masters)
}

// Bond returns the bond named name, or nil.
func (s *Snapshot) Bond(name string) *BondStatus {
	for _, b := range s.Bonds {
		if b.Name == name {
			return b
		}
	}
	return nil
}

// Slave returns the bond that has an enslaved interface named name, and that
// slave, or nil, nil.
func (s *Snapshot) Slave(name string) (*BondStatus, *SlaveStatus) {
	for _, b := range s.Bonds {
		for i := range b.Slaves {
			if b.Slaves[i].Name == name {
				return b, &b.Slaves[i]
			}
		}
	}
	return nil, nil
}

// BondStatus is one bond's state at one moment.
type BondStatus struct {
	Name    string
	Index   int // ifindex of the master TAP
	Params  Params
	Up      bool // IFF_UP of the master
	Carrier bool // the bond's carrier (bonding/mii_status)
	HWAddr  net.HardwareAddr
	MTU     int
	Slaves  []SlaveStatus // in enslave order
	// ActiveSlave is curr_active_slave's name, "" when none.
	ActiveSlave string
	// PrimarySlave is the name of the enslaved primary slave, "" when the
	// primary option names no current slave.
	PrimarySlave string
	AD           *ADStatus // non-nil in 802.3ad mode
	// Failovers counts changes of curr_active_slave away from a slave
	// (to another one or to none) since the bond was created.
	Failovers int
	// DataPath is the path carrying the bond's frames: "ebpf" (the
	// in-kernel fast path, fastpath.go) or "userspace".
	DataPath string
	// FastStats reads the fast path's live counters of the bond (frames
	// it sent and delivered in the kernel, which the TAP's own counters
	// never see); nil without a fast path.
	FastStats func() FastStats
}

// SlaveStatus is one slave's state at one moment.
type SlaveStatus struct {
	Name             string
	Index            int
	Link             LinkState
	Active           bool // bonding_slave/state "active" (else "backup")
	LinkFailureCount int
	PermHWAddr       net.HardwareAddr
	QueueID          int
	Speed            int            // Mb/s or SpeedUnknown
	Duplex           int            // DuplexHalf, DuplexFull or DuplexUnknown
	AD               *ADSlaveStatus // nil outside 802.3ad or without aggregator
	// Counters are the slave's live data-path counters (never nil in a
	// Registry's snapshots).
	Counters *SlaveCounters
	// ADStats are the port's LACPDU and marker counters (BOND_XSTATS_3AD),
	// nil outside 802.3ad.
	ADStats *ADStats
}

// ADStatus is the 802.3ad part of /proc/net/bonding and the ad_* files.
type ADStatus struct {
	ActiveAggregator *ADAggregator // nil when none
	SystemPriority   int
	SystemMAC        net.HardwareAddr
	// Stats are the bond's counters: every port's, removed ports' too.
	Stats ADStats
}

// ADStats are 802.3ad LACPDU and marker counters (struct bond_3ad_stats,
// netlink BOND_3AD_STAT_*; iproute2 shows them as "LACPDU Rx" and so on).
type ADStats struct {
	LACPDURx        uint64
	LACPDUTx        uint64
	LACPDUUnknownRx uint64 // Slow Protocols frames of another subtype
	LACPDUIllegalRx uint64 // Slow Protocols frames shorter than an LACPDU
	MarkerRx        uint64
	MarkerTx        uint64
	MarkerRespRx    uint64
	MarkerRespTx    uint64
	MarkerUnknownRx uint64
}

// ADAggregator is one 802.3ad aggregator as the bond reports it.
type ADAggregator struct {
	ID         int
	NumPorts   int
	ActorKey   int
	PartnerKey int
	PartnerMAC net.HardwareAddr
}

// ADSlaveStatus is one port's 802.3ad state.
type ADSlaveStatus struct {
	AggregatorID     int
	ActorOperState   int
	PartnerOperState int
	// Churn detection machine states (802.1AX-2014 §6.4.17; the kernel's
	// bond_3ad_churn_desc): "monitoring", "churned" or "none".
	ActorChurnState   string
	PartnerChurnState string
	ActorChurnCount   int
	PartnerChurnCount int
	// Actor is this port's operational information, Partner the partner's as
	// last received in an LACPDU (the "details … lacp pdu" blocks).
	Actor   ADPortInfo
	Partner ADPortInfo
}

// ADPortInfo is one side of an 802.3ad port's operational information.
type ADPortInfo struct {
	SystemPriority int
	System         net.HardwareAddr
	Key            int
	PortPriority   int
	PortNumber     int
	PortState      int
}
