package compat

import (
	"strings"
	"testing"

	"bondingfs/bond"
)

// The module parameters compat knows are the table's options plus the two
// module-only ones.
func TestModuleParamsInTable(t *testing.T) {
	for k := range moduleParams {
		if k == "max_bonds" || k == "tx_queues" {
			continue
		}
		if bond.OptionByName(k) == nil {
			t.Errorf("module parameter %s is not in bond.Options", k)
		}
	}
}

func TestDefaultValidator(t *testing.T) {
	for _, c := range []struct {
		key, value string
		ok         bool
	}{
		{"mode", "active-backup", true},
		{"mode", "1", true},
		{"mode", "default", true},
		{"mode", "7", false},
		{"mode", "0x1", false},
		{"mode", "", false},
		{"mode", "balance-rr extra words", true}, // first word only
		{"miimon", "100", true},
		{"miimon", "2147483648", false},
		{"miimon", "maxval", true},
		{"miimon", "-1", false},
		{"arp_missed_max", "0", false},
		{"arp_missed_max", "255", true},
		{"lacp_rate", "fast", true},
		{"xmit_hash_policy", "vlan+srcmac", true},
		{"arp_ip_target", "+10.0.0.1", true},
		{"arp_ip_target", "-10.0.0.1", true},
		{"arp_ip_target", "10.0.0.1", false},
		{"arp_ip_target", "+0.0.0.0", false},
		{"arp_ip_target", "+fe80::1", false},
		{"ad_actor_system", "02:00:00:00:00:01", true},
		{"ad_actor_system", "00:00:00:00:00:00", false},
		{"queue_id", "eth0:2", true},
		{"queue_id", "eth0", false},
		{"primary", "", true},
		{"primary", "eth0", true},
		{"primary", "a:b", false},
		{"mii_status", "up", false},
		{"ad_aggregator", "1", false},
		{"no_such_option", "1", false},
	} {
		err := DefaultValidator(c.key, c.value)
		if (err == nil) != c.ok {
			t.Errorf("DefaultValidator(%q, %q) = %v, want ok=%v", c.key, c.value, err, c.ok)
		}
	}
}

// settingsText renders settings one per line as "bond key value @line".
func settingsText(s []Setting) string {
	var b strings.Builder
	for _, x := range s {
		b.WriteString(x.Bond + " " + x.Key + " " + x.Value + " @" + itoa(x.Line) + "\n")
	}
	return b.String()
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var d []byte
	for ; n > 0; n /= 10 {
		d = append([]byte{byte('0' + n%10)}, d...)
	}
	return string(d)
}

func errsText(errs []error) string {
	var b strings.Builder
	for _, e := range errs {
		b.WriteString(e.Error() + "\n")
	}
	return b.String()
}

// TestValidatorNoBreakSpace: names are checked with the kernel's
// dev_valid_name and first words read with its sscanf, for which 0xA0 is
// white space (bond and compat share internal/ktext).
func TestValidatorNoBreakSpace(t *testing.T) {
	if err := DefaultValidator("primary", "eth\xa01"); err == nil {
		t.Error("primary with 0xA0 accepted")
	}
	if err := DefaultValidator("active_slave", "eth1\xa0junk"); err != nil {
		t.Errorf("active_slave reads the first word: %v", err)
	}
	if err := DefaultValidator("queue_id", "eth\xa01:2"); err == nil {
		t.Error("queue_id with 0xA0 in the name accepted")
	}
}
