package rtnl

import (
	"bufio"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"bondingfs/bond"
	"bondingfs/rtnl/nltext"
)

// goldenShow is the kernel transcript recorded by testdata/rtnl/record.sh
// from Linux 6.1 (Debian 6.1.192): for every mode, the link messages of
// bond0 and its ports eth0, eth1 as rtnl/nltext prints them.
const goldenShow = "../testdata/rtnl/golden/50-rtnl-show.txt"

// kernelLink is one link of the golden: its ifinfomsg line and attribute
// lines, as printed.
type kernelLink struct {
	index int32
	flags uint32
	lines []string
}

// readGolden returns, per mode, the links of the "$ nldump bond0 eth0 eth1"
// record of the step "MODE: the bond and its ports through netlink".
func readGolden(t *testing.T) map[string]map[string]*kernelLink {
	t.Helper()
	f, err := os.Open(goldenShow)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]map[string]*kernelLink{}
	var mode string
	var cur *kernelLink
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "== ["):
			in = false
			mode = ""
			if i := strings.Index(l, "] "); i > 0 && strings.HasSuffix(l, ": the bond and its ports through netlink") {
				mode = strings.TrimSuffix(l[i+2:], ": the bond and its ports through netlink")
			}
		case mode != "" && l == "$ nldump bond0 eth0 eth1":
			in = true
			out[mode] = map[string]*kernelLink{}
		case in && strings.HasPrefix(l, "| link "):
			cur = &kernelLink{}
			out[mode][strings.TrimPrefix(l, "| link ")] = cur
		case in && strings.HasPrefix(l, "| msg "):
			for _, kv := range strings.Fields(l[2:]) {
				k, v, _ := strings.Cut(kv, "=")
				n, _ := strconv.ParseInt(v, 0, 64)
				switch k {
				case "ifi_index":
					cur.index = int32(n)
				case "ifi_flags":
					cur.flags = uint32(n)
				}
			}
		case in && strings.HasPrefix(l, "| "):
			cur.lines = append(cur.lines, l[2:])
		default:
			in = false
		}
	}
	if len(out) != 7 {
		t.Fatalf("golden has %d modes, want 7", len(out))
	}
	return out
}

// linkInfoLines are the lines of the IFLA_LINKINFO tree.
func linkInfoLines(lines []string) []string {
	var li []string
	in := false
	for _, l := range lines {
		switch {
		case strings.HasSuffix(l, " LINKINFO"):
			in = true
		case in && strings.HasPrefix(l, "  "):
			li = append(li, l)
		case in:
			return li
		}
	}
	return li
}

// attrValue is the printed value of a top-level attribute, "" when absent.
func attrValue(lines []string, name string) string {
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) == 3 && f[1] == name && !strings.HasPrefix(l, "  ") {
			return f[2]
		}
	}
	return ""
}

// goldenSnapshot is the engine state of the scenario's step for mode m:
// the options 50-rtnl-show.sh sets, and the slave and 802.3ad state the
// kernel reported there.
func goldenSnapshot(m string, g map[string]*kernelLink) *bond.Snapshot {
	p := bond.DefaultParams()
	var mode bond.ModeID
	for mode = 0; mode.String() != m && mode < 7; mode++ {
	}
	p.Mode = mode
	p.Miimon = 100
	b := &bond.BondStatus{Name: "bond0", Index: int(g["bond0"].index), Up: true, Carrier: true,
		HWAddr: net.HardwareAddr{2, 0, 0, 0, 0, 1}, MTU: 1500}
	s := []bond.SlaveStatus{
		{Name: "eth0", Index: int(g["eth0"].index), Active: true, PermHWAddr: net.HardwareAddr{2, 0, 0, 0, 0, 1}},
		{Name: "eth1", Index: int(g["eth1"].index), Active: true, PermHWAddr: net.HardwareAddr{2, 0, 0, 0, 0, 2}},
	}
	switch mode {
	case bond.ModeActiveBackup:
		p.UpDelay = 2
		p.Primary = "eth0"
		p.ARPTargets = []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.9")}
		b.PrimarySlave = "eth0"
		s[1].Active = false
	case bond.ModeXOR:
		p.XmitPolicy = bond.XmitLayer23
		p.MinLinks = 1
	case bond.Mode8023AD:
		p.LACPRate = bond.LACPRateFast
		p.XmitPolicy = bond.XmitLayer34
		p.ADActorSysPrio = 100
		p.ADUserPortKey = 5
		// Ports without a partner: each in an aggregator of its own, the
		// first one active (the kernel's state after 5 s).
		b.AD = &bond.ADStatus{ActiveAggregator: &bond.ADAggregator{ID: 1, NumPorts: 1, ActorKey: 0x14f,
			PartnerKey: 1, PartnerMAC: net.HardwareAddr{0, 0, 0, 0, 0, 0}}}
		s[0].AD = &bond.ADSlaveStatus{AggregatorID: 1, ActorOperState: 0x4f, ActorChurnState: "monitoring",
			PartnerChurnState: "monitoring", Actor: bond.ADPortInfo{PortPriority: 255}}
		s[1].AD = &bond.ADSlaveStatus{AggregatorID: 2, ActorOperState: 0x47, ActorChurnState: "monitoring",
			PartnerChurnState: "monitoring", Actor: bond.ADPortInfo{PortPriority: 255}}
		s[1].Active = false
	}
	if mode.UsesPrimary() {
		b.ActiveSlave = "eth0"
	}
	b.Params = p
	b.Slaves = s
	return &bond.Snapshot{Bonds: []*bond.BondStatus{b}}
}

