package rtnl

import (
	"bytes"

	"github.com/mdlayher/netlink"
	"github.com/mdlayher/netlink/nlenc"
	"golang.org/x/sys/unix"

	"bondingfs/bond"
)

const (
	nlmsgHdrLen = unix.SizeofNlMsghdr // 16
	ifinfoLen   = unix.SizeofIfInfomsg
	kindBond    = "bond"
	// IF_OPER_* of IFLA_OPERSTATE (RFC 2863).
	operDown = 2
	operUp   = 6
)

// maxGrowthPerLink bounds what rewriting adds to one message: a bond's
// IFLA_LINKINFO with 16 targets and the 802.3ad info, or a port's slave
// data and IFLA_MASTER, or the bond's extended statistics.
const maxGrowthPerLink = 640

func align4(n int) int { return (n + 3) &^ 3 }

// link is one RTM_NEWLINK/RTM_DELLINK message taken apart.
type link struct {
	hdr   netlink.Header
	info  []byte // the ifinfomsg, 16 bytes (a copy)
	attrs attrs
}

func (l *link) index() int32  { return int32(nlenc.Uint32(l.info[4:8])) }
func (l *link) flags() uint32 { return nlenc.Uint32(l.info[8:12]) }
func (l *link) setFlags(f uint32) {
	nlenc.PutUint32(l.info[8:12], f)
}

// parseLink decodes one whole message (header included) of type
// RTM_NEWLINK or RTM_DELLINK; false when it is not one or is malformed.
func parseLink(m []byte) (*link, bool) {
	var msg netlink.Message
	if err := msg.UnmarshalBinary(m); err != nil {
		return nil, false
	}
	t := uint16(msg.Header.Type)
	if t != unix.RTM_NEWLINK && t != unix.RTM_DELLINK {
		return nil, false
	}
	if len(msg.Data) < ifinfoLen {
		return nil, false
	}
	a, ok := decodeAttrs(msg.Data[ifinfoLen:])
	if !ok {
		return nil, false
	}
	return &link{hdr: msg.Header, info: append([]byte(nil), msg.Data[:ifinfoLen]...), attrs: a}, true
}

func (l *link) encode() []byte {
	body := append(append([]byte(nil), l.info...), l.attrs.encode()...)
	l.hdr.Length = uint32(nlmsgHdrLen + len(body))
	b, err := netlink.Message{Header: l.hdr, Data: body}.MarshalBinary()
	if err != nil {
		panic("rtnl: " + err.Error()) // body is 4-aligned by construction
	}
	return b
}

// walk calls fn for each message of msgs: its bytes, and whether it is
// well-formed (a header whose length fits). The first malformed message is
// passed with the whole rest of the buffer, and the walk stops there.
func walk(msgs []byte, fn func(m []byte, ok bool)) {
	for len(msgs) > 0 {
		if len(msgs) < nlmsgHdrLen {
			fn(msgs, false)
			return
		}
		n := int(nlenc.Uint32(msgs[:4]))
		if n < nlmsgHdrLen || n > len(msgs) {
			fn(msgs, false)
			return
		}
		next := align4(n)
		if next > len(msgs) {
			next = len(msgs)
		}
		fn(msgs[:n], true)
		msgs = msgs[next:]
	}
}

// index is a snapshot's ifindex lookup.
type index struct {
	bonds map[int32]*bond.BondStatus
	ports map[int32]portRef
}

type portRef struct {
	b *bond.BondStatus
	s *bond.SlaveStatus
}

func newIndex(snap *bond.Snapshot) index {
	x := index{bonds: map[int32]*bond.BondStatus{}, ports: map[int32]portRef{}}
	if snap == nil {
		return x
	}
	for _, b := range snap.Bonds {
		if b == nil {
			continue
		}
		if b.Index > 0 {
			x.bonds[int32(b.Index)] = b
		}
		for i := range b.Slaves {
			if s := &b.Slaves[i]; s.Index > 0 {
				x.ports[int32(s.Index)] = portRef{b, s}
			}
		}
	}
	return x
}

func (x index) concerns(ifindex int32) bool {
	if _, ok := x.bonds[ifindex]; ok {
		return true
	}
	_, ok := x.ports[ifindex]
	return ok
}

// linkIndexOf is the ifi_index of a link message, ok false for any other
// message.
func linkIndexOf(m []byte) (int32, bool) {
	if len(m) < nlmsgHdrLen+ifinfoLen {
		return 0, false
	}
	t := nlenc.Uint16(m[4:6])
	if t != unix.RTM_NEWLINK && t != unix.RTM_DELLINK {
		return 0, false
	}
	return int32(nlenc.Uint32(m[nlmsgHdrLen+4 : nlmsgHdrLen+8])), true
}

