// Package nltext prints rtnetlink link messages as stable text: the
// ifinfomsg, the top-level attributes in wire order (values of the ones
// that describe the device, names only for counters and tables), and the
// whole IFLA_LINKINFO tree of a bond or bond port with each leaf in hex and
// each attribute's raw type (so NLA_F_NESTED shows). The kernel-oracle
// goldens of rtnl (testdata/rtnl) are written in this form by
// testdata/rtnl/nldump inside the 6.1 VM, and rtnl's tests print their own
// output the same way to compare byte for byte.
package nltext

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"net"
	"strings"

	"github.com/mdlayher/netlink"
	"github.com/mdlayher/netlink/nlenc"
	"golang.org/x/sys/unix"
)

// MACNorm turns an address into its printed form. Normalise is the oracle's:
// addresses a scenario sets (02:00:00:*) print as they are, others (random
// ones, the kernel's choice) as "<random>".
type MACNorm func(net.HardwareAddr) string

// Normalise is the oracle transcripts' MAC normaliser (lib.sh _normmac).
func Normalise(a net.HardwareAddr) string {
	s := a.String()
	switch {
	case strings.HasPrefix(s, "02:00:00:"):
		return s
	case s == "00:00:00:00:00:00":
		return s
	}
	return "<random>"
}

var names = map[uint16]string{
	unix.IFLA_ADDRESS: "ADDRESS", unix.IFLA_BROADCAST: "BROADCAST", unix.IFLA_IFNAME: "IFNAME",
	unix.IFLA_MTU: "MTU", unix.IFLA_LINK: "LINK", unix.IFLA_QDISC: "QDISC", unix.IFLA_STATS: "STATS",
	unix.IFLA_MASTER: "MASTER", unix.IFLA_TXQLEN: "TXQLEN", unix.IFLA_MAP: "MAP",
	unix.IFLA_OPERSTATE: "OPERSTATE", unix.IFLA_LINKMODE: "LINKMODE", unix.IFLA_LINKINFO: "LINKINFO",
	unix.IFLA_IFALIAS: "IFALIAS", unix.IFLA_NUM_VF: "NUM_VF", unix.IFLA_VFINFO_LIST: "VFINFO_LIST",
	unix.IFLA_STATS64: "STATS64", unix.IFLA_AF_SPEC: "AF_SPEC", unix.IFLA_GROUP: "GROUP",
	unix.IFLA_PROMISCUITY: "PROMISCUITY", unix.IFLA_NUM_TX_QUEUES: "NUM_TX_QUEUES",
	unix.IFLA_NUM_RX_QUEUES: "NUM_RX_QUEUES", unix.IFLA_CARRIER: "CARRIER",
	unix.IFLA_CARRIER_CHANGES: "CARRIER_CHANGES", unix.IFLA_LINK_NETNSID: "LINK_NETNSID",
	unix.IFLA_PROTO_DOWN: "PROTO_DOWN", unix.IFLA_GSO_MAX_SEGS: "GSO_MAX_SEGS",
	unix.IFLA_GSO_MAX_SIZE: "GSO_MAX_SIZE", unix.IFLA_XDP: "XDP", unix.IFLA_EVENT: "EVENT",
	unix.IFLA_CARRIER_UP_COUNT: "CARRIER_UP_COUNT", unix.IFLA_CARRIER_DOWN_COUNT: "CARRIER_DOWN_COUNT",
	unix.IFLA_MIN_MTU: "MIN_MTU", unix.IFLA_MAX_MTU: "MAX_MTU", unix.IFLA_PROP_LIST: "PROP_LIST",
	unix.IFLA_PERM_ADDRESS: "PERM_ADDRESS", unix.IFLA_PARENT_DEV_NAME: "PARENT_DEV_NAME",
	unix.IFLA_PARENT_DEV_BUS_NAME: "PARENT_DEV_BUS_NAME", unix.IFLA_GRO_MAX_SIZE: "GRO_MAX_SIZE",
	unix.IFLA_TSO_MAX_SIZE: "TSO_MAX_SIZE", unix.IFLA_TSO_MAX_SEGS: "TSO_MAX_SEGS",
	unix.IFLA_ALLMULTI: "ALLMULTI", unix.IFLA_GSO_IPV4_MAX_SIZE: "GSO_IPV4_MAX_SIZE",
	unix.IFLA_GRO_IPV4_MAX_SIZE: "GRO_IPV4_MAX_SIZE",
}

