package bondtest

import (
	"context"
	"sync"
	"testing"
	"time"

	"bondingfs/bond"
)

// Log collects kernel log lines.
type Log struct {
	mu    sync.Mutex
	lines []string
}

// Add records one line (bond.Config.Log).
func (l *Log) Add(s string) { l.mu.Lock(); l.lines = append(l.lines, s); l.mu.Unlock() }

// Take returns the lines since the last Take.
func (l *Log) Take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.lines
	l.lines = nil
	return r
}

// Env is a running Registry over a Host and a hand-driven Clock.
type Env struct {
	T     testing.TB
	Reg   *bond.Registry
	Host  *Host
	Clock *Clock
	Log   *Log
}

// New starts a registry with default parameters p over a new Host that has
// the veths named in slaves (MACs 02:00:00:00:00:01, …, down, with carrier)
// and creates bond0. The registry is closed when the test ends. It has
// bond's own modes only; NewWithModes hands in others.
func New(t testing.TB, p bond.Params, slaves ...string) *Env {
	t.Helper()
	return NewWithModes(t, p, nil, slaves...)
}

// NewWithModes is New with modes as the registry's Config.Modes.
func NewWithModes(t testing.TB, p bond.Params, modes map[bond.ModeID]bond.ModeFactory, slaves ...string) *Env {
	t.Helper()
	e := &Env{T: t, Host: NewHost(), Clock: NewClock(), Log: &Log{}}
	for i, s := range slaves {
		e.Host.AddVeth(s, byte(i+1))
	}
	e.Clock.AfterFire = e.Settle
	e.Reg = bond.NewRegistry(bond.Config{Host: e.Host, Log: e.Log.Add, Defaults: p, Clock: e.Clock, Modes: modes})
	if err := e.Reg.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Reg.Close)
	if err := e.Reg.CreateBond(context.Background(), "bond0"); err != nil {
		t.Fatal(err)
	}
	e.Settle()
	return e
}

// Do runs fn on the control goroutine and returns its error.
func (e *Env) Do(fn func() error) error { return e.Reg.Do(context.Background(), fn) }

// Bond returns the bond named name (for use inside Do).
func (e *Env) Bond(name string) *bond.Bond {
	var b *bond.Bond
	_ = e.Do(func() error { b = e.Reg.Bond(name); return nil })
	if b == nil {
		e.T.Fatalf("no bond %s", name)
	}
	return b
}

// Status returns the latest snapshot of the bond named name.
func (e *Env) Status(name string) *bond.BondStatus { return e.Reg.Snapshot().Bond(name) }

// SetUp sets the bond named name administratively up on the host (as
// `ip link set bond0 up`) and settles.
func (e *Env) SetUp(name string, up bool) {
	e.T.Helper()
	e.Host.Modify(name, func(l *bond.LinkInfo) { l.Up = up })
	e.Settle()
}

// Settle waits until the engine has handled everything in flight: queued
// link events, operations they and due timers posted, recursively. It never
// sleeps: it waits on the event queue and on the control goroutine.
func (e *Env) Settle() {
	for i := 0; ; i++ {
		if i > 1000 {
			e.T.Fatal("bondtest: the engine does not settle")
		}
		e.Host.WaitEvents()
		e.Host.evMu.Lock()
		delivered := e.Host.delivered
		e.Host.evMu.Unlock()
		// every event handed over before this point is applied when the
		// no-op returns (one FIFO queue); an event the engine's own host
		// I/O queued meanwhile (a goroutine posting its result) is not,
		// so settle again until none arrived
		_ = e.Do(func() error { return nil })
		e.Host.evMu.Lock()
		idle := e.Host.pending == 0 && e.Host.delivered == delivered
		e.Host.evMu.Unlock()
		if idle && !e.Clock.Due() {
			return
		}
		if e.Clock.Due() {
			hook := e.Clock.AfterFire
			e.Clock.AfterFire = nil
			e.Clock.Advance(0)
			e.Clock.AfterFire = hook
		}
	}
}

// Tick advances the clock by d in steps, settling after every timer.
func (e *Env) Tick(d time.Duration) {
	e.Clock.Advance(d)
	e.Settle()
}
