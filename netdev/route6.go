package netdev

import (
	"net/netip"
	"syscall"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"bondingfs/bond"
)

var _ bond.NSLookup = (*Host)(nil)

// RouteTo6 resolves the route to dst leaving through the interface with
// ifindex oif (RTM_GETROUTE with RTA_OIF, as bond_ns_send_all's
// ip6_route_output with flowi6_oif): the output device and the preferred
// source the kernel gives it (RTA_PREFSRC, ipv6_dev_get_saddr; invalid
// when the device has no usable address). The device is always oif, so
// the path is stacked and untagged. No route is an error (ENETUNREACH or
// the kernel's).
func (h *Host) RouteTo6(dst netip.Addr, oif int) (bond.Route, error) {
	rs, err := h.nl.RouteGetWithOptions(dst.AsSlice(), &netlink.RouteGetOptions{OifIndex: oif})
	if err != nil {
		return bond.Route{}, err
	}
	if len(rs) == 0 {
		return bond.Route{}, syscall.ENETUNREACH
	}
	rt := bond.Route{Dev: rs[0].LinkIndex, Stacked: rs[0].LinkIndex == oif}
	if src, ok := netip.AddrFromSlice(rs[0].Src.To16()); ok && rs[0].Src.To4() == nil && !src.IsUnspecified() {
		rt.Src = src
	}
	return rt, nil
}

// GlobalAddrs6 lists the namespace's IPv6 addresses of global scope that
// are not tentative (RTM_GETADDR dump): those ipv6_chk_addr finds on any
// device, as bond_has_this_ip6 asks it.
func (h *Host) GlobalAddrs6() ([]netip.Addr, error) {
	as, err := h.nl.AddrList(nil, unix.AF_INET6)
	if err != nil {
		return nil, err
	}
	out := make([]netip.Addr, 0, len(as))
	for _, a := range as {
		if a.Scope != unix.RT_SCOPE_UNIVERSE || (a.Flags&unix.IFA_F_TENTATIVE != 0 && a.Flags&unix.IFA_F_OPTIMISTIC == 0) {
			continue
		}
		if ip, ok := netip.AddrFromSlice(a.IP.To16()); ok && a.IP.To4() == nil {
			out = append(out, ip)
		}
	}
	return out, nil
}
