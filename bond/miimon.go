package bond

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// The MII monitor (bond_main.c bond_mii_monitor, bond_miimon_inspect,
// bond_miimon_commit) and the carrier read that feeds it.

// The carrier the MII monitor inspects is what the control goroutine knows
// of each slave, and it learns it two ways:
//   - rtnetlink link events (Registry.Start's subscription), acted upon at
//     once (kickMii);
//   - the carrier read: one RTM_GETLINK dump of the whole namespace per
//     period of the shortest miimon among the running bonds (CarrierLister),
//     on the clock's goroutine, posting only changes. It catches what an
//     event brings late: linkwatch delays the notification (not the carrier
//     bit, which a dump shows at once) by up to a second for a device whose
//     iflink equals its ifindex, as a veth whose peer has the same ifindex
//     in another namespace. The kernel reads netif_carrier_ok at each miimon
//     tick, so a change is acted upon within one miimon period, as there.
// An idle namespace therefore costs one dump per miimon period whatever the
// number of slaves, and nothing at miimon 0.

// A CarrierLister is a Host that reads the admin state, carrier and
// tx_dropped of every link of its namespace with one RTM_GETLINK dump,
// decoding nothing else: the carrier read of the MII monitor. Without it
// the read falls back to LinkLister, then to one LinkByIndex per slave.
type CarrierLister interface {
	// Carriers appends every link's state to dst[:0] and returns it. An
	// error (an interrupted dump included) skips that period's read.
	Carriers(dst []CarrierState) ([]CarrierState, error)
}

// A KindCarrierLister is a CarrierLister whose dump can be restricted to
// the links of one rtnetlink kind ("veth"): the kernel then skips every
// other link before filling its message (rtnl_dump_ifinfo's kind filter,
// Linux 4.20+ with NETLINK_GET_STRICT_CHK). The carrier read asks for it
// when every slave it reads has that kind, so a namespace's TAPs (the
// bonds themselves), lo and other links cost the dump nothing.
// CarriersOfKind falls back to the whole dump where the kernel cannot
// filter; the result may then hold other links too.
type KindCarrierLister interface {
	CarriersOfKind(kind string, dst []CarrierState) ([]CarrierState, error)
}

// CarrierState is one link's state as the carrier read needs it.
type CarrierState struct {
	Index     int
	Up        bool   // IFF_UP
	Carrier   bool   // IFF_LOWER_UP
	TxDropped uint64 // IFLA_STATS64 tx_dropped
}

// carrierRead is the registry's carrier read (one per namespace). slaves
// and period are set on the control goroutine (carrierSync); the reads run
// on the clock's goroutine, one at a time (mu), and a new generation (gen)
// ends the previous chain of reads.
type carrierRead struct {
	gen    atomic.Uint64
	slaves atomic.Pointer[[]*Slave] // slaves of the bonds whose MII monitor runs
	kind   atomic.Pointer[string]   // their common rtnetlink kind, "" when they differ or have none
	period time.Duration            // control goroutine: the chain's period; 0 when none runs
	mu     sync.Mutex               // one read at a time; guards buf and at
	buf    []CarrierState
	at     map[int]int // ifindex → position in buf
	dumps  atomic.Uint64
}

// CarrierReads returns how many carrier reads (one dump each with a
// CarrierLister) the registry has made: for tests and benchmarks.
func (r *Registry) CarrierReads() uint64 { return r.carrier.dumps.Load() }

// linkBits packs a slave's admin state and carrier as Slave.seen holds them.
func linkBits(up, carrier bool) uint32 {
	var v uint32
	if up {
		v |= 1
	}
	if carrier {
		v |= 2
	}
	return v
}

// setLink records a slave's admin state and carrier (control goroutine) and
// reports whether they changed.
func (s *Slave) setLink(up, carrier bool) bool {
	if up == s.devUp && carrier == s.carrier {
		return false
	}
	s.devUp, s.carrier = up, carrier
	s.seen.Store(linkBits(up, carrier))
	if n, ok := s.bond.mode.(DevStateNotifier); ok && !s.released {
		n.DevStateChanged(s)
	}
	return true
}

