package rtnl

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"syscall"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"bondingfs/bond"
)

// Request path. A supervised process's send on a NETLINK_ROUTE socket is
// looked at message by message (package rtnl/supervisor reads it from the
// caller): Classify says whether a message concerns a bond; DecodeLink
// decodes RTM_NEWLINK, RTM_SETLINK and RTM_DELLINK; Execute (request_exec.go)
// turns one into the engine operations the sysfs files perform
// (bond.Registry.NewLink, ChangeLink, SetMaster, DelLink), in rtnl_newlink's
// and bond_changelink's order, and hands what the kernel still answers for
// the device (MTU, address, flags, …) to it; Reply (request_reply.go)
// builds the NLMSG_ERROR the caller reads.

// policyMsg is the extack of an attribute shorter than its policy type
// (validate_nla).
const policyMsg = "Attribute failed policy validation"

// nlaTypeMask is NLA_TYPE_MASK: an attribute type without its flags.
const nlaTypeMask = ^uint16(unix.NLA_F_NESTED | unix.NLA_F_NET_BYTEORDER)

// LinkRequest is one decoded RTM_NEWLINK, RTM_SETLINK or RTM_DELLINK.
type LinkRequest struct {
	Header unix.NlMsghdr
	Info   unix.IfInfomsg
	Name   string // IFLA_IFNAME, "" when absent
	// Kind is IFLA_INFO_KIND, Data the payload of IFLA_INFO_DATA (HasData
	// when present, even empty); SlaveKind and SlaveData likewise for
	// IFLA_INFO_SLAVE_KIND and IFLA_INFO_SLAVE_DATA.
	Kind         string
	Data         []byte
	HasData      bool
	SlaveKind    string
	SlaveData    []byte
	HasSlaveData bool
	// Master is IFLA_MASTER (an ifindex, 0 for none) when HasMaster.
	Master    int32
	HasMaster bool
	// rest are the other attributes, as sent: what the kernel answers.
	rest []netlink.Attribute
}

// DecodeLink decodes one netlink message (header included) of type
// RTM_NEWLINK, RTM_SETLINK or RTM_DELLINK. A malformed message is an
// error; the kernel would refuse it too (the caller leaves it to the
// kernel).
func DecodeLink(msg []byte) (*LinkRequest, error) {
	var m netlink.Message
	if err := m.UnmarshalBinary(msg); err != nil {
		return nil, err
	}
	switch m.Header.Type {
	case unix.RTM_NEWLINK, unix.RTM_SETLINK, unix.RTM_DELLINK:
	default:
		return nil, fmt.Errorf("rtnl: message type %d is no link request", m.Header.Type)
	}
	if len(m.Data) < unix.SizeofIfInfomsg {
		return nil, fmt.Errorf("rtnl: link request of %d bytes", len(m.Data))
	}
	r := &LinkRequest{Header: unix.NlMsghdr{
		Len: m.Header.Length, Type: uint16(m.Header.Type), Flags: uint16(m.Header.Flags),
		Seq: m.Header.Sequence, Pid: m.Header.PID,
	}}
	d := m.Data
	r.Info = unix.IfInfomsg{
		Family: d[0], Type: binary.NativeEndian.Uint16(d[2:4]),
		Index: int32(binary.NativeEndian.Uint32(d[4:8])),
		Flags: binary.NativeEndian.Uint32(d[8:12]), Change: binary.NativeEndian.Uint32(d[12:16]),
	}
	attrs, err := netlink.UnmarshalAttributes(d[unix.SizeofIfInfomsg:])
	if err != nil {
		return nil, err
	}
	for _, a := range attrs {
		switch a.Type & nlaTypeMask {
		case unix.IFLA_IFNAME:
			r.Name = cString(a.Data)
		case unix.IFLA_MASTER:
			if len(a.Data) < 4 {
				return nil, fmt.Errorf("rtnl: IFLA_MASTER of %d bytes", len(a.Data))
			}
			r.Master, r.HasMaster = int32(binary.NativeEndian.Uint32(a.Data)), true
		case unix.IFLA_LINKINFO:
			if err := r.decodeLinkInfo(a.Data); err != nil {
				return nil, err
			}
		default:
			r.rest = append(r.rest, a)
		}
	}
	return r, nil
}

