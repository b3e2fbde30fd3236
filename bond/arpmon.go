package bond

import (
	"encoding/binary"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"bondingfs/internal/frame"
)

// The ARP monitor (bond_main.c: bond_arp_monitor with
// bond_activebackup_arp_mon — bond_ab_arp_inspect, bond_ab_arp_commit,
// bond_ab_arp_probe — for active-backup and bond_loadbalance_arp_mon for
// balance-rr, balance-xor and broadcast; bond_arp_send_all for the probes;
// bond_rcv_validate and bond_arp_rcv on the receive side, in arp_rcv.go).
//
// Goroutine: the control goroutine runs this file (arpTick: inspect,
// commit, probe; arpPublish; arpRefresh posting its reads back), except
// the route and address reads of arpRefresh, which run on a goroutine of
// their own. The receive side (arp_rcv.go) runs in each slave reader: it
// stamps the slave's last_rx (and target_last_arp_rx) atomically, with no
// lock and no allocation, from an immutable arpView the control goroutine
// publishes with every snapshot. Time is counted in nanoseconds of the
// registry's clock (NanoClock) where the kernel counts jiffies. Route lookups for the probes' source
// address (ip_route_output, bond_confirm_addr) and the bond's own addresses
// (bond_has_this_ip) are read outside the control goroutine after each
// monitor run and posted back; a probe uses the newest result (at most one
// arp_interval old). A target whose route has not been read yet is not
// probed.

// NanoClock is a Clock that can also tell the time as nanoseconds without
// taking a lock; the receive path stamps every frame with it. Clocks that
// do not implement it are read through Now.
type NanoClock interface {
	Nanotime() int64
}

// clockEpoch anchors the real clock's monotonic nanoseconds.
var clockEpoch = time.Now()

// Nanotime implements NanoClock for the real clock (monotonic).
func (realClock) Nanotime() int64 { return int64(time.Since(clockEpoch)) }

// nanos is the registry clock's time in nanoseconds (any goroutine).
func (r *Registry) nanos() int64 {
	if nc, ok := r.cfg.Clock.(NanoClock); ok {
		return nc.Nanotime()
	}
	return r.cfg.Clock.Now().UnixNano()
}

// Route is the answer of RouteLookup: the device a packet to the address
// would leave through (rtable dst.dev), the preferred source address there
// (bond_confirm_addr; invalid when there is none), and whether that device
// is the lower device asked about or stacked on it through VLAN devices
// (bond_verify_device_path), with the 802.1Q tags of that path, outermost
// first.
type Route struct {
	Dev     int
	Src     netip.Addr
	Stacked bool
	Tags    []VLANTag
}

// VLANTag is one VLAN device on the path from the bond to a route's device
// (frame.VLANTag).
type VLANTag = frame.VLANTag

// RouteLookup is implemented by hosts that can resolve routes in the
// engine's network namespace (RTM_GETROUTE); the ARP monitor then sends its
// probes from the bond's address on the route to each arp_ip_target. An
// error (ENETUNREACH) means there is no route. Called outside the control
// goroutine.
type RouteLookup interface {
	RouteTo(dst netip.Addr, lower int) (Route, error)
}

// arpSlave is a slave's ARP monitor state (struct slave's last_rx, last_tx,
// target_last_arp_rx, last_link_up). Times are NanoClock nanoseconds.
type arpSlave struct {
	lastRx     atomic.Int64
	lastTx     atomic.Int64
	targetRx   [MaxARPTargets]atomic.Int64
	lastLinkUp atomic.Int64
	backup     atomic.Bool // bond_slave_state: the slave's backup flag, for the reader
	// mac is the MAC the engine last gave the slave with fail_over_mac
	// active/follow (its own before); control goroutine only.
	mac net.HardwareAddr
}

