package bond

import (
	"errors"
	"os"
	"sync"
	"time"

	"bondingfs/internal/osmem"
)

// Batched frame I/O. A NetDev may also implement BatchReader and
// BatchWriter (found by type assertion, docs/design.md §4), in the shape of
// wireguard-go's tun.Device Read(bufs, sizes, offset) / Write(bufs, offset)
// / BatchSize: netdev's slave devices read with recvmmsg(2) and send
// with sendmmsg(2), and its TAP reads every frame that is ready in one
// netpoller wake-up. The engine's readers use the batch calls when they are
// there and fall back to ReadFrame/WriteFrame frame by frame otherwise (the
// in-memory devices of the tests).
//
// runBatchReader serves both directions (the outbound flow at the head of
// xmit.go, the inbound one at the head of probe.go); xmitBatch, TxBatch.Add
// and TxBatch.flush are the outbound flow's steps 3 to 5.

// A BatchReader reads several frames in one call.
type BatchReader interface {
	// BatchSize is the largest number of frames one ReadBatch returns
	// (and the batch the engine sizes its buffers for); at least 1.
	BatchSize() int
	// ReadBatch blocks until at least one frame is there, then reads up to
	// len(bufs) frames: frame i (vnet header + Ethernet frame) goes to
	// bufs[i][offset:] and its length to sizes[i]. It returns the number of
	// frames read. Errors are ReadFrame's (os.ErrClosed after Close); frames
	// already read are returned with a nil error first. One caller at a time.
	ReadBatch(bufs [][]byte, sizes []int, offset int) (n int, err error)
}

// A BatchWriter sends several frames in one call.
type BatchWriter interface {
	// WriteBatch sends bufs[i][offset:] for every i, in order, and returns
	// how many were handed to the device. A frame the device refuses
	// (EMSGSIZE, EINVAL) is skipped and counted as sent, as WriteFrame's
	// callers drop it; an error is returned only when the device cannot take
	// more (closed, gone, down). Safe for concurrent use.
	WriteBatch(bufs [][]byte, offset int) (int, error)
}

// A MultiQueue master has several queues (a TAP with IFF_MULTI_QUEUE): the
// engine runs one reader per queue. The kernel picks a frame's queue by its
// flow hash, so one flow's frames stay in order on one reader. Frames to the
// bond device may be written on the master itself.
type MultiQueue interface {
	Queues() []NetDev
}

// A ReadWaiter can wait until a frame is there without reading it, so that
// a reader needs no buffer while its device is idle: a TAP reader of a bond
// nobody sends through holds no 64 KB buffer (1000 idle bonds: none).
type ReadWaiter interface {
	// WaitRead blocks until a frame can be read; errors as ReadFrame.
	WaitRead() error
}

// A Parker's reader needs no goroutine while its device is idle: once no
// frame has come for parkAfter, the reader parks instead of waiting on, and
// the device starts it again when a frame comes (netdev: one epoll set for
// every parked device of the process). A goroutine the Go runtime once ran
// keeps its descriptor for the life of the process, so a reader per device
// for 200 idle slaves kept memory after every bond was deleted (issue 19).
type Parker interface {
	ReadWaiter
	// WaitReadFor waits up to d (0: not at all) until a frame or an error
	// can be read, without reading it: true if one can, false if none came
	// (true at once after Close: the read reports it). The reader calls it
	// once it has handed on its last batch, so it also marks the reader as
	// back (RxPender).
	WaitReadFor(d time.Duration) (bool, error)
	// Park arranges for fn to run once, on a new goroutine, when a frame
	// can be read or the device fails, or when the device is closed (at once
	// if it is). After a nil return the caller must not read the device:
	// fn may already be running. An error leaves nothing parked (the reader
	// then waits with WaitRead).
	Park(fn func()) error
}

// parkAfter is how long a Parker's reader waits for the next frame on its
// goroutine before it parks: long enough that traffic never pays for a
// park and a wake-up (an epoll_ctl, the poller's wake-up and a new
// goroutine) between frames, which cost a flood of 64-byte frames 15–20 %
// when readers parked at once; short enough that a device with a frame a
// second (an LACPDU at the fast rate) spends most of its time parked.
const parkAfter = 100 * time.Millisecond

// maxBatch bounds the batch the engine's readers use whatever a device's
// BatchSize says.
const maxBatch = 64

