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

// Config.Journal sees every accepted change, in order, and nothing that
// failed.
func TestJournalHook(t *testing.T) {
	h := bondtest.NewHost()
	h.AddVeth("eth0", 1)
	var mu sync.Mutex
	var got []bond.Change
	r := bond.NewRegistry(bond.Config{Host: h, Defaults: bond.DefaultParams(), Journal: func(c bond.Change) {
		mu.Lock()
		got = append(got, c)
		mu.Unlock()
	}})
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

	mu.Lock()
	defer mu.Unlock()
	var kinds []bond.ChangeKind
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
