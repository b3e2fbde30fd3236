package fusefs

import (
	"strconv"

	"bondingfs/bond"
)

// ifNameSize is IFNAMSIZ, the room bonding_masters keeps for one more name.
const ifNameSize = 16

// RenderMasters returns the text of /sys/class/net/bonding_masters: the bond
// names in creation order separated by single spaces and ending in "\n", or
// "" when there are none. Like the kernel it stops with "++more++" when the
// next name might not fit into one page.
func RenderMasters(s *bond.Snapshot) string {
	var buf []byte
	// emit appends like the kernel's sysfs_emit_at: never past one page
	// minus the terminating NUL.
	emit := func(t string) {
		if room := bond.PageSize - 1 - len(buf); len(t) > room {
			t = t[:max(room, 0)]
		}
		buf = append(buf, t...)
	}
	for _, b := range s.Bonds {
		if len(buf) > bond.PageSize-ifNameSize {
			if bond.PageSize-len(buf) > 10 {
				buf = buf[:bond.PageSize-10]
			}
			emit("++more++ ")
			break
		}
		emit(b.Name + " ")
	}
	if len(buf) == 0 {
		return ""
	}
	buf[len(buf)-1] = '\n'
	return string(buf)
}

// slaveAttrs are the files of /sys/class/net/<slave>/bonding_slave/, sorted
// by name (all 0444; bond_sysfs_slave.c).
var slaveAttrs = []string{
	"ad_actor_oper_port_state",
	"ad_aggregator_id",
	"ad_partner_oper_port_state",
	"link_failure_count",
	"mii_status",
	"perm_hwaddr",
	"queue_id",
	"state",
}

// RenderSlaveAttr returns the text of bonding_slave/<attr> for slave s of a
// bond, and false when attr is not such a file.
func RenderSlaveAttr(s *bond.SlaveStatus, attr string) (string, bool) {
	var v string
	switch attr {
	case "state":
		v = "backup"
		if s.Active {
			v = "active"
		}
	case "mii_status":
		v = s.Link.String()
	case "link_failure_count":
		v = strconv.Itoa(s.LinkFailureCount)
	case "perm_hwaddr":
		v = hwAddrString(s.PermHWAddr)
	case "queue_id":
		v = strconv.Itoa(s.QueueID)
	case "ad_aggregator_id":
		v = "N/A"
		if s.AD != nil {
			v = strconv.Itoa(s.AD.AggregatorID)
		}
	case "ad_actor_oper_port_state":
		v = "N/A"
		if s.AD != nil {
			v = strconv.FormatUint(uint64(uint32(s.AD.ActorOperState)), 10)
		}
	case "ad_partner_oper_port_state":
		v = "N/A"
		if s.AD != nil {
			v = strconv.FormatUint(uint64(uint32(s.AD.PartnerOperState)), 10)
		}
	default:
		return "", false
	}
	return v + "\n", true
}

// RenderOption returns the text of bonding/<o.Name> for bond b as caller c
// reads it (o.Show), cut to one page like every sysfs read.
func RenderOption(o *bond.Option, b *bond.BondStatus, c bond.Caller) string {
	if o.Show == nil {
		return ""
	}
	v := o.Show(b, c)
	if len(v) > bond.PageSize-1 {
		v = v[:bond.PageSize-1]
	}
	return v
}
