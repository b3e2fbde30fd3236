package bond

import (
	"net"
	"net/netip"
	"sort"
)

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
