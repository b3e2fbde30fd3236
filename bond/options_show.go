package bond

import (
	"net"
	"strconv"
	"strings"
)

// Show functions: the exact text of each bonding/<option> file
// (bond_sysfs.c bonding_show_*). Integers print through the C types the
// kernel uses (int for "%d", unsigned for "%u", u16 for "%hu").

// PageSize is PAGE_SIZE, the size of a sysfs read buffer (bytes): the
// longest text one read or write of a sysfs attribute handles, and the
// st_size fusefs reports for each.
const PageSize = 4096

func optFmtInt(v int) string     { return strconv.FormatInt(int64(int32(v)), 10) }
func optFmtUint(v uint64) string { return strconv.FormatUint(v, 10) }

// FormatMAC is the kernel's %pM: six lowercase hex pairs joined by ':'. A
// shorter address is padded with zeros (nil prints 00:00:00:00:00:00), a
// longer one cut to six bytes.
func FormatMAC(m net.HardwareAddr) string {
	if len(m) != 6 {
		m = append(append(net.HardwareAddr{}, m...), make(net.HardwareAddr, 6)...)[:6]
	}
	return m.String()
}

func showInt(get func(*Params) int) func(*BondStatus, Caller) string {
	return func(s *BondStatus, _ Caller) string { return optFmtInt(get(&s.Params)) + "\n" }
}

func showUint(get func(*Params) int) func(*BondStatus, Caller) string {
	return func(s *BondStatus, _ Caller) string {
		return optFmtUint(uint64(uint32(get(&s.Params)))) + "\n"
	}
}

// showEnum prints "%s %d\n": the value's table name and its number.
func showEnum(opt string, get func(*Params) int) func(*BondStatus, Caller) string {
	return func(s *BondStatus, _ Caller) string {
		v := get(&s.Params)
		return ValueName(opt, v) + " " + optFmtInt(v) + "\n"
	}
}

// showDelay prints a delay stored in miimon ticks as milliseconds
// (ticks * miimon in C int arithmetic).
func showDelay(get func(*Params) int) func(*BondStatus, Caller) string {
	return func(s *BondStatus, _ Caller) string {
		return optFmtInt(int(int32(get(&s.Params))*int32(s.Params.Miimon))) + "\n"
	}
}

// optJoinList renders a space separated list whose last space becomes a newline,
// cut with "++more++" like bonding_show_slaves/bonding_show_queue_id when it
// would overflow a page (reserve is the room kept for one more item).
func optJoinList(items []string, reserve int) string {
	var b strings.Builder
	for _, it := range items {
		if b.Len() > PageSize-reserve {
			b.WriteString("++more++ ")
			break
		}
		b.WriteString(it)
		b.WriteByte(' ')
	}
	s := b.String()
	if s == "" {
		return ""
	}
	return s[:len(s)-1] + "\n"
}

func showSlaves(s *BondStatus, _ Caller) string {
	names := make([]string, len(s.Slaves))
	for i := range s.Slaves {
		names[i] = s.Slaves[i].Name
	}
	return optJoinList(names, ifNameSize)
}

func showQueueIDs(s *BondStatus, _ Caller) string {
	items := make([]string, len(s.Slaves))
	for i := range s.Slaves {
		items[i] = s.Slaves[i].Name + ":" + optFmtInt(s.Slaves[i].QueueID)
	}
	return optJoinList(items, ifNameSize+6)
}

func showARPTargets(s *BondStatus, _ Caller) string {
	items := make([]string, 0, len(s.Params.ARPTargets))
	for _, a := range s.Params.ARPTargets {
		items = append(items, a.String())
	}
	return optJoinList(items, 0)
}

// showPrimary prints the primary slave only while it is enslaved.
func showPrimary(s *BondStatus, _ Caller) string {
	if s.PrimarySlave == "" {
		return ""
	}
	return s.PrimarySlave + "\n"
}

// showActiveSlave prints curr_active_slave in the modes that have one
// (bond_option_active_slave_get_rcu).
func showActiveSlave(s *BondStatus, _ Caller) string {
	if s.ActiveSlave == "" || !s.Params.Mode.UsesPrimary() {
		return ""
	}
	return s.ActiveSlave + "\n"
}

func showMIIStatus(s *BondStatus, _ Caller) string {
	if s.Carrier {
		return "up\n"
	}
	return "down\n"
}

// optActiveAgg returns the active aggregator, or nil
// (bond_3ad_get_active_agg_info failing).
func optActiveAgg(s *BondStatus) *ADAggregator {
	if s.AD == nil {
		return nil
	}
	return s.AD.ActiveAggregator
}

// showAgg renders one field of the active aggregator ("0" without one), only
// in 802.3ad mode and, for private fields, only to CAP_NET_ADMIN.
func showAgg(private bool, get func(*ADAggregator) int) func(*BondStatus, Caller) string {
	return func(s *BondStatus, c Caller) string {
		if s.Params.Mode != Mode8023AD || (private && !c.NetAdmin) {
			return ""
		}
		v := 0
		if a := optActiveAgg(s); a != nil {
			v = get(a)
		}
		return optFmtInt(v) + "\n"
	}
}

func showPartnerMAC(s *BondStatus, c Caller) string {
	if s.Params.Mode != Mode8023AD || !c.NetAdmin {
		return ""
	}
	a := optActiveAgg(s)
	if a == nil {
		return ""
	}
	return FormatMAC(a.PartnerMAC) + "\n"
}

// showAD renders an 802.3ad parameter visible only in 802.3ad mode to
// CAP_NET_ADMIN.
func showAD(get func(*Params) string) func(*BondStatus, Caller) string {
	return func(s *BondStatus, c Caller) string {
		if s.Params.Mode != Mode8023AD || !c.NetAdmin {
			return ""
		}
		return get(&s.Params) + "\n"
	}
}
