package fusefs

import (
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"bondingfs/bond"
)

// The goldens under testdata/proc are /proc/net/bonding records copied from
// the kernel transcripts in ../shared/oracle/golden (the "| " prefixes
// stripped); the file comment of each case names its source. The transcripts
// normalise the driver version to v<VERSION>.

func mac(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

// veth returns an up slave like the oracle's veths: ethN has the MAC
// 02:00:00:00:00:0<N+1>, 10000 Mb/s full duplex.
func veth(n int, link bond.LinkState, failures int) bond.SlaveStatus {
	return bond.SlaveStatus{
		Name:             "eth" + string(rune('0'+n)),
		Link:             link,
		LinkFailureCount: failures,
		PermHWAddr:       mac("02:00:00:00:00:0" + string(rune('1'+n))),
		Speed:            10000,
		Duplex:           bond.DuplexFull,
	}
}

func params(f func(p *bond.Params)) bond.Params {
	p := bond.DefaultParams()
	f(&p)
	return p
}

var procCases = []struct {
	golden string
	st     bond.BondStatus
}{
	{ // 01-masters [1]
		golden: "rr-empty",
		st:     bond.BondStatus{Name: "bond0", Params: bond.DefaultParams()},
	},
	{ // 02-modparams [3]: primary=eth1 names no slave, so "None" and no reselect suffix
		golden: "ab-delays",
		st: bond.BondStatus{Name: "bond0", Params: params(func(p *bond.Params) {
			p.Mode, p.Miimon, p.UpDelay, p.DownDelay, p.Primary = bond.ModeActiveBackup, 100, 2, 3, "eth1"
		})},
	},
	{ // 02-modparams [7]
		golden: "ab-arp-targets",
		st: bond.BondStatus{Name: "bond0", Params: params(func(p *bond.Params) {
			p.Mode, p.ARPInterval = bond.ModeActiveBackup, 500
			p.ARPTargets = []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")}
			p.ARPValidate = bond.ARPValidateAll
		})},
	},
	{ // 07-opt-monitor [10]
		golden: "xor-arp",
		st: bond.BondStatus{Name: "bond0", Params: params(func(p *bond.Params) {
			p.Mode, p.ARPInterval, p.MissedMax = bond.ModeXOR, 100, 5
		})},
	},
	{ // 08-opt-arp-ip-target [8]
		golden: "ab-arp-slave",
		st: bond.BondStatus{Name: "bond0", Up: true, Carrier: true, ActiveSlave: "eth0",
			Params: params(func(p *bond.Params) { p.Mode, p.ARPInterval = bond.ModeActiveBackup, 10000 }),
			Slaves: []bond.SlaveStatus{veth(0, bond.LinkUp, 0)},
		},
	},
	{ // 09-slaves [9]: a bond enslaved to a bond reports no speed/duplex
		golden: "rr-bond-slave",
		st: bond.BondStatus{Name: "bond0", Up: true, Carrier: true, Params: bond.DefaultParams(),
			Slaves: []bond.SlaveStatus{veth(1, bond.LinkUp, 0), veth(2, bond.LinkUp, 0), {
				Name: "bond1", Link: bond.LinkUp, PermHWAddr: mac("02:00:00:00:b1:00"),
				Speed: bond.SpeedUnknown, Duplex: bond.DuplexUnknown,
			}},
		},
	},
	{ // 11-failover-ab [2]
		golden: "ab-failover",
		st: bond.BondStatus{Name: "bond0", Up: true, Carrier: true, ActiveSlave: "eth1",
			Params: params(func(p *bond.Params) { p.Mode, p.Miimon = bond.ModeActiveBackup, 100 }),
			Slaves: []bond.SlaveStatus{veth(0, bond.LinkDown, 1), veth(1, bond.LinkUp, 0)},
		},
	},
	{ // 11-failover-ab [7]
		golden: "ab-going-down",
		st: bond.BondStatus{Name: "bond0", Up: true, Carrier: true, ActiveSlave: "eth1",
			Params: params(func(p *bond.Params) {
				p.Mode, p.Miimon, p.UpDelay, p.DownDelay = bond.ModeActiveBackup, 100, 10, 10
			}),
			Slaves: []bond.SlaveStatus{veth(0, bond.LinkUp, 2), veth(1, bond.LinkFail, 2)},
		},
	},
	{ // 12-failover-rr [3]
		golden: "rr-carrier-down",
		st: bond.BondStatus{Name: "bond0", Up: true,
			Params: params(func(p *bond.Params) { p.Miimon = 100 }),
			Slaves: []bond.SlaveStatus{veth(0, bond.LinkDown, 1), veth(1, bond.LinkDown, 1)},
		},
	},
	{ // 14-8023ad [1]
		golden: "8023ad-empty",
		st: bond.BondStatus{Name: "bond0", AD: &bond.ADStatus{},
			Params: params(func(p *bond.Params) { p.Mode, p.Miimon = bond.Mode8023AD, 100 }),
		},
	},
	{ // 14-8023ad [3]: ports without aggregator
		golden: "8023ad-no-agg",
		st: bond.BondStatus{Name: "bond0",
			AD:     &bond.ADStatus{SystemPriority: 65535, SystemMAC: mac("02:00:00:00:00:01")},
			Params: params(func(p *bond.Params) { p.Mode, p.Miimon = bond.Mode8023AD, 100 }),
			Slaves: []bond.SlaveStatus{veth(0, bond.LinkUp, 0), veth(1, bond.LinkUp, 0)},
		},
	},
	{ // 14-8023ad [4]: active aggregator, ports with LACPDU details
		golden: "8023ad-agg",
		st: bond.BondStatus{Name: "bond0", Up: true, Carrier: true,
			AD: &bond.ADStatus{SystemPriority: 65535, SystemMAC: mac("02:00:00:00:00:01"),
				ActiveAggregator: &bond.ADAggregator{ID: 1, NumPorts: 1, ActorKey: 15, PartnerKey: 1}},
			Params: params(func(p *bond.Params) { p.Mode, p.Miimon = bond.Mode8023AD, 100 }),
			Slaves: []bond.SlaveStatus{adPort(veth(0, bond.LinkUp, 0), 1, 1, 77), adPort(veth(1, bond.LinkUp, 0), 2, 2, 69)},
		},
	},
}

// normVersion replaces the driver version as the oracle transcripts do.
func normVersion(s string) string {
	return strings.Replace(s, "Ethernet Channel Bonding Driver: v"+DriverVersion+"\n",
		"Ethernet Channel Bonding Driver: v<VERSION>\n", 1)
}

// adPort gives s an aggregator and the port details of a port without a
// partner (14-8023ad step 4: churn monitoring, partner defaulted).
func adPort(s bond.SlaveStatus, agg, portNumber, actorState int) bond.SlaveStatus {
	s.AD = &bond.ADSlaveStatus{
		AggregatorID: agg, ActorOperState: actorState,
		ActorChurnState: "monitoring", PartnerChurnState: "monitoring",
		Actor: bond.ADPortInfo{SystemPriority: 65535, System: mac("02:00:00:00:00:01"), Key: 15,
			PortPriority: 255, PortNumber: portNumber, PortState: actorState},
		Partner: bond.ADPortInfo{SystemPriority: 65535, Key: 1, PortPriority: 255, PortNumber: 1},
	}
	return s
}

func TestRenderProcGolden(t *testing.T) {
	for _, tc := range procCases {
		t.Run(tc.golden, func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join("..", "testdata", "proc", tc.golden+".golden"))
			if err != nil {
				t.Fatal(err)
			}
			got := normVersion(renderProc(&tc.st))
			if got != string(want) {
				t.Errorf("renderProc mismatch\n--- got\n%s--- want\n%s", got, want)
			}
		})
	}
}