// arpMon is a bond's ARP monitor state on the control goroutine.
type arpMon struct {
	work       *Work
	running    bool
	interval   int    // the arp_interval the monitor runs with (ms)
	currARP    *Slave // current_arp_slave
	routes     map[netip.Addr]arpRoute
	ips        []netip.Addr // the bond's and its VLAN uppers' IPv4 addresses (bond_has_this_ip)
	ns         nsMon        // the NS monitor's routes and addresses (nsmon.go)
	refreshing bool
	readGen    uint64 // number of the last route read started (arpRefresh)
	again      bool   // another read is wanted once the one in flight is back
	// waitGen, when not 0, is the read the monitor's first run waits for:
	// bond_open queues the ARP work with no delay and its first probe looks
	// the routes up there and then, so the run comes as soon as that read
	// is back instead of one arp_interval later (arpSync)
	waitGen uint64
	// fresh is true during a run whose routes come from a read started when
	// the run was due: a target with no route counts at once (the kernel's
	// ip_route_output at probe time), not after noRouteReads reads
	fresh     bool
	due       int64 // when the queued run is due (nanoseconds)
	evalNow   int64 // during a run: the time it was due
	view      atomic.Pointer[arpView]
	sendNotif int // send_peer_notif
	// membership reports after a failover (igmp.go)
	mcastWork   *Work // bond->mcast_work
	igmpRetrans int   // bond->igmp_retrans
	// senders counts the goroutines sending peer notifications and
	// membership reports (tests wait for them)
	senders sync.WaitGroup
}

// arpRoute is one target's route as last read.
type arpRoute struct {
	ok     bool // a route exists
	route  Route
	misses int // consecutive reads that found no route
}

// noRouteReads is how many consecutive reads must find no route to a
// target before a probe is sent from 0.0.0.0 (with the kernel's warning):
// a single read may predate an address or a link that is already back.
const noRouteReads = 2

// noRoute reports whether err says there is no route (rather than a failed
// read, after which the previous answer is kept).
func noRoute(err error) bool {
	switch ErrnoOf(err) {
	case syscall.ENETUNREACH, syscall.EHOSTUNREACH, syscall.ENETDOWN, syscall.EINVAL:
		return true
	}
	return false
}

// arpWarnedNoRoute is pr_warn_once's flag for "no route to arp_ip_target":
// once per process, as once per boot.
var arpWarnedNoRoute atomic.Bool

// arpWanted reports whether the ARP monitor should run.
func (b *Bond) arpWanted() bool {
	p := &b.params
	return b.up && p.ARPInterval > 0 && p.Mode.UsesARPMonitor()
}

// arpSync starts, restarts or stops the ARP monitor after the bond went up
// or down or a parameter changed (bond_open, bond_close,
// bond_option_arp_interval_set: a new interval runs the monitor at once).
func (b *Bond) arpSync() {
	a := &b.arp
	if !b.arpWanted() {
		if a.running {
			a.running = false
			a.work.Cancel()
			a.waitGen, a.again = 0, false
			a.view.Store(nil)
			a.currARP = nil
			a.routes, a.ips = nil, nil // read again when it restarts
			a.nsReset()
		}
		return
	}
	if a.work == nil {
		a.work = b.newEngineWork(b.arpTick)
	}
	if !a.running || a.interval != b.params.ARPInterval {
		a.running = true
		a.interval = b.params.ARPInterval
		b.arpPublish()
		a.due = b.reg.nanos()
		// bond_open queues the work with no delay: the first run comes as
		// soon as the routes are read (the kernel looks them up in that
		// run), not one interval later with routes still unknown
		if gen := b.arpRefresh(); gen != 0 {
			a.work.Cancel()
			a.waitGen = gen
		} else {
			a.waitGen = 0
			a.work.Queue(0)
		}
	}
}

// arpStop is the ARP monitor's part of bond_close (send_peer_notif = 0 and
// the receive probe cleared).
func (b *Bond) arpStop() {
	b.arp.sendNotif = 0
	b.arpSync()
}

// timeInInterval is bond_time_in_interval: last-δ ≤ now ≤ last+mod·δ+δ/2.
func timeInInterval(now, last, mod, delta int64) bool {
	return now >= last-delta && now <= last+mod*delta+delta/2
}

// arpDelta is arp_interval in nanoseconds.
func (b *Bond) arpDelta() int64 { return int64(b.params.ARPInterval) * int64(time.Millisecond) }

// inInterval is bond_time_in_interval on the control goroutine. During a
// monitor run "now" is the time the run was due (evalNow), and a time
// after it counts as that time: a run the Go scheduler started late (a
// loaded machine) judges the slaves as a run on time would have, rather
// than taking the delay for missed replies. A run on time is unchanged.
func (b *Bond) inInterval(last int64, mod int) bool {
	now := b.arp.evalNow
	if now == 0 {
		now = b.reg.nanos()
	}
	if last > now {
		last = now
	}
	return timeInInterval(now, last, int64(mod), b.arpDelta())
}