func (r *LinkRequest) decodeLinkInfo(b []byte) error {
	attrs, err := netlink.UnmarshalAttributes(b)
	if err != nil {
		return err
	}
	for _, a := range attrs {
		switch a.Type & nlaTypeMask {
		case unix.IFLA_INFO_KIND:
			r.Kind = cString(a.Data)
		case unix.IFLA_INFO_DATA:
			r.Data, r.HasData = a.Data, true
		case unix.IFLA_INFO_SLAVE_KIND:
			r.SlaveKind = cString(a.Data)
		case unix.IFLA_INFO_SLAVE_DATA:
			r.SlaveData, r.HasSlaveData = a.Data, true
		}
	}
	return nil
}

// cString is a netlink string attribute without its NUL.
func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// Rest is the request as the kernel still has to answer it for the device
// with ifindex index: the header and ifinfomsg (its index replaced) with
// every attribute but IFLA_IFNAME (kept with keepName), IFLA_LINKINFO and
// IFLA_MASTER (kept with keepMaster), flagged NLM_F_REQUEST|NLM_F_ACK. It
// returns nil when that leaves nothing to do.
func (r *LinkRequest) Rest(index int32, keepName, keepMaster bool) []byte {
	attrs := append([]netlink.Attribute(nil), r.rest...)
	if keepName && r.Name != "" {
		attrs = append(attrs, netlink.Attribute{Type: unix.IFLA_IFNAME, Data: append([]byte(r.Name), 0)})
	}
	if keepMaster && r.HasMaster {
		attrs = append(attrs, netlink.Attribute{Type: unix.IFLA_MASTER, Data: binary.NativeEndian.AppendUint32(nil, uint32(r.Master))})
	}
	if len(attrs) == 0 && r.Info.Flags == 0 && r.Info.Change == 0 {
		return nil
	}
	body := make([]byte, unix.SizeofIfInfomsg)
	body[0] = r.Info.Family
	binary.NativeEndian.PutUint16(body[2:4], r.Info.Type)
	binary.NativeEndian.PutUint32(body[4:8], uint32(index))
	binary.NativeEndian.PutUint32(body[8:12], r.Info.Flags)
	binary.NativeEndian.PutUint32(body[12:16], r.Info.Change)
	ab, err := netlink.MarshalAttributes(attrs)
	if err != nil {
		return nil
	}
	typ := r.Header.Type
	if typ == unix.RTM_NEWLINK {
		typ = unix.RTM_SETLINK // no create, no linkinfo: do_setlink alone
	}
	return marshal(netlink.Header{Type: netlink.HeaderType(typ), Flags: netlink.Request | netlink.Acknowledge, Sequence: r.Header.Seq}, append(body, ab...))
}

// marshal encodes one message with header h (its length set here) and
// payload data, padded to NLMSG_ALIGNTO.
func marshal(h netlink.Header, data []byte) []byte {
	for len(data)%4 != 0 {
		data = append(data, 0)
	}
	h.Length = uint32(unix.SizeofNlMsghdr + len(data))
	b, err := netlink.Message{Header: h, Data: data}.MarshalBinary()
	if err != nil {
		return nil
	}
	return b
}

// Links resolves the interface names and ifindexes of the caller's network
// namespace, as __dev_get_by_index does.
type Links interface {
	NameOf(index int32) (string, bool)
}

// bondAttr is one IFLA_BOND_* attribute bond_changelink applies: its
// option and how its value becomes the option's text.
type bondAttr struct {
	typ    uint16
	option string
	format func(b []byte, links Links) ([]bond.LinkOption, *bond.LinkError)
}

