package bond

import (
	"net"
	"net/netip"
	"strconv"

	"bondingfs/internal/frame"
)

// ModeID is a bonding mode's number (include/uapi/linux/if_bonding.h
// BOND_MODE_*), as the mode option's value table numbers it.
type ModeID int

// Bonding modes (BOND_MODE_*).
const (
	ModeRoundRobin   ModeID = 0 // balance-rr
	ModeActiveBackup ModeID = 1 // active-backup
	ModeXOR          ModeID = 2 // balance-xor
	ModeBroadcast    ModeID = 3 // broadcast
	Mode8023AD       ModeID = 4 // 802.3ad
	ModeTLB          ModeID = 5 // balance-tlb
	ModeALB          ModeID = 6 // balance-alb
)

// String returns the mode's name from the option table ("balance-rr",
// "802.3ad", ...), or "mode(N)" for a number outside it.
func (m ModeID) String() string { return enumString("mode", int(m)) }

// enumString is the String of an option's value type: the name the option
// table gives v, or "opt(N)" for a number outside the table.
func enumString(opt string, v int) string {
	if n := ValueName(opt, v); n != "" {
		return n
	}
	return opt + "(" + strconv.Itoa(v) + ")"
}

// UsesPrimary reports whether the mode has a primary and a current active
// slave (bond_uses_primary: active-backup, balance-tlb, balance-alb).
func (m ModeID) UsesPrimary() bool {
	return m == ModeActiveBackup || m == ModeTLB || m == ModeALB
}

// UsesARPMonitor reports whether the mode can use the ARP monitor
// (bond_mode_uses_arp: every mode but 802.3ad, balance-tlb, balance-alb).
func (m ModeID) UsesARPMonitor() bool {
	return m != Mode8023AD && m != ModeTLB && m != ModeALB
}

// IsLB reports the adaptive load balancing modes, balance-tlb and
// balance-alb (BOND_MODE_IS_LB, bond_is_lb).
func (m ModeID) IsLB() bool { return m == ModeTLB || m == ModeALB }

// CanUseXmitHash reports whether the mode spreads frames with
// xmit_hash_policy (bond_mode_can_use_xmit_hash: balance-xor, 802.3ad,
// balance-tlb, balance-alb).
func (m ModeID) CanUseXmitHash() bool {
	return m == ModeXOR || m == Mode8023AD || m == ModeTLB || m == ModeALB
}

// IsActiveBackup reports active-backup, the one mode whose MII monitor logs
// name the slave's role and whose slaves may keep their own MAC
// (fail_over_mac; bond_main.c tests BOND_MODE_ACTIVEBACKUP inline for both).
func (m ModeID) IsActiveBackup() bool { return m == ModeActiveBackup }

// FailOverMACInEffect is fail_over_mac as it acts: FOMNone outside
// active-backup ("fail_over_mac only affects active-backup mode").
func (p *Params) FailOverMACInEffect() FailOverMAC {
	if !p.Mode.IsActiveBackup() {
		return FOMNone
	}
	return p.FailOverMAC
}

// XmitPolicy is an xmit_hash_policy value (frame.XmitPolicy; its String
// gives the option table's names).
type XmitPolicy = frame.XmitPolicy

// xmit_hash_policy values (BOND_XMIT_POLICY_*).
const (
	XmitLayer2     = frame.XmitLayer2
	XmitLayer34    = frame.XmitLayer34
	XmitLayer23    = frame.XmitLayer23
	XmitEncap23    = frame.XmitEncap23
	XmitEncap34    = frame.XmitEncap34
	XmitVlanSrcMAC = frame.XmitVlanSrcMAC
)

// PrimaryReselect is a primary_reselect value (BOND_PRI_RESELECT_*).
type PrimaryReselect int

// primary_reselect values.
const (
	ReselectAlways  PrimaryReselect = 0
	ReselectBetter  PrimaryReselect = 1
	ReselectFailure PrimaryReselect = 2
)

// String returns the value's name from the option table ("always", ...),
// or "primary_reselect(N)" for a number outside it.
func (r PrimaryReselect) String() string { return enumString("primary_reselect", int(r)) }

// FailOverMAC is a fail_over_mac value (BOND_FOM_*).
type FailOverMAC int

// fail_over_mac values.
const (
	FOMNone   FailOverMAC = 0
	FOMActive FailOverMAC = 1
	FOMFollow FailOverMAC = 2
)

// String returns the value's name from the option table ("none", "active",
// "follow"), or "fail_over_mac(N)" for a number outside it.
func (f FailOverMAC) String() string { return enumString("fail_over_mac", int(f)) }

