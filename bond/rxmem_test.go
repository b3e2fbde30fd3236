package bond

import (
	"slices"
	"testing"
)

// TestBufPoolTrimUnbacks: the pool's trim gives the pages of the buffers
// nobody took back to the system (they read as zeros afterwards: madvise
// MADV_DONTNEED ran on their mappings) and keeps them as cold buffers, which
// get hands out again before it maps new ones.
func TestBufPoolTrimUnbacks(t *testing.T) {
	var p bufPool
	bufs := p.get(nil, 4)
	for _, b := range bufs {
		b[0], b[frameBufSize-1] = 0xaa, 0x55
	}
	p.put(bufs)
	if got := p.held(); got != 4 {
		t.Fatalf("held %d after put, want 4", got)
	}
	p.trim() // nobody took any since the put
	if got := p.held(); got != 0 {
		t.Errorf("held %d resident after trim, want 0", got)
	}
	for i, b := range bufs {
		if b[0] != 0 || b[frameBufSize-1] != 0 {
			t.Errorf("buffer %d still holds its bytes after trim: its pages were not given back", i)
		}
	}
	again := p.get(nil, 5)
	for i, b := range bufs {
		if !slices.Contains(again, b) {
			t.Errorf("cold buffer %d was not handed out again", i)
		}
	}
	if len(again) != 5 {
		t.Errorf("got %d buffers, want 5", len(again))
	}
	p.mu.Lock()
	cold := len(p.cold)
	p.mu.Unlock()
	if cold != 0 {
		t.Errorf("%d cold buffers left, want 0", cold)
	}
	p.put(again)
	p.trim()
}
