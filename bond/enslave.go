package bond

import (
	"bytes"
	crand "crypto/rand"
	"net"
	"slices"
	"syscall"
)

func (b *Bond) slaveByIndex(index int) *Slave {
	for _, s := range b.slaves {
		if s.index == index {
			return s
		}
	}
	return nil
}

// masterOf returns the bond that has the interface index as a slave.
func (r *Registry) masterOf(index int) *Bond {
	for _, b := range r.bonds {
		if b.slaveByIndex(index) != nil {
			return b
		}
	}
	return nil
}

// bondByIndex returns the bond whose master device has ifindex index.
func (r *Registry) bondByIndex(index int) *Bond {
	for _, b := range r.bonds {
		if b.index == index {
			return b
		}
	}
	return nil
}

// Enslave adds the interface named name as a slave (bond_main.c
// bond_enslave). It logs the kernel's lines and returns a syscall.Errno:
// ENODEV (no such interface), EBUSY (already a slave or another master's
// port: "Device is in use and cannot be enslaved"), EPERM (the bond itself,
// or the interface is up), or the errno of a failed device operation.
// The steps run in bond_enslave's order; a failed one undoes what the
// earlier ones did to the devices.
func (b *Bond) Enslave(name string) error {
	li, err := b.enslaveChecks(name)
	if err != nil {
		return err
	}
	e := &enslaving{b: b, h: b.reg.cfg.Host, li: li, s: b.newSlave(li)}
	if err := e.prepareDevice(); err != nil {
		return err
	}
	if err := e.openSlaveDev(); err != nil {
		return err
	}
	b.initLinkState(e.s)
	if err := e.bind(); err != nil {
		return err
	}
	b.enslaved(e.s, li)
	return nil
}

// enslaveChecks looks the interface up and refuses it, with the kernel's
// log line, when it cannot be enslaved (see Enslave for the errno).
func (b *Bond) enslaveChecks(name string) (LinkInfo, error) {
	li, err := b.reg.cfg.Host.LinkByName(name)
	if err != nil {
		return LinkInfo{}, syscall.ENODEV
	}
	if b.reg.masterOf(li.Index) != nil || li.MasterIndex != 0 {
		b.SlaveLogf(li.Name, "Error: Device is in use and cannot be enslaved")
		return LinkInfo{}, syscall.EBUSY
	}
	if li.Index == b.index {
		b.Logf("Error: Cannot enslave bond to itself.")
		return LinkInfo{}, syscall.EPERM
	}
	if li.Loopback {
		b.SlaveLogf(li.Name, "enslaved VLAN challenged slave. Adding VLANs will be blocked as long as it is part of bond.")
	}
	if li.Up {
		b.SlaveLogf(li.Name, "Error: Device can not be enslaved while up")
		return LinkInfo{}, syscall.EPERM
	}
	return li, nil
}

// newSlave is the slave li becomes, remembering what release restores.
func (b *Bond) newSlave(li LinkInfo) *Slave {
	return &Slave{
		bond:       b,
		name:       li.Name,
		index:      li.Index,
		permHWAddr: append(net.HardwareAddr(nil), li.HWAddr...),
		origMTU:    li.MTU,
		speed:      SpeedUnknown,
		duplex:     DuplexUnknown,
	}
}

// enslaving is one Enslave in progress (control goroutine): the slave, the
// link as it was found, and the bond's MAC before the slave gave it one.
type enslaving struct {
	b         *Bond
	h         Host
	li        LinkInfo
	s         *Slave
	oldMAC    net.HardwareAddr
	oldMACSet bool
}

// prepareDevice gives a bond with a random MAC the first slave's address,
// the slave the bond's MTU and (fail_over_mac none) the bond's MAC, and
// brings the slave up.
func (e *enslaving) prepareDevice() error {
	b, h, li := e.b, e.h, e.li
	e.oldMAC = append(net.HardwareAddr(nil), b.hwaddr...)
	e.oldMACSet = b.macSet
	if len(b.slaves) == 0 && !b.macSet && len(li.HWAddr) == 6 {
		b.masterWritten()
		if err := h.SetHWAddr(b.index, li.HWAddr); err != nil {
			return errnoOr(err, syscall.EINVAL)
		}
		b.hwaddr = append(net.HardwareAddr(nil), li.HWAddr...)
		b.macSet = true
	}
	if li.MTU != b.mtu {
		if err := h.SetMTU(li.Index, b.mtu); err != nil {
			e.undoBondMAC()
			return errnoOr(err, syscall.EINVAL)
		}
	}
	if b.params.FailOverMACInEffect() == FOMNone {
		if !bytes.Equal(li.HWAddr, b.hwaddr) {
			if err := h.SetHWAddr(li.Index, b.hwaddr); err != nil {
				_ = h.SetMTU(li.Index, li.MTU)
				e.undoBondMAC()
				return errnoOr(err, syscall.EOPNOTSUPP)
			}
		}
	}
	if err := h.SetLinkUp(li.Index, true); err != nil {
		e.undoSlave()
		return errnoOr(err, syscall.EINVAL)
	}
	return nil
}