// arpPublish publishes the view the slave readers validate with (called with
// every snapshot while the monitor runs).
func (b *Bond) arpPublish() {
	a := &b.arp
	if !a.running {
		return
	}
	p := &b.params
	v := &arpView{
		validate:   p.ARPValidate,
		allTargets: p.ARPAllTargets == 1,
		interval:   b.arpDelta(),
		currActive: b.currActive,
		currARP:    a.currARP,
	}
	for i, t := range p.ARPTargets {
		if i < MaxARPTargets {
			v.targets[i] = ip4(t)
			v.ntargets++
		}
	}
	for _, ip := range a.ips {
		v.ips = append(v.ips, ip4(ip))
	}
	b.nsPublish(v)
	a.view.Store(v)
}

// ip4 is an IPv4 address as a big-endian number (0 for anything else).
func ip4(a netip.Addr) uint32 {
	if !a.Is4() {
		return 0
	}
	b := a.As4()
	return binary.BigEndian.Uint32(b[:])
}

// arpEnslaved initialises a new slave's times (bond_enslave: last_rx and
// every target_last_arp_rx one interval and a bit in the past, last_tx the
// same; last_link_up now unless its link is down).
func (b *Bond) arpEnslaved(s *Slave) {
	now := b.reg.nanos()
	past := now - b.arpDelta() - 1
	s.arp.lastRx.Store(past)
	for i := range s.arp.targetRx {
		s.arp.targetRx[i].Store(past)
	}
	s.arp.lastTx.Store(past)
	if s.link != LinkDown {
		s.arp.lastLinkUp.Store(now)
	}
	s.arp.backup.Store(!s.active)
	if b.arp.running {
		// the bond's address may be new: read the routes now, not only
		// after the next run, so that its first probe has them
		b.arpRefresh()
	}
}

// arpTargetAdded starts target i's last reply on every slave now
// (_bond_options_arp_ip_target_set).
func (b *Bond) arpTargetAdded(i int) {
	now := b.reg.nanos()
	for _, s := range b.slaves {
		if i < MaxARPTargets {
			s.arp.targetRx[i].Store(now)
		}
	}
}

// arpTargetRemoved moves the last replies of the targets after i down one
// slot, as the targets move (bond_option_arp_ip_target_rem).
func (b *Bond) arpTargetRemoved(i int) {
	n := len(b.params.ARPTargets)
	for _, s := range b.slaves {
		j := i
		for ; j < MaxARPTargets-1 && j+1 < n; j++ {
			s.arp.targetRx[j].Store(s.arp.targetRx[j+1].Load())
		}
		s.arp.targetRx[j].Store(0)
	}
}

// arpTick is one run of the ARP monitor's work (bond_arp_monitor).
func (b *Bond) arpTick() {
	a := &b.arp
	if !a.running {
		return
	}
	now := b.reg.nanos()
	a.evalNow = now
	if a.due != 0 && a.due < now {
		a.evalNow = a.due
	}
	if b.params.Mode.IsActiveBackup() {
		b.abARPMon()
	} else {
		b.lbARPMon()
	}
	a.evalNow = 0
	if a.running && b.params.ARPInterval > 0 {
		d := time.Duration(b.params.ARPInterval) * time.Millisecond
		a.work.Queue(d)
		a.due = b.reg.nanos() + int64(d)
	}
	b.arpPublish()
	b.arpRefresh()
}

// abARPMon is bond_activebackup_arp_mon.
func (b *Bond) abARPMon() {
	if len(b.slaves) == 0 {
		return
	}
	notify := b.shouldNotifyPeers()
	if b.abInspect() > 0 {
		b.abCommit()
	}
	b.abProbe()
	if notify {
		b.arp.sendNotif--
		b.notifyPeers(b.currActive)
	}
}

// abInspect is bond_ab_arp_inspect: it proposes new link states.
func (b *Bond) abInspect() int {
	commit := 0
	missed := b.params.MissedMax
	for _, s := range b.slaves {
		s.newLink = -1
		lastRx := b.slaveLastRx(s)
		if s.link != LinkUp {
			if b.inInterval(lastRx, 1) {
				s.newLink = LinkUp
				commit++
			} else if s.link == LinkBack {
				s.newLink = LinkFail
				commit++
			}
			continue
		}
		// two intervals' grace after enslaving or being made active
		if b.inInterval(s.arp.lastLinkUp.Load(), 2) {
			continue
		}
		if !s.active && b.arp.currARP == nil && !b.inInterval(lastRx, missed+1) {
			s.newLink = LinkDown
			commit++
		}
		if s.active && (!b.inInterval(s.arp.lastTx.Load(), missed) || !b.inInterval(lastRx, missed)) {
			s.newLink = LinkDown
			commit++
		}
	}
	return commit
}

