package bond

import (
	"bytes"
	"net"
	"syscall"
)

// Active slave selection and the slaves' active/backup flags (bond_main.c
// bond_select_active_slave, bond_change_active_slave and their helpers;
// bond_options.c for active_slave and primary).

// SetSlaveActive marks s active (bond_set_slave_active_flags).
func (b *Bond) SetSlaveActive(s *Slave) {
	s.active = true
	s.arp.backup.Store(false)
	s.rxDrop.Store(false)
	b.fpSlaveDelivers(s) // make before break: before a peer notification
}

// SetSlaveInactive marks s backup, except in balance-tlb/alb whose slaves
// keep the active flag, and, unless all_slaves_active, inactive: frames it
// receives are dropped after the receive probe
// (bond_set_slave_inactive_flags).
func (b *Bond) SetSlaveInactive(s *Slave) {
	if !b.params.Mode.IsLB() {
		s.active = false
		s.arp.backup.Store(true)
	}
	s.rxDrop.Store(b.params.AllSlavesActive == 0)
}

// SetSlaveRx sets how frames received on s reach the bond device in
// balance-tlb and balance-alb, where each slave has its own MAC
// (bond_handle_frame, bond_should_deliver_exact_match): with unicast, an
// inactive slave still delivers frames that are not multicast or broadcast
// (balance-alb); frames addressed to local, the slave's own MAC when it is
// not the bond's, are delivered addressed to master, the bond's MAC, as the
// kernel's stack accepts them as PACKET_HOST of the slave. local nil turns
// the rewrite off.
func (b *Bond) SetSlaveRx(s *Slave, local, master net.HardwareAddr, unicast bool) {
	s.rxUnicast.Store(unicast)
	if len(local) != 6 || len(master) != 6 || bytes.Equal(local, master) {
		s.rxLocal.Store(nil)
		return
	}
	var a [12]byte
	copy(a[0:6], local)
	copy(a[6:12], master)
	if old := s.rxLocal.Load(); old == nil || *old != a {
		s.rxLocal.Store(&a)
	}
}

// SetSlaveBackup clears only s's active flag (bond_set_backup_slave).
func (b *Bond) SetSlaveBackup(s *Slave) { s.active = false; s.arp.backup.Store(true) }

// SetSlaveMAC sets s's MAC address on the host (dev_set_mac_address).
func (b *Bond) SetSlaveMAC(s *Slave, mac net.HardwareAddr) error {
	return b.reg.cfg.Host.SetHWAddr(s.index, mac)
}

// Send queues frame on s's socket (see Control.Send): ENODEV when s has no
// open device.
func (b *Bond) Send(s *Slave, frame []byte) error {
	if s.dev == nil {
		return syscall.ENODEV
	}
	return s.dev.WriteFrame(frame)
}

// TxChanged rebuilds and publishes the transmit selector.
func (b *Bond) TxChanged() { b.rebuildTx() }

// CarrierChanged reruns the carrier decision (bond_set_carrier).
func (b *Bond) CarrierChanged() { b.setCarrier() }

// setCarrier sets the bond's carrier (bond_set_carrier): the mode's
// decision if it makes one (802.3ad with min_links), else on when any
// slave's link is up. It reports whether the carrier changed.
func (b *Bond) setCarrier() bool {
	on, decided := b.mode.Carrier()
	if !decided {
		on = false
		for _, s := range b.slaves {
			if s.link == LinkUp {
				on = true
				break
			}
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
	b.ChangeActiveSlave(best)
	rv := b.setCarrier()
	if b.params.Mode == Mode8023AD {
		// bond_3ad_set_carrier returns 1 whenever the bond has a slave,
		// changed or not
		rv = len(b.slaves) > 0
	}
	if !rv {
		return
	}
	if b.carrier {
		b.Logf("active interface up!")
	} else {
		b.Logf("now running without any active interface!")
	}
}

// ChangeActiveSlave follows bond_change_active_slave: the log lines of the
// modes with a primary, a slave "going back" promoted at once, then the
// mode's ActiveChanged hook.
func (b *Bond) ChangeActiveSlave(n *Slave) {
	old := b.currActive
	if old == n {
		return
	}
	if n != nil {
		n.arp.lastLinkUp.Store(b.reg.nanos())
		if n.link == LinkBack {
			if b.params.Mode.UsesPrimary() {
				b.SlaveLogf(n.name, "making interface the new active one %d ms earlier",
					(b.params.UpDelay-n.delay)*b.params.Miimon)
			}
			n.delay = 0
			n.link, n.newLink = LinkUp, LinkUp
		} else if b.params.Mode.UsesPrimary() {
			b.SlaveLogf(n.name, "making interface the new active one")
		}
	}
	b.currActive = n
	if old != nil {
		b.failovers++
	}
	b.mode.ActiveChanged(old, n)
	b.rebuildTx()
	b.startIGMPResend(n)
	b.changed()
	name := ""
	if n != nil {
		name = n.name
	}
	b.reg.journal(Change{Kind: ChangeActive, Bond: b.name, Name: name})
}

// failOverMAC is bond_do_fail_over_mac on a change of active slave in
// active-backup: with fail_over_mac=active the bond takes the new active
// slave's MAC; with follow the new active slave takes the bond's MAC and the
// old one (the previous active slave, or the slave that holds the bond's
// MAC) the new one's. The slaves' MACs are the ones the engine gave them
// (Slave.arp.mac), so nothing is read from the host here.
func (b *Bond) failOverMAC(n, old *Slave) {
	h := b.reg.cfg.Host
	switch b.params.FailOverMACInEffect() {
	case FOMActive:
		if n == nil || len(n.arp.mac) != 6 {
			return
		}
		b.masterWritten()
		if err := h.SetHWAddr(b.index, n.arp.mac); err != nil {
			b.SlaveLogf(n.name, "Error %d setting bond MAC from slave", int(ErrnoOf(err)))
			return
		}
		b.hwaddr = append(net.HardwareAddr(nil), n.arp.mac...)
		b.macSet = true
		b.changed()
	case FOMFollow:
		if n == nil {
			return
		}
		if old == nil {
			for _, s := range b.slaves {
				if s != n && bytes.Equal(s.arp.mac, b.hwaddr) {
					old = s
					break
				}
			}
		}
		newMAC := append(net.HardwareAddr(nil), b.hwaddr...)
		if old != nil {
			newMAC = append(net.HardwareAddr(nil), old.arp.mac...)
		}
		prev := n.arp.mac
		if err := h.SetHWAddr(n.index, newMAC); err != nil {
			b.SlaveLogf(n.name, "Error %d setting MAC of new active slave", int(ErrnoOf(err)))
			return
		}
		n.arp.mac = newMAC
		if old == nil {
			return
		}
		if err := h.SetHWAddr(old.index, prev); err != nil {
			b.SlaveLogf(old.name, "Error %d setting MAC of old active slave", int(ErrnoOf(err)))
			return
		}
		old.arp.mac = append(net.HardwareAddr(nil), prev...)
	}
}

// SetActiveSlave makes the named slave curr_active_slave
// (bond_options.c bond_option_active_slave_set). "" clears the active slave
// and reselects. Errors: ENODEV (no such interface), EINVAL (not a slave of
// this bond, or its link is not up).
func (b *Bond) SetActiveSlave(name string) error {
	if name == "" {
		if old := b.currActive; old != nil {
			b.currActive = nil
			b.mode.ActiveChanged(old, nil)
		}
		b.selectActive()
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
		b.ChangeActiveSlave(n)
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
