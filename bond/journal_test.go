package bond_test

import (
	"context"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"bondingfs/bond"
	"bondingfs/bond/bondtest"
)

// An operation that has started returns its own result even if the
// caller's context ends meanwhile (a FUSE write interrupted after the
// change was applied must not return EINTR, or the caller retries it and
// `+eth0` is applied twice); one that has not started never runs.
func TestDoNoEINTRAfterStart(t *testing.T) {
	r := bond.NewRegistry(bond.Config{Host: bondtest.NewHost(), Defaults: bond.DefaultParams()})
	require.NoError(t, r.Start())
	defer r.Close()

	ctx, cancel := context.WithCancel(context.Background())
	running, release := make(chan struct{}), make(chan struct{})
	res := make(chan error, 1)
	go func() {
		res <- r.Do(ctx, func() error { close(running); <-release; return syscall.EEXIST })
	}()
	<-running
	cancel()
	close(release)
	require.ErrorIs(t, <-res, syscall.EEXIST, "the result of an operation that ran")

	// a queued operation whose caller gives up never runs
	block, unblock := make(chan struct{}), make(chan struct{})
	go func() { _ = r.Do(context.Background(), func() error { close(block); <-unblock; return nil }) }()
	<-block
	ctx2, cancel2 := context.WithCancel(context.Background())
	ran := false
	done := make(chan error, 1)
	go func() { done <- r.Do(ctx2, func() error { ran = true; return nil }) }()
	cancel2()
	err := <-done
	close(unblock)
	require.NoError(t, r.Do(context.Background(), func() error { return nil }))
	require.ErrorIs(t, err, context.Canceled)
	require.False(t, ran, "an operation whose caller gave up before it started ran")
}

// fakeJournal is an in-memory bond.Journal: what was recorded, and how much
// of it each Sync found (synced[i]: the changes recorded before the i-th
// sync); Sync fails with err when set.
type fakeJournal struct {
	mu     sync.Mutex
	got    []bond.Change
	synced []int
	err    error
}

func (j *fakeJournal) Record(c bond.Change) {
	j.mu.Lock()
	j.got = append(j.got, c)
	j.mu.Unlock()
}

func (j *fakeJournal) Sync() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.synced = append(j.synced, len(j.got))
	return j.err
}

// Config.Journal sees every accepted change, in order, and nothing that
// failed.
func TestJournalHook(t *testing.T) {
	h := bondtest.NewHost()
	h.AddVeth("eth0", 1)
	fj := &fakeJournal{}
	r := bond.NewRegistry(bond.Config{Host: h, Defaults: bond.DefaultParams(), Journal: fj})
	require.NoError(t, r.Start())
	ctx := context.Background()
	admin := bond.Caller{NetAdmin: true}
	require.NoError(t, r.WriteMasters(ctx, "+bond0"))
	require.NoError(t, r.WriteOption(ctx, "bond0", "mode", "active-backup\n", admin))
	require.Error(t, r.WriteOption(ctx, "bond0", "miimon", "bogus\n", admin))
	require.NoError(t, r.WriteOption(ctx, "bond0", "arp_ip_target", "+192.0.2.1\n", admin))
	require.NoError(t, r.WriteOption(ctx, "bond0", "arp_ip_target", "+192.0.2.2\n", admin))
	require.NoError(t, r.WriteOption(ctx, "bond0", "slaves", "+eth0\n", admin))
	require.NoError(t, r.WriteOption(ctx, "bond0", "slaves", "-eth0\n", admin))
	require.NoError(t, r.WriteMasters(ctx, "-bond0"))
	r.Close()

	fj.mu.Lock()
	defer fj.mu.Unlock()
	var kinds []bond.ChangeKind
	got := fj.got
	for _, c := range got {
		kinds = append(kinds, c.Kind)
	}
	require.Equal(t, []bond.ChangeKind{bond.ChangeCreate, bond.ChangeOption, bond.ChangeOption, bond.ChangeOption,
		bond.ChangeActive, bond.ChangeEnslave, bond.ChangeActive, bond.ChangeRelease, bond.ChangeDelete}, kinds)
	require.Equal(t, "active-backup\n", got[1].Value)
	require.Equal(t, "192.0.2.1 192.0.2.2", got[3].Value, "arp_ip_target is journaled as the resulting list")
	require.Equal(t, "eth0", got[4].Name, "the first slave becomes the active one")
	require.Equal(t, "eth0", got[5].Slave.Name)
	require.Equal(t, "02:00:00:00:00:01", got[5].Slave.PermMAC.String())
	require.Equal(t, 1500, got[5].Slave.MTU)
	require.Equal(t, "", got[6].Name, "no active slave after the release")
}

