package frame

import (
	"encoding/binary"
	"net"
	"net/netip"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
)

// The ARP frames the engine sends: the ARP monitor's probe and the
// gratuitous ARP of a peer notification.

// ARP body constants (Ethernet hardware, IPv4 protocol).
const (
	ARPLen       = 28 // the ARP body after the Ethernet header
	ARPOpRequest = 1
	ARPOpReply   = 2
)

// ARPProbe builds the ARP monitor's request (arp_create as
// bond_arp_send uses it): vnet header, Ethernet broadcast from mac with the
// 802.1Q tags given (outermost first), ARP request "who has target, tell
// src" (src 0.0.0.0 when invalid), target hardware address zero. No padding
// (a veth sends it as 42 bytes, as the kernel does). It returns nil for a
// MAC that is not 6 bytes or a target that is not IPv4.
func ARPProbe(mac net.HardwareAddr, src, target netip.Addr, tags []VLANTag) []byte {
	if len(mac) != 6 || !target.Is4() {
		return nil
	}
	f := make([]byte, VnetHdrLen, VnetHdrLen+14+4*len(tags)+ARPLen)
	f = append(f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
	f = append(f, mac...)
	for _, t := range tags {
		f = binary.BigEndian.AppendUint16(f, t.Proto)
		f = binary.BigEndian.AppendUint16(f, t.ID&0x0fff)
	}
	f = binary.BigEndian.AppendUint16(f, EtherTypeARP)
	f = binary.BigEndian.AppendUint16(f, 1)      // ARPHRD_ETHER
	f = binary.BigEndian.AppendUint16(f, 0x0800) // ETH_P_IP
	f = append(f, 6, 4)
	f = binary.BigEndian.AppendUint16(f, ARPOpRequest)
	f = append(f, mac...)
	s4 := [4]byte{}
	if src.Is4() {
		s4 = src.As4()
	}
	f = append(f, s4[:]...)
	f = append(f, 0, 0, 0, 0, 0, 0)
	t4 := target.As4()
	return append(f, t4[:]...)
}

// GratuitousARP builds a vnet-header-prefixed broadcast ARP request
// announcing ip at mac (RFC 5227 §3 announcement: sender and target IP both
// ip, target hardware address zero), padded to the Ethernet minimum. It
// returns nil for an address that is not IPv4 or a MAC that is not 6 bytes.
func GratuitousARP(mac net.HardwareAddr, ip netip.Addr) []byte {
	p, err := arp.NewPacket(arp.OperationRequest, mac, ip, make(net.HardwareAddr, 6), ip)
	if err != nil {
		return nil
	}
	pb, err := p.MarshalBinary()
	if err != nil {
		return nil
	}
	f := ethernet.Frame{Destination: ethernet.Broadcast, Source: mac, EtherType: ethernet.EtherTypeARP, Payload: pb}
	eb, err := f.MarshalBinary()
	if err != nil {
		return nil
	}
	return withVnetHdr(eb)
}
