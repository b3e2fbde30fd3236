// Package alb is the adaptive load balancing of the bonding driver: the
// transmit load balancing table of balance-tlb and balance-alb (TLB) and the
// receive load balancing client table of balance-alb (RLB), with the MAC
// address rules that go with them. It follows Linux 6.1
// drivers/net/bonding/bond_alb.c and include/net/bond_alb.h.
//
// The package has no clock: Monitor is one run of the kernel's alb_work and
// must be called every 100 ms (ALB_TIMER_TICKS_PER_SEC = 10); every period
// below is in those ticks. It does no host I/O of its own: MAC addresses and
// promiscuity go through the Host the caller supplies, frames through each
// Slave's device (SetSlaveDev). Every method is safe for concurrent use: one mutex stands for
// the kernel's mode_lock, so Xmit (the bond device's transmit path) may run
// beside the control methods.
package alb

import (
	"encoding/binary"
	"sync"
)

// Periods and sizes of bond_alb.h.
const (
	TicksPerSec       = 10                              // ALB_TIMER_TICKS_PER_SEC
	RebalanceInterval = 10                              // BOND_TLB_REBALANCE_INTERVAL, seconds
	RebalanceTicks    = RebalanceInterval * TicksPerSec // BOND_TLB_REBALANCE_TICKS
	TLBHashSize       = 256                             // TLB_HASH_TABLE_SIZE
	RLBHashSize       = 256                             // RLB_HASH_TABLE_SIZE
	RLBUpdateDelay    = 2 * TicksPerSec                 // RLB_UPDATE_DELAY
	RLBARPBurst       = 2                               // RLB_ARP_BURST_SIZE
	RLBUpdateRetry    = 3                               // RLB_UPDATE_RETRY
	RLBPromiscTimeout = 10 * TicksPerSec                // RLB_PROMISC_TIMEOUT
	nullIndex         = 0xffffffff                      // TLB_NULL_INDEX, RLB_NULL_INDEX
	vnetHdrLen        = 10                              // bond.VnetHdrLen
	lpFrameLen        = 60                              // ETH_ZLEN: a learning packet
	arpFrameLen       = 14 + 28                         // an ARP reply without tag
	etherTypeLoopback = 0x9000                          // ETH_P_LOOPBACK
	etherTypeVLAN     = 0x8100                          // ETH_P_8021Q
	etherTypeIPv4     = 0x0800
	etherTypeIPv6     = 0x86dd
	etherTypeARP      = 0x0806
	arpRequest        = 1
	arpReply          = 2
)

// MAC is an Ethernet address.
type MAC [6]byte

// IsValid reports whether m is a unicast, non-zero address
// (is_valid_ether_addr).
func (m MAC) IsValid() bool { return m[0]&1 == 0 && m != MAC{} }

// SlaveDev sends frames on a slave: a virtio_net_hdr (10 bytes) and an Ethernet
// frame; bond.SlaveDev satisfies it.
type SlaveDev interface {
	WriteFrame(frame []byte) error
}

// Slave is one slave as this package sees it (the kernel's struct slave with
// its tlb_slave_info). Name, Perm and Data are set by the caller before
// InitSlave and not changed afterwards; MAC is the slave's current address
// (dev_addr) and changes only through the package (Host.SetMAC); Speed and
// CanTx are set with SetLink, the device with SetSlaveDev.
type Slave struct {
	Name  string
	Perm  MAC // perm_hwaddr
	MAC   MAC // dev_addr
	Data  any // the caller's own
	speed uint32
	canTx bool // bond_slave_can_tx
	dev   SlaveDev
	head  uint32 // tlb_slave_info.head: first tx_hashtbl entry on this slave
	load  uint32 // tlb_slave_info.load: sum of its entries' load_history
}

// CanTx reports whether the slave can transmit (bond_slave_can_tx) as last
// set.
func (s *Slave) CanTx() bool { return s.canTx }

// Host is what the tables need from the bond: set a slave's MAC address
// (dev_set_mac_address) and promiscuity, and log. Called with the package's
// mutex held, never from Xmit.
type Host interface {
	// SetMAC sets the slave's address on the device; on success the package
	// records it in s.MAC.
	SetMAC(s *Slave, mac MAC) error
	// SetPromisc adds (+1) or drops (-1) one promiscuity reference on s
	// (dev_set_promiscuity).
	SetPromisc(s *Slave, inc int) error
	// SlaveLogf writes a "bond0: (slave eth0): …" line.
	SlaveLogf(s *Slave, format string, args ...any)
	// Logf writes a "bond0: …" line.
	Logf(format string, args ...any)
}

// Config is the part of the bond's parameters the tables read.
type Config struct {
	// TLBOnly is balance-tlb (BOND_MODE_TLB): slave addresses change only
	// in dev_addr in the kernel; here they are set on the device too.
	TLBOnly bool
	// DynamicLB is tlb_dynamic_lb.
	DynamicLB bool
	// LPInterval is lp_interval in seconds (learning packets).
	LPInterval int
	// Hash is bond_xmit_hash under the bond's xmit_hash_policy, over an
	// Ethernet frame.
	Hash func(eth []byte) uint32
	// Bound, if set, is called after Xmit or XmitEach bound a tlb bucket
	// to a slave (the eBPF fast path mirrors the table: bond.FastTLBer),
	// on the transmitting goroutine, without the tables' lock.
	Bound func()
}