// Concerns reports whether any message in msgs is an RTM_NEWLINK or
// RTM_DELLINK of a bond master or port in snap, or an RTM_NEWSTATS of one
// with extended statistics asked for: whether Rewrite with a zero Filter
// would change msgs. It allocates little and never panics.
func Concerns(msgs []byte, snap *bond.Snapshot) bool {
	if snap == nil || len(snap.Bonds) == 0 {
		return false
	}
	x := newIndex(snap)
	found := false
	walk(msgs, func(m []byte, ok bool) {
		if !ok || found {
			return
		}
		if idx, isLink := linkIndexOf(m); isLink && x.concerns(idx) {
			found = true
		}
		if idx, mask, isStats := statsIndex(m); isStats && x.concerns(idx) &&
			mask&(statsBit(unix.IFLA_STATS_LINK_XSTATS)|statsBit(unix.IFLA_STATS_LINK_XSTATS_SLAVE)) != 0 {
			found = true
		}
	})
	return found
}

// Rewrite returns msgs (a buffer of netlink messages as the kernel
// delivered them) with every RTM_NEWLINK/RTM_DELLINK of a bond master or
// port in snap rewritten as 6.1 shows it, the bond's extended statistics
// (802.3ad LACPDU and marker counters) added to the RTM_NEWSTATS of a bond
// or port that asked for IFLA_STATS_LINK_XSTATS(_SLAVE), and the
// RTM_NEWLINK messages the dump filter f excludes removed. See the package documentation for what
// changes. msgs is not modified; the result is a new buffer, never longer
// than len(msgs) plus 512 bytes per bond or port message. Malformed input
// is copied through unchanged (from the first bad message on).
func Rewrite(msgs []byte, snap *bond.Snapshot, f Filter) []byte {
	x := newIndex(snap)
	// room for every bond and port message to grow (linkinfo, master), so
	// that the buffer is never copied again
	out := make([]byte, 0, len(msgs)+maxGrowthPerLink*(len(x.bonds)+len(x.ports)))
	walk(msgs, func(m []byte, ok bool) {
		if !ok {
			out = append(out, m...)
			return
		}
		if st, ok := rewriteStats(m, x); ok {
			out = append(out, st...)
			return
		}
		idx, isLink := linkIndexOf(m)
		if !isLink || (!x.concerns(idx) && f.none()) {
			out = append(out, padded(m)...)
			return
		}
		l, ok := parseLink(m)
		if !ok {
			out = append(out, padded(m)...)
			return
		}
		changed := false
		if b, ok := x.bonds[idx]; ok {
			fillMaster(l, b)
			changed = true
		} else if p, ok := x.ports[idx]; ok {
			fillPort(l, p.b, p.s)
			changed = true
		}
		if uint16(l.hdr.Type) == unix.RTM_NEWLINK && !f.none() {
			if !f.match(l) {
				return
			}
			l.hdr.Flags |= netlink.HeaderFlags(unix.NLM_F_DUMP_FILTERED)
			changed = true
		}
		if changed {
			out = append(out, l.encode()...)
		} else {
			out = append(out, padded(m)...)
		}
	})
	return out
}

// padded is m with its alignment padding (the kernel's messages are
// 4-aligned, so this is m itself in practice).
func padded(m []byte) []byte {
	if n := align4(len(m)); n != len(m) {
		return append(append([]byte(nil), m...), make([]byte, n-len(m))...)
	}
	return m
}

// fillMaster turns a TAP's link message into a bond master's.
func fillMaster(l *link, b *bond.BondStatus) {
	fl := l.flags() | unix.IFF_MASTER
	up := fl&unix.IFF_UP != 0
	// dev_get_flags: RUNNING and LOWER_UP only while the device is up.
	fl &^= unix.IFF_RUNNING | unix.IFF_LOWER_UP
	if up && b.Carrier {
		fl |= unix.IFF_RUNNING | unix.IFF_LOWER_UP
	}
	l.setFlags(fl)
	oper := operDown
	if up && b.Carrier {
		oper = operUp
	}
	l.setU8(unix.IFLA_OPERSTATE, oper)
	carrier := 0
	if b.Carrier {
		carrier = 1
	}
	l.setU8(unix.IFLA_CARRIER, carrier)
	if q := b.Params.TxQueues; q > 0 {
		l.setU32(unix.IFLA_NUM_TX_QUEUES, q)
		l.setU32(unix.IFLA_NUM_RX_QUEUES, q)
	}
	// bond_setup leaves max_mtu at ETH_MAX_MTU; a TAP has 65535 minus its
	// link-layer header.
	l.setU32(unix.IFLA_MAX_MTU, 65535)

	var li attrs
	li.raw(unix.IFLA_INFO_KIND, []byte(kindBond+"\x00"))
	li.nest(unix.IFLA_INFO_DATA, bondInfoData(b))
	// A bond that is itself a port (of a bridge, say) keeps its slave info.
	if old, ok := l.linkInfo(); ok {
		for _, a := range old {
			switch a.Type & attrTypeMask {
			case unix.IFLA_INFO_SLAVE_KIND, unix.IFLA_INFO_SLAVE_DATA:
				li = append(li, a)
			}
		}
	}
	l.setLinkInfo(li)
}

