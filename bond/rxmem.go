package bond

import (
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Receive buffers live outside the Go heap (issue 19: memory returns once
// the bonds are deleted). A burst of traffic takes hundreds of 64 KB
// buffers at once (64 per busy reader); allocated by the Go runtime they
// made the heap's peak, and the runtime keeps the metadata it grew for that
// peak (span sets, mark bit arenas, span structures) and the fragmented
// arena pages for the process's life, so RSS stayed megabytes above the
// baseline after every bond was deleted. Here each buffer is its own
// private anonymous mapping (mmap(2)): the pool's trim gives an unused
// buffer's pages back with madvise(MADV_DONTNEED), which lowers RSS at once
// without a GC, and keeps the mapping (address space only) for the next
// burst. A mapping is never unmapped: a frame read after its buffer went
// back to the pool (a bug) reads zeros instead of faulting.

// frameBufMapLen is one buffer's mapping: frameBufSize rounded up to whole
// pages.
var frameBufMapLen = (frameBufSize + os.Getpagesize() - 1) &^ (os.Getpagesize() - 1)

// mapFrameBuf maps one receive buffer (zeroed, no page resident until
// written). A failed mmap is what a failed heap allocation would be: the
// daemon cannot go on, so it panics with the errno.
func mapFrameBuf() *frameBuf {
	m, err := unix.Mmap(-1, 0, frameBufMapLen, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		panic(fmt.Sprintf("bond: mapping a %d-byte receive buffer: %v", frameBufMapLen, err))
	}
	return (*frameBuf)(unsafe.Pointer(unsafe.SliceData(m)))
}

// unbackFrameBuf gives the pages of buf (mapped by mapFrameBuf, held by no
// reader) back to the system: RSS falls at once and the next write faults
// in zeroed pages. An error (none is expected for a private anonymous
// mapping) leaves the pages resident, which only costs memory.
func unbackFrameBuf(buf *frameBuf) {
	_ = unix.Madvise(unsafe.Slice((*byte)(unsafe.Pointer(buf)), frameBufMapLen), unix.MADV_DONTNEED)
}
