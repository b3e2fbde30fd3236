package netdev

import (
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/vishvananda/netlink"

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

var (
	_ bond.Addr6Lister = (*Host)(nil)
	_ bond.RouteLookup = (*Host)(nil)
)

// Addrs6 returns the IPv6 addresses on the interface with ifindex index
// (RTM_GETADDR), link-local ones included and tentative ones (DAD not
// done) left out, as ndisc_send_unsol_na announces them after a failover.
func (h *Host) Addrs6(index int) ([]netip.Addr, error) {
	as, err := h.nl.AddrList(byIndex(index), unix.AF_INET6)
	if err != nil {
		return nil, noDev("addr", index, err)
	}
	out := make([]netip.Addr, 0, len(as))
	for _, a := range as {
		if a.Flags&unix.IFA_F_TENTATIVE != 0 && a.Flags&unix.IFA_F_OPTIMISTIC == 0 {
			continue
		}
		if ip, ok := netip.AddrFromSlice(a.IP.To16()); ok && a.IP.To4() == nil {
			out = append(out, ip)
		}
	}
	return out, nil
}

// RouteTo resolves the route to dst in the host's namespace (RTM_GETROUTE,
// as ip_route_output): the output device, its preferred source address, and
// whether that device is lower (the bond) or a VLAN device stacked on it,
// with the tags on the way (bond_verify_device_path). No route is an error
// (ENETUNREACH or the kernel's).
func (h *Host) RouteTo(dst netip.Addr, lower int) (bond.Route, error) {
	rs, err := h.nl.RouteGet(dst.AsSlice())
	if err != nil {
		return bond.Route{}, err
	}
	if len(rs) == 0 {
		return bond.Route{}, syscall.ENETUNREACH
	}
	rt := bond.Route{Dev: rs[0].LinkIndex}
	if src, ok := netip.AddrFromSlice(rs[0].Src.To4()); ok {
		rt.Src = src
	}
	dev := rt.Dev
	var tags []bond.VLANTag
	for i := 0; i < 8; i++ {
		if dev == lower {
			rt.Stacked = true
			// outermost first: the tag nearest the bond
			for l, r := 0, len(tags)-1; l < r; l, r = l+1, r-1 {
				tags[l], tags[r] = tags[r], tags[l]
			}
			rt.Tags = tags
			break
		}
		l, err := h.nl.LinkByIndex(dev)
		if err != nil {
			break
		}
		v, ok := l.(*netlink.Vlan)
		if !ok {
			break
		}
		proto := uint16(0x8100)
		if v.VlanProtocol == netlink.VLAN_PROTOCOL_8021AD {
			proto = 0x88a8
		}
		tags = append(tags, bond.VLANTag{Proto: proto, ID: uint16(v.VlanId)})
		dev = v.ParentIndex
	}
	return rt, nil
}

var _ bond.GroupLister = (*Host)(nil)

// Groups lists the multicast groups joined on the interface with ifindex
// index, as /proc/net/igmp and /proc/net/igmp6 of the host's namespace show
// them (read through /proc/thread-self/net from a thread inside it; there
// is no rtnetlink dump of IPv4 memberships), with the IGMP version of the
// interface's querier (3 unless an IGMPv1/v2 querier was seen).
func (h *Host) Groups(index int) (v4 []netip.Addr, version int, v6 []netip.Addr, err error) {
	var igmp, igmp6 []byte
	err = h.ns.do(func() error {
		var e error
		if igmp, e = os.ReadFile("/proc/thread-self/net/igmp"); e != nil {
			return e
		}
		igmp6, _ = os.ReadFile("/proc/thread-self/net/igmp6") // absent without IPv6
		return nil
	})
	if err != nil {
		return nil, 0, nil, err
	}
	v4, version = parseIGMP(string(igmp), index)
	return v4, version, parseIGMP6(string(igmp6), index), nil
}

// parseIGMP reads /proc/net/igmp (igmp_mc_seq_show): a line "Idx Device :
// Count Querier" per device, then one "Group Users Timer Reporter" line per
// group, the group as the hex of its in-memory (network order) bytes.
func parseIGMP(text string, index int) ([]netip.Addr, int) {
	var out []netip.Addr
	version, in := 3, false
	for _, l := range strings.Split(text, "\n") {
		f := strings.Fields(l)
		if len(f) == 0 || f[0] == "Idx" {
			continue
		}
		if !strings.HasPrefix(l, "\t") { // a device line
			n, err := strconv.Atoi(f[0])
			in = err == nil && n == index
			if in {
				for _, x := range f {
					switch x {
					case "V1":
						version = 1
					case "V2":
						version = 2
					}
				}
			}
			continue
		}
		if !in {
			continue
		}
		v, err := strconv.ParseUint(f[0], 16, 32)
		if err != nil {
			continue
		}
		var b [4]byte
		binary.NativeEndian.PutUint32(b[:], uint32(v))
		out = append(out, netip.AddrFrom4(b))
	}
	return out, version
}

// parseIGMP6 reads /proc/net/igmp6 (igmp6_mc_seq_show): "ifindex device
// group(32 hex digits) users flags timer".
func parseIGMP6(text string, index int) []netip.Addr {
	var out []netip.Addr
	for _, l := range strings.Split(text, "\n") {
		f := strings.Fields(l)
		if len(f) < 3 || len(f[2]) != 32 {
			continue
		}
		if n, err := strconv.Atoi(f[0]); err != nil || n != index {
			continue
		}
		b, err := hex.DecodeString(f[2])
		if err != nil {
			continue
		}
		out = append(out, netip.AddrFrom16([16]byte(b)))
	}
	return out
}

var _ bond.VLANLister = (*Host)(nil)

// VLANUppers lists the VLAN devices stacked on the interface with ifindex
// index, directly or on one another (an RTM_GETLINK dump of the VLANs
// only, vlanLinks), each with its MAC and the tags from index up to it,
// outermost first.
func (h *Host) VLANUppers(index int) ([]bond.VLANDev, error) {
	links, err := h.vlanLinks()
	if err != nil {
		return nil, err
	}
	vlans := make(map[int]*netlink.Vlan, len(links))
	for _, v := range links {
		vlans[v.Index] = v
	}
	var out []bond.VLANDev
	for _, v := range vlans {
		var tags []bond.VLANTag
		cur := v
		for i := 0; i < 8 && cur != nil; i++ {
			proto := uint16(0x8100)
			if cur.VlanProtocol == netlink.VLAN_PROTOCOL_8021AD {
				proto = 0x88a8
			}
			tags = append([]bond.VLANTag{{Proto: proto, ID: uint16(cur.VlanId)}}, tags...)
			if cur.ParentIndex == index {
				out = append(out, bond.VLANDev{Index: v.Index, HWAddr: v.HardwareAddr, Tags: tags})
				break
			}
			cur = vlans[cur.ParentIndex]
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Index < out[j].Index })
	return out, nil
}
