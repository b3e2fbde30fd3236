package bond

import (
	"syscall"
	"time"
)

// setActive marks s active (bond_set_slave_active_flags).
func (b *Bond) setActive(s *Slave) {
	s.active = true
	s.rxDrop.Store(false)
}

// setInactive marks s backup and, unless all_slaves_active, inactive: frames
// it receives are dropped (bond_set_slave_inactive_flags).
func (b *Bond) setInactive(s *Slave) {
	if !IsLB(b.params.Mode) || b.params.Mode == Mode8023AD {
		s.active = false
	}
	s.rxDrop.Store(b.params.AllSlavesActive == 0)
}

// setCarrier sets the bond's carrier from its slaves (bond_set_carrier):
// on when any slave's link is up. It reports whether the carrier changed.
func (b *Bond) setCarrier() bool {
	on := false
	for _, s := range b.slaves {
		if s.link == LinkUp {
			on = true
			break
		}
	}
	if on == b.carrier {
		return false
	}
	b.carrier = on
	_ = b.master.SetCarrier(on)
	b.changed()
	return true
}

// choosePrimaryOrCurrent follows bond_choose_primary_or_current.
//
// Without a usable primary, the first slave whose link is up (the one with
// the highest slave priority; priorities are netlink-only, so all equal
// here) stands in for the primary, as 6.0+ kernels do.
func (b *Bond) choosePrimaryOrCurrent() *Slave {
	prim, curr := b.primary, b.currActive
	if prim == nil || prim.link != LinkUp {
		var hprio *Slave
		for _, s := range b.slaves {
			if s.link == LinkUp {
				hprio = s
				break
			}
		}
		if hprio == nil || hprio == curr {
			if curr == nil || curr.link != LinkUp {
				return nil
			}
			return curr
		}
		prim = hprio
	} else if b.forcePrimary {
		b.forcePrimary = false
		return prim
	}
	if curr == nil || curr.link != LinkUp {
		return prim
	}
	switch b.params.PrimaryReselect {
	case ReselectBetter:
		if prim.speed < curr.speed {
			return curr
		}
		if prim.speed == curr.speed && prim.duplex <= curr.duplex {
			return curr
		}
		return prim
	case ReselectFailure:
		return curr
	default:
		return prim
	}
}

// findBest follows bond_find_best_slave.
func (b *Bond) findBest() *Slave {
	if s := b.choosePrimaryOrCurrent(); s != nil {
		return s
	}
	var best *Slave
	mintime := b.params.UpDelay
	for _, s := range b.slaves {
		if s.link == LinkUp {
			return s
		}
		if s.link == LinkBack && s.devUp && s.delay < mintime {
			mintime = s.delay
			best = s
		}
	}
	return best
}

// selectActive follows bond_select_active_slave.
func (b *Bond) selectActive() {
	best := b.findBest()
	if best == b.currActive {
		return
	}
	b.changeActive(best)
	if !b.setCarrier() {
		return
	}
	if b.carrier {
		b.Logf("active interface up!")
	} else {
		b.Logf("now running without any active interface!")
	}
}

// changeActive follows bond_change_active_slave for the modes without
// ALB/802.3ad specifics.
func (b *Bond) changeActive(n *Slave) {
	old := b.currActive
	if old == n {
		return
	}
	if n != nil {
		if n.link == LinkBack {
			if UsesPrimary(b.params.Mode) {
				b.SlaveLogf(n.name, "making interface the new active one %d ms earlier",
					(b.params.UpDelay-n.delay)*b.params.Miimon)
			}
			n.delay = 0
			n.link, n.newLink = LinkUp, LinkUp
		} else if UsesPrimary(b.params.Mode) {
			b.SlaveLogf(n.name, "making interface the new active one")
		}
	}
	b.currActive = n
	if b.params.Mode == ModeActiveBackup {
		if old != nil {
			b.setInactive(old)
		}
		if n != nil {
			b.setActive(n)
			if b.params.FailOverMAC != FOMNone {
				b.failOverMAC(n, old)
			}
			if b.up {
				b.notifyPeers(n)
			}
		}
	}
	b.rebuildTx()
	b.changed()
}

