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