// frameBufSize is one receive buffer: vnet header, the largest GSO frame
// (64 KB), Ethernet header and a VLAN tag.
const frameBufSize = VnetHdrLen + 65536 + 14 + 4

// A TxBatch collects the frames of one TAP read batch per egress device, so
// that each device gets one WriteBatch (one sendmmsg) per batch, as
// wireguard-go groups a batch per peer. A BatchTxSelector fills it with Add;
// the TAP reader owns it, resets it before each batch and flushes it after.
// Frames keep their order per device. It allocates only while it grows (new
// device, larger batch), never per frame in steady state, and takes no lock.
type TxBatch struct {
	devs   []SlaveDev
	frames [][][]byte
}

// Add queues frame (vnet header + Ethernet frame, valid until the batch is
// flushed) for device p.
func (t *TxBatch) Add(p SlaveDev, frame []byte) {
	for i, q := range t.devs {
		if q == p {
			t.frames[i] = append(t.frames[i], frame)
			return
		}
	}
	i := len(t.devs)
	t.devs = append(t.devs, p)
	if i < len(t.frames) {
		t.frames[i] = append(t.frames[i][:0], frame)
	} else {
		t.frames = append(t.frames, append(make([][]byte, 0, maxBatch), frame))
	}
}

// Frames returns the frames queued for p, in order (nil when none); they
// are valid until the batch is flushed. For selectors' tests: a selector
// in another package checks its XmitBatch against its Xmit with it.
func (t *TxBatch) Frames(p SlaveDev) [][]byte {
	for i, q := range t.devs {
		if q == p {
			return t.frames[i]
		}
	}
	return nil
}

// Reset empties the batch, keeping its storage (the TAP reader does before
// and after each batch).
func (t *TxBatch) Reset() {
	for i := range t.devs {
		t.devs[i] = nil
		clear(t.frames[i])
		t.frames[i] = t.frames[i][:0]
	}
	t.devs = t.devs[:0]
}

// flush sends each device's frames: one WriteBatch where the device has it,
// else WriteFrame per frame. Send errors drop the frames, as Xmit does.
func (t *TxBatch) flush() {
	for i, p := range t.devs {
		writeFrames(p, t.frames[i])
	}
}

// writeFrames sends frames on d in order, batched if d can.
func writeFrames(d NetDev, frames [][]byte) {
	if len(frames) == 0 {
		return
	}
	if w, ok := d.(BatchWriter); ok {
		_, _ = w.WriteBatch(frames, 0)
		return
	}
	for _, f := range frames {
		_ = d.WriteFrame(f)
	}
}

// A BatchTxSelector is a TxSelector that can also place a whole batch
// (optional, found by type assertion): XmitBatch adds each frame of frames
// (vnet header + Ethernet frame, in the order the bond device sent them) to
// out with the device Xmit would have sent it on, and the TAP reader then
// sends each device's share with one WriteBatch. The same rules as Xmit
// apply: no allocation, no lock, no blocking; per-flow order is kept
// because frames keep their order per device. A selector without it is
// called frame by frame.
type BatchTxSelector interface {
	TxSelector
	XmitBatch(frames [][]byte, out *TxBatch)
}

// Receive buffers are sized to the traffic. A reader of a ReadWaiter (the
// TAP, a slave's socket) holds buffers only while it reads and hands on a
// batch: it gives them back to rxPool and waits for the next frame holding
// none. The
// number it takes (rxBatch.want) doubles after a full batch, up to the
// device's BatchSize, and halves after rxShrinkAfter batches in a row that
// filled at most half; the pool drops buffers nobody took for a whole
// rxPoolTrim period, so an idle daemon's memory goes back to the system
// (1000 idle slaves: no buffer; datapath.md measured 64 KB GSO frames, so a
// buffer cannot be smaller than frameBufSize). Buffers are mapped outside
// the Go heap (rxmem.go): a dropped one's pages go back to the system at
// once (madvise), and its mapping is reused by the next burst.

// rxShrinkAfter is how many batches in a row that filled at most half of
// the buffers halve them.
const rxShrinkAfter = 8

// rxPoolTrim is how often the pool drops the buffers nobody took since the
// last trim.
const rxPoolTrim = time.Second