// valued are the top-level attributes whose value is printed: the ones that
// describe the device rather than count its traffic.
var valued = map[uint16]bool{
	unix.IFLA_IFNAME: true, unix.IFLA_TXQLEN: true, unix.IFLA_OPERSTATE: true, unix.IFLA_LINKMODE: true,
	unix.IFLA_MTU: true, unix.IFLA_MIN_MTU: true, unix.IFLA_MAX_MTU: true, unix.IFLA_GROUP: true,
	unix.IFLA_PROMISCUITY: true, unix.IFLA_NUM_TX_QUEUES: true, unix.IFLA_NUM_RX_QUEUES: true,
	unix.IFLA_GSO_MAX_SEGS: true, unix.IFLA_GSO_MAX_SIZE: true, unix.IFLA_GRO_MAX_SIZE: true,
	unix.IFLA_TSO_MAX_SIZE: true, unix.IFLA_TSO_MAX_SEGS: true, unix.IFLA_MASTER: true,
	unix.IFLA_CARRIER: true, unix.IFLA_QDISC: true, unix.IFLA_PROTO_DOWN: true,
	unix.IFLA_ADDRESS: true, unix.IFLA_BROADCAST: true, unix.IFLA_PERM_ADDRESS: true, unix.IFLA_EVENT: true,
}

const typeMask = ^uint16(unix.NLA_F_NESTED | unix.NLA_F_NET_BYTEORDER)

// Link prints one RTM_NEWLINK/RTM_DELLINK message (header included). A
// message it cannot decode prints as one "bad" line.
func Link(m []byte, mac MACNorm) string {
	var msg netlink.Message
	if err := msg.UnmarshalBinary(m); err != nil || len(msg.Data) < unix.SizeofIfInfomsg {
		return fmt.Sprintf("bad message (%d bytes)\n", len(m))
	}
	d := msg.Data
	var b strings.Builder
	fmt.Fprintf(&b, "msg type=%d flags=%#x ifi_type=%d ifi_index=%d ifi_flags=%#x\n",
		uint16(msg.Header.Type), uint16(msg.Header.Flags), nlenc.Uint16(d[2:4]),
		int32(nlenc.Uint32(d[4:8])), nlenc.Uint32(d[8:12]))
	as, err := netlink.UnmarshalAttributes(d[unix.SizeofIfInfomsg:])
	if err != nil {
		fmt.Fprintf(&b, " bad attributes: %v\n", err)
		return b.String()
	}
	for _, a := range as {
		t := a.Type & typeMask
		name := names[t]
		if name == "" {
			name = fmt.Sprintf("%d", t)
		}
		switch {
		case t == unix.IFLA_LINKINFO:
			fmt.Fprintf(&b, " %#x %s\n", a.Type, name)
			linkInfo(&b, a.Data, mac)
		case !valued[t]:
			fmt.Fprintf(&b, " %#x %s -\n", a.Type, name)
		case t == unix.IFLA_IFNAME || t == unix.IFLA_QDISC:
			fmt.Fprintf(&b, " %#x %s %q\n", a.Type, name, string(a.Data))
		case t == unix.IFLA_ADDRESS || t == unix.IFLA_BROADCAST || t == unix.IFLA_PERM_ADDRESS:
			fmt.Fprintf(&b, " %#x %s %s\n", a.Type, name, macText(a.Data, mac))
		default:
			fmt.Fprintf(&b, " %#x %s %s\n", a.Type, name, num(a.Data))
		}
	}
	return b.String()
}

func num(d []byte) string {
	switch len(d) {
	case 1:
		return fmt.Sprint(d[0])
	case 2:
		return fmt.Sprint(nlenc.Uint16(d))
	case 4:
		return fmt.Sprint(nlenc.Uint32(d))
	}
	return "hex:" + hex.EncodeToString(d)
}

func macText(d []byte, mac MACNorm) string {
	if len(d) != 6 || mac == nil {
		return "hex:" + hex.EncodeToString(d)
	}
	return mac(net.HardwareAddr(d))
}

