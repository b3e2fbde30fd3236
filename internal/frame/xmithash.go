package frame

import "encoding/binary"

// The transmit hash of balance-xor and 802.3ad (bond_main.c bond_xmit_hash,
// __bond_xmit_hash, bond_flow_dissect, bond_flow_ip, bond_eth_hash,
// bond_ip_hash, bond_vlan_srcmac_hash; bonding.txt §2 xmit_hash_policy).
//
// Byte order follows the kernel on a little-endian machine (x86, arm64):
// addresses and ports enter the hash as their network-order bytes loaded
// into a host u32 ((__force u32) of a __be32), the EtherType as a number
// (be16_to_cpu), an ICMP id as a number (ntohs) next to type and code.
//
// The bond device transmits VLAN tags out of band (NETIF_F_HW_VLAN_CTAG_TX
// and _STAG_TX): the kernel's hash never sees the outermost 802.1Q/802.1ad
// tag in the frame, only skb->vlan_tci and the encapsulated EtherType. A
// TAP hands the tag over inside the frame, so the outermost tag is taken
// out first: vlan+srcmac XORs its TCI, the other policies hash the frame as
// if it were not there.
//
// encap2+3 and encap3+4 run the kernel's flow dissector
// (__skb_flow_dissect with the bonding keys: addresses, ports, ICMP) through
// in-frame VLAN tags, PPPoE sessions, IPv6 extension headers, GRE (version 0,
// and PPTP), IPIP, IPv6-in-IP and Ethernet over GRE, hashing the innermost
// addresses; MPLS, ARP and IP fragments stop it with the addresses found so
// far. Not reproduced: encap3+4 uses skb->hash when the stack set an L4
// hash (a local TCP socket's), which a frame read from a TAP does not carry.

// EtherTypes (beside those of frame.go) and IP protocol numbers the hash
// reads.
const (
	ethRARP   = 0x8035
	ethMPLSUC = 0x8847
	ethMPLSMC = 0x8848
	ethPPPSes = 0x8864
	ethTEB    = 0x6558
	ethPPP    = 0x880b

	ipprotoICMP    = 1
	ipprotoIPIP    = 4
	ipprotoTCP     = 6
	ipprotoUDP     = 17
	ipprotoDCCP    = 33
	ipprotoIPv6    = 41
	ipprotoRouting = 43
	ipprotoFrag    = 44
	ipprotoGRE     = 47
	ipprotoESP     = 50
	ipprotoAH      = 51
	ipprotoICMPv6  = 58
	ipprotoDstOpts = 60
	ipprotoMPLS    = 137
	ipprotoSCTP    = 132
	ipprotoUDPLite = 136
	ipprotoHopOpts = 0

	pppIP   = 0x21
	pppIPv6 = 0x57

	// maxDissectHdrs bounds the headers the dissector walks
	// (MAX_FLOW_DISSECT_HDRS).
	maxDissectHdrs = 15
)

// flowKeys is what bond_xmit_hash reads of struct flow_keys.
type flowKeys struct {
	src, dst uint32 // flow_get_u32_src/dst: IPv4 address, IPv6 ipv6_addr_hash, else 0
	ports    uint32 // source and destination port as stored (little-endian load)
	icmpType uint8
	icmpCode uint8
	icmpID   uint16
}

// XmitHash computes the transmit hash of an Ethernet frame (without vnet
// header) for an xmit_hash_policy (XmitLayer2 … XmitVlanSrcMAC), as
// bond_xmit_hash does; the caller takes it modulo the number of usable
// slaves. It does not allocate.
func XmitHash(policy XmitPolicy, f []byte) uint32 {
	if len(f) < 14 {
		return 0
	}
	// the outermost tag travels out of band on a kernel bond
	var tci uint32
	tagged := false
	proto := binary.BigEndian.Uint16(f[12:14])
	nh := 14
	if (proto == EtherTypeVLAN || proto == EtherTypeQinQ) && len(f) >= 18 {
		tci = uint32(binary.BigEndian.Uint16(f[14:16]))
		proto = binary.BigEndian.Uint16(f[16:18])
		nh, tagged = 18, true
	}
	if policy == XmitVlanSrcMAC {
		vendor := uint32(f[6])<<16 | uint32(f[7])<<8 | uint32(f[8])
		dev := uint32(f[9])<<16 | uint32(f[10])<<8 | uint32(f[11])
		if !tagged {
			tci = 0
		}
		return tci ^ vendor ^ dev
	}
	// bond_eth_hash: h_dest[5] ^ h_source[5] ^ h_proto of the header the
	// kernel sees (without the out-of-band tag)
	eth := uint32(f[5]^f[11]) ^ uint32(proto)
	if policy == XmitLayer2 {
		return eth
	}
	var fk flowKeys
	var ok bool
	if policy == XmitEncap23 || policy == XmitEncap34 {
		ok = dissect(f, proto, nh, &fk)
	} else {
		ok = bondFlowDissect(f, proto, nh, policy == XmitLayer34, &fk)
	}
	if !ok {
		return eth
	}
	var h uint32
	switch policy {
	case XmitLayer23, XmitEncap23:
		h = eth
	default:
		if fk.icmpID != 0 {
			h = uint32(fk.icmpType) | uint32(fk.icmpCode)<<8 | uint32(fk.icmpID)<<16
		} else {
			h = fk.ports
		}
	}
	// bond_ip_hash
	h ^= fk.dst ^ fk.src
	h ^= h >> 16
	h ^= h >> 8
	if policy == XmitLayer34 || policy == XmitEncap34 {
		return h >> 1
	}
	return h
}

