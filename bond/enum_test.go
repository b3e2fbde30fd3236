package bond_test

import (
	"fmt"
	"strconv"
	"testing"

	"bondingfs/bond"
)

// TestEnumStrings: each option's value type prints, for every value of the
// option's table, the name the table gives that value (the word its sysfs
// file shows), and "opt(N)" outside the table; its named constants carry
// the numbers of the table's words.
func TestEnumStrings(t *testing.T) {
	cases := []struct {
		opt    string
		str    func(int) string
		consts map[string]fmt.Stringer // table word -> named constant
	}{
		{"mode", func(v int) string { return bond.ModeID(v).String() }, map[string]fmt.Stringer{
			"balance-rr": bond.ModeRoundRobin, "active-backup": bond.ModeActiveBackup, "balance-xor": bond.ModeXOR,
			"broadcast": bond.ModeBroadcast, "802.3ad": bond.Mode8023AD, "balance-tlb": bond.ModeTLB, "balance-alb": bond.ModeALB}},
		{"arp_validate", func(v int) string { return bond.ARPValidate(v).String() }, map[string]fmt.Stringer{
			"none": bond.ARPValidateNone, "active": bond.ARPValidateActive, "backup": bond.ARPValidateBackup,
			"all": bond.ARPValidateAll, "filter": bond.ARPValidateFilter,
			"filter_active": bond.ARPValidateFilterActive, "filter_backup": bond.ARPValidateFilterBackup}},
		{"fail_over_mac", func(v int) string { return bond.FailOverMAC(v).String() }, map[string]fmt.Stringer{
			"none": bond.FOMNone, "active": bond.FOMActive, "follow": bond.FOMFollow}},
		{"primary_reselect", func(v int) string { return bond.PrimaryReselect(v).String() }, map[string]fmt.Stringer{
			"always": bond.ReselectAlways, "better": bond.ReselectBetter, "failure": bond.ReselectFailure}},
		{"lacp_rate", func(v int) string { return bond.LACPRate(v).String() }, map[string]fmt.Stringer{
			"slow": bond.LACPRateSlow, "fast": bond.LACPRateFast}},
		{"ad_select", func(v int) string { return bond.ADSelect(v).String() }, map[string]fmt.Stringer{
			"stable": bond.ADSelectStable, "bandwidth": bond.ADSelectBandwidth, "count": bond.ADSelectCount}},
	}
	for _, c := range cases {
		o := bond.OptionByName(c.opt)
		if o == nil || len(o.Values) == 0 {
			t.Fatalf("%s: no value table", c.opt)
		}
		for _, v := range o.Values {
			if got, want := c.str(int(v.Value)), bond.ValueName(c.opt, int(v.Value)); got != want {
				t.Errorf("%s: String of %d = %q, want the table's %q", c.opt, v.Value, got, want)
			}
		}
		if got, want := c.str(99), c.opt+"(99)"; got != want {
			t.Errorf("%s: String of 99 = %q, want %q", c.opt, got, want)
		}
		if len(c.consts) != len(o.Values) {
			t.Errorf("%s: %d named constants for %d table entries", c.opt, len(c.consts), len(o.Values))
		}
		for word, k := range c.consts {
			if got := k.String(); got != word {
				t.Errorf("%s: constant for %q prints %q", c.opt, word, got)
			}
		}
	}
}

// TestLinkStateString: a slave's link state prints the words of
// bonding_slave/mii_status, "unknown" for any other number.
func TestLinkStateString(t *testing.T) {
	for s, want := range map[bond.LinkState]string{
		bond.LinkUp: "up", bond.LinkFail: "going down", bond.LinkDown: "down", bond.LinkBack: "going back", 7: "unknown",
	} {
		if got := s.String(); got != want {
			t.Errorf("LinkState %s = %q, want %q", strconv.Itoa(int(s)), got, want)
		}
	}
}
