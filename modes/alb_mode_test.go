package modes

import (
	"context"
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"bondingfs/bond"
	"bondingfs/bond/bondtest"
)

const albWait = 5 * time.Second

var albRoot = bond.Caller{NetAdmin: true}

// albEnv is a bond in balance-tlb or balance-alb (miimon 100) over
// in-memory veths eth0, eth1 (MACs 02:00:00:00:00:01, 02), enslaved and up.
func albEnv(t *testing.T, mode bond.ModeID) *bondtest.Env {
	p := bond.DefaultParams()
	p.Mode, p.Miimon = mode, 100
	e := bondtest.NewWithModes(t, p, Factories(), "eth0", "eth1")
	b := e.Bond("bond0")
	for _, n := range []string{"eth0", "eth1"} {
		require.NoError(t, e.Do(func() error { return b.Enslave(n) }))
	}
	e.Settle()
	e.SetUp("bond0", true)
	return e
}

func hostMAC(t *testing.T, e *bondtest.Env, name string) string {
	li, ok := e.Host.Link(name)
	require.True(t, ok)
	return li.HWAddr.String()
}

// udpTo is a frame from the bond (source = the bond's MAC) to 192.0.2.d
// at 02:aa:00:00:00:d.
func udpTo(src net.HardwareAddr, d byte) []byte {
	f := make([]byte, bond.VnetHdrLen+100)
	e := f[bond.VnetHdrLen:]
	copy(e[0:6], []byte{2, 0xaa, 0, 0, 0, d})
	copy(e[6:12], src)
	binary.BigEndian.PutUint16(e[12:14], 0x0800)
	e[14] = 0x45
	e[14+9] = 17
	copy(e[14+12:], []byte{192, 0, 2, 1, 192, 0, 2, d})
	return f
}

func arpOut(op uint16, sha net.HardwareAddr, spa [4]byte, tha net.HardwareAddr, tpa [4]byte, dst net.HardwareAddr) []byte {
	f := make([]byte, bond.VnetHdrLen, 60)
	f = append(f, dst...)
	f = append(f, sha...)
	f = append(f, 8, 6, 0, 1, 8, 0, 6, 4)
	f = binary.BigEndian.AppendUint16(f, op)
	f = append(f, sha...)
	f = append(f, spa[:]...)
	f = append(f, tha...)
	f = append(f, tpa[:]...)
	return f
}

// framesOf counts the frames of EtherType et a device sent, and returns the
// Ethernet parts.
func framesOf(d *bondtest.Dev, et uint16) (out [][]byte) {
	for _, f := range d.Frames() {
		e := f[bond.VnetHdrLen:]
		if binary.BigEndian.Uint16(e[12:14]) == et {
			out = append(out, e)
		}
	}
	return out
}

func TestTLBMACsFailoverRelease(t *testing.T) {
	e := albEnv(t, bond.ModeTLB)
	assert.Equal(t, []string{
		"bond0: (slave eth0): making interface the new active one",
		"bond0: (slave eth0): Enslaving as an active interface with an up link",
		"bond0: (slave eth1): Enslaving as an active interface with an up link",
	}, e.Log.Take())
	st := e.Status("bond0")
	assert.Equal(t, "eth0", st.ActiveSlave)
	assert.True(t, st.Slaves[0].Active && st.Slaves[1].Active, "every slave of balance-tlb is active")
	assert.Equal(t, "02:00:00:00:00:01", st.HWAddr.String())
	assert.Equal(t, "02:00:00:00:00:01", hostMAC(t, e, "eth0"))
	assert.Equal(t, "02:00:00:00:00:02", hostMAC(t, e, "eth1"), "each slave keeps its own MAC")

	// four flows out: new destinations all go to the first slave (no load
	// history yet, equal gaps); after the 10 s rebalance the entries carry
	// their load and spread over both slaves, each with its own MAC
	tap := e.Host.Master(st.Index)
	eth0, eth1 := e.Host.SlaveDev("eth0"), e.Host.SlaveDev("eth1")
	// the TAP reader has handled the n-th frame from the bond when it is
	// back reading the next one
	waitN := func(n int) { require.True(t, tap.WaitConsumed(n, albWait)) }
	for d := byte(1); d <= 4; d++ {
		tap.Inject(udpTo(st.HWAddr, d))
	}
	waitN(4)
	assert.Len(t, framesOf(eth0, 0x0800), 4)
	e.Tick(10 * time.Second)
	for i := 0; i < 10; i++ {
		for d := byte(1); d <= 4; d++ {
			tap.Inject(udpTo(st.HWAddr, d))
		}
	}
	waitN(44)
	n0, n1 := framesOf(eth0, 0x0800), framesOf(eth1, 0x0800)
	assert.Equal(t, 24, len(n0))
	assert.Equal(t, 20, len(n1))
	for _, f := range n1 {
		assert.Equal(t, "02:00:00:00:00:02", net.HardwareAddr(f[6:12]).String())
	}
	// learning packets every lp_interval (1 s) on every slave
	e.Tick(time.Second)
	for _, d := range []*bondtest.Dev{eth0, eth1} {
		assert.NotEmpty(t, framesOf(d, 0x9000), "learning packets")
	}

	// the receiving slave fails: eth1 takes over the bond's MAC
	e.Log.Take()
	e.Host.SetCarrier("eth0", false)
	e.Settle()
	e.Tick(100 * time.Millisecond)
	assert.Equal(t, []string{
		"bond0: (slave eth0): link status definitely down, disabling slave",
		"bond0: (slave eth1): making interface the new active one",
	}, e.Log.Take())
	assert.Equal(t, "eth1", e.Status("bond0").ActiveSlave)
	assert.Equal(t, "02:00:00:00:00:02", hostMAC(t, e, "eth0"))
	assert.Equal(t, "02:00:00:00:00:01", hostMAC(t, e, "eth1"))

	// releasing the active slave: "Releasing active interface"
	require.NoError(t, e.Do(func() error { return e.Reg.Bond("bond0").Release("eth1") }))
	e.Settle()
	assert.Equal(t, []string{"bond0: (slave eth1): Releasing active interface"}, e.Log.Take(), "eth0's link is down: no new active slave")
	// eth1 left with the bond's MAC and eth0 had eth1's own: they are
	// swapped back (alb_change_hw_addr_on_detach), then eth1 gets its
	// permanent MAC
	assert.Equal(t, "02:00:00:00:00:01", hostMAC(t, e, "eth0"))
	assert.Equal(t, "02:00:00:00:00:02", hostMAC(t, e, "eth1"))
}

