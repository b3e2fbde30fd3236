package ktext

import (
	"net/netip"
	"testing"
)

func TestIn4Pton(t *testing.T) {
	good := map[string]string{
		"192.0.2.1": "192.0.2.1", "192.0.2.1\n": "192.0.2.1", "192.0.2.1 x": "192.0.2.1",
		"192.0.2.1,1.2.3.4": "192.0.2.1", "1.2.3.4:80": "1.2.3.4", "001.002.003.004": "1.2.3.4",
		"0.0.0.0": "0.0.0.0", "1.2.3.4x": "1.2.3.4", "1.2.3.4+": "1.2.3.4",
	}
	for in, want := range good {
		a, ok := In4pton(in)
		if !ok || a != netip.MustParseAddr(want) {
			t.Errorf("In4pton(%q) = %v %v, want %s", in, a, ok, want)
		}
	}
	for _, in := range []string{"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "abc", "0x01020304", "16909060",
		"1..2.3", ".1.2.3", "+1.2.3.4", " 1.2.3.4", "1.2.3.a", "::1", "1.2.3.4."} {
		if a, ok := In4pton(in); ok {
			t.Errorf("In4pton(%q) = %v, want failure", in, a)
		}
	}
}
