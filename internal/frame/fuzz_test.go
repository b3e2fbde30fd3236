package frame_test

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"

	"bondingfs/internal/frame"
)

// FuzzClassifyFrame: any input gets one class or none, and the class
// agrees with the EtherType it was read from.
func FuzzClassifyFrame(f *testing.F) {
	f.Add([]byte{})
	f.Add(ethFrame(0x8809, 60))
	f.Add(ethFrame(0x0806, 60))
	f.Add(nd(135))
	f.Fuzz(func(t *testing.T, b []byte) {
		c := frame.ClassifyFrame(b)
		switch c {
		case 0:
		case frame.ClassSlow:
			if binary.BigEndian.Uint16(b[12:]) != frame.EtherTypeSlow {
				t.Fatalf("slow class for EtherType %#x", b[12:14])
			}
		case frame.ClassARP:
			et := binary.BigEndian.Uint16(b[12:])
			if et != frame.EtherTypeARP && (et != frame.EtherTypeVLAN || binary.BigEndian.Uint16(b[16:]) != frame.EtherTypeARP) {
				t.Fatalf("ARP class for %x", b[12:18])
			}
		case frame.ClassND:
			if binary.BigEndian.Uint16(b[12:]) != frame.EtherTypeIPv6 || len(b) <= 54 {
				t.Fatalf("ND class for %x", b)
			}
		default:
			t.Fatalf("class %d", c)
		}
	})
}

// FuzzXmitHash runs every policy, through the flow dissector for encap2+3
// and encap3+4, over any input: it never panics or writes to the frame,
// layer2 is the Ethernet header's hash, layer3+4 and encap3+4 leave the top
// bit clear (bond_xmit_hash's final shift), and vlan+srcmac depends on the
// source MAC and tag only.
func FuzzXmitHash(f *testing.F) {
	f.Add(uint8(0), []byte{})
	f.Add(uint8(1), make([]byte, 60))
	f.Add(uint8(5), make([]byte, 14))
	f.Add(uint8(3), cat(ethHdr(0x0800), ipv4(47, hSrc, hDst, cat([]byte{0xb0, 0, 0x08, 0x00}, make([]byte, 12), ipv4(17, hISrc, hIDst, l4(1, 2))))))
	f.Add(uint8(4), cat(ethHdr(0x0800), ipv4(4, hSrc, hDst, ipv4(6, hISrc, hIDst, l4(0x50, 0xc000)))))
	f.Add(uint8(4), cat(ethHdr(0x8864), []byte{0x11, 0, 0, 1, 0, 0, 0, 0x57}, make([]byte, 40)))
	f.Fuzz(func(t *testing.T, policy uint8, b []byte) {
		p := frame.XmitPolicy(policy % 6)
		orig := bytes.Clone(b)
		h := frame.XmitHash(p, b)
		if !bytes.Equal(orig, b) {
			t.Fatal("XmitHash wrote to the frame")
		}
		if len(b) < 14 {
			if h != 0 {
				t.Fatalf("runt hashed to %#x", h)
			}
			return
		}
		switch p {
		case frame.XmitLayer2:
			et := binary.BigEndian.Uint16(b[12:])
			if (et == frame.EtherTypeVLAN || et == frame.EtherTypeQinQ) && len(b) >= 18 {
				et = binary.BigEndian.Uint16(b[16:])
			}
			if want := uint32(b[5]^b[11]) ^ uint32(et); h != want {
				t.Fatalf("layer2 %#x, want %#x", h, want)
			}
		case frame.XmitLayer34, frame.XmitEncap34:
			if h>>31 != 0 {
				t.Fatalf("%v: top bit set in %#x", p, h)
			}
		case frame.XmitVlanSrcMAC:
			c := bytes.Clone(b)
			c[0] ^= 0xff
			for i := 18; i < len(c); i++ {
				c[i] ^= 0x5a
			}
			if h2 := frame.XmitHash(p, c); h2 != h {
				t.Fatalf("vlan+srcmac %#x changed to %#x with the destination and payload", h, h2)
			}
		}
	})
}

// FuzzARPProbe: every probe built is a 42-byte ARP request (plus vnet
// header and tags) from mac for target that ClassifyFrame takes for ARP.
func FuzzARPProbe(f *testing.F) {
	f.Add([]byte{2, 0, 0, 0, 0, 1}, uint32(0xc0000201), uint32(0xc0000202), uint16(0))
	f.Add([]byte{2, 0, 0, 0, 0, 1}, uint32(0), uint32(0x0a000001), uint16(5))
	f.Fuzz(func(t *testing.T, mac []byte, src32, target32 uint32, vid uint16) {
		var src, target [4]byte
		binary.BigEndian.PutUint32(src[:], src32)
		binary.BigEndian.PutUint32(target[:], target32)
		var tags []frame.VLANTag
		if vid != 0 {
			tags = []frame.VLANTag{{Proto: frame.EtherTypeVLAN, ID: vid}}
		}
		p := frame.ARPProbe(net.HardwareAddr(mac), netip.AddrFrom4(src), netip.AddrFrom4(target), tags)
		if len(mac) != 6 {
			if p != nil {
				t.Fatal("probe from a MAC of", len(mac), "bytes")
			}
			return
		}
		if len(p) != frame.VnetHdrLen+14+4*len(tags)+frame.ARPLen {
			t.Fatalf("probe of %d bytes", len(p))
		}
		eth := p[frame.VnetHdrLen:]
		if frame.ClassifyFrame(eth) != frame.ClassARP {
			t.Fatalf("probe %x not ARP", eth)
		}
		arp := eth[14+4*len(tags):]
		if !bytes.Equal(arp[8:14], mac) || !bytes.Equal(arp[14:18], src[:]) || !bytes.Equal(arp[24:28], target[:]) {
			t.Fatalf("probe body %x", arp)
		}
	})
}
