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
func (m ModeID) String() string {
	if n := ValueName("mode", int(m)); n != "" {
		return n
	}
	return "mode(" + strconv.Itoa(int(m)) + ")"
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
func (p *Params) FailOverMACInEffect() int {
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
	ARPValidateNone         = 0
	ARPValidateActive       = 1
	ARPValidateBackup       = 2
	ARPValidateAll          = 3
	ARPValidateFilter       = 4
	ARPValidateFilterActive = 5
	ARPValidateFilterBackup = 6
)

// MaxARPTargets is BOND_MAX_ARP_TARGETS.
const MaxARPTargets = 16

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
	ARPValidate     int
	ARPAllTargets   int // 0 any, 1 all
	ARPTargets      []netip.Addr
	MissedMax       int // arp_missed_max, 1..255
	Primary         string
	PrimaryReselect int
	FailOverMAC     int
	UseCarrier      int
	LACPRate        int // 0 slow, 1 fast
	LACPActive      int // 0 off, 1 on
	ADSelect        int
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
	q.ADActorSystem = append(net.HardwareAddr(nil), p.ADActorSystem...)
	return q
}