// publishSlaves tells the carrier read and the MII monitor that the bond's
// slaves changed.
func (b *Bond) publishSlaves() {
	b.reg.carrierSync()
	b.wakeMii()
}

// startMonitors starts the MII monitor if the bond is up with miimon set
// and it is not running, and brings the carrier read up to date (miimon may
// have changed).
func (b *Bond) startMonitors() {
	if b.up && b.params.Miimon > 0 && !b.miiWork.Pending() {
		b.miiWork.Queue(0)
	}
	b.reg.carrierSync()
}

// stopMonitors stops the MII monitor; the carrier read forgets the bond.
func (b *Bond) stopMonitors() {
	b.miiWork.Cancel()
	b.stopPoll()
}

// stopPoll takes the bond out of the carrier read.
func (b *Bond) stopPoll() { b.reg.carrierSync() }

// carrierSync (control goroutine) publishes the slaves of every bond whose
// MII monitor runs (up, miimon > 0) to the carrier read and, when the
// shortest miimon among them changed, starts a new chain of reads with that
// period (or none). A chain with an unchanged period keeps its phase.
func (r *Registry) carrierSync() {
	c := &r.carrier
	var period time.Duration
	var l []*Slave
	for _, b := range r.bonds {
		if !b.up || b.deleted || b.params.Miimon <= 0 || len(b.slaves) == 0 {
			continue
		}
		if d := time.Duration(b.params.Miimon) * time.Millisecond; period == 0 || d < period {
			period = d
		}
		l = append(l, b.slaves...)
	}
	kind := ""
	for i, s := range l {
		if i == 0 {
			kind = s.kind
		} else if s.kind != kind {
			kind = ""
			break
		}
	}
	// a read between the two stores may miss a slave of another kind for
	// one period: it then posts no change for it
	c.kind.Store(&kind)
	c.slaves.Store(&l)
	if period == c.period {
		return
	}
	c.period = period
	gen := c.gen.Add(1)
	if period > 0 {
		r.scheduleCarrier(gen, period)
	}
}

// scheduleCarrier arms the next carrier read of generation gen.
func (r *Registry) scheduleCarrier(gen uint64, d time.Duration) {
	r.cfg.Clock.AfterFunc(d, func() {
		if r.carrier.gen.Load() != gen {
			r.carrier.dropIdle()
			return
		}
		r.readCarrier()
		if r.carrier.gen.Load() == gen {
			r.scheduleCarrier(gen, d)
		}
	})
}

// dropIdle (clock goroutine, when a chain of reads has ended) drops the
// dump buffer and its index once no bond's MII monitor runs: they are sized
// to the namespace's links at the last read and would stay for the daemon's
// life after every bond is deleted (issue 19). A new chain allocates them
// again at its first read.
func (c *carrierRead) dropIdle() {
	if l := c.slaves.Load(); l != nil && len(*l) > 0 {
		return
	}
	c.mu.Lock()
	c.buf, c.at = nil, nil
	c.mu.Unlock()
}

// readCarrier is one carrier read (clock goroutine): one dump of the
// namespace, the tx_dropped baseline of every slave found up (requeueDropped),
// and an operation posted to the control goroutine only for slaves whose
// admin state or carrier differ from what it knows, with their speed read.
func (r *Registry) readCarrier() {
	c := &r.carrier
	l := c.slaves.Load()
	if l == nil || len(*l) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dumps.Add(1)
	lookup := r.carrierLookup()
	type change struct {
		s *Slave
		f fetched
	}
	var changes []change
	for _, s := range *l {
		f := lookup(s.index)
		if f.ok && f.link.Up && f.link.Carrier {
			s.txDropped.Store(f.link.TxDropped + 1)
		}
		if f.ok && linkBits(f.link.Up, f.link.Carrier) != s.seen.Load() {
			r.readSpeed(&f)
			changes = append(changes, change{s, f})
		}
	}
	if len(changes) == 0 {
		return
	}
	r.post(func() {
		var kicked []*Bond
		for _, ch := range changes {
			s, b := ch.s, ch.s.bond
			if b == nil || b.deleted || s.released || !newer(&s.linkSeq, ch.f.seq) {
				continue
			}
			s.noteSpeed(ch.f.link, ch.f.speed)
			if s.setLink(ch.f.link.Up, ch.f.link.Carrier) && !slices.Contains(kicked, b) {
				kicked = append(kicked, b)
			}
		}
		for _, b := range kicked {
			b.changed()
			b.kickMii()
			b.rebuildTx()
		}
	})
}

