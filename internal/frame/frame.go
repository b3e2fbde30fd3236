package frame

import (
	"encoding/binary"
	"strconv"
)

// VnetHdrLen is the size in bytes of the struct virtio_net_hdr that prefixes
// every frame read from or written to a bond NetDev (IFF_VNET_HDR on the TAP,
// PACKET_VNET_HDR on the slave sockets; include/uapi/linux/virtio_net.h).
// Frames the engine builds itself (ARP probes, LACPDUs) carry an all-zero
// header.
const VnetHdrLen = 10

// EtherTypes the engine reads outside this package.
const (
	EtherTypeIPv4 = 0x0800
	EtherTypeARP  = 0x0806
	EtherTypeVLAN = 0x8100 // 802.1Q
	EtherTypeQinQ = 0x88a8 // 802.1ad
	EtherTypeIPv6 = 0x86dd
	EtherTypeSlow = 0x8809 // slow protocols: LACPDU, marker (IEEE 802.3 Annex 57A)
)

// VLANTag is one 802.1Q or 802.1ad tag: a VLAN device on the path from the
// bond to the device a frame leaves through.
type VLANTag struct {
	Proto uint16 // 0x8100 or 0x88a8
	ID    uint16
}

// WithTags inserts 802.1Q tags (outermost first) after the MAC addresses of
// a vnet-header-prefixed Ethernet frame; it returns f itself without tags,
// else a new frame.
func WithTags(f []byte, tags []VLANTag) []byte {
	if len(tags) == 0 {
		return f
	}
	at := VnetHdrLen + 12
	out := make([]byte, 0, len(f)+4*len(tags))
	out = append(out, f[:at]...)
	for _, t := range tags {
		out = binary.BigEndian.AppendUint16(out, t.Proto)
		out = binary.BigEndian.AppendUint16(out, t.ID&0x0fff)
	}
	return append(out, f[at:]...)
}

// withVnetHdr prefixes an Ethernet frame with an all-zero virtio_net_hdr.
func withVnetHdr(eth []byte) []byte {
	return append(make([]byte, VnetHdrLen, VnetHdrLen+len(eth)), eth...)
}

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

// XmitPolicy is an xmit_hash_policy value (BOND_XMIT_POLICY_*,
// include/uapi/linux/if_bonding.h).
type XmitPolicy uint8

// xmit_hash_policy values.
const (
	XmitLayer2     XmitPolicy = 0 // layer2
	XmitLayer34    XmitPolicy = 1 // layer3+4
	XmitLayer23    XmitPolicy = 2 // layer2+3
	XmitEncap23    XmitPolicy = 3 // encap2+3
	XmitEncap34    XmitPolicy = 4 // encap3+4
	XmitVlanSrcMAC XmitPolicy = 5 // vlan+srcmac
)

// xmitPolicyNames are the policies' names as bond_options.c's
// bond_xmit_hashtype_tbl spells them, indexed by value.
var xmitPolicyNames = [...]string{"layer2", "layer3+4", "layer2+3", "encap2+3", "encap3+4", "vlan+srcmac"}

// String returns the policy's name as sysfs prints it ("layer3+4", ...), or
// "xmit_hash_policy(N)" for a number outside the table.
func (p XmitPolicy) String() string {
	if int(p) < len(xmitPolicyNames) {
		return xmitPolicyNames[p]
	}
	return "xmit_hash_policy(" + strconv.Itoa(int(p)) + ")"
}
