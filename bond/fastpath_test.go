package bond_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"bondingfs/bond"
	"bondingfs/bond/bondtest"
)

// fakeFast records what the engine writes to the fast path, in order.
type fakeFast struct {
	mu      sync.Mutex
	calls   []string
	bonds   map[int]bond.FastConfig
	slaves  map[int]bond.FastSlave
	att     map[int]bool
	changed chan struct{}
}

func newFakeFast() *fakeFast {
	return &fakeFast{bonds: map[int]bond.FastConfig{}, slaves: map[int]bond.FastSlave{}, att: map[int]bool{}, changed: make(chan struct{}, 1)}
}

func (f *fakeFast) log(s string, a ...any) {
	f.calls = append(f.calls, fmt.Sprintf(s, a...))
	select {
	case f.changed <- struct{}{}:
	default:
	}
}

// waitCall waits (on the engine's writes, at most waitFrames) until a call
// starting with s has been made since the last take, and returns the calls
// made so far.
func (f *fakeFast) waitCall(s string) []string {
	deadline := time.After(waitFrames)
	for {
		f.mu.Lock()
		c := append([]string(nil), f.calls...)
		f.mu.Unlock()
		if index(c, s) >= 0 {
			return c
		}
		select {
		case <-f.changed:
		case <-deadline:
			return c
		}
	}
}

func (f *fakeFast) AttachMaster(i int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.att[i] = true
	f.log("attach-master %d", i)
	return nil
}

func (f *fakeFast) AttachSlave(i int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.att[i] = true
	f.log("attach-slave %d", i)
	return nil
}

func (f *fakeFast) Detach(i int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.att, i)
	f.log("detach %d", i)
	return nil
}

func (f *fakeFast) SetBond(i int, c bond.FastConfig) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bonds[i] = c
	f.log("bond %d mode %d active %d slaves %v", i, c.Mode, c.Active, c.Slaves)
	return nil
}

func (f *fakeFast) DeleteBond(i int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.bonds, i)
	f.log("delete-bond %d", i)
	return nil
}

func (f *fakeFast) SetSlave(i int, st bond.FastSlave) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.slaves[i] = st
	f.log("slave %d drop %v", i, st.Flags&bond.FastRxDrop != 0)
	return nil
}

func (f *fakeFast) DeleteSlave(i int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.slaves, i)
	f.log("delete-slave %d", i)
	return nil
}

func (f *fakeFast) Stats(int) (bond.FastStats, error) { return bond.FastStats{RxPackets: 7}, nil }

func (f *fakeFast) TakeTLBBytes(int, *[257]uint64) error { return nil }

func (f *fakeFast) take() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls
	f.calls = nil
	return c
}

// newFastEnv is bondtest.New with fp as the registry's fast path.
func newFastEnv(t *testing.T, p bond.Params, fp bond.FastPath, slaves ...string) *bondtest.Env {
	t.Helper()
	e := &bondtest.Env{T: t, Host: bondtest.NewHost(), Clock: bondtest.NewClock(), Log: &bondtest.Log{}}
	for i, s := range slaves {
		e.Host.AddVeth(s, byte(i+1))
	}
	e.Clock.AfterFire = e.Settle
	e.Reg = bond.NewRegistry(bond.Config{Host: e.Host, Log: e.Log.Add, Defaults: p, Clock: e.Clock, FastPath: fp})
	require.NoError(t, e.Reg.Start())
	t.Cleanup(e.Reg.Close)
	require.NoError(t, e.Reg.CreateBond(context.Background(), "bond0"))
	e.Settle()
	return e
}

