package netdev

import (
	"encoding/binary"
	"fmt"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"

	"bondingfs/bond"
	"bondingfs/internal/nettest"
)

// carrierMsg is one RTM_NEWLINK of dump seq with ifindex, flags and, when
// txDropped is not 0, an IFLA_STATS64 whose tx_dropped is that.
func carrierMsg(seq uint32, index int32, flags uint32, txDropped uint64, msgFlags uint16) []byte {
	req := nl.NewNetlinkRequest(unix.RTM_NEWLINK, int(msgFlags))
	req.Seq = seq
	msg := nl.NewIfInfomsg(unix.AF_UNSPEC)
	msg.Index, msg.Flags = index, flags
	req.AddData(msg)
	req.AddData(nl.NewRtAttr(unix.IFLA_IFNAME, nl.ZeroTerminated(fmt.Sprintf("eth%d", index))))
	if txDropped != 0 {
		var st [24 * 8]byte
		binary.NativeEndian.PutUint64(st[stats64TxDropped:], txDropped)
		req.AddData(nl.NewRtAttr(iflaStats64, st[:]))
	}
	b := req.Serialize()
	binary.NativeEndian.PutUint16(b[6:8], msgFlags|unix.NLM_F_MULTI)
	return b
}

// doneMsg is the NLMSG_DONE of dump seq; errMsg an NLMSG_ERROR with errno.
func doneMsg(seq uint32) []byte {
	var b [unix.NLMSG_HDRLEN + 4]byte
	ne := binary.NativeEndian
	ne.PutUint32(b[0:], uint32(len(b)))
	ne.PutUint16(b[4:], unix.NLMSG_DONE)
	ne.PutUint32(b[8:], seq)
	return b[:]
}

func errMsg(seq uint32, errno syscall.Errno) []byte {
	b := doneMsg(seq)
	binary.NativeEndian.PutUint16(b[4:], unix.NLMSG_ERROR)
	binary.NativeEndian.PutUint32(b[unix.NLMSG_HDRLEN:], uint32(-int32(errno)))
	return b
}

func cat(parts ...[]byte) (b []byte) {
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// TestDecodeCarriers: each RTM_NEWLINK of the dump gives its index, IFF_UP,
// IFF_LOWER_UP and tx_dropped; messages of another dump are skipped;
// NLMSG_DONE ends the dump, NLMSG_ERROR ends it with its errno, a message
// marked NLM_F_DUMP_INTR makes the whole dump an error.
func TestDecodeCarriers(t *testing.T) {
	b := cat(carrierMsg(5, 2, unix.IFF_UP|unix.IFF_LOWER_UP, 42, 0),
		carrierMsg(4, 9, unix.IFF_UP, 0, 0), // an older dump's
		carrierMsg(5, 3, unix.IFF_UP, 0, 0))
	got, done, err := decodeCarriers(b, 5, nil)
	require.NoError(t, err)
	assert.False(t, done)
	assert.Equal(t, []bond.CarrierState{
		{Index: 2, Up: true, Carrier: true, TxDropped: 42},
		{Index: 3, Up: true},
	}, got)

	got, done, err = decodeCarriers(cat(carrierMsg(5, 4, 0, 1, 0), doneMsg(5)), 5, got)
	require.NoError(t, err)
	assert.True(t, done)
	assert.Len(t, got, 3)
	assert.Equal(t, bond.CarrierState{Index: 4, TxDropped: 1}, got[2])

	_, done, err = decodeCarriers(cat(carrierMsg(6, 4, 0, 0, unix.NLM_F_DUMP_INTR), doneMsg(6)), 6, nil)
	assert.True(t, done)
	assert.ErrorIs(t, err, errDumpInterrupted)

	_, done, err = decodeCarriers(errMsg(7, syscall.EBUSY), 7, nil)
	assert.True(t, done)
	assert.ErrorIs(t, err, syscall.EBUSY)

	got, done, err = decodeCarriers(carrierMsg(8, 2, 0, 0, 0)[:unix.NLMSG_HDRLEN+8], 8, nil)
	assert.NoError(t, err)
	assert.False(t, done)
	assert.Empty(t, got, "truncated: the header's length is beyond the datagram")
}

// FuzzDecodeCarriers: whatever a datagram holds, the decoder never panics
// and appends at most one state per message.
func FuzzDecodeCarriers(f *testing.F) {
	f.Add(cat(carrierMsg(1, 2, unix.IFF_UP|unix.IFF_LOWER_UP, 42, 0), doneMsg(1)))
	f.Add(errMsg(1, syscall.EINVAL))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, _, _ := decodeCarriers(b, 1, nil)
		if len(got) > len(b)/(unix.NLMSG_HDRLEN+unix.SizeofIfInfomsg) {
			t.Fatalf("%d states from %d bytes", len(got), len(b))
		}
	})
}

