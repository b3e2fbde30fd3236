package fusefs

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"

	"bondingfs/bond"
)

// fakeWrite is one write the fake backend received.
type fakeWrite struct {
	Bond, Option, Data string // Bond and Option empty for bonding_masters
	Caller             bond.Caller
}

// fakeBackend is a Backend that applies "+name"/"-name" on bonding_masters
// and on bonding/slaves to its snapshot, and records every write.
type fakeBackend struct {
	snap atomic.Pointer[bond.Snapshot]

	mu     sync.Mutex
	writes []fakeWrite
	// errs maps "masters" or "<bond>/<option>" to the error writes return.
	errs map[string]error
	// hook, if set, runs first in every write; a non-nil error is returned.
	hook func(ctx context.Context, w fakeWrite) error
	// after holds the AfterDo functions, run by set as bond.Registry.Do
	// runs them after it published (changeFeed); watch the Watch channels.
	after map[*func(context.Context)]bool
	watch map[chan struct{}]bool
}

func newFake(bonds ...*bond.BondStatus) *fakeBackend {
	f := &fakeBackend{errs: map[string]error{}}
	f.snap.Store(&bond.Snapshot{Bonds: bonds})
	return f
}

func (f *fakeBackend) Snapshot() *bond.Snapshot { return f.snap.Load() }

// set publishes bonds as the new snapshot and reports it as the registry
// does (changeFeed): the AfterDo functions run before it returns.
func (f *fakeBackend) set(bonds ...*bond.BondStatus) {
	f.snap.Store(&bond.Snapshot{Bonds: bonds})
	f.mu.Lock()
	var fns []func(context.Context)
	for h := range f.after {
		fns = append(fns, *h)
	}
	for c := range f.watch {
		select {
		case c <- struct{}{}:
		default:
		}
	}
	f.mu.Unlock()
	for _, fn := range fns {
		fn(context.Background())
	}
}

var _ changeFeed = (*fakeBackend)(nil)

func (f *fakeBackend) Watch() (<-chan struct{}, func()) {
	c := make(chan struct{}, 1)
	f.mu.Lock()
	if f.watch == nil {
		f.watch = map[chan struct{}]bool{}
	}
	f.watch[c] = true
	f.mu.Unlock()
	return c, func() {
		f.mu.Lock()
		delete(f.watch, c)
		f.mu.Unlock()
	}
}

func (f *fakeBackend) AfterDo(fn func(context.Context)) func() {
	h := &fn
	f.mu.Lock()
	if f.after == nil {
		f.after = map[*func(context.Context)]bool{}
	}
	f.after[h] = true
	f.mu.Unlock()
	return func() {
		f.mu.Lock()
		delete(f.after, h)
		f.mu.Unlock()
	}
}

func (f *fakeBackend) setErr(key string, err error) {
	f.mu.Lock()
	f.errs[key] = err
	f.mu.Unlock()
}

func (f *fakeBackend) setHook(h func(ctx context.Context, w fakeWrite) error) {
	f.mu.Lock()
	f.hook = h
	f.mu.Unlock()
}

func (f *fakeBackend) recorded() []fakeWrite {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeWrite(nil), f.writes...)
}

func (f *fakeBackend) record(ctx context.Context, w fakeWrite, key string) error {
	f.mu.Lock()
	f.writes = append(f.writes, w)
	hook, err := f.hook, f.errs[key]
	f.mu.Unlock()
	if hook != nil {
		if err := hook(ctx, w); err != nil {
			return err
		}
	}
	return err
}

func (f *fakeBackend) WriteMasters(ctx context.Context, data string) error {
	if err := f.record(ctx, fakeWrite{Data: data, Caller: bond.Caller{NetAdmin: true}}, "masters"); err != nil {
		return err
	}
	cmd := strings.TrimSpace(data)
	old := f.snap.Load().Bonds
	var bonds []*bond.BondStatus
	switch {
	case strings.HasPrefix(cmd, "+"):
		bonds = append(append(bonds, old...), &bond.BondStatus{Name: cmd[1:], Params: bond.DefaultParams()})
	case strings.HasPrefix(cmd, "-"):
		for _, b := range old {
			if b.Name != cmd[1:] {
				bonds = append(bonds, b)
			}
		}
	}
	f.set(bonds...)
	return nil
}

func (f *fakeBackend) WriteOption(ctx context.Context, bondName, option, data string, c bond.Caller) error {
	w := fakeWrite{Bond: bondName, Option: option, Data: data, Caller: c}
	if err := f.record(ctx, w, bondName+"/"+option); err != nil {
		return err
	}
	if option != "slaves" {
		return nil
	}
	cmd := strings.TrimSpace(data)
	var bonds []*bond.BondStatus
	for _, b := range f.snap.Load().Bonds {
		if b.Name == bondName {
			nb := *b
			nb.Slaves = nil
			for _, s := range b.Slaves {
				if "-"+s.Name != cmd {
					nb.Slaves = append(nb.Slaves, s)
				}
			}
			if strings.HasPrefix(cmd, "+") {
				nb.Slaves = append(nb.Slaves, upSlave(cmd[1:]))
			}
			b = &nb
		}
		bonds = append(bonds, b)
	}
	f.set(bonds...)
	return nil
}

func upSlave(name string) bond.SlaveStatus {
	return bond.SlaveStatus{Name: name, Link: bond.LinkUp, Speed: 10000, Duplex: bond.DuplexFull,
		PermHWAddr: mac("02:00:00:00:00:01")}
}