func TestFastPathActiveBackup(t *testing.T) {
	fp := newFakeFast()
	e := newFastEnv(t, abParams(10), fp, "eth0", "eth1")
	enslave(t, e, "eth0", "eth1")
	st := e.Status("bond0")
	assert.Equal(t, "userspace", st.DataPath, "a bond that is down stays off the fast path")
	e.SetUp("bond0", true)
	st = e.Status("bond0")
	require.Equal(t, "ebpf", st.DataPath)
	bi, e0, e1 := st.Index, st.Slaves[0].Index, st.Slaves[1].Index
	fp.mu.Lock()
	assert.Equal(t, bond.FastConfig{Mode: bond.FastActive, Active: e0, PPS: 1}, fp.bonds[bi])
	assert.Equal(t, uint32(0), fp.slaves[e0].Flags&bond.FastRxDrop)
	assert.Equal(t, uint32(bond.FastRxDrop), fp.slaves[e1].Flags&bond.FastRxDrop)
	assert.Equal(t, bi, fp.slaves[e1].Bond)
	fp.mu.Unlock()
	// the slave readers no longer deliver: the kernel does
	m := e.Host.Master(bi)
	e.Host.SlaveDev("eth0").Inject(zeroFrame())
	require.True(t, e.Host.SlaveDev("eth0").WaitConsumed(1, waitFrames))
	assert.Equal(t, 0, m.Sent())
	// the fast path's counters are the slave's
	assert.Equal(t, uint64(7), st.Slaves[0].Counters.RxFrames())
	fp.take()

	// failover: the new slave delivers first, then the transmit switch,
	// the old slave stops last
	e.Host.SetCarrier("eth0", false)
	e.Settle()
	// the old slave's drop waits for the peer notification's goroutine
	calls := fp.waitCall(fmt.Sprintf("slave %d drop true", e0))
	fp.take()
	iNew := index(calls, fmt.Sprintf("slave %d drop false", e1))
	iTx := index(calls, fmt.Sprintf("bond %d mode 1 active %d slaves []", bi, e1))
	iOld := index(calls, fmt.Sprintf("slave %d drop true", e0))
	require.True(t, iNew >= 0 && iTx >= 0 && iOld >= 0, "calls: %q", calls)
	assert.Less(t, iNew, iTx, "calls: %q", calls)
	assert.Less(t, iTx, iOld, "calls: %q", calls)

	// down: the entries go, the userspace path serves the bond again
	e.SetUp("bond0", false)
	assert.Equal(t, "userspace", e.Status("bond0").DataPath)
	fp.mu.Lock()
	assert.Empty(t, fp.bonds)
	assert.Empty(t, fp.slaves)
	fp.mu.Unlock()
	e.Host.SlaveDev("eth1").Inject(zeroFrame())
	require.True(t, m.WaitSent(1, waitFrames), "the slave reader delivers again")

	// release detaches the slave's program; deleting the bond the TAP's
	fp.take()
	b := e.Bond("bond0")
	require.NoError(t, e.Do(func() error { return b.Release("eth1") }))
	e.Settle()
	assert.Contains(t, fp.take(), fmt.Sprintf("detach %d", e1))
	require.NoError(t, e.Reg.WriteMasters(context.Background(), "-bond0"))
	e.Settle()
	fp.mu.Lock()
	assert.Empty(t, fp.att, "programs left after the bond's deletion")
	fp.mu.Unlock()
}

func TestFastPathXORAndRR(t *testing.T) {
	fp := newFakeFast()
	p := bond.DefaultParams()
	p.Mode = bond.ModeXOR
	p.Miimon = 10
	e := newFastEnv(t, p, fp, "eth0", "eth1")
	enslave(t, e, "eth0", "eth1")
	write(t, e, "xmit_hash_policy", "layer3+4\n")
	e.SetUp("bond0", true)
	st := e.Status("bond0")
	bi, e0, e1 := st.Index, st.Slaves[0].Index, st.Slaves[1].Index
	fp.mu.Lock()
	assert.Equal(t, bond.FastConfig{Mode: bond.FastHash, Policy: 1, PPS: 1, Slaves: []int{e0, e1}}, fp.bonds[bi])
	fp.mu.Unlock()
	e.Host.SetCarrier("eth1", false)
	e.Settle()
	fp.mu.Lock()
	assert.Equal(t, []int{e0}, fp.bonds[bi].Slaves)
	fp.mu.Unlock()

	e.Host.SetCarrier("eth1", true)
	e.Settle()
	e.SetUp("bond0", false)
	b := e.Bond("bond0")
	require.NoError(t, e.Do(func() error { return b.Release("eth0") }))
	require.NoError(t, e.Do(func() error { return b.Release("eth1") }))
	e.Settle()
	write(t, e, "mode", "balance-rr\n")
	write(t, e, "packets_per_slave", "3\n")
	enslave(t, e, "eth0", "eth1")
	e.SetUp("bond0", true)
	fp.mu.Lock()
	assert.Equal(t, bond.FastConfig{Mode: bond.FastRR, Policy: 1, PPS: 3, Slaves: []int{e0, e1}}, fp.bonds[bi])
	fp.mu.Unlock()
}

func index(calls []string, s string) int {
	for i, c := range calls {
		if strings.HasPrefix(c, s) {
			return i
		}
	}
	return -1
}
