package rtnl

import (
	"bytes"
	"net"
	"net/netip"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"

	"bondingfs/bond"
)

var (
	bondMAC = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x01}
	eth0MAC = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x02}
	eth1MAC = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x03}
)

// tapMsg is an RTM_NEWLINK of a TAP as a kernel sends it: the generic
// attributes of rtnl_fill_ifinfo (a subset, in its order) and a "tun"
// linkinfo with data.
func tapMsg(idx int32, name string, flags uint32, seq uint32) []byte {
	return linkMsg(unix.RTM_NEWLINK, idx, name, flags, seq, func(li *nl.RtAttr) {
		li.AddRtAttr(nl.IFLA_INFO_KIND, nl.ZeroTerminated("tun"))
		d := li.AddRtAttr(nl.IFLA_INFO_DATA, nil)
		d.AddRtAttr(nl.IFLA_TUN_TYPE, nl.Uint8Attr(2))
		d.AddRtAttr(nl.IFLA_TUN_PI, nl.Uint8Attr(0))
	}, 65521)
}

// vethMsg is an RTM_NEWLINK of a veth (linkinfo with KIND only).
func vethMsg(idx int32, name string, flags uint32, seq uint32) []byte {
	return linkMsg(unix.RTM_NEWLINK, idx, name, flags, seq, func(li *nl.RtAttr) {
		li.AddRtAttr(nl.IFLA_INFO_KIND, nl.ZeroTerminated("veth"))
	}, 65535)
}

func linkMsg(typ uint16, idx int32, name string, flags uint32, seq uint32, linkinfo func(*nl.RtAttr), maxMTU uint32) []byte {
	req := nl.NewNetlinkRequest(int(typ), unix.NLM_F_MULTI)
	req.Seq = seq
	req.Pid = 1234
	msg := nl.NewIfInfomsg(unix.AF_UNSPEC)
	msg.Index = idx
	msg.Type = unix.ARPHRD_ETHER
	msg.Flags = flags
	req.AddData(msg)
	add := func(t int, b []byte) { req.AddData(nl.NewRtAttr(t, b)) }
	add(unix.IFLA_IFNAME, nl.ZeroTerminated(name))
	add(unix.IFLA_TXQLEN, nl.Uint32Attr(1000))
	oper := uint8(operDown)
	if flags&unix.IFF_LOWER_UP != 0 {
		oper = operUp
	}
	add(unix.IFLA_OPERSTATE, nl.Uint8Attr(oper))
	add(unix.IFLA_LINKMODE, nl.Uint8Attr(0))
	add(unix.IFLA_MTU, nl.Uint32Attr(1500))
	add(unix.IFLA_MIN_MTU, nl.Uint32Attr(68))
	add(unix.IFLA_MAX_MTU, nl.Uint32Attr(maxMTU))
	add(unix.IFLA_GROUP, nl.Uint32Attr(0))
	add(unix.IFLA_NUM_TX_QUEUES, nl.Uint32Attr(1))
	add(unix.IFLA_NUM_RX_QUEUES, nl.Uint32Attr(1))
	carrier := uint8(0)
	if flags&unix.IFF_LOWER_UP != 0 {
		carrier = 1
	}
	add(unix.IFLA_CARRIER, nl.Uint8Attr(carrier))
	add(unix.IFLA_QDISC, nl.ZeroTerminated("noop"))
	add(unix.IFLA_PROTO_DOWN, nl.Uint8Attr(0))
	add(unix.IFLA_ADDRESS, bondMAC)
	xdp := nl.NewRtAttr(unix.IFLA_XDP, nil)
	xdp.AddRtAttr(nl.IFLA_XDP_ATTACHED, nl.Uint8Attr(0))
	req.AddData(xdp)
	if linkinfo != nil {
		li := nl.NewRtAttr(unix.IFLA_LINKINFO, nil)
		linkinfo(li)
		req.AddData(li)
	}
	req.AddData(nl.NewRtAttr(unix.IFLA_AF_SPEC, nil))
	return req.Serialize()
}

func doneMsg(seq uint32) []byte {
	req := nl.NewNetlinkRequest(unix.NLMSG_DONE, unix.NLM_F_MULTI)
	req.Seq = seq
	req.Pid = 1234
	req.AddRawData(make([]byte, 4))
	return req.Serialize()
}