// carrierLookup reads the namespace's links once (CarrierLister, else
// LinkLister) and returns a lookup by ifindex; without either, or when the
// dump fails, the lookup reads each link it is asked for (fetch). Called
// with c.mu held.
func (r *Registry) carrierLookup() func(index int) fetched {
	c := &r.carrier
	seq := r.readSeq.Add(1)
	var err error
	kind := ""
	if k := c.kind.Load(); k != nil {
		kind = *k
	}
	kl, byKind := r.cfg.Host.(KindCarrierLister)
	switch h := r.cfg.Host.(type) {
	case CarrierLister:
		if byKind && kind != "" {
			c.buf, err = kl.CarriersOfKind(kind, c.buf[:0])
		} else {
			c.buf, err = h.Carriers(c.buf[:0])
		}
	case LinkLister:
		var all []LinkInfo
		if all, err = h.Links(); err == nil {
			c.buf = c.buf[:0]
			for _, li := range all {
				c.buf = append(c.buf, CarrierState{Index: li.Index, Up: li.Up, Carrier: li.Carrier, TxDropped: li.TxDropped})
			}
		}
	default:
		return r.fetch
	}
	if err != nil {
		return func(index int) fetched { return fetched{index: index, seq: seq} }
	}
	if c.at == nil {
		c.at = make(map[int]int, len(c.buf))
	}
	clear(c.at)
	for i, st := range c.buf {
		c.at[st.Index] = i
	}
	return func(index int) fetched {
		i, ok := c.at[index]
		if !ok {
			return fetched{index: index, seq: seq} // gone: the link's event releases it
		}
		st := c.buf[i]
		return fetched{index: index, ok: true, seq: seq, link: LinkInfo{Index: index, Up: st.Up, Carrier: st.Carrier, TxDropped: st.TxDropped}}
	}
}

// kickMii runs the MII monitor now (a carrier change arrived) and restarts
// its period, so failures are seen at once instead of at the next miimon
// tick.
func (b *Bond) kickMii() {
	if !b.up || b.params.Miimon <= 0 {
		return
	}
	b.miiMonitor()
	if !b.miiQuiet() {
		b.miiWork.Queue(time.Duration(b.params.Miimon) * time.Millisecond)
	}
}

// miiQuiet reports whether a run of the MII monitor would do nothing until
// the control goroutine learns something new: every slave's link state
// agrees with its carrier (up with carrier, down without; no updelay or
// downdelay counting) and no peer notification round is left. The monitor
// then queues no next tick, so a thousand idle bonds cost no wake-ups.
// What can end the quiet queues it again: a carrier change (kickMii), a
// slave enslaved or released (publishSlaves), a failover's peer
// notification (startPeerNotif → wakeMii), an option write
// (startMonitors). The kernel's bond_mii_monitor keeps ticking and finds
// nothing to do; the states and log lines are the same.
func (b *Bond) miiQuiet() bool {
	if b.arp.sendNotif > 0 {
		return false
	}
	for _, s := range b.slaves {
		ok := s.linkOK()
		if !(s.link == LinkUp && ok) && !(s.link == LinkDown && !ok) {
			return false
		}
	}
	return true
}

// wakeMii queues the MII monitor's next tick, one miimon period from now,
// if none is queued (the monitor was quiet).
func (b *Bond) wakeMii() {
	if b.up && b.params.Miimon > 0 && !b.miiWork.Pending() {
		b.miiWork.Queue(time.Duration(b.params.Miimon) * time.Millisecond)
	}
}

// miiTick is one run of the MII monitor's delayed work.
func (b *Bond) miiTick() {
	if !b.up || b.params.Miimon <= 0 {
		return
	}
	if len(b.slaves) > 0 {
		notify := b.shouldNotifyPeers()
		b.miiMonitor()
		b.miiPeerNotif(notify)
	}
	if !b.miiWork.Pending() && b.up && b.params.Miimon > 0 && !b.miiQuiet() {
		b.miiWork.Queue(time.Duration(b.params.Miimon) * time.Millisecond)
	}
}

