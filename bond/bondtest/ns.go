package bondtest

import (
	"net/netip"
	"syscall"

	"bondingfs/bond"
)

var _ bond.NSLookup = (*Host)(nil)

// RouteTo6 implements bond.NSLookup: the route SetRoute gave dst when it
// leaves through oif (ENETUNREACH otherwise, as ip6_route_output with
// flowi6_oif), from oif's first IPv6 address (SetAddrs; invalid when it
// has none).
func (h *Host) RouteTo6(dst netip.Addr, oif int) (bond.Route, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	name, ok := h.routes[dst]
	if !ok {
		return bond.Route{}, syscall.ENETUNREACH
	}
	l, ok := h.find(name)
	if !ok || l.Index != oif {
		return bond.Route{}, syscall.ENETUNREACH
	}
	r := bond.Route{Dev: l.Index, Stacked: true}
	for _, a := range h.addrs[name] {
		if a.Is6() && !a.Is4In6() {
			r.Src = a
			break
		}
	}
	return r, nil
}

// GlobalAddrs6 implements bond.NSLookup: every IPv6 address SetAddrs gave
// any link, except link-local ones.
func (h *Host) GlobalAddrs6() ([]netip.Addr, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []netip.Addr
	for _, as := range h.addrs {
		for _, a := range as {
			if a.Is6() && !a.Is4In6() && !a.IsLinkLocalUnicast() && !a.IsLoopback() {
				out = append(out, a)
			}
		}
	}
	return out, nil
}
