package bond

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Config configures a Registry.
type Config struct {
	Host Host
	// Log receives each kernel log line, without timestamp or newline.
	Log func(line string)
	// Defaults are the parameters every new bond starts with (the module
	// options after bond_check_params).
	Defaults Params
	// Clock drives the monitors; nil means the real clock.
	Clock Clock
	// Modes are the bonding modes beyond bond's own balance-rr,
	// active-backup, balance-xor and broadcast (which an entry replaces);
	// the daemon passes modes.Factories(). A mode in neither is refused
	// with EINVAL (see mode.go). NewRegistry panics on an id the mode
	// option does not know or a nil factory.
	Modes map[ModeID]ModeFactory
	// Journal, if set, is the daemon's crash journal: it records every
	// accepted change as it happens, and WriteMasters and WriteOption sync
	// it before they return (Journal).
	Journal Journal
	// FastPath, if set, is the in-kernel data path (fastpath.go): bonds in
	// the modes it runs are put on it; nil keeps every bond on the
	// userspace path.
	FastPath FastPath
}

// Registry holds every bond of one network namespace and runs the control
// goroutine that serialises every change (the kernel's RTNL).
type Registry struct {
	cfg       Config
	ops       chan op
	recvq     chan rxFrame // frames the receive probes hand to the modes
	done      chan struct{}
	stopOnce  sync.Once
	cancelSub context.CancelFunc
	wg        sync.WaitGroup

	// control goroutine state
	bonds []*Bond
	dirty bool
	// nlErr, while an rtnetlink request runs on the control goroutine,
	// takes the "Error: ..." lines the kernel returns as extack instead of
	// logging them (BOND_NL_ERR, SLAVE_NL_ERR); true when it took one.
	nlErr func(msg string) bool
	// nlLogValue is the value an rtnetlink option had as a number, which
	// bond_opt_error_interpret prints instead of the text ("" for none).
	nlLogValue string

	snap    atomic.Pointer[Snapshot]
	watchMu sync.Mutex
	watch   map[chan struct{}]struct{}          // Watch's channels
	afterDo map[*func(context.Context)]struct{} // AfterDo's functions (watchMu)
	stats   loopStats
	readSeq atomic.Uint64 // numbers host link reads (fetch)

	// Link events handed to the control goroutine (evDelivered, counted
	// before the post) and applied with their snapshot published
	// (evApplied): equal counts mean no event is on its way (inSync).
	evDelivered atomic.Uint64
	evApplied   atomic.Uint64
	subscribed  atomic.Bool

	carrier carrierRead // the MII monitor's carrier read (miimon.go)
}

// op is one operation for the control goroutine and when it was posted.
type op struct {
	fn     func()
	posted time.Time
}

// NewRegistry returns a registry with no bonds; Start runs it.
func NewRegistry(cfg Config) *Registry {
	if cfg.Clock == nil {
		cfg.Clock = realClock{}
	}
	if cfg.Log == nil {
		cfg.Log = func(string) {}
	}
	checkModes(cfg.Modes)
	r := &Registry{cfg: cfg, ops: make(chan op, 64), recvq: make(chan rxFrame, 256), done: make(chan struct{})}
	r.snap.Store(&Snapshot{})
	return r
}

func (r *Registry) logf(format string, args ...any) {
	r.cfg.Log(fmt.Sprintf(format, args...))
}

// Host returns the host the registry drives.
func (r *Registry) Host() Host { return r.cfg.Host }

// Snapshot returns the latest published state. It never blocks.
func (r *Registry) Snapshot() *Snapshot { return r.snap.Load() }

