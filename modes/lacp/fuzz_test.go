package lacp

import (
	"bytes"
	"testing"
)

// FuzzLACPDU: decoding never panics; whatever decodes re-encodes to bytes
// that decode to the same LACPDU and agree with the input on every field
// the kernel reads.
func FuzzLACPDU(f *testing.F) {
	f.Add(kernelFrame(f)[HeaderLen:])
	f.Add(make([]byte, PDULen))
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodeLACPDU(b)
		if err != nil {
			if len(b) >= PDULen && b[0] == SubtypeLACP {
				t.Fatalf("valid-size LACPDU rejected: %v", err)
			}
			return
		}
		var out [PDULen]byte
		if _, err := p.MarshalTo(out[:]); err != nil {
			t.Fatal(err)
		}
		q, err := DecodeLACPDU(out[:])
		if err != nil || q != p {
			t.Fatalf("round trip: %+v -> %+v (%v)", p, q, err)
		}
		// Fields at their offsets are copied unchanged.
		for _, r := range [][2]int{{0, 2}, {4, 19}, {24, 39}, {44, 46}} {
			if !bytes.Equal(out[r[0]:r[1]], b[r[0]:r[1]]) {
				t.Fatalf("bytes %d..%d differ: %x vs %x", r[0], r[1], out[r[0]:r[1]], b[r[0]:r[1]])
			}
		}
	})
}

// FuzzMarker: the same for Marker PDUs.
func FuzzMarker(f *testing.F) {
	m := Marker{Version: 1, TLVType: MarkerInformation, RequesterPort: 2, RequesterSystem: mac(0, 0xb1, 0), TransactionID: 7}
	b := make([]byte, PDULen)
	_, _ = m.MarshalTo(b)
	f.Add(b)
	f.Add([]byte{2, 1, 9})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMarker(b)
		if err != nil {
			if len(b) >= PDULen && b[0] == SubtypeMarker {
				t.Fatalf("valid-size marker rejected: %v", err)
			}
			return
		}
		var out [PDULen]byte
		if _, err := m.MarshalTo(out[:]); err != nil {
			t.Fatal(err)
		}
		q, err := DecodeMarker(out[:])
		if err != nil || q != m {
			t.Fatalf("round trip: %+v -> %+v (%v)", m, q, err)
		}
		if !bytes.Equal(out[:3], b[:3]) || !bytes.Equal(out[4:16], b[4:16]) {
			t.Fatalf("fields differ: %x vs %x", out[:16], b[:16])
		}
	})
}

// FuzzReceive feeds arbitrary frames to the ports of a negotiated bond
// (and its partner's ticks): no panic, no inconsistency between the
// aggregators' port lists and the ports, and the frames the System sends
// are well-formed.
func FuzzReceive(f *testing.F) {
	f.Add(kernelFrame(f), uint8(0), uint8(3))
	info := make([]byte, FrameLen)
	_, _ = EncodeMarkerFrame(info, mac(0, 1, 1), &Marker{Version: 1, TLVType: MarkerInformation})
	f.Add(info, uint8(1), uint8(1))
	f.Add([]byte{1, 0x80, 0xc2, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0x88, 0x09, 1}, uint8(0), uint8(0))
	f.Fuzz(func(t *testing.T, frame []byte, port, ticks uint8) {
		n, b0, b1 := backToBack(t, fastOpts(), fastOpts())
		for _, s := range []*System{b0, b1} {
			s.transmit = func(id PortID, fr []byte) {
				if len(fr) != FrameLen {
					t.Fatalf("sent %d bytes", len(fr))
				}
				if _, err := SlowPayload(fr); err != nil {
					t.Fatal(err)
				}
			}
		}
		b0.Open()
		b1.Open()
		n.run(30)
		for i := 0; i <= int(ticks%40); i++ {
			b0.Receive(PortID(port%3), frame)
			b0.Tick()
			b1.Tick()
			checkInvariants(t, b0)
		}
		_ = b0.Status()
	})
}

// checkInvariants verifies the aggregator lists against the ports.
func checkInvariants(t *testing.T, s *System) {
	t.Helper()
	active := 0
	for _, o := range s.ports {
		a := &o.ownAgg
		if a.isActive {
			active++
		}
		cnt := 0
		for p := a.lagPorts; p != nil; p = p.nextInAgg {
			if p.agg != a {
				t.Fatalf("port %s listed in aggregator %d but points to another", p.name, a.id)
			}
			cnt++
			if cnt > len(s.ports) {
				t.Fatal("aggregator port list loops")
			}
		}
		if cnt != int(a.numPorts) {
			t.Fatalf("aggregator %d: %d ports listed, num_of_ports %d", a.id, cnt, a.numPorts)
		}
	}
	if active > 1 {
		t.Fatalf("%d active aggregators", active)
	}
}
