package bond

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"sort"
	"syscall"
)

// Start subscribes to the host's link events and runs the control
// goroutine. It returns once events are flowing.
func (r *Registry) Start(ctx context.Context) error {
	r.wg.Add(1)
	go r.run()
	sctx, cancel := context.WithCancel(context.Background())
	r.cancelSub = cancel
	return r.cfg.Host.SubscribeLinks(sctx, func(ev LinkEvent) {
		r.post(func() { r.linkEvent(ev) })
	})
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

// linkEvent handles one rtnetlink notification on the control goroutine.
func (r *Registry) linkEvent(ev LinkEvent) {
	li := ev.Link
	if b := r.bondByIndex(li.Index); b != nil {
		r.masterEvent(b, ev)
	}
	if b := r.masterOf(li.Index); b != nil {
		b.slaveEvent(b.slaveByIndex(li.Index), ev)
	}
}

// masterEvent follows what the kernel does when the bond device itself is
// changed through rtnetlink: deleted (ip link del), up/down (bond_open,
// bond_close), MAC (bond_set_mac_address) or MTU (bond_change_mtu).
func (r *Registry) masterEvent(b *Bond, ev LinkEvent) {
	li := ev.Link
	if ev.Deleted {
		r.removeBond(b, false)
		return
	}
	if li.Name != "" && li.Name != b.name {
		b.name = li.Name
		b.changed()
	}
	if li.Up != b.up {
		if li.Up {
			b.open()
		} else {
			b.close()
		}
	}
	if len(li.HWAddr) == 6 && !bytes.Equal(li.HWAddr, b.hwaddr) {
		b.hwaddr = append(net.HardwareAddr(nil), li.HWAddr...)
		b.macSet = true
		if b.params.FailOverMAC == FOMNone || b.params.Mode != ModeActiveBackup {
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
func (b *Bond) slaveEvent(s *Slave, ev LinkEvent) {
	li := ev.Link
	if ev.Deleted {
		b.release(s, false)
		return
	}
	if li.Name != "" && li.Name != s.name {
		b.reg.logf("%s: renamed from %s", li.Name, s.name)
		s.name = li.Name
		b.changed()
	}
	if li.Up != s.devUp || li.Carrier != s.carrier {
		s.devUp, s.carrier = li.Up, li.Carrier
		b.changed()
		b.kickMii()
		b.rebuildTx()
	}
}

// status builds the bond's snapshot.
func (b *Bond) status() *BondStatus {
	st := &BondStatus{
		Name:    b.name,
		Index:   b.index,
		Params:  b.params.Clone(),
		Up:      b.up,
		Carrier: b.carrier,
		HWAddr:  append(net.HardwareAddr(nil), b.hwaddr...),
		MTU:     b.mtu,
		Slaves:  make([]SlaveStatus, 0, len(b.slaves)),
	}
	if UsesPrimary(b.params.Mode) && b.currActive != nil {
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
		})
	}
	return st
}

// AddrLister is implemented by hosts that can list an interface's IPv4
// addresses; the engine then announces failovers with gratuitous ARPs.
type AddrLister interface {
	Addrs4(index int) ([]netip.Addr, error)
}

// notifyPeers announces the bond's addresses through the new active slave
// after a failover: the kernel raises NETDEV_NOTIFY_PEERS and the IPv4 stack
// sends a gratuitous ARP per address (num_grat_arp times); a TAP master
// cannot raise it, so the engine builds the ARP itself.
func (b *Bond) notifyPeers(n *Slave) {
	al, ok := b.reg.cfg.Host.(AddrLister)
	if !ok || n.port == nil || b.params.NumPeerNotif <= 0 {
		return
	}
	addrs, err := al.Addrs4(b.index)
	if err != nil || len(addrs) == 0 {
		return
	}
	sort.Slice(addrs, func(i, j int) bool { return addrs[i].Less(addrs[j]) })
	for _, a := range addrs {
		f := GratuitousARP(b.hwaddr, a)
		for i := 0; i < b.params.NumPeerNotif; i++ {
			_ = n.port.WriteFrame(f)
		}
	}
}

// GratuitousARP builds a vnet-header-prefixed broadcast ARP request
// announcing ip at mac (RFC 5227 §3 announcement: sender and target IP
// both ip).
func GratuitousARP(mac net.HardwareAddr, ip netip.Addr) []byte {
	f := make([]byte, VnetHdrLen+42)
	e := f[VnetHdrLen:]
	copy(e[0:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	copy(e[6:12], mac)
	e[12], e[13] = 0x08, 0x06
	a := e[14:]
	a[0], a[1] = 0, 1 // Ethernet
	a[2], a[3] = 0x08, 0x00
	a[4], a[5] = 6, 4
	a[6], a[7] = 0, 1 // request
	copy(a[8:14], mac)
	ip4 := ip.As4()
	copy(a[14:18], ip4[:])
	copy(a[24:28], ip4[:])
	return f
}

// Sync brings the registry up to date with the host before a read: link
// changes whose rtnetlink events are still on their way (a slave deleted or
// renamed, the bond set up or down, carrier) are applied now, as the kernel
// applies them before `ip` returns. Events arriving later find nothing left
// to do. It waits at most until ctx ends.
func (r *Registry) Sync(ctx context.Context) error {
	return r.Do(ctx, func() error {
		h := r.cfg.Host
		for _, b := range append([]*Bond(nil), r.bonds...) {
			li, err := h.LinkByIndex(b.index)
			if err != nil {
				if ErrnoOf(err) == syscall.ENODEV {
					r.removeBond(b, false)
				}
				continue
			}
			r.masterEvent(b, LinkEvent{Link: li})
			for _, s := range append([]*Slave(nil), b.slaves...) {
				sl, err := h.LinkByIndex(s.index)
				if err != nil {
					if ErrnoOf(err) == syscall.ENODEV {
						b.release(s, false)
					}
					continue
				}
				b.slaveEvent(s, LinkEvent{Link: sl})
			}
		}
		return nil
	})
}