func snap802(t *testing.T) *bond.Snapshot {
	t.Helper()
	p := bond.DefaultParams()
	p.Mode = bond.Mode8023AD
	p.Miimon = 100
	p.UpDelay = 2
	p.LACPRate = bond.LACPRateFast
	p.XmitPolicy = bond.XmitLayer34
	b := &bond.BondStatus{
		Name: "bond0", Index: 5, Params: p, Up: true, Carrier: true, HWAddr: bondMAC, MTU: 1500,
		AD: &bond.ADStatus{ActiveAggregator: &bond.ADAggregator{ID: 1, NumPorts: 2, ActorKey: 9, PartnerKey: 9, PartnerMAC: net.HardwareAddr{2, 0, 0, 0, 1, 1}}},
		Slaves: []bond.SlaveStatus{
			{Name: "eth0", Index: 6, Link: bond.LinkUp, Active: true, PermHWAddr: eth0MAC, QueueID: 0,
				AD: &bond.ADSlaveStatus{AggregatorID: 1, ActorOperState: 0x3d, PartnerOperState: 0x3f}},
			{Name: "eth1", Index: 7, Link: bond.LinkDown, Active: false, LinkFailureCount: 3, PermHWAddr: eth1MAC, QueueID: 2,
				AD: &bond.ADSlaveStatus{AggregatorID: 2, ActorOperState: 0x45, PartnerOperState: 0x01}},
		},
	}
	return &bond.Snapshot{Bonds: []*bond.BondStatus{b}}
}

// deserialize splits buf and returns the links vishvananda/netlink makes of
// its RTM_NEWLINK messages.
func deserialize(t *testing.T, buf []byte) []netlink.Link {
	t.Helper()
	var out []netlink.Link
	walk(buf, func(m []byte, ok bool) {
		if !ok {
			t.Fatalf("malformed message in output: % x", m)
		}
		var h unix.NlMsghdr
		h.Type = uint16(m[4]) | uint16(m[5])<<8
		if h.Type != unix.RTM_NEWLINK {
			return
		}
		l, err := netlink.LinkDeserialize(&h, m[nlmsgHdrLen:])
		if err != nil {
			t.Fatalf("LinkDeserialize: %v", err)
		}
		out = append(out, l)
	})
	return out
}

func TestRewriteRoundTripVishvananda(t *testing.T) {
	snap := snap802(t)
	up := uint32(unix.IFF_UP | unix.IFF_BROADCAST | unix.IFF_MULTICAST)
	var in []byte
	in = append(in, tapMsg(5, "bond0", up, 7)...)
	in = append(in, vethMsg(6, "eth0", up|unix.IFF_RUNNING|unix.IFF_LOWER_UP, 7)...)
	in = append(in, vethMsg(7, "eth1", up, 7)...)
	in = append(in, vethMsg(8, "other", up, 7)...)
	in = append(in, doneMsg(7)...)
	if !Concerns(in, snap) {
		t.Fatal("Concerns = false for a dump with the bond")
	}
	out := Rewrite(in, snap, Filter{})
	links := deserialize(t, out)
	if len(links) != 4 {
		t.Fatalf("got %d links, want 4", len(links))
	}
	b, ok := links[0].(*netlink.Bond)
	if !ok {
		t.Fatalf("bond0 deserialized as %T (%s)", links[0], links[0].Type())
	}
	if b.Mode != netlink.BOND_MODE_802_3AD || b.Miimon != 100 || b.UpDelay != 200 ||
		b.LacpRate != netlink.BOND_LACP_RATE_FAST || b.XmitHashPolicy != netlink.BOND_XMIT_HASH_POLICY_LAYER3_4 ||
		b.MinLinks != 0 || b.AdActorSysPrio != 65535 {
		t.Errorf("bond = %+v", b)
	}
	a := b.Attrs()
	if a.RawFlags&unix.IFF_MASTER == 0 || a.RawFlags&unix.IFF_LOWER_UP == 0 || a.OperState != netlink.OperUp || a.NumTxQueues != 16 {
		t.Errorf("bond attrs flags %#x oper %v txq %d", a.RawFlags, a.OperState, a.NumTxQueues)
	}
	for i, want := range []struct {
		state netlink.BondSlaveState
		mii   netlink.BondSlaveMiiStatus
		fails uint32
		mac   net.HardwareAddr
		q     uint16
		agg   uint16
	}{
		{netlink.BondStateActive, netlink.BondLinkUp, 0, eth0MAC, 0, 1},
		{netlink.BondStateBackup, netlink.BondLinkDown, 3, eth1MAC, 2, 2},
	} {
		l := links[1+i].Attrs()
		if l.MasterIndex != 5 || l.RawFlags&unix.IFF_SLAVE == 0 || l.Slave == nil {
			t.Fatalf("port %d: master %d flags %#x slave %v", i, l.MasterIndex, l.RawFlags, l.Slave)
		}
		if links[1+i].Type() != "veth" {
			t.Errorf("port %d lost its kind: %s", i, links[1+i].Type())
		}
		s, ok := l.Slave.(*netlink.BondSlave)
		if !ok {
			t.Fatalf("port %d slave is %T", i, l.Slave)
		}
		if s.State != want.state || s.MiiStatus != want.mii || s.LinkFailureCount != want.fails ||
			!bytes.Equal(s.PermHardwareAddr, want.mac) || s.QueueId != want.q || s.AggregatorId != want.agg {
			t.Errorf("port %d = %+v", i, s)
		}
	}
	if o := links[3].Attrs(); o.MasterIndex != 0 || o.Slave != nil || o.RawFlags&unix.IFF_SLAVE != 0 {
		t.Errorf("unrelated link changed: %+v", o)
	}
	// The unrelated link and NLMSG_DONE come through byte for byte.
	tail := append(vethMsg(8, "other", up, 7), doneMsg(7)...)
	if !bytes.HasSuffix(out, tail) {
		t.Error("unrelated messages were not copied unchanged")
	}
}

