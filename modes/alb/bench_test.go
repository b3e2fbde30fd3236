package alb

import "testing"

type nullDev struct{}

func (nullDev) WriteFrame([]byte) error { return nil }

// benchALB is balance-alb (rlb) or balance-tlb with tlb_dynamic_lb and two
// slaves that can send, the first one current.
func benchALB(b *testing.B, rlb bool) *ALB {
	b.Helper()
	a := New(&fakeHost{}, Config{TLBOnly: !rlb, DynamicLB: true, LPInterval: 1, Hash: layer2})
	a.SetBondMAC(bondMAC)
	a.Initialize(rlb)
	for i := 0; i < 2; i++ {
		s := &Slave{Name: "eth", Perm: m(byte(i + 1)), MAC: bondMAC}
		if err := a.InitSlave(s); err != nil {
			b.Fatal(err)
		}
		a.SetLink(s, true, 10000)
		a.SetSlaveDev(s, nullDev{})
		if i == 0 {
			a.ActiveChange(s)
		}
	}
	return a
}

// BenchmarkXmit is the per-frame cost of the transmit path: balance-tlb
// through the TLB table, balance-alb for IPv4 and for an ARP reply (the
// client table and the sender rewrite).
func BenchmarkXmit(b *testing.B) {
	for _, c := range []struct {
		name  string
		rlb   bool
		frame []byte
	}{
		{"tlb-ipv4", false, ipv4(3, 1000)},
		{"alb-ipv4", true, ipv4(3, 1000)},
		{"alb-arp-reply", true, func() []byte { cm, cip := client(1); return arpFrame(arpReply, bondMAC, bondIP, cm, cip, cm, 0) }()},
	} {
		b.Run(c.name, func(b *testing.B) {
			a := benchALB(b, c.rlb)
			f := append([]byte(nil), c.frame...)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				a.Xmit(f)
			}
		})
	}
}

type nullPlacer struct{}

func (nullPlacer) Place(SlaveDev, []byte) {}

// BenchmarkXmitEach is BenchmarkXmit's alb-ipv4 case for a batch of 32
// frames (one lock per batch); ns/op is per batch.
func BenchmarkXmitEach(b *testing.B) {
	a := benchALB(b, true)
	var frames [][]byte
	for i := 0; i < 32; i++ {
		frames = append(frames, ipv4(byte(3+i%9), 1000))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a.XmitEach(frames, nullPlacer{})
	}
}
