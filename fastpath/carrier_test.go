package fastpath_test

import (
	"runtime"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"bondingfs/fastpath"
	"bondingfs/internal/nettest"
)

// The marks of bond.c (FP_SENT, FP_BACK, FP_MARK2) and the words of
// struct __sk_buff the test run reads and writes.
const (
	fpSent  = 0x5e7bd0a1
	fpBack  = 0xbac4d0a1
	fpMark2 = 0x0b0d1d66

	skbIfindex = 10
	skbCB      = 12 // cb[0]; cb[1] is the chosen slave, cb[2..3] the marks

	tcActOK       = 0
	tcActRedirect = 7
)

// TestSlaveEgressCarrier runs slave_egress on a veth whose carrier comes
// and goes (BPF_PROG_TEST_RUN in the veth's namespace, so that the
// program's skb->dev is the veth): a frame bond_egress sent to it while it
// has carrier passes (TC_ACT_OK); without carrier it goes back to the bond
// (TC_ACT_REDIRECT) marked for the engine, and bond_egress then leaves it
// to the TAP fd (TC_ACT_OK) and clears the mark. Frames without the mark
// (the engine's own, over AF_PACKET) always pass.
func TestSlaveEgressCarrier(t *testing.T) {
	nettest.SkipUnlessRoot(t)
	ns := nettest.NewNetns(t, "fpcar")
	nettest.Veth(t, ns, "eth0", ns, "p0")
	ns.SetUp(t, "eth0")
	ns.SetUp(t, "p0")

	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	require.NoError(t, err)
	defer orig.Close()
	h, err := netns.GetFromPath(ns.Path())
	require.NoError(t, err)
	defer h.Close()
	require.NoError(t, netns.Set(h))
	defer func() { require.NoError(t, netns.Set(orig)) }()

	p, err := fastpath.Load(fastpath.Options{})
	require.NoError(t, err)
	defer p.Close()
	require.NoError(t, p.CarrierErr(), "slave_egress loads on this kernel")
	prog := fastpath.SlaveEgressProgram(p)
	require.NotNil(t, prog)

	l, err := netlink.LinkByName("eth0")
	require.NoError(t, err)
	eth0 := l.Attrs().Index
	const bondIdx = 4242 // no such device: only the map entry matters
	require.NoError(t, p.SetSlave(eth0, fastpath.SlaveState{Bond: bondIdx}))

	frame := make([]byte, 64)
	copy(frame, []byte{0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00})
	run := func(prog *ebpf.Program, ifindex int, cb [5]uint32) (uint32, [5]uint32) {
		t.Helper()
		var in, out [48]uint32
		in[skbIfindex] = uint32(ifindex)
		copy(in[skbCB:], cb[:])
		ret, err := prog.Run(&ebpf.RunOptions{Data: frame, Context: in[:20], ContextOut: &out})
		require.NoError(t, err)
		var got [5]uint32
		copy(got[:], out[skbCB:skbCB+5])
		return ret, got
	}
	sent := [5]uint32{0, uint32(eth0), fpSent, fpMark2}

	ret, cb := run(prog, eth0, sent)
	require.EqualValues(t, tcActOK, ret, "with carrier the frame goes out of the slave")
	require.Zero(t, cb[2], "the mark is cleared")

	ns.SetDown(t, "p0") // eth0 loses its carrier
	ret, cb = run(prog, eth0, sent)
	require.EqualValues(t, tcActRedirect, ret, "without carrier the frame goes back to the bond")
	require.Equal(t, [2]uint32{fpBack, fpMark2}, [2]uint32{cb[2], cb[3]})

	ret, _ = run(prog, eth0, [5]uint32{0, uint32(eth0)})
	require.EqualValues(t, tcActOK, ret, "an unmarked frame (the engine's) is left to the slave")
	ret, _ = run(prog, eth0, [5]uint32{0, uint32(eth0) + 1, fpSent, fpMark2})
	require.EqualValues(t, tcActOK, ret, "a frame marked for another slave is left alone")

	// back in bond_egress (on the loopback device: the test run's), the
	// marked frame goes to the TAP fd whatever the bond's configuration
	require.NoError(t, p.SetBond(1, fastpath.Config{Mode: fastpath.ModeActive, Active: eth0}))
	ret, cb = run(fastpath.EgressProgram(p), 1, [5]uint32{0, uint32(eth0), fpBack, fpMark2})
	require.EqualValues(t, tcActOK, ret)
	require.Zero(t, cb[2])
	ret, cb = run(fastpath.EgressProgram(p), 1, [5]uint32{})
	require.EqualValues(t, tcActRedirect, ret, "an ordinary frame goes to the active slave")
	require.Equal(t, [3]uint32{uint32(eth0), fpSent, fpMark2}, [3]uint32{cb[1], cb[2], cb[3]})
}