// fillPort marks a port's link message as a bond port.
func fillPort(l *link, b *bond.BondStatus, s *bond.SlaveStatus) {
	l.setFlags(l.flags() | unix.IFF_SLAVE)
	// put_master_ifindex comes right before IFLA_CARRIER in
	// rtnl_fill_ifinfo.
	m := netlink.Attribute{Type: unix.IFLA_MASTER, Data: nlenc.Uint32Bytes(uint32(b.Index))}
	if i := l.attrs.find(unix.IFLA_MASTER); i >= 0 {
		l.attrs[i] = m
	} else {
		l.insertBefore(m, unix.IFLA_CARRIER)
	}
	var li attrs
	if old, ok := l.linkInfo(); ok {
		for _, a := range old {
			switch a.Type & attrTypeMask {
			case unix.IFLA_INFO_SLAVE_KIND, unix.IFLA_INFO_SLAVE_DATA:
			default:
				li = append(li, a)
			}
		}
	}
	li.raw(unix.IFLA_INFO_SLAVE_KIND, []byte(kindBond+"\x00"))
	li.nest(unix.IFLA_INFO_SLAVE_DATA, slaveInfoData(b, s))
	l.setLinkInfo(li)
}

func (l *link) setU8(typ uint16, v int) {
	if i := l.attrs.find(typ); i >= 0 {
		l.attrs[i] = netlink.Attribute{Type: l.attrs[i].Type, Data: []byte{uint8(v)}}
	}
}

func (l *link) setU32(typ uint16, v int) {
	if i := l.attrs.find(typ); i >= 0 {
		l.attrs[i] = netlink.Attribute{Type: l.attrs[i].Type, Data: nlenc.Uint32Bytes(uint32(v))}
	}
}

// insertBefore puts a before the first attribute of type typ, or at the end.
func (l *link) insertBefore(a netlink.Attribute, typ uint16) {
	i := l.attrs.find(typ)
	if i < 0 {
		l.attrs = append(l.attrs, a)
		return
	}
	l.attrs = append(l.attrs[:i], append(attrs{a}, l.attrs[i:]...)...)
}

// linkInfo is the decoded IFLA_LINKINFO nest, false when absent or bad.
func (l *link) linkInfo() (attrs, bool) {
	i := l.attrs.find(unix.IFLA_LINKINFO)
	if i < 0 {
		return nil, false
	}
	return decodeAttrs(l.attrs[i].Data)
}

// setLinkInfo replaces IFLA_LINKINFO (always without NLA_F_NESTED) or, when
// the device had none (a port without rtnl_link_ops), inserts it where
// rtnl_fill_ifinfo puts it: after IFLA_XDP, before the netns and AF_SPEC
// attributes.
func (l *link) setLinkInfo(li attrs) {
	a := netlink.Attribute{Type: unix.IFLA_LINKINFO, Data: li.encode()}
	if i := l.attrs.find(unix.IFLA_LINKINFO); i >= 0 {
		l.attrs[i] = a
		return
	}
	if i := l.attrs.find(unix.IFLA_XDP); i >= 0 {
		l.attrs = append(l.attrs[:i+1], append(attrs{a}, l.attrs[i+1:]...)...)
		return
	}
	for _, t := range []uint16{unix.IFLA_LINK_NETNSID, unix.IFLA_AF_SPEC} {
		if l.attrs.find(t) >= 0 {
			l.insertBefore(a, t)
			return
		}
	}
	l.attrs = append(l.attrs, a)
}

// kind is the IFLA_INFO_KIND of the message, "" when none.
func (l *link) kind() string {
	li, ok := l.linkInfo()
	if !ok {
		return ""
	}
	if i := li.find(unix.IFLA_INFO_KIND); i >= 0 {
		return string(bytes.TrimRight(li[i].Data, "\x00"))
	}
	return ""
}

// master is the IFLA_MASTER of the message, 0 when none.
func (l *link) master() int32 {
	if i := l.attrs.find(unix.IFLA_MASTER); i >= 0 && len(l.attrs[i].Data) == 4 {
		return int32(nlenc.Uint32(l.attrs[i].Data))
	}
	return 0
}
