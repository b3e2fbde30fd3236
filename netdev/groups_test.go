package netdev

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestParseIGMP: /proc/net/igmp as igmp_mc_seq_show prints it (groups as
// the native-endian hex of their network-order bytes; an x86 host here),
// the querier version per device; /proc/net/igmp6 as igmp6_mc_seq_show.
func TestParseIGMP(t *testing.T) {
	text := "Idx\tDevice    : Count Querier\tGroup    Users Timer\tReporter\n" +
		"1\tlo        :     1      V3\n" +
		"\t\t\t\t010000E0     1 0:00000000\t\t0\n" +
		"5\tbond0     :     2      V2\n" +
		"\t\t\t\tFB0000E0     1 0:00000000\t\t0\n" +
		"\t\t\t\t010000E0     1 0:00000000\t\t0\n"
	v4, ver := parseIGMP(text, 5)
	assert.Equal(t, []netip.Addr{netip.MustParseAddr("224.0.0.251"), netip.MustParseAddr("224.0.0.1")}, v4)
	assert.Equal(t, 2, ver)
	v4, ver = parseIGMP(text, 1)
	assert.Equal(t, []netip.Addr{netip.MustParseAddr("224.0.0.1")}, v4)
	assert.Equal(t, 3, ver)
	v4, _ = parseIGMP(text, 9)
	assert.Empty(t, v4)

	text6 := "1    lo              ff020000000000000000000000000001     1 0000000C 0\n" +
		"5    bond0           ff0200000000000000000001ff000001     1 00000004 0\n" +
		"5    bond0           ff050000000000000000000000000123     1 00000004 0\n"
	assert.Equal(t, []netip.Addr{netip.MustParseAddr("ff02::1:ff00:1"), netip.MustParseAddr("ff05::123")}, parseIGMP6(text6, 5))
	assert.Empty(t, parseIGMP6("garbage\n", 5))
}

// FuzzParseIGMP: the /proc/net/igmp and igmp6 parsers never panic and
// return only IPv4 resp. IPv6 addresses.
func FuzzParseIGMP(f *testing.F) {
	f.Add("5\tbond0     :     2      V2\n\t\t\t\tFB0000E0     1 0:00000000\t\t0\n", 5)
	f.Add("5    bond0           ff0200000000000000000001ff000001     1 00000004 0\n", 5)
	f.Add("\t\t\t\tzz\n", 0)
	f.Fuzz(func(t *testing.T, text string, index int) {
		v4, ver := parseIGMP(text, index)
		for _, a := range v4 {
			if !a.Is4() {
				t.Fatalf("parseIGMP returned %v", a)
			}
		}
		if ver < 1 || ver > 3 {
			t.Fatalf("version %d", ver)
		}
		for _, a := range parseIGMP6(text, index) {
			if !a.Is6() {
				t.Fatalf("parseIGMP6 returned %v", a)
			}
		}
	})
}
