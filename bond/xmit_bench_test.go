package bond

import (
	"sync/atomic"
	"testing"
)

// nullDev counts frames and drops them: the cost measured is the engine's.
type nullDev struct{ n atomic.Uint64 }

func (p *nullDev) ReadFrame([]byte) (int, error) { select {} }
func (p *nullDev) WriteFrame([]byte) error       { p.n.Add(1); return nil }
func (p *nullDev) Close() error                  { return nil }

// benchXmit measures the per-frame transmit decision of one mode over two
// slaves: it must not allocate or lock (no per-frame allocation on
// the hot path).
func benchXmit(b *testing.B, mode ModeID, policy XmitPolicy, pps int) {
	p0, p1 := &nullDev{}, &nullDev{}
	bd := xmitBond(mode, policy, pps, p0, p1)
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

// xmitBond is a bond of mode with the selector its mode builds for two
// usable slaves on p0 and p1, p0 the active one.
func xmitBond(mode ModeID, policy XmitPolicy, pps int, p0, p1 SlaveDev) *Bond {
	p := DefaultParams()
	p.Mode, p.XmitPolicy, p.PacketsPerSlave = mode, policy, pps
	r := NewRegistry(Config{Defaults: p})
	bd := r.newBond("bond0", 1, nil, nil, 0)
	bd.tx.Store(&txBox{sel: bd.mode.Tx(TxView{UsableDevs: []SlaveDev{p0, p1}, Active: p0, Params: &bd.params})})
	return bd
}

func TestXmitDoesNotAllocate(t *testing.T) {
	for _, mode := range []ModeID{ModeRoundRobin, ModeActiveBackup, ModeXOR, ModeBroadcast} {
		p0, p1 := &nullDev{}, &nullDev{}
		bd := xmitBond(mode, XmitLayer34, 1, p0, p1)
		frame := make([]byte, VnetHdrLen+60)
		if n := testing.AllocsPerRun(100, func() { bd.xmit(frame) }); n != 0 {
			t.Errorf("mode %v: %v allocations per frame", mode, n)
		}
	}
}
