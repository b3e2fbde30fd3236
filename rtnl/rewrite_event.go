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
		// its ports: an enslave or release is announced on the bond too
		for i := range b.Slaves {
			a.u32(4, b.Slaves[i].Index)
		}
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

// Change is one device whose rewritten link message differs between two
// snapshots, and the IFLA_EVENT its synthesized RTM_NEWLINK carries.
type Change struct {
	Index int32  // ifindex of the bond's TAP or of the port
	Event uint32 // EventNone, EventBondingFailover or EventBondingOptions
}

// Changed returns the devices whose rewritten link message differs between
// old and new, ports first, then bonds, each in ascending ifindex (6.1
// announces an enslave on the port, then on the bond): ports enslaved,
// released or whose slave state changed (EventNone); bonds whose active
// slave changed in active-backup (EventBondingFailover, as
// NETDEV_BONDING_FAILOVER), or whose options, ports or 802.3ad aggregator
// changed (EventBondingOptions, as NETDEV_CHANGEINFODATA), or only whose
// carrier or up state changed (EventNone). A bond that is gone is left out
// (its TAP's own RTM_DELLINK announces it); its ports are in the list.
func Changed(old, new *bond.Snapshot) []Change {
	ov, nv := views(old), views(new)
	oldBonds, newBonds := bondsByIndex(old), bondsByIndex(new)
	var ports, bonds []Change
	for idx, v := range nv {
		if bytes.Equal(ov[idx], v) {
			continue
		}
		nb, isBond := newBonds[idx]
		if !isBond {
			ports = append(ports, Change{Index: idx})
			continue
		}
		ev := uint32(EventNone)
		if ob, ok := oldBonds[idx]; !ok {
			ev = EventBondingOptions
		} else if ob.ActiveSlave != nb.ActiveSlave && nb.ActiveSlave != "" && nb.Params.Mode.IsActiveBackup() {
			ev = EventBondingFailover
		} else if !bytes.Equal(bondInfoData(ob).encode(), bondInfoData(nb).encode()) || !sameSlaves(ob, nb) {
			ev = EventBondingOptions
		}
		bonds = append(bonds, Change{Index: idx, Event: ev})
	}
	for idx := range ov {
		if _, ok := nv[idx]; !ok {
			if _, wasBond := oldBonds[idx]; !wasBond {
				ports = append(ports, Change{Index: idx})
			}
		}
	}
	byIndex := func(a, b Change) int { return int(a.Index) - int(b.Index) }
	slices.SortFunc(ports, byIndex)
	slices.SortFunc(bonds, byIndex)
	return append(ports, bonds...)
}

func bondsByIndex(s *bond.Snapshot) map[int32]*bond.BondStatus {
	m := map[int32]*bond.BondStatus{}
	if s != nil {
		for _, b := range s.Bonds {
			if b != nil {
				m[int32(b.Index)] = b
			}
		}
	}
	return m
}

func sameSlaves(a, b *bond.BondStatus) bool {
	if len(a.Slaves) != len(b.Slaves) {
		return false
	}
	for i := range a.Slaves {
		if a.Slaves[i].Index != b.Slaves[i].Index {
			return false
		}
	}
	return true
}
