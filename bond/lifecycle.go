package bond

import (
	"bytes"
	"context"
	"net"
	"syscall"
)

// Start subscribes to the host's link events and runs the control
// goroutine. It returns once events are flowing.
func (r *Registry) Start() error {
	r.wg.Add(1)
	go r.run()
	sctx, cancel := context.WithCancel(context.Background())
	r.cancelSub = cancel
	err := r.cfg.Host.SubscribeLinks(sctx, func(ev LinkEvent) {
		seq, sp := r.refresh(&ev)
		r.evDelivered.Add(1)
		r.post(func() {
			r.linkEvent(ev, seq, sp)
			if r.dirty {
				r.publish()
			}
			r.evApplied.Add(1)
		})
	})
	r.subscribed.Store(err == nil)
	return err
}

// inSync reports whether the registry has applied every link event the
// host queued before the call (LinkEventBarrier), so that a read needs
// nothing from the host: the stream holds nothing not yet delivered, and
// every delivered event has been applied and published. The counts are
// read after the host's answer, delivered before applied, so an event
// delivered just before the answer is counted in both or found unapplied.
func (r *Registry) inSync() bool {
	b, ok := r.cfg.Host.(LinkEventBarrier)
	if !ok || !r.subscribed.Load() || b.LinkEventsPending() {
		return false
	}
	d := r.evDelivered.Load()
	return r.evApplied.Load() >= d
}

// syncNeeded reports whether a read must read the links from the host
// (not inSync), and counts the answer in LoopStats.
func (r *Registry) syncNeeded() bool {
	if r.inSync() {
		r.stats.syncSkipped.Add(1)
		return false
	}
	r.stats.syncRead.Add(1)
	return true
}

// Close deletes every bond (releasing its slaves, restoring their MAC, MTU
// and state, removing the TAP devices) and stops the control goroutine.
func (r *Registry) Close() {
	_ = r.Do(context.Background(), func() error {
		for len(r.bonds) > 0 {
			r.deleteBond(r.bonds[0])
		}
		return nil
	})
	r.stopOnce.Do(func() {
		if r.cancelSub != nil {
			r.cancelSub()
		}
		close(r.done)
	})
	r.wg.Wait()
}

// refresh replaces the state a link event carries by the link's state
// now, read on the event's goroutine (outside the control goroutine), as
// the kernel's MII monitor reads netif_carrier_ok at the moment it runs: an
// event delivered late (rtnetlink can lag by a second: a slave set down by a
// release, then enslaved and up again) must not undo what happened since.
// It returns the read's sequence number, 0 when the event is kept as it is
// (a deletion, or a link already gone), and for a slave whose link is up
// its speed, read here too so that the MII monitor's commit need not.
func (r *Registry) refresh(ev *LinkEvent) (uint64, speedRead) {
	if ev.Deleted {
		return 0, speedRead{}
	}
	f := r.fetch(ev.Link.Index)
	if !f.ok {
		return 0, speedRead{}
	}
	ev.Link = f.link
	if _, s := r.Snapshot().Slave(f.link.Name); s != nil && s.Index == f.index {
		r.readSpeed(&f)
	}
	return f.seq, f.speed
}

// speedRead is a slave's speed and duplex read outside the control
// goroutine together with a link state that has carrier.
type speedRead struct {
	mbps, duplex int
	ok           bool
}

// noteSpeed keeps the speed read with a link state for the next commit:
// a read with a speed replaces it, a link without carrier drops it, a read
// of an up link without one (Sync) leaves it.
func (s *Slave) noteSpeed(li LinkInfo, sp speedRead) {
	switch {
	case sp.ok:
		s.nextSpeed = sp
	case !li.Up || !li.Carrier:
		s.nextSpeed = speedRead{}
	}
}

// readSpeed adds the speed to a read of a link that is up with carrier
// (any goroutine; ethtool's get_link_ksettings through Host.Speed).
func (r *Registry) readSpeed(f *fetched) {
	if !f.ok || !f.link.Up || !f.link.Carrier {
		return
	}
	mbps, duplex, err := r.cfg.Host.Speed(f.index)
	if err != nil {
		mbps, duplex = SpeedUnknown, DuplexUnknown
	}
	f.speed = speedRead{mbps: mbps, duplex: duplex, ok: true}
}

