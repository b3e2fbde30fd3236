package rtnl

import (
	"testing"

	"golang.org/x/sys/unix"
)

// dump1000 is a link dump of a bond, its two ports and 997 other veths, as
// one receive buffer.
func dump1000(tb testing.TB) []byte {
	up := uint32(unix.IFF_UP | unix.IFF_BROADCAST | unix.IFF_MULTICAST)
	var b []byte
	b = append(b, tapMsg(5, "bond0", up, 1)...)
	b = append(b, vethMsg(6, "eth0", up, 1)...)
	b = append(b, vethMsg(7, "eth1", up, 1)...)
	for i := int32(0); i < 997; i++ {
		b = append(b, vethMsg(100+i, "veth", up, 1)...)
	}
	return b
}

// BenchmarkRewriteDump1000: one 1000-link dump, three of them rewritten.
func BenchmarkRewriteDump1000(b *testing.B) {
	snap := snap802(&testing.T{})
	msgs := dump1000(b)
	b.SetBytes(int64(len(msgs)))
	b.ReportAllocs()
	for b.Loop() {
		Rewrite(msgs, snap, Filter{})
	}
}

// BenchmarkConcernsDump1000: the receive path's test on the same buffer.
func BenchmarkConcernsDump1000(b *testing.B) {
	snap := snap802(&testing.T{})
	var msgs []byte // 1000 other links: every message is looked at
	for i := int32(0); i < 1000; i++ {
		msgs = append(msgs, vethMsg(100+i, "veth", unix.IFF_UP, 1)...)
	}
	b.SetBytes(int64(len(msgs)))
	b.ReportAllocs()
	for b.Loop() {
		Concerns(msgs, snap)
	}
}

// BenchmarkRewriteBond: one bond message.
func BenchmarkRewriteBond(b *testing.B) {
	snap := snap802(&testing.T{})
	msg := tapMsg(5, "bond0", unix.IFF_UP, 1)
	b.ReportAllocs()
	for b.Loop() {
		Rewrite(msg, snap, Filter{})
	}
}