// changelinkOrder is bond_changelink's order of 6.1.
var changelinkOrder = []bondAttr{
	{unix.IFLA_BOND_MODE, "mode", u8},
	{unix.IFLA_BOND_ACTIVE_SLAVE, "active_slave", activeSlave},
	{unix.IFLA_BOND_MIIMON, "miimon", u32},
	{unix.IFLA_BOND_UPDELAY, "updelay", u32},
	{unix.IFLA_BOND_DOWNDELAY, "downdelay", u32},
	{unix.IFLA_BOND_PEER_NOTIF_DELAY, "peer_notif_delay", peerNotifDelay},
	{unix.IFLA_BOND_USE_CARRIER, "use_carrier", u8},
	{unix.IFLA_BOND_ARP_INTERVAL, "arp_interval", u32},
	{unix.IFLA_BOND_ARP_IP_TARGET, "arp_ip_target", arpTargets},
	{unix.IFLA_BOND_NS_IP6_TARGET, "ns_ip6_target", nsTargets},
	{unix.IFLA_BOND_ARP_VALIDATE, "arp_validate", u32},
	{unix.IFLA_BOND_ARP_ALL_TARGETS, "arp_all_targets", u32},
	{unix.IFLA_BOND_PRIMARY, "primary", primary},
	{unix.IFLA_BOND_PRIMARY_RESELECT, "primary_reselect", u8},
	{unix.IFLA_BOND_FAIL_OVER_MAC, "fail_over_mac", u8},
	{unix.IFLA_BOND_XMIT_HASH_POLICY, "xmit_hash_policy", u8},
	{unix.IFLA_BOND_RESEND_IGMP, "resend_igmp", u32},
	{unix.IFLA_BOND_NUM_PEER_NOTIF, "num_grat_arp", u8},
	{unix.IFLA_BOND_ALL_SLAVES_ACTIVE, "all_slaves_active", u8},
	{unix.IFLA_BOND_MIN_LINKS, "min_links", u32},
	{unix.IFLA_BOND_LP_INTERVAL, "lp_interval", u32},
	{unix.IFLA_BOND_PACKETS_PER_SLAVE, "packets_per_slave", u32},
	{unix.IFLA_BOND_AD_LACP_ACTIVE, "lacp_active", u8},
	{unix.IFLA_BOND_AD_LACP_RATE, "lacp_rate", u8},
	{unix.IFLA_BOND_AD_SELECT, "ad_select", u8},
	{unix.IFLA_BOND_AD_ACTOR_SYS_PRIO, "ad_actor_sys_prio", u16},
	{unix.IFLA_BOND_AD_USER_PORT_KEY, "ad_user_port_key", u16},
	{unix.IFLA_BOND_AD_ACTOR_SYSTEM, "ad_actor_system", actorSystem},
	{unix.IFLA_BOND_TLB_DYNAMIC_LB, "tlb_dynamic_lb", u8},
	{unix.IFLA_BOND_MISSED_MAX, "arp_missed_max", u8},
}

// maxBondAttr is IFLA_BOND_MAX of 6.1: attributes above it are ignored, as
// nla_parse_nested_deprecated does.
const maxBondAttr = unix.IFLA_BOND_NS_IP6_TARGET

// minLen is the policy length of each IFLA_BOND_* type (validate_nla).
func minLen(typ uint16) int {
	switch typ {
	case unix.IFLA_BOND_MODE, unix.IFLA_BOND_USE_CARRIER, unix.IFLA_BOND_PRIMARY_RESELECT,
		unix.IFLA_BOND_FAIL_OVER_MAC, unix.IFLA_BOND_XMIT_HASH_POLICY, unix.IFLA_BOND_NUM_PEER_NOTIF,
		unix.IFLA_BOND_ALL_SLAVES_ACTIVE, unix.IFLA_BOND_AD_LACP_ACTIVE, unix.IFLA_BOND_AD_LACP_RATE,
		unix.IFLA_BOND_AD_SELECT, unix.IFLA_BOND_TLB_DYNAMIC_LB, unix.IFLA_BOND_MISSED_MAX:
		return 1
	case unix.IFLA_BOND_AD_ACTOR_SYS_PRIO, unix.IFLA_BOND_AD_USER_PORT_KEY:
		return 2
	case unix.IFLA_BOND_ARP_IP_TARGET, unix.IFLA_BOND_NS_IP6_TARGET, unix.IFLA_BOND_AD_INFO,
		unix.IFLA_BOND_AD_ACTOR_SYSTEM:
		return 0
	}
	return 4
}

