package alb

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The eBPF fast path's view of the tables (bond.FastTLBer): the buckets the
// transmit path bound, Config.Bound once per Xmit that bound one, and the
// bytes the fast path sent feeding load_history at the rebalance.

func TestFastViewMirrorsBindings(t *testing.T) {
	r := newRig(t, false, 2)
	bound := 0
	r.a.SetConfig(Config{TLBOnly: true, DynamicLB: true, LPInterval: 1, Hash: layer2, Bound: func() { bound++ }})
	var v FastView
	r.a.FastView(&v)
	assert.Equal(t, [TLBHashSize]*Slave{}, v.Table, "nothing bound before the first frame")
	assert.Same(t, r.s[0], v.Curr)
	assert.True(t, v.Dynamic)
	assert.Equal(t, map[*Slave]MAC{r.s[0]: r.s[0].MAC, r.s[1]: r.s[1].MAC}, v.MACs)

	f := ipv4(1, 100)
	idx := layer2(f[vnetHdrLen:]) & 0xff
	r.a.Xmit(f)
	assert.Equal(t, 1, bound, "the binding Xmit calls Bound")
	r.a.Xmit(ipv4(1, 100))
	assert.Equal(t, 1, bound, "a bound bucket calls nothing")
	r.a.FastView(&v)
	for i, s := range v.Table {
		if uint32(i) == idx {
			assert.Same(t, r.s[0], s)
		} else {
			assert.Nil(t, s, "bucket %d", i)
		}
	}
	// a slave that cannot transmit: its buckets look unbound, so their
	// frames go through Xmit, which clears them
	r.a.SetLink(r.s[0], false, 10000)
	r.a.FastView(&v)
	assert.Nil(t, v.Table[idx])
	assert.NotContains(t, v.MACs, r.s[0])
}

func TestFastViewNonDynamic(t *testing.T) {
	r := newRig(t, false, 2)
	r.a.SetConfig(Config{TLBOnly: true, DynamicLB: false, LPInterval: 1, Hash: layer2})
	r.a.SetLink(r.s[1], true, 10000) // updates usable
	var v FastView
	r.a.FastView(&v)
	assert.False(t, v.Dynamic)
	assert.Equal(t, []*Slave{r.s[0], r.s[1]}, v.Usable)
}

func TestAddTxBytesFeedsLoadHistory(t *testing.T) {
	r := newRig(t, false, 2)
	r.a.Monitor() // the first rebalance (bond_alb_init_slave makes it due)
	f := ipv4(1, 60)
	idx := layer2(f[vnetHdrLen:]) & 0xff
	r.a.Xmit(f) // binds the bucket: 60 bytes
	for i := 0; i < RebalanceTicks-1; i++ {
		assert.False(t, r.a.RebalanceDue(), "tick %d", i)
		r.a.Monitor()
	}
	require.True(t, r.a.RebalanceDue())
	var b [TLBHashSize + 1]uint64
	b[idx] = 9940      // what bond_egress sent through the bucket
	b[(idx+1)%256] = 5 // an unbound bucket: nothing to add to
	b[TLBHashSize] = 500
	r.a.AddTxBytes(&b)
	r.a.Monitor()
	_, tx, hist := r.a.TLBEntry(int(idx))
	assert.Equal(t, uint32(0), tx)
	assert.Equal(t, uint32(1+10000/RebalanceInterval), hist)
	_, tx, hist = r.a.TLBEntry(int((idx + 1) % 256))
	assert.Equal(t, [2]uint32{0, 0}, [2]uint32{tx, hist}, "an unbound bucket takes no bytes (the kernel counts only bound ones)")
	assert.Equal(t, uint32(500/RebalanceInterval), r.a.Load(r.s[0]), "the current slave carries the unbalanced load")
}
