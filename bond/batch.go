package bond

import (
	"errors"
	"os"
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
// readLoopBatch serves both directions (the outbound flow at the head of
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

// batchBufs is a reader's buffers: one to start with (none until the first
// frame when the device is a ReadWaiter), the whole batch after the first
// frame, so that an idle device (a bond nobody uses) costs at most one
// buffer, not a batch.
type batchBufs struct {
	bufs   [][]byte
	sizes  []int
	frames [][]byte
	size   int
}

func newBatchBufs(size int) *batchBufs {
	if size < 1 {
		size = 1
	}
	if size > maxBatch {
		size = maxBatch
	}
	return &batchBufs{bufs: [][]byte{make([]byte, frameBufSize)}, sizes: make([]int, size), frames: make([][]byte, 0, size), size: size}
}

// grow gives the reader all its buffers.
func (bb *batchBufs) grow() {
	for len(bb.bufs) < bb.size {
		bb.bufs = append(bb.bufs, make([]byte, frameBufSize))
	}
}

// readLoopBatch reads batches from d until it is closed or fails for good
// and hands each batch of frames (vnet header + Ethernet frame, runts
// dropped, valid during the call) to fn.
func readLoopBatch(d BatchReader, fn func(frames [][]byte)) {
	if w, ok := d.(ReadWaiter); ok {
		for {
			err := w.WaitRead()
			if err == nil {
				break
			}
			if errors.Is(err, os.ErrClosed) || !temporary(err) {
				return
			}
		}
	}
	bb := newBatchBufs(d.BatchSize())
	for {
		n, err := d.ReadBatch(bb.bufs, bb.sizes[:len(bb.bufs)], 0)
		if n > 0 {
			bb.frames = bb.frames[:0]
			for i := 0; i < n; i++ {
				if bb.sizes[i] >= VnetHdrLen+14 {
					bb.frames = append(bb.frames, bb.bufs[i][:bb.sizes[i]])
				}
			}
			if len(bb.frames) > 0 {
				fn(bb.frames)
			}
			if len(bb.bufs) < bb.size {
				bb.grow()
			}
		}
		if err != nil {
			if errors.Is(err, os.ErrClosed) || !temporary(err) {
				return
			}
		}
	}
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