// BondOptions turns the payload of IFLA_INFO_DATA of kind bond into the
// options bond_changelink sets, in its order. Policy failures (an
// attribute shorter than its type) are returned as the error, as
// rtnl_newlink refuses the whole request before it changes anything; the
// checks bond_changelink makes on the way (arp_interval or arp_validate with
// miimon, an unknown active_slave ifindex) are options with an Errno, at
// their place.
func BondOptions(data []byte, links Links) ([]bond.LinkOption, *bond.LinkError) {
	attrs, err := netlink.UnmarshalAttributes(data)
	if err != nil {
		return nil, &bond.LinkError{Errno: syscall.EINVAL}
	}
	var tb [maxBondAttr + 1][]byte
	var have [maxBondAttr + 1]bool
	for _, a := range attrs {
		t := a.Type & nlaTypeMask
		if t == 0 || t > maxBondAttr {
			continue
		}
		if len(a.Data) < minLen(t) {
			return nil, &bond.LinkError{Errno: syscall.ERANGE, Msg: policyMsg}
		}
		if t == unix.IFLA_BOND_PEER_NOTIF_DELAY && binary.NativeEndian.Uint32(a.Data) > 300000 {
			return nil, &bond.LinkError{Errno: syscall.ERANGE, Msg: "integer out of range"}
		}
		tb[t], have[t] = a.Data, true
	}
	var opts []bond.LinkOption
	miimon := uint32(0)
	for _, ba := range changelinkOrder {
		if !have[ba.typ] {
			continue
		}
		v := tb[ba.typ]
		switch ba.typ {
		case unix.IFLA_BOND_MIIMON:
			miimon = binary.NativeEndian.Uint32(v)
		case unix.IFLA_BOND_ARP_INTERVAL:
			if binary.NativeEndian.Uint32(v) != 0 && miimon != 0 {
				return append(opts, bond.LinkOption{Errno: syscall.EINVAL, ExtAck: "ARP monitoring cannot be used with MII monitoring"}), nil
			}
		case unix.IFLA_BOND_ARP_VALIDATE:
			if binary.NativeEndian.Uint32(v) != 0 && miimon != 0 {
				return append(opts, bond.LinkOption{Errno: syscall.EINVAL, ExtAck: "ARP validating cannot be used with MII monitoring"}), nil
			}
		}
		o, lerr := ba.format(v, links)
		if lerr != nil {
			return append(opts, bond.LinkOption{Errno: lerr.Errno, ExtAck: lerr.Msg}), nil
		}
		for i := range o {
			if o[i].Name == "" {
				o[i].Name = ba.option
			}
		}
		opts = append(opts, o...)
	}
	return opts, nil
}

// The formats: netlink's integer as the kernel hands it to __bond_opt_set
// (an int widened to u64), in decimal.
func u8(b []byte, _ Links) ([]bond.LinkOption, *bond.LinkError) {
	return []bond.LinkOption{{Value: strconv.FormatUint(uint64(b[0]), 10)}}, nil
}

func u16(b []byte, _ Links) ([]bond.LinkOption, *bond.LinkError) {
	return []bond.LinkOption{{Value: strconv.FormatUint(uint64(binary.NativeEndian.Uint16(b)), 10)}}, nil
}

func u32(b []byte, _ Links) ([]bond.LinkOption, *bond.LinkError) {
	v := uint64(int64(int32(binary.NativeEndian.Uint32(b))))
	return []bond.LinkOption{{Value: strconv.FormatUint(v, 10)}}, nil
}

func peerNotifDelay(b []byte, l Links) ([]bond.LinkOption, *bond.LinkError) { return u32(b, l) }

// activeSlave: an ifindex; 0 clears, an unknown one is ENODEV.
func activeSlave(b []byte, links Links) ([]bond.LinkOption, *bond.LinkError) {
	idx := int32(binary.NativeEndian.Uint32(b))
	if idx == 0 {
		return []bond.LinkOption{{Value: ""}}, nil
	}
	name, ok := links.NameOf(idx)
	if !ok {
		return nil, &bond.LinkError{Errno: syscall.ENODEV}
	}
	return []bond.LinkOption{{Value: name}}, nil
}

// primary: an ifindex; an unknown one clears the primary.
func primary(b []byte, links Links) ([]bond.LinkOption, *bond.LinkError) {
	name, _ := links.NameOf(int32(binary.NativeEndian.Uint32(b)))
	return []bond.LinkOption{{Value: name}}, nil
}

