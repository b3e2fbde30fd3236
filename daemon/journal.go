package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"bondingfs/bond"
	"bondingfs/internal/state"
	"bondingfs/netdev"
)

// recorder is the daemon's crash journal (bond.Journal): the engine hands
// it every accepted change on its control goroutine (Record), which it
// applies in memory only; whoever must not return before the change is on
// disk calls Sync (the Registry's WriteMasters and WriteOption, which a
// write(2) on the mount goes through) or flush (a modprobe request), and a
// background goroutine writes changes nobody waits for (link events,
// failovers, address changes).
//
// A write on the mount reserves room for its journal write first (Reserve,
// bond.JournalReserver), so that a journal that cannot be written fails the
// write (EIO, ENOSPC) before anything changes, and a restart restores
// exactly what was acknowledged.
type recorder struct {
	j    *state.Journal
	log  func(string)
	kick chan struct{}
	done chan struct{}
	stop chan struct{}
	// hold is set while the journal's restore runs: nothing is written
	// then, so that the journal on disk keeps the whole state to restore
	// until the restore has ended (a daemon killed while it restores
	// leaves it for the next one).
	hold atomic.Bool
}

func newRecorder(j *state.Journal, log func(string)) *recorder {
	return &recorder{j: j, log: log, kick: make(chan struct{}, 1), done: make(chan struct{}), stop: make(chan struct{})}
}

// Record implements bond.Journal: it records one engine change (control
// goroutine: must not block).
func (r *recorder) Record(c bond.Change) {
	r.j.Apply(func(s *state.State) { applyChange(s, c) })
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// applyChange folds c into s.
func applyChange(s *state.State, c bond.Change) {
	if c.Kind == bond.ChangeCreate {
		s.AddBond(c.Bond)
		return
	}
	if c.Kind == bond.ChangeDelete {
		s.DelBond(c.Bond)
		return
	}
	b := s.Bond(c.Bond)
	if b == nil {
		return
	}
	switch c.Kind {
	case bond.ChangeOption:
		b.SetOption(c.Option, strings.TrimRight(c.Value, "\n"))
	case bond.ChangeEnslave:
		o := c.Slave
		b.AddSlave(state.Slave{Name: o.Name, IfIndex: o.IfIndex, PermMAC: o.PermMAC.String(), MTU: o.MTU,
			Up: o.Up, DisableIPv6: o.DisableIPv6, NftChain: o.NftChain})
	case bond.ChangeRelease:
		b.DelSlave(c.Name)
	case bond.ChangeActive:
		b.ActiveSlave = c.Name
	case bond.ChangeUp:
		b.Up = c.Up
	case bond.ChangeMAC:
		b.MAC = c.MAC.String()
	case bond.ChangeRename:
		if c.Name == "" {
			b.Name = c.NewName
		} else {
			b.RenameSlave(c.Name, c.NewName)
		}
	}
}

// Sync implements bond.Journal: it writes what was recorded and returns once
// it is on disk.
func (r *recorder) Sync() error {
	if r.hold.Load() {
		return nil
	}
	return r.j.Flush()
}

// Reserve implements bond.JournalReserver: it takes the room of the coming
// write's journal write (state.Journal.Reserve), or fails with
// journalErrno's errno, logged; done writes the change with it.
func (r *recorder) Reserve() (done func() error, err error) {
	if r.hold.Load() {
		return func() error { return nil }, nil
	}
	res, err := r.j.Reserve()
	if err != nil {
		r.log(fmt.Sprintf("bondingfs: journal: %v; the write is refused", err))
		return nil, journalErrno(err)
	}
	return func() error {
		if err := r.j.FlushReserved(res); err != nil {
			r.log(fmt.Sprintf("bondingfs: journal: %v", err))
			return journalErrno(err)
		}
		return nil
	}, nil
}

// journalErrno is the errno a write gets when its journal write failed:
// ENOSPC when the file system is full (or the quota used up), else EIO, as
// a file system reports a write it could not make durable.
func journalErrno(err error) syscall.Errno {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return syscall.ENOSPC
	}
	return syscall.EIO
}

// reserveFor runs fn, which changes state the journal records, only once
// room for its journal write was reserved; then writes it. A reservation
// that fails is fn's failure (journalErrno); fn's own error wins over the
// write's.
func (r *recorder) reserveFor(fn func() error) error {
	done, err := r.Reserve()
	if err != nil {
		return err
	}
	err = fn()
	if derr := done(); err == nil {
		err = derr
	}
	return err
}

// flush writes what was recorded; a failure is logged (the change stays in
// memory and goes with the next write) and never fails the caller's
// operation, which has already happened.
func (r *recorder) flush() {
	if err := r.Sync(); err != nil {
		r.log(fmt.Sprintf("bondingfs: journal: %v", err))
	}
}