// failOverMAC applies fail_over_mac=active|follow on a change of active
// slave (bond_do_fail_over_mac).
func (b *Bond) failOverMAC(n, old *Slave) {
	h := b.reg.cfg.Host
	switch b.params.FailOverMAC {
	case FOMActive:
		if li, err := h.LinkByIndex(n.index); err == nil && len(li.HWAddr) == 6 {
			if err := h.SetHWAddr(b.index, li.HWAddr); err == nil {
				b.hwaddr = append(b.hwaddr[:0:0], li.HWAddr...)
			}
		}
	case FOMFollow:
		if old != nil {
			if li, err := h.LinkByIndex(n.index); err == nil {
				_ = h.SetHWAddr(old.index, li.HWAddr)
			}
		}
		_ = h.SetHWAddr(n.index, b.hwaddr)
	}
}

// SetActiveSlave makes the named slave curr_active_slave
// (bond_options.c bond_option_active_slave_set). "" clears the active slave
// and reselects. Errors: ENODEV (no such interface), EINVAL (not a slave of
// this bond, or its link is not up).
func (b *Bond) SetActiveSlave(name string) error {
	if name == "" {
		old := b.currActive
		b.currActive = nil
		b.selectActive()
		if old != nil && old != b.currActive && b.params.Mode == ModeActiveBackup {
			b.setInactive(old)
		}
		b.rebuildTx()
		b.changed()
		return nil
	}
	li, err := b.reg.cfg.Host.LinkByName(name)
	if err != nil {
		return syscall.ENODEV
	}
	n := b.slaveByIndex(li.Index)
	if n == nil {
		if b.reg.masterOf(li.Index) == nil {
			b.SlaveLogf(li.Name, "Device is not bonding slave")
		} else {
			b.SlaveLogf(li.Name, "Device is not our slave")
		}
		return syscall.EINVAL
	}
	old := b.currActive
	if n == old {
		return nil
	}
	if old != nil && n.link == LinkUp && n.devUp {
		b.changeActive(n)
		return nil
	}
	b.SlaveLogf(n.name, "Could not set as active slave; either %s is down or the link is down", n.name)
	return syscall.EINVAL
}

// SetPrimary records the primary option and reselects
// (bond_options.c bond_option_primary_set). A name that is not enslaved is
// remembered for a later enslave.
func (b *Bond) SetPrimary(name string) {
	if len(name) >= ifNameSize {
		name = name[:ifNameSize-1]
	}
	defer b.changed()
	if name == "" {
		b.primary = nil
		b.params.Primary = ""
		b.selectActive()
		return
	}
	for _, s := range b.slaves {
		if s.name == name {
			b.primary = s
			b.params.Primary = s.name
			b.forcePrimary = true
			b.selectActive()
			return
		}
	}
	if b.primary != nil {
		b.primary = nil
		b.selectActive()
	}
	b.params.Primary = name
}

// Reselect reruns the active slave selection (bond_select_active_slave), as
// a change of primary_reselect does.
func (b *Bond) Reselect() {
	b.selectActive()
	b.changed()
}

// ParamsChanged applies a parameter change to the running bond: the MII
// monitor follows miimon, inactive slaves follow all_slaves_active, the TX
// table follows mode, xmit_hash_policy and packets_per_slave.
func (b *Bond) ParamsChanged() {
	for _, s := range b.slaves {
		if !s.active || (b.params.Mode == ModeActiveBackup && s != b.currActive) {
			if UsesPrimary(b.params.Mode) || b.params.Mode == Mode8023AD {
				s.rxDrop.Store(b.params.AllSlavesActive == 0)
			}
		}
	}
	if b.up && b.params.Miimon > 0 {
		if b.miiTimer == nil {
			b.scheduleMii(0)
			b.startPoll()
		}
	} else {
		b.stopTimers()
	}
	b.rebuildTx()
	b.changed()
}

// open is bond_open: the master went administratively up.
func (b *Bond) open() {
	b.up = true
	for _, s := range b.slaves {
		if UsesPrimary(b.params.Mode) && s != b.currActive {
			b.setInactive(s)
		} else if b.params.Mode != Mode8023AD {
			b.setActive(s)
		}
	}
	if b.params.Miimon > 0 {
		b.scheduleMii(0)
		b.startPoll()
	}
	b.rebuildTx()
	b.changed()
}

