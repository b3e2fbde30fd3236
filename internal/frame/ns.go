package frame

import (
	"encoding/binary"
	"net"
	"net/netip"
)

// The NS monitor's frames (bond_main.c bond_ns_send, bond_na_rcv): the
// neighbour solicitation probe the bond sends to each ns_ip6_target, and
// the reading of the NS and NA frames a slave receives.

// ICMPv6 neighbour discovery message types (RFC 4861 §4.3, §4.4).
const (
	NDNeighborSolicitation  = 135
	NDNeighborAdvertisement = 136
)

// NeighborSolicitation builds the NS monitor's probe for target, as
// ndisc_ns_create and ndisc_send_skb send it through a slave: vnet header,
// Ethernet from mac to the target's solicited-node multicast MAC (33:33:ff
// and the address's last 24 bits, RFC 2464 §7) with the 802.1Q tags given
// (outermost first), IPv6 from src (:: when src is invalid) to the
// solicited-node multicast address, traffic class and flow label 0, hop
// limit 255, and an ICMPv6 neighbour solicitation for target with a
// source link-layer address option (mac) only when src is specified
// (RFC 4861 §4.3), no nonce. It returns nil for a MAC that is not 6 bytes,
// a target that is not IPv6 or a src that is neither invalid nor IPv6.
func NeighborSolicitation(mac net.HardwareAddr, src, target netip.Addr, tags []VLANTag) []byte {
	if len(mac) != 6 || !target.Is6() || (src.IsValid() && !src.Is6()) {
		return nil
	}
	if !src.IsValid() {
		src = netip.IPv6Unspecified()
	}
	t := target.As16()
	d := [16]byte{0xff, 0x02, 11: 0x01, 12: 0xff, 13: t[13], 14: t[14], 15: t[15]} // solicited-node
	s := src.As16()
	// ICMPv6 NS (RFC 4861 §4.3), built by hand: ndp refuses IPv4-mapped
	// targets, which the kernel takes
	icmp := make([]byte, 24, 32)
	icmp[0] = NDNeighborSolicitation
	copy(icmp[8:], t[:])
	if !src.IsUnspecified() {
		icmp = append(icmp, 1, 1) // source link-layer address, 8 bytes
		icmp = append(icmp, mac...)
	}
	ph := make([]byte, 0, 40+len(icmp))
	ph = append(ph, s[:]...)
	ph = append(ph, d[:]...)
	ph = binary.BigEndian.AppendUint32(ph, uint32(len(icmp)))
	ph = append(ph, 0, 0, 0, ipprotoICMPv6)
	binary.BigEndian.PutUint16(icmp[2:4], inetChecksum(0, append(ph, icmp...)))
	f := make([]byte, VnetHdrLen, VnetHdrLen+14+4*len(tags)+40+len(icmp))
	f = append(f, 0x33, 0x33, d[12], d[13], d[14], d[15])
	f = append(f, mac...)
	for _, t := range tags {
		f = binary.BigEndian.AppendUint16(f, t.Proto)
		f = binary.BigEndian.AppendUint16(f, t.ID&0x0fff)
	}
	f = binary.BigEndian.AppendUint16(f, EtherTypeIPv6)
	f = append(f, 0x60, 0, 0, 0) // version 6, traffic class 0, flow label 0
	f = binary.BigEndian.AppendUint16(f, uint16(len(icmp)))
	f = append(f, ipprotoICMPv6, 255)
	f = append(f, s[:]...)
	f = append(f, d[:]...)
	return append(f, icmp...)
}

// NDHeader is what the NS monitor reads of a neighbour discovery frame:
// the ICMPv6 type and the IPv6 source and destination addresses.
type NDHeader struct {
	Type     uint8
	Src, Dst [16]byte
}

// ParseND reads an Ethernet frame (without vnet header) as bond_na_rcv
// reads the skb it is given: after at most one 802.1Q or 802.1ad tag (the
// one the receive path takes off before the bond sees the frame), an IPv6
// EtherType, then an IPv6 header whose next header is ICMPv6 directly
// (no extension headers) followed by at least an ICMPv6 header of type
// 135 (NS) or 136 (NA). The IP version, lengths and checksum are not
// checked, as the kernel does not. ok is false for anything else. It
// does not allocate.
func ParseND(f []byte) (h NDHeader, ok bool) {
	if len(f) < 14 {
		return h, false
	}
	et := binary.BigEndian.Uint16(f[12:14])
	off := 14
	if et == EtherTypeVLAN || et == EtherTypeQinQ {
		if len(f) < 18 {
			return h, false
		}
		et = binary.BigEndian.Uint16(f[16:18])
		off = 18
	}
	if et != EtherTypeIPv6 || len(f) < off+40+8 {
		return h, false
	}
	ip := f[off:]
	if ip[6] != ipprotoICMPv6 {
		return h, false
	}
	t := ip[40]
	if t != NDNeighborSolicitation && t != NDNeighborAdvertisement {
		return h, false
	}
	h.Type = t
	copy(h.Src[:], ip[8:24])
	copy(h.Dst[:], ip[24:40])
	return h, true
}
