package frame

import "encoding/binary"

// The flow dissector of encap2+3 and encap3+4: __skb_flow_dissect with the
// bonding keys (addresses, ports, ICMP). dissect drives a small state
// machine over the kernel's two labels: proto_again (network, one
// EtherType's header) and ip_proto_again (transport, one IP protocol's
// header); each step returns where the walk goes next. The functions below
// occur in the order a frame meets them: network (VLAN, IPv4, IPv6, PPPoE),
// transport (GRE, IPv6 extension headers, IP in IP, ICMP), then the ports.

// dissectStep is where the walk goes after one header.
type dissectStep uint8

const (
	stepFail      dissectStep = iota // a header cut short or not known: the keys do not count
	stepDone                         // stop here; the keys found so far count
	stepNetwork                      // proto_again: the header of EtherType d.proto at d.nh
	stepTransport                    // ip_proto_again: the header of IP protocol d.ipProto at d.nh
	stepPorts                        // read the ports of d.ipProto at d.nh, then stop
)

// dissector is the walk's state: the frame, the EtherType and IP protocol
// of the header at nh, and the number of headers seen (bounded by
// maxDissectHdrs).
type dissector struct {
	f       []byte
	proto   uint16
	ipProto int
	nh      int
	hdrs    int
	fk      *flowKeys
}

// dissect is __skb_flow_dissect with the bonding keys (encap2+3,
// encap3+4), starting at EtherType proto with the network header at nh. It
// reports false where the kernel's returns false (a header cut short, an
// EtherType it does not know); the keys then do not count. It does not
// allocate.
func dissect(f []byte, proto uint16, nh int, fk *flowKeys) bool {
	d := dissector{f: f, proto: proto, ipProto: -1, nh: nh, fk: fk}
	step := stepNetwork
	for {
		switch step {
		case stepNetwork:
			step = d.network()
		case stepTransport:
			step = d.transport()
		case stepPorts:
			fk.ports = getPorts(f, d.nh, d.ipProto)
			return true
		case stepDone:
			return true
		default:
			return false
		}
	}
}

// network is one pass through proto_again: the header of EtherType d.proto.
func (d *dissector) network() dissectStep {
	d.hdrs++
	switch d.proto {
	case EtherTypeVLAN, EtherTypeQinQ:
		if d.nh+4 > len(d.f) {
			return stepFail
		}
		d.proto = binary.BigEndian.Uint16(d.f[d.nh+2:])
		d.nh += 4
		if d.hdrs >= maxDissectHdrs {
			return stepDone
		}
		return stepNetwork
	case EtherTypeIPv4:
		return d.ipv4()
	case EtherTypeIPv6:
		return d.ipv6()
	case EtherTypeARP, ethRARP, ethMPLSUC, ethMPLSMC:
		// no ARP or MPLS key in the bonding dissector: done, good
		return stepDone
	case ethPPPSes:
		return d.pppoe()
	default:
		return stepFail
	}
}

// ipv4 reads an IPv4 header: its addresses replace the keys.
func (d *dissector) ipv4() dissectStep {
	if d.nh+20 > len(d.f) || d.f[d.nh]&0x0f < 5 {
		return stepFail
	}
	ip := d.f[d.nh:]
	d.fk.src, d.fk.dst = le32(ip[12:]), le32(ip[16:])
	d.fk.icmpID, d.fk.ports = 0, 0
	d.nh += int(ip[0]&0x0f) * 4
	d.ipProto = int(ip[9])
	if binary.BigEndian.Uint16(ip[6:8])&0x3fff != 0 {
		// a fragment: the first one is not parsed further
		// without FLOW_DISSECTOR_F_PARSE_1ST_FRAG
		return stepDone
	}
	return stepTransport
}

// ipv6 reads an IPv6 fixed header: its addresses replace the keys.
func (d *dissector) ipv6() dissectStep {
	if d.nh+40 > len(d.f) {
		return stepFail
	}
	ip := d.f[d.nh:]
	d.fk.src, d.fk.dst = ipv6AddrHash(ip[8:24]), ipv6AddrHash(ip[24:40])
	d.fk.icmpID, d.fk.ports = 0, 0
	d.ipProto = int(ip[6])
	d.nh += 40
	return stepTransport
}

