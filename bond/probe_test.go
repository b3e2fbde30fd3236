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

// TestProbeBuffersOnDemand: a slave holds no receive probe buffer until the
// probe hands over a frame, and never more than rxBufs (issue 19: an idle
// slave's memory).
func TestProbeBuffersOnDemand(t *testing.T) {
	r := NewRegistry(Config{Defaults: DefaultParams()})
	b := r.newBond("bond0", 1, nil, nil, 0)
	s := &Slave{bond: b, name: "eth0"}
	s.initProbe()
	ip := make([]byte, VnetHdrLen+60)
	ip[VnetHdrLen+12] = 0x08
	b.SetRecvProbe(FrameSlow | FrameARP)
	b.probeFrame(s, ip) // not a class the probe wants
	if n := s.rxMade.Load(); n != 0 {
		t.Fatalf("%d probe buffers before any frame was handed over, want 0", n)
	}
	slow := make([]byte, VnetHdrLen+124)
	slow[VnetHdrLen+12], slow[VnetHdrLen+13] = 0x88, 0x09
	for i := 0; i < 2*rxBufs; i++ {
		b.probeFrame(s, slow)
	}
	if n := s.rxMade.Load(); n != rxBufs {
		t.Errorf("%d probe buffers after %d frames queued, want %d", n, 2*rxBufs, rxBufs)
	}
	if d := r.LoopStats().RecvDropped; d != rxBufs {
		t.Errorf("dropped %d, want %d", d, rxBufs)
	}
}
