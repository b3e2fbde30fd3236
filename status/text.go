package status

import (
	"fmt"
	"io"
	"strings"
)

// WriteText writes the human summary of r to w: one block per bond with its
// mode, carrier, monitor settings and active slave, then one line per slave
// (state, link, speed, link failures, receive counters) and, in 802.3ad, the aggregator and
// each port's partner. The layout follows `ovs-appctl bond/show`; it is for
// people and may change, unlike the JSON document.
func WriteText(w io.Writer, r Report) error {
	var b strings.Builder
	for i, bd := range r.Bonds {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "---- %s ----\n", bd.Name)
		fmt.Fprintf(&b, "mode: %s\n", bd.Mode)
		fmt.Fprintf(&b, "device: %s, carrier %s, mtu %d, mac %s\n", upDown(bd.Up), upDown(bd.Carrier), bd.MTU, orNone(bd.MAC))
		if m := bd.Options["miimon"]; m != "" && m != "0" {
			fmt.Fprintf(&b, "miimon: %s ms, updelay %s ms, downdelay %s ms\n", m, bd.Options["updelay"], bd.Options["downdelay"])
		}
		if a := bd.Options["arp_interval"]; a != "" && a != "0" {
			fmt.Fprintf(&b, "arp_interval: %s ms, targets %s, arp_validate %s\n", a, orNone(bd.Options["arp_ip_target"]), word(bd.Options["arp_validate"]))
		}
		if p := bd.Options["xmit_hash_policy"]; p != "" && usesHash(bd.ModeID) {
			fmt.Fprintf(&b, "xmit_hash_policy: %s\n", word(p))
		}
		fmt.Fprintf(&b, "active slave: %s (%d failovers)\n", orNone(bd.ActiveSlave), bd.Failovers)
		if bd.DataPath != "" {
			fmt.Fprintf(&b, "data path: %s\n", bd.DataPath)
		}
		if bd.Options["primary"] != "" {
			fmt.Fprintf(&b, "primary: %s (primary_reselect %s)\n", bd.Options["primary"], word(bd.Options["primary_reselect"]))
		}
		if ad := bd.AD; ad != nil {
			fmt.Fprintf(&b, "lacp: rate %s, ad_select %s, system %d/%s\n", word(bd.Options["lacp_rate"]), word(bd.Options["ad_select"]), ad.SystemPriority, orNone(ad.SystemMAC))
			if a := ad.ActiveAggregator; a != nil {
				fmt.Fprintf(&b, "active aggregator: %d, %d ports, actor key %d, partner key %d, partner %s\n",
					a.ID, a.NumPorts, a.ActorKey, a.PartnerKey, orNone(a.PartnerMAC))
			} else {
				b.WriteString("active aggregator: none\n")
			}
		}
		if len(bd.Slaves) == 0 {
			b.WriteString("no slaves\n")
		}
		for _, s := range bd.Slaves {
			speed := "unknown speed"
			if s.SpeedMbps >= 0 {
				speed = fmt.Sprintf("%d Mb/s", s.SpeedMbps)
			}
			fmt.Fprintf(&b, "\nslave %s: %s\n", s.Name, s.State)
			fmt.Fprintf(&b, "  link %s, %s, %s duplex, %d link failures, perm_hwaddr %s\n",
				s.MIIStatus, speed, s.Duplex, s.LinkFailureCount, orNone(s.PermHWAddr))
			fmt.Fprintf(&b, "  rx %d frames, %d bytes delivered, %d dropped (inactive), %d to the probe\n",
				s.RxFrames, s.RxBytes, s.RxDropped, s.RxProbed)
			if a := s.AD; a != nil {
				fmt.Fprintf(&b, "  aggregator %d, actor state 0x%02x, partner %s state 0x%02x, churn %s/%s\n",
					a.AggregatorID, a.Actor.PortState, orNone(a.Partner.System), a.Partner.PortState,
					a.ActorChurnState, a.PartnerChurnState)
			}
		}
	}
	if j := r.Journal; j != nil && !j.OK {
		if len(r.Bonds) > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "crash journal %s failing: %s (writes to the mount are refused)\n", j.Dir, j.Error)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// word is the name part of an enum file's text ("fast 1" → "fast").
func word(s string) string {
	if i := strings.IndexByte(s, ' '); i >= 0 {
		return s[:i]
	}
	return s
}

func upDown(v bool) string {
	if v {
		return "up"
	}
	return "down"
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// usesHash reports whether xmit_hash_policy applies to mode id (balance-xor,
// 802.3ad, balance-tlb: bond_mode_uses_xmit_hash).
func usesHash(mode int) bool { return mode == 2 || mode == 4 || mode == 5 }
