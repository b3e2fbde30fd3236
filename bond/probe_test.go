package bond

import "testing"

// TestProbeDoesNotAllocate: handing a frame from a slave reader to the
// control goroutine's queue, and the probe on a frame it does not want,
// allocate nothing.
func TestProbeDoesNotAllocate(t *testing.T) {
	r := NewRegistry(Config{Defaults: DefaultParams()})
	b := r.newBond("bond0", 1, nil, nil, 0)
	s := &Slave{bond: b, name: "eth0"}
	s.initProbe()
	b.SetRecvProbe(FrameSlow | FrameARP)
	slow := make([]byte, VnetHdrLen+124)
	slow[VnetHdrLen+12], slow[VnetHdrLen+13] = 0x88, 0x09
	ip := make([]byte, VnetHdrLen+60)
	ip[VnetHdrLen+12] = 0x08
	n := testing.AllocsPerRun(1000, func() {
		if !b.probeFrame(s, slow) {
			t.Fatal("slow-protocol frame not consumed")
		}
		f := <-r.recvq
		if f.buf.n != 124 || f.s != s {
			t.Fatalf("handed over %d bytes", f.buf.n)
		}
		s.rxFree <- f.buf
		if b.probeFrame(s, ip) {
			t.Fatal("IPv4 frame consumed")
		}
	})
	if n != 0 {
		t.Errorf("%v allocations per frame", n)
	}
	// all buffers busy: the frame is not handed over, still consumed
	for i := 0; i < rxBufs; i++ {
		b.probeFrame(s, slow)
	}
	if !b.probeFrame(s, slow) || r.LoopStats().RecvDropped != 1 {
		t.Errorf("dropped %d", r.LoopStats().RecvDropped)
	}
}
