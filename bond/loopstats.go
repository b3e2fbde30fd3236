package bond

import (
	"fmt"
	"strings"
	"sync/atomic"
	"time"
)

// The control loop's own measurements: how long each operation waited in
// the queue before the control goroutine took it, and how long it ran.
// Both are histograms with power-of-two buckets from 1 µs; a later metrics
// endpoint exports them, tests and the control-loop benchmark log them.

// histBuckets is the number of buckets: upper bounds 1 µs · 2^i, the last
// one unbounded.
const histBuckets = 26

type histogram struct {
	counts [histBuckets]atomic.Uint64
	sum    atomic.Int64 // ns
}

func (h *histogram) observe(d time.Duration) {
	i := 0
	for b := time.Microsecond; i < histBuckets-1 && d > b; b *= 2 {
		i++
	}
	h.counts[i].Add(1)
	h.sum.Add(int64(d))
}

func (h *histogram) snapshot() Histogram {
	var s Histogram
	for i := range h.counts {
		s.Counts = append(s.Counts, h.counts[i].Load())
		if i < histBuckets-1 {
			s.Bounds = append(s.Bounds, time.Microsecond<<i)
		}
	}
	for _, c := range s.Counts {
		s.Count += c
	}
	s.Sum = time.Duration(h.sum.Load())
	return s
}

// Histogram is a snapshot of one control-loop histogram: Counts[i]
// operations took at most Bounds[i] (and more than Bounds[i-1]); the last
// count has no upper bound (len(Counts) = len(Bounds)+1).
type Histogram struct {
	Bounds []time.Duration
	Counts []uint64
	Count  uint64
	Sum    time.Duration
}

// Quantile returns the upper bound of the bucket holding quantile q (0..1),
// 0 for an empty histogram; beyond the last bound it returns the last bound
// doubled.
func (h Histogram) Quantile(q float64) time.Duration {
	if h.Count == 0 {
		return 0
	}
	rank := uint64(q*float64(h.Count) + 0.5)
	if rank < 1 {
		rank = 1
	}
	var n uint64
	for i, c := range h.Counts {
		n += c
		if n >= rank {
			if i < len(h.Bounds) {
				return h.Bounds[i]
			}
			break
		}
	}
	return 2 * h.Bounds[len(h.Bounds)-1]
}

// String is "n=… p50≤… p99≤… max≤…".
func (h Histogram) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "n=%d p50≤%v p90≤%v p99≤%v max≤%v", h.Count,
		h.Quantile(0.5), h.Quantile(0.9), h.Quantile(0.99), h.Quantile(1))
	return b.String()
}

// LoopStats are the control loop's measurements since the registry started.
type LoopStats struct {
	Wait Histogram // queue wait per operation (posted → started)
	Run  Histogram // run time per operation, publishing included
	// RecvDropped counts frames the receive probe could not hand over
	// (no free buffer, queue full).
	RecvDropped uint64
	// SyncsSkipped counts the reads (Registry.Sync, SyncBond) that found
	// the registry in sync with the host's link events and read nothing
	// from the host; SyncsRead those that read the links.
	SyncsSkipped, SyncsRead uint64
}

type loopStats struct {
	wait, run   histogram
	recvDropped atomic.Uint64
	syncSkipped atomic.Uint64
	syncRead    atomic.Uint64
}

// LoopStats returns the control loop's histograms. It never blocks.
func (r *Registry) LoopStats() LoopStats {
	return LoopStats{Wait: r.stats.wait.snapshot(), Run: r.stats.run.snapshot(), RecvDropped: r.stats.recvDropped.Load(),
		SyncsSkipped: r.stats.syncSkipped.Load(), SyncsRead: r.stats.syncRead.Load()}
}
