package rtnl

import (
	"net/netip"
	"testing"

	"github.com/mdlayher/netlink"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"bondingfs/bond"
)

// TestBondOptionsNSTargets: the IFLA_BOND_NS_IP6_TARGET nest becomes one
// ns_ip6_target option with its addresses in order (empty for an empty
// nest: the table is cleared), placed after arp_ip_target as
// bond_changelink has it; a short address ends it with "Invalid IPv6
// address".
func TestBondOptionsNSTargets(t *testing.T) {
	nest := func(addrs ...[]byte) []byte {
		ae := netlink.NewAttributeEncoder()
		ae.Uint32(unix.IFLA_BOND_ARP_INTERVAL, 100)
		ae.Nested(unix.IFLA_BOND_NS_IP6_TARGET, func(n *netlink.AttributeEncoder) error {
			for i, a := range addrs {
				n.Bytes(uint16(i), a)
			}
			return nil
		})
		b, err := ae.Encode()
		require.NoError(t, err)
		return b
	}
	a1, a2 := netip.MustParseAddr("2001:db8::9"), netip.MustParseAddr("::ffff:192.0.2.1")
	opts, lerr := BondOptions(nest(a1.AsSlice(), a2.AsSlice()), reqLinks{})
	require.Nil(t, lerr)
	assert.Equal(t, []bond.LinkOption{{Name: "arp_interval", Value: "100"},
		{Name: "ns_ip6_target", Value: "2001:db8::9 ::ffff:192.0.2.1"}}, opts)

	opts, lerr = BondOptions(nest(), reqLinks{})
	require.Nil(t, lerr)
	assert.Equal(t, bond.LinkOption{Name: "ns_ip6_target"}, opts[1])

	opts, lerr = BondOptions(nest(a1.AsSlice(), []byte{1, 2, 3}), reqLinks{})
	require.Nil(t, lerr)
	assert.Equal(t, []bond.LinkOption{{Name: "arp_interval", Value: "100"},
		{Name: "ns_ip6_target", Value: "2001:db8::9"},
		{Name: "ns_ip6_target", Errno: unix.EINVAL, ExtAck: "Invalid IPv6 address"}}, opts)
}
