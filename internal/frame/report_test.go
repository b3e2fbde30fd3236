package frame_test

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"bondingfs/internal/frame"
)

// sum16 is the one's complement sum of b (0xffff when a checksum inside b
// is right): the complement of the Internet checksum over b.
func sum16(s uint32, b []byte) uint16 { return ^frame.InetChecksum(s, b) }

// TestIGMPReport: IGMPv3 to 224.0.0.22 with one MODE_IS_EXCLUDE record,
// IGMPv2 to the group; TTL 1, Router Alert, valid checksums; 224.0.0.1 is
// never reported.
func TestIGMPReport(t *testing.T) {
	mac := net.HardwareAddr{2, 0, 0, 0, 0, 1}
	src, g := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("239.1.2.3")
	f := frame.IGMPReport(mac, src, g, 3)[frame.VnetHdrLen:]
	assert.Equal(t, []byte{1, 0, 0x5e, 0, 0, 0x16}, f[0:6])
	ip := f[14:]
	assert.Equal(t, byte(0x46), ip[0])
	assert.Equal(t, byte(1), ip[8], "TTL")
	assert.Equal(t, []byte{224, 0, 0, 22}, ip[16:20])
	assert.Equal(t, []byte{0x94, 4, 0, 0}, ip[20:24])
	assert.Equal(t, uint16(0xffff), sum16(0, ip[:24]), "IP checksum")
	igmp := ip[24:]
	require.Len(t, igmp, 16)
	assert.Equal(t, byte(0x22), igmp[0])
	assert.Equal(t, uint16(1), binary.BigEndian.Uint16(igmp[6:8]))
	assert.Equal(t, byte(2), igmp[8], "MODE_IS_EXCLUDE")
	assert.Equal(t, []byte{239, 1, 2, 3}, igmp[12:16])
	assert.Equal(t, uint16(0xffff), sum16(0, igmp), "IGMP checksum")

	f = frame.IGMPReport(mac, src, g, 2)[frame.VnetHdrLen:]
	assert.Equal(t, []byte{1, 0, 0x5e, 1, 2, 3}, f[0:6])
	assert.Equal(t, []byte{239, 1, 2, 3}, f[14+16:14+20])
	assert.Equal(t, []byte{0x16, 0, 0xf8, 0xfa, 239, 1, 2, 3}, f[14+24:]) // checksum ~(0x1600+0xef01+0x0203)
	assert.Nil(t, frame.IGMPReport(mac, src, netip.MustParseAddr("224.0.0.1"), 3))
	assert.Nil(t, frame.IGMPReport(mac, src, src, 3))
}

// TestMLDv2Report: one report of every group but ff02::1 and node-local
// ones, to ff02::16 with a hop-by-hop Router Alert and a valid checksum.
func TestMLDv2Report(t *testing.T) {
	mac := net.HardwareAddr{2, 0, 0, 0, 0, 1}
	src := netip.MustParseAddr("fe80::1")
	groups := []netip.Addr{netip.MustParseAddr("ff02::1"), netip.MustParseAddr("ff01::5"),
		netip.MustParseAddr("ff05::123"), netip.MustParseAddr("ff02::1:ff00:1")}
	f := frame.MLDv2Report(mac, src, groups)[frame.VnetHdrLen:]
	assert.Equal(t, []byte{0x33, 0x33, 0, 0, 0, 0x16}, f[0:6])
	ip6 := f[14:]
	assert.Equal(t, byte(0), ip6[6], "next header: hop-by-hop")
	assert.Equal(t, byte(1), ip6[7], "hop limit")
	icmp := ip6[48:]
	assert.Equal(t, byte(143), icmp[0])
	require.Equal(t, uint16(2), binary.BigEndian.Uint16(icmp[6:8]))
	assert.Equal(t, netip.MustParseAddr("ff02::1:ff00:1").AsSlice(), icmp[12:28])
	assert.Equal(t, netip.MustParseAddr("ff05::123").AsSlice(), icmp[32:48])
	var ps uint32
	for i := 8; i < 40; i += 2 {
		ps += uint32(binary.BigEndian.Uint16(ip6[i:]))
	}
	ps += uint32(len(icmp)) + 58
	assert.Equal(t, uint16(0xffff), sum16(ps, icmp), "ICMPv6 checksum")
	assert.Nil(t, frame.MLDv2Report(mac, src, groups[:2]))
}
