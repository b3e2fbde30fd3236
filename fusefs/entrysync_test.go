package fusefs

import (
	"reflect"
	"sort"
	"testing"

	"bondingfs/bond"
)

// staleEntries names what each kind of change makes stale, and nothing
// for a snapshot that changed nothing the entries show.
func TestStaleEntries(t *testing.T) {
	b := func(name string, slaves ...string) *bond.BondStatus {
		st := &bond.BondStatus{Name: name}
		for _, s := range slaves {
			st.Slaves = append(st.Slaves, bond.SlaveStatus{Name: s})
		}
		return st
	}
	snap := func(bs ...*bond.BondStatus) *bond.Snapshot { return &bond.Snapshot{Bonds: bs} }
	for _, tc := range []struct {
		name     string
		old, cur *bond.Snapshot
		want     []string
	}{
		{"nothing", snap(b("bond0", "eth0")), snap(b("bond0", "eth0")), nil},
		{"enslave", snap(b("bond0")), snap(b("bond0", "eth0")), []string{"eth0/flags"}},
		{"release", snap(b("bond0", "eth0", "eth1")), snap(b("bond0", "eth1")),
			[]string{"bond0/lower_eth0", "eth0/bonding_slave", "eth0/flags", "eth0/master", "eth0/upper_bond0"}},
		{"move", snap(b("bond0", "eth0"), b("bond1")), snap(b("bond0"), b("bond1", "eth0")),
			[]string{"bond0/lower_eth0", "eth0/bonding_slave", "eth0/flags", "eth0/master", "eth0/upper_bond0"}},
		{"create", snap(), snap(b("bond0")), []string{"bond0/bonding", "bond0/flags"}},
		{"delete with a slave", snap(b("bond0", "eth0")), snap(),
			[]string{"bond0/bonding", "bond0/flags", "bond0/lower_eth0", "eth0/bonding_slave", "eth0/flags", "eth0/master", "eth0/upper_bond0"}},
	} {
		var got []string
		for _, e := range staleEntries(tc.old, tc.cur) {
			got = append(got, e.dev+"/"+e.name)
		}
		sort.Strings(got)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}
