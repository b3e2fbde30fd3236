package state

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
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

// A journal is not trusted: names the kernel would refuse (dev_valid_name),
// the loopback and a bond listed twice are dropped, each with one log line
// that quotes at most 32 bytes of the name.
func TestSanitize(t *testing.T) {
	long := strings.Repeat("x", 5000)
	s := State{Bonds: []Bond{
		{Name: "bond0", ActiveSlave: "eth/0", Slaves: []Slave{{Name: "eth0"}, {Name: "lo"}, {Name: long}, {Name: "../x"}, {Name: "eth1"}}},
		{Name: long},
		{Name: "lo"},
		{Name: "bond 1"},
		{Name: "bond0"},
		{Name: "bond2"},
	}}
	lines := s.Sanitize()
	require.Equal(t, []string{"bond0", "bond2"}, []string{s.Bonds[0].Name, s.Bonds[1].Name})
	require.Equal(t, []Slave{{Name: "eth0"}, {Name: "eth1"}}, s.Bonds[0].Slaves)
	require.Equal(t, "", s.Bonds[0].ActiveSlave)
	require.Len(t, lines, 8)
	for _, l := range lines {
		require.Less(t, len(l), 100, "a log line quotes at most 32 bytes of a name: %q", l)
	}
	require.Contains(t, lines, `bond "lo": invalid name, skipped`)
	require.Contains(t, lines, `bond0: slave "lo": invalid name, skipped`)
	require.Contains(t, lines, `bond "bond0": listed twice, the second skipped`)
	require.Empty(t, (&State{Bonds: []Bond{{Name: "bond0", Slaves: []Slave{{Name: "eth0"}}}}}).Sanitize())
}

// Two identities are one namespace instance when their cookies match (both
// known), else when their inodes do; the kernel reuses an inode for a new
// namespace, never a cookie.
func TestNetnsSame(t *testing.T) {
	a := &Netns{Inode: 4026532909, Cookie: 7}
	require.True(t, a.Same(&Netns{Inode: 4026532909, Cookie: 7}))
	require.False(t, a.Same(&Netns{Inode: 4026532909, Cookie: 8}), "a namespace made again with the old inode")
	require.False(t, a.Same(&Netns{Inode: 4026532910, Cookie: 7}))
	require.True(t, a.Same(&Netns{Inode: 4026532909}), "no cookie: the inode decides")
	require.False(t, (*Netns)(nil).Same(a), "a journal without an identity is never the same instance")
	require.False(t, a.Same(nil))
	require.False(t, (&Netns{}).Same(&Netns{}))
}

// A write with a Reservation lands in the reserved file (the journal file
// is that file afterwards), leaves no temporary file, and a reservation
// that fails is recorded in Health until the next good write.
func TestReserve(t *testing.T) {
	dir := t.TempDir()
	j, _, err := Open(dir)
	require.NoError(t, err)
	require.True(t, j.Health().OK)
	res, err := j.Reserve()
	require.NoError(t, err)
	st, err := res.f.Stat()
	require.NoError(t, err)
	require.GreaterOrEqual(t, st.Size(), int64(ReserveMargin), "the room is allocated")
	j.Apply(func(s *State) { s.AddBond("bond0") })
	require.NoError(t, j.FlushReserved(res))
	fst, err := os.Stat(j.Path())
	require.NoError(t, err)
	require.True(t, os.SameFile(st, fst), "the reserved file became the journal")
	require.Less(t, fst.Size(), int64(ReserveMargin), "cut to its content")
	h := j.Health()
	require.True(t, h.OK)
	require.Equal(t, uint64(1), h.Writes)
	require.False(t, h.LastWrite.IsZero())

	// nothing to write: the reservation is given back
	res, err = j.Reserve()
	require.NoError(t, err)
	require.NoError(t, j.FlushReserved(res))
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, ents, 1, "only the journal is left: %v", ents)

	// the directory gone: the reservation fails, and Health says so
	require.NoError(t, os.RemoveAll(dir))
	_, err = j.Reserve()
	require.ErrorIs(t, err, os.ErrNotExist)
	h = j.Health()
	require.False(t, h.OK)
	require.Contains(t, h.Error, "no such file")
	require.Equal(t, uint64(1), h.Failures)
	j.Apply(func(s *State) { s.AddBond("bond1") })
	require.Error(t, j.Flush())
	require.NoError(t, os.MkdirAll(dir, 0o700))
	require.NoError(t, j.Flush())
	require.True(t, j.Health().OK, "a good write heals")
	_, prev, err := Open(dir)
	require.NoError(t, err)
	require.Equal(t, []string{"bond0", "bond1"}, []string{prev.Bonds[0].Name, prev.Bonds[1].Name})
}

// Open removes the temporary files of a writer that was killed.
func TestOpenRemovesTemporaryFiles(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, FileName+".tmp123"), []byte("{"), 0o600))
	_, _, err := Open(dir)
	require.NoError(t, err)
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, ents)
}

// FuzzSanitize: any journal text decodes or fails, and what Sanitize leaves
// has only valid, distinct bond names and valid slave names.
func FuzzSanitize(f *testing.F) {
	f.Add([]byte(`{"version":1,"bonds":[{"name":"bond0","slaves":[{"name":"lo"},{"name":"eth0"}],"active_slave":"eth0"}]}`))
	f.Add([]byte(`{"version":1,"bonds":[{"name":"../x"},{"name":"bond0"},{"name":"bond0"}],"netns":{"inode":1,"cookie":2},"pid":7}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var s State
		if json.Unmarshal(data, &s) != nil {
			return
		}
		s.Sanitize()
		seen := map[string]bool{}
		for _, b := range s.Bonds {
			if !ValidName(b.Name) || seen[b.Name] {
				t.Fatalf("bond %q left", b.Name)
			}
			seen[b.Name] = true
			for _, sl := range b.Slaves {
				if !ValidName(sl.Name) {
					t.Fatalf("slave %q left", sl.Name)
				}
			}
			if b.ActiveSlave != "" && !ValidName(b.ActiveSlave) {
				t.Fatalf("active slave %q left", b.ActiveSlave)
			}
		}
	})
}
