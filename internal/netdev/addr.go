package netdev

import (
	"net/netip"

	"golang.org/x/sys/unix"

	"bondingfs/bond"
)

var _ bond.AddrLister = (*Host)(nil)

// Addrs4 returns the IPv4 addresses on the interface with ifindex index
// (RTM_GETADDR), which the engine announces with gratuitous ARPs after a
// failover (the kernel's NETDEV_NOTIFY_PEERS).
func (h *Host) Addrs4(index int) ([]netip.Addr, error) {
	as, err := h.nl.AddrList(byIndex(index), unix.AF_INET)
	if err != nil {
		return nil, noDev("addr", index, err)
	}
	out := make([]netip.Addr, 0, len(as))
	for _, a := range as {
		if ip, ok := netip.AddrFromSlice(a.IP.To4()); ok {
			out = append(out, ip)
		}
	}
	return out, nil
}