// run writes changes nobody waits for, until close.
func (r *recorder) run() {
	defer close(r.done)
	for {
		select {
		case <-r.kick:
			r.flush()
		case <-r.stop:
			return
		}
	}
}

// close stops run and writes what is left.
func (r *recorder) close() {
	close(r.stop)
	<-r.done
	r.flush()
}

// setModule records the module's loaded state and options (in memory:
// the caller's reserveFor writes them).
func (r *recorder) setModule(loaded bool, opts []string) {
	r.j.Apply(func(s *state.State) {
		s.Loaded = loaded
		s.ModuleOptions = append([]string(nil), opts...)
	})
}

// own makes the journal this daemon's before its restore: what is to be
// restored (prev; nil for nothing) is written back with this daemon's pid,
// so that the dead daemon's reaper, should it get the lock later, leaves
// the slaves alone; then the in-memory state starts empty, and nothing is
// written until startJournal (hold): a daemon killed while it restores
// leaves the whole of prev for the next start.
func (r *recorder) own(prev *state.State, here state.Netns) {
	pid := os.Getpid()
	r.j.Apply(func(st *state.State) {
		if prev != nil {
			*st = prev.Clone()
		} else {
			*st = state.State{Version: state.Version, Clean: true}
		}
		st.Pid = pid
	})
	r.flush()
	r.j.Apply(func(st *state.State) {
		*st = state.State{Version: state.Version, Pid: pid, Netns: &here}
	})
	r.hold.Store(true)
}

// markClean records a clean stop: no bond is left to restore.
func (r *recorder) markClean() {
	r.j.Apply(func(s *state.State) {
		s.Clean = true
		s.Bonds = nil
	})
	r.flush()
}

// watchAddrs keeps the journal's copy of the bonds' addresses current: the
// bond's TAP, and the addresses on it, vanish with the daemon.
func (r *recorder) watchAddrs(host *netdev.Host, reg *bond.Registry) {
	err := host.SubscribeAddrs(r.stop, func(index int) {
		var name string
		for _, b := range reg.Snapshot().Bonds {
			if b.Index == index {
				name = b.Name
			}
		}
		if name == "" {
			return
		}
		as, err := host.Addrs(index)
		if err != nil {
			return
		}
		r.j.Apply(func(s *state.State) {
			if b := s.Bond(name); b != nil {
				b.Addrs = as
			}
		})
		select {
		case r.kick <- struct{}{}:
		default:
		}
	})
	if err != nil {
		r.log(fmt.Sprintf("bondingfs: journal: %v (bond addresses are not restored after a crash)", err))
	}
}

// restorer is what restoring needs of the host (netdev.Host).
type restorer interface {
	bond.Host
	Unisolate(ifname, disableIPv6, nftChain string) error
	AddAddr(index int, cidr string) error
}

// errNotSlave is why an interface that has a journaled slave's name or
// ifindex is not that slave.
var errNotSlave = errors.New("not the interface the journal lists")

// findSlave finds the interface the journal's slave sl of bond b is now:
//
//   - in the namespace instance the journal was written in (same), by its
//     ifindex, which a namespace never gives to another interface while it
//     lives (a rename while no daemon ran is followed);
//   - else by its name, and only if its MAC is one the slave can carry
//     after a crash: its own (PermMAC), the bond's, or another slave's of
//     the bond (active-backup gives every slave the bond's). A namespace
//     made again numbers its interfaces afresh: an old ifindex there is
//     another interface, and is never looked up.
//
// The loopback is never a slave. A missing interface is ENODEV; one that
// has the name but not a fitting MAC is errNotSlave.
func findSlave(h restorer, b *state.Bond, sl state.Slave, same bool) (bond.LinkInfo, error) {
	if same && sl.IfIndex > 0 {
		if li, err := h.LinkByIndex(sl.IfIndex); err == nil {
			if li.Loopback {
				return li, fmt.Errorf("ifindex %d is the loopback: %w", sl.IfIndex, errNotSlave)
			}
			return li, nil
		}
	}
	li, err := h.LinkByName(sl.Name)
	if err != nil {
		return li, syscall.ENODEV
	}
	if li.Loopback {
		return li, fmt.Errorf("%s is the loopback: %w", li.Name, errNotSlave)
	}
	if !slaveMAC(b, sl, li.HWAddr) {
		return li, fmt.Errorf("%s (ifindex %d) has MAC %s: %w", li.Name, li.Index, li.HWAddr, errNotSlave)
	}
	return li, nil
}

