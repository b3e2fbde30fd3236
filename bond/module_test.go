package bond

import (
	"context"
	"testing"
)

// A module load with new options changes the defaults of later bonds only;
// an unload deletes every bond with rmmod's log lines.
func TestSetDefaultsAndDeleteAllBonds(t *testing.T) {
	r, _, lg := newEngine(t, DefaultParams())
	ctx := context.Background()
	if err := do(t, r, func() error { return r.Bond("bond0").Enslave("eth0") }); err != nil {
		t.Fatal(err)
	}
	p := DefaultParams()
	p.Mode = ModeActiveBackup
	p.Miimon = 100
	if err := r.SetDefaults(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := r.CreateBond(ctx, "bond1"); err != nil {
		t.Fatal(err)
	}
	snap := r.Snapshot()
	if got := snap.Bond("bond1").Params.Mode; got != ModeActiveBackup {
		t.Errorf("bond1 mode %v, want active-backup", got)
	}
	if got := snap.Bond("bond0").Params.Mode; got != ModeRoundRobin {
		t.Errorf("bond0 mode changed to %v by the new defaults", got)
	}
	lg.take()
	if err := r.DeleteAllBonds(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(r.Snapshot().Bonds); n != 0 {
		t.Errorf("%d bonds left after DeleteAllBonds", n)
	}
	want := map[string]bool{"bond0 (unregistering): Released all slaves": false, "bond1 (unregistering): Released all slaves": false}
	for _, l := range lg.take() {
		if _, ok := want[l]; ok {
			want[l] = true
		}
	}
	for l, seen := range want {
		if !seen {
			t.Errorf("log lacks %q", l)
		}
	}
}
