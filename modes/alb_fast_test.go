package modes

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"bondingfs/bond"
	"bondingfs/bond/bondtest"
	"bondingfs/internal/frame"
)

// fastRec is a bond.FastPath that keeps the last FastConfig of each bond.
type fastRec struct {
	mu      sync.Mutex
	bonds   map[int]bond.FastConfig
	slaves  map[int]bond.FastSlave
	changed chan struct{}
}

func (f *fastRec) AttachMaster(int) error { return nil }
func (f *fastRec) AttachSlave(int) error  { return nil }
func (f *fastRec) Detach(int) error       { return nil }
func (f *fastRec) SetBond(i int, c bond.FastConfig) error {
	f.mu.Lock()
	f.bonds[i] = c
	f.mu.Unlock()
	select {
	case f.changed <- struct{}{}:
	default:
	}
	return nil
}
func (f *fastRec) DeleteBond(i int) error {
	f.mu.Lock()
	delete(f.bonds, i)
	f.mu.Unlock()
	return nil
}
func (f *fastRec) SetSlave(i int, st bond.FastSlave) error {
	f.mu.Lock()
	f.slaves[i] = st
	f.mu.Unlock()
	return nil
}
func (f *fastRec) DeleteSlave(i int) error {
	f.mu.Lock()
	delete(f.slaves, i)
	f.mu.Unlock()
	return nil
}
func (f *fastRec) Stats(int) (bond.FastStats, error)    { return bond.FastStats{}, nil }
func (f *fastRec) TakeTLBBytes(int, *[257]uint64) error { return nil }

// wait waits (at most albWait) until ok holds for bond i's config.
func (f *fastRec) wait(i int, ok func(bond.FastConfig) bool) (bond.FastConfig, bool) {
	deadline := time.After(albWait)
	for {
		f.mu.Lock()
		c, there := f.bonds[i]
		f.mu.Unlock()
		if there && ok(c) {
			return c, true
		}
		select {
		case <-f.changed:
		case <-deadline:
			return c, false
		}
	}
}

// albFastEnv is albEnv with fp as the registry's fast path.
func albFastEnv(t *testing.T, mode bond.ModeID, dynamic int, fp bond.FastPath) *bondtest.Env {
	p := bond.DefaultParams()
	p.Mode, p.Miimon, p.TLBDynamicLB = mode, 100, dynamic
	e := &bondtest.Env{T: t, Host: bondtest.NewHost(), Clock: bondtest.NewClock(), Log: &bondtest.Log{}}
	e.Host.AddVeth("eth0", 1)
	e.Host.AddVeth("eth1", 2)
	e.Clock.AfterFire = e.Settle
	e.Reg = bond.NewRegistry(bond.Config{Host: e.Host, Log: e.Log.Add, Defaults: p, Clock: e.Clock, Modes: Factories(), FastPath: fp})
	require.NoError(t, e.Reg.Start())
	t.Cleanup(e.Reg.Close)
	require.NoError(t, e.Reg.CreateBond(context.Background(), "bond0"))
	e.Settle()
	b := e.Bond("bond0")
	for _, n := range []string{"eth0", "eth1"} {
		require.NoError(t, e.Do(func() error { return b.Enslave(n) }))
	}
	e.Settle()
	e.SetUp("bond0", true)
	return e
}

// TestTLBFastPathMirrorsTable: balance-tlb goes on the fast path with its
// table: nothing bound at first (every bucket's frame goes to the engine),
// a frame through the TAP binds its bucket and the bond's entry follows
// with the slave and the slaves' addresses; the frames not balanced go to
// the current slave.
func TestTLBFastPathMirrorsTable(t *testing.T) {
	fp := &fastRec{bonds: map[int]bond.FastConfig{}, slaves: map[int]bond.FastSlave{}, changed: make(chan struct{}, 1)}
	e := albFastEnv(t, bond.ModeTLB, 1, fp)
	st := e.Status("bond0")
	require.Equal(t, "ebpf", st.DataPath)
	bi, e0 := st.Index, st.Slaves[0].Index
	c, ok := fp.wait(bi, func(c bond.FastConfig) bool { return c.Active != 0 })
	require.True(t, ok, "config %v", c)
	assert.Equal(t, bond.FastTLB, c.Mode)
	assert.Equal(t, uint32(bond.FastTLBDynamic), c.Flags)
	require.NotNil(t, c.TLB)
	assert.Equal(t, bond.FastTLBTable{}, *c.TLB, "no bucket bound before a frame")
	assert.Equal(t, e0, c.Active)

	f := udpTo(net.HardwareAddr(hostMACBytes(t, e, "bond0")), 7)
	idx := frame.XmitHash(frame.XmitLayer2, f[bond.VnetHdrLen:]) & 0xff
	e.Host.Master(bi).Inject(f)
	c, ok = fp.wait(bi, func(c bond.FastConfig) bool { return c.TLB != nil && c.TLB[idx] != 0 })
	require.True(t, ok, "bucket %d never mirrored: %v", idx, c)
	assert.Equal(t, e0, c.TLB[idx], "no load history: the first slave")
	assert.Contains(t, c.MACs, e0)
	for i, s := range c.TLB {
		if uint32(i) != idx {
			assert.Zero(t, s, "bucket %d", i)
		}
	}
}

// TestTLBFastPathNonDynamic: tlb_dynamic_lb=0 puts the usable slaves in
// the bond's entry (the hash over them), no table.
func TestTLBFastPathNonDynamic(t *testing.T) {
	fp := &fastRec{bonds: map[int]bond.FastConfig{}, slaves: map[int]bond.FastSlave{}, changed: make(chan struct{}, 1)}
	e := albFastEnv(t, bond.ModeTLB, 0, fp)
	st := e.Status("bond0")
	bi, e0, e1 := st.Index, st.Slaves[0].Index, st.Slaves[1].Index
	c, ok := fp.wait(bi, func(c bond.FastConfig) bool { return len(c.Slaves) == 2 })
	require.True(t, ok, "config %v", c)
	assert.Equal(t, bond.FastTLB, c.Mode)
	assert.Zero(t, c.Flags)
	assert.Nil(t, c.TLB)
	assert.Equal(t, []int{e0, e1}, c.Slaves)
	assert.Len(t, c.MACs, 2)
}

// TestALBFastPathReceiveRules: balance-alb's inactive slaves receive
// unicast frames and readdress those to their own MAC to the bond's
// (rlb: each slave keeps its address), the entry says alb.
func TestALBFastPathReceiveRules(t *testing.T) {
	fp := &fastRec{bonds: map[int]bond.FastConfig{}, slaves: map[int]bond.FastSlave{}, changed: make(chan struct{}, 1)}
	e := albFastEnv(t, bond.ModeALB, 1, fp)
	st := e.Status("bond0")
	bi, e1 := st.Index, st.Slaves[1].Index
	c, ok := fp.wait(bi, func(c bond.FastConfig) bool { return c.Active != 0 })
	require.True(t, ok, "config %v", c)
	assert.Equal(t, uint32(bond.FastTLBDynamic|bond.FastTLBRLB), c.Flags)
	fp.mu.Lock()
	s1 := fp.slaves[e1]
	fp.mu.Unlock()
	assert.Equal(t, uint32(bond.FastRxDrop|bond.FastRxUnicast|bond.FastRxLocal), s1.Flags)
	assert.NotEqual(t, s1.Local, s1.Master)
}

func hostMACBytes(t *testing.T, e *bondtest.Env, name string) []byte {
	li, ok := e.Host.Link(name)
	require.True(t, ok)
	return li.HWAddr
}