// newer reports whether a host read with sequence number seq is newer than
// the last one applied to the link (*last), and records it; seq 0 (state
// that was not read, such as a deletion) always applies.
// masterWritten is called just before the engine itself writes the bond
// device's state (its MAC): host reads of the device that started before
// carry an older state and are ignored (newer), so an event read before the
// write but handled after it never undoes the engine's own change (the
// write's own netlink event brings a fresh read). Control goroutine only.
func (b *Bond) masterWritten() { b.linkSeq = b.reg.readSeq.Add(1) }

func newer(last *uint64, seq uint64) bool {
	if seq == 0 {
		return true
	}
	if seq < *last {
		return false
	}
	*last = seq
	return true
}

// linkEvent handles one rtnetlink notification on the control goroutine;
// seq orders the state it carries among the host reads (refresh).
func (r *Registry) linkEvent(ev LinkEvent, seq uint64, sp speedRead) {
	li := ev.Link
	if b := r.bondByIndex(li.Index); b != nil {
		r.masterEvent(b, ev, seq)
	}
	if b := r.masterOf(li.Index); b != nil {
		b.slaveEvent(b.slaveByIndex(li.Index), ev, seq, sp)
	}
}

// masterEvent follows what the kernel does when the bond device itself is
// changed through rtnetlink: deleted (ip link del), up/down (bond_open,
// bond_close), MAC (bond_set_mac_address) or MTU (bond_change_mtu).
func (r *Registry) masterEvent(b *Bond, ev LinkEvent, seq uint64) {
	li := ev.Link
	if ev.Deleted {
		r.removeBond(b, false)
		return
	}
	if !newer(&b.linkSeq, seq) {
		return
	}
	if li.Name != "" && li.Name != b.name {
		r.journal(Change{Kind: ChangeRename, Bond: b.name, NewName: li.Name})
		b.name = li.Name
		b.changed()
	}
	if li.Up != b.up {
		if li.Up {
			b.open()
		} else {
			b.close()
		}
		r.journal(Change{Kind: ChangeUp, Bond: b.name, Up: b.up})
	}
	if len(li.HWAddr) == 6 && !bytes.Equal(li.HWAddr, b.hwaddr) && b.params.FailOverMACInEffect() != FOMNone {
		// bond_set_mac_address ignores a new address with fail_over_mac in
		// active-backup (and succeeds); dev_set_mac_address still marks
		// it set, so the next first slave does not give its own
		b.masterWritten()
		_ = r.cfg.Host.SetHWAddr(b.index, b.hwaddr)
		b.macSet = true
	} else if len(li.HWAddr) == 6 && !bytes.Equal(li.HWAddr, b.hwaddr) {
		b.hwaddr = append(net.HardwareAddr(nil), li.HWAddr...)
		b.macSet = true
		r.journal(Change{Kind: ChangeMAC, Bond: b.name, MAC: append(net.HardwareAddr(nil), li.HWAddr...)})
		if mc, ok := b.mode.(MACChanger); ok {
			mc.BondMACChanged()
		} else if b.params.FailOverMACInEffect() == FOMNone {
			for _, s := range b.slaves {
				_ = r.cfg.Host.SetHWAddr(s.index, b.hwaddr)
			}
		}
		b.changed()
	}
	if li.MTU > 0 && li.MTU != b.mtu {
		b.mtu = li.MTU
		for _, s := range b.slaves {
			_ = r.cfg.Host.SetMTU(s.index, li.MTU)
		}
		b.changed()
	}
}

// slaveEvent handles a change of an enslaved interface: deletion
// (NETDEV_UNREGISTER releases it), rename, carrier or admin state.
func (b *Bond) slaveEvent(s *Slave, ev LinkEvent, seq uint64, sp speedRead) {
	li := ev.Link
	if ev.Deleted {
		b.release(s, false)
		return
	}
	if !newer(&s.linkSeq, seq) {
		return
	}
	s.noteSpeed(li, sp)
	if li.Name != "" && li.Name != s.name {
		b.reg.logf("%s: renamed from %s", li.Name, s.name)
		b.reg.journal(Change{Kind: ChangeRename, Bond: b.name, Name: s.name, NewName: li.Name})
		s.name = li.Name
		b.changed()
	}
	if s.setLink(li.Up, li.Carrier) {
		b.changed()
		b.kickMii()
		b.rebuildTx()
	}
	b.speedDuplexEvent(s, sp)
}

