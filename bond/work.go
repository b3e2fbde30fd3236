package bond

import "time"

// Clock is the time source of every delayed work and of the carrier poll;
// bondtest.Clock replaces it in tests and is advanced by hand.
type Clock interface {
	Now() time.Time
	// AfterFunc runs f after d, on a goroutine of the clock's choosing (the
	// real clock: its own; bondtest.Clock: the one calling Advance).
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a stoppable pending AfterFunc.
type Timer interface{ Stop() bool }

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }
func (realClock) AfterFunc(d time.Duration, f func()) Timer {
	return time.AfterFunc(d, f)
}

// Work is one delayed work of a bond (the kernel's struct delayed_work on
// bond->wq): its function runs on the control goroutine when the bond's
// Clock reaches the time it was queued for. Every periodic job uses it: the
// MII monitor, the mode's Tick, and what modes create with Control.NewWork.
// A generation number makes a Cancel final even when the timer has already
// fired and its run is on its way to the control goroutine. Use a Work only
// on the control goroutine.
type Work struct {
	b       *Bond
	fn      func()
	gen     uint64
	timer   Timer
	pending bool
}

// NewWork returns a work that runs fn on the control goroutine
// (INIT_DELAYED_WORK). It is cancelled with the bond's others by close and
// delete (bond_work_cancel_all); works made by a mode are dropped when the
// mode is changed.
func (b *Bond) NewWork(fn func()) *Work {
	w := &Work{b: b, fn: fn}
	b.modeWorks = append(b.modeWorks, w)
	return w
}

// newEngineWork is NewWork for the engine's own works, which outlive a
// change of mode.
func (b *Bond) newEngineWork(fn func()) *Work { return &Work{b: b, fn: fn} }

// Queue arms the work to run after d, replacing a pending run
// (mod_delayed_work; d = 0 runs it as soon as the control goroutine is free).
func (w *Work) Queue(d time.Duration) {
	w.Cancel()
	gen, r := w.gen, w.b.reg
	w.pending = true
	w.timer = r.cfg.Clock.AfterFunc(d, func() { r.post(func() { w.run(gen) }) })
}

func (w *Work) run(gen uint64) {
	if w.gen != gen || !w.pending {
		return
	}
	w.pending, w.timer = false, nil
	w.fn()
}

// Cancel stops a pending run (cancel_delayed_work); a run already posted
// to the control goroutine is dropped.
func (w *Work) Cancel() {
	w.gen++
	w.pending = false
	if w.timer != nil {
		w.timer.Stop()
		w.timer = nil
	}
}

// Pending reports whether a run is queued (delayed_work_pending).
func (w *Work) Pending() bool { return w.pending }

// cancelAll is bond_work_cancel_all: every work of the bond stops and the
// carrier read forgets the bond.
func (b *Bond) cancelAll() {
	b.miiWork.Cancel()
	b.tickWork.Cancel()
	for _, w := range b.modeWorks {
		w.Cancel()
	}
	if b.arp.work != nil {
		b.arp.work.Cancel()
	}
	if b.arp.mcastWork != nil {
		b.arp.mcastWork.Cancel()
	}
	b.stopPoll()
}