// pppoe reads a PPPoE session header carrying IPv4 or IPv6.
func (d *dissector) pppoe() dissectStep {
	if d.nh+8 > len(d.f) {
		return stepFail
	}
	h := d.f[d.nh:]
	if h[0] != 0x11 || h[1] != 0 { // version 1, type 1, code 0
		return stepFail
	}
	pp := binary.BigEndian.Uint16(h[6:8])
	d.nh += 8
	switch pp {
	case pppIP:
		d.proto = EtherTypeIPv4
	case pppIPv6:
		d.proto = EtherTypeIPv6
	default:
		return stepFail
	}
	if d.hdrs >= maxDissectHdrs {
		return stepDone
	}
	return stepNetwork
}

// transport is one pass through ip_proto_again: the header of IP protocol
// d.ipProto.
func (d *dissector) transport() dissectStep {
	d.hdrs++
	if d.hdrs > maxDissectHdrs {
		return stepDone
	}
	switch d.ipProto {
	case ipprotoGRE:
		return d.gre()
	case ipprotoHopOpts, ipprotoRouting, ipprotoDstOpts:
		if d.proto != EtherTypeIPv6 {
			return stepPorts
		}
		if d.nh+2 > len(d.f) {
			return stepFail
		}
		d.ipProto = int(d.f[d.nh])
		d.nh += (int(d.f[d.nh+1]) + 1) << 3
		return stepTransport
	case ipprotoFrag:
		if d.proto != EtherTypeIPv6 {
			return stepPorts
		}
		if d.nh+8 > len(d.f) {
			return stepFail
		}
		// a fragment: no ports (FLOW_DIS_IS_FRAGMENT)
		return stepDone
	case ipprotoIPIP:
		d.proto = EtherTypeIPv4
		return stepNetwork
	case ipprotoIPv6:
		d.proto = EtherTypeIPv6
		return stepNetwork
	case ipprotoMPLS:
		d.proto = ethMPLSUC
		return stepNetwork
	case ipprotoICMP, ipprotoICMPv6:
		getICMP(d.f, d.nh, d.fk)
	}
	return stepPorts
}

// gre reads a GRE header (version 0, or version 1 carrying PPP: PPTP) and
// goes on with the EtherType it carries; Ethernet over GRE (TEB) skips the
// inner Ethernet header.
func (d *dissector) gre() dissectStep {
	f, nh := d.f, d.nh
	if nh+4 > len(f) {
		return stepFail
	}
	flags := binary.BigEndian.Uint16(f[nh:])
	gp := binary.BigEndian.Uint16(f[nh+2:])
	if flags&0x4000 != 0 { // routing: not looked into
		return stepDone
	}
	ver := flags & 0x0007
	if ver > 1 {
		return stepDone
	}
	if ver == 1 && !(gp == ethPPP && flags&0x2000 != 0) {
		return stepDone
	}
	off := 4
	if flags&0x8000 != 0 { // checksum
		off += 4
	}
	if flags&0x2000 != 0 { // key
		if nh+off+4 > len(f) {
			return stepFail
		}
		off += 4
	}
	if flags&0x1000 != 0 { // sequence
		off += 4
	}
	if ver == 0 {
		if gp == ethTEB {
			if nh+off+14 > len(f) {
				return stepFail
			}
			gp = binary.BigEndian.Uint16(f[nh+off+12:])
			off += 14
		}
	} else {
		if flags&0x0080 != 0 { // PPTP acknowledgment
			off += 4
		}
		if nh+off+4 > len(f) {
			return stepFail
		}
		switch binary.BigEndian.Uint16(f[nh+off+2:]) {
		case pppIP:
			gp = EtherTypeIPv4
		case pppIPv6:
			gp = EtherTypeIPv6
		}
		off += 4
	}
	d.nh += off
	d.proto = gp
	return stepNetwork
}
