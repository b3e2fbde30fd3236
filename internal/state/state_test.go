package state

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	j, prev, err := Open(dir)
	require.NoError(t, err)
	require.Nil(t, prev, "no journal yet")

	require.NoError(t, j.Update(func(s *State) {
		s.Loaded = true
		s.ModuleOptions = []string{"max_bonds=2", "miimon=100"}
		b := s.AddBond("bond0")
		b.SetOption("mode", "active-backup")
		b.SetOption("miimon", "100")
		b.SetOption("mode", "balance-rr") // rewritten: goes last
		b.AddSlave(Slave{Name: "eth0", IfIndex: 3, PermMAC: "02:00:00:00:00:01", MTU: 1500, DisableIPv6: "0", NftChain: "bondingfs-eth0"})
		b.AddSlave(Slave{Name: "eth1", IfIndex: 4, PermMAC: "02:00:00:00:00:02", MTU: 9000, Up: true})
		b.ActiveSlave = "eth1"
		s.AddBond("bond1")
	}))

	_, prev, err = Open(dir)
	require.NoError(t, err)
	require.NotNil(t, prev)
	require.Equal(t, j.State(), *prev)
	require.Equal(t, []Option{{"miimon", "100"}, {"mode", "balance-rr"}}, prev.Bond("bond0").Options)
	require.Equal(t, "eth1", prev.Bond("bond0").ActiveSlave)
	require.Equal(t, []string{"bond0", "bond1"}, []string{prev.Bonds[0].Name, prev.Bonds[1].Name})

	// No temporary files are left behind.
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, ents, 1)
	require.Equal(t, FileName, ents[0].Name())
}

func TestSlaveBookkeeping(t *testing.T) {
	var s State
	b := s.AddBond("bond0")
	require.Same(t, b, s.AddBond("bond0"), "AddBond of an existing bond returns it")
	b.AddSlave(Slave{Name: "eth0"})
	b.AddSlave(Slave{Name: "eth1"})
	b.AddSlave(Slave{Name: "eth0", MTU: 1400}) // re-enslaved: goes last
	require.Equal(t, "eth1", b.Slaves[0].Name)
	require.Equal(t, 1400, b.Slaves[1].MTU)
	b.ActiveSlave = "eth0"
	b.RenameSlave("eth0", "lan0")
	require.Equal(t, "lan0", b.ActiveSlave)
	b.DelSlave("lan0")
	require.Equal(t, "", b.ActiveSlave, "releasing the active slave forgets it")
	require.Len(t, b.Slaves, 1)
	v, ok := b.Option("mode")
	require.False(t, ok)
	require.Equal(t, "", v)
	s.DelBond("bond0")
	require.Empty(t, s.Bonds)
}

func TestCloneIsDeep(t *testing.T) {
	var s State
	s.AddBond("bond0").SetOption("mode", "1")
	c := s.Clone()
	c.Bonds[0].Options[0].Value = "2"
	v, _ := s.Bond("bond0").Option("mode")
	require.Equal(t, "1", v)
}

func TestDamagedJournalIsNotFatal(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, FileName), []byte("{not json"), 0o600))
	j, prev, err := Open(dir)
	require.Error(t, err)
	require.Nil(t, prev)
	require.NotNil(t, j, "the journal is usable after a damaged file")
	require.NoError(t, j.Update(func(s *State) { s.AddBond("bond0") }))
	_, prev, err = Open(dir)
	require.NoError(t, err)
	require.Len(t, prev.Bonds, 1)

	require.NoError(t, os.WriteFile(filepath.Join(dir, FileName), []byte(`{"version":99}`), 0o600))
	_, prev, err = Open(dir)
	require.True(t, errors.Is(err, ErrVersion))
	require.Nil(t, prev)
}

func TestWriteFailureKeepsOldJournal(t *testing.T) {
	if os.Geteuid() == 0 {
		// root ignores directory permissions; use a vanished directory instead
		dir := t.TempDir()
		j, _, err := Open(dir)
		require.NoError(t, err)
		require.NoError(t, j.Update(func(s *State) { s.AddBond("bond0") }))
		require.NoError(t, os.RemoveAll(dir))
		require.Error(t, j.Update(func(s *State) { s.AddBond("bond1") }))
		require.Len(t, j.State().Bonds, 2, "the in-memory state keeps the change for the next write")
		return
	}
	dir := t.TempDir()
	j, _, err := Open(dir)
	require.NoError(t, err)
	require.NoError(t, j.Update(func(s *State) { s.AddBond("bond0") }))
	require.NoError(t, os.Chmod(dir, 0o500))
	t.Cleanup(func() { os.Chmod(dir, 0o700) })
	require.Error(t, j.Update(func(s *State) { s.AddBond("bond1") }))
	_, prev, err := Open(dir)
	require.NoError(t, err)
	require.Len(t, prev.Bonds, 1, "a failed write leaves the old journal whole")
}

func FuzzOpen(f *testing.F) {
	f.Add([]byte(`{"version":1,"bonds":[{"name":"bond0","options":[{"name":"mode","value":"1"}]}]}`))
	f.Add([]byte(`{"version":1,"clean":true}`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, FileName), data, 0o600); err != nil {
			t.Fatal(err)
		}
		j, prev, err := Open(dir)
		if j == nil {
			t.Fatalf("Open returned no journal: %v", err)
		}
		if err == nil && prev != nil && prev.Version != Version {
			t.Fatalf("accepted version %d", prev.Version)
		}
	})
}