// miiMonitor is one run of bond_mii_monitor: inspect, then commit. The
// slaves' carrier is what the control goroutine knows from link events, the
// carrier read and Sync; it reads nothing from the host, and a link-up
// commit takes the speed read with the link state (Slave.noteSpeed), except
// after a change only Sync saw.
func (b *Bond) miiMonitor() {
	if b.miiInspect() > 0 {
		for _, s := range b.slaves {
			if s.newLink == LinkFail || s.newLink == LinkBack {
				s.link = s.newLink
				b.changed()
			}
		}
		b.miiCommit()
	}
}

// miiInspect follows bond_miimon_inspect: it proposes new link states and
// counts the slaves that need a commit.
func (b *Bond) miiInspect() int {
	p := &b.params
	commit := 0
	ignoreUpdelay := false
	if p.Mode.IsActiveBackup() {
		ignoreUpdelay = b.currActive == nil
	} else {
		usable := 0
		for _, s := range b.slaves {
			if s.link == LinkUp {
				usable++
			}
		}
		ignoreUpdelay = usable == 0
	}
	for _, s := range b.slaves {
		s.newLink = -1
		ok := s.linkOK()
		switch s.link {
		case LinkUp, LinkFail:
			if s.link == LinkUp {
				if ok {
					continue
				}
				s.newLink = LinkFail
				commit++
				s.delay = p.DownDelay
				if s.delay > 0 {
					kind := ""
					if p.Mode.IsActiveBackup() {
						if s.active {
							kind = "active "
						} else {
							kind = "backup "
						}
					}
					b.SlaveLogf(s.name, "link status down for %sinterface, disabling it in %d ms", kind, p.DownDelay*p.Miimon)
				}
			}
			if ok {
				s.newLink = LinkUp
				b.SlaveLogf(s.name, "link status up again after %d ms", (p.DownDelay-s.delay)*p.Miimon)
				commit++
				continue
			}
			if s.delay <= 0 {
				s.newLink = LinkDown
				commit++
				continue
			}
			s.delay--
		case LinkDown, LinkBack:
			if s.link == LinkDown {
				if !ok {
					continue
				}
				s.newLink = LinkBack
				commit++
				s.delay = p.UpDelay
				if s.delay > 0 {
					ms := p.UpDelay * p.Miimon
					if ignoreUpdelay {
						ms = 0
					}
					b.SlaveLogf(s.name, "link status up, enabling it in %d ms", ms)
				}
			}
			if !ok {
				s.newLink = LinkDown
				b.SlaveLogf(s.name, "link status down again after %d ms", (p.UpDelay-s.delay)*p.Miimon)
				commit++
				continue
			}
			if ignoreUpdelay {
				s.delay = 0
			}
			if s.delay <= 0 {
				s.newLink = LinkUp
				commit++
				ignoreUpdelay = false
				continue
			}
			s.delay--
		}
	}
	return commit
}

// miiCommit follows bond_miimon_commit; the mode's LinkChanged sets the
// slave's flags (bond_set_active_slave, bond_set_backup_slave,
// bond_3ad_handle_link_change, bond_alb_handle_link_change).
func (b *Bond) miiCommit() {
	failover := false
	for _, s := range b.slaves {
		switch s.newLink {
		case LinkUp:
			b.updateSpeed(s)
			s.link = LinkUp
			b.mode.LinkChanged(s)
			speed := s.speed
			if speed == SpeedUnknown {
				speed = 0
			}
			dup := "half"
			if s.duplex != DuplexHalf {
				dup = "full"
			}
			b.SlaveLogf(s.name, "link status definitely up, %d Mbps %s duplex", speed, dup)
			if b.currActive == nil || s == b.primary {
				failover = true
			}
		case LinkDown:
			s.linkFailureCount++
			s.link = LinkDown
			b.mode.LinkChanged(s)
			b.SlaveLogf(s.name, "link status definitely down, disabling slave")
			if s == b.currActive {
				failover = true
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

// linkOK is bond_check_dev_link with use_carrier: the slave is running and
// has carrier.
func (s *Slave) linkOK() bool { return s.devUp && s.carrier }
