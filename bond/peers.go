package bond

import (
	"net"
	"net/netip"
	"sort"

	"bondingfs/internal/frame"
)

// Peer notification after a failover (the kernel's NETDEV_NOTIFY_PEERS:
// arp_netdev_event sends gratuitous ARPs, ndisc_netdev_event unsolicited
// neighbour advertisements). A TAP master cannot raise the event, so the
// engine sends the frames itself (built by frame.GratuitousARP and
// frame.UnsolicitedNA).

// AddrLister is implemented by hosts that can list an interface's IPv4
// addresses; the engine then announces failovers with gratuitous ARPs.
type AddrLister interface {
	Addrs4(index int) ([]netip.Addr, error)
}

// Addr6Lister is implemented by hosts that can list an interface's IPv6
// addresses; the engine then announces failovers with unsolicited
// neighbour advertisements (num_unsol_na).
type Addr6Lister interface {
	Addrs6(index int) ([]netip.Addr, error)
}

// startPeerNotif is the peer notification part of bond_change_active_slave
// in active-backup: send_peer_notif = num_peer_notif × max(1,
// peer_notif_delay), and the first round at once when
// bond_should_notify_peers allows it. The monitors (MII, ARP) send the
// others, one round every max(1, peer_notif_delay) ticks.
func (b *Bond) startPeerNotif() {
	if !b.up {
		return
	}
	b.arp.sendNotif = b.params.NumPeerNotif * max(1, b.params.PeerNotifDelay)
	b.wakeMii() // the MII monitor sends the rounds left (miiQuiet)
	if b.shouldNotifyPeers() {
		b.arp.sendNotif--
		b.notifyPeers(b.currActive)
	}
}

// shouldNotifyPeers is bond_should_notify_peers: an active slave, rounds
// left, a round due (send_peer_notif a multiple of peer_notif_delay) and
// the bond's carrier on.
func (b *Bond) shouldNotifyPeers() bool {
	n := b.arp.sendNotif
	return b.currActive != nil && n > 0 && n%max(1, b.params.PeerNotifDelay) == 0 && b.carrier
}

// miiPeerNotif is the MII monitor's part (bond_mii_monitor): a round left
// is counted down on every tick and sent when due.
func (b *Bond) miiPeerNotif(should bool) {
	if b.arp.sendNotif > 0 {
		b.arp.sendNotif--
		if should {
			b.notifyPeers(b.currActive)
		}
	}
}

// VLANDev is a VLAN device stacked on the bond: its ifindex, MAC, and the
// 802.1Q tags from the bond up to it, outermost first.
type VLANDev struct {
	Index  int
	HWAddr net.HardwareAddr
	Tags   []VLANTag
}

// VLANLister is implemented by hosts that can list the VLAN devices stacked
// on an interface (directly or on each other); the engine then announces
// their addresses too (vlan_device_event passes NETDEV_NOTIFY_PEERS on) and
// accepts ARP replies to them (bond_has_this_ip). Called outside the control
// goroutine.
type VLANLister interface {
	VLANUppers(index int) ([]VLANDev, error)
}

// notifyPeers sends one round of NETDEV_NOTIFY_PEERS through slave n: a
// gratuitous ARP per IPv4 address (inetdev_send_gratuitous_arp) and an
// unsolicited NA per IPv6 address (ndisc_send_unsol_na) of the bond and of
// each VLAN device on it (tagged, from the VLAN device's MAC), in address
// order. The addresses are listed (RTM_GETADDR) and the frames sent on a
// goroutine of their own, so a failover never waits on the host;
// Registry.Close waits for it.
func (b *Bond) notifyPeers(n *Slave) {
	if n == nil || n.dev == nil {
		return
	}
	sd := n.dev
	r, index := b.reg, b.index
	mac := append(net.HardwareAddr(nil), b.hwaddr...)
	send := func(dev VLANDev, addrs []netip.Addr, err error, build func(net.HardwareAddr, netip.Addr) []byte) {
		if err != nil {
			return
		}
		sort.Slice(addrs, func(i, j int) bool { return addrs[i].Less(addrs[j]) })
		for _, a := range addrs {
			if f := build(dev.HWAddr, a); f != nil {
				_ = sd.WriteFrame(frame.WithTags(f, dev.Tags))
			}
		}
	}
	r.wg.Add(1)
	b.arp.senders.Add(1)
	b.fpHoldDrops() // the old slave delivers until the peers are told (fastpath.go)
	go func() {
		defer r.wg.Done()
		defer b.arp.senders.Done()
		defer b.fpReleaseDrops()
		devs := []VLANDev{{Index: index, HWAddr: mac}}
		if vl, ok := r.cfg.Host.(VLANLister); ok {
			if ups, err := vl.VLANUppers(index); err == nil {
				for _, u := range ups {
					if len(u.HWAddr) != 6 {
						u.HWAddr = mac
					}
					devs = append(devs, u)
				}
			}
		}
		for _, d := range devs {
			if al, ok := r.cfg.Host.(AddrLister); ok {
				addrs, err := al.Addrs4(d.Index)
				send(d, addrs, err, frame.GratuitousARP)
			}
			if al, ok := r.cfg.Host.(Addr6Lister); ok {
				addrs, err := al.Addrs6(d.Index)
				send(d, addrs, err, frame.UnsolicitedNA)
			}
		}
	}()
}
