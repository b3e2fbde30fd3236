package rtnl

import (
	"encoding/binary"
	"testing"

	"github.com/mdlayher/netlink"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"bondingfs/bond"
)

// reqMsg builds an RTM_*LINK request the way iproute2 sends it.
func reqMsg(t testing.TB, typ uint16, flags netlink.HeaderFlags, index int32, ifinfoFlags uint32, attrs func(ae *netlink.AttributeEncoder)) []byte {
	body := make([]byte, unix.SizeofIfInfomsg)
	binary.NativeEndian.PutUint32(body[4:8], uint32(index))
	binary.NativeEndian.PutUint32(body[8:12], ifinfoFlags)
	binary.NativeEndian.PutUint32(body[12:16], ifinfoFlags)
	if attrs != nil {
		ae := netlink.NewAttributeEncoder()
		attrs(ae)
		b, err := ae.Encode()
		require.NoError(t, err)
		body = append(body, b...)
	}
	b := marshal(netlink.Header{Type: netlink.HeaderType(typ), Flags: netlink.Request | flags, Sequence: 7}, body)
	require.NotNil(t, b)
	return b
}

// reqLinkInfo encodes IFLA_LINKINFO as iproute2 does: no NLA_F_NESTED.
func reqLinkInfo(kind string, data func(ae *netlink.AttributeEncoder)) func(ae *netlink.AttributeEncoder) {
	return func(ae *netlink.AttributeEncoder) {
		ae.Do(unix.IFLA_LINKINFO, func() ([]byte, error) {
			in := netlink.NewAttributeEncoder()
			in.String(unix.IFLA_INFO_KIND, kind)
			if data != nil {
				in.Do(unix.IFLA_INFO_DATA, func() ([]byte, error) {
					d := netlink.NewAttributeEncoder()
					data(d)
					return d.Encode()
				})
			}
			return in.Encode()
		})
	}
}

// The bytes iproute2 6.1 sends for
// `ip link add bond1 type bond mode 802.3ad miimon 100 lacp_rate fast`.
var ipLinkAddBond1 = []byte{
	84, 0, 0, 0, 16, 0, 0x05, 0x06, 0x8d, 0x0e, 0x16, 0x6b, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	10, 0, 3, 0, 'b', 'o', 'n', 'd', '1', 0, 0, 0,
	40, 0, 18, 0,
	8, 0, 1, 0, 'b', 'o', 'n', 'd',
	28, 0, 2, 0, 5, 0, 1, 0, 4, 0, 0, 0, 8, 0, 3, 0, 100, 0, 0, 0, 5, 0, 0x15, 0, 1, 0, 0, 0,
}

type reqLinks map[int32]string

func (f reqLinks) NameOf(i int32) (string, bool) { n, ok := f[i]; return n, ok }

func TestDecodeIPLinkAdd(t *testing.T) {
	r, err := DecodeLink(ipLinkAddBond1)
	require.NoError(t, err)
	assert.Equal(t, "bond1", r.Name)
	assert.Equal(t, "bond", r.Kind)
	assert.True(t, r.HasData)
	assert.True(t, Classify(ipLinkAddBond1, &bond.Snapshot{}))
	opts, lerr := BondOptions(r.Data, reqLinks{})
	require.Nil(t, lerr)
	assert.Equal(t, []bond.LinkOption{{Name: "mode", Value: "4"}, {Name: "miimon", Value: "100"}, {Name: "lacp_rate", Value: "1"}}, opts)
	assert.Nil(t, r.Rest(5, false, false), "nothing left for the kernel")
}