// WriteMasters and WriteOption return only after a Sync that found their
// change recorded, refused writes included (a refused write syncs nothing
// new); a failed Sync is logged and leaves the write's own result.
func TestJournalSyncBeforeReturn(t *testing.T) {
	h := bondtest.NewHost()
	fj := &fakeJournal{}
	var logMu sync.Mutex
	var logs []string
	r := bond.NewRegistry(bond.Config{Host: h, Defaults: bond.DefaultParams(), Journal: fj, Log: func(s string) {
		logMu.Lock()
		logs = append(logs, s)
		logMu.Unlock()
	}})
	require.NoError(t, r.Start())
	defer r.Close()
	ctx := context.Background()
	admin := bond.Caller{NetAdmin: true}
	synced := func() []int {
		fj.mu.Lock()
		defer fj.mu.Unlock()
		return append([]int(nil), fj.synced...)
	}
	require.NoError(t, r.WriteMasters(ctx, "+bond0"))
	require.Equal(t, []int{1}, synced(), "bond0 created, synced before WriteMasters returned")
	require.NoError(t, r.WriteOption(ctx, "bond0", "miimon", "100\n", admin))
	require.Equal(t, []int{1, 2}, synced())
	require.ErrorIs(t, r.WriteOption(ctx, "bond0", "nonesuch", "1\n", admin), syscall.ENOENT)
	require.Equal(t, []int{1, 2}, synced(), "a write refused before it reaches the engine changes nothing and syncs nothing")
	require.ErrorIs(t, r.WriteOption(ctx, "bond0", "miimon", "bogus\n", admin), syscall.EINVAL)
	require.Equal(t, []int{1, 2, 2}, synced(), "a write the engine refused syncs too (it may have recorded the bond's IFF_UP)")
	require.NoError(t, r.CreateBond(ctx, "bond1"))
	require.Equal(t, []int{1, 2, 2}, synced(), "CreateBond (module load) does not sync: its caller does")

	fj.mu.Lock()
	fj.err = syscall.ENOSPC
	fj.mu.Unlock()
	require.NoError(t, r.WriteOption(ctx, "bond0", "miimon", "200\n", admin), "a failed sync never fails the write")
	logMu.Lock()
	defer logMu.Unlock()
	require.Contains(t, logs, "bondingfs: journal: "+syscall.ENOSPC.Error())
}

// reservingJournal is a fakeJournal that is a bond.JournalReserver.
type reservingJournal struct {
	fakeJournal
	reserveErr error // Reserve's error
	doneErr    error // done's error
	dones      int
}

func (j *reservingJournal) Reserve() (func() error, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.reserveErr != nil {
		return nil, j.reserveErr
	}
	return func() error {
		j.mu.Lock()
		defer j.mu.Unlock()
		j.dones++
		return j.doneErr
	}, nil
}

// With a JournalReserver, a write whose journaling cannot be reserved fails
// with the reservation's errno and changes nothing; one whose journal write
// fails afterwards returns that errno; every reserved write ends with done.
func TestJournalReserver(t *testing.T) {
	h := bondtest.NewHost()
	fj := &reservingJournal{}
	r := bond.NewRegistry(bond.Config{Host: h, Defaults: bond.DefaultParams(), Journal: fj})
	require.NoError(t, r.Start())
	defer r.Close()
	ctx := context.Background()
	admin := bond.Caller{NetAdmin: true}
	require.NoError(t, r.WriteMasters(ctx, "+bond0"))
	require.NoError(t, r.WriteOption(ctx, "bond0", "miimon", "100\n", admin))

	fj.mu.Lock()
	fj.reserveErr = syscall.ENOSPC
	recorded := len(fj.got)
	fj.mu.Unlock()
	require.ErrorIs(t, r.WriteOption(ctx, "bond0", "miimon", "222\n", admin), syscall.ENOSPC)
	require.ErrorIs(t, r.WriteMasters(ctx, "+bond1"), syscall.ENOSPC)
	require.ErrorIs(t, r.WriteMasters(ctx, "-bond0"), syscall.ENOSPC)
	snap := r.Snapshot()
	require.Equal(t, 100, snap.Bond("bond0").Params.Miimon, "a write that could not be journaled changed nothing")
	require.Nil(t, snap.Bond("bond1"))
	fj.mu.Lock()
	require.Equal(t, recorded, len(fj.got), "nothing was recorded")
	fj.reserveErr, fj.doneErr = nil, syscall.EIO
	fj.mu.Unlock()
	require.ErrorIs(t, r.WriteOption(ctx, "bond0", "miimon", "300\n", admin), syscall.EIO, "a failed journal write fails the write")
	require.ErrorIs(t, r.WriteOption(ctx, "bond0", "miimon", "bogus\n", admin), syscall.EINVAL, "the write's own error wins")
	fj.mu.Lock()
	defer fj.mu.Unlock()
	require.Equal(t, 4, fj.dones)
	require.Empty(t, fj.synced, "a JournalReserver is never synced with Sync")
}
