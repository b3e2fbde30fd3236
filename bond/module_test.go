package bond_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"bondingfs/bond"
	"bondingfs/bond/bondtest"
)

// A module load with new options changes the defaults of later bonds only;
// an unload deletes every bond with rmmod's log lines.
func TestSetDefaultsAndDeleteAllBonds(t *testing.T) {
	e := bondtest.New(t, bond.DefaultParams(), "eth0")
	ctx := context.Background()
	enslave(t, e, "eth0")
	p := bond.DefaultParams()
	p.Mode = bond.ModeActiveBackup
	p.Miimon = 100
	require.NoError(t, e.Reg.SetDefaults(ctx, p))
	require.NoError(t, e.Reg.CreateBond(ctx, "bond1"))
	snap := e.Reg.Snapshot()
	require.Equal(t, bond.ModeActiveBackup, snap.Bond("bond1").Params.Mode)
	require.Equal(t, bond.ModeRoundRobin, snap.Bond("bond0").Params.Mode, "bond0 keeps its mode")
	e.Log.Take()
	require.NoError(t, e.Reg.DeleteAllBonds(ctx))
	require.Empty(t, e.Reg.Snapshot().Bonds)
	want := map[string]bool{"bond0 (unregistering): Released all slaves": false, "bond1 (unregistering): Released all slaves": false}
	for _, l := range e.Log.Take() {
		if _, ok := want[l]; ok {
			want[l] = true
		}
	}
	for l, seen := range want {
		require.True(t, seen, "log lacks %q", l)
	}
}
