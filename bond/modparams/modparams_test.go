package modparams

import (
	"errors"
	"strings"
	"syscall"
	"testing"

	"bondingfs/bond"
)

func parseMod(t *testing.T, line string) (Config, []string, error) {
	t.Helper()
	var logs []string
	cfg, err := Parse(strings.Fields(line), func(l string) { logs = append(logs, l) })
	return cfg, logs, err
}

// The load lines of golden 02-modparams, with the kernel's log and the
// values read back afterwards.
func TestModuleOptionsGolden02(t *testing.T) {
	cases := []struct {
		args   string
		logs   []string
		fail   bool
		bonds  int
		checks map[string]string // option → file text (as root)
	}{
		{args: "max_bonds=0", bonds: 0},
		{args: "max_bonds=3", bonds: 3},
		{args: "mode=active-backup miimon=100 updelay=200 downdelay=300 primary=eth1", bonds: 1,
			logs: []string{"MII link monitoring set to 100 ms"},
			checks: map[string]string{"mode": "active-backup 1\n", "miimon": "100\n", "updelay": "200\n",
				"downdelay": "300\n", "primary": "", "ad_select": "stable 0\n", "peer_notif_delay": "0\n"}},
		{args: "mode=4 lacp_rate=fast ad_select=bandwidth xmit_hash_policy=layer3+4", bonds: 1,
			logs: []string{
				"Warning: miimon must be specified, otherwise bonding will not detect link failure, speed and duplex which are essential for 802.3ad operation",
				"Forcing miimon to 100msec",
				"MII link monitoring set to 100 ms"},
			checks: map[string]string{"ad_actor_key": "0\n", "ad_actor_sys_prio": "65535\n",
				"ad_actor_system": "00:00:00:00:00:00\n", "ad_aggregator": "0\n", "ad_num_ports": "0\n",
				"ad_partner_key": "0\n", "ad_partner_mac": "", "ad_select": "bandwidth 1\n",
				"ad_user_port_key": "0\n", "lacp_rate": "fast 1\n", "miimon": "100\n", "mode": "802.3ad 4\n",
				"xmit_hash_policy": "layer3+4 1\n", "lacp_active": "on 1\n"}},
		{args: "mode=balance-alb", bonds: 1,
			logs: []string{
				"Warning: miimon must be specified, otherwise bonding will not detect link failure, speed and duplex which are essential for 802.3ad operation",
				"Forcing miimon to 100msec",
				"In ALB mode you might experience client disconnections upon reconnection of a link if the bonding module updelay parameter (0 msec) is incompatible with the forwarding delay time of the switch",
				"MII link monitoring set to 100 ms"},
			checks: map[string]string{"mode": "balance-alb 6\n", "miimon": "100\n", "tlb_dynamic_lb": "1\n", "lp_interval": "1\n"}},
		{args: "mode=1 arp_interval=500 arp_ip_target=192.0.2.1,192.0.2.2 arp_validate=all arp_all_targets=all", bonds: 1,
			logs: []string{"ARP monitoring set to 500 ms, validate all, with 2 target(s): 192.0.2.1 192.0.2.2"},
			checks: map[string]string{"mode": "active-backup 1\n", "miimon": "0\n", "arp_interval": "500\n",
				"arp_ip_target": "192.0.2.1 192.0.2.2\n", "arp_validate": "all 3\n", "arp_all_targets": "all 1\n",
				"arp_missed_max": "2\n"}},
		{args: "miimon=100 arp_interval=200 arp_ip_target=192.0.2.1", bonds: 1,
			logs: []string{
				"Warning: miimon (100) and arp_interval (200) can't be used simultaneously, disabling ARP monitoring",
				"MII link monitoring set to 100 ms"},
			checks: map[string]string{"miimon": "100\n", "arp_interval": "0\n", "arp_ip_target": "192.0.2.1\n"}},
		{args: "num_grat_arp=5 num_unsol_na=6 resend_igmp=7 min_links=2 all_slaves_active=1 packets_per_slave=3 fail_over_mac=active use_carrier=0 lp_interval=9 tlb_dynamic_lb=0 primary_reselect=better",
			bonds: 1,
			logs: []string{"bonding: unknown parameter 'tlb_dynamic_lb' ignored",
				"Warning: fail_over_mac only affects active-backup mode"},
			checks: map[string]string{"num_grat_arp": "6\n", "num_unsol_na": "6\n", "resend_igmp": "7\n",
				"min_links": "2\n", "all_slaves_active": "1\n", "packets_per_slave": "3\n",
				"fail_over_mac": "active 1\n", "use_carrier": "0\n", "lp_interval": "9\n",
				"tlb_dynamic_lb": "1\n", "primary_reselect": "always 0\n"}},
		{args: "mode=9", fail: true, logs: []string{`Error: Invalid bonding mode "9"`}},
		{args: "mode=nonsense", fail: true, logs: []string{`Error: Invalid bonding mode "nonsense"`}},
		{args: "xmit_hash_policy=bogus", bonds: 1,
			logs: []string{"xmit_hash_policy param is irrelevant in mode load balancing (round-robin)"}},
		{args: "lacp_rate=2", bonds: 1,
			logs: []string{"lacp_rate param is irrelevant in mode load balancing (round-robin)"}},
		{args: "lacp_rate=fast", bonds: 1,
			logs: []string{"lacp_rate param is irrelevant in mode load balancing (round-robin)"}},
		{args: "miimon=-5", bonds: 1,
			logs: []string{"Warning: miimon module parameter (-5), not in range 0-2147483647, so it was reset to 0"}},
		{args: "max_bonds=-1", bonds: 1,
			logs: []string{"Warning: max_bonds (-1) not in range 0-2147483647, so it was reset to BOND_DEFAULT_MAX_BONDS (1)"}},
		{args: "arp_ip_target=300.1.1.1", bonds: 1,
			logs: []string{"Warning: bad arp_ip_target module parameter (300.1.1.1), ARP monitoring will not be performed"}},
		{args: "fail_over_mac=bogus", fail: true, logs: []string{`Error: invalid fail_over_mac "bogus"`}},
		{args: "updelay=200", bonds: 1,
			logs:   []string{"Warning: miimon module parameter not set and updelay (200) or downdelay (0) module parameter is set; updelay and downdelay have no effect unless miimon is set"},
			checks: map[string]string{"miimon": "0\n", "updelay": "0\n"}},
	}
	for _, c := range cases {
		cfg, logs, err := parseMod(t, c.args)
		if strings.Join(logs, "\n") != strings.Join(c.logs, "\n") {
			t.Errorf("%s: log\n%s\nwant\n%s", c.args, strings.Join(logs, "\n"), strings.Join(c.logs, "\n"))
		}
		if c.fail {
			var me *Error
			if !errors.As(err, &me) || bond.ErrnoOf(err) != syscall.EINVAL {
				t.Errorf("%s: err %v, want a Error (EINVAL)", c.args, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.args, err)
			continue
		}
		if cfg.MaxBonds != c.bonds {
			t.Errorf("%s: max_bonds %d, want %d", c.args, cfg.MaxBonds, c.bonds)
		}
		st := &bond.BondStatus{Name: "bond0", Params: cfg.Params}
		for opt, want := range c.checks {
			if got := bond.OptionByName(opt).Show(st, bond.Caller{NetAdmin: true}); got != want {
				t.Errorf("%s: %s = %q, want %q", c.args, opt, got, want)
			}
		}
	}
}

func TestModuleOptionsMore(t *testing.T) {
	cases := []struct {
		args string
		logs []string
		fail bool
		want func(Config) bool
	}{
		{args: "miimon=0x64 updelay=0310", want: func(c Config) bool {
			return c.Params.Miimon == 100 && c.Params.UpDelay == 2
		}, logs: []string{"MII link monitoring set to 100 ms"}},
		{args: "max-bonds=2", want: func(c Config) bool { return c.MaxBonds == 2 }},
		{args: "miimon=abc", fail: true, logs: []string{"bonding: `abc' invalid for parameter `miimon'"}},
		{args: "miimon", fail: true, logs: []string{"bonding: `' invalid for parameter `miimon'"}},
		{args: "miimon=2147483648", fail: true, logs: []string{"bonding: `2147483648' invalid for parameter `miimon'"}},
		{args: "lp_interval=-1", fail: true, logs: []string{"bonding: `-1' invalid for parameter `lp_interval'"}},
		{args: "lp_interval=0", logs: []string{"Warning: ip_interval must be between 1 and 2147483647, so it was reset to 1"},
			want: func(c Config) bool { return c.Params.LpInterval == 1 }},
		{args: "use_carrier=2", logs: []string{"Warning: use_carrier module parameter (2), not of valid value (0/1), so it was set to 1"}},
		{args: "tx_queues=0", logs: []string{"Warning: tx_queues (0) should be between 1 and 255, resetting to 16"},
			want: func(c Config) bool { return c.Params.TxQueues == 16 }},
		{args: "tx_queues=4", want: func(c Config) bool { return c.Params.TxQueues == 4 }},
		{args: "all_slaves_active=2", logs: []string{"Warning: all_slaves_active module parameter (2), not of valid value (0/1), so it was set to 0"}},
		{args: "resend_igmp=256", logs: []string{"Warning: resend_igmp (256) should be between 0 and 255, resetting to 1"}},
		{args: "num_grat_arp=300", logs: []string{"Warning: num_grat_arp/num_unsol_na (300) not in range 0-255 so it was reset to 1"}},
		{args: "packets_per_slave=65536", logs: []string{"Warning: packets_per_slave (65536) should be between 0 and 65535 resetting to 1"}},
		{args: "arp_validate=all", fail: true, logs: []string{"arp_validate requires arp_interval"}},
		{args: "arp_interval=100", logs: []string{"Warning: arp_interval module parameter (100) specified without providing an arp_ip_target parameter, arp_interval was reset to 0"}},
		{args: "arp_interval=100 arp_ip_target=10.0.0.1,10.0.0.1,0.0.0.0,10.0.0.2 arp_validate=bogus", fail: true,
			logs: []string{"Warning: duplicate address 10.0.0.1 in arp_ip_target, skipping",
				"Warning: bad arp_ip_target module parameter (0.0.0.0), ARP monitoring will not be performed",
				"arp_validate requires arp_interval"}},
		{args: "mode=1 arp_interval=100 arp_ip_target=10.0.0.1,10.0.0.1,10.0.0.2 arp_validate=bogus", fail: true,
			logs: []string{"Warning: duplicate address 10.0.0.1 in arp_ip_target, skipping",
				`Error: invalid arp_validate "bogus"`}},
		{args: "mode=1 arp_interval=100 arp_ip_target=10.0.0.1,10.0.0.1,10.0.0.2 arp_all_targets=x",
			logs: []string{"Warning: duplicate address 10.0.0.1 in arp_ip_target, skipping",
				`Error: invalid arp_all_targets_value "x"`,
				// the kernel prints the raw strings of the first slots
				"ARP monitoring set to 100 ms, validate none, with 2 target(s): 10.0.0.1 10.0.0.1"},
			want: func(c Config) bool { return len(c.Params.ARPTargets) == 2 }},
		{args: "mode=balance-xor xmit_hash_policy=bogus", fail: true, logs: []string{`Error: Invalid xmit_hash_policy "bogus"`}},
		{args: "mode=4 lacp_rate=2", fail: true, logs: []string{`Error: Invalid lacp rate "2"`}},
		{args: "ad_select=count", logs: []string{"ad_select param only affects 802.3ad mode"}},
		{args: "ad_select=x", fail: true, logs: []string{`Error: Invalid ad_select "x"`}},
		{args: "primary=eth0", logs: []string{"Warning: eth0 primary device specified but has no effect in load balancing (round-robin) mode"}},
		{args: "mode=1 primary=eth0 primary_reselect=bad", fail: true, logs: []string{`Error: Invalid primary_reselect "bad"`}},
		{args: "mode=1 primary=eth0 primary_reselect=2", want: func(c Config) bool {
			return c.Params.PrimaryReselect == 2 && c.Params.Primary == "eth0"
		}},
		{args: `"mode=1" primary="eth0"`, want: func(c Config) bool {
			return c.Params.Mode == 1 && c.Params.Primary == "eth0"
		}},
		{args: "arp_ip_target=1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17", fail: true,
			logs: []string{"arp_ip_target: can only take 16 arguments", "bonding: `1' invalid for parameter `arp_ip_target'"}},
		{args: "foo", logs: []string{"bonding: unknown parameter 'foo' ignored"}},
	}
	for _, c := range cases {
		cfg, logs, err := parseMod(t, c.args)
		if strings.Join(logs, "\n") != strings.Join(c.logs, "\n") {
			t.Errorf("%s: log\n%s\nwant\n%s", c.args, strings.Join(logs, "\n"), strings.Join(c.logs, "\n"))
		}
		if (err != nil) != c.fail {
			t.Errorf("%s: err %v, fail %v", c.args, err, c.fail)
		}
		if err == nil && c.want != nil && !c.want(cfg) {
			t.Errorf("%s: unexpected config %+v", c.args, cfg)
		}
	}
}

func TestModuleOptionHelp(t *testing.T) {
	h := Help()
	lines := strings.Split(strings.TrimSuffix(h, "\n"), "\n")
	if len(lines) != 24 {
		t.Fatalf("%d parm lines, want 24:\n%s", len(lines), h)
	}
	for _, want := range []string{
		"parm:           max_bonds:Max number of bonded devices (int)",
		"parm:           arp_ip_target:arp targets in n.n.n.n form (array of charp)",
		"parm:           lp_interval:The number of seconds between instances where the bonding driver sends learning packets to each slaves peer switch. The default is 1. (uint)",
		"parm:           mode:Mode of operation; 0 for balance-rr, 1 for active-backup, 2 for balance-xor, 3 for broadcast, 4 for 802.3ad, 5 for balance-tlb, 6 for balance-alb (charp)",
	} {
		if !strings.Contains(h, want+"\n") {
			t.Errorf("help lacks %q", want)
		}
	}
}

func TestNextArg(t *testing.T) {
	cases := []struct{ in, param, val, rest string }{
		{`a=b c`, "a", "b", "c"},
		{`a="b c" d`, "a", "b c", "d"},
		{`"a=b c" d`, "a", "b c", "d"},
		{`a`, "a", "\x00", ""},
		{`a="`, "a", "", ""},
	}
	for _, c := range cases {
		p, v, rest := nextArg(c.in)
		vs := "\x00"
		if v != nil {
			vs = *v
		}
		if p != c.param || vs != c.val || rest != c.rest {
			t.Errorf("nextArg(%q) = %q %q %q, want %q %q %q", c.in, p, vs, rest, c.param, c.val, c.rest)
		}
	}
}
