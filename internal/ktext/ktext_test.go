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

// TestNoBreakSpace: the kernel's ctype table is Latin-1 and marks 0xA0 as
// white space (lib/ctype.c), so sscanf's %s ends a word there and
// dev_valid_name refuses it.
func TestNoBreakSpace(t *testing.T) {
	if !IsSpace(0xa0) || IsSpace(0xc2) || IsSpace('a') || !IsSpace('\v') {
		t.Error("IsSpace")
	}
	if ValidIfName("eth\xa00") {
		t.Error("0xA0 in a name accepted")
	}
	if !ValidIfName("eth\xc2") {
		t.Error("a byte above 0x7f other than 0xA0 refused")
	}
	for in, want := range map[string]string{
		"\xa0+bond0\xa0x":            "+bond0",
		"+bo\xc2\xa0nd":              "+bo\xc2",
		"  +bond1\n":                 "+bond1",
		"+averyveryverylongbondname": "+averyveryveryl",
	} {
		if got := FirstWord(in, 15); got != want {
			t.Errorf("FirstWord(%q) = %q, want %q", in, got, want)
		}
	}
	if _, ok := ScanWord("", 16); ok {
		t.Error("ScanWord of an empty string converts")
	}
	if w, ok := ScanWord(" \xa0\n", 16); !ok || w != "" {
		t.Errorf("ScanWord of white space = %q %v", w, ok)
	}
}

func TestValidIfName(t *testing.T) {
	for name, want := range map[string]bool{
		"eth0": true, "": false, ".": false, "..": false, "...": true, "a/b": false, "a:b": false,
		"a b": false, "a\tb": false, "123456789012345": true, "1234567890123456": false,
	} {
		if ValidIfName(name) != want {
			t.Errorf("ValidIfName(%q) = %v", name, !want)
		}
	}
}

func TestKstrtoint(t *testing.T) {
	for in, want := range map[string]int64{"10": 10, "0x10": 16, "010": 8, "-5": -5, "+7": 7, "3\n": 3} {
		if got, err := Kstrtoint(in, true); err != nil || got != want {
			t.Errorf("Kstrtoint(%q) = %d %v", in, got, err)
		}
	}
	for _, in := range []string{"", "x", "1x", "-+1", "2147483648", "3\n\n"} {
		if _, err := Kstrtoint(in, true); err == nil {
			t.Errorf("Kstrtoint(%q) accepted", in)
		}
	}
	if _, err := Kstrtoint("-1", false); err == nil {
		t.Error("unsigned -1 accepted")
	}
}
