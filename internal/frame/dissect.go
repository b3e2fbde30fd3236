package frame

import "encoding/binary"

// The flow dissector of encap2+3 and encap3+4: __skb_flow_dissect with the
// bonding keys (addresses, ports, ICMP). dissect walks the kernel's two
// labels, proto_again (the network header of an EtherType: VLAN tags, IPv4,
// IPv6, PPPoE) and ip_proto_again (the header of an IP protocol: GRE, IPv6
// extension headers, IP in IP, ICMP), and reads the ports last. The common
// headers are read in dissect itself, which keeps the walk's state in
// registers; the longer ones in helpers that return the new state and where
// the walk goes next (a dissectStep). The helpers occur in the order a
// frame meets them.

// dissectStep is where the walk goes after a header a helper read.
type dissectStep uint8

const (
	stepFail      dissectStep = iota // a header cut short or not known: the keys do not count
	stepDone                         // stop here; the keys found so far count
	stepNetwork                      // proto_again: the header of the EtherType at the offset
	stepTransport                    // ip_proto_again: the header of the IP protocol at the offset
	stepPorts                        // read the IP protocol's ports at the offset, then stop
)

// dissect is __skb_flow_dissect with the bonding keys (encap2+3,
// encap3+4), starting at EtherType proto with the network header at nh. It
// reports false where the kernel's returns false (a header cut short, an
// EtherType it does not know); the keys then do not count. It does not
// allocate.
func dissect(f []byte, proto uint16, nh int, fk *flowKeys) bool {
	ipProto := -1
	hdrs := 0
	var step dissectStep
	for {
		// proto_again: the network layer
		hdrs++
		switch proto {
		case EtherTypeVLAN, EtherTypeQinQ:
			if nh+4 > len(f) {
				return false
			}
			proto = binary.BigEndian.Uint16(f[nh+2:])
			nh += 4
			if hdrs >= maxDissectHdrs {
				return true
			}
			continue
		case EtherTypeIPv4:
			if nh+20 > len(f) || f[nh]&0x0f < 5 {
				return false
			}
			ip := f[nh:]
			fk.src, fk.dst = le32(ip[12:]), le32(ip[16:])
			fk.icmpID, fk.ports = 0, 0
			nh += int(ip[0]&0x0f) * 4
			ipProto = int(ip[9])
			if binary.BigEndian.Uint16(ip[6:8])&0x3fff != 0 {
				// a fragment: the first one is not parsed further
				// without FLOW_DISSECTOR_F_PARSE_1ST_FRAG
				return true
			}
		case EtherTypeIPv6:
			if nh+40 > len(f) {
				return false
			}
			ip := f[nh:]
			fk.src, fk.dst = ipv6AddrHash(ip[8:24]), ipv6AddrHash(ip[24:40])
			fk.icmpID, fk.ports = 0, 0
			ipProto = int(ip[6])
			nh += 40
		case EtherTypeARP, ethRARP, ethMPLSUC, ethMPLSMC:
			// no ARP or MPLS key in the bonding dissector: done, good
			return true
		case ethPPPSes:
			if proto, nh, step = dissectPPPoE(f, nh); step == stepFail {
				return false
			}
			if hdrs >= maxDissectHdrs {
				return true
			}
			continue
		default:
			return false
		}
		// ip_proto_again: the transport layer
		for step = stepTransport; step == stepTransport; {
			hdrs++
			if hdrs > maxDissectHdrs {
				return true
			}
			proto, nh, ipProto, step = dissectTransport(f, proto, nh, ipProto, fk)
		}
		switch step {
		case stepNetwork:
			continue // a tunnel: the inner network header
		case stepPorts:
			fk.ports = getPorts(f, nh, ipProto)
			return true
		case stepDone:
			return true
		default:
			return false
		}
	}
}

