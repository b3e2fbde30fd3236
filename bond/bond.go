package bond

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"
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

	up      bool // IFF_UP of the master TAP
	carrier bool
	hwaddr  net.HardwareAddr
	macSet  bool // the MAC is no longer random (taken from a slave or set by the user)
	mtu     int

	slaves       []*Slave
	currActive   *Slave
	primary      *Slave // the slave named by params.Primary, if enslaved
	forcePrimary bool

	unregistering bool // log prefix "bond0 (unregistering)"
	miiTimer      Timer
	pollTimer     Timer
	pollGen       int
	miiGen        int // invalidates ticks of a stopped timer

	// data path
	tx      atomic.Pointer[txTable]
	rrCount atomic.Uint64
	readers sync.WaitGroup
}

// Slave is one enslaved interface on the control goroutine (struct slave).
type Slave struct {
	bond  *Bond
	name  string
	index int
	port  Port

	link             int // LinkUp, LinkFail, LinkDown, LinkBack
	newLink          int
	delay            int // remaining up/down delay in miimon ticks
	active           bool
	linkFailureCount int
	permHWAddr       net.HardwareAddr
	queueID          int
	speed            int
	duplex           int
	origMTU          int
	devUp            bool        // IFF_UP of the slave
	carrier          bool        // IFF_LOWER_UP of the slave
	rxDrop           atomic.Bool // frames received here are not delivered (inactive slave)
	readerDone       chan struct{}
}

// Name returns the bond's interface name.
func (b *Bond) Name() string { return b.name }

// Params returns the bond's parameters for reading and changing them in an
// option setter (control goroutine only).
func (b *Bond) Params() *Params { return &b.params }

// HasSlaves reports whether the bond has at least one slave.
func (b *Bond) HasSlaves() bool { return len(b.slaves) > 0 }

// IsUp reports whether the bond device is administratively up (IFF_UP).
// It asks the host first, so that a write right after `ip link set bond0 up`
// sees the bond up even if the rtnetlink event is still on its way.
func (b *Bond) IsUp() bool {
	if h := b.reg.cfg.Host; h != nil && b.index > 0 {
		if li, err := h.LinkByIndex(b.index); err == nil && li.Up != b.up {
			if li.Up {
				b.open()
			} else {
				b.close()
			}
		}
	}
	return b.up
}

// Registry returns the registry the bond belongs to.
func (b *Bond) Registry() *Registry { return b.reg }

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

// QueueID returns the slave's queue_id.
func (s *Slave) QueueID() int { return s.queueID }

// SetQueueID sets the slave's queue_id (the caller has validated it).
func (s *Slave) SetQueueID(q int) { s.queueID = q; s.bond.changed() }

// Logf writes one kernel log line prefixed with the bond's name:
// "bond0: " + message (netdev_info/netdev_err/netdev_warn).
func (b *Bond) Logf(format string, args ...any) {
	b.reg.logf("%s: %s", b.logName(), fmt.Sprintf(format, args...))
}

// logName is the device name as netdev_printk shows it.
func (b *Bond) logName() string {
	if b.unregistering {
		return b.name + " (unregistering)"
	}
	return b.name
}

// SlaveLogf writes one kernel log line about a slave:
// "bond0: (slave eth0): " + message (slave_info/slave_err/slave_warn).
func (b *Bond) SlaveLogf(slave string, format string, args ...any) {
	b.reg.logf("%s: (slave %s): %s", b.logName(), slave, fmt.Sprintf(format, args...))
}
