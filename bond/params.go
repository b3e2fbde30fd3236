package bond

import (
	"net"
	"net/netip"
)

// Bonding modes (include/uapi/linux/if_bonding.h BOND_MODE_*).
const (
	ModeRoundRobin   = 0 // balance-rr
	ModeActiveBackup = 1 // active-backup
	ModeXOR          = 2 // balance-xor
	ModeBroadcast    = 3 // broadcast
	Mode8023AD       = 4 // 802.3ad
	ModeTLB          = 5 // balance-tlb
	ModeALB          = 6 // balance-alb
)

// xmit_hash_policy values (BOND_XMIT_POLICY_*).
const (
	XmitLayer2     = 0
	XmitLayer34    = 1
	XmitLayer23    = 2
	XmitEncap23    = 3
	XmitEncap34    = 4
	XmitVlanSrcMAC = 5
)

// primary_reselect values (BOND_PRI_RESELECT_*).
const (
	ReselectAlways  = 0
	ReselectBetter  = 1
	ReselectFailure = 2
)

// fail_over_mac values (BOND_FOM_*).
const (
	FOMNone   = 0
	FOMActive = 1
	FOMFollow = 2
)

// arp_validate values (BOND_ARP_VALIDATE_*, a bit set: active=1, backup=2, filter=4).
const (
	ArpValidateNone         = 0
	ArpValidateActive       = 1
	ArpValidateBackup       = 2
	ArpValidateAll          = 3
	ArpValidateFilter       = 4
	ArpValidateFilterActive = 5
	ArpValidateFilterBackup = 6
)

// MaxArpTargets is BOND_MAX_ARP_TARGETS.
const MaxArpTargets = 16

// Params holds a bond's configuration: the kernel's struct bond_params.
// Delays are stored as the kernel stores them, in miimon ticks, and shown
// multiplied by Miimon.
type Params struct {
	Mode            int
	XmitPolicy      int
	Miimon          int // ms; 0 = MII monitoring off
	UpDelay         int // miimon ticks
	DownDelay       int // miimon ticks
	PeerNotifDelay  int // miimon ticks
	ArpInterval     int // ms; 0 = ARP monitoring off
	ArpValidate     int
	ArpAllTargets   int // 0 any, 1 all
	ArpTargets      []netip.Addr
	MissedMax       int // arp_missed_max, 1..255
	Primary         string
	PrimaryReselect int
	FailOverMAC     int
	UseCarrier      int
	LacpRate        int // 0 slow, 1 fast
	LacpActive      int // 0 off, 1 on
	AdSelect        int
	NumPeerNotif    int // num_grat_arp = num_unsol_na, 0..255
	AllSlavesActive int
	ResendIGMP      int
	MinLinks        int
	LpInterval      int // seconds
	PacketsPerSlave int
	TLBDynamicLB    int
	AdActorSysPrio  int
	AdUserPortKey   int
	AdActorSystem   net.HardwareAddr // 6 bytes; all zero = use the bond's MAC
	TxQueues        int              // module option tx_queues (queue_id limit)
}

// DefaultParams returns the kernel's defaults (bond_check_params with no
// module options).
func DefaultParams() Params {
	return Params{
		Mode:            ModeRoundRobin,
		XmitPolicy:      XmitLayer2,
		MissedMax:       2,
		PrimaryReselect: ReselectAlways,
		UseCarrier:      1,
		LacpActive:      1,
		NumPeerNotif:    1,
		ResendIGMP:      1,
		LpInterval:      1,
		PacketsPerSlave: 1,
		TLBDynamicLB:    1,
		AdActorSysPrio:  65535,
		AdActorSystem:   net.HardwareAddr{0, 0, 0, 0, 0, 0},
		TxQueues:        16,
	}
}

// Clone returns a deep copy of p.
func (p Params) Clone() Params {
	q := p
	q.ArpTargets = append([]netip.Addr(nil), p.ArpTargets...)
	q.AdActorSystem = append(net.HardwareAddr(nil), p.AdActorSystem...)
	return q
}

// UsesPrimary reports whether the mode has a primary/active slave
// (bond_uses_primary: active-backup, balance-tlb, balance-alb).
func UsesPrimary(mode int) bool {
	return mode == ModeActiveBackup || mode == ModeTLB || mode == ModeALB
}

// IsLB reports bond_mode_can_use_xmit_hash-style load-balancing modes that
// need MII monitoring (802.3ad, balance-tlb, balance-alb: BOND_MODE_IS_LB).
func IsLB(mode int) bool {
	return mode == Mode8023AD || mode == ModeTLB || mode == ModeALB
}