// le32 is a __be32 field as the kernel's (__force u32) reads it on a
// little-endian machine.
func le32(b []byte) uint32 { return binary.LittleEndian.Uint32(b) }

// ipv6AddrHash is ipv6_addr_hash: the four words XORed.
func ipv6AddrHash(a []byte) uint32 { return le32(a[0:]) ^ le32(a[4:]) ^ le32(a[8:]) ^ le32(a[12:]) }

// getPorts is __skb_flow_get_ports: the 32 bits at the protocol's port
// offset (0 for TCP, UDP, DCCP, ESP, SCTP, UDP-Lite; 4 for AH), 0 for other
// protocols or a short frame.
func getPorts(f []byte, thoff int, proto int) uint32 {
	off := 0
	switch proto {
	case ipprotoTCP, ipprotoUDP, ipprotoDCCP, ipprotoESP, ipprotoSCTP, ipprotoUDPLite:
	case ipprotoAH:
		off = 4
	default:
		return 0
	}
	if thoff < 0 || thoff+off+4 > len(f) {
		return 0
	}
	return le32(f[thoff+off:])
}

// icmpHasID is icmp_has_id: echo and timestamp messages carry an id.
func icmpHasID(t uint8) bool {
	switch t {
	case 0, 8, 13, 14, 128, 129:
		return true
	}
	return false
}

// getICMP is skb_flow_get_icmp_tci: type, code and (for messages with an id)
// the id, 1 standing in for a zero id; nothing when the 8-byte ICMP header
// is cut.
func getICMP(f []byte, thoff int, fk *flowKeys) {
	if thoff < 0 || thoff+8 > len(f) {
		return
	}
	fk.icmpType, fk.icmpCode = f[thoff], f[thoff+1]
	fk.icmpID = 0
	if icmpHasID(fk.icmpType) {
		fk.icmpID = binary.BigEndian.Uint16(f[thoff+4:])
		if fk.icmpID == 0 {
			fk.icmpID = 1
		}
	}
}

// bondFlowIP is bond_flow_ip: the IPv4 or IPv6 addresses at *nh, the
// protocol (-1 for an IPv4 fragment) and, for layer3+4, the ports.
func bondFlowIP(f []byte, proto uint16, nh *int, ipProto *int, l34 bool, fk *flowKeys) bool {
	switch proto {
	case EtherTypeIPv4:
		if *nh+20 > len(f) {
			return false
		}
		ip := f[*nh:]
		fk.src, fk.dst = le32(ip[12:]), le32(ip[16:])
		*nh += int(ip[0]&0x0f) << 2
		if binary.BigEndian.Uint16(ip[6:8])&0x3fff == 0 { // !ip_is_fragment
			*ipProto = int(ip[9])
		}
	case EtherTypeIPv6:
		if *nh+40 > len(f) {
			return false
		}
		ip := f[*nh:]
		fk.src, fk.dst = ipv6AddrHash(ip[8:24]), ipv6AddrHash(ip[24:40])
		*nh += 40
		*ipProto = int(ip[6])
	default:
		return false
	}
	if l34 && *ipProto >= 0 {
		fk.ports = getPorts(f, *nh, *ipProto)
	}
	return true
}

// bondFlowDissect is bond_flow_dissect for layer2+3 and layer3+4: the
// outer IP header, and for an ICMP error the header of the packet quoted
// in it.
func bondFlowDissect(f []byte, proto uint16, nh int, l34 bool, fk *flowKeys) bool {
	ipProto := -1
	if !bondFlowIP(f, proto, &nh, &ipProto, l34, fk) {
		return false
	}
	switch ipProto {
	case ipprotoICMP:
		getICMP(f, nh, fk)
		switch fk.icmpType {
		case 3, 4, 5, 11, 12: // icmp_is_err
		default:
			return true
		}
	case ipprotoICMPv6:
		getICMP(f, nh, fk)
		switch fk.icmpType {
		case 1, 2, 3, 4: // icmpv6_is_err
		default:
			return true
		}
	default:
		return true
	}
	nh += 8
	return bondFlowIP(f, proto, &nh, &ipProto, l34, fk)
}