// ARPValidate is an arp_validate value (BOND_ARP_VALIDATE_*), a bit set:
// active=1, backup=2, filter=4.
type ARPValidate int

// arp_validate values.
const (
	ARPValidateNone         ARPValidate = 0
	ARPValidateActive       ARPValidate = 1
	ARPValidateBackup       ARPValidate = 2
	ARPValidateAll          ARPValidate = 3
	ARPValidateFilter       ARPValidate = 4
	ARPValidateFilterActive ARPValidate = 5
	ARPValidateFilterBackup ARPValidate = 6
)

// String returns the value's name from the option table ("none",
// "filter_active", ...), or "arp_validate(N)" for a number outside it.
func (a ARPValidate) String() string { return enumString("arp_validate", int(a)) }

// LACPRate is a lacp_rate value: the LACPDU rate asked of the partner.
type LACPRate int

// lacp_rate values (AD_LACP_SLOW, AD_LACP_FAST).
const (
	LACPRateSlow LACPRate = 0
	LACPRateFast LACPRate = 1
)

// String returns the value's name from the option table ("slow", "fast"),
// or "lacp_rate(N)" for a number outside it.
func (l LACPRate) String() string { return enumString("lacp_rate", int(l)) }

// ADSelect is an ad_select value: the 802.3ad aggregator selection policy
// (BOND_AD_STABLE, BOND_AD_BANDWIDTH, BOND_AD_COUNT; lacp.ADSelect).
type ADSelect int

// ad_select values.
const (
	ADSelectStable    ADSelect = 0
	ADSelectBandwidth ADSelect = 1
	ADSelectCount     ADSelect = 2
)

// String returns the value's name from the option table ("stable",
// "bandwidth", "count"), or "ad_select(N)" for a number outside it.
func (a ADSelect) String() string { return enumString("ad_select", int(a)) }

// MaxARPTargets is BOND_MAX_ARP_TARGETS.
const MaxARPTargets = 16

// MaxNSTargets is BOND_MAX_NS_TARGETS (= BOND_MAX_ARP_TARGETS): the NS
// monitor's targets share the slaves' per-target receive times with the ARP
// targets, slot by slot.
const MaxNSTargets = MaxARPTargets

// Params holds a bond's configuration: the kernel's struct bond_params.
// Delays are stored as the kernel stores them, in miimon ticks, and shown
// multiplied by Miimon.
type Params struct {
	Mode            ModeID
	XmitPolicy      XmitPolicy
	Miimon          int // ms; 0 = MII monitoring off
	UpDelay         int // miimon ticks
	DownDelay       int // miimon ticks
	PeerNotifDelay  int // miimon ticks
	ARPInterval     int // ms; 0 = ARP monitoring off
	ARPValidate     ARPValidate
	ARPAllTargets   int // 0 any, 1 all
	ARPTargets      []netip.Addr
	NSTargets       []netip.Addr // ns_ip6_target (netlink only), IPv6, at most MaxNSTargets
	MissedMax       int          // arp_missed_max, 1..255
	Primary         string
	PrimaryReselect PrimaryReselect
	FailOverMAC     FailOverMAC
	UseCarrier      int
	LACPRate        LACPRate
	LACPActive      int // 0 off, 1 on
	ADSelect        ADSelect
	NumPeerNotif    int // num_grat_arp = num_unsol_na, 0..255
	AllSlavesActive int
	ResendIGMP      int
	MinLinks        int
	LpInterval      int // seconds
	PacketsPerSlave int
	TLBDynamicLB    int
	ADActorSysPrio  int
	ADUserPortKey   int
	ADActorSystem   net.HardwareAddr // 6 bytes; all zero = use the bond's MAC
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
		LACPActive:      1,
		NumPeerNotif:    1,
		ResendIGMP:      1,
		LpInterval:      1,
		PacketsPerSlave: 1,
		TLBDynamicLB:    1,
		ADActorSysPrio:  65535,
		ADActorSystem:   net.HardwareAddr{0, 0, 0, 0, 0, 0},
		TxQueues:        16,
	}
}

// Clone returns a deep copy of p.
func (p Params) Clone() Params {
	q := p
	q.ARPTargets = append([]netip.Addr(nil), p.ARPTargets...)
	q.NSTargets = append([]netip.Addr(nil), p.NSTargets...)
	q.ADActorSystem = append(net.HardwareAddr(nil), p.ADActorSystem...)
	return q
}
