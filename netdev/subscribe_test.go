package netdev

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// linkMsg builds one rtnetlink link message as the kernel sends it: an
// ifinfomsg with IFLA_IFNAME and IFLA_MTU.
func linkMsg(typ int, index int32, name string, mtu uint32, flags uint32) []byte {
	req := nl.NewNetlinkRequest(typ, 0)
	msg := nl.NewIfInfomsg(unix.AF_UNSPEC)
	msg.Index = index
	msg.Flags = flags
	req.AddData(msg)
	req.AddData(nl.NewRtAttr(unix.IFLA_IFNAME, nl.ZeroTerminated(name)))
	req.AddData(nl.NewRtAttr(unix.IFLA_MTU, nl.Uint32Attr(mtu)))
	return req.Serialize()
}

// TestDecodeLinkDatagram: RTM_NEWLINK and RTM_DELLINK become link events in
// datagram order; a dump's NLMSG_DONE, truncated or foreign messages none.
func TestDecodeLinkDatagram(t *testing.T) {
	b := append(linkMsg(unix.RTM_NEWLINK, 7, "eth9", 1400, unix.IFF_UP|unix.IFF_LOWER_UP),
		linkMsg(unix.RTM_DELLINK, 8, "eth8", 1500, 0)...)
	done := nl.NewNetlinkRequest(unix.NLMSG_DONE, 0)
	done.AddData(nl.NewRtAttr(0, []byte{0, 0, 0, 0}))
	b = append(b, done.Serialize()...)
	evs := decodeLinkDatagram(b)
	require.Len(t, evs, 2)
	assert.Equal(t, "eth9", evs[0].Link.Name)
	assert.Equal(t, 7, evs[0].Link.Index)
	assert.Equal(t, 1400, evs[0].Link.MTU)
	assert.True(t, evs[0].Link.Up)
	assert.True(t, evs[0].Link.Carrier)
	assert.False(t, evs[0].Deleted)
	assert.Equal(t, "eth8", evs[1].Link.Name)
	assert.True(t, evs[1].Deleted)

	assert.Empty(t, decodeLinkDatagram(nil))
	assert.Empty(t, decodeLinkDatagram(b[:10]), "shorter than a header")
	assert.Empty(t, decodeLinkDatagram(linkMsg(unix.RTM_NEWADDR, 7, "eth9", 1400, 0)), "not a link message")
	short := linkMsg(unix.RTM_NEWLINK, 7, "eth9", 1400, 0)[:unix.NLMSG_HDRLEN+4]
	short[0] = byte(len(short)) // a header that says so
	short[1], short[2], short[3] = 0, 0, 0
	assert.Empty(t, decodeLinkDatagram(short), "no room for the ifinfomsg")
}

// FuzzDecodeLinkDatagram: whatever arrives on the link subscription, the
// decoder never panics and returns only named or indexed links.
func FuzzDecodeLinkDatagram(f *testing.F) {
	f.Add(linkMsg(unix.RTM_NEWLINK, 7, "eth9", 1400, unix.IFF_UP))
	f.Add(linkMsg(unix.RTM_DELLINK, 8, "eth8", 1500, 0))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, ev := range decodeLinkDatagram(b) {
			_ = ev.Link.Name
		}
	})
}