// linkInfo prints IFLA_LINKINFO: every attribute with its raw type, leaves
// in hex; the bond's and the bond port's data nests opened, MAC leaves
// normalised.
func linkInfo(b *strings.Builder, d []byte, mac MACNorm) {
	as, err := netlink.UnmarshalAttributes(d)
	if err != nil {
		fmt.Fprintf(b, "  bad: %v\n", err)
		return
	}
	var kind, slaveKind string
	for _, a := range as {
		switch a.Type & typeMask {
		case unix.IFLA_INFO_KIND:
			kind = string(bytes.TrimRight(a.Data, "\x00"))
		case unix.IFLA_INFO_SLAVE_KIND:
			slaveKind = string(bytes.TrimRight(a.Data, "\x00"))
		}
	}
	for _, a := range as {
		t := a.Type & typeMask
		switch {
		case t == unix.IFLA_INFO_DATA && kind == "bond":
			fmt.Fprintf(b, "  %#x INFO_DATA\n", a.Type)
			tree(b, a.Data, "   ", func(typ uint16, depth int) (bool, bool) {
				if depth > 0 {
					return false, typ == unix.IFLA_BOND_AD_INFO_PARTNER_MAC
				}
				switch typ {
				case unix.IFLA_BOND_ARP_IP_TARGET, unix.IFLA_BOND_AD_INFO, unix.IFLA_BOND_NS_IP6_TARGET:
					return true, false
				}
				return false, typ == unix.IFLA_BOND_AD_ACTOR_SYSTEM
			}, mac, 0)
		case t == unix.IFLA_INFO_SLAVE_DATA && slaveKind == "bond":
			fmt.Fprintf(b, "  %#x INFO_SLAVE_DATA\n", a.Type)
			tree(b, a.Data, "   ", func(typ uint16, _ int) (bool, bool) {
				return false, typ == unix.IFLA_BOND_SLAVE_PERM_HWADDR
			}, mac, 0)
		case t == unix.IFLA_INFO_DATA || t == unix.IFLA_INFO_SLAVE_DATA || t == unix.IFLA_INFO_XSTATS:
			fmt.Fprintf(b, "  %#x - (%d bytes)\n", a.Type, len(a.Data))
		default:
			fmt.Fprintf(b, "  %#x hex:%s\n", a.Type, hex.EncodeToString(a.Data))
		}
	}
}

// tree prints a list of attributes; kind says for each type whether it is a
// nest to open and whether its value is a MAC address.
func tree(b *strings.Builder, d []byte, indent string, kind func(uint16, int) (nest, isMAC bool), mac MACNorm, depth int) {
	as, err := netlink.UnmarshalAttributes(d)
	if err != nil {
		fmt.Fprintf(b, "%sbad: %v\n", indent, err)
		return
	}
	for _, a := range as {
		nest, isMAC := kind(a.Type&typeMask, depth)
		switch {
		case nest:
			fmt.Fprintf(b, "%s%#x\n", indent, a.Type)
			tree(b, a.Data, indent+" ", kind, mac, depth+1)
		case isMAC:
			fmt.Fprintf(b, "%s%#x %s\n", indent, a.Type, macText(a.Data, mac))
		default:
			fmt.Fprintf(b, "%s%#x hex:%s\n", indent, a.Type, hex.EncodeToString(a.Data))
		}
	}
}

// StatsShape prints an RTM_NEWSTATS message (header included) as its
// filter mask and attribute tree, raw types and data sizes only, three
// levels deep (IFLA_STATS_LINK_XSTATS, LINK_XSTATS_TYPE_*, BOND_XSTATS_*):
// the form of the oracle's statistics goldens, whose counter values vary.
func StatsShape(m []byte) string {
	var msg netlink.Message
	if err := msg.UnmarshalBinary(m); err != nil || len(msg.Data) < 12 {
		return fmt.Sprintf("bad message (%d bytes)\n", len(m))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "type=%d filter_mask=%#x\n", uint16(msg.Header.Type), nlenc.Uint32(msg.Data[8:12]))
	shape(&b, msg.Data[12:], " ", 0)
	return b.String()
}

func shape(b *strings.Builder, d []byte, indent string, depth int) {
	as, err := netlink.UnmarshalAttributes(d)
	if err != nil {
		fmt.Fprintf(b, "%sbad: %v\n", indent, err)
		return
	}
	for _, a := range as {
		fmt.Fprintf(b, "%s%#x len=%d\n", indent, a.Type, len(a.Data))
		if depth < 2 {
			shape(b, a.Data, indent+" ", depth+1)
		}
	}
}
