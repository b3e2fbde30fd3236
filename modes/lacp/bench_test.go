package lacp

import (
	"fmt"
	"testing"
)

// negotiated returns a bond of nports ports negotiated with a partner bond,
// frames delivered without copies, for benchmarks.
func negotiated(tb testing.TB, nports int) (*System, *System) {
	var b0, b1 *System
	type pending struct {
		to    *System
		id    PortID
		frame [FrameLen]byte
	}
	var queue []pending
	mk := func(name string, m [6]byte, peer **System) *System {
		return New(Config{Name: name, BondMAC: m, Options: fastOpts(),
			Transmit: func(id PortID, f []byte) {
				queue = append(queue, pending{to: *peer, id: id})
				copy(queue[len(queue)-1].frame[:], f)
			}})
	}
	b0 = mk("bond0", mac(0, 0, 1), &b1)
	b1 = mk("bond1", mac(0, 0xb1, 0), &b0)
	for i := 0; i < nports; i++ {
		if err := b0.AddPort(PortID(i), fmt.Sprint("eth", i), mac(0, 0, byte(i), 1), up10G); err != nil {
			tb.Fatal(err)
		}
		if err := b1.AddPort(PortID(i), fmt.Sprint("p", i), mac(0, 1, byte(i), 1), up10G); err != nil {
			tb.Fatal(err)
		}
	}
	b0.Open()
	b1.Open()
	for t := 0; t < 60; t++ {
		b0.Tick()
		b1.Tick()
		for len(queue) > 0 {
			q := queue[0]
			queue = queue[1:]
			q.to.Receive(q.id, q.frame[:])
		}
	}
	if !distributing(b0) {
		tb.Fatal("not distributing")
	}
	// From here on, frames are dropped: Tick only runs the timers and
	// encodes LACPDUs.
	b0.transmit = func(PortID, []byte) {}
	return b0, b1
}

func benchTick(b *testing.B, nports int) {
	s, _ := negotiated(b, nports)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.Tick()
		if i%20 == 19 {
			// Keep the partner current so the ports stay aggregated.
			s.ports[0].rxTimer = 30
			for _, p := range s.ports {
				p.rxTimer = 30
			}
		}
	}
}

func BenchmarkTick2(b *testing.B)  { benchTick(b, 2) }
func BenchmarkTick64(b *testing.B) { benchTick(b, 64) }

func BenchmarkReceiveLACPDU(b *testing.B) {
	s, _ := negotiated(b, 2)
	frame := kernelFrame(b)
	frame[HeaderLen+4+2+5] = 0xb1 // actor system 02:00:00:00:00:b1: not us
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.Receive(0, frame)
	}
}

func TestTickAllocs(t *testing.T) {
	for _, n := range []int{2, 64} {
		s, partner := negotiated(t, n)
		allocs := testing.AllocsPerRun(200, func() {
			s.Tick()
			for _, p := range s.ports {
				p.rxTimer = 30
			}
		})
		if allocs != 0 {
			t.Errorf("%d ports: %.1f allocations per Tick", n, allocs)
		}
		frame := kernelFrame(t)
		// bond0's LACPDU as bond1 receives it.
		if a := testing.AllocsPerRun(200, func() { partner.Receive(0, frame) }); a != 0 {
			t.Errorf("%.1f allocations per Receive", a)
		}
		buf := make([]PortID, 0, n)
		if a := testing.AllocsPerRun(200, func() { buf = s.DistributingPorts(buf[:0]) }); a != 0 {
			t.Errorf("%.1f allocations per DistributingPorts", a)
		}
	}
}