// speedDuplexEvent is NETDEV_CHANGE's bond_update_speed_duplex for a slave
// whose link is up: a speed and duplex read with the event replace the
// slave's at once, and a change goes to the mode (SpeedDuplexNotifier). A
// slave whose link is not up takes the read at its link-up commit
// (noteSpeed, updateSpeed); a bond enslaved to this one reports its own sum.
func (b *Bond) speedDuplexEvent(s *Slave, sp speedRead) {
	if !sp.ok || s.released || s.link != LinkUp || b.reg.bondByIndex(s.index) != nil {
		return
	}
	if sp.mbps == s.speed && sp.duplex == s.duplex {
		return
	}
	s.speed, s.duplex = sp.mbps, sp.duplex
	b.changed()
	if n, ok := b.mode.(SpeedDuplexNotifier); ok {
		n.SpeedDuplexChanged(s)
	}
}

// status builds the bond's snapshot.
func (b *Bond) status() *BondStatus {
	st := &BondStatus{
		Name:      b.name,
		Index:     b.index,
		Params:    b.params.Clone(),
		Up:        b.up,
		Carrier:   b.carrier,
		HWAddr:    append(net.HardwareAddr(nil), b.hwaddr...),
		MTU:       b.mtu,
		Slaves:    make([]SlaveStatus, 0, len(b.slaves)),
		Failovers: b.failovers,
		DataPath:  b.DataPath(),
		FastStats: b.fastStatsFunc(),
	}
	if b.params.Mode.UsesPrimary() && b.currActive != nil {
		st.ActiveSlave = b.currActive.name
	}
	if b.primary != nil {
		st.PrimarySlave = b.primary.name
	}
	for _, s := range b.slaves {
		st.Slaves = append(st.Slaves, SlaveStatus{
			Name:             s.name,
			Index:            s.index,
			Link:             s.link,
			Active:           s.active,
			LinkFailureCount: s.linkFailureCount,
			PermHWAddr:       append(net.HardwareAddr(nil), s.permHWAddr...),
			QueueID:          s.queueID,
			Speed:            s.speed,
			Duplex:           s.duplex,
			Counters:         &s.counters,
		})
	}
	b.mode.Status(st)
	b.arpPublish()
	return st
}

// Sync brings the registry up to date with the host before a read: link
// changes whose rtnetlink events are still on their way (a slave deleted or
// renamed, the bond set up or down, carrier) are applied now, as the kernel
// applies them before `ip` returns. Events arriving later find nothing left
// to do. The links are read on the caller's goroutine (one RTM_GETLINK dump
// when the Host is a LinkLister, else one RTM_GETLINK per bond and slave of
// the latest snapshot) and only the result is applied on
// the control goroutine, so a read never holds the control loop on the
// host. It waits at most until ctx ends. When the host's link event stream
// is in sync (inSync: every event the kernel queued has been applied) it
// reads nothing and returns at once.
func (r *Registry) Sync(ctx context.Context) error {
	if !r.syncNeeded() {
		return nil
	}
	var links []fetched
	// The snapshot is taken before the dump, so that every bond and slave
	// it names existed when the dump began: one missing from the dump is
	// gone.
	snap := r.Snapshot()
	fetch := r.fetch
	if ll, ok := r.cfg.Host.(LinkLister); ok {
		seq := r.readSeq.Add(1)
		if all, err := ll.Links(); err == nil {
			byIndex := make(map[int]LinkInfo, len(all))
			for _, li := range all {
				byIndex[li.Index] = li
			}
			fetch = func(index int) fetched {
				li, ok := byIndex[index]
				return fetched{index: index, link: li, ok: ok, gone: !ok, seq: seq}
			}
		}
	}
	for _, b := range snap.Bonds {
		links = append(links, fetch(b.Index))
		for _, s := range b.Slaves {
			links = append(links, fetch(s.Index))
		}
	}
	return r.Do(ctx, func() error {
		for _, l := range links {
			r.applyFetched(l)
		}
		return nil
	})
}

// SyncBond is Sync for one bond: it reads the bond device and its slaves
// from the host (outside the control goroutine) and applies what changed,
// so that a read of one bond's files costs the same with 1 or 500 bonds.
// An unknown bond is not an error (there is nothing to sync). Like Sync,
// it reads nothing when the event stream is in sync.
func (r *Registry) SyncBond(ctx context.Context, name string) error {
	if !r.syncNeeded() {
		return nil
	}
	st := r.Snapshot().Bond(name)
	if st == nil {
		return nil
	}
	links := []fetched{r.fetch(st.Index)}
	for _, s := range st.Slaves {
		links = append(links, r.fetch(s.Index))
	}
	return r.Do(ctx, func() error {
		for _, l := range links {
			r.applyFetched(l)
		}
		return nil
	})
}

