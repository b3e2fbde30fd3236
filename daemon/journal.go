package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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
type recorder struct {
	j    *state.Journal
	log  func(string)
	kick chan struct{}
	done chan struct{}
	stop chan struct{}
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
func (r *recorder) Sync() error { return r.j.Flush() }

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

// setModule records the module's loaded state and options.
func (r *recorder) setModule(loaded bool, opts []string) {
	r.j.Apply(func(s *state.State) {
		s.Loaded = loaded
		s.ModuleOptions = append([]string(nil), opts...)
	})
	r.flush()
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

// restoreSlave gives an interface a dead daemon left enslaved what it had
// before: down, its permanent MAC, its MTU, its IPv6 setting, no isolation
// chain. It finds the interface by name, else by ifindex; a missing one is
// ENODEV.
func restoreSlave(h restorer, sl state.Slave) (string, error) {
	li, err := h.LinkByName(sl.Name)
	if err != nil && sl.IfIndex > 0 {
		li, err = h.LinkByIndex(sl.IfIndex)
	}
	if err != nil {
		return "", syscall.ENODEV
	}
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
	return li.Name, errors.Join(errs...)
}

// restoreSlaves restores every slave of prev (restoreSlave), logging what
// cannot be restored.
func restoreSlaves(h restorer, prev *state.State, log func(string)) {
	for _, b := range prev.Bonds {
		for _, sl := range b.Slaves {
			if _, err := restoreSlave(h, sl); err != nil {
				log(fmt.Sprintf("bondingfs: restore: %s: slave %s: %v", b.Name, sl.Name, err))
			}
		}
	}
}

// restore rebuilds, after an unclean exit, every bond prev holds, in
// creation order: the bond (bonds the module options created that prev does
// not hold are deleted), its MAC when it was set from outside, its options
// as written, its slaves in enslave order (each first given back what it had
// before, so that it is enslaved with the same origins and the bond gets the
// same MAC), queue_id, the up state, the addresses and the active slave.
// What cannot be restored is logged and skipped.
func restore(ctx context.Context, reg *bond.Registry, h restorer, prev *state.State, log func(string)) {
	logf := func(format string, args ...any) { log(fmt.Sprintf("bondingfs: restore: "+format, args...)) }
	restoreSlaves(h, prev, log)
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
			case "arp_ip_target":
				for _, a := range strings.Fields(o.Value) {
					if err := reg.WriteOption(ctx, pb.Name, o.Name, "+"+a+"\n", admin); err != nil {
						logf("%s: arp_ip_target +%s: %v", pb.Name, a, err)
					}
				}
				continue
			}
			if err := reg.WriteOption(ctx, pb.Name, o.Name, o.Value+"\n", admin); err != nil {
				logf("%s: %s %q: %v", pb.Name, o.Name, o.Value, err)
			}
		}
		for _, sl := range pb.Slaves {
			name := sl.Name
			if li, err := h.LinkByName(name); err != nil {
				if li, err = h.LinkByIndex(sl.IfIndex); err != nil || sl.IfIndex <= 0 {
					logf("%s: slave %s is gone, skipped", pb.Name, sl.Name)
					continue
				}
				name = li.Name
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

// lockJournal takes the exclusive lock of the journal directory dir, waiting
// at most wait; the returned file holds it until closed (or the process
// ends).
func lockJournal(dir string, wait time.Duration) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, lockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(wait)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("journal %s is in use by another daemon: %w", dir, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
