// Package osmem gives the Go runtime's free memory back to the system at
// once: what an idle daemon needs after a burst (bonds deleted, a burst of
// traffic ended, setup done), since it may not run a GC for two minutes and
// the runtime returns pages only after one.
package osmem

import (
	"runtime"
	"runtime/debug"
)

// Release runs two garbage collections and returns every free page to the
// system (madvise(MADV_DONTNEED), the runtime's scavenger).
//
// One collection (debug.FreeOSMemory alone) is not enough: a sync.Pool's
// objects survive the first collection in the pool's victim cache and go
// only at the second (go-fuse keeps its 136 KB request buffers and its
// requests in pools, the standard library its fmt and bufio state), and a
// goroutine stack at most a quarter used is halved once per collection.
// On bench-idle.sh after deleting 100 bonds the second collection gave
// back about 0.5 MB more of anonymous RSS (docs/benchmarks.md, "Idle
// cost"). Cost: two collections of the live heap (a few ms with the idle
// daemon's 2–3 MB), on the calling goroutine. Goroutine: any.
func Release() {
	runtime.GC()
	debug.FreeOSMemory()
}