// fetched is one link as read from the host, with the read's sequence
// number: reads are numbered when they start, and the control goroutine
// applies a link's state only from a read newer than the last it applied
// (Sync, the carrier read and events read outside the control goroutine
// and may arrive out of order).
type fetched struct {
	index int
	link  LinkInfo
	gone  bool // the host said ENODEV
	ok    bool
	seq   uint64
	speed speedRead // only when read with readSpeed
}

// fetch reads one link (any goroutine).
func (r *Registry) fetch(index int) fetched {
	seq := r.readSeq.Add(1)
	li, err := r.cfg.Host.LinkByIndex(index)
	if err != nil {
		return fetched{index: index, gone: ErrnoOf(err) == syscall.ENODEV, seq: seq}
	}
	return fetched{index: index, link: li, ok: true, seq: seq}
}

// applyFetched applies one fetched link to the bond it is, or the bond it
// is a slave of (control goroutine).
func (r *Registry) applyFetched(l fetched) {
	if !l.ok && !l.gone {
		return
	}
	if b := r.bondByIndex(l.index); b != nil {
		if l.gone {
			r.removeBond(b, false)
		} else {
			r.masterEvent(b, LinkEvent{Link: l.link}, l.seq)
		}
	}
	if b := r.masterOf(l.index); b != nil {
		s := b.slaveByIndex(l.index)
		if l.gone {
			b.release(s, false)
		} else {
			b.slaveEvent(s, LinkEvent{Link: l.link}, l.seq, l.speed)
		}
	}
}

// syncBond is Sync for one bond device only (not its slaves): what an
// option write needs to see the bond's IFF_UP (OptIfDown) as the host has it.
// It reads nothing when the event stream is in sync (the registry has the
// host's IFF_UP already).
func (r *Registry) syncBond(name string) (fetched, bool) {
	if st := r.Snapshot().Bond(name); st != nil && r.syncNeeded() {
		return r.fetch(st.Index), true
	}
	return fetched{}, false
}

// ParamsChanged applies a parameter change to the running bond: the MII
// monitor follows miimon, inactive slaves follow all_slaves_active, the TX
// selector follows mode, xmit_hash_policy and packets_per_slave.
func (b *Bond) ParamsChanged() {
	if b.params.Mode != b.modeID {
		b.switchMode()
	}
	for _, s := range b.slaves {
		if !s.active {
			s.rxDrop.Store(b.params.AllSlavesActive == 0)
		}
	}
	if b.up && b.params.Miimon > 0 {
		b.startMonitors()
	} else {
		b.stopMonitors()
	}
	b.arpSync()
	b.rebuildTx()
	b.changed()
}

// switchMode replaces the mode instance after a change of the mode option
// (allowed only while the bond is down and has no slaves).
func (b *Bond) switchMode() {
	if b.mode != nil && b.up {
		b.closeMode()
	}
	for _, w := range b.modeWorks {
		w.Cancel()
	}
	b.modeWorks = nil
	b.modeID = b.params.Mode
	b.mode = b.reg.newMode(b.modeID, b)
	if b.up {
		b.openMode()
	}
}

// openMode is the mode's part of bond_open.
func (b *Bond) openMode() {
	if err := b.mode.Open(); err != nil {
		b.Logf("mode %s failed to start: %v", b.params.Mode, err)
	}
	b.tickWork.Queue(0)
}

// closeMode is the mode's part of bond_close.
func (b *Bond) closeMode() {
	b.mode.Close()
	b.tickWork.Cancel()
	for _, w := range b.modeWorks {
		w.Cancel()
	}
	b.SetRecvProbe(0)
	b.SetRecvDirect(nil)
}

// modeTick runs the mode's Tick and queues the next one.
func (b *Bond) modeTick() {
	d := b.mode.Tick()
	b.fpTick()
	if d > 0 && b.up {
		b.tickWork.Queue(d)
	}
}

// open is bond_open: the master went administratively up.
func (b *Bond) open() {
	b.up = true
	b.openMode()
	b.startMonitors()
	b.arpSync()
	b.rebuildTx()
	b.changed()
}

// close is bond_close: the master went down; the mode and every work stop.
func (b *Bond) close() {
	b.up = false
	b.closeMode()
	b.cancelAll()
	b.arpStop()
	b.changed()
}