// rxFreeOSBytes: once trims have given back this many bytes of buffers
// since the last time, a burst of traffic has ended, and one
// osmem.Release (two GCs and a scavenge, a few ms; at most once a trim
// period) returns the Go garbage the burst left (the slaves' transmit
// copies, frames handed to the modes) at once instead of at the next GC,
// which an idle daemon may not run for two minutes. The buffers themselves
// need no GC (madvise).
const rxFreeOSBytes = 16 << 20

// frameBuf is one receive buffer, mapped outside the Go heap
// (mapFrameBuf).
type frameBuf = [frameBufSize]byte

// rxPool is the receive buffers no reader holds, shared by every reader of
// every bond. Its trim timer runs only while it holds resident buffers.
var rxPool bufPool

type bufPool struct {
	mu    sync.Mutex
	free  []*frameBuf // resident; get takes from the end
	cold  []*frameBuf // mapped, pages given back: taken before mapping more
	low   int         // the fewest free buffers since the last trim
	armed bool
	given int // bytes given back since the last FreeOSMemory
}

// get appends n buffers to dst: resident ones first, then cold ones, then
// new mappings.
func (p *bufPool) get(dst []*frameBuf, n int) []*frameBuf {
	p.mu.Lock()
	k := min(n, len(p.free))
	dst = append(dst, p.free[len(p.free)-k:]...)
	clear(p.free[len(p.free)-k:])
	p.free = p.free[:len(p.free)-k]
	p.low = min(p.low, len(p.free))
	c := min(n-k, len(p.cold))
	dst = append(dst, p.cold[len(p.cold)-c:]...)
	clear(p.cold[len(p.cold)-c:])
	p.cold = p.cold[:len(p.cold)-c]
	p.mu.Unlock()
	for i := k + c; i < n; i++ {
		dst = append(dst, mapFrameBuf())
	}
	return dst
}

// put gives bufs back.
func (p *bufPool) put(bufs []*frameBuf) {
	if len(bufs) == 0 {
		return
	}
	p.mu.Lock()
	p.free = append(p.free, bufs...)
	if !p.armed {
		p.armed = true
		p.low = len(p.free)
		time.AfterFunc(rxPoolTrim, p.trim)
	}
	p.mu.Unlock()
}

// trim gives back the pages of the buffers nobody took during the last
// period (the oldest ones: get takes from the end) and keeps them as cold.
func (p *bufPool) trim() {
	p.mu.Lock()
	k := p.low
	for _, b := range p.free[:k] {
		unbackFrameBuf(b)
	}
	p.cold = append(p.cold, p.free[:k]...)
	clear(p.free[:k])
	p.free = append(p.free[:0], p.free[k:]...)
	if len(p.free) == 0 {
		p.free = nil
	}
	p.low = len(p.free)
	p.armed = len(p.free) > 0
	if p.armed {
		time.AfterFunc(rxPoolTrim, p.trim)
	}
	p.given += k * frameBufMapLen
	free := p.given >= rxFreeOSBytes
	if free {
		p.given = 0
	}
	p.mu.Unlock()
	if free {
		osmem.Release()
	}
}

// held is how many resident buffers the pool holds (tests).
func (p *bufPool) held() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.free)
}

// rxBatch is one reader's buffers and their sizing.
type rxBatch struct {
	size   int // the device's batch (at most maxBatch)
	want   int // buffers for the next read
	small  int // batches in a row that filled at most half
	arrs   []*frameBuf
	bufs   [][]byte
	sizes  []int
	frames [][]byte
}

func newRxBatch(size int) *rxBatch {
	size = max(1, min(size, maxBatch))
	return &rxBatch{size: size, want: 1, sizes: make([]int, size), frames: make([][]byte, 0, size),
		arrs: make([]*frameBuf, 0, size), bufs: make([][]byte, 0, size)}
}

// take makes the reader hold want buffers.
func (rb *rxBatch) take() {
	if n := len(rb.arrs); n < rb.want {
		rb.arrs = rxPool.get(rb.arrs, rb.want-n)
	} else if n > rb.want {
		rxPool.put(rb.arrs[rb.want:])
		clear(rb.arrs[rb.want:])
		rb.arrs = rb.arrs[:rb.want]
	}
	rb.bufs = rb.bufs[:0]
	for _, a := range rb.arrs {
		rb.bufs = append(rb.bufs, a[:])
	}
}

