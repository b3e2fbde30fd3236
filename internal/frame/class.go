package frame

import "encoding/binary"

// Class is a bit set of the frame kinds the receive probe recognises (the
// kernel's bond->recv_probe looks at the same EtherTypes).
type Class uint32

const (
	// ClassSlow is EtherType 0x8809, the slow protocols (LACPDU, marker;
	// IEEE 802.3 Annex 57A).
	ClassSlow Class = 1 << iota
	// ClassARP is EtherType 0x0806.
	ClassARP
	// ClassND is IPv6 neighbour discovery: ICMPv6 neighbour solicitation
	// (135) or advertisement (136) directly after the IPv6 header.
	ClassND
)

// ICMPv6 neighbour discovery message types the classifier reads.
const (
	icmp6NS = 135
	icmp6NA = 136
)

// ClassifyFrame returns the class of an Ethernet frame (without vnet
// header), 0 when it is none of ClassSlow, ClassARP, ClassND. It does not
// allocate.
func ClassifyFrame(f []byte) Class {
	if len(f) < 14 {
		return 0
	}
	switch binary.BigEndian.Uint16(f[12:14]) {
	case EtherTypeSlow:
		return ClassSlow
	case EtherTypeARP:
		return ClassARP
	case EtherTypeVLAN:
		// an ARP through one 802.1Q tag (a VLAN above the bond; the
		// kernel's probe sees it untagged)
		if len(f) >= 18 && binary.BigEndian.Uint16(f[16:18]) == EtherTypeARP {
			return ClassARP
		}
	case EtherTypeIPv6:
		// 14 Ethernet + 40 IPv6 + ICMPv6 type
		if len(f) > 14+40 && f[14+6] == ipprotoICMPv6 {
			if t := f[14+40]; t == icmp6NS || t == icmp6NA {
				return ClassND
			}
		}
	}
	return 0
}