// abCommit is bond_ab_arp_commit.
func (b *Bond) abCommit() {
	failover := false
	for _, s := range b.slaves {
		switch s.newLink {
		case LinkUp:
			if b.currActive != s {
				s.link = LinkUp
				if c := b.arp.currARP; c != nil {
					b.SetSlaveInactive(c)
					b.arp.currARP = nil
				}
				b.SlaveLogf(s.name, "link status definitely up")
				if b.currActive == nil || s == b.primary {
					failover = true
				}
			}
		case LinkDown:
			s.linkFailureCount++
			s.link = LinkDown
			b.SetSlaveInactive(s)
			b.SlaveLogf(s.name, "link status definitely down, disabling slave")
			if s == b.currActive {
				b.arp.currARP = nil
				failover = true
			}
		case LinkFail:
			s.link = LinkFail
			b.SetSlaveInactive(s)
			if b.currActive != nil {
				b.arp.currARP = nil
			}
		default:
			continue
		}
		s.newLink = -1
		b.changed()
	}
	if failover {
		b.selectActive()
	}
	b.setCarrier()
	b.rebuildTx()
}

// abProbe is bond_ab_arp_probe: probe through curr_active_slave, or, with
// none, make the next slave whose device is up the current ARP slave
// ("going back") and probe through it.
func (b *Bond) abProbe() {
	a := &b.arp
	curr := b.currActive
	if a.currARP != nil && curr != nil {
		b.Logf("PROBE: c_arp %s && cas %s BAD", a.currARP.name, curr.name)
	}
	if curr != nil {
		b.arpSendAll(curr)
		return
	}
	carp := a.currARP
	if carp == nil {
		if len(b.slaves) == 0 {
			return
		}
		carp = b.slaves[0]
	}
	var before, next *Slave
	found := false
	for _, s := range b.slaves {
		if !found && before == nil && s.linkOK() {
			before = s
		}
		if found && next == nil && s.linkOK() {
			next = s
		}
		if !s.linkOK() && s.link == LinkUp {
			s.link = LinkDown
			s.linkFailureCount++
			b.SetSlaveInactive(s)
			b.SlaveLogf(s.name, "backup interface is now down")
			b.changed()
		}
		if s == carp {
			found = true
		}
	}
	if next == nil {
		next = before
	}
	if next == nil {
		return
	}
	next.link = LinkBack
	b.SetSlaveActive(next)
	b.arpSendAll(next)
	next.arp.lastLinkUp.Store(b.reg.nanos())
	a.currARP = next
	b.changed()
	b.rebuildTx()
}

// lbARPMon is bond_loadbalance_arp_mon.
func (b *Bond) lbARPMon() {
	if len(b.slaves) == 0 {
		return
	}
	old := b.currActive
	failover, changed := false, false
	missed := b.params.MissedMax
	for _, s := range b.slaves {
		s.newLink = -1
		lastTx, lastRx := s.arp.lastTx.Load(), s.arp.lastRx.Load()
		if s.link != LinkUp {
			if b.inInterval(lastTx, 1) && b.inInterval(lastRx, 1) {
				s.newLink = LinkUp
				changed = true
				if old == nil {
					b.SlaveLogf(s.name, "link status definitely up")
					failover = true
				} else {
					b.SlaveLogf(s.name, "interface is now up")
				}
			}
		} else if !b.inInterval(lastTx, missed) || !b.inInterval(lastRx, missed) {
			s.newLink = LinkDown
			changed = true
			s.linkFailureCount++
			b.SlaveLogf(s.name, "interface is now down")
			if s == old {
				failover = true
			}
		}
		if s.linkOK() {
			b.arpSendAll(s)
		}
	}
	if !failover && !changed {
		return
	}
	for _, s := range b.slaves {
		if s.newLink != -1 {
			s.link = s.newLink
			s.newLink = -1
		}
	}
	if changed {
		// bond_slave_state_change
		for _, s := range b.slaves {
			switch s.link {
			case LinkUp:
				b.SetSlaveActive(s)
			case LinkDown:
				b.SetSlaveBackup(s)
			}
		}
	}
	if failover {
		b.selectActive()
	}
	b.changed()
	b.rebuildTx()
}

