package frame_test

import (
	"testing"

	"bondingfs/internal/frame"
)

// benchFrames are the frames the hash benchmarks cycle through: UDP over
// IPv4, TCP over IPv6, and TCP in IPIP (which only the encap policies look
// into).
func benchFrames() [][]byte {
	v6 := make([]byte, 40)
	v6[0], v6[6], v6[7] = 0x60, 6, 64
	v6[23], v6[39] = 1, 2
	return [][]byte{
		cat(ethHdr(0x0800), ipv4(17, hSrc, hDst, l4(0x1234, 0x5678))),
		cat(ethHdr(0x86dd), v6, l4(0x50, 0x51)),
		cat(ethHdr(0x0800), ipv4(4, hSrc, hDst, ipv4(6, hISrc, hIDst, l4(0x50, 0xc000)))),
	}
}

// BenchmarkXmitHash is the per-frame cost of each xmit_hash_policy; it
// must not allocate.
func BenchmarkXmitHash(b *testing.B) {
	frames := benchFrames()
	for p := frame.XmitLayer2; p <= frame.XmitVlanSrcMAC; p++ {
		b.Run(p.String(), func(b *testing.B) {
			b.ReportAllocs()
			var sum uint32
			for i := 0; i < b.N; i++ {
				sum += frame.XmitHash(p, frames[i%len(frames)])
			}
			sink = sum
		})
	}
}

// BenchmarkClassifyFrame is the receive probe's per-frame cost over a mix
// of IPv4, LACPDU, ARP and neighbour solicitation frames.
func BenchmarkClassifyFrame(b *testing.B) {
	frames := [][]byte{ethFrame(0x0800, 60), ethFrame(0x8809, 124), ethFrame(0x0806, 60), nd(135)}
	b.ReportAllocs()
	var sum frame.Class
	for i := 0; i < b.N; i++ {
		sum |= frame.ClassifyFrame(frames[i%len(frames)])
	}
	sink = uint32(sum)
}

// sink keeps the benchmarks' results alive.
var sink uint32
