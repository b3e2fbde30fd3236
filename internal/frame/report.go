package frame

import (
	"encoding/binary"
	"net"
	"net/netip"
	"sort"

	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
)

// The IPv6 and multicast frames the engine sends: the unsolicited neighbour
// advertisement of a peer notification (NETDEV_NOTIFY_PEERS) and the
// membership reports after a failover (NETDEV_RESEND_IGMP).

// allNodes is ff02::1, the destination of unsolicited NAs (RFC 4861 §7.2.6).
var allNodes = netip.MustParseAddr("ff02::1")

// UnsolicitedNA builds a vnet-header-prefixed unsolicited neighbour
// advertisement of ip at mac (RFC 4861 §7.2.6, as ndisc_send_unsol_na:
// to ff02::1, hop limit 255, override set, solicited clear, target
// link-layer address option). It returns nil for an address that is not
// IPv6.
func UnsolicitedNA(mac net.HardwareAddr, ip netip.Addr) []byte {
	if !ip.Is6() || ip.Is4In6() {
		return nil
	}
	na := &ndp.NeighborAdvertisement{
		Override:      true,
		TargetAddress: ip,
		Options:       []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: mac}},
	}
	icmp, err := ndp.MarshalMessageChecksum(na, ip, allNodes)
	if err != nil {
		return nil
	}
	ip6 := make([]byte, 40, 40+len(icmp))
	ip6[0] = 0x60 // version 6
	binary.BigEndian.PutUint16(ip6[4:6], uint16(len(icmp)))
	ip6[6] = ipprotoICMPv6
	ip6[7] = 255 // hop limit
	src, dst := ip.As16(), allNodes.As16()
	copy(ip6[8:24], src[:])
	copy(ip6[24:40], dst[:])
	f := ethernet.Frame{
		Destination: net.HardwareAddr{0x33, 0x33, 0, 0, 0, 1}, // ff02::1 (RFC 2464 §7)
		Source:      mac,
		EtherType:   ethernet.EtherTypeIPv6,
		Payload:     append(ip6, icmp...),
	}
	eb, err := f.MarshalBinary()
	if err != nil {
		return nil
	}
	return withVnetHdr(eb)
}

// allHosts is 224.0.0.1, never reported (ip_mc_rejoin_groups).
var allHosts = netip.AddrFrom4([4]byte{224, 0, 0, 1})

// IGMPReport builds a vnet-header-prefixed membership report for group from
// src (0.0.0.0 when invalid) at mac, as igmp_send_report does: IGMPv3 (to
// 224.0.0.22, one MODE_IS_EXCLUDE record without sources) or, when the
// interface has seen an older querier, IGMPv2 (to the group); TTL 1, Router
// Alert, DF. It returns nil for 224.0.0.1 and for anything not an IPv4
// multicast address.
func IGMPReport(mac []byte, src, group netip.Addr, version int) []byte {
	if !group.Is4() || !group.IsMulticast() || group == allHosts || len(mac) != 6 {
		return nil
	}
	g := group.As4()
	dst := [4]byte{224, 0, 0, 22}
	var igmp []byte
	if version == 1 || version == 2 {
		dst = g
		igmp = []byte{0x16, 0, 0, 0, g[0], g[1], g[2], g[3]}
	} else {
		igmp = []byte{0x22, 0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 0, g[0], g[1], g[2], g[3]}
	}
	binary.BigEndian.PutUint16(igmp[2:4], inetChecksum(0, igmp))
	ip := make([]byte, 24, 24+len(igmp))
	ip[0], ip[1] = 0x46, 0xc0
	binary.BigEndian.PutUint16(ip[2:4], uint16(24+len(igmp)))
	binary.BigEndian.PutUint16(ip[6:8], 0x4000) // DF
	ip[8], ip[9] = 1, 2                         // TTL 1, IGMP
	if src.Is4() {
		s := src.As4()
		copy(ip[12:16], s[:])
	}
	copy(ip[16:20], dst[:])
	ip[20], ip[21] = 0x94, 0x04 // Router Alert
	binary.BigEndian.PutUint16(ip[10:12], inetChecksum(0, ip))
	f := make([]byte, VnetHdrLen, VnetHdrLen+14+len(ip)+len(igmp))
	f = append(f, 0x01, 0x00, 0x5e, dst[1]&0x7f, dst[2], dst[3])
	f = append(f, mac...)
	f = append(f, 0x08, 0x00)
	f = append(f, ip...)
	return append(f, igmp...)
}

// MLDv2Report builds a vnet-header-prefixed MLDv2 report of the groups
// (mld_send_report for every group: MODE_IS_EXCLUDE records without
// sources; ff02::1 and groups of node-local scope are never reported) from
// src (the link-local address, :: when invalid) to ff02::16, hop limit 1,
// with a hop-by-hop Router Alert. It returns nil when no group is left.
func MLDv2Report(mac []byte, src netip.Addr, groups []netip.Addr) []byte {
	if len(mac) != 6 {
		return nil
	}
	var gs []netip.Addr
	for _, g := range groups {
		if !g.Is6() || !g.IsMulticast() || g == allNodes {
			continue
		}
		if b := g.As16(); b[1]&0x0f < 2 { // scope below link-local
			continue
		}
		gs = append(gs, g)
	}
	if len(gs) == 0 {
		return nil
	}
	sort.Slice(gs, func(i, j int) bool { return gs[i].Less(gs[j]) })
	icmp := []byte{143, 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint16(icmp[6:8], uint16(len(gs)))
	for _, g := range gs {
		a := g.As16()
		icmp = append(icmp, 2, 0, 0, 0)
		icmp = append(icmp, a[:]...)
	}
	s16 := [16]byte{}
	if src.Is6() {
		s16 = src.As16()
	}
	d16 := netip.MustParseAddr("ff02::16").As16()
	var sum uint32
	for i := 0; i < 16; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(s16[i:])) + uint32(binary.BigEndian.Uint16(d16[i:]))
	}
	sum += uint32(len(icmp)) + ipprotoICMPv6
	binary.BigEndian.PutUint16(icmp[2:4], inetChecksum(sum, icmp))
	hbh := []byte{ipprotoICMPv6, 0, 5, 2, 0, 0, 1, 0} // Router Alert (MLD), PadN
	ip6 := make([]byte, 40, 40+len(hbh)+len(icmp))
	ip6[0] = 0x60
	binary.BigEndian.PutUint16(ip6[4:6], uint16(len(hbh)+len(icmp)))
	ip6[6], ip6[7] = 0, 1 // hop-by-hop, hop limit 1
	copy(ip6[8:24], s16[:])
	copy(ip6[24:40], d16[:])
	f := make([]byte, VnetHdrLen, VnetHdrLen+14+len(ip6)+len(hbh)+len(icmp))
	f = append(f, 0x33, 0x33, 0, 0, 0, 0x16)
	f = append(f, mac...)
	f = append(f, 0x86, 0xdd)
	f = append(f, ip6...)
	f = append(f, hbh...)
	return append(f, icmp...)
}
