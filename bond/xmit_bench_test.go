package bond

import (
	"sync/atomic"
	"testing"
)

// nullPort counts frames and drops them: the cost measured is the engine's.
type nullPort struct{ n atomic.Uint64 }

func (p *nullPort) ReadFrame([]byte) (int, error) { select {} }
func (p *nullPort) WriteFrame([]byte) error       { p.n.Add(1); return nil }
func (p *nullPort) Close() error                  { return nil }

// benchXmit measures the per-frame transmit decision of one mode over two
// slaves: it must not allocate or lock (issue 2: no per-frame allocation on
// the hot path).
func benchXmit(b *testing.B, mode, policy, pps int) {
	p0, p1 := &nullPort{}, &nullPort{}
	bd := &Bond{}
	bd.tx.Store(&txTable{mode: mode, policy: policy, pps: uint64(pps), slaves: []Port{p0, p1}, active: p0})
	frame := make([]byte, VnetHdrLen+14+20+8)
	f := frame[VnetHdrLen:]
	f[12], f[13], f[14], f[14+9] = 0x08, 0x00, 0x45, 17
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f[34] = byte(i) // vary the source port
		bd.xmit(frame)
	}
	if p0.n.Load()+p1.n.Load() == 0 {
		b.Fatal("nothing sent")
	}
}

func BenchmarkXmitRoundRobin(b *testing.B)   { benchXmit(b, ModeRoundRobin, 0, 1) }
func BenchmarkXmitActiveBackup(b *testing.B) { benchXmit(b, ModeActiveBackup, 0, 1) }
func BenchmarkXmitXORLayer34(b *testing.B)   { benchXmit(b, ModeXOR, XmitLayer34, 1) }
func BenchmarkXmitBroadcast(b *testing.B)    { benchXmit(b, ModeBroadcast, 0, 1) }

func TestXmitDoesNotAllocate(t *testing.T) {
	for _, mode := range []int{ModeRoundRobin, ModeActiveBackup, ModeXOR, ModeBroadcast} {
		p0, p1 := &nullPort{}, &nullPort{}
		bd := &Bond{}
		bd.tx.Store(&txTable{mode: mode, policy: XmitLayer34, pps: 1, slaves: []Port{p0, p1}, active: p0})
		frame := make([]byte, VnetHdrLen+60)
		if n := testing.AllocsPerRun(100, func() { bd.xmit(frame) }); n != 0 {
			t.Errorf("mode %d: %v allocations per frame", mode, n)
		}
	}
}

func TestAllSlavesActive(t *testing.T) {
	p := DefaultParams()
	p.Mode = ModeActiveBackup
	r, _, _ := newEngine(t, p)
	b := r.bondNamed(t, "bond0")
	for _, s := range []string{"eth0", "eth1"} {
		if err := do(t, r, func() error { return b.Enslave(s) }); err != nil {
			t.Fatal(err)
		}
	}
	var backup *Slave
	_ = do(t, r, func() error { backup = b.SlaveByName("eth1"); return nil })
	if !backup.rxDrop.Load() {
		t.Fatal("the backup slave must drop received frames")
	}
	_ = do(t, r, func() error { b.Params().AllSlavesActive = 1; b.ParamsChanged(); return nil })
	if backup.rxDrop.Load() {
		t.Error("all_slaves_active=1: the backup slave must deliver received frames")
	}
	_ = do(t, r, func() error { b.Params().AllSlavesActive = 0; b.ParamsChanged(); return nil })
	if !backup.rxDrop.Load() {
		t.Error("all_slaves_active=0 again: the backup slave must drop")
	}
}