// undoBondMAC gives the bond back the MAC it had before the first slave
// gave it its own.
func (e *enslaving) undoBondMAC() {
	b := e.b
	if !e.oldMACSet && b.macSet {
		b.masterWritten()
		_ = e.h.SetHWAddr(b.index, e.oldMAC)
		b.hwaddr, b.macSet = e.oldMAC, false
	}
}

// undoSlave takes the slave down, gives it back its MAC and MTU, and the
// bond its MAC.
func (e *enslaving) undoSlave() {
	li := e.li
	_ = e.h.SetLinkUp(li.Index, false)
	_ = e.h.SetHWAddr(li.Index, e.s.permHWAddr)
	_ = e.h.SetMTU(li.Index, li.MTU)
	e.undoBondMAC()
}

// openSlaveDev opens the slave's data-path device and takes its link state
// (the latest one read, else up without carrier) and speed.
func (e *enslaving) openSlaveDev() error {
	b, s, li := e.b, e.s, e.li
	dev, err := e.h.OpenSlaveDev(li)
	if err != nil {
		e.undoSlave()
		return errnoOr(err, syscall.ENOMEM)
	}
	s.dev = dev
	if rp, ok := dev.(RxPender); ok {
		s.rxPender.Store(&rp)
	}
	if f := b.reg.fetch(li.Index); f.ok {
		s.linkSeq = f.seq
		s.setLink(f.link.Up, f.link.Carrier)
	} else {
		s.setLink(true, false)
	}
	b.updateSpeed(s)
	return nil
}

// initLinkState is a new slave's first link state: with miimon, up (or
// going up over updelay) when its link is usable; with arp_interval, up
// with carrier; else up.
func (b *Bond) initLinkState(s *Slave) {
	p := &b.params
	switch {
	case p.Miimon > 0:
		if s.linkOK() {
			if p.UpDelay > 0 {
				s.link = LinkBack
				s.delay = p.UpDelay
			} else {
				s.link = LinkUp
			}
		} else {
			s.link = LinkDown
		}
	case p.ARPInterval > 0:
		if s.carrier {
			s.link = LinkUp
		} else {
			s.link = LinkDown
		}
	default:
		s.link = LinkUp
	}
	s.newLink = s.link
}

// bind makes the slave the primary when named so, adds it to the list and
// binds it to the mode; a failed bind takes it out again, closes its device
// and undoes the device changes.
func (e *enslaving) bind() error {
	b, s := e.b, e.s
	p := &b.params
	if p.Mode.UsesPrimary() && p.Primary != "" && p.Primary == s.name {
		b.primary = s
		b.forcePrimary = true
	}
	b.slaves = append(b.slaves, s)
	if err := b.mode.Bind(s); err != nil {
		b.slaves = slices.Delete(b.slaves, len(b.slaves)-1, len(b.slaves))
		if b.primary == s {
			b.primary = nil
		}
		_ = s.dev.Close()
		e.undoSlave()
		return ErrnoOf(err)
	}
	return nil
}

// enslaved finishes a bound slave: ARP monitor state, the bond's carrier,
// the active slave, the "Enslaving as" line, its reader, and the snapshot,
// transmit table and journal.
func (b *Bond) enslaved(s *Slave, li LinkInfo) {
	s.kind = li.Kind
	s.arp.mac = append(net.HardwareAddr(nil), li.HWAddr...)
	b.arpEnslaved(s)
	b.setCarrier()
	if b.params.Mode.UsesPrimary() {
		b.selectActive()
	}
	state := "a backup"
	if s.active {
		state = "an active"
	}
	link := "an up"
	if s.link == LinkDown {
		link = "a down"
	}
	b.SlaveLogf(s.name, "Enslaving as %s interface with %s link", state, link)
	s.initProbe()
	b.startReader(s)
	b.publishSlaves()
	b.rebuildTx()
	b.changed()
	b.journalEnslave(s, li.Up)
}

// Release removes the slave named name (bond_main.c bond_release): EINVAL
// when it is not a slave of b.
func (b *Bond) Release(name string) error {
	s := b.SlaveByName(name)
	if s == nil {
		return syscall.EINVAL
	}
	b.release(s, false)
	return nil
}

