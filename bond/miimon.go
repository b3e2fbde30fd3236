package bond

import (
	"sync/atomic"
	"time"
)

// The MII monitor (bond_main.c bond_mii_monitor, bond_miimon_inspect,
// bond_miimon_commit) and the carrier poll that feeds it.

// CarrierPollInterval is how often a running bond with MII monitoring reads
// its slaves' carrier between miimon ticks. The kernel reads carrier only at
// each miimon tick, and rtnetlink carrier events can lag by up to a second
// (linkwatch rate-limits devices whose iflink equals their ifindex, as a veth
// whose peer has the same ifindex in another namespace), so polling every
// 10 ms is what bounds failover time. The poll reads the links on its own
// goroutine and posts only changes to the control goroutine, where they run
// the MII monitor at once (kickMii); up/down delays still count in miimon
// ticks.
const CarrierPollInterval = 10 * time.Millisecond

// poller is a bond's carrier poll. Its reads run outside the control
// goroutine (on the Clock's AfterFunc); gen stops it.
type poller struct {
	gen    atomic.Uint64
	slaves atomic.Pointer[[]*Slave] // published by the control goroutine
}

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

// publishSlaves tells the carrier poll which slaves to read.
func (b *Bond) publishSlaves() {
	l := append([]*Slave(nil), b.slaves...)
	b.poll.slaves.Store(&l)
}

// startMonitors starts the MII monitor and the carrier poll if the bond is
// up with miimon set and they are not running.
func (b *Bond) startMonitors() {
	if b.up && b.params.Miimon > 0 && !b.miiWork.Pending() {
		b.miiWork.Queue(0)
		b.startPoll()
	}
}

// stopMonitors stops the MII monitor and the carrier poll.
func (b *Bond) stopMonitors() {
	b.miiWork.Cancel()
	b.stopPoll()
}

// startPoll starts a new generation of the carrier poll.
func (b *Bond) startPoll() {
	b.publishSlaves()
	gen := b.poll.gen.Add(1)
	b.schedulePoll(gen)
}

// stopPoll ends the current generation.
func (b *Bond) stopPoll() { b.poll.gen.Add(1) }

// schedulePoll arms the next carrier poll of generation gen. The read runs
// on the clock's goroutine: one LinkByIndex per slave, and an operation
// posted to the control goroutine only if some slave differs from what the
// control goroutine knows.
func (b *Bond) schedulePoll(gen uint64) {
	r := b.reg
	r.cfg.Clock.AfterFunc(CarrierPollInterval, func() {
		if b.poll.gen.Load() != gen {
			return
		}
		type change struct {
			s *Slave
			f fetched
		}
		var changes []change
		if l := b.poll.slaves.Load(); l != nil {
			for _, s := range *l {
				f := r.fetch(s.index)
				if f.ok && f.link.Up && f.link.Carrier {
					s.txDropped.Store(f.link.TxDropped + 1)
				}
				if f.ok && linkBits(f.link.Up, f.link.Carrier) != s.seen.Load() {
					r.readSpeed(&f)
					changes = append(changes, change{s, f})
				}
			}
		}
		if len(changes) > 0 {
			r.post(func() {
				if b.deleted {
					return
				}
				changed := false
				for _, c := range changes {
					s := c.s
					if s.bond == b && !s.released && newer(&s.linkSeq, c.f.seq) {
						s.noteSpeed(c.f.link, c.f.speed)
						if s.setLink(c.f.link.Up, c.f.link.Carrier) {
							changed = true
						}
					}
				}
				if changed {
					b.changed()
					b.kickMii()
					b.rebuildTx()
				}
			})
		}
		if b.poll.gen.Load() == gen {
			b.schedulePoll(gen)
		}
	})
}

// kickMii runs the MII monitor now (a carrier change arrived) and restarts
// its period, so failures are seen at once instead of at the next miimon
// tick.
func (b *Bond) kickMii() {
	if !b.up || b.params.Miimon <= 0 {
		return
	}
	b.miiMonitor()
	b.miiWork.Queue(time.Duration(b.params.Miimon) * time.Millisecond)
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
	if !b.miiWork.Pending() && b.up && b.params.Miimon > 0 {
		b.miiWork.Queue(time.Duration(b.params.Miimon) * time.Millisecond)
	}
}

// miiMonitor is one run of bond_mii_monitor: inspect, then commit. The
// slaves' carrier is what the control goroutine knows from link events, the
// carrier poll and Sync; it reads nothing from the host, and a link-up
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