func TestRenderProcVersionLine(t *testing.T) {
	got := renderProc(&bond.BondStatus{Name: "bond0", Params: bond.DefaultParams()})
	if !strings.HasPrefix(got, "Ethernet Channel Bonding Driver: v6.1.0-56-amd64\n\nBonding Mode: ") {
		t.Errorf("header: %q", got[:60])
	}
}

// Lines no transcript covers yet, in the layout of bond_procfs.c.
func TestRenderProcLines(t *testing.T) {
	ab := bond.BondStatus{Name: "bond0", PrimarySlave: "eth1", ActiveSlave: "eth0",
		Params: params(func(p *bond.Params) {
			p.Mode, p.Primary, p.PrimaryReselect, p.FailOverMAC = bond.ModeActiveBackup, "eth1", bond.ReselectBetter, bond.FOMActive
		})}
	tlb := bond.BondStatus{Name: "bond0", Params: params(func(p *bond.Params) { p.Mode, p.TLBDynamicLB = bond.ModeTLB, 0 })}
	alb := bond.BondStatus{Name: "bond0", Params: params(func(p *bond.Params) { p.Mode = bond.ModeALB })}
	half := bond.BondStatus{Name: "bond0", Params: bond.DefaultParams(),
		Slaves: []bond.SlaveStatus{{Name: "eth0", Speed: 100, Duplex: bond.DuplexHalf, QueueID: 3}}}

	for _, tc := range []struct {
		name      string
		st        *bond.BondStatus
		has, hasn []string
	}{
		{name: "primary", st: &ab, has: []string{
			"Bonding Mode: fault-tolerance (active-backup) (fail_over_mac active)\n",
			"Primary Slave: eth1 (primary_reselect better)\nCurrently Active Slave: eth0\nMII Status: down\n",
		}},
		{name: "tlb-static", st: &tlb, has: []string{
			"Bonding Mode: transmit load balancing\nTransmit Hash Policy: layer2 (0)\nPrimary Slave: None\nCurrently Active Slave: None\n",
		}},
		{name: "alb-dynamic", st: &alb, has: []string{
			"Bonding Mode: adaptive load balancing\nPrimary Slave: None\n",
		}, hasn: []string{"Transmit Hash Policy"}},
		{name: "half", st: &half, has: []string{
			"\nSlave Interface: eth0\nMII Status: up\nSpeed: 100 Mbps\nDuplex: half\nLink Failure Count: 0\nPermanent HW addr: 00:00:00:00:00:00\nSlave queue ID: 3\n",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := renderProc(tc.st)
			for _, s := range tc.has {
				if !strings.Contains(got, s) {
					t.Errorf("missing %q in\n%s", s, got)
				}
			}
			for _, s := range tc.hasn {
				if strings.Contains(got, s) {
					t.Errorf("unexpected %q in\n%s", s, got)
				}
			}
		})
	}
}

