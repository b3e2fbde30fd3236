package bond_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"
	"weak"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"bondingfs/bond"
	"bondingfs/bond/bondtest"
)

// TestDeletedBondsUnreachable (issue 19: memory returns once the bonds are
// deleted): 40 active-backup bonds over 2 slaves each, up with their MII
// monitor running, deleted one by one in creation order. Afterwards no
// deleted bond or released slave may be reachable (weak pointers cleared by
// a GC: a stale pointer in the registry's bond list, a bond's slave list,
// the carrier read or a snapshot would keep one, and with it its mode,
// devices and buffers), the registry's bond list is gone rather than
// emptied, and the MII monitor's carrier read has dropped its dump buffer.
func TestDeletedBondsUnreachable(t *testing.T) {
	const n = 40
	p := bond.DefaultParams()
	p.Mode, p.Miimon = bond.ModeActiveBackup, 100
	var eths []string
	for i := 0; i < 2*n; i++ {
		eths = append(eths, fmt.Sprintf("eth%d", i))
	}
	e := bondtest.New(t, p, eths...)
	ctx := context.Background()

	var bonds []weak.Pointer[bond.Bond]
	var slaves []weak.Pointer[bond.Slave]
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("bond%d", i)
		if i > 0 { // bondtest.New made bond0
			require.NoError(t, e.Reg.CreateBond(ctx, name))
		}
		e.Settle()
		e.SetUp(name, true)
		require.NoError(t, e.Do(func() error {
			b := e.Reg.Bond(name)
			for _, s := range eths[2*i : 2*i+2] {
				if err := b.Enslave(s); err != nil {
					return err
				}
			}
			bonds = append(bonds, weak.Make(b))
			for _, s := range b.Slaves() {
				slaves = append(slaves, weak.Make(s))
			}
			return nil
		}))
		e.Settle()
	}
	e.Tick(time.Second) // the MII monitor and the carrier read run
	require.Len(t, e.Reg.Snapshot().Bonds, n)
	require.Len(t, slaves, 2*n)
	_, buf := bond.Retained(e.Reg)
	require.True(t, buf, "the carrier read has run")

	for i := 0; i < n; i++ {
		require.NoError(t, e.Reg.WriteMasters(ctx, fmt.Sprintf("-bond%d", i)))
	}
	e.Settle()
	e.Tick(time.Second) // the ended chain of carrier reads fires once more
	require.Empty(t, e.Reg.Snapshot().Bonds)

	runtime.GC()
	runtime.GC()
	for i, w := range bonds {
		assert.Nil(t, w.Value(), "bond%d is still reachable after its deletion", i)
	}
	for i, w := range slaves {
		assert.Nil(t, w.Value(), "eth%d is still reachable after its bond's deletion", i)
	}
	bondsCap, buf := bond.Retained(e.Reg)
	assert.Zero(t, bondsCap, "the registry's bond list outlives its bonds")
	assert.False(t, buf, "the carrier read keeps its dump buffer with no MII monitor running")
}
