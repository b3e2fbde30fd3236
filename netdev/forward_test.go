package netdev

import (
	"errors"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"bondingfs/bond"
)

// TestForwardPing relays frames between a TAP master and a device, as the
// engine's data path does, and pings the peer through it: replies arrive,
// exactly once each (the slave's own stack is isolated).
func TestForwardPing(t *testing.T) {
	p := newPair(t)
	m, dev := p.bondWithSlave(t)
	var maxOut, maxIn atomic.Int64
	relay := func(from, to bond.NetDev, max *atomic.Int64) {
		buf := make([]byte, frameBuf)
		for {
			n, err := from.ReadFrame(buf)
			if err != nil {
				return
			}
			if int64(n) > max.Load() {
				max.Store(int64(n))
			}
			to.WriteFrame(buf[:n])
		}
	}
	go relay(m, dev, &maxOut)
	go relay(dev, m, &maxIn)
	out, err := p.a.Exec("ping", "-c", "3", "-i", "0.2", "-W", "2", "192.0.2.2")
	if err != nil || !strings.Contains(out, "3 received") || strings.Contains(out, "DUP") {
		t.Errorf("ping through the relay: %v\n%s", err, out)
	}
	// TCP both ways with offloads on: GSO frames and partial checksums
	// cross the relay unsegmented.
	p.startIperf3(t)
	out, err = p.a.Exec("iperf3", "-c", "192.0.2.2", "-t", "1", "--bidir", "-f", "m")
	if err != nil {
		t.Fatalf("iperf3 through the relay: %v\n%s", err, out)
	}
	t.Logf("largest frame TAP→dev %d bytes, dev→TAP %d bytes", maxOut.Load(), maxIn.Load())
	if maxOut.Load() <= 1514+bond.VnetHdrLen || maxIn.Load() <= 1514+bond.VnetHdrLen {
		t.Errorf("no GSO frame crossed the relay (max %d / %d bytes)", maxOut.Load(), maxIn.Load())
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "receiver") {
			t.Log(strings.TrimSpace(l))
		}
	}
}

// TestForwardBatch relays as the engine's batched data path does: one
// reader per TAP queue (Queues) with ReadBatch, the device with ReadBatch,
// WriteBatch both ways. Ping gets every reply once, TCP with 4 streams runs
// both ways with GSO frames, and batches of more than one frame occur.
func TestForwardBatch(t *testing.T) {
	p := newPair(t)
	m, dev := p.bondWithSlave(t)
	queues := m.(bond.MultiQueue).Queues()
	if len(queues) != max(TapQueues, 1) {
		t.Errorf("%d TAP queues attached, want %d", len(queues), TapQueues)
	}
	var maxBatch, maxFrame atomic.Int64
	relay := func(from bond.NetDev, to bond.BatchWriter) error {
		br := from.(bond.BatchReader)
		bufs := make([][]byte, br.BatchSize())
		for i := range bufs {
			bufs[i] = make([]byte, frameBuf)
		}
		sizes := make([]int, len(bufs))
		frames := make([][]byte, len(bufs))
		for {
			n, err := br.ReadBatch(bufs, sizes, 0)
			if err != nil {
				return err
			}
			if int64(n) > maxBatch.Load() {
				maxBatch.Store(int64(n))
			}
			for i := 0; i < n; i++ {
				frames[i] = bufs[i][:sizes[i]]
				if int64(sizes[i]) > maxFrame.Load() {
					maxFrame.Store(int64(sizes[i]))
				}
			}
			if _, err := to.WriteBatch(frames[:n], 0); err != nil {
				t.Logf("WriteBatch: %v", err)
			}
		}
	}
	for _, q := range queues {
		go relay(q, dev.(bond.BatchWriter))
	}
	errc := make(chan error, 1)
	go func() { errc <- relay(dev, m.(bond.BatchWriter)) }()
	out, err := p.a.Exec("ping", "-c", "3", "-i", "0.2", "-W", "2", "192.0.2.2")
	if err != nil || !strings.Contains(out, "3 received") || strings.Contains(out, "DUP") {
		t.Errorf("ping through the batch relay: %v\n%s", err, out)
	}
	p.startIperf3(t)
	out, err = p.a.Exec("iperf3", "-c", "192.0.2.2", "-t", "1", "-P", "4", "--bidir", "-f", "m")
	if err != nil {
		t.Fatalf("iperf3 through the batch relay: %v\n%s", err, out)
	}
	if maxFrame.Load() <= 1514+bond.VnetHdrLen {
		t.Errorf("no GSO frame crossed the batch relay (largest %d bytes)", maxFrame.Load())
	}
	if maxBatch.Load() < 2 {
		t.Errorf("largest batch %d frames: never more than one frame per call", maxBatch.Load())
	}
	t.Logf("largest batch %d frames, largest frame %d bytes", maxBatch.Load(), maxFrame.Load())
	// Close ends a blocked ReadBatch with os.ErrClosed.
	dev.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, os.ErrClosed) {
			t.Errorf("ReadBatch after Close = %v, want os.ErrClosed", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("ReadBatch still blocked after Close")
	}
}