// release detaches s (__bond_release_one); all is true while the bond itself
// is being deleted.
func (b *Bond) release(s *Slave, all bool) {
	h := b.reg.cfg.Host
	b.SetSlaveInactive(s)
	if b.params.Mode == Mode8023AD {
		// __bond_release_one unbinds the 802.3ad port (its "Removing an
		// active aggregator") before it logs the release; the other modes'
		// unbind comes after
		b.mode.Unbind(s)
	}
	state := "backup"
	if s.active { // balance-tlb/alb slaves keep the active flag
		state = "active"
	}
	b.SlaveLogf(s.name, "Releasing %s interface", state)
	// balance-tlb/alb unbind later (bond_alb_deinit_slave)
	lbDeinit := b.params.Mode.IsLB()
	if !lbDeinit && b.params.Mode != Mode8023AD {
		b.mode.Unbind(s)
	}
	old := b.currActive
	// slices.Delete clears the vacated tail slot (a released slave must not
	// stay reachable from the backing array); no slave left, no array
	if i := slices.Index(b.slaves, s); i >= 0 {
		b.slaves = slices.Delete(b.slaves, i, i+1)
	}
	if len(b.slaves) == 0 {
		b.slaves = nil
	}
	// 6.1.192 (Debian's) warns with fail_over_mac follow too: only active
	// moves the bond's MAC away before it could matter (oracle
	// 62-release-hwaddr)
	if !all && b.params.FailOverMACInEffect() != FOMActive {
		if bytes.Equal(b.hwaddr, s.permHWAddr) && len(b.slaves) > 0 {
			b.SlaveLogf(s.name, "the permanent HWaddr of slave - %s - is still in use by bond - set the HWaddr of slave to a different address to avoid conflicts", s.permHWAddr)
		}
	}
	if b.primary == s {
		b.primary = nil
	}
	if b.arp.currARP == s {
		b.arp.currARP = nil
	}
	if old == s {
		b.ChangeActiveSlave(nil)
	}
	if lbDeinit {
		// bond_alb_deinit_slave runs once the slave has left the list and
		// curr_active_slave was cleared, before a new one is selected
		b.mode.Unbind(s)
	}
	if all {
		b.currActive = nil
	} else if old == s {
		b.selectActive()
	}
	b.setCarrier()
	if len(b.slaves) == 0 && !all {
		b.randomHWAddr()
	}
	b.rebuildTx()
	b.publishSlaves()
	s.released = true
	b.stopReader(s)
	// close the slave before restoring its address
	if _, err := h.LinkByIndex(s.index); err == nil {
		_ = h.SetLinkUp(s.index, false)
		if b.params.FailOverMACInEffect() != FOMActive {
			_ = h.SetHWAddr(s.index, s.permHWAddr)
		}
		_ = h.SetMTU(s.index, s.origMTU)
	}
	b.changed()
	b.reg.journal(Change{Kind: ChangeRelease, Bond: b.name, Name: s.name})
}

// updateSpeed refreshes speed and duplex (bond_update_speed_duplex): from
// the read that brought the link state being committed when it has them
// (read outside the control goroutine), else from the host now.
func (b *Bond) updateSpeed(s *Slave) {
	if o := b.reg.bondByIndex(s.index); o != nil {
		s.speed, s.duplex = o.speedDuplex()
		return
	}
	if sp := s.nextSpeed; sp.ok {
		s.nextSpeed = speedRead{}
		s.speed, s.duplex = sp.mbps, sp.duplex
		return
	}
	mbps, duplex, err := b.reg.cfg.Host.Speed(s.index)
	if err != nil {
		mbps, duplex = SpeedUnknown, DuplexUnknown
	}
	s.speed, s.duplex = mbps, duplex
}

// speedDuplex is what the bond device itself reports to ethtool
// (bond_ethtool_get_link_ksettings): the sum of its usable slaves' speeds,
// full duplex; unknown without any.
func (b *Bond) speedDuplex() (int, int) {
	speed := 0
	for _, s := range b.slaves {
		if s.linkOK() && s.link == LinkUp && s.speed > 0 {
			speed += s.speed
		}
	}
	if speed == 0 {
		return SpeedUnknown, DuplexUnknown
	}
	return speed, DuplexFull
}

// randomHWAddr gives the bond a new random MAC after its last slave is
// released (__bond_release_one: eth_hw_addr_random), so that the next
// slave gives it its own again.
func (b *Bond) randomHWAddr() {
	mac := make(net.HardwareAddr, 6)
	_, _ = crand.Read(mac)
	mac[0] = mac[0]&^1 | 2 // unicast, locally administered
	b.masterWritten()
	if err := b.reg.cfg.Host.SetHWAddr(b.index, mac); err != nil {
		return
	}
	b.hwaddr, b.macSet = mac, false
	b.changed()
}
