package rtnl

import (
	"github.com/mdlayher/netlink"
	"github.com/mdlayher/netlink/nlenc"
	"golang.org/x/sys/unix"

	"bondingfs/bond"
)

// RTM_NEWSTATS (RTM_GETSTATS replies): struct if_stats_msg and the bond's
// extended statistics (include/uapi/linux/if_link.h), which x/sys/unix does
// not name.
const (
	rtmNewStats     = unix.RTM_GETSTATS - 2 // RTM_NEWSTATS
	ifStatsMsgLen   = 12                    // family, pad1, pad2, ifindex, filter_mask
	linkXstatsBond  = 2                     // LINK_XSTATS_TYPE_BOND (after _UNSPEC, _BRIDGE)
	bondXstats3AD   = 1                     // BOND_XSTATS_3AD
	bond3ADStatRxPD = 0                     // BOND_3AD_STAT_LACPDU_RX, the first of nine u64
)

// statsBit is IFLA_STATS_FILTER_BIT.
func statsBit(attr uint16) uint32 { return 1 << (attr - 1) }

// statsIndex is the ifindex and filter mask of an RTM_NEWSTATS message.
func statsIndex(m []byte) (int32, uint32, bool) {
	if len(m) < nlmsgHdrLen+ifStatsMsgLen || nlenc.Uint16(m[4:6]) != rtmNewStats {
		return 0, 0, false
	}
	b := m[nlmsgHdrLen:]
	return int32(nlenc.Uint32(b[4:8])), nlenc.Uint32(b[8:12]), true
}

// bondXstats is what bond_fill_linkxstats puts in IFLA_STATS_LINK_XSTATS (a
// bond) or IFLA_STATS_LINK_XSTATS_SLAVE (a port): LINK_XSTATS_TYPE_BOND,
// holding BOND_XSTATS_3AD with the nine bond_3ad_stats counters in 802.3ad.
func bondXstats(b *bond.BondStatus, st *bond.ADStats) attrs {
	var in attrs
	if b.Params.Mode == bond.Mode8023AD && st != nil {
		var c attrs
		for i, v := range []uint64{st.LACPDURx, st.LACPDUTx, st.LACPDUUnknownRx, st.LACPDUIllegalRx,
			st.MarkerRx, st.MarkerTx, st.MarkerRespRx, st.MarkerRespTx, st.MarkerUnknownRx} {
			// nla_put_u64_64bit: no pad attribute where unaligned access
			// is cheap (x86-64, arm64).
			c.raw(uint16(bond3ADStatRxPD+i), nlenc.Uint64Bytes(v))
		}
		in.nest(bondXstats3AD, c)
	}
	var x attrs
	x.nest(linkXstatsBond, in)
	return x
}

// rewriteStats adds the bond's extended statistics to the kernel's
// RTM_NEWSTATS of a bond's TAP or a port, when the request's filter mask
// (echoed in the reply) asked for them. ok false: m is left as it is.
func rewriteStats(m []byte, x index) ([]byte, bool) {
	idx, mask, isStats := statsIndex(m)
	if !isStats {
		return nil, false
	}
	var attr uint16
	var xs attrs
	if b, ok := x.bonds[idx]; ok && mask&statsBit(unix.IFLA_STATS_LINK_XSTATS) != 0 {
		attr = unix.IFLA_STATS_LINK_XSTATS
		var st *bond.ADStats
		if b.AD != nil {
			st = &b.AD.Stats
		}
		xs = bondXstats(b, st)
	} else if p, ok := x.ports[idx]; ok && mask&statsBit(unix.IFLA_STATS_LINK_XSTATS_SLAVE) != 0 {
		attr = unix.IFLA_STATS_LINK_XSTATS_SLAVE
		xs = bondXstats(p.b, p.s.ADStats)
	} else {
		return nil, false
	}
	var msg netlink.Message
	if err := msg.UnmarshalBinary(m); err != nil {
		return nil, false
	}
	as, ok := decodeAttrs(msg.Data[ifStatsMsgLen:])
	if !ok {
		return nil, false
	}
	a := netlink.Attribute{Type: attr, Data: xs.encode()}
	// rtnl_fill_statsinfo's order is the attribute numbers' order.
	at := len(as)
	for i := range as {
		t := as[i].Type & attrTypeMask
		if t == attr {
			as[i] = a
			at = -1
			break
		}
		if t > attr {
			at = i
			break
		}
	}
	if at >= 0 {
		as = append(as[:at], append(attrs{a}, as[at:]...)...)
	}
	body := append(append([]byte(nil), msg.Data[:ifStatsMsgLen]...), attrs(as).encode()...)
	msg.Header.Length = uint32(nlmsgHdrLen + len(body))
	msg.Data = body
	out, err := msg.MarshalBinary()
	if err != nil {
		return nil, false
	}
	return out, true
}