// Every option in bond_changelink's order, whatever order they came in.
func TestBondOptionsOrder(t *testing.T) {
	links := reqLinks{3: "eth0", 4: "eth1"}
	m := reqMsg(t, unix.RTM_NEWLINK, netlink.Acknowledge, 9, 0, reqLinkInfo("bond", func(ae *netlink.AttributeEncoder) {
		ae.Uint8(unix.IFLA_BOND_MISSED_MAX, 3)
		ae.Bytes(unix.IFLA_BOND_AD_ACTOR_SYSTEM, []byte{2, 0, 0, 0, 0, 9})
		ae.Uint16(unix.IFLA_BOND_AD_ACTOR_SYS_PRIO, 100)
		ae.Uint32(unix.IFLA_BOND_PRIMARY, 4)
		ae.Do(unix.IFLA_BOND_ARP_IP_TARGET, func() ([]byte, error) {
			n := netlink.NewAttributeEncoder()
			n.Bytes(0, []byte{192, 0, 2, 1})
			n.Bytes(1, []byte{192, 0, 2, 2})
			return n.Encode()
		})
		ae.Uint32(unix.IFLA_BOND_ARP_INTERVAL, 250)
		ae.Uint8(unix.IFLA_BOND_NUM_PEER_NOTIF, 2)
		ae.Uint32(unix.IFLA_BOND_ACTIVE_SLAVE, 3)
		ae.Uint8(unix.IFLA_BOND_MODE, 1)
		ae.Uint32(33, 1) // above IFLA_BOND_MAX of 6.1: ignored
	}))
	r, err := DecodeLink(m)
	require.NoError(t, err)
	opts, lerr := BondOptions(r.Data, links)
	require.Nil(t, lerr)
	assert.Equal(t, []bond.LinkOption{
		{Name: "mode", Value: "1"},
		{Name: "active_slave", Value: "eth0"},
		{Name: "arp_interval", Value: "250"},
		{Name: "arp_ip_target", Value: ""},
		{Name: "arp_ip_target", Value: "+192.0.2.1", LogValue: "16908480"},
		{Name: "arp_ip_target", Value: "+192.0.2.2", LogValue: "33685696"},
		{Name: "primary", Value: "eth1"},
		{Name: "num_grat_arp", Value: "2"},
		{Name: "ad_actor_sys_prio", Value: "100"},
		{Name: "ad_actor_system", Value: "02:00:00:00:00:09", LogValue: "9895604649986"},
		{Name: "arp_missed_max", Value: "3"},
	}, opts)
}

// bond_changelink's own checks fail at their place; policy failures fail
// before anything is applied.
func TestBondOptionsChecks(t *testing.T) {
	enc := func(f func(ae *netlink.AttributeEncoder)) []byte {
		ae := netlink.NewAttributeEncoder()
		f(ae)
		b, err := ae.Encode()
		require.NoError(t, err)
		return b
	}
	opts, lerr := BondOptions(enc(func(ae *netlink.AttributeEncoder) {
		ae.Uint32(unix.IFLA_BOND_MIIMON, 100)
		ae.Uint32(unix.IFLA_BOND_ARP_INTERVAL, 100)
	}), reqLinks{})
	require.Nil(t, lerr)
	assert.Equal(t, []bond.LinkOption{{Name: "miimon", Value: "100"}, {Errno: unix.EINVAL, ExtAck: "ARP monitoring cannot be used with MII monitoring"}}, opts)

	opts, lerr = BondOptions(enc(func(ae *netlink.AttributeEncoder) {
		ae.Uint32(unix.IFLA_BOND_ACTIVE_SLAVE, 77)
	}), reqLinks{})
	require.Nil(t, lerr)
	assert.Equal(t, []bond.LinkOption{{Errno: unix.ENODEV}}, opts)

	_, lerr = BondOptions(enc(func(ae *netlink.AttributeEncoder) {
		ae.Uint8(unix.IFLA_BOND_MODE, 1)
		ae.Uint16(unix.IFLA_BOND_MIIMON, 100) // shorter than NLA_U32
	}), reqLinks{})
	assert.Equal(t, &bond.LinkError{Errno: unix.ERANGE, Msg: policyMsg}, lerr)

	_, lerr = BondOptions(enc(func(ae *netlink.AttributeEncoder) {
		ae.Uint32(unix.IFLA_BOND_PEER_NOTIF_DELAY, 300001)
	}), reqLinks{})
	assert.Equal(t, &bond.LinkError{Errno: unix.ERANGE, Msg: "integer out of range"}, lerr)

	opts, lerr = BondOptions(enc(func(ae *netlink.AttributeEncoder) {
		ae.Bytes(unix.IFLA_BOND_AD_ACTOR_SYSTEM, []byte{2, 0, 0, 0, 0})
	}), reqLinks{})
	require.Nil(t, lerr)
	assert.Equal(t, []bond.LinkOption{{Errno: unix.EINVAL}}, opts)
}