// release gives every buffer back to the pool.
func (rb *rxBatch) release() {
	rxPool.put(rb.arrs)
	clear(rb.arrs)
	rb.arrs = rb.arrs[:0]
	clear(rb.bufs)
	rb.bufs = rb.bufs[:0]
}

// adapt sizes the next read after one that returned n frames into
// len(rb.bufs) buffers.
func (rb *rxBatch) adapt(n int) {
	k := len(rb.bufs)
	switch {
	case n >= k:
		rb.want = min(2*k, rb.size)
		rb.small = 0
	case 2*n <= k:
		if rb.small++; rb.small >= rxShrinkAfter {
			rb.want = max(1, rb.want/2)
			rb.small = 0
		}
	default:
		rb.small = 0
	}
}

// batchReader is the reader of one BatchReader: its buffers, the callback
// that takes each batch and the one that ends it, and (for a Parker) the
// function Park restarts it with, bound once.
type batchReader struct {
	d      BatchReader
	fn     func(frames [][]byte)
	end    func()
	rb     *rxBatch
	parker Parker
	resume func()
}

// runBatchReader reads batches from d until it is closed or fails for good
// and hands each batch of frames (vnet header + Ethernet frame, runts
// dropped, valid during the call) to fn, then calls end. One batch at a time,
// in order, on one goroutine at a time: a new one (d is read from a
// goroutine of its own, or none while a Parker is parked). Buffers are
// sized to the traffic (rxBatch).
func runBatchReader(d BatchReader, fn func(frames [][]byte), end func()) {
	r := &batchReader{d: d, fn: fn, end: end, rb: newRxBatch(d.BatchSize())}
	r.parker, _ = d.(Parker)
	r.resume = r.run
	go r.run()
}

// run reads until the device ends, then calls end, or until the reader
// parks.
func (r *batchReader) run() {
	if r.read() {
		return // parked: resume runs on a new goroutine
	}
	r.rb.release()
	r.end()
}

// read is the read loop; true when it parked. A ReadWaiter's reader holds no
// buffer while it waits: it gives them back before each wait (which returns
// at once while frames are queued) and takes at least two after it, so
// that one frame never looks like a full batch.
func (r *batchReader) read() (parked bool) {
	d, rb := r.d, r.rb
	w, waiter := d.(ReadWaiter)
	for {
		if waiter {
			rb.release()
			if err := r.wait(w); err != nil {
				if errors.Is(err, errParked) {
					return true
				}
				if errors.Is(err, os.ErrClosed) || !temporary(err) {
					return false
				}
				continue
			}
			rb.want = max(rb.want, min(2, rb.size))
		}
		rb.take()
		n, err := d.ReadBatch(rb.bufs, rb.sizes[:len(rb.bufs)], 0)
		if n > 0 {
			rb.frames = rb.frames[:0]
			for i := 0; i < n; i++ {
				if rb.sizes[i] >= VnetHdrLen+14 {
					rb.frames = append(rb.frames, rb.bufs[i][:rb.sizes[i]])
				}
			}
			if len(rb.frames) > 0 {
				r.fn(rb.frames)
			}
			clear(rb.frames)
			rb.adapt(n)
		}
		if err != nil {
			if errors.Is(err, os.ErrClosed) || !temporary(err) {
				return false
			}
		}
	}
}

// errParked is wait's answer when the reader parked.
var errParked = errors.New("bond: reader parked")

// wait waits until d has a frame: a Parker's reader for parkAfter, then
// it parks (errParked; it must not touch the device or its buffers any
// more), or waits in WaitRead if it cannot.
func (r *batchReader) wait(w ReadWaiter) error {
	if r.parker == nil {
		return w.WaitRead()
	}
	ready, err := r.parker.WaitReadFor(parkAfter)
	if err != nil || ready {
		return err
	}
	if r.parker.Park(r.resume) == nil {
		return errParked
	}
	return w.WaitRead()
}

// xmitBatch sends a batch from the bond device through the published
// selector: grouped per device when the selector can, else frame by frame.
func (b *Bond) xmitBatch(frames [][]byte, out *TxBatch) {
	sel := b.tx.Load().sel
	bs, ok := sel.(BatchTxSelector)
	if !ok {
		for _, f := range frames {
			sel.Xmit(f)
		}
		return
	}
	out.Reset()
	bs.XmitBatch(frames, out)
	out.flush()
	out.Reset()
}
