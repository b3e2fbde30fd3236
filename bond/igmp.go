package bond

import (
	"encoding/binary"
	"net/netip"
	"sort"
	"time"
)

// Membership reports after a change of active slave (bond_main.c
// bond_change_active_slave: igmp_retrans = resend_igmp and mcast_work;
// bond_resend_igmp_join_requests_delayed raises NETDEV_RESEND_IGMP, on which
// the stack sends an IGMP report per IPv4 group (ip_mc_rejoin_groups) and
// an MLD report of the IPv6 groups (ipv6_mc_rejoin_groups), again every
// 200 ms until resend_igmp rounds are done). A TAP cannot raise the event,
// so the engine builds the reports and sends them through the bond's
// transmit selector, as the stack's own would go.

// GroupLister is implemented by hosts that can list the multicast groups
// joined on an interface: IPv4 groups with the IGMP version in force there
// (1, 2 or 3: the querier seen, /proc/net/igmp), and IPv6 groups
// (/proc/net/igmp6). Called outside the control goroutine.
type GroupLister interface {
	Groups(index int) (v4 []netip.Addr, igmpVersion int, v6 []netip.Addr, err error)
}

// igmpResendInterval is the spacing of the rounds (HZ/5).
const igmpResendInterval = 200 * time.Millisecond

// startIGMPResend is the end of bond_change_active_slave: with the bond up,
// resend_igmp > 0, and a new active slave in a mode with a primary (or any
// change in balance-rr), resend_igmp rounds of reports start now.
func (b *Bond) startIGMPResend(n *Slave) {
	p := &b.params
	if !b.up || p.ResendIGMP <= 0 || !((p.Mode.UsesPrimary() && n != nil) || p.Mode == ModeRoundRobin) {
		return
	}
	if b.arp.mcastWork == nil {
		b.arp.mcastWork = b.newEngineWork(b.igmpRound)
	}
	b.arp.igmpRetrans = p.ResendIGMP
	b.arp.mcastWork.Queue(0)
}

// igmpRound is one run of mcast_work: one round of reports, the next in
// 200 ms while rounds are left.
func (b *Bond) igmpRound() {
	if !b.up {
		return
	}
	b.sendReports()
	if b.arp.igmpRetrans > 1 {
		b.arp.igmpRetrans--
		b.arp.mcastWork.Queue(igmpResendInterval)
	}
}

// sendReports lists the bond's groups and addresses and sends the reports
// through the transmit selector, on a goroutine of its own.
func (b *Bond) sendReports() {
	r := b.reg
	gl, ok := r.cfg.Host.(GroupLister)
	if !ok {
		return
	}
	index := b.index
	mac := append([]byte(nil), b.hwaddr...)
	r.wg.Add(1)
	b.arp.senders.Add(1)
	go func() {
		defer r.wg.Done()
		defer b.arp.senders.Done()
		v4, ver, v6, err := gl.Groups(index)
		if err != nil {
			return
		}
		var src4, src6 netip.Addr
		if al, ok := r.cfg.Host.(AddrLister); ok {
			if l, err := al.Addrs4(index); err == nil && len(l) > 0 {
				src4 = l[0]
			}
		}
		if al, ok := r.cfg.Host.(Addr6Lister); ok {
			if l, err := al.Addrs6(index); err == nil {
				for _, a := range l {
					if a.IsLinkLocalUnicast() {
						src6 = a
						break
					}
				}
			}
		}
		sort.Slice(v4, func(i, j int) bool { return v4[i].Less(v4[j]) })
		for _, g := range v4 {
			if f := IGMPReport(mac, src4, g, ver); f != nil {
				b.xmit(f)
			}
		}
		if f := MLDv2Report(mac, src6, v6); f != nil {
			b.xmit(f)
		}
	}()
}

// allHosts is 224.0.0.1, never reported (ip_mc_rejoin_groups).
var allHosts = netip.AddrFrom4([4]byte{224, 0, 0, 1})

// inetChecksum is the Internet checksum (RFC 1071) of b, folded, with the
// initial sum s.
func inetChecksum(s uint32, b []byte) uint16 {
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

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
	sum += uint32(len(icmp)) + protoICMPv6
	binary.BigEndian.PutUint16(icmp[2:4], inetChecksum(sum, icmp))
	hbh := []byte{protoICMPv6, 0, 5, 2, 0, 0, 1, 0} // Router Alert (MLD), PadN
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
