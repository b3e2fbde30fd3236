package frame

import (
	"bytes"
	"testing"
)

// FuzzDissect runs both dissectors (the flow dissector of encap2+3/3+4 and
// bond_flow_dissect of layer2+3/3+4) from any EtherType over any input: no
// panic, no write to the frame, the same keys twice, and no keys read from
// a frame that failed.
func FuzzDissect(f *testing.F) {
	f.Add(uint16(EtherTypeIPv4), []byte{0x45, 0, 0, 40, 0, 0, 0, 0, 64, 47, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2, 0x20, 0, 0x65, 0x58, 0, 0, 0, 1})
	f.Add(uint16(EtherTypeIPv6), make([]byte, 48))
	f.Add(uint16(ethPPPSes), []byte{0x11, 0, 0, 1, 0, 0, 0, 0x21})
	f.Add(uint16(EtherTypeVLAN), []byte{0, 5, 0x08, 0x00})
	f.Fuzz(func(t *testing.T, proto uint16, b []byte) {
		orig := bytes.Clone(b)
		var a, c flowKeys
		okA := dissect(b, proto, 0, &a)
		okC := dissect(b, proto, 0, &c)
		if okA != okC || a != c {
			t.Fatalf("dissect not deterministic: %v %+v, %v %+v", okA, a, okC, c)
		}
		if !okA && proto != EtherTypeVLAN && proto != EtherTypeQinQ && proto != ethPPPSes && proto != EtherTypeIPv4 && proto != EtherTypeIPv6 && a != (flowKeys{}) {
			t.Fatalf("keys %+v from EtherType %#x that failed", a, proto)
		}
		for _, l34 := range []bool{false, true} {
			var k flowKeys
			ok := bondFlowDissect(b, proto, 0, l34, &k)
			if !ok && proto != EtherTypeIPv4 && proto != EtherTypeIPv6 && k != (flowKeys{}) {
				t.Fatalf("keys %+v from EtherType %#x", k, proto)
			}
			if !l34 && k.ports != 0 {
				t.Fatalf("layer2+3 read ports %#x", k.ports)
			}
		}
		if !bytes.Equal(orig, b) {
			t.Fatal("a dissector wrote to the frame")
		}
	})
}
