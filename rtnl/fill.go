package rtnl

import (
	"net"

	"github.com/mdlayher/netlink"
	"github.com/mdlayher/netlink/nlenc"
	"golang.org/x/sys/unix"

	"bondingfs/bond"
)

// attrs is an attribute list in the order it goes on the wire. Types are
// kept raw (flags included) so that a decoded list re-encodes to the same
// bytes.
type attrs []netlink.Attribute

func (a *attrs) u8(typ uint16, v int) {
	*a = append(*a, netlink.Attribute{Type: typ, Data: []byte{uint8(v)}})
}
func (a *attrs) u16(typ uint16, v int) { a.raw(typ, nlenc.Uint16Bytes(uint16(v))) }
func (a *attrs) u32(typ uint16, v int) { a.raw(typ, nlenc.Uint32Bytes(uint32(v))) }
func (a *attrs) raw(typ uint16, b []byte) {
	*a = append(*a, netlink.Attribute{Type: typ, Data: b})
}

// nest appends inner as a nested attribute WITHOUT NLA_F_NESTED, as the
// kernel's nla_nest_start_noflag.
func (a *attrs) nest(typ uint16, inner attrs) { a.raw(typ, inner.encode()) }

// encode is the wire form (netlink.MarshalAttributes: 4-byte aligned, zero
// padding, as the kernel's __nla_reserve).
func (a attrs) encode() []byte {
	b, err := netlink.MarshalAttributes(a)
	if err != nil {
		// Only an attribute longer than 65535 bytes fails, and none of
		// ours can be: decoded ones came out of a uint16 length.
		panic("rtnl: " + err.Error())
	}
	return b
}

// find returns the index of the first attribute of type typ (flags
// ignored), or -1.
func (a attrs) find(typ uint16) int {
	for i := range a {
		if a[i].Type&attrTypeMask == typ {
			return i
		}
	}
	return -1
}

const attrTypeMask = ^uint16(unix.NLA_F_NESTED | unix.NLA_F_NET_BYTEORDER)

func decodeAttrs(b []byte) (attrs, bool) {
	if len(b) == 0 {
		return nil, true
	}
	l, err := netlink.UnmarshalAttributes(b)
	if err != nil {
		return nil, false
	}
	return l, true
}

// mac6 is a 6-byte Ethernet address, zero when a is not one.
func mac6(a net.HardwareAddr) []byte {
	b := make([]byte, 6)
	if len(a) == 6 {
		copy(b, a)
	}
	return b
}

// slaveIndex is the ifindex of b's slave named name, 0 when none.
func slaveIndex(b *bond.BondStatus, name string) int {
	if name == "" {
		return 0
	}
	for i := range b.Slaves {
		if b.Slaves[i].Name == name {
			return b.Slaves[i].Index
		}
	}
	return 0
}

// bondInfoData is IFLA_INFO_DATA of a bond master: the attributes of 6.1's
// bond_fill_info, in its order and with its types.
func bondInfoData(b *bond.BondStatus) attrs {
	p := &b.Params
	var a attrs
	a.u8(unix.IFLA_BOND_MODE, int(p.Mode))
	// bond_option_active_slave_get: curr_active_slave, only in the modes
	// that use one.
	if p.Mode.UsesPrimary() {
		if idx := slaveIndex(b, b.ActiveSlave); idx != 0 {
			a.u32(unix.IFLA_BOND_ACTIVE_SLAVE, idx)
		}
	}
	a.u32(unix.IFLA_BOND_MIIMON, p.Miimon)
	a.u32(unix.IFLA_BOND_UPDELAY, p.UpDelay*p.Miimon)
	a.u32(unix.IFLA_BOND_DOWNDELAY, p.DownDelay*p.Miimon)
	a.u32(unix.IFLA_BOND_PEER_NOTIF_DELAY, p.PeerNotifDelay*p.Miimon)
	a.u8(unix.IFLA_BOND_USE_CARRIER, p.UseCarrier)
	a.u32(unix.IFLA_BOND_ARP_INTERVAL, p.ARPInterval)
	// The targets nest: one big-endian IPv4 address per slot, typed by the
	// slot number (from 0); left out when there is none.
	var t attrs
	for i, ip := range p.ARPTargets {
		if i >= bond.MaxARPTargets {
			break
		}
		if ip.Is4() {
			v := ip.As4()
			t.raw(uint16(i), v[:])
		}
	}
	if len(t) > 0 {
		a.nest(unix.IFLA_BOND_ARP_IP_TARGET, t)
	}
	a.u32(unix.IFLA_BOND_ARP_VALIDATE, int(p.ARPValidate))
	a.u32(unix.IFLA_BOND_ARP_ALL_TARGETS, p.ARPAllTargets)
	// The NS targets nest: one 16-byte address per slot, typed by the slot
	// number; left out when there is none (nla_nest_cancel).
	var n6 attrs
	for i, ip := range p.NSTargets {
		if i >= bond.MaxNSTargets {
			break
		}
		v := ip.As16()
		n6.raw(uint16(i), v[:])
	}
	if len(n6) > 0 {
		a.nest(unix.IFLA_BOND_NS_IP6_TARGET, n6)
	}
	if idx := slaveIndex(b, b.PrimarySlave); idx != 0 {
		a.u32(unix.IFLA_BOND_PRIMARY, idx)
	}
	a.u8(unix.IFLA_BOND_PRIMARY_RESELECT, int(p.PrimaryReselect))
	a.u8(unix.IFLA_BOND_FAIL_OVER_MAC, int(p.FailOverMAC))
	a.u8(unix.IFLA_BOND_XMIT_HASH_POLICY, int(p.XmitPolicy))
	a.u32(unix.IFLA_BOND_RESEND_IGMP, p.ResendIGMP)
	a.u8(unix.IFLA_BOND_NUM_PEER_NOTIF, p.NumPeerNotif)
	a.u8(unix.IFLA_BOND_ALL_SLAVES_ACTIVE, p.AllSlavesActive)
	a.u32(unix.IFLA_BOND_MIN_LINKS, p.MinLinks)
	a.u32(unix.IFLA_BOND_LP_INTERVAL, p.LpInterval)
	a.u32(unix.IFLA_BOND_PACKETS_PER_SLAVE, p.PacketsPerSlave)
	a.u8(unix.IFLA_BOND_AD_LACP_ACTIVE, p.LACPActive)
	a.u8(unix.IFLA_BOND_AD_LACP_RATE, int(p.LACPRate))
	a.u8(unix.IFLA_BOND_AD_SELECT, int(p.ADSelect))
	a.u8(unix.IFLA_BOND_TLB_DYNAMIC_LB, p.TLBDynamicLB)
	a.u8(unix.IFLA_BOND_MISSED_MAX, p.MissedMax)
	// coupled_control: the engine has no such option and behaves as its
	// default, on (the oracle kernel, 6.1.192, reports it).
	a.u8(unix.IFLA_BOND_COUPLED_CONTROL, 1)
	if p.Mode == bond.Mode8023AD {
		a.u16(unix.IFLA_BOND_AD_ACTOR_SYS_PRIO, p.ADActorSysPrio)
		a.u16(unix.IFLA_BOND_AD_USER_PORT_KEY, p.ADUserPortKey)
		a.raw(unix.IFLA_BOND_AD_ACTOR_SYSTEM, mac6(p.ADActorSystem))
		// bond_3ad_get_active_agg_info succeeds only with an active
		// aggregator.
		if b.AD != nil && b.AD.ActiveAggregator != nil {
			ag := b.AD.ActiveAggregator
			var i attrs
			i.u16(unix.IFLA_BOND_AD_INFO_AGGREGATOR, ag.ID)
			i.u16(unix.IFLA_BOND_AD_INFO_NUM_PORTS, ag.NumPorts)
			i.u16(unix.IFLA_BOND_AD_INFO_ACTOR_KEY, ag.ActorKey)
			i.u16(unix.IFLA_BOND_AD_INFO_PARTNER_KEY, ag.PartnerKey)
			i.raw(unix.IFLA_BOND_AD_INFO_PARTNER_MAC, mac6(ag.PartnerMAC))
			a.nest(unix.IFLA_BOND_AD_INFO, i)
		}
	}
	return a
}

