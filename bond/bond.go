package bond

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Bond is one bond on the control goroutine (the kernel's struct bonding).
// Its fields and methods may be used only from the control goroutine: option
// setters, link events and timers all run there.
type Bond struct {
	reg    *Registry
	name   string
	index  int
	params Params
	master Master
	// failovers counts changes of curr_active_slave away from a slave
	failovers int

	requeue func() // requeueDropped's work, started by the next rebuildTx

	up      bool // IFF_UP of the master TAP
	carrier bool
	hwaddr  net.HardwareAddr
	macSet  bool // the MAC is no longer random (taken from a slave or set by the user)
	mtu     int

	slaves       []*Slave
	currActive   *Slave
	primary      *Slave // the slave named by params.Primary, if enslaved
	forcePrimary bool

	linkSeq       uint64 // the newest host read applied (fetch)
	unregistering bool   // log prefix "bond0 (unregistering)"
	uninitialized bool   // log prefix "bond0 (uninitialized)": rtnetlink's newlink before register
	deleted       bool

	modeID    ModeID  // the mode mode is an instance of
	mode      Mode    // the instance of params.Mode (modeTable)
	miiWork   *Work   // the MII monitor (bond->mii_work)
	tickWork  *Work   // the mode's Tick
	modeWorks []*Work // works the mode made (Control.NewWork)
	arp       arpMon  // the ARP monitor and peer notification (arpmon.go)

	// data path
	tx      atomic.Pointer[txBox]
	probe   atomic.Uint32                        // FrameClass the receive probe hands to the mode (0 = none)
	direct  atomic.Pointer[func(*Slave, []byte)] // SetRecvDirect
	readers sync.WaitGroup
	fp      fpBond // the in-kernel fast path's state (fastpath.go)
}

// Slave is one enslaved interface on the control goroutine (struct slave).
type Slave struct {
	bond  *Bond
	name  string
	index int
	kind  string // rtnetlink link kind at enslavement ("veth"; "" for a NIC): the carrier read's dump filter
	dev   SlaveDev

	link             LinkState
	newLink          LinkState
	delay            int // remaining up/down delay in miimon ticks
	active           bool
	linkFailureCount int
	permHWAddr       net.HardwareAddr
	queueID          int
	speed            int
	duplex           int
	origMTU          int
	devUp            bool                     // IFF_UP of the slave
	carrier          bool                     // IFF_LOWER_UP of the slave
	seen             atomic.Uint32            // devUp|carrier as the control goroutine knows them, for the carrier read
	rxDrop           atomic.Bool              // frames received here are not delivered (inactive slave)
	rxUnicast        atomic.Bool              // ... except unicast ones (balance-alb; SetSlaveRx)
	rxLocal          atomic.Pointer[[12]byte] // the slave's own MAC and the bond's (SetSlaveRx)
	rxPender         atomic.Pointer[RxPender] // the device while it is open, when it can tell (RxPending)
	txDropped        atomic.Uint64            // 1 + tx_dropped at the last carrier read that found the link up (0: none yet)
	readerDone       chan struct{}
	rxFree           chan *rxBuf  // the receive probe's buffers not in use
	rxMade           atomic.Int32 // the receive probe's buffers allocated (at most rxBufs)
	modeData         any
	released         bool
	linkSeq          uint64    // the newest host read applied (fetch)
	nextSpeed        speedRead // speed read with the newest link state, for the next commit
	counters         SlaveCounters
	arp              arpSlave    // ARP monitor times (arpmon.go)
	fp               atomic.Bool // the fast path delivers this slave's frames (fastpath.go)
}

// Name returns the bond's interface name.
func (b *Bond) Name() string { return b.name }

// Params returns the bond's parameters for reading and changing them in an
// option setter (control goroutine only).
func (b *Bond) Params() *Params { return &b.params }

// HasSlaves reports whether the bond has at least one slave.
func (b *Bond) HasSlaves() bool { return len(b.slaves) > 0 }

// IsUp reports whether the bond device is administratively up (IFF_UP) as
// the control goroutine knows it. Registry.WriteOption brings it up to date
// with the host before the write (fetching outside the control goroutine),
// so that a write right after `ip link set bond0 up` sees the bond up even
// if the rtnetlink event is still on its way.
func (b *Bond) IsUp() bool { return b.up }

// HWAddr returns the bond device's MAC address (do not modify).
func (b *Bond) HWAddr() net.HardwareAddr { return b.hwaddr }

// ActiveSlave returns curr_active_slave, or nil.
func (b *Bond) ActiveSlave() *Slave { return b.currActive }

// Now returns the time of the bond's clock.
func (b *Bond) Now() time.Time { return b.reg.cfg.Clock.Now() }

// Clock returns the bond's clock (Config.Clock, or the real one; see
// Control.Clock).
func (b *Bond) Clock() Clock { return b.reg.cfg.Clock }

// Post runs fn on the control goroutine (see Control.Post).
func (b *Bond) Post(fn func()) error {
	return b.reg.Do(context.Background(), func() error { fn(); return nil })
}

// Mode returns the bond's mode instance.
func (b *Bond) Mode() Mode { return b.mode }

// SlaveByName returns the slave named name, or nil.
func (b *Bond) SlaveByName(name string) *Slave {
	for _, s := range b.slaves {
		if s.name == name {
			return s
		}
	}
	return nil
}

// Slaves returns the slaves in enslave order (do not modify the slice).
func (b *Bond) Slaves() []*Slave { return b.slaves }

// Name returns the slave's interface name.
func (s *Slave) Name() string { return s.name }

// Index returns the slave's ifindex.
func (s *Slave) Index() int { return s.index }

// Link returns the slave's link state (LinkUp, LinkFail, LinkDown, LinkBack).
func (s *Slave) Link() LinkState { return s.link }

// Active reports whether the slave is active (not a backup).
func (s *Slave) Active() bool { return s.active }

// DevUp reports whether the slave device is administratively up.
func (s *Slave) DevUp() bool { return s.devUp }

// Carrier reports whether the slave has carrier (IFF_LOWER_UP) as the
// control goroutine knows it.
func (s *Slave) Carrier() bool { return s.carrier }

// Dev returns the slave's open socket, nil before it is opened and after
// release. A mode may keep it between Bind and Unbind and write frames to it
// from any goroutine (WriteFrame is safe for concurrent use); the device is
// closed only after Unbind returns.
func (s *Slave) Dev() SlaveDev { return s.dev }

// StatusChanged marks the bond's state changed: the control loop publishes a
// new snapshot after the current operation (a mode whose Status changed
// outside the engine's own calls).
func (b *Bond) StatusChanged() { b.changed() }

// Speed returns the slave's speed in Mb/s (SpeedUnknown) and duplex
// (DuplexHalf, DuplexFull, DuplexUnknown), as last read (bond_update_speed_duplex).
func (s *Slave) Speed() (mbps, duplex int) { return s.speed, s.duplex }

// PermHWAddr returns the slave's own MAC address from before it was
// enslaved (do not modify).
func (s *Slave) PermHWAddr() net.HardwareAddr { return s.permHWAddr }

// ModeData and SetModeData hold the mode's per-slave state (the kernel's
// SLAVE_AD_INFO, SLAVE_TLB_INFO); control goroutine only.
func (s *Slave) ModeData() any     { return s.modeData }
func (s *Slave) SetModeData(v any) { s.modeData = v }

// QueueID returns the slave's queue_id.
func (s *Slave) QueueID() int { return s.queueID }

// SetQueueID sets the slave's queue_id (the caller has validated it).
func (s *Slave) SetQueueID(q int) { s.queueID = q; s.bond.changed() }

// Logf writes one kernel log line prefixed with the bond's name:
// "bond0: " + message (netdev_info/netdev_err/netdev_warn).
func (b *Bond) Logf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if b.reg.nlErr != nil && b.reg.nlErr(msg) {
		return
	}
	b.reg.logf("%s: %s", b.logName(), msg)
}

// logName is the device name as netdev_printk shows it.
func (b *Bond) logName() string {
	if b.unregistering {
		return b.name + " (unregistering)"
	}
	if b.uninitialized {
		return b.name + " (uninitialized)"
	}
	return b.name
}

// SlaveLogf writes one kernel log line about a slave:
// "bond0: (slave eth0): " + message (slave_info/slave_err/slave_warn).
func (b *Bond) SlaveLogf(slave string, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if b.reg.nlErr != nil && b.reg.nlErr(msg) {
		return
	}
	b.reg.logf("%s: (slave %s): %s", b.logName(), slave, msg)
}

// KernLogf writes one kernel log line as it is, without a device prefix
// (pr_info of net/core).
func (b *Bond) KernLogf(format string, args ...any) { b.reg.logf(format, args...) }
