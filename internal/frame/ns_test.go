package frame_test

import (
	"encoding/binary"
	"encoding/hex"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/mdlayher/ndp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"bondingfs/internal/frame"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	require.NoError(t, err)
	return b
}

// icmp6Sum is the ICMPv6 checksum check of an IPv6 packet: the sum over the
// pseudo-header and the message (its checksum field included) folds to 0.
func icmp6Sum(ip []byte) uint16 {
	ph := make([]byte, 0, 40)
	ph = append(ph, ip[8:40]...)
	ph = binary.BigEndian.AppendUint32(ph, uint32(len(ip)-40))
	ph = append(ph, 0, 0, 0, 58)
	return frame.InetChecksum(0, append(ph, ip[40:]...))
}

// TestNeighborSolicitationGolden pins the probe bytes (as tcpdump shows the
// kernel's bond_ns_send: solicited-node destination, hop limit 255, source
// link-layer address option) apart from the checksum, which is checked by
// summing.
func TestNeighborSolicitationGolden(t *testing.T) {
	mac := net.HardwareAddr{2, 0, 0, 0, 0, 1}
	f := frame.NeighborSolicitation(mac, netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::a:bc09"), nil)
	require.NotNil(t, f)
	want := unhex(t, `00000000000000000000
		3333ff0abc09 020000000001 86dd
		60000000 0020 3a ff
		20010db8000000000000000000000001
		ff0200000000000000000001ff0abc09
		8700 0000 00000000
		20010db8000000000000000000 0abc09
		0101 020000000001`)
	require.Len(t, f, len(want))
	got := append([]byte(nil), f...)
	ck := frame.VnetHdrLen + 14 + 40 + 2
	assert.NotZero(t, binary.BigEndian.Uint16(got[ck:]))
	got[ck], got[ck+1] = 0, 0
	assert.Equal(t, want, got)
	assert.Zero(t, icmp6Sum(f[frame.VnetHdrLen+14:]))

	// ndp reads it back
	m, err := ndp.ParseMessage(f[frame.VnetHdrLen+14+40:])
	require.NoError(t, err)
	ns, ok := m.(*ndp.NeighborSolicitation)
	require.True(t, ok)
	assert.Equal(t, netip.MustParseAddr("2001:db8::a:bc09"), ns.TargetAddress)
}

// TestNeighborSolicitationUnspecified: without a source address the probe
// goes from :: and carries no option (RFC 4861 §4.3); tags go after the
// MACs, outermost first.
func TestNeighborSolicitationUnspecified(t *testing.T) {
	mac := net.HardwareAddr{2, 0, 0, 0, 0, 1}
	tags := []frame.VLANTag{{Proto: 0x88a8, ID: 10}, {Proto: 0x8100, ID: 20}}
	f := frame.NeighborSolicitation(mac, netip.Addr{}, netip.MustParseAddr("2001:db8::9"), tags)
	require.NotNil(t, f)
	eth := f[frame.VnetHdrLen:]
	assert.Equal(t, unhex(t, "3333ff000009 020000000001 88a8000a 81000014 86dd"), eth[:22])
	ip := eth[22:]
	require.Len(t, ip, 40+24)
	assert.Equal(t, uint16(24), binary.BigEndian.Uint16(ip[4:6]))
	assert.Equal(t, make([]byte, 16), ip[8:24])
	assert.Zero(t, icmp6Sum(ip))
	h, ok := frame.ParseND(eth[8:]) // one tag left, as the kernel sees it
	require.True(t, ok)
	assert.Equal(t, uint8(frame.NDNeighborSolicitation), h.Type)

	assert.Nil(t, frame.NeighborSolicitation(mac[:5], netip.Addr{}, netip.MustParseAddr("2001:db8::9"), nil))
	assert.Nil(t, frame.NeighborSolicitation(mac, netip.Addr{}, netip.MustParseAddr("192.0.2.1"), nil))
	assert.Nil(t, frame.NeighborSolicitation(mac, netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::9"), nil))
}

func TestParseND(t *testing.T) {
	na := frame.UnsolicitedNA(net.HardwareAddr{2, 0, 0, 0, 0, 9}, netip.MustParseAddr("2001:db8::9"))
	h, ok := frame.ParseND(na[frame.VnetHdrLen:])
	require.True(t, ok)
	assert.Equal(t, uint8(frame.NDNeighborAdvertisement), h.Type)
	assert.Equal(t, netip.MustParseAddr("2001:db8::9").As16(), h.Src)
	assert.Equal(t, netip.MustParseAddr("ff02::1").As16(), h.Dst)

	_, ok = frame.ParseND(nd(133)) // router solicitation
	assert.False(t, ok)
	short := nd(136)[:14+40+7]
	_, ok = frame.ParseND(short)
	assert.False(t, ok)
	ext := nd(136)
	ext[14+6] = 0 // a hop-by-hop header first
	_, ok = frame.ParseND(ext)
	assert.False(t, ok)
	_, ok = frame.ParseND(ethFrame(0x0806, 60))
	assert.False(t, ok)
}

// FuzzParseND: any input is read without panic, and a frame read as ND
// carries type 135 or 136 at the ICMPv6 header of an IPv6 frame with at
// most one tag.
func FuzzParseND(f *testing.F) {
	f.Add([]byte{})
	f.Add(nd(135))
	f.Add(nd(136))
	f.Add(cat(ethHdr(0x86dd, 5), nd(136)[14:]))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, ok := frame.ParseND(b)
		if !ok {
			return
		}
		off := 14
		if et := binary.BigEndian.Uint16(b[12:]); et != frame.EtherTypeIPv6 {
			off = 18
		}
		if binary.BigEndian.Uint16(b[off-2:]) != frame.EtherTypeIPv6 || b[off+6] != 58 || b[off+40] != h.Type {
			t.Fatalf("ND header read from %x", b)
		}
		if h.Type != 135 && h.Type != 136 {
			t.Fatalf("type %d", h.Type)
		}
	})
}

// FuzzNeighborSolicitation: every probe built from any addresses and MAC
// is an IPv6 ICMPv6 NS whose checksum holds and that ParseND and ndp read
// back with the same target.
func FuzzNeighborSolicitation(f *testing.F) {
	f.Add([]byte{2, 0, 0, 0, 0, 1}, []byte(netip.MustParseAddr("2001:db8::1").AsSlice()), []byte(netip.MustParseAddr("2001:db8::9").AsSlice()))
	f.Add([]byte{2, 0, 0, 0, 0, 1}, []byte{}, []byte(netip.MustParseAddr("fe80::1").AsSlice()))
	f.Fuzz(func(t *testing.T, mac, src, target []byte) {
		s, _ := netip.AddrFromSlice(src)
		tg, ok := netip.AddrFromSlice(target)
		fr := frame.NeighborSolicitation(net.HardwareAddr(mac), s, tg, nil)
		if fr == nil {
			if ok && tg.Is6() && len(mac) == 6 && (!s.IsValid() || s.Is6()) {
				t.Fatalf("no probe for %x %v %v", mac, s, tg)
			}
			return
		}
		eth := fr[frame.VnetHdrLen:]
		h, ok := frame.ParseND(eth)
		if !ok || h.Type != 135 || icmp6Sum(eth[14:]) != 0 {
			t.Fatalf("bad probe %x", fr)
		}
		if [16]byte(eth[14+40+8:14+40+24]) != tg.As16() {
			t.Fatalf("target %x", eth[14+40+8:14+40+24])
		}
		if tg.Is4In6() {
			return // ndp refuses IPv4-mapped targets
		}
		m, err := ndp.ParseMessage(eth[14+40:])
		if err != nil {
			t.Fatal(err)
		}
		if ns, ok := m.(*ndp.NeighborSolicitation); !ok || ns.TargetAddress != tg.WithZone("") {
			t.Fatalf("read back %v", m)
		}
	})
}
