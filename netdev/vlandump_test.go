package netdev

import (
	"encoding/binary"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// vlanMsg is one RTM_NEWLINK of dump seq for a link of kind kind with
// ifindex index over parent (IFLA_LINK); a "vlan" carries IFLA_VLAN_ID id.
func vlanMsg(seq uint32, index, parent int32, kind string, id uint16) []byte {
	req := nl.NewNetlinkRequest(unix.RTM_NEWLINK, 0)
	req.Seq = seq
	msg := nl.NewIfInfomsg(unix.AF_UNSPEC)
	msg.Index = index
	req.AddData(msg)
	req.AddData(nl.NewRtAttr(unix.IFLA_IFNAME, nl.ZeroTerminated("l")))
	req.AddData(nl.NewRtAttr(unix.IFLA_LINK, nl.Uint32Attr(uint32(parent))))
	info := nl.NewRtAttr(unix.IFLA_LINKINFO, nil)
	info.AddRtAttr(nl.IFLA_INFO_KIND, nl.ZeroTerminated(kind))
	if kind == "vlan" {
		data := info.AddRtAttr(nl.IFLA_INFO_DATA, nil)
		data.AddRtAttr(nl.IFLA_VLAN_ID, nl.Uint16Attr(id))
	}
	req.AddData(info)
	b := req.Serialize()
	binary.NativeEndian.PutUint16(b[6:8], unix.NLM_F_MULTI)
	return b
}

// TestDecodeVLANs: only the RTM_NEWLINKs of VLANs are kept (a kernel that
// ignores the kind filter sends every link), with their index, parent and
// tag; messages of another dump are skipped; NLMSG_DONE and NLMSG_ERROR end
// the dump as in decodeCarriers.
func TestDecodeVLANs(t *testing.T) {
	b := cat(vlanMsg(3, 10, 2, "vlan", 5),
		vlanMsg(3, 11, 2, "veth", 0),
		vlanMsg(2, 12, 2, "vlan", 6), // an older dump's
		vlanMsg(3, 13, 10, "vlan", 7),
		doneMsg(3))
	got, done, err := decodeVLANs(b, 3, nil)
	require.NoError(t, err)
	assert.True(t, done)
	require.Len(t, got, 2)
	assert.Equal(t, []int{10, 2, 5}, []int{got[0].Index, got[0].ParentIndex, got[0].VlanId})
	assert.Equal(t, []int{13, 10, 7}, []int{got[1].Index, got[1].ParentIndex, got[1].VlanId})

	_, done, err = decodeVLANs(errMsg(4, syscall.EOPNOTSUPP), 4, nil)
	assert.True(t, done)
	assert.ErrorIs(t, err, syscall.EOPNOTSUPP)

	got, done, err = decodeVLANs(vlanMsg(5, 10, 2, "vlan", 5)[:unix.NLMSG_HDRLEN+8], 5, nil)
	assert.NoError(t, err)
	assert.False(t, done)
	assert.Empty(t, got, "truncated: the header's length is beyond the datagram")
}

// TestDecodeVLANsSkipsOtherKinds: a dump the kernel did not filter (no
// 8021q: it knows no "vlan" kind) costs nothing for the links that are not
// VLANs: 300 veths and a link of an empty kind are skipped by their kind without
// an allocation, and the one VLAN among them is still found.
func TestDecodeVLANsSkipsOtherKinds(t *testing.T) {
	var parts [][]byte
	for i := int32(0); i < 300; i++ {
		parts = append(parts, vlanMsg(7, 100+i, 2, "veth", 0))
	}
	nic := vlanMsg(7, 2, 0, "", 0)
	parts = append(parts, nic, doneMsg(7))
	b := cat(parts...)
	if n := testing.AllocsPerRun(20, func() { _, _, _ = decodeVLANs(b, 7, nil) }); n != 0 {
		t.Errorf("%v allocations to skip 301 links that are not VLANs", n)
	}
	got, done, err := decodeVLANs(cat(vlanMsg(7, 50, 2, "vlan", 9), b), 7, nil)
	require.NoError(t, err)
	assert.True(t, done)
	require.Len(t, got, 1)
	assert.Equal(t, 9, got[0].VlanId)
}

// TestLinkKind: the kind of an RTM_NEWLINK, with or without NLA_F_NESTED
// on IFLA_LINKINFO; none for a link without IFLA_LINKINFO or a message too
// short.
func TestLinkKind(t *testing.T) {
	m := vlanMsg(1, 10, 2, "vlan", 5)[unix.NLMSG_HDRLEN:]
	assert.Equal(t, "vlan", string(linkKind(m)))
	nested := append([]byte(nil), m...)
	a := findAttr(nested[unix.SizeofIfInfomsg:], unix.IFLA_LINKINFO)
	require.NotNil(t, a)
	off := len(nested) - len(nested[unix.SizeofIfInfomsg:]) // attribute area start
	for i := off; i+4 <= len(nested); {
		l := int(binary.NativeEndian.Uint16(nested[i:]))
		if binary.NativeEndian.Uint16(nested[i+2:]) == unix.IFLA_LINKINFO {
			binary.NativeEndian.PutUint16(nested[i+2:], unix.IFLA_LINKINFO|unix.NLA_F_NESTED)
			break
		}
		i += rtaAlign(l)
	}
	assert.Equal(t, "vlan", string(linkKind(nested)))
	assert.Nil(t, linkKind(m[:unix.SizeofIfInfomsg-1]))
	assert.Nil(t, linkKind(m[:unix.SizeofIfInfomsg]))
}

// FuzzDecodeVLANs: whatever a datagram holds, the decoder never panics and
// keeps at most one VLAN per message.
func FuzzDecodeVLANs(f *testing.F) {
	f.Add(cat(vlanMsg(1, 10, 2, "vlan", 5), vlanMsg(1, 11, 2, "veth", 0), doneMsg(1)))
	f.Add(errMsg(1, syscall.EINVAL))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, _, _ := decodeVLANs(b, 1, nil)
		if len(got) > len(b)/(unix.NLMSG_HDRLEN+unix.SizeofIfInfomsg) {
			t.Fatalf("%d VLANs from %d bytes", len(got), len(b))
		}
	})
}

// TestVLANUppersKindDump: on a real namespace the dump socket is strict
// and the kernel takes the kind-filtered request; a namespace without VLANs
// (lo and a veth) gives none. (The VLAN messages' decoding is
// TestDecodeVLANs': the development kernel has no 8021q to make one.)
func TestVLANUppersKindDump(t *testing.T) {
	p := newPair(t)
	for _, name := range []string{"eth0", "lo"} {
		got, err := p.h.VLANUppers(p.link(t, name).Index)
		require.NoError(t, err, name)
		assert.Empty(t, got, name)
	}
	assert.True(t, p.h.dump.strict, "the dump socket takes a kind filter (Linux 4.20+)")
	links, err := p.h.vlanLinks()
	require.NoError(t, err)
	assert.Empty(t, links)
}
