package bond

import (
	"net"
	"strings"
)

// ChangeKind is what a Change records.
type ChangeKind uint8

// The changes Config.Journal receives.
const (
	ChangeCreate  ChangeKind = iota + 1 // bond Bond created (bonding_masters, max_bonds)
	ChangeDelete                        // bond Bond deleted (bonding_masters, ip link del, rmmod)
	ChangeOption                        // Option of Bond set to Value, as written (arp_ip_target, ns_ip6_target: the resulting list)
	ChangeEnslave                       // Slave enslaved to Bond, with what it gets back on release
	ChangeRelease                       // slave Name released from Bond
	ChangeActive                        // curr_active_slave of Bond is now Name ("" for none)
	ChangeUp                            // the bond device's IFF_UP is now Up
	ChangeMAC                           // the bond's MAC was set from outside (ip link set address) to MAC
	ChangeRename                        // the bond (Name "") or its slave Name was renamed to NewName
)

// SlaveOrigin is what an enslaved interface had before it was enslaved,
// which it gets back on release (bond_release restores the MAC and MTU, the
// engine also its up state and its isolation).
type SlaveOrigin struct {
	Name    string
	IfIndex int
	PermMAC net.HardwareAddr
	MTU     int
	Up      bool
	// DisableIPv6 is net.ipv6.conf.<if>.disable_ipv6 before enslaving ("" if
	// unknown) and NftChain the isolating netdev ingress chain ("" if none),
	// when the SlaveDev reports them (SlaveDevOrigins).
	DisableIPv6 string
	NftChain    string
}

// SlaveDevOrigins is implemented by SlaveDevs that can tell what their isolation
// changed: the previous disable_ipv6 value and the nftables chain's name.
type SlaveDevOrigins interface {
	Origins() (disableIPv6, nftChain string)
}

// Change is one accepted change, as the daemon's crash journal records it
// (internal/state). Only the fields of its Kind are set.
type Change struct {
	Kind    ChangeKind
	Bond    string
	Option  string
	Value   string
	Slave   SlaveOrigin
	Name    string
	NewName string
	Up      bool
	MAC     net.HardwareAddr
}

// Journal is the durable record of the accepted changes (the daemon's crash
// journal, internal/state), as Config.Journal takes it.
type Journal interface {
	// Record folds one accepted change into the journal. It runs on the
	// control goroutine as the change happens, so it must only record:
	// never block, never call back into the Registry.
	Record(Change)
	// Sync makes every change recorded so far durable and returns once it
	// is. WriteMasters and WriteOption call it after their change was
	// applied (or refused) and before they return, on the caller's
	// goroutine, so that a write(2) on the mount returns only once its
	// change is on disk, unless the Journal is a JournalReserver. Its error
	// is logged ("bondingfs: journal: ...") and never fails the write,
	// which has already happened; the change stays recorded and goes with
	// the next sync.
	Sync() error
}

// JournalReserver is a Journal that can refuse a write before it is
// applied. WriteMasters and WriteOption call Reserve (caller's goroutine)
// after their own checks and before the change goes to the control
// goroutine: an error fails the write with that errno (EIO, ENOSPC) and
// nothing changes. Otherwise done runs, instead of Sync, once the write was
// applied or refused; it makes the change durable with what Reserve set
// aside, and its error fails a write that succeeded (the change is in
// effect then: only a media error gets there).
type JournalReserver interface {
	Reserve() (done func() error, err error)
}

// journal hands c to Config.Journal (control goroutine).
func (r *Registry) journal(c Change) {
	if r.cfg.Journal != nil {
		r.cfg.Journal.Record(c)
	}
}

// reserveJournal prepares a write's journaling: with a JournalReserver its
// Reserve, else a done that syncs (syncJournal) and never fails.
func (r *Registry) reserveJournal() (done func() error, err error) {
	if jr, ok := r.cfg.Journal.(JournalReserver); ok {
		return jr.Reserve()
	}
	return func() error { r.syncJournal(); return nil }, nil
}

// endJournal runs done and returns err, or done's error when err is nil.
func endJournal(done func() error, err error) error {
	if derr := done(); err == nil {
		return derr
	}
	return err
}

// syncJournal syncs Config.Journal, logging a failure (caller's goroutine,
// never the control goroutine: a sync waits for the disk).
func (r *Registry) syncJournal() {
	if r.cfg.Journal == nil {
		return
	}
	if err := r.cfg.Journal.Sync(); err != nil {
		r.logf("bondingfs: journal: %v", err)
	}
}

// journalOption records a successful write of text to option o.
func (b *Bond) journalOption(o *Option, text string) {
	switch o.Name {
	case "slaves", "active_slave":
		return // recorded as ChangeEnslave/ChangeRelease and ChangeActive
	case "arp_ip_target":
		var l []string
		for _, a := range b.params.ARPTargets {
			l = append(l, a.String())
		}
		text = strings.Join(l, " ")
	case "ns_ip6_target":
		var l []string
		for _, a := range b.params.NSTargets {
			l = append(l, a.String())
		}
		text = strings.Join(l, " ")
	}
	b.reg.journal(Change{Kind: ChangeOption, Bond: b.name, Option: o.Name, Value: text})
}

// journalEnslave records s, just enslaved, with its origins.
func (b *Bond) journalEnslave(s *Slave, up bool) {
	o := SlaveOrigin{Name: s.name, IfIndex: s.index, PermMAC: append(net.HardwareAddr(nil), s.permHWAddr...), MTU: s.origMTU, Up: up}
	if p, ok := s.dev.(SlaveDevOrigins); ok {
		o.DisableIPv6, o.NftChain = p.Origins()
	}
	b.reg.journal(Change{Kind: ChangeEnslave, Bond: b.name, Slave: o})
}