// arpTargets: the nest clears the list, then adds each target (be32).
func arpTargets(b []byte, _ Links) ([]bond.LinkOption, *bond.LinkError) {
	attrs, err := netlink.UnmarshalAttributes(b)
	if err != nil {
		return nil, &bond.LinkError{Errno: syscall.EINVAL}
	}
	opts := []bond.LinkOption{{Value: ""}}
	for _, a := range attrs {
		if len(a.Data) < 4 {
			return append(opts, bond.LinkOption{Errno: syscall.EINVAL}), nil
		}
		addr := netip.AddrFrom4([4]byte(a.Data[:4]))
		opts = append(opts, bond.LinkOption{Value: "+" + addr.String(),
			LogValue: strconv.FormatUint(uint64(binary.NativeEndian.Uint32(a.Data[:4])), 10)})
	}
	return opts, nil
}

// nsTargets: the IPv6 NS targets of the nest, space-separated, as one
// ns_ip6_target option (bond.Registry.applyNSTargets clears the table and
// adds each); an attribute shorter than an address ends the list with
// EINVAL "Invalid IPv6 address" after the ones before it.
func nsTargets(b []byte, _ Links) ([]bond.LinkOption, *bond.LinkError) {
	attrs, err := netlink.UnmarshalAttributes(b)
	if err != nil {
		return nil, &bond.LinkError{Errno: syscall.EINVAL}
	}
	var l []string
	for _, a := range attrs {
		if len(a.Data) < 16 {
			return []bond.LinkOption{{Value: strings.Join(l, " ")},
				{Errno: syscall.EINVAL, ExtAck: "Invalid IPv6 address"}}, nil
		}
		l = append(l, netip.AddrFrom16([16]byte(a.Data[:16])).String())
	}
	return []bond.LinkOption{{Value: strings.Join(l, " ")}}, nil
}

// actorSystem: exactly 6 bytes (else EINVAL without a message).
func actorSystem(b []byte, _ Links) ([]bond.LinkOption, *bond.LinkError) {
	if len(b) != 6 {
		return nil, &bond.LinkError{Errno: syscall.EINVAL}
	}
	// nla_get_u64 of the 6 bytes and the attribute's zero padding
	v := binary.LittleEndian.Uint64(append(append([]byte(nil), b...), 0, 0))
	return []bond.LinkOption{{Value: net.HardwareAddr(b).String(), LogValue: strconv.FormatUint(v, 10)}}, nil
}

// SlaveOptions turns the payload of IFLA_INFO_SLAVE_DATA for the port named
// port into its options (bond_slave_changelink): queue_id as
// "port:queue". IFLA_BOND_SLAVE_PRIO, which bondingfs's option table lacks,
// fails with EOPNOTSUPP.
func SlaveOptions(port string, data []byte) ([]bond.LinkOption, *bond.LinkError) {
	attrs, err := netlink.UnmarshalAttributes(data)
	if err != nil {
		return nil, &bond.LinkError{Errno: syscall.EINVAL}
	}
	var queue, prio []byte
	for _, a := range attrs {
		switch a.Type & nlaTypeMask {
		case unix.IFLA_BOND_SLAVE_QUEUE_ID:
			if len(a.Data) < 2 {
				return nil, &bond.LinkError{Errno: syscall.ERANGE, Msg: policyMsg}
			}
			queue = a.Data
		case unix.IFLA_BOND_SLAVE_PRIO:
			if len(a.Data) < 4 {
				return nil, &bond.LinkError{Errno: syscall.ERANGE, Msg: policyMsg}
			}
			prio = a.Data
		}
	}
	var opts []bond.LinkOption
	if queue != nil {
		opts = append(opts, bond.LinkOption{Name: "queue_id", Value: port + ":" + strconv.FormatUint(uint64(binary.NativeEndian.Uint16(queue)), 10) + "\n"})
	}
	if prio != nil {
		opts = append(opts, bond.LinkOption{Errno: syscall.EOPNOTSUPP, ExtAck: "prio is not supported by bondingfs"})
	}
	return opts, nil
}
