package fusefs

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"bondingfs/bond"
)

// DriverVersion is the version /proc/net/bonding/<bond> reports in its first
// line ("Ethernet Channel Bonding Driver: v" + DriverVersion): the kernel
// prints its UTS release there, and this is the release of the Debian 6.1
// kernel the oracle goldens were recorded on (oracle/golden/KERNEL_VERSION).
const DriverVersion = "6.1.0-56-amd64"

// valueName returns bond.ValueName(opt, v) — the option table is the one
// source of enum names — or the decimal number when the table has none.
func valueName(opt string, v int) string {
	if n := bond.ValueName(opt, v); n != "" {
		return n
	}
	return strconv.Itoa(v)
}

// usesXmitHash reports whether the proc file shows the Transmit Hash Policy
// line: balance-xor, 802.3ad, and balance-tlb/alb with tlb_dynamic_lb off.
func usesXmitHash(p *bond.Params) bool {
	switch p.Mode {
	case bond.ModeXOR, bond.Mode8023AD:
		return true
	case bond.ModeTLB, bond.ModeALB:
		return p.TLBDynamicLB == 0
	}
	return false
}

// hwAddrString formats a slave's permanent address as the kernel's %*phC
// over the device's addr_len does: every byte, where bond.FormatMAC (%pM)
// takes six; an empty address prints as %pM does, all zeros.
func hwAddrString(a net.HardwareAddr) string {
	if len(a) == 0 {
		return bond.FormatMAC(a)
	}
	return a.String()
}

// RenderProcAs returns the text of /proc/net/bonding/<b.Name> as caller c
// reads it: without NetAdmin the 802.3ad system/aggregator lines and the
// per-port LACPDU details are left out, as in the kernel.
func RenderProcAs(b *bond.BondStatus, c bond.Caller) string {
	var sb strings.Builder
	p := &b.Params
	w := func(format string, args ...any) { fmt.Fprintf(&sb, format, args...) }

	w("Ethernet Channel Bonding Driver: v%s\n\n", DriverVersion)

	w("Bonding Mode: %s", bond.ModeDescription(p.Mode))
	if p.Mode == bond.ModeActiveBackup && p.FailOverMAC != bond.FOMNone {
		w(" (fail_over_mac %s)", valueName("fail_over_mac", int(p.FailOverMAC)))
	}
	sb.WriteByte('\n')

	if usesXmitHash(p) {
		w("Transmit Hash Policy: %s (%d)\n", valueName("xmit_hash_policy", int(p.XmitPolicy)), p.XmitPolicy)
	}

	if p.Mode.UsesPrimary() {
		w("Primary Slave: %s", orNone(b.PrimarySlave))
		if b.PrimarySlave != "" {
			w(" (primary_reselect %s)", valueName("primary_reselect", int(p.PrimaryReselect)))
		}
		w("\nCurrently Active Slave: %s\n", orNone(b.ActiveSlave))
	}

	w("MII Status: %s\n", upDown(b.Carrier))
	w("MII Polling Interval (ms): %d\n", p.Miimon)
	w("Up Delay (ms): %d\n", p.UpDelay*p.Miimon)
	w("Down Delay (ms): %d\n", p.DownDelay*p.Miimon)
	w("Peer Notification Delay (ms): %d\n", p.PeerNotifDelay*p.Miimon)

	if p.ARPInterval > 0 {
		w("ARP Polling Interval (ms): %d\n", p.ARPInterval)
		w("ARP Missed Max: %d\n", p.MissedMax)
		sb.WriteString("ARP IP target/s (n.n.n.n form):")
		for i, t := range p.ARPTargets {
			if i > 0 {
				sb.WriteByte(',')
			}
			w(" %s", t)
		}
		sb.WriteByte('\n')
		sb.WriteString("NS IPv6 target/s (xx::xx form):")
		for i, t := range p.NSTargets {
			if i > 0 {
				sb.WriteByte(',')
			}
			w(" %s", bond.FormatIP6C(t)) // %pI6c
		}
		sb.WriteByte('\n')
	}

	if p.Mode == bond.Mode8023AD {
		sb.WriteString("\n802.3ad info\n")
		w("LACP active: %s\n", onOff(p.LACPActive != 0))
		if p.LACPRate != bond.LACPRateSlow {
			sb.WriteString("LACP rate: fast\n")
		} else {
			sb.WriteString("LACP rate: slow\n")
		}
		w("Min links: %d\n", p.MinLinks)
		w("Aggregator selection policy (ad_select): %s\n", valueName("ad_select", int(p.ADSelect)))
		if c.NetAdmin {
			ad := b.AD
			if ad == nil {
				ad = &bond.ADStatus{}
			}
			w("System priority: %d\n", ad.SystemPriority)
			w("System MAC address: %s\n", bond.FormatMAC(ad.SystemMAC))
			if agg := ad.ActiveAggregator; agg == nil {
				w("bond %s has no active aggregator\n", b.Name)
			} else {
				sb.WriteString("Active Aggregator Info:\n")
				w("\tAggregator ID: %d\n", agg.ID)
				w("\tNumber of ports: %d\n", agg.NumPorts)
				w("\tActor Key: %d\n", agg.ActorKey)
				w("\tPartner Key: %d\n", agg.PartnerKey)
				w("\tPartner Mac Address: %s\n", bond.FormatMAC(agg.PartnerMAC))
			}
		}
	}

	for i := range b.Slaves {
		renderProcSlave(&sb, b, &b.Slaves[i], c)
	}
	return sb.String()
}