// Without CAP_NET_ADMIN the 802.3ad system and aggregator lines are left out.
func TestRenderProcUnprivileged(t *testing.T) {
	st := bond.BondStatus{Name: "bond0", AD: &bond.ADStatus{SystemPriority: 65535},
		Params: params(func(p *bond.Params) { p.Mode, p.Miimon = bond.Mode8023AD, 100 }),
		Slaves: []bond.SlaveStatus{veth(0, bond.LinkUp, 0)},
	}
	got := RenderProcAs(&st, bond.Caller{})
	for _, s := range []string{"System priority", "System MAC address", "has no active aggregator"} {
		if strings.Contains(got, s) {
			t.Errorf("unprivileged read shows %q:\n%s", s, got)
		}
	}
	if !strings.Contains(got, "Aggregator selection policy (ad_select): ") || !strings.HasSuffix(got, "Slave queue ID: 0\nAggregator ID: N/A\n") {
		t.Errorf("unprivileged read:\n%s", got)
	}
}

func TestRenderMasters(t *testing.T) {
	snap := func(names ...string) *bond.Snapshot {
		s := &bond.Snapshot{}
		for _, n := range names {
			s.Bonds = append(s.Bonds, &bond.BondStatus{Name: n})
		}
		return s
	}
	if got := RenderMasters(snap()); got != "" {
		t.Errorf("no bonds: %q", got)
	}
	if got := RenderMasters(snap("bond0", "+bond2", "bond1")); got != "bond0 +bond2 bond1\n" {
		t.Errorf("got %q", got)
	}
	var many []string
	for i := 0; i < 400; i++ {
		many = append(many, "abcdefghij")
	}
	got := RenderMasters(snap(many...))
	if len(got) >= bond.PageSize || !strings.HasSuffix(got, "++more++\n") {
		t.Errorf("overflow: len %d, tail %q", len(got), got[len(got)-20:])
	}
}

func TestRenderSlaveAttr(t *testing.T) {
	s := veth(0, bond.LinkBack, 3)
	s.QueueID = 2
	want := map[string]string{
		"state":                      "backup\n",
		"mii_status":                 "going back\n",
		"link_failure_count":         "3\n",
		"perm_hwaddr":                "02:00:00:00:00:01\n",
		"queue_id":                   "2\n",
		"ad_aggregator_id":           "N/A\n",
		"ad_actor_oper_port_state":   "N/A\n",
		"ad_partner_oper_port_state": "N/A\n",
	}
	for _, a := range slaveAttrs {
		got, ok := RenderSlaveAttr(&s, a)
		if !ok || got != want[a] {
			t.Errorf("%s = %q, %v; want %q", a, got, ok, want[a])
		}
	}
	s.Active = true
	s.AD = &bond.ADSlaveStatus{AggregatorID: 1, ActorOperState: 77, PartnerOperState: 0}
	for a, w := range map[string]string{"state": "active\n", "ad_aggregator_id": "1\n",
		"ad_actor_oper_port_state": "77\n", "ad_partner_oper_port_state": "0\n"} {
		if got, _ := RenderSlaveAttr(&s, a); got != w {
			t.Errorf("%s = %q, want %q", a, got, w)
		}
	}
	if _, ok := RenderSlaveAttr(&s, "nope"); ok {
		t.Error("unknown attribute accepted")
	}
}

// renderProc returns the text of /proc/net/bonding/<b.Name> as a caller
// with CAP_NET_ADMIN reads it.
func renderProc(b *bond.BondStatus) string {
	return RenderProcAs(b, bond.Caller{NetAdmin: true})
}
