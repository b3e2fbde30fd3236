package bond_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"bondingfs/bond"
	"bondingfs/bond/bondtest"
)

// TestReleasePermHWAddrWarning: __bond_release_one (Debian's 6.1.192, oracle
// 62-release-hwaddr) warns that the released slave's permanent MAC is still
// the bond's whenever other slaves remain, except in active-backup with
// fail_over_mac active (where the bond's MAC moves to the next active
// slave): fail_over_mac follow warns too, and fail_over_mac has no say
// outside active-backup.
func TestReleasePermHWAddrWarning(t *testing.T) {
	const warn = "bond0: (slave eth0): the permanent HWaddr of slave - 02:00:00:00:00:01 - is still in use by bond - set the HWaddr of slave to a different address to avoid conflicts"
	for _, tc := range []struct {
		name string
		mode bond.ModeID
		fom  bond.FailOverMAC
		want bool
	}{
		{"active-backup none", bond.ModeActiveBackup, bond.FOMNone, true},
		{"active-backup active", bond.ModeActiveBackup, bond.FOMActive, false},
		{"active-backup follow", bond.ModeActiveBackup, bond.FOMFollow, true},
		{"balance-xor follow", bond.ModeXOR, bond.FOMFollow, true},
		{"balance-rr active", bond.ModeRoundRobin, bond.FOMActive, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := bond.DefaultParams()
			p.Mode, p.Miimon, p.FailOverMAC = tc.mode, 100, tc.fom
			e := bondtest.New(t, p, "eth0", "eth1")
			enslave(t, e, "eth0", "eth1")
			e.SetUp("bond0", true)
			e.Log.Take()
			b := e.Bond("bond0")
			require.NoError(t, e.Do(func() error { return b.Release("eth0") }))
			e.Settle()
			logs := e.Log.Take()
			if tc.want {
				assert.Contains(t, logs, warn)
			} else {
				assert.NotContains(t, logs, warn)
			}
			// the last slave leaves no slave behind: never a warning
			require.NoError(t, e.Do(func() error { return b.Release("eth1") }))
			e.Settle()
			for _, l := range e.Log.Take() {
				assert.NotContains(t, l, "is still in use by bond")
			}
		})
	}
}