// TestCarriers: one dump gives every link of the namespace with the state
// LinkByIndex reads, and follows carrier changes; consecutive dumps reuse
// the socket.
func TestCarriers(t *testing.T) {
	p := newPair(t)
	nettest.Veth(t, p.a, "eth1", p.b, "p1")
	check := func(name string, up, carrier bool) {
		t.Helper()
		got, err := p.h.Carriers(nil)
		require.NoError(t, err)
		li := p.link(t, name)
		var found bool
		for _, st := range got {
			if st.Index == li.Index {
				found = true
				assert.Equal(t, bond.CarrierState{Index: li.Index, Up: up, Carrier: carrier, TxDropped: li.TxDropped}, st, name)
			}
		}
		assert.True(t, found, name)
		assert.Len(t, got, 3, "lo, eth0, eth1")
	}
	check("eth0", true, true)
	p.b.SetDown(t, "p0")
	check("eth0", true, false)
	check("eth1", true, true)
	p.a.SetDown(t, "eth1")
	check("eth1", false, false)
	p.b.SetUp(t, "p0")
	check("eth0", true, true)
	// by kind: the kernel leaves lo out
	got, err := p.h.CarriersOfKind("veth", nil)
	require.NoError(t, err)
	var idx []int
	for _, st := range got {
		idx = append(idx, st.Index)
	}
	assert.ElementsMatch(t, []int{p.link(t, "eth0").Index, p.link(t, "eth1").Index}, idx, "veth links only")
	got, err = p.h.CarriersOfKind("bridge", nil)
	require.NoError(t, err)
	assert.Empty(t, got, "no link of that kind")
	require.NoError(t, p.h.Close())
	_, err = p.h.Carriers(nil)
	assert.Error(t, err, "after Close")
}

// TestDumpRequestKind: the kind filter is IFLA_LINKINFO (nested) holding
// IFLA_INFO_KIND, NUL-terminated, after IFLA_EXT_MASK.
func TestDumpRequestKind(t *testing.T) {
	ne := binary.NativeEndian
	plain := dumpRequest(3, "")
	require.Len(t, plain, unix.NLMSG_HDRLEN+unix.SizeofIfInfomsg+8)
	b := dumpRequest(3, "veth")
	require.Len(t, b, len(plain)+4+12)
	assert.Equal(t, uint32(len(b)), ne.Uint32(b[0:4]))
	a := b[len(plain):]
	assert.Equal(t, uint16(16), ne.Uint16(a[0:2]))
	assert.Equal(t, uint16(unix.IFLA_LINKINFO|unix.NLA_F_NESTED), ne.Uint16(a[2:4]))
	assert.Equal(t, uint16(9), ne.Uint16(a[4:6]))
	assert.Equal(t, uint16(unix.IFLA_INFO_KIND), ne.Uint16(a[6:8]))
	assert.Equal(t, "veth\x00", string(a[8:13]))
}