func TestSlaveOptions(t *testing.T) {
	ae := netlink.NewAttributeEncoder()
	ae.Uint16(unix.IFLA_BOND_SLAVE_QUEUE_ID, 3)
	b, err := ae.Encode()
	require.NoError(t, err)
	opts, lerr := SlaveOptions("eth0", b)
	require.Nil(t, lerr)
	assert.Equal(t, []bond.LinkOption{{Name: "queue_id", Value: "eth0:3\n"}}, opts)
}

// Classify takes what concerns a bond and leaves the rest to the kernel.
func TestClassify(t *testing.T) {
	snap := &bond.Snapshot{Bonds: []*bond.BondStatus{{Name: "bond0", Index: 10, Slaves: []bond.SlaveStatus{{Name: "eth0", Index: 3}}}}}
	master := func(i uint32) func(ae *netlink.AttributeEncoder) {
		return func(ae *netlink.AttributeEncoder) { ae.Uint32(unix.IFLA_MASTER, i) }
	}
	name := func(n string) func(ae *netlink.AttributeEncoder) {
		return func(ae *netlink.AttributeEncoder) { ae.String(unix.IFLA_IFNAME, n) }
	}
	for _, c := range []struct {
		what string
		msg  []byte
		want bool
	}{
		{"create kind bond", reqMsg(t, unix.RTM_NEWLINK, netlink.Create|netlink.Excl, 0, 0, reqLinkInfo("bond", nil)), true},
		{"create kind veth", reqMsg(t, unix.RTM_NEWLINK, netlink.Create|netlink.Excl, 0, 0, reqLinkInfo("veth", nil)), false},
		{"up a bond", reqMsg(t, unix.RTM_NEWLINK, 0, 10, unix.IFF_UP, nil), true},
		{"up a port", reqMsg(t, unix.RTM_NEWLINK, 0, 3, unix.IFF_UP, nil), false},
		{"up another", reqMsg(t, unix.RTM_NEWLINK, 0, 4, unix.IFF_UP, nil), false},
		{"enslave", reqMsg(t, unix.RTM_SETLINK, 0, 4, 0, master(10)), true},
		{"release", reqMsg(t, unix.RTM_NEWLINK, 0, 3, 0, master(0)), true},
		{"master of another", reqMsg(t, unix.RTM_NEWLINK, 0, 4, 0, master(0)), false},
		{"delete bond by name", reqMsg(t, unix.RTM_DELLINK, 0, 0, 0, name("bond0")), true},
		{"delete port", reqMsg(t, unix.RTM_DELLINK, 0, 3, 0, nil), false},
		{"getlink", reqMsg(t, unix.RTM_GETLINK, 0, 10, 0, nil), false},
		{"short", []byte{1, 2, 3}, false},
	} {
		assert.Equal(t, c.want, Classify(c.msg, snap), c.what)
	}
}

