package frame_test

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"

	"bondingfs/internal/frame"
)

// Expected values below were computed by hand from bond_main.c's
// bond_xmit_hash on a little-endian machine (addresses and ports as
// network-order bytes loaded into a host u32).

var (
	hSrc  = []byte{192, 0, 2, 1}
	hDst  = []byte{192, 0, 2, 2}
	hISrc = []byte{198, 51, 100, 7}
	hIDst = []byte{203, 0, 113, 9}
)

// ethHdr is dst ..:01, src ..:02 and EtherType t (with an optional 802.1Q
// tag before it).
func ethHdr(t uint16, vlan ...uint16) []byte {
	f := []byte{2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2}
	for _, v := range vlan {
		f = binary.BigEndian.AppendUint16(f, 0x8100)
		f = binary.BigEndian.AppendUint16(f, v)
	}
	return binary.BigEndian.AppendUint16(f, t)
}

func ipv4(proto byte, src, dst []byte, payload []byte) []byte {
	h := make([]byte, 20)
	h[0], h[8], h[9] = 0x45, 64, proto
	binary.BigEndian.PutUint16(h[2:], uint16(20+len(payload)))
	copy(h[12:], src)
	copy(h[16:], dst)
	return append(h, payload...)
}

func l4(sport, dport uint16) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint16(b[0:], sport)
	binary.BigEndian.PutUint16(b[2:], dport)
	return b
}

func cat(parts ...[]byte) []byte {
	var f []byte
	for _, p := range parts {
		f = append(f, p...)
	}
	return f
}

func TestXmitHashPolicies(t *testing.T) {
	udp := cat(ethHdr(0x0800), ipv4(17, hSrc, hDst, l4(0x1234, 0x5678)))
	assert.Equal(t, uint32(0x803), frame.XmitHash(frame.XmitLayer2, udp))
	assert.Equal(t, uint32(0x3030b08), frame.XmitHash(frame.XmitLayer23, udp))
	assert.Equal(t, uint32(0x3d968c85), frame.XmitHash(frame.XmitLayer34, udp))
	// without tunnels, encap2+3/3+4 dissect to the same keys
	assert.Equal(t, uint32(0x3030b08), frame.XmitHash(frame.XmitEncap23, udp))
	assert.Equal(t, uint32(0x3d968c85), frame.XmitHash(frame.XmitEncap34, udp))

	// the out-of-band VLAN tag does not count except for vlan+srcmac
	tagged := cat(ethHdr(0x0800, 0xa064), ipv4(17, hSrc, hDst, l4(0x1234, 0x5678)))
	for p := frame.XmitLayer2; p <= frame.XmitEncap34; p++ {
		assert.Equal(t, frame.XmitHash(p, udp), frame.XmitHash(p, tagged), "policy %d", p)
	}
	assert.Equal(t, uint32(0x020000^0x000002^0xa064), frame.XmitHash(frame.XmitVlanSrcMAC, tagged))

	// a fragment has no ports: layer3+4 hashes the addresses only
	frag := append([]byte(nil), udp...)
	frag[14+6] = 0x20 // MF
	assert.Equal(t, uint32(0x1818181), frame.XmitHash(frame.XmitLayer34, frag))

	// ICMP echo: layer3+4 uses type, code and id
	echo := make([]byte, 8)
	echo[0] = 8
	binary.BigEndian.PutUint16(echo[4:], 0x0102)
	assert.Equal(t, uint32(0x1000004), frame.XmitHash(frame.XmitLayer34, cat(ethHdr(0x0800), ipv4(1, hSrc, hDst, echo))))

	// an ICMP error hashes the packet it quotes
	unreach := append(make([]byte, 8), ipv4(17, hISrc, hIDst, l4(0x35, 0x1f90))...)
	unreach[0] = 3
	f := cat(ethHdr(0x0800), ipv4(1, hSrc, hDst, unreach))
	assert.Equal(t, uint32(0xe1b202e), frame.XmitHash(frame.XmitLayer23, f))
	assert.Equal(t, uint32(0x4f4a494f), frame.XmitHash(frame.XmitLayer34, f))

	// not IP: layer2+3 and layer3+4 fall back to layer2
	arp := cat(ethHdr(0x0806), make([]byte, 28))
	assert.Equal(t, uint32(1^2^0x806), frame.XmitHash(frame.XmitLayer23, arp))
	assert.Equal(t, uint32(1^2^0x806), frame.XmitHash(frame.XmitLayer34, arp))
	// … while the flow dissector accepts ARP with no addresses
	assert.Equal(t, uint32(0x80d), frame.XmitHash(frame.XmitEncap23, arp))

	// IPv6: the addresses' words XORed (ipv6_addr_hash)
	v6 := make([]byte, 40)
	v6[0], v6[6], v6[7] = 0x60, 6, 64
	copy(v6[8:], []byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1})
	copy(v6[24:], []byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2})
	tcp6 := cat(ethHdr(0x86dd), v6, l4(0x50, 0x51))
	assert.Equal(t, uint32(0x29290101), frame.XmitHash(frame.XmitLayer34, tcp6))
	assert.Equal(t, uint32(0x29290101), frame.XmitHash(frame.XmitEncap34, tcp6))

	// runts
	assert.Equal(t, uint32(0), frame.XmitHash(frame.XmitLayer34, udp[:13]))
	assert.Equal(t, uint32(0x803), frame.XmitHash(frame.XmitLayer34, udp[:14+19]))
}