func TestRewriteActiveBackupTargets(t *testing.T) {
	p := bond.DefaultParams()
	p.Mode = bond.ModeActiveBackup
	p.ARPInterval = 1000
	p.ARPTargets = []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.9")}
	snap := &bond.Snapshot{Bonds: []*bond.BondStatus{{
		Name: "bond1", Index: 9, Params: p, ActiveSlave: "eth0", PrimarySlave: "eth0",
		Slaves: []bond.SlaveStatus{{Name: "eth0", Index: 6, Active: true, PermHWAddr: eth0MAC}},
	}}}
	out := Rewrite(tapMsg(9, "bond1", unix.IFF_BROADCAST|unix.IFF_MULTICAST, 1), snap, Filter{})
	links := deserialize(t, out)
	b, ok := links[0].(*netlink.Bond)
	if !ok {
		t.Fatalf("got %T", links[0])
	}
	if b.Mode != netlink.BOND_MODE_ACTIVE_BACKUP || b.ActiveSlave != 6 || b.Primary != 6 || b.ArpInterval != 1000 ||
		len(b.ArpIpTargets) != 2 || !b.ArpIpTargets[1].Equal(net.IPv4(192, 0, 2, 9)) {
		t.Errorf("bond = %+v", b)
	}
	if a := b.Attrs(); a.RawFlags&(unix.IFF_RUNNING|unix.IFF_LOWER_UP) != 0 || a.OperState != netlink.OperDown {
		t.Errorf("down bond flags %#x oper %v", a.RawFlags, a.OperState)
	}
}

// A port without rtnl_link_ops (a physical NIC) has no IFLA_LINKINFO: the
// rewritten message gets one, right after IFLA_XDP (rtnl_link_fill's place),
// with only the slave kind and data.
func TestRewritePortWithoutLinkInfo(t *testing.T) {
	snap := snap802(t)
	nic := linkMsg(unix.RTM_NEWLINK, 6, "eth0", unix.IFF_UP, 1, nil, 9216)
	l, ok := parseLink(Rewrite(nic, snap, Filter{}))
	if !ok {
		t.Fatal("output not a link message")
	}
	xdp, li := l.attrs.find(unix.IFLA_XDP), l.attrs.find(unix.IFLA_LINKINFO)
	if li < 0 || li != xdp+1 || l.attrs[li+1].Type != unix.IFLA_AF_SPEC {
		t.Fatalf("IFLA_LINKINFO at %d, IFLA_XDP at %d", li, xdp)
	}
	info, _ := l.linkInfo()
	if len(info) != 2 || info[0].Type != unix.IFLA_INFO_SLAVE_KIND || info[1].Type != unix.IFLA_INFO_SLAVE_DATA {
		t.Errorf("linkinfo %v", info)
	}
}

// A bond that is a bridge port keeps the bridge's slave kind and data; an
// RTM_DELLINK of the bond is rewritten too (ip monitor's "Deleted").
func TestRewriteBondAsPortAndDellink(t *testing.T) {
	snap := snap802(t)
	msg := linkMsg(unix.RTM_DELLINK, 5, "bond0", unix.IFF_UP, 0, func(li *nl.RtAttr) {
		li.AddRtAttr(nl.IFLA_INFO_KIND, nl.ZeroTerminated("tun"))
		li.AddRtAttr(nl.IFLA_INFO_SLAVE_KIND, nl.ZeroTerminated("bridge"))
		li.AddRtAttr(nl.IFLA_INFO_SLAVE_DATA, nl.Uint8Attr(3))
	}, 65521)
	l, ok := parseLink(Rewrite(msg, snap, Filter{}))
	if !ok || uint16(l.hdr.Type) != unix.RTM_DELLINK {
		t.Fatal("not an RTM_DELLINK")
	}
	info, _ := l.linkInfo()
	var types []uint16
	for _, a := range info {
		types = append(types, a.Type)
	}
	want := []uint16{unix.IFLA_INFO_KIND, unix.IFLA_INFO_DATA, unix.IFLA_INFO_SLAVE_KIND, unix.IFLA_INFO_SLAVE_DATA}
	if l.kind() != "bond" || len(types) != 4 || types[0] != want[0] || types[1] != want[1] || types[2] != want[2] || types[3] != want[3] {
		t.Errorf("linkinfo types %v, kind %q", types, l.kind())
	}
	// Filters apply to RTM_NEWLINK only.
	if out := Rewrite(msg, snap, Filter{Kind: "veth"}); len(out) == 0 {
		t.Error("a dump filter removed an RTM_DELLINK")
	}
}