// Do runs fn on the control goroutine and returns its error. It returns
// ctx.Err() if ctx ends before fn starts (fn then never runs) and
// ErrClosed after Close. Once fn has started, Do waits for it and returns
// its result whatever ctx does: a write interrupted (EINTR) after the
// change was applied would be retried by the caller and applied twice.
func (r *Registry) Do(ctx context.Context, fn func() error) error {
	res := make(chan error, 1)
	var started atomic.Bool
	published := false // written before res is sent, read after
	o := op{posted: time.Now(), fn: func() {
		var err error = syscall.EIO
		defer func() {
			if r.dirty {
				r.publish() // readers see the change as soon as the write returns
				published = true
			}
			res <- err
		}()
		if !started.CompareAndSwap(false, true) {
			err = ctx.Err() // the caller gave up before it started
			return
		}
		err = fn()
	}}
	select {
	case r.ops <- o:
	case <-r.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	var gaveUp error
	select {
	case err := <-res:
		r.runAfterDo(ctx, published)
		return err
	case <-ctx.Done():
		gaveUp = ctx.Err()
	case <-r.done:
		gaveUp = ErrClosed
	}
	if started.CompareAndSwap(false, true) {
		return gaveUp // fn will never run
	}
	err := <-res // fn is running: its result, never EINTR
	r.runAfterDo(ctx, published)
	return err
}

// AfterDo registers fn to run in the goroutine of every Do caller whose
// operation published a new Snapshot, after the publication and before Do
// returns, with the caller's ctx; stop removes it. fusefs drops the
// kernel's cached entries that a change made stale with it, before the
// write or netlink request that made the change returns.
func (r *Registry) AfterDo(fn func(ctx context.Context)) (stop func()) {
	h := &fn
	r.watchMu.Lock()
	if r.afterDo == nil {
		r.afterDo = map[*func(context.Context)]struct{}{}
	}
	r.afterDo[h] = struct{}{}
	r.watchMu.Unlock()
	return func() {
		r.watchMu.Lock()
		delete(r.afterDo, h)
		r.watchMu.Unlock()
	}
}

// runAfterDo runs AfterDo's functions for a Do that published.
func (r *Registry) runAfterDo(ctx context.Context, published bool) {
	if !published {
		return
	}
	r.watchMu.Lock()
	fns := make([]func(context.Context), 0, len(r.afterDo))
	for h := range r.afterDo {
		fns = append(fns, *h)
	}
	r.watchMu.Unlock()
	for _, fn := range fns {
		fn(ctx)
	}
}

// post queues fn for the control goroutine without waiting.
func (r *Registry) post(fn func()) {
	select {
	case r.ops <- op{fn: fn, posted: time.Now()}:
	case <-r.done:
	}
}

// changed marks the state dirty; the control loop publishes a new snapshot
// after the current operation.
func (b *Bond) changed() { b.reg.dirty = true }

// run is the control goroutine.
func (r *Registry) run() {
	defer r.wg.Done()
	for {
		// frames from the receive probes first: one queued before an
		// operation is handled before it (LACPDUs never wait behind ops)
		select {
		case f := <-r.recvq:
			r.recv(f)
			continue
		default:
		}
		select {
		case o := <-r.ops:
			start := time.Now()
			r.stats.wait.observe(start.Sub(o.posted))
			r.safely(o.fn)
			if r.dirty {
				r.publish()
			}
			r.stats.run.observe(time.Since(start))
		case f := <-r.recvq:
			r.recv(f)
		case <-r.done:
			return
		}
	}
}

// recv hands one probed frame to its bond's mode.
func (r *Registry) recv(f rxFrame) {
	r.safely(func() { r.deliver(f) })
	if r.dirty {
		r.publish()
	}
}

// safely runs op, turning a panic into a log line so that one bad
// operation never takes the daemon (and its mount) down.
func (r *Registry) safely(op func()) {
	defer func() {
		if p := recover(); p != nil {
			r.logf("bondingfs: internal error: %v", p)
		}
	}()
	op()
}

// publish builds and stores a new Snapshot.
func (r *Registry) publish() {
	r.dirty = false
	s := &Snapshot{Bonds: make([]*BondStatus, 0, len(r.bonds))}
	for _, b := range r.bonds {
		b.fpSync() // option and flag changes reach the maps in the same step
		s.Bonds = append(s.Bonds, b.status())
	}
	r.snap.Store(s)
	r.watchMu.Lock()
	for c := range r.watch {
		select {
		case c <- struct{}{}:
		default:
		}
	}
	r.watchMu.Unlock()
}

// Watch returns a channel that receives (without blocking the control
// goroutine: changes coalesce) after each new Snapshot is published, and
// the function that stops it. The rtnetlink supervisor uses it for the
// RTM_NEWLINK events of enslave, release, option and active-slave changes,
// sysfs writes by other processes included.
func (r *Registry) Watch() (<-chan struct{}, func()) {
	c := make(chan struct{}, 1)
	r.watchMu.Lock()
	if r.watch == nil {
		r.watch = map[chan struct{}]struct{}{}
	}
	r.watch[c] = struct{}{}
	r.watchMu.Unlock()
	return c, func() {
		r.watchMu.Lock()
		delete(r.watch, c)
		r.watchMu.Unlock()
	}
}

// Bond returns the bond named name (control goroutine only), or nil.
func (r *Registry) Bond(name string) *Bond {
	for _, b := range r.bonds {
		if b.name == name {
			return b
		}
	}
	return nil
}
