package netdev

import (
	"sync"
	"time"

	"bondingfs/internal/osmem"
)

// Memory given back after large deletions. Deleting bonds frees their
// slaves' buffers and rings, but the Go runtime returns freed memory to the
// system only after a GC and a scavenger pass, and an idle daemon allocates
// so little that its next GC may be minutes away (the forced one every two
// minutes): RSS stayed at its peak after deleting every bond. So once
// releaseAfter has passed without a further close, a burst of at least
// releaseMin closed devices (SlaveDev.Close, DeleteMaster) is followed by
// one osmem.Trim (the per-P caches emptied, two GCs and an immediate
// scavenge: a few ms with a small heap). Closing one bond now and then
// costs nothing extra.

const (
	releaseAfter = time.Second
	releaseMin   = 16
)

var memRelease releaser

type releaser struct {
	mu     sync.Mutex
	closed int
	timer  *time.Timer
	// free is osmem.Trim; tests count calls instead.
	free func()
}

// note records one closed device and (re)starts the quiet period.
func (r *releaser) note() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed++
	if r.timer == nil {
		r.timer = time.AfterFunc(releaseAfter, r.fire)
	} else {
		r.timer.Reset(releaseAfter)
	}
}

// fire runs after the quiet period: FreeOSMemory after a large burst.
func (r *releaser) fire() {
	r.mu.Lock()
	n := r.closed
	r.closed = 0
	r.timer = nil
	free := r.free
	r.mu.Unlock()
	if n < releaseMin {
		return
	}
	if free == nil {
		free = osmem.Trim
	}
	free()
}