// Rest keeps what do_setlink does for the device and drops ours.
func TestRest(t *testing.T) {
	m := reqMsg(t, unix.RTM_NEWLINK, netlink.Acknowledge, 3, unix.IFF_UP, func(ae *netlink.AttributeEncoder) {
		ae.Uint32(unix.IFLA_MASTER, 10)
		ae.Uint32(unix.IFLA_MTU, 9000)
	})
	r, err := DecodeLink(m)
	require.NoError(t, err)
	rest := r.Rest(3, false, false)
	require.NotNil(t, rest)
	back, err := DecodeLink(rest)
	require.NoError(t, err)
	assert.Equal(t, uint16(unix.RTM_SETLINK), back.Header.Type)
	assert.False(t, back.HasMaster)
	assert.Equal(t, uint32(unix.IFF_UP), back.Info.Flags)
	require.Len(t, back.rest, 1)
	assert.Equal(t, uint16(unix.IFLA_MTU), back.rest[0].Type)
}

// Reply is netlink_ack's message.
func TestReply(t *testing.T) {
	req := reqMsg(t, unix.RTM_NEWLINK, netlink.Acknowledge, 0, 0, reqLinkInfo("bond", nil))
	ack := Reply(req, 42, nil, false, true)
	var m netlink.Message
	require.NoError(t, m.UnmarshalBinary(ack))
	assert.Equal(t, netlink.Error, m.Header.Type)
	assert.Equal(t, netlink.HeaderFlags(unix.NLM_F_CAPPED), m.Header.Flags)
	assert.Equal(t, uint32(42), m.Header.PID)
	assert.Equal(t, uint32(7), m.Header.Sequence)
	assert.Equal(t, 4+unix.SizeofNlMsghdr, len(m.Data))

	e := Reply(req, 42, &bond.LinkError{Errno: unix.EINVAL, Msg: "invalid option value"}, false, true)
	require.NoError(t, m.UnmarshalBinary(e))
	assert.Equal(t, netlink.HeaderFlags(unix.NLM_F_ACK_TLVS), m.Header.Flags)
	assert.Equal(t, int32(-int32(unix.EINVAL)), int32(binary.NativeEndian.Uint32(m.Data)))
	assert.Equal(t, req, m.Data[4:4+len(req)], "the whole request")
	ad, err := netlink.NewAttributeDecoder(m.Data[4+len(req):])
	require.NoError(t, err)
	require.True(t, ad.Next())
	assert.Equal(t, uint16(unix.NLMSGERR_ATTR_MSG), ad.Type())
	assert.Equal(t, "invalid option value", ad.String())

	e = Reply(req, 42, &bond.LinkError{Errno: unix.EINVAL, Msg: "x"}, true, false)
	require.NoError(t, m.UnmarshalBinary(e))
	assert.Equal(t, netlink.HeaderFlags(unix.NLM_F_CAPPED), m.Header.Flags)
	assert.Equal(t, 4+unix.SizeofNlMsghdr, len(m.Data))

	noAck := reqMsg(t, unix.RTM_NEWLINK, 0, 0, 0, nil)
	assert.Nil(t, Reply(noAck, 42, nil, false, false))
}

// FuzzRequest: the request path never panics on what a caller sends.
func FuzzRequest(f *testing.F) {
	f.Add(ipLinkAddBond1)
	f.Add(reqMsg(f, unix.RTM_SETLINK, 0, 4, 0, func(ae *netlink.AttributeEncoder) { ae.Uint32(unix.IFLA_MASTER, 10) }))
	snap := &bond.Snapshot{Bonds: []*bond.BondStatus{{Name: "bond0", Index: 10, Slaves: []bond.SlaveStatus{{Name: "eth0", Index: 3}}}}}
	f.Fuzz(func(t *testing.T, b []byte) {
		Classify(b, snap)
		r, err := DecodeLink(b)
		if err != nil {
			return
		}
		_, _ = BondOptions(r.Data, reqLinks{3: "eth0"})
		_, _ = SlaveOptions("eth0", r.SlaveData)
		_ = r.Rest(1, true, true)
		_ = Reply(b, 1, unix.EPERM, false, true)
	})
}