// tlbEntry is struct tlb_client_info.
type tlbEntry struct {
	slave       *Slave
	txBytes     uint32
	loadHistory uint32
	next, prev  uint32
}

// rlbEntry is struct rlb_client_info.
type rlbEntry struct {
	ipSrc, ipDst       uint32 // the bond's address, the client's (network order as read)
	macSrc, macDst     MAC
	usedNext, usedPrev uint32
	srcNext, srcPrev   uint32
	srcFirst           uint32
	assigned, ntt      bool
	slave              *Slave
	vlanID             uint16
}

// ALB is one bond's alb_bond_info with its slaves.
type ALB struct {
	mu   sync.Mutex
	host Host
	cfg  Config

	bondMAC MAC
	slaves  []*Slave // in the bond's slave order
	curr    *Slave   // curr_active_slave
	usable  []*Slave // bond->usable_slaves (tlb_dynamic_lb=0)

	// TLB
	tx                 *[TLBHashSize]tlbEntry // nil before Initialize / after Deinitialize
	unbalancedLoad     uint32
	txRebalanceCounter int
	lpCounter          int
	bound              bool // a bucket was bound in this Xmit (Config.Bound)

	// RLB
	rlbEnabled       bool
	rx               *[RLBHashSize]rlbEntry
	rxUsedHead       uint32
	rxNTT            bool
	rxSlave          *Slave
	primaryIsPromisc bool
	promiscTimeout   int
	updateDelay      int
	updateRetry      int
	rlbRebalance     bool
	vlans            [4096 / 64]uint64 // VLAN ids seen on frames from the bond (the upper VLAN devices)
	buf              [vnetHdrLen + 18 + 28 + 64]byte
}

// New returns the tables of a bond; Initialize makes them.
func New(h Host, cfg Config) *ALB { return &ALB{host: h, cfg: cfg} }

// SetConfig replaces the parameters (an option was written).
func (a *ALB) SetConfig(cfg Config) {
	a.mu.Lock()
	a.cfg = cfg
	a.mu.Unlock()
}

// SetBondMAC records the bond device's address.
func (a *ALB) SetBondMAC(m MAC) {
	a.mu.Lock()
	a.bondMAC = m
	a.mu.Unlock()
}

// Slaves returns the slaves in order (a copy).
func (a *ALB) Slaves() []*Slave {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]*Slave(nil), a.slaves...)
}

// updateUsable is bond_update_slave_arr for tlb_dynamic_lb=0: the slaves
// that can transmit.
func (a *ALB) updateUsable() {
	a.usable = a.usable[:0:0]
	for _, s := range a.slaves {
		if s.canTx {
			a.usable = append(a.usable, s)
		}
	}
}

// Initialize is bond_alb_initialize at bond_open: fresh TLB table, and the
// RLB table when rlb (balance-alb).
func (a *ALB) Initialize(rlb bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.tx = new([TLBHashSize]tlbEntry)
	for i := range a.tx {
		a.tlbInitEntry(&a.tx[i], false)
	}
	a.rlbEnabled = rlb
	if rlb {
		a.rx = new([RLBHashSize]rlbEntry)
		a.rxUsedHead = nullIndex
		for i := range a.rx {
			a.rlbInitEntry(&a.rx[i])
		}
	}
}

// Deinitialize is bond_alb_deinitialize at bond_close.
func (a *ALB) Deinitialize() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.tx = nil
	if a.rlbEnabled {
		a.rx = nil
		a.rxUsedHead = nullIndex
	}
}

// hasMAC is bond_slave_has_mac: the slave whose current address is m.
func (a *ALB) hasMAC(m MAC) *Slave {
	for _, s := range a.slaves {
		if s.MAC == m {
			return s
		}
	}
	return nil
}

// simpleHash is _simple_hash: the XOR of the bytes.
func simpleHash(b []byte) uint32 {
	var h byte
	for _, c := range b {
		h ^= c
	}
	return uint32(h)
}

func ipHash(ip uint32) uint32 {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], ip)
	return simpleHash(b[:])
}

// setSlaveMAC is alb_set_slave_mac_addr; for balance-alb a failure is
// logged and returned.
func (a *ALB) setSlaveMAC(s *Slave, m MAC) error {
	if err := a.host.SetMAC(s, m); err != nil {
		if !a.cfg.TLBOnly {
			a.host.SlaveLogf(s, "dev_set_mac_address on slave failed! ALB mode requires that the base driver support setting the hw address also when the network device's interface is open")
			return err
		}
		// balance-tlb changes only dev_addr in the kernel, which cannot fail
	}
	s.MAC = m
	return nil
}