// slaveInfoData is IFLA_INFO_SLAVE_DATA of a port: the attributes of 6.1's
// bond_fill_slave_info, in its order and with its types.
func slaveInfoData(b *bond.BondStatus, s *bond.SlaveStatus) attrs {
	var a attrs
	state := 1 // BOND_STATE_BACKUP
	if s.Active {
		state = 0 // BOND_STATE_ACTIVE
	}
	a.u8(unix.IFLA_BOND_SLAVE_STATE, state)
	a.u8(unix.IFLA_BOND_SLAVE_MII_STATUS, int(s.Link))
	a.u32(unix.IFLA_BOND_SLAVE_LINK_FAILURE_COUNT, s.LinkFailureCount)
	perm := s.PermHWAddr
	if perm == nil {
		perm = net.HardwareAddr{}
	}
	a.raw(unix.IFLA_BOND_SLAVE_PERM_HWADDR, append([]byte(nil), perm...))
	a.u16(unix.IFLA_BOND_SLAVE_QUEUE_ID, s.QueueID)
	// The engine has no per-port prio option: every port has the default
	// prio 0, which 6.1 reports as a signed 32-bit value.
	a.u32(unix.IFLA_BOND_SLAVE_PRIO, 0)
	if b.Params.Mode == bond.Mode8023AD {
		prio := 255 // the actor port priority a port starts with
		if s.AD != nil && s.AD.AggregatorID != 0 {
			a.u16(unix.IFLA_BOND_SLAVE_AD_AGGREGATOR_ID, s.AD.AggregatorID)
			a.u8(unix.IFLA_BOND_SLAVE_AD_ACTOR_OPER_PORT_STATE, s.AD.ActorOperState)
			a.u16(unix.IFLA_BOND_SLAVE_AD_PARTNER_OPER_PORT_STATE, s.AD.PartnerOperState)
			// The oracle kernel (6.1.192) then reports the churn machine
			// states (AD_CHURN_MONITOR 0, AD_CHURN 1, AD_NO_CHURN 2).
			a.u8(ifla_bond_slave_ad_churn_actor_state, churnState(s.AD.ActorChurnState))
			a.u8(ifla_bond_slave_ad_churn_partner_state, churnState(s.AD.PartnerChurnState))
		}
		if s.AD != nil {
			prio = s.AD.Actor.PortPriority
		}
		// and, aggregator or not, the actor's port priority.
		a.u16(ifla_bond_slave_actor_port_prio, prio)
	}
	return a
}

// Slave attributes the oracle kernel (Debian's 6.1.192) sends that
// golang.org/x/sys/unix does not name yet; numbers and types as recorded in
// testdata/rtnl/golden.
const (
	ifla_bond_slave_actor_port_prio        = 0xa // u16
	ifla_bond_slave_ad_churn_actor_state   = 0xb // u8
	ifla_bond_slave_ad_churn_partner_state = 0xc // u8
)

// churnState is the kernel's number of a churn detection state, as
// bond.ADSlaveStatus names it ("monitoring", "churned", "none").
func churnState(s string) int {
	switch s {
	case "churned":
		return 1
	case "none":
		return 2
	}
	return 0
}
