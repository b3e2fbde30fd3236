package fastpath_test

import (
	"testing"
	"time"

	"bondingfs/fastpath"
	"bondingfs/internal/frame"
	"bondingfs/internal/nettest"
)

// BenchmarkBondEgress times bond_egress per frame in the kernel
// (BPF_PROG_TEST_RUN with repeat) on a TCP/IPv4 frame of the corpus, per
// transmit mode and xmit_hash_policy: the fast path's own cost per frame.
func BenchmarkBondEgress(b *testing.B) {
	nettest.SkipUnlessRoot(b)
	p, err := fastpath.Load(fastpath.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	prog := fastpath.EgressProgram(p)
	f := make([]byte, 14+20+20+64)
	f[12], f[13] = 0x08, 0x00
	f[14], f[14+9] = 0x45, 6
	copy(f[14+12:], []byte{192, 0, 2, 1, 192, 0, 2, 2})
	cases := []struct {
		name string
		cfg  fastpath.Config
	}{
		{"active-backup", fastpath.Config{Mode: fastpath.ModeActive, Active: 1000}},
		{"balance-rr", fastpath.Config{Mode: fastpath.ModeRR, PPS: 1, Slaves: []int{1000, 1001}}},
	}
	for pol := frame.XmitLayer2; pol <= frame.XmitVlanSrcMAC; pol++ {
		cases = append(cases, struct {
			name string
			cfg  fastpath.Config
		}{"hash-" + pol.String(), fastpath.Config{Mode: fastpath.ModeHash, Policy: uint32(pol), Slaves: []int{1000, 1001}}})
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			if err := p.SetBond(1, c.cfg); err != nil {
				b.Fatal(err)
			}
			var d time.Duration
			for b.Loop() {
				var ret uint32
				ret, d, err = prog.Benchmark(f, 1000, nil)
				if err != nil || ret != 7 {
					b.Fatalf("run: %d %v", ret, err)
				}
			}
			b.ReportMetric(float64(d.Nanoseconds()), "ns/frame")
		})
	}
}