func TestXmitHashEncap(t *testing.T) {
	inner := ipv4(17, hISrc, hIDst, l4(0x35, 0x1f90))
	// GRE (no key) around IPv4: encap2+3 hashes the inner addresses,
	// layer2+3 the outer ones
	gre := cat(ethHdr(0x0800), ipv4(47, hSrc, hDst, cat([]byte{0, 0, 0x08, 0x00}, inner)))
	assert.Equal(t, uint32(0xe1b202e), frame.XmitHash(frame.XmitEncap23, gre))
	assert.Equal(t, uint32(0x3030b08), frame.XmitHash(frame.XmitLayer23, gre))
	// GRE with checksum, key and sequence number
	greCKS := cat(ethHdr(0x0800), ipv4(47, hSrc, hDst, cat([]byte{0xb0, 0, 0x08, 0x00}, make([]byte, 12), inner)))
	assert.Equal(t, uint32(0xe1b202e), frame.XmitHash(frame.XmitEncap23, greCKS))
	// Ethernet over GRE, then a VLAN tag inside
	teb := cat(ethHdr(0x0800), ipv4(47, hSrc, hDst, cat([]byte{0, 0, 0x65, 0x58}, ethHdr(0x8100), []byte{0, 5, 0x08, 0x00}, inner)))
	assert.Equal(t, uint32(0xe1b202e), frame.XmitHash(frame.XmitEncap23, teb))
	// IPIP with TCP inside: encap3+4 takes the inner ports
	ipip := cat(ethHdr(0x0800), ipv4(4, hSrc, hDst, ipv4(6, hISrc, hIDst, l4(0x50, 0xc000))))
	assert.Equal(t, uint32(0x76ddc5a), frame.XmitHash(frame.XmitEncap34, ipip))
	assert.NotEqual(t, frame.XmitHash(frame.XmitLayer34, ipip), frame.XmitHash(frame.XmitEncap34, ipip))
	// a cut inner header: the dissector fails, layer2 hash
	assert.Equal(t, uint32(0x803), frame.XmitHash(frame.XmitEncap23, ipip[:14+20+10]))
	// PPPoE session carrying IPv4
	pppoe := cat(ethHdr(0x8864), []byte{0x11, 0, 0, 1, 0, 0, 0, 0x21}, inner)
	assert.Equal(t, uint32(1^2^0x8864), frame.XmitHash(frame.XmitLayer23, pppoe))
	h := uint32(1^2^0x8864) ^ binary.LittleEndian.Uint32(hISrc) ^ binary.LittleEndian.Uint32(hIDst)
	h ^= h >> 16
	h ^= h >> 8
	assert.Equal(t, h, frame.XmitHash(frame.XmitEncap23, pppoe))
}

func TestXmitHashNoAlloc(t *testing.T) {
	f := cat(ethHdr(0x0800), ipv4(4, hSrc, hDst, ipv4(6, hISrc, hIDst, l4(0x50, 0xc000))))
	for p := frame.XmitLayer2; p <= frame.XmitVlanSrcMAC; p++ {
		assert.Zero(t, testing.AllocsPerRun(100, func() { _ = frame.XmitHash(p, f) }), "policy %d", p)
	}
}

func TestXmitHash(t *testing.T) {
	f := make([]byte, 14+20+8)
	f[5], f[11] = 1, 2
	f[12], f[13] = 0x08, 0x00
	f[14] = 0x45
	f[14+9] = 17
	copy(f[14+12:], []byte{192, 0, 2, 1, 192, 0, 2, 2})
	l2 := frame.XmitHash(frame.XmitLayer2, f)
	assert.Equal(t, uint32(1^2^0x0800), l2)
	a := frame.XmitHash(frame.XmitLayer34, f)
	f[34], f[35] = 0x12, 0x34 // source port
	assert.NotEqual(t, a, frame.XmitHash(frame.XmitLayer34, f), "layer3+4 uses ports")
	assert.Equal(t, frame.XmitHash(frame.XmitLayer23, f), frame.XmitHash(frame.XmitLayer23, f[:34+8]))
}

// TestXmitHashVlanSrcMAC: bond_vlan_srcmac_hash XORs the source MAC's two
// 24-bit halves and the 802.1Q TCI; the destination and the payload do not
// count.
func TestXmitHashVlanSrcMAC(t *testing.T) {
	f := make([]byte, 14+4+20)
	copy(f[0:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	copy(f[6:12], []byte{0x52, 0x54, 0x00, 0x12, 0x34, 0x56})
	f[12], f[13] = 0x08, 0x00
	untagged := frame.XmitHash(frame.XmitVlanSrcMAC, f)
	assert.Equal(t, uint32(0x525400^0x123456), untagged)
	f[0] = 0x01 // another destination
	assert.Equal(t, untagged, frame.XmitHash(frame.XmitVlanSrcMAC, f))
	// VLAN 100, priority 5: the whole TCI
	f[12], f[13], f[14], f[15], f[16], f[17] = 0x81, 0x00, 0xa0, 0x64, 0x08, 0x00
	assert.Equal(t, uint32(0x525400^0x123456^0xa064), frame.XmitHash(frame.XmitVlanSrcMAC, f))
	assert.NotEqual(t, frame.XmitHash(frame.XmitLayer2, f), frame.XmitHash(frame.XmitVlanSrcMAC, f))
}
