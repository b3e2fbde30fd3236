package bondtest

import (
	"os"
	"sync"
	"time"

	"bondingfs/bond"
)

// Dev is an in-memory bond.NetDev (a TAP or a slave socket): frames written
// are recorded, Inject delivers a frame to ReadFrame.
type Dev struct {
	in      chan []byte
	reads   int           // ReadFrame calls entered
	readCh  chan struct{} // closed and replaced on every ReadFrame entry
	closed  chan struct{}
	once    sync.Once
	mu      sync.Mutex
	sent    [][]byte
	wrote   chan struct{} // closed and replaced on every write
	carrier bool
	// injected counts Inject calls; a frame is handled once the reader
	// has come back to ReadFrame after it (RxPending).
	injected int
	hold     chan struct{} // non-nil: ReadFrame waits for it before returning a frame (HoldReads)
	onAsked  func()        // called by RxPending when it reports true
}

// NewDev returns an open Dev.
func NewDev() *Dev {
	return &Dev{in: make(chan []byte, 64), closed: make(chan struct{}), wrote: make(chan struct{}), readCh: make(chan struct{})}
}

// ReadFrame returns the next injected frame, or os.ErrClosed after Close.
func (d *Dev) ReadFrame(buf []byte) (int, error) {
	d.mu.Lock()
	d.reads++
	close(d.readCh)
	d.readCh = make(chan struct{})
	d.mu.Unlock()
	select {
	case f := <-d.in:
		d.mu.Lock()
		hold := d.hold
		d.mu.Unlock()
		if hold != nil { // taken off the "socket", not yet handed on
			select {
			case <-hold:
			case <-d.closed:
				return 0, os.ErrClosed
			}
		}
		return copy(buf, f), nil
	case <-d.closed:
		return 0, os.ErrClosed
	}
}

// WriteFrame records a copy of f.
func (d *Dev) WriteFrame(f []byte) error {
	d.mu.Lock()
	d.sent = append(d.sent, append([]byte(nil), f...))
	close(d.wrote)
	d.wrote = make(chan struct{})
	d.mu.Unlock()
	return nil
}

// Requeue implements bond.Requeuer: it sends the last n frames written to
// d again on to, oldest first, and returns how many it sent.
func (d *Dev) Requeue(to bond.NetDev, n int) int {
	if to == nil || n <= 0 {
		return 0
	}
	d.mu.Lock()
	frames := d.sent[max(len(d.sent)-n, 0):]
	frames = append([][]byte(nil), frames...)
	d.mu.Unlock()
	for _, f := range frames {
		_ = to.WriteFrame(f)
	}
	return len(frames)
}

// Close ends ReadFrame.
func (d *Dev) Close() error { d.once.Do(func() { close(d.closed) }); return nil }

// SetCarrier records the TAP's carrier (bond.Master).
func (d *Dev) SetCarrier(on bool) error { d.mu.Lock(); d.carrier = on; d.mu.Unlock(); return nil }

// Carrier is the last SetCarrier value.
func (d *Dev) Carrier() bool { d.mu.Lock(); defer d.mu.Unlock(); return d.carrier }

// Inject hands f to the reader of the device (a frame received).
func (d *Dev) Inject(f []byte) {
	d.mu.Lock()
	d.injected++
	d.mu.Unlock()
	d.in <- append([]byte(nil), f...)
}

// RxPending implements bond.RxPender: a frame was injected that the reader
// has not fully handled (it has not come back to ReadFrame after it). When
// it reports true it calls the function HoldReads armed, if any, first.
func (d *Dev) RxPending() bool {
	d.mu.Lock()
	pending := d.injected > max(d.reads-1, 0)
	f := d.onAsked
	if pending {
		d.onAsked = nil
	}
	d.mu.Unlock()
	if pending && f != nil {
		f()
	}
	return pending
}

// HoldReads keeps the device's reader from taking injected frames (as a
// reader goroutine that is not scheduled) until the first RxPending that
// reports a frame waiting, which releases it: what a receive barrier sees.
// The returned func releases it too (idempotent).
func (d *Dev) HoldReads() (release func()) {
	ch := make(chan struct{})
	var once sync.Once
	release = func() {
		once.Do(func() {
			d.mu.Lock()
			d.hold, d.onAsked = nil, nil
			d.mu.Unlock()
			close(ch)
		})
	}
	d.mu.Lock()
	d.hold, d.onAsked = ch, release
	d.mu.Unlock()
	return release
}

// Sent is the number of frames written.
func (d *Dev) Sent() int { d.mu.Lock(); defer d.mu.Unlock(); return len(d.sent) }

// Frames returns copies of the frames written.
func (d *Dev) Frames() [][]byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([][]byte(nil), d.sent...)
}

// WaitSent waits until at least n frames were written, at most timeout
// (the data path runs on reader goroutines); it reports whether they were.
func (d *Dev) WaitSent(n int, timeout time.Duration) bool {
	return d.wait(timeout, func() (bool, chan struct{}) { return len(d.sent) >= n, d.wrote })
}

// wait waits until done reports true (called with d.mu held; it also
// returns the channel that is closed on the next change), at most timeout.
func (d *Dev) wait(timeout time.Duration, done func() (bool, chan struct{})) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		d.mu.Lock()
		ok, ch := done()
		d.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-ch:
		case <-deadline.C:
			return false
		}
	}
}

// WaitConsumed waits until the device's reader has fully handled n frames
// (it came back to ReadFrame for frame n+1), at most timeout; it reports
// whether it had. Use it to check that a frame was dropped.
func (d *Dev) WaitConsumed(n int, timeout time.Duration) bool {
	return d.wait(timeout, func() (bool, chan struct{}) { return d.reads > n, d.readCh })
}
