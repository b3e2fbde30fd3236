package compat

import (
	"fmt"
	"os"
	"testing"

	"bondingfs/bond"
)

// kernelOptions is the Linux 6.1 option table (bond_options.c bond_opts[],
// names, flags and values only), used when package bond's table is still
// empty so that these tests do not depend on another package's progress.
// When bond.Options is filled, the tests run against it instead and the
// goldens must not change.
func kernelOptions() []*bond.Option {
	intmax := []bond.OptValue{{Name: "off", Value: 0, Flags: bond.ValDefault}, {Name: "maxval", Value: 1<<31 - 1, Flags: bond.ValMax}}
	onoff := func(def uint64) []bond.OptValue {
		return []bond.OptValue{{Name: "off", Value: 0, Flags: flagIf(def == 0)}, {Name: "on", Value: 1, Flags: flagIf(def == 1)}}
	}
	rng := func(min, max, def uint64) []bond.OptValue {
		return []bond.OptValue{{Name: "minval", Value: min, Flags: bond.ValMin}, {Name: "maxval", Value: max, Flags: bond.ValMax}, {Name: "default", Value: def, Flags: bond.ValDefault}}
	}
	enum := func(names ...string) []bond.OptValue {
		var v []bond.OptValue
		for i, n := range names {
			v = append(v, bond.OptValue{Name: n, Value: uint64(i), Flags: flagIf(i == 0)})
		}
		return v
	}
	ro := func(name string) *bond.Option { return &bond.Option{Name: name, Flags: bond.OptReadOnly} }
	raw := func(name string) *bond.Option { return &bond.Option{Name: name, Flags: bond.OptRawVal} }
	opt := func(name string, v []bond.OptValue) *bond.Option { return &bond.Option{Name: name, Values: v} }
	// BOND_MODE_ALL_EX(x): every mode but x.
	allEx := func(modes ...int) uint32 {
		m := uint32(1<<7 - 1)
		for _, x := range modes {
			m &^= 1 << x
		}
		return m
	}
	unsupp := func(o *bond.Option, m uint32) *bond.Option { o.UnsuppModes = m; return o }
	noARP := uint32(1<<bond.Mode8023AD | 1<<bond.ModeTLB | 1<<bond.ModeALB)
	peer := []bond.OptValue{{Name: "off", Value: 0}, {Name: "maxval", Value: 255, Flags: bond.ValMax}, {Name: "default", Value: 1, Flags: bond.ValDefault}}
	return []*bond.Option{
		opt("mode", enum("balance-rr", "active-backup", "balance-xor", "broadcast", "802.3ad", "balance-tlb", "balance-alb")),
		unsupp(opt("packets_per_slave", []bond.OptValue{{Name: "default", Value: 1, Flags: bond.ValDefault}, {Name: "maxval", Value: 65535, Flags: bond.ValMax}}), allEx(bond.ModeRoundRobin)),
		opt("xmit_hash_policy", enum("layer2", "layer3+4", "layer2+3", "encap2+3", "encap3+4", "vlan+srcmac")),
		unsupp(opt("arp_validate", enum("none", "active", "backup", "all", "filter", "filter_active", "filter_backup")), noARP),
		opt("arp_all_targets", enum("any", "all")),
		opt("fail_over_mac", enum("none", "active", "follow")),
		unsupp(opt("arp_interval", intmax), noARP),
		unsupp(opt("arp_missed_max", rng(1, 255, 2)), noARP),
		raw("arp_ip_target"),
		opt("downdelay", intmax),
		opt("updelay", intmax),
		opt("peer_notif_delay", intmax),
		unsupp(opt("lacp_active", onoff(1)), allEx(bond.Mode8023AD)),
		unsupp(opt("lacp_rate", enum("slow", "fast")), allEx(bond.Mode8023AD)),
		opt("min_links", []bond.OptValue{{Name: "default", Value: 0, Flags: bond.ValDefault}, {Name: "maxval", Value: 1<<31 - 1, Flags: bond.ValMax}}),
		opt("miimon", intmax),
		unsupp(raw("primary"), allEx(bond.ModeActiveBackup, bond.ModeTLB, bond.ModeALB)),
		opt("primary_reselect", enum("always", "better", "failure")),
		opt("use_carrier", onoff(1)),
		unsupp(raw("active_slave"), allEx(bond.ModeActiveBackup, bond.ModeTLB, bond.ModeALB)),
		raw("queue_id"),
		opt("all_slaves_active", onoff(0)),
		opt("resend_igmp", peer),
		opt("lp_interval", rng(1, 1<<31-1, 1)),
		raw("slaves"),
		unsupp(opt("tlb_dynamic_lb", onoff(1)), allEx(bond.ModeTLB, bond.ModeALB)),
		unsupp(opt("ad_actor_sys_prio", rng(1, 65535, 65535)), allEx(bond.Mode8023AD)),
		unsupp(raw("ad_actor_system"), allEx(bond.Mode8023AD)),
		unsupp(opt("ad_user_port_key", rng(0, 1023, 0)), allEx(bond.Mode8023AD)),
		opt("ad_select", enum("stable", "bandwidth", "count")),
		opt("num_grat_arp", peer),
		opt("num_unsol_na", peer),
		ro("ad_aggregator"), ro("ad_num_ports"), ro("ad_actor_key"), ro("ad_partner_key"), ro("ad_partner_mac"), ro("mii_status"),
	}
}

func flagIf(b bool) int {
	if b {
		return bond.ValDefault
	}
	return 0
}

func TestMain(m *testing.M) {
	if len(bond.Options) == 0 {
		bond.Options = kernelOptions()
		fmt.Fprintln(os.Stderr, "compat: bond.Options is empty; testing against the built-in copy of the 6.1 table")
	}
	os.Exit(m.Run())
}

func TestKernelTableSize(t *testing.T) {
	if n := len(kernelOptions()); n != 38 {
		t.Fatalf("the test copy of the table has %d files, the kernel 38", n)
	}
}
