package bondtest

import (
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"bondingfs/bond"
)

// Clock is a bond.Clock advanced by hand. Timers fire in time order (ties
// in arming order) on the goroutine calling Advance; after each one the
// AfterFire hook (Env sets it to Settle) runs, so work a fired timer posts
// is done, and re-armed, before the next timer is considered.
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	seq    int
	timers []*clockTimer
	// AfterFire runs after each fired timer (nil: nothing).
	AfterFire func()
	nanos     atomic.Int64 // now as Unix nanoseconds, for Nanotime
	fired     atomic.Int64 // timers fired so far
}

// Fired returns how many timers have fired so far: every wake-up the
// engine's delayed works and carrier read cost.
func (c *Clock) Fired() int64 { return c.fired.Load() }

type clockTimer struct {
	c       *Clock
	when    time.Time
	seq     int
	f       func()
	stopped bool
}

// NewClock returns a clock at an arbitrary fixed time.
func NewClock() *Clock {
	c := &Clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	c.nanos.Store(c.now.UnixNano())
	return c
}

// Nanotime implements bond.NanoClock: Now as Unix nanoseconds, read
// without a lock (the receive path stamps frames with it).
func (c *Clock) Nanotime() int64 { return c.nanos.Load() }

// Now implements bond.Clock.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

// AfterFunc implements bond.Clock.
func (c *Clock) AfterFunc(d time.Duration, f func()) bond.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	t := &clockTimer{c: c, when: c.now.Add(d), seq: c.seq, f: f}
	c.timers = append(c.timers, t)
	return t
}

// Stop implements bond.Timer.
func (t *clockTimer) Stop() bool {
	c := t.c
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, x := range c.timers {
		if x == t {
			// slices.Delete clears the vacated slot: a stopped timer's
			// function (and the bond it closes over) must not stay
			// reachable from the backing array
			c.timers = slices.Delete(c.timers, i, i+1)
			t.stopped = true
			return true
		}
	}
	return false
}

// Advance moves the clock forward by d, firing every timer that falls due,
// in order, including those armed by fired timers.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	target := c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		sort.SliceStable(c.timers, func(i, j int) bool {
			a, b := c.timers[i], c.timers[j]
			if !a.when.Equal(b.when) {
				return a.when.Before(b.when)
			}
			return a.seq < b.seq
		})
		if len(c.timers) == 0 || c.timers[0].when.After(target) {
			c.now = target
			c.nanos.Store(c.now.UnixNano())
			c.mu.Unlock()
			return
		}
		t := c.timers[0]
		c.timers = slices.Delete(c.timers, 0, 1)
		if t.when.After(c.now) {
			c.now = t.when
			c.nanos.Store(c.now.UnixNano())
		}
		hook := c.AfterFire
		c.mu.Unlock()
		c.fired.Add(1)
		t.f()
		if hook != nil {
			hook()
		}
	}
}

// Due reports whether a timer is due now (armed for a time not after Now).
func (c *Clock) Due() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, t := range c.timers {
		if !t.when.After(c.now) {
			return true
		}
	}
	return false
}
