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
// requests in pools, fmt its printers), and a goroutine stack at most a
// quarter used is halved once per collection. On bench-idle.sh the daemon
// at start held 0.5 MB less anonymous memory with it (5.4 against 5.9 MB,
// docs/benchmarks.md, "Idle cost"). Cost: two collections of the live
// heap (a few ms with the idle daemon's 2–3 MB), on the calling
// goroutine. Goroutine: any.
func Release() {
	runtime.GC()
	debug.FreeOSMemory()
}

// Trim is Release after emptying the runtime's per-P caches, for when the
// daemon falls idle after a peak (many bonds deleted at once). Each P
// (GOMAXPROCS of them, 4 under fusefs) keeps up to 63 ended goroutines
// with their 2 KB stacks for reuse, which no collection frees, and its own
// caches of sudogs and defer records: after 400 slave readers ended, 150
// such stacks (300 KB) and the stack spans around them stayed. Lowering
// GOMAXPROCS to 1 destroys the other Ps, whose free goroutines move to the
// scheduler's global list, whose stacks the next collection frees; then
// GOMAXPROCS goes back to what it was (the runtime's default, which follows
// the CPU limit, if it was that). Cost: two stop-the-world pauses of a few
// µs, and Release's two collections. Goroutine: any.
func Trim() {
	prev := runtime.GOMAXPROCS(1)
	runtime.SetDefaultGOMAXPROCS()
	if runtime.GOMAXPROCS(0) != prev {
		runtime.GOMAXPROCS(prev)
	}
	Release()
}