// slaveMAC is the slave device's MAC address as the kernel would have it:
// the bond's with fail_over_mac none, else the one the engine last gave it.
func (b *Bond) slaveMAC(s *Slave) net.HardwareAddr {
	if b.params.FailOverMACInEffect() == FOMNone || len(s.arp.mac) != 6 {
		return b.hwaddr
	}
	return s.arp.mac
}

// arpSendAll is bond_arp_send_all: one ARP request per target through s,
// from the bond's address on the route to it (0.0.0.0 without a route),
// skipped when the route leaves through a device that is not the bond or
// stacked on it.
func (b *Bond) arpSendAll(s *Slave) {
	p := &b.params
	for _, t := range p.ARPTargets {
		r, known := b.arp.routes[t]
		if !known || (!r.ok && r.misses < noRouteReads && !b.arp.fresh) {
			continue
		}
		var src netip.Addr
		var tags []VLANTag
		if !r.ok {
			if p.ARPValidate != 0 && arpWarnedNoRoute.CompareAndSwap(false, true) {
				b.reg.logf("%s: no route to arp_ip_target %s and arp_validate is set", b.name, t)
			}
		} else if !r.route.Stacked {
			continue
		} else {
			src, tags = r.route.Src, r.route.Tags
		}
		f := frame.ARPProbe(b.slaveMAC(s), src, t, tags)
		s.arp.lastTx.Store(b.reg.nanos())
		if f != nil {
			_ = b.Send(s, f)
		}
	}
	b.nsSendAll(s) // bond_send_validate
}

// arpRefresh reads the routes to the targets and the addresses of the bond
// and of the VLAN devices on it (bond_has_this_ip) outside the control
// goroutine and posts them back (at most one read at a time: asked while
// one is in flight, it starts the next when that one is back). It returns
// the number of the read that will answer, 0 when the host cannot read
// routes or addresses. A run waiting for that read (waitGen) runs when it
// is back.
func (b *Bond) arpRefresh() uint64 {
	a := &b.arp
	if a.refreshing {
		a.again = true
		return a.readGen + 1
	}
	r := b.reg
	rl, _ := r.cfg.Host.(RouteLookup)
	al, _ := r.cfg.Host.(AddrLister)
	if rl == nil && al == nil {
		return 0
	}
	a.refreshing = true
	a.readGen++
	gen := a.readGen
	targets := append([]netip.Addr(nil), b.params.ARPTargets...)
	index := b.index
	nsRead := b.nsReadPrepare() // the NS targets' routes, in the same read
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		type read struct {
			t     netip.Addr
			rt    Route
			err   error
			known bool
		}
		var reads []read
		devs := map[int]bool{index: true}
		for _, t := range targets {
			if rl == nil {
				reads = append(reads, read{t: t, err: syscall.ENETUNREACH, known: true})
				continue
			}
			rt, err := rl.RouteTo(t, index)
			reads = append(reads, read{t: t, rt: rt, err: err, known: err == nil || noRoute(err)})
			if err == nil && rt.Stacked {
				devs[rt.Dev] = true
			}
		}
		if vl, ok := r.cfg.Host.(VLANLister); ok {
			if ups, err := vl.VLANUppers(index); err == nil {
				for _, u := range ups {
					devs[u.Index] = true
				}
			}
		}
		var ips []netip.Addr
		ipsOK := true
		if al != nil {
			for d := range devs {
				l, err := al.Addrs4(d)
				if err != nil {
					ipsOK = false
					break
				}
				ips = append(ips, l...)
			}
		}
		nsApply := nsRead()
		r.post(func() {
			a.refreshing = false
			if b.deleted || !a.running {
				a.again = false
				return
			}
			nsApply()
			// a failed read keeps the previous answer
			routes := make(map[netip.Addr]arpRoute, len(reads))
			for _, x := range reads {
				old, had := a.routes[x.t]
				switch {
				case !x.known:
					if had {
						routes[x.t] = old
					}
				case x.err == nil:
					routes[x.t] = arpRoute{ok: true, route: x.rt}
				default:
					m := 1
					if had && !old.ok {
						m = old.misses + 1
					}
					routes[x.t] = arpRoute{misses: m}
				}
			}
			a.routes = routes
			if ipsOK {
				a.ips = ips
			}
			b.arpPublish()
			if a.waitGen != 0 && gen >= a.waitGen {
				a.waitGen = 0
				a.fresh = true
				b.arpTick()
				a.fresh = false
			}
			if a.again {
				a.again = false
				if !a.refreshing {
					b.arpRefresh()
				}
			}
		})
	}()
	return gen
}