func TestALBReceivePath(t *testing.T) {
	e := albEnv(t, bond.ModeALB)
	st := e.Status("bond0")
	tap := e.Host.Master(st.Index)
	eth0, eth1 := e.Host.SlaveDev("eth0"), e.Host.SlaveDev("eth1")
	bm := st.HWAddr
	e.Tick(100 * time.Millisecond)

	// the bond answers two clients: the replies leave on different slaves
	// with different sender MACs
	for i := byte(1); i <= 2; i++ {
		c := net.HardwareAddr{2, 0xcc, 0, 0, 0, i}
		tap.Inject(arpOut(2, bm, [4]byte{192, 0, 2, 1}, c, [4]byte{192, 0, 2, 100 + i}, c))
	}
	require.True(t, tap.WaitConsumed(2, albWait))
	a0, a1 := framesOf(eth0, 0x0806), framesOf(eth1, 0x0806)
	require.Len(t, a0, 1)
	require.Len(t, a1, 1)
	assert.Equal(t, "02:00:00:00:00:01", net.HardwareAddr(a0[0][22:28]).String())
	assert.Equal(t, "02:00:00:00:00:02", net.HardwareAddr(a1[0][22:28]).String())

	// eth1 is not the current slave: it still delivers unicast frames, to
	// the bond's MAC, and drops broadcasts
	in := udpTo(net.HardwareAddr{2, 0xcc, 0, 0, 0, 1}, 1)
	copy(in[bond.VnetHdrLen:], []byte{2, 0, 0, 0, 0, 2})
	eth1.Inject(in)
	require.True(t, tap.WaitSent(1, albWait))
	got := tap.Frames()[0][bond.VnetHdrLen:]
	assert.Equal(t, bm.String(), net.HardwareAddr(got[0:6]).String(), "delivered as addressed to the bond")
	bc := udpTo(net.HardwareAddr{2, 0xcc, 0, 0, 0, 1}, 1)
	copy(bc[bond.VnetHdrLen:], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	eth1.Inject(bc)
	require.True(t, eth1.WaitConsumed(2, albWait))
	assert.Equal(t, 1, tap.Sent(), "a broadcast on an inactive slave is dropped")

	// eth1 fails: its client is moved to eth0 and told so after the update
	// delay; eth0 turns promiscuous for eth1's MAC for 10 s
	e.Log.Take()
	e.Host.SetCarrier("eth1", false)
	e.Settle()
	e.Tick(100 * time.Millisecond)
	assert.Contains(t, e.Log.Take(), "device eth0 entered promiscuous mode")
	e.Tick(3 * time.Second)
	var updates int
	for _, f := range framesOf(eth0, 0x0806) {
		if net.HardwareAddr(f[0:6]).String() == "02:cc:00:00:00:02" {
			updates++
			assert.Equal(t, "02:00:00:00:00:01", net.HardwareAddr(f[22:28]).String())
		}
	}
	assert.GreaterOrEqual(t, updates, 2, "the moved client is updated through eth0")
	e.Tick(10 * time.Second)
	assert.Contains(t, e.Log.Take(), "device eth0 left promiscuous mode")
	require.NoError(t, e.Reg.WriteOption(context.Background(), "bond0", "lp_interval", "2\n", albRoot))
}

func TestALBBondAddressChange(t *testing.T) {
	e := albEnv(t, bond.ModeALB)
	e.Host.Modify("bond0", func(l *bond.LinkInfo) { l.HWAddr = net.HardwareAddr{2, 0, 0, 0, 0, 9} })
	e.Settle()
	assert.Equal(t, "02:00:00:00:00:09", hostMAC(t, e, "eth0"), "the current slave takes the bond's new address")
	assert.Equal(t, "02:00:00:00:00:02", hostMAC(t, e, "eth1"))
}
