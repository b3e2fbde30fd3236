package integration

// `bondingfs serve --config PATH`: legacy configuration (here RHEL initscripts
// ifcfg files with BONDING_OPTS and MASTER=/SLAVE= slaves) creates and
// configures the bonds at start, through the same paths as sysfs writes.

import (
	"path/filepath"
	"testing"

	"bondingfs/internal/nettest"
)

func TestServeConfig(t *testing.T) {
	nettest.SkipUnlessRoot(t)
	needTools(t, "ip", "ping")
	cfg, err := filepath.Abs("../testdata/compat/rhel-bonding-opts/etc/sysconfig/network-scripts")
	if err != nil {
		t.Fatal(err)
	}
	tp := newTopo(t, 2, "--config", cfg)
	want := map[string]string{
		"mode":          "active-backup 1",
		"miimon":        "100",
		"updelay":       "200",
		"downdelay":     "200",
		"fail_over_mac": "active 1",
		"num_grat_arp":  "3",
		"slaves":        "eth0 eth1",
		"primary":       "eth0",
		// with updelay the slaves are "going back" until the bond is up and
		// the MII monitor runs, so no active slave yet (as in the kernel)
		"active_slave": "",
	}
	for f, v := range want {
		if got := readTrim(t, filepath.Join(tp.d.sys, "bond0/bonding", f)); got != v {
			t.Errorf("bonding/%s = %q, want %q (from ifcfg-bond0 BONDING_OPTS and the slaves' MASTER=)", f, got, v)
		}
	}
	tp.up(t)
	if got := readTrim(t, filepath.Join(tp.d.sys, "bond0/bonding/active_slave")); got != "eth0" {
		t.Errorf("active_slave = %q once the bond is up, want the primary eth0", got)
	}
}