// slaveMAC reports whether mac is an address the slave sl of b can have
// been left with: its permanent one, the bond's, or another slave's.
func slaveMAC(b *state.Bond, sl state.Slave, mac net.HardwareAddr) bool {
	fits := func(s string) bool {
		m := netdev.HWAddr(s)
		return len(m) == 6 && bytes.Equal(m, mac)
	}
	if fits(sl.PermMAC) || fits(b.MAC) {
		return true
	}
	for _, o := range b.Slaves {
		if fits(o.PermMAC) {
			return true
		}
	}
	return false
}

// restoreSlave gives the interface li, which a dead daemon left enslaved as
// the journal's sl, what it had before: down, its permanent MAC, its MTU,
// its IPv6 setting, no isolation chain.
func restoreSlave(h restorer, li bond.LinkInfo, sl state.Slave) error {
	var errs []error
	errs = append(errs, h.SetLinkUp(li.Index, false))
	if mac := netdev.HWAddr(sl.PermMAC); len(mac) == 6 {
		errs = append(errs, h.SetHWAddr(li.Index, mac))
	}
	if sl.MTU > 0 && sl.MTU != li.MTU {
		errs = append(errs, h.SetMTU(li.Index, sl.MTU))
	}
	errs = append(errs, h.Unisolate(li.Name, sl.DisableIPv6, sl.NftChain))
	if sl.Up {
		errs = append(errs, h.SetLinkUp(li.Index, true))
	}
	return errors.Join(errs...)
}

// restoreSlaves restores every slave of prev that findSlave finds (here is
// the engine namespace's identity now), logging what it skips and what
// cannot be restored. It returns, per bond, the interface each restored
// slave is now (journal name → name now), which restore enslaves.
func restoreSlaves(h restorer, prev *state.State, here state.Netns, log func(string)) map[string]map[string]string {
	same := prev.Netns.Same(&here)
	found := map[string]map[string]string{}
	for i := range prev.Bonds {
		b := &prev.Bonds[i]
		found[b.Name] = map[string]string{}
		for _, sl := range b.Slaves {
			li, err := findSlave(h, b, sl, same)
			switch {
			case errors.Is(err, syscall.ENODEV):
				why := ""
				if !same {
					why = " (the namespace is not the one the journal was written in: its ifindex " + fmt.Sprint(sl.IfIndex) + " is not looked up)"
				}
				log(fmt.Sprintf("bondingfs: restore: %s: slave %s is gone%s, skipped", b.Name, sl.Name, why))
				continue
			case err != nil:
				log(fmt.Sprintf("bondingfs: restore: %s: slave %s: %v, skipped", b.Name, sl.Name, err))
				continue
			}
			found[b.Name][sl.Name] = li.Name
			if err := restoreSlave(h, li, sl); err != nil {
				log(fmt.Sprintf("bondingfs: restore: %s: slave %s: %v", b.Name, sl.Name, err))
			}
		}
	}
	return found
}

