package bond

import (
	"syscall"
	"testing"
)

// The 38 files of the 6.1 kernel, in per_bond_attrs[] order.
var optWantOrder = []string{
	"slaves", "mode", "fail_over_mac", "arp_validate", "arp_all_targets",
	"arp_interval", "arp_ip_target", "downdelay", "updelay", "peer_notif_delay",
	"lacp_active", "lacp_rate", "ad_select", "xmit_hash_policy", "num_grat_arp",
	"num_unsol_na", "miimon", "primary", "primary_reselect", "use_carrier",
	"active_slave", "mii_status", "ad_aggregator", "ad_num_ports", "ad_actor_key",
	"ad_partner_key", "ad_partner_mac", "queue_id", "all_slaves_active",
	"resend_igmp", "min_links", "lp_interval", "packets_per_slave",
	"tlb_dynamic_lb", "ad_actor_sys_prio", "ad_actor_system", "ad_user_port_key",
	"arp_missed_max",
}

func TestOptionsTableShape(t *testing.T) {
	if len(Options) != len(optWantOrder) {
		t.Fatalf("%d options, want %d", len(Options), len(optWantOrder))
	}
	for i, o := range Options {
		if o.Name != optWantOrder[i] {
			t.Errorf("Options[%d] = %s, want %s", i, o.Name, optWantOrder[i])
		}
		if o.Show == nil {
			t.Errorf("%s: no Show", o.Name)
		}
		if (o.set == nil) != o.ReadOnly() {
			t.Errorf("%s: set/read-only mismatch", o.Name)
		}
		if OptionByName(o.Name) != o {
			t.Errorf("OptionByName(%s)", o.Name)
		}
	}
}

// Golden 02 step 3 (defaults read back in active-backup, as root).
func TestOptionsDefaultShow(t *testing.T) {
	e := newOptEnv(t)
	e.b.params.Mode = ModeActiveBackup
	e.b.params.Miimon = 100
	e.b.params.UpDelay = 2
	e.b.params.DownDelay = 3
	e.b.params.Primary = "eth1"
	want := map[string]string{
		"active_slave": "", "ad_actor_key": "", "ad_actor_sys_prio": "", "ad_actor_system": "",
		"ad_aggregator": "", "ad_num_ports": "", "ad_partner_key": "", "ad_partner_mac": "",
		"ad_select": "stable 0\n", "ad_user_port_key": "", "all_slaves_active": "0\n",
		"arp_all_targets": "any 0\n", "arp_interval": "0\n", "arp_ip_target": "",
		"arp_missed_max": "2\n", "arp_validate": "none 0\n", "downdelay": "300\n",
		"fail_over_mac": "none 0\n", "lacp_active": "on 1\n", "lacp_rate": "slow 0\n",
		"lp_interval": "1\n", "mii_status": "down\n", "miimon": "100\n", "min_links": "0\n",
		"mode": "active-backup 1\n", "num_grat_arp": "1\n", "num_unsol_na": "1\n",
		"packets_per_slave": "1\n", "peer_notif_delay": "0\n", "primary": "",
		"primary_reselect": "always 0\n", "queue_id": "", "resend_igmp": "1\n", "slaves": "",
		"tlb_dynamic_lb": "1\n", "updelay": "200\n", "use_carrier": "1\n",
		"xmit_hash_policy": "layer2 0\n",
	}
	for _, o := range Options {
		e.r(o.Name, want[o.Name])
	}
}

func TestOptionsModeQuick(t *testing.T) {
	e := newOptEnv(t)
	e.w("mode", "active-backup", 0)
	e.r("mode", "active-backup 1\n")
	e.w("mode", "5x", syscall.EINVAL, "bond0: option mode: invalid value (5x)")
	e.w("mode", "18446744073709551616", 0)
	e.r("mode", "balance-rr 0\n")
	e.w("peer_notif_delay", "300001", syscall.EINVAL,
		"bond0: option peer_notif_delay: invalid value (300001)",
		"bond0: option peer_notif_delay: allowed values 0 - 300000")
}