// dissectPPPoE reads a PPPoE session header at nh carrying IPv4 or IPv6
// and returns the EtherType of what it carries and the offset after it.
func dissectPPPoE(f []byte, nh int) (uint16, int, dissectStep) {
	if nh+8 > len(f) {
		return ethPPPSes, nh, stepFail
	}
	h := f[nh:]
	if h[0] != 0x11 || h[1] != 0 { // version 1, type 1, code 0
		return ethPPPSes, nh, stepFail
	}
	switch binary.BigEndian.Uint16(h[6:8]) {
	case pppIP:
		return EtherTypeIPv4, nh + 8, stepNetwork
	case pppIPv6:
		return EtherTypeIPv6, nh + 8, stepNetwork
	default:
		return ethPPPSes, nh + 8, stepFail
	}
}

// dissectTransport reads the header of IP protocol ipProto at nh (proto
// is the EtherType of the network header before it): a tunnel gives the
// inner EtherType (stepNetwork), an IPv6 extension header the next
// protocol (stepTransport); anything else ends the walk at its ports.
func dissectTransport(f []byte, proto uint16, nh, ipProto int, fk *flowKeys) (uint16, int, int, dissectStep) {
	switch ipProto {
	case ipprotoGRE:
		proto, nh, step := dissectGRE(f, nh)
		return proto, nh, ipProto, step
	case ipprotoHopOpts, ipprotoRouting, ipprotoDstOpts:
		if proto != EtherTypeIPv6 {
			return proto, nh, ipProto, stepPorts
		}
		if nh+2 > len(f) {
			return proto, nh, ipProto, stepFail
		}
		return proto, nh + (int(f[nh+1])+1)<<3, int(f[nh]), stepTransport
	case ipprotoFrag:
		if proto != EtherTypeIPv6 {
			return proto, nh, ipProto, stepPorts
		}
		if nh+8 > len(f) {
			return proto, nh, ipProto, stepFail
		}
		// a fragment: no ports (FLOW_DIS_IS_FRAGMENT)
		return proto, nh, ipProto, stepDone
	case ipprotoIPIP:
		return EtherTypeIPv4, nh, ipProto, stepNetwork
	case ipprotoIPv6:
		return EtherTypeIPv6, nh, ipProto, stepNetwork
	case ipprotoMPLS:
		return ethMPLSUC, nh, ipProto, stepNetwork
	case ipprotoICMP, ipprotoICMPv6:
		getICMP(f, nh, fk)
	}
	return proto, nh, ipProto, stepPorts
}

// dissectGRE reads a GRE header at nh (version 0, or version 1 carrying
// PPP: PPTP) and returns the EtherType it carries and the offset of that
// header; Ethernet over GRE (TEB) skips the inner Ethernet header.
func dissectGRE(f []byte, nh int) (uint16, int, dissectStep) {
	if nh+4 > len(f) {
		return 0, nh, stepFail
	}
	flags := binary.BigEndian.Uint16(f[nh:])
	gp := binary.BigEndian.Uint16(f[nh+2:])
	if flags&0x4000 != 0 { // routing: not looked into
		return 0, nh, stepDone
	}
	ver := flags & 0x0007
	if ver > 1 {
		return 0, nh, stepDone
	}
	if ver == 1 && !(gp == ethPPP && flags&0x2000 != 0) {
		return 0, nh, stepDone
	}
	off := 4
	if flags&0x8000 != 0 { // checksum
		off += 4
	}
	if flags&0x2000 != 0 { // key
		if nh+off+4 > len(f) {
			return 0, nh, stepFail
		}
		off += 4
	}
	if flags&0x1000 != 0 { // sequence
		off += 4
	}
	if ver == 0 {
		if gp == ethTEB {
			if nh+off+14 > len(f) {
				return 0, nh, stepFail
			}
			gp = binary.BigEndian.Uint16(f[nh+off+12:])
			off += 14
		}
	} else {
		if flags&0x0080 != 0 { // PPTP acknowledgment
			off += 4
		}
		if nh+off+4 > len(f) {
			return 0, nh, stepFail
		}
		switch binary.BigEndian.Uint16(f[nh+off+2:]) {
		case pppIP:
			gp = EtherTypeIPv4
		case pppIPv6:
			gp = EtherTypeIPv6
		}
		off += 4
	}
	return gp, nh + off, stepNetwork
}