// close is bond_close: the master went down; monitors stop.
func (b *Bond) close() {
	b.up = false
	b.stopTimers()
	b.changed()
}

func (b *Bond) stopTimers() {
	b.miiGen++
	if b.miiTimer != nil {
		b.miiTimer.Stop()
		b.miiTimer = nil
	}
	b.pollGen++
	if b.pollTimer != nil {
		b.pollTimer.Stop()
		b.pollTimer = nil
	}
}

// scheduleMii arms the next MII monitor run after d.
func (b *Bond) scheduleMii(d time.Duration) {
	if b.miiTimer != nil {
		b.miiTimer.Stop()
	}
	b.miiGen++
	gen := b.miiGen
	r := b.reg
	b.miiTimer = r.cfg.Clock.AfterFunc(d, func() {
		r.post(func() {
			if b.miiGen != gen || !b.up || b.params.Miimon <= 0 || r.Bond(b.name) != b {
				return
			}
			b.miiTimer = nil
			b.miiMonitor()
			if b.miiTimer == nil && b.up && b.params.Miimon > 0 {
				b.scheduleMii(time.Duration(b.params.Miimon) * time.Millisecond)
			}
		})
	})
}

// CarrierPollInterval is how often a running bond with MII monitoring reads
// its slaves' carrier between miimon ticks. The kernel reads carrier only at
// each miimon tick, and rtnetlink carrier events can lag by up to a second
// (linkwatch rate-limits devices whose iflink equals their ifindex, as a veth
// whose peer has the same ifindex in another namespace), so polling every
// 10 ms is what bounds failover time. Changes found here run the MII monitor
// at once (kickMii); up/down delays still count in miimon ticks.
const CarrierPollInterval = 10 * time.Millisecond

// refreshLinks reads every slave's current admin state and carrier from the
// host (RTM_GETLINK reports netif_carrier_ok directly, as bond_check_dev_link
// reads it) and reports whether any changed.
func (b *Bond) refreshLinks() bool {
	changed := false
	for _, s := range b.slaves {
		li, err := b.reg.cfg.Host.LinkByIndex(s.index)
		if err != nil {
			continue
		}
		if li.Up != s.devUp || li.Carrier != s.carrier {
			s.devUp, s.carrier = li.Up, li.Carrier
			changed = true
		}
	}
	return changed
}

// startPoll starts the carrier poll chain (a new generation).
func (b *Bond) startPoll() {
	if b.pollTimer != nil {
		b.pollTimer.Stop()
	}
	b.pollGen++
	b.schedulePoll(b.pollGen)
}

// schedulePoll arms the next carrier poll of generation gen.
func (b *Bond) schedulePoll(gen int) {
	r := b.reg
	b.pollTimer = r.cfg.Clock.AfterFunc(CarrierPollInterval, func() {
		r.post(func() {
			if b.pollGen != gen || !b.up || b.params.Miimon <= 0 || r.Bond(b.name) != b {
				return
			}
			if b.refreshLinks() {
				b.changed()
				b.kickMii()
				b.rebuildTx()
			}
			b.schedulePoll(gen)
		})
	})
}

// kickMii runs the MII monitor now (a netlink carrier event arrived) and
// restarts its period, so failures are seen at once instead of at the next
// miimon tick.
func (b *Bond) kickMii() {
	if !b.up || b.params.Miimon <= 0 {
		return
	}
	b.miiMonitor()
	b.scheduleMii(time.Duration(b.params.Miimon) * time.Millisecond)
}

// miiMonitor is one run of bond_mii_monitor: inspect, then commit.
func (b *Bond) miiMonitor() {
	b.refreshLinks()
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
	if p.Mode == ModeActiveBackup {
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
					if p.Mode == ModeActiveBackup {
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

// miiCommit follows bond_miimon_commit.
func (b *Bond) miiCommit() {
	failover := false
	for _, s := range b.slaves {
		switch s.newLink {
		case LinkUp:
			b.updateSpeed(s)
			s.link = LinkUp
			if b.params.Mode == Mode8023AD {
				s.active = false
			} else if b.params.Mode != ModeActiveBackup {
				b.setActive(s)
			}
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
			if b.params.Mode == ModeActiveBackup || b.params.Mode == Mode8023AD {
				b.setInactive(s)
			}
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
