package rtnl

import (
	"bytes"
	"slices"

	"github.com/mdlayher/netlink"
	"github.com/mdlayher/netlink/nlenc"
	"golang.org/x/sys/unix"

	"bondingfs/bond"
)

// IFLA_EVENT values (enum rtnl_link_ifla_events) the kernel puts in the
// RTM_NEWLINK events of netdev notifications a bond raises.
const (
	EventNone            = unix.IFLA_EVENT_NONE             // no IFLA_EVENT attribute
	EventBondingFailover = unix.IFLA_EVENT_BONDING_FAILOVER // NETDEV_BONDING_FAILOVER: curr_active_slave changed
	EventNotifyPeers     = unix.IFLA_EVENT_NOTIFY_PEERS     // NETDEV_NOTIFY_PEERS
	EventIGMPResend      = unix.IFLA_EVENT_IGMP_RESEND      // NETDEV_RESEND_IGMP
	EventBondingOptions  = unix.IFLA_EVENT_BONDING_OPTIONS  // NETDEV_CHANGEINFODATA: an option changed
)

// Event turns reply, the kernel's answer to an RTM_GETLINK of one device
// (one RTM_NEWLINK message, header included), into the RTM_NEWLINK event
// 6.1 multicasts to RTNLGRP_LINK for that device (rtmsg_ifinfo: nlmsg_seq
// and nlmsg_pid 0, no flags), rewritten for snap as Rewrite does, with
// IFLA_EVENT ev unless ev is EventNone. It returns nil when reply is not
// one well-formed link message.
//
// The supervisor uses it for the changes the kernel cannot announce
// because it never saw them (enslave, release, options, failover): for each
// ifindex of Changed, an RTM_GETLINK on its own socket, then Event, then a
// unicast to every supervised RTNLGRP_LINK member.
func Event(reply []byte, snap *bond.Snapshot, ev uint32) []byte {
	var one []byte
	n := 0
	walk(reply, func(m []byte, ok bool) {
		n++
		if ok {
			one = m
		}
	})
	if n != 1 || one == nil {
		return nil
	}
	l, ok := parseLink(Rewrite(one, snap, Filter{}))
	if !ok || uint16(l.hdr.Type) != unix.RTM_NEWLINK {
		return nil
	}
	l.hdr.Sequence, l.hdr.PID, l.hdr.Flags = 0, 0, 0
	if i := l.attrs.find(unix.IFLA_EVENT); i >= 0 {
		l.attrs = slices.Delete(l.attrs, i, i+1)
	}
	if ev != EventNone {
		// rtnl_fill_ifinfo writes IFLA_EVENT right after the proto_down
		// attributes.
		a := netlink.Attribute{Type: unix.IFLA_EVENT, Data: nlenc.Uint32Bytes(ev)}
		at := -1
		for i := range l.attrs {
			switch l.attrs[i].Type & attrTypeMask {
			case unix.IFLA_PROTO_DOWN, unix.IFLA_PROTO_DOWN_REASON:
				at = i + 1
			}
		}
		if at < 0 {
			l.attrs = append(l.attrs, a)
		} else {
			l.attrs = slices.Insert(l.attrs, at, a)
		}
	}
	return l.encode()
}

// view is what Rewrite shows of one ifindex, to compare two snapshots.
func views(snap *bond.Snapshot) map[int32][]byte {
	v := map[int32][]byte{}
	if snap == nil {
		return v
	}
	for _, b := range snap.Bonds {
		if b == nil {
			continue
		}
		var a attrs
		a.u8(1, boolInt(b.Carrier))
		a.u8(2, boolInt(b.Up))
		a.nest(3, bondInfoData(b))
		v[int32(b.Index)] = a.encode()
		for i := range b.Slaves {
			s := &b.Slaves[i]
			var p attrs
			p.u32(1, b.Index)
			p.nest(2, slaveInfoData(b, s))
			v[int32(s.Index)] = p.encode()
		}
	}
	return v
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Changed returns, in ascending order, the ifindexes whose rewritten link
// message differs between old and new: bonds whose options, active slave,
// carrier or 802.3ad aggregator changed, ports enslaved, released or whose
// slave state changed. A bond that is gone is left out (its TAP's own
// RTM_DELLINK announces it); its ports are in the list.
func Changed(old, new *bond.Snapshot) []int32 {
	ov, nv := views(old), views(new)
	gone := map[int32]bool{}
	if old != nil {
		for _, b := range old.Bonds {
			if b != nil && (new == nil || !hasBond(new, b.Index)) {
				gone[int32(b.Index)] = true
			}
		}
	}
	var out []int32
	for idx, v := range nv {
		if !bytes.Equal(ov[idx], v) {
			out = append(out, idx)
		}
	}
	for idx := range ov {
		if _, ok := nv[idx]; !ok && !gone[idx] {
			out = append(out, idx)
		}
	}
	slices.Sort(out)
	return out
}

func hasBond(s *bond.Snapshot, idx int) bool {
	for _, b := range s.Bonds {
		if b != nil && b.Index == idx {
			return true
		}
	}
	return false
}