// restore rebuilds, after an unclean exit, every bond prev holds, in
// creation order: the bond (bonds the module options created that prev does
// not hold are deleted), its MAC when it was set from outside, its options
// as written, its slaves in enslave order (each first given back what it had
// before, so that it is enslaved with the same origins and the bond gets the
// same MAC), queue_id, the up state, the addresses and the active slave.
// What cannot be restored is logged and skipped.
//
// found is what restoreSlaves returned: only the slaves it found are
// enslaved again, under their names now.
func restore(ctx context.Context, reg *bond.Registry, h restorer, prev *state.State, found map[string]map[string]string, log func(string)) {
	logf := func(format string, args ...any) { log(fmt.Sprintf("bondingfs: restore: "+format, args...)) }
	want := map[string]bool{}
	for _, b := range prev.Bonds {
		want[b.Name] = true
	}
	for _, b := range reg.Snapshot().Bonds {
		if !want[b.Name] {
			if err := reg.WriteMasters(ctx, "-"+b.Name); err != nil {
				logf("delete %s: %v", b.Name, err)
			}
		}
	}
	admin := bond.Caller{NetAdmin: true}
	for _, pb := range prev.Bonds {
		if reg.Snapshot().Bond(pb.Name) == nil {
			if err := reg.CreateBond(ctx, pb.Name); err != nil {
				logf("create %s: %v", pb.Name, err)
				continue
			}
		}
		st := reg.Snapshot().Bond(pb.Name)
		if st == nil {
			logf("%s vanished", pb.Name)
			continue
		}
		if mac := netdev.HWAddr(pb.MAC); len(mac) == 6 {
			if err := h.SetHWAddr(st.Index, mac); err != nil {
				logf("%s: address %s: %v", pb.Name, pb.MAC, err)
			}
			_ = reg.Sync(ctx)
		}
		var later []state.Option
		for _, o := range pb.Options {
			switch o.Name {
			case "queue_id":
				later = append(later, o)
				continue
			case "arp_ip_target", "ns_ip6_target": // the resulting list, one "+addr" each
				for _, a := range strings.Fields(o.Value) {
					if err := reg.WriteOption(ctx, pb.Name, o.Name, "+"+a+"\n", admin); err != nil {
						logf("%s: %s +%s: %v", pb.Name, o.Name, a, err)
					}
				}
				continue
			}
			if err := reg.WriteOption(ctx, pb.Name, o.Name, o.Value+"\n", admin); err != nil {
				logf("%s: %s %q: %v", pb.Name, o.Name, o.Value, err)
			}
		}
		for _, sl := range pb.Slaves {
			name := found[pb.Name][sl.Name]
			if name == "" {
				continue // logged by restoreSlaves
			}
			if err := reg.WriteOption(ctx, pb.Name, "slaves", "+"+name+"\n", admin); err != nil {
				logf("%s: enslave %s: %v", pb.Name, name, err)
			}
		}
		for _, o := range later {
			for _, q := range strings.Fields(o.Value) {
				if err := reg.WriteOption(ctx, pb.Name, o.Name, q+"\n", admin); err != nil {
					logf("%s: queue_id %s: %v", pb.Name, q, err)
				}
			}
		}
		if pb.Up {
			if err := h.SetLinkUp(st.Index, true); err != nil {
				logf("%s: up: %v", pb.Name, err)
			}
			_ = reg.Sync(ctx)
		}
		for _, a := range pb.Addrs {
			if err := h.AddAddr(st.Index, a); err != nil {
				logf("%s: address %s: %v", pb.Name, a, err)
			}
		}
		// the active slave, if its link is up already; otherwise the
		// engine's own selection (primary, link states) decides, as it did
		// before the crash
		if pb.ActiveSlave != "" {
			if cur := reg.Snapshot().Bond(pb.Name); cur != nil && cur.Params.Mode.UsesPrimary() && cur.ActiveSlave != pb.ActiveSlave && slaveUp(cur, pb.ActiveSlave) {
				if err := reg.WriteOption(ctx, pb.Name, "active_slave", pb.ActiveSlave+"\n", admin); err != nil {
					logf("%s: active_slave %s: %v", pb.Name, pb.ActiveSlave, err)
				}
			}
		}
	}
}

// slaveUp reports whether the slave named name of b has its link up (MII
// status up), so that it can be made the active slave.
func slaveUp(b *bond.BondStatus, name string) bool {
	for _, s := range b.Slaves {
		if s.Name == name {
			return s.Link == bond.LinkUp
		}
	}
	return false
}

// openJournal opens the journal in dir and says what the last daemon left.
func openJournal(dir string, log func(string)) (*state.Journal, *state.State) {
	j, prev, err := state.Open(dir)
	if err != nil {
		log(fmt.Sprintf("bondingfs: journal: %v; starting empty", err))
	}
	if j == nil {
		return nil, nil
	}
	if prev != nil && prev.Clean {
		prev = nil
	}
	if prev != nil {
		for _, l := range prev.Sanitize() {
			log("bondingfs: journal: " + l)
		}
	}
	return j, prev
}

// restoreTimeout bounds a restore.
const restoreTimeout = 30 * time.Second

// lockName is the lock file in the journal's directory: a daemon holds it
// (flock, exclusive) for its whole life, and its reaper while it gives the
// slaves back, so that a daemon started right after a crash never enslaves
// while the old reaper is still restoring, and two daemons never share one
// journal.
const lockName = "lock"

// lockWait bounds how long a daemon waits for the journal's lock.
const lockWait = 5 * time.Second

// lockJournal takes the exclusive lock of the journal directory dir
// (creating it, mode 0700), waiting at most wait; the returned file holds it
// until closed (or the process ends). The lock file is open read-only, so
// that it never keeps the file system from being remounted read-only. A
// lock taken on a file that was removed meanwhile (sweepStateDirs) is taken
// again on the new one.
func lockJournal(dir string, wait time.Duration) (*os.File, error) {
	deadline := time.Now().Add(wait)
	for {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		f, err := os.OpenFile(filepath.Join(dir, lockName), os.O_RDONLY|os.O_CREATE, 0o600)
		if err != nil {
			return nil, err
		}
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			if sameFile(f, filepath.Join(dir, lockName)) {
				return f, nil
			}
			f.Close() // removed while we waited: lock the new one
			continue
		}
		f.Close()
		if !errors.Is(err, syscall.EWOULDBLOCK) || !time.Now().Before(deadline) {
			return nil, fmt.Errorf("journal %s is in use by another daemon: %w", dir, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sameFile reports whether the open file f is still the file at path.
func sameFile(f *os.File, path string) bool {
	a, err1 := f.Stat()
	b, err2 := os.Stat(path)
	return err1 == nil && err2 == nil && os.SameFile(a, b)
}
