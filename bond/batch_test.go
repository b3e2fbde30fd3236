package bond

import (
	"encoding/binary"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// batchDev is a NetDev with the batch capabilities: it records every
// WriteBatch call (the frames' first payload byte) and serves queued
// batches to ReadBatch.
type batchDev struct {
	mu      sync.Mutex
	calls   int      // WriteBatch calls
	single  int      // WriteFrame calls
	got     []uint32 // frame ids, in send order
	in      chan [][]byte
	closed  chan struct{}
	once    sync.Once
	batch   int
	nocopy  bool
	counted int
}

func newBatchDev() *batchDev {
	return &batchDev{in: make(chan [][]byte, 8), closed: make(chan struct{}), batch: 8}
}

func frameID(f []byte) uint32 { return binary.BigEndian.Uint32(f[len(f)-4:]) }

func (p *batchDev) ReadFrame([]byte) (int, error) { <-p.closed; return 0, os.ErrClosed }
func (p *batchDev) WriteFrame(f []byte) error {
	p.mu.Lock()
	p.single++
	p.got = append(p.got, frameID(f))
	p.mu.Unlock()
	return nil
}
func (p *batchDev) Close() error   { p.once.Do(func() { close(p.closed) }); return nil }
func (p *batchDev) BatchSize() int { return p.batch }
func (p *batchDev) ReadBatch(bufs [][]byte, sizes []int, offset int) (int, error) {
	select {
	case b := <-p.in:
		n := 0
		for ; n < len(b) && n < len(bufs); n++ {
			sizes[n] = copy(bufs[n][offset:], b[n])
		}
		return n, nil
	case <-p.closed:
		return 0, os.ErrClosed
	}
}
func (p *batchDev) WriteBatch(bufs [][]byte, offset int) (int, error) {
	if p.nocopy {
		p.counted += len(bufs)
		return len(bufs), nil
	}
	p.mu.Lock()
	p.calls++
	for _, f := range bufs {
		p.got = append(p.got, frameID(f[offset:]))
	}
	p.mu.Unlock()
	return len(bufs), nil
}

// udpFrame is a vnet header + IPv4/UDP frame from source port sport whose
// last four bytes carry id.
func udpFrame(sport uint16, id uint32) []byte {
	f := make([]byte, VnetHdrLen+14+20+8+4)
	e := f[VnetHdrLen:]
	e[12], e[13], e[14], e[14+9] = 0x08, 0x00, 0x45, 17
	binary.BigEndian.PutUint16(e[34:], sport)
	binary.BigEndian.PutUint32(f[len(f)-4:], id)
	return f
}

// TestXmitBatchMatchesXmit checks that every mode's XmitBatch sends each
// frame where Xmit sends it, in order per device, with one WriteBatch per device
// and batch.
func TestXmitBatchMatchesXmit(t *testing.T) {
	for _, mode := range []ModeID{ModeRoundRobin, ModeActiveBackup, ModeXOR, ModeBroadcast} {
		for _, pps := range []int{1, 3} {
			a0, a1 := newBatchDev(), newBatchDev()
			b0, b1 := newBatchDev(), newBatchDev()
			one := xmitBond(mode, XmitLayer34, pps, a0, a1)
			bat := xmitBond(mode, XmitLayer34, pps, b0, b1)
			var frames [][]byte
			for i := 0; i < 40; i++ {
				frames = append(frames, udpFrame(uint16(1000+i%7), uint32(i)))
			}
			for _, f := range frames {
				one.xmit(f)
			}
			var out TxBatch
			bat.xmitBatch(frames[:25], &out)
			bat.xmitBatch(frames[25:], &out)
			for i, pair := range [][2]*batchDev{{a0, b0}, {a1, b1}} {
				if !equalIDs(pair[0].got, pair[1].got) {
					t.Errorf("mode %v pps %d dev %d: frame by frame %v, batched %v", mode, pps, i, pair[0].got, pair[1].got)
				}
				if pair[1].single != 0 || pair[1].calls > 2 {
					t.Errorf("mode %v dev %d: %d WriteBatch and %d WriteFrame calls for 2 batches", mode, i, pair[1].calls, pair[1].single)
				}
			}
		}
	}
}

func equalIDs(a, b []uint32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// plainSel is a selector without XmitBatch (a mode from another package
// that predates the batch seam): it must still get every frame.
type plainSel struct{ p SlaveDev }

func (s plainSel) Xmit(f []byte) { _ = s.p.WriteFrame(f) }

func TestXmitBatchFallsBackToXmit(t *testing.T) {
	p := newBatchDev()
	bd := xmitBond(ModeActiveBackup, 0, 1, p, p)
	bd.tx.Store(&txBox{sel: plainSel{p}})
	var out TxBatch
	bd.xmitBatch([][]byte{udpFrame(1, 1), udpFrame(1, 2)}, &out)
	if !equalIDs(p.got, []uint32{1, 2}) || p.single != 2 {
		t.Errorf("got %v with %d WriteFrame calls, want [1 2] with 2", p.got, p.single)
	}
}

func TestXmitBatchDoesNotAllocate(t *testing.T) {
	for _, mode := range []ModeID{ModeRoundRobin, ModeActiveBackup, ModeXOR, ModeBroadcast} {
		p0, p1 := newBatchDev(), newBatchDev()
		p0.nocopy, p1.nocopy = true, true
		bd := xmitBond(mode, XmitLayer34, 1, p0, p1)
		var frames [][]byte
		for i := 0; i < maxBatch; i++ {
			frames = append(frames, udpFrame(uint16(i), uint32(i)))
		}
		var out TxBatch
		bd.xmitBatch(frames, &out) // warm up: the batch grows once
		if n := testing.AllocsPerRun(100, func() { bd.xmitBatch(frames, &out) }); n != 0 {
			t.Errorf("mode %v: %v allocations per batch", mode, n)
		}
	}
}

// TestReadLoopBatch reads batches: runts are dropped; a device that cannot
// wait without reading gets one buffer first, twice as many after a full
// batch.
func TestReadLoopBatch(t *testing.T) {
	p := newBatchDev()
	var got []uint32
	var sizes []int
	done := make(chan struct{})
	go func() {
		readLoopBatch(p, func(frames [][]byte) {
			sizes = append(sizes, len(frames))
			for _, f := range frames {
				got = append(got, frameID(f))
			}
		})
		close(done)
	}()
	p.in <- [][]byte{udpFrame(1, 0)}                                 // one buffer: full
	p.in <- [][]byte{udpFrame(1, 1), make([]byte, VnetHdrLen+10)}    // two buffers: full, the runt dropped
	p.in <- [][]byte{udpFrame(1, 2), udpFrame(1, 3), udpFrame(1, 4)} // four buffers
	p.in <- [][]byte{udpFrame(1, 5), udpFrame(1, 6), udpFrame(1, 7)} // still four
	for len(p.in) > 0 {
		// wait for the reader to take them
	}
	p.Close()
	<-done
	if !equalIDs(got, []uint32{0, 1, 2, 3, 4, 5, 6, 7}) {
		t.Errorf("frames %v, want [0 … 7] (runt dropped)", got)
	}
	if len(sizes) != 4 || sizes[0] != 1 || sizes[1] != 1 || sizes[2] != 3 || sizes[3] != 3 {
		t.Errorf("batches %v, want [1 1 3 3]", sizes)
	}
}

// TestRxBatchAdapt: the buffers double after a full batch up to the
// device's batch, and halve after rxShrinkAfter batches in a row that
// filled at most half; a batch above half breaks the run.
func TestRxBatchAdapt(t *testing.T) {
	rb := newRxBatch(maxBatch)
	step := func(n int) int {
		rb.want = max(rb.want, 1)
		rb.take()
		rb.adapt(n)
		return rb.want
	}
	defer rb.release()
	var wants []int
	for _, n := range []int{1, 2, 4, 8, 16, 32, 64} {
		wants = append(wants, step(n))
	}
	assert.Equal(t, []int{2, 4, 8, 16, 32, 64, 64}, wants, "full batches double up to 64")
	for i := 0; i < rxShrinkAfter-1; i++ {
		assert.Equal(t, 64, step(1))
	}
	assert.Equal(t, 64, step(40), "above half: the run starts again")
	for i := 0; i < rxShrinkAfter-1; i++ {
		assert.Equal(t, 64, step(32))
	}
	assert.Equal(t, 32, step(32), "eighth batch at half: halved")
	for want := 16; want >= 1; want /= 2 {
		for i := 0; i < rxShrinkAfter; i++ {
			step(0)
		}
		assert.Equal(t, want, rb.want)
	}
	assert.Len(t, rb.bufs, 2, "the buffers of the last read")
	rb.take()
	assert.Len(t, rb.bufs, 1, "the next read takes one")
}

func BenchmarkXmitBatchXORLayer34(b *testing.B) {
	p0, p1 := newBatchDev(), newBatchDev()
	p0.nocopy, p1.nocopy = true, true
	bd := xmitBond(ModeXOR, XmitLayer34, 1, p0, p1)
	var frames [][]byte
	for i := 0; i < 32; i++ {
		frames = append(frames, udpFrame(uint16(i), uint32(i)))
	}
	var out TxBatch
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += len(frames) {
		bd.xmitBatch(frames, &out)
	}
}

// waitDev is a batchDev that is a ReadWaiter: no ReadBatch may come before
// WaitRead returned nil.
type waitDev struct {
	*batchDev
	waited chan struct{}
}

func (p *waitDev) WaitRead() error {
	select {
	case <-p.waited:
		return nil
	case <-p.closed:
		return os.ErrClosed
	}
}

func (p *waitDev) ReadBatch(bufs [][]byte, sizes []int, offset int) (int, error) {
	select {
	case <-p.waited:
	default:
		panic("ReadBatch before WaitRead")
	}
	return p.batchDev.ReadBatch(bufs, sizes, offset)
}

// TestReadLoopBatchWaitsFirst: with a ReadWaiter the reader waits for the
// first frame before it reads (and allocates), and a Close while waiting
// ends it.
func TestReadLoopBatchWaitsFirst(t *testing.T) {
	p := &waitDev{batchDev: newBatchDev(), waited: make(chan struct{})}
	done := make(chan struct{})
	go func() { readLoopBatch(p, func([][]byte) {}); close(done) }()
	p.Close()
	<-done
	p = &waitDev{batchDev: newBatchDev(), waited: make(chan struct{})}
	var got []uint32
	done = make(chan struct{})
	go func() {
		readLoopBatch(p, func(frames [][]byte) {
			for _, f := range frames {
				got = append(got, frameID(f))
			}
		})
		close(done)
	}()
	p.in <- [][]byte{udpFrame(1, 7)}
	close(p.waited)
	for len(p.in) > 0 {
	}
	p.Close()
	<-done
	if !equalIDs(got, []uint32{7}) {
		t.Errorf("frames %v, want [7]", got)
	}
}

// heldDev is a ReadWaiter whose WaitRead records how many buffers the pool
// holds each time the reader comes back to wait.
type heldDev struct {
	*batchDev
	held chan int
}

func (p *heldDev) WaitRead() error {
	select {
	case p.held <- rxPool.held():
	case <-p.closed:
		return os.ErrClosed
	}
	select {
	case <-p.closed:
		return os.ErrClosed
	default:
		return nil
	}
}

// TestReadLoopBatchIdleHoldsNothing: a ReadWaiter's reader gives its
// buffers back to the pool before it waits, and reads one frame into a
// batch of two (one frame is not a full batch).
func TestReadLoopBatchIdleHoldsNothing(t *testing.T) {
	p := &heldDev{batchDev: newBatchDev(), held: make(chan int)}
	var sizes []int
	done := make(chan struct{})
	go func() {
		readLoopBatch(p, func(frames [][]byte) { sizes = append(sizes, len(frames)) })
		close(done)
	}()
	<-p.held
	p.in <- [][]byte{udpFrame(1, 1), udpFrame(1, 2), udpFrame(1, 3)} // two buffers: 1 and 2
	held := <-p.held
	assert.GreaterOrEqual(t, held, 2, "both buffers back in the pool while waiting")
	p.in <- [][]byte{udpFrame(1, 4)}
	<-p.held
	p.Close()
	<-done
	assert.Equal(t, []int{2, 1}, sizes)
}

// readLoopBatch runs d's reader (runBatchReader) and returns once it has
// ended.
func readLoopBatch(d BatchReader, fn func([][]byte)) {
	done := make(chan struct{})
	runBatchReader(d, fn, func() { close(done) })
	<-done
}

// parkDev is a Parker over batchDev's channel: WaitReadFor answers at once
// (true while a batch is queued, as a real device whose wait timed out);
// Park keeps the reader, and the test starts it with resume.
type parkDev struct {
	*batchDev
	mu     sync.Mutex
	parked func()
	parks  int
	waits  []time.Duration // WaitReadFor's arguments
}

func (p *parkDev) WaitRead() error { panic("a Parker's reader parks instead of waiting") }

func (p *parkDev) WaitReadFor(d time.Duration) (bool, error) {
	p.mu.Lock()
	p.waits = append(p.waits, d)
	p.mu.Unlock()
	select {
	case <-p.closed:
		return true, nil
	default:
		return len(p.in) > 0, nil
	}
}

func (p *parkDev) Park(fn func()) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.parked != nil {
		panic("parked twice")
	}
	p.parks++
	p.parked = fn
	return nil
}

// resume starts the parked reader, if any, as the device does when a
// frame comes or it is closed; false when none was parked.
func (p *parkDev) resume() bool {
	p.mu.Lock()
	fn := p.parked
	p.parked = nil
	p.mu.Unlock()
	if fn == nil {
		return false
	}
	go fn()
	return true
}

// waitParked waits until the reader has parked (or fails the test).
func (p *parkDev) waitParked(t *testing.T) {
	t.Helper()
	for i := 0; i < 5000; i++ {
		p.mu.Lock()
		ok := p.parked != nil
		p.mu.Unlock()
		if ok {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("the reader never parked")
}

// TestReaderParksWhenIdle: a Parker's reader holds no goroutine and no
// buffer while its device is idle: it parks after the batches that were
// there, resumes with the next ones in order, and a Close while it is
// parked ends it (end runs once).
func TestReaderParksWhenIdle(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	p := &parkDev{batchDev: newBatchDev()}
	var got []uint32
	var ends atomic.Int32
	done := make(chan struct{})
	before := runtime.NumGoroutine()
	p.in <- [][]byte{udpFrame(1, 1)}
	p.in <- [][]byte{udpFrame(1, 2), udpFrame(1, 3)}
	runBatchReader(p, func(frames [][]byte) {
		for _, f := range frames {
			got = append(got, frameID(f))
		}
	}, func() {
		ends.Add(1)
		close(done)
	})
	p.waitParked(t)
	require.Equal(t, 1, p.parks, "parked once, after both queued batches")
	p.mu.Lock()
	assert.Equal(t, []time.Duration{parkAfter, parkAfter, parkAfter}, p.waits, "waited parkAfter before each batch and before parking")
	p.mu.Unlock()
	assert.GreaterOrEqual(t, rxPool.held(), 2, "the reader's buffers are back in the pool while it is parked")
	for i := 0; i < 100 && runtime.NumGoroutine() > before; i++ {
		time.Sleep(time.Millisecond)
	}
	assert.Equal(t, before, runtime.NumGoroutine(), "a parked reader runs no goroutine")
	p.in <- [][]byte{udpFrame(1, 4)}
	require.True(t, p.resume())
	p.waitParked(t)
	assert.Equal(t, 2, p.parks)
	require.NoError(t, p.Close())
	require.True(t, p.resume())
	<-done
	assert.Equal(t, []uint32{1, 2, 3, 4}, got)
	assert.Equal(t, int32(1), ends.Load())
	assert.False(t, p.resume(), "an ended reader does not park again")
}