// TestRewriteMatchesKernel rewrites a TAP and two veths as the engine's
// snapshot of each mode says, and compares with what 6.1 sent for the same
// bond: IFLA_LINKINFO byte for byte (order, types, sizes, values, no
// NLA_F_NESTED), the flags, IFLA_MASTER and its place, operstate, carrier,
// queues and max MTU.
func TestRewriteMatchesKernel(t *testing.T) {
	golden := readGolden(t)
	for m, g := range golden {
		t.Run(m, func(t *testing.T) {
			snap := goldenSnapshot(m, g)
			up := uint32(unix.IFF_UP | unix.IFF_BROADCAST | unix.IFF_MULTICAST)
			var in []byte
			in = append(in, tapMsg(g["bond0"].index, "bond0", up, 1)...)
			in = append(in, vethMsg(g["eth0"].index, "eth0", up|unix.IFF_RUNNING|unix.IFF_LOWER_UP, 1)...)
			in = append(in, vethMsg(g["eth1"].index, "eth1", up|unix.IFF_RUNNING|unix.IFF_LOWER_UP, 1)...)
			out := Rewrite(in, snap, Filter{})
			got := map[string]*kernelLink{}
			names := []string{"bond0", "eth0", "eth1"}
			walk(out, func(msg []byte, ok bool) {
				l, _ := parseLink(msg)
				text := strings.Split(strings.TrimSuffix(nltext.Link(msg, nltext.Normalise), "\n"), "\n")
				got[names[len(got)]] = &kernelLink{index: l.index(), flags: l.flags(), lines: text[1:]}
			})
			for _, dev := range names {
				k, r := g[dev], got[dev]
				if k == nil || r == nil {
					t.Fatalf("%s missing (kernel %v, ours %v)", dev, k != nil, r != nil)
				}
				if r.flags != k.flags {
					t.Errorf("%s: ifi_flags %#x, kernel %#x", dev, r.flags, k.flags)
				}
				kl, rl := linkInfoLines(k.lines), linkInfoLines(r.lines)
				if strings.Join(kl, "\n") != strings.Join(rl, "\n") {
					t.Errorf("%s: IFLA_LINKINFO differs\nkernel:\n%s\nours:\n%s", dev, strings.Join(kl, "\n"), strings.Join(rl, "\n"))
				}
				for _, a := range []string{"MASTER", "OPERSTATE", "CARRIER", "NUM_TX_QUEUES", "NUM_RX_QUEUES", "MAX_MTU"} {
					if dev != "bond0" && (a == "NUM_TX_QUEUES" || a == "NUM_RX_QUEUES") {
						continue // the veths' own
					}
					if kv, rv := attrValue(k.lines, a), attrValue(r.lines, a); kv != rv {
						t.Errorf("%s: %s %q, kernel %q", dev, a, rv, kv)
					}
				}
				// IFLA_MASTER right before IFLA_CARRIER (put_master_ifindex)
				for _, l := range [][]string{k.lines, r.lines} {
					for i, line := range l {
						if strings.Contains(line, " MASTER ") && (i+1 >= len(l) || !strings.Contains(l[i+1], " CARRIER ")) {
							t.Errorf("%s: IFLA_MASTER not before IFLA_CARRIER: %q", dev, l)
						}
					}
				}
			}
		})
	}
}