// renderProcSlave appends one slave's block (preceded by an empty line).
func renderProcSlave(sb *strings.Builder, b *bond.BondStatus, s *bond.SlaveStatus, c bond.Caller) {
	w := func(format string, args ...any) { fmt.Fprintf(sb, format, args...) }
	w("\nSlave Interface: %s\n", s.Name)
	w("MII Status: %s\n", s.Link.String())
	if s.Speed == bond.SpeedUnknown {
		sb.WriteString("Speed: Unknown\n")
	} else {
		w("Speed: %d Mbps\n", s.Speed)
	}
	switch s.Duplex {
	case bond.DuplexUnknown:
		sb.WriteString("Duplex: Unknown\n")
	case bond.DuplexHalf:
		sb.WriteString("Duplex: half\n")
	default:
		sb.WriteString("Duplex: full\n")
	}
	w("Link Failure Count: %d\n", s.LinkFailureCount)
	w("Permanent HW addr: %s\n", hwAddrString(s.PermHWAddr))
	w("Slave queue ID: %d\n", s.QueueID)

	if b.Params.Mode != bond.Mode8023AD {
		return
	}
	ad := s.AD
	if ad == nil {
		sb.WriteString("Aggregator ID: N/A\n")
		return
	}
	w("Aggregator ID: %d\n", ad.AggregatorID)
	renderProcPort(sb, ad, c)
}

func orNone(name string) string {
	if name == "" {
		return "None"
	}
	return name
}

func upDown(up bool) string {
	if up {
		return "up"
	}
	return "down"
}

func onOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}

// renderProcPort appends the churn lines of a port that has an aggregator,
// and for CAP_NET_ADMIN callers its actor and partner LACPDU details
// (bond_procfs.c bond_info_show_slave).
func renderProcPort(sb *strings.Builder, ad *bond.ADSlaveStatus, c bond.Caller) {
	w := func(format string, args ...any) { fmt.Fprintf(sb, format, args...) }
	w("Actor Churn State: %s\n", ad.ActorChurnState)
	w("Partner Churn State: %s\n", ad.PartnerChurnState)
	w("Actor Churned Count: %d\n", ad.ActorChurnCount)
	w("Partner Churned Count: %d\n", ad.PartnerChurnCount)
	if !c.NetAdmin {
		return
	}
	sb.WriteString("details actor lacp pdu:\n")
	w("    system priority: %d\n", ad.Actor.SystemPriority)
	w("    system mac address: %s\n", bond.FormatMAC(ad.Actor.System))
	w("    port key: %d\n", ad.Actor.Key)
	w("    port priority: %d\n", ad.Actor.PortPriority)
	w("    port number: %d\n", ad.Actor.PortNumber)
	w("    port state: %d\n", ad.Actor.PortState)
	sb.WriteString("details partner lacp pdu:\n")
	w("    system priority: %d\n", ad.Partner.SystemPriority)
	w("    system mac address: %s\n", bond.FormatMAC(ad.Partner.System))
	w("    oper key: %d\n", ad.Partner.Key)
	w("    port priority: %d\n", ad.Partner.PortPriority)
	w("    port number: %d\n", ad.Partner.PortNumber)
	w("    port state: %d\n", ad.Partner.PortState)
}
