package rtnl

import (
	"bytes"
	"testing"

	"golang.org/x/sys/unix"
)

// maxGrowth bounds what Rewrite may add per message: a bond's linkinfo (at
// most ~400 bytes with 16 targets and the 802.3ad info) or a port's slave
// data and IFLA_MASTER, plus the padding of an unaligned message.
const maxGrowth = 1024

func fuzzSeeds(f *testing.F) {
	up := uint32(unix.IFF_UP | unix.IFF_BROADCAST | unix.IFF_MULTICAST)
	var dump []byte
	dump = append(dump, tapMsg(5, "bond0", up, 7)...)
	dump = append(dump, vethMsg(6, "eth0", up, 7)...)
	dump = append(dump, vethMsg(7, "eth1", up, 7)...)
	dump = append(dump, doneMsg(7)...)
	f.Add(dump, int32(0), "")
	f.Add(dump, int32(5), "")
	f.Add(dump, int32(0), "bond")
	f.Add(tapMsg(5, "bond0", 0, 1)[:40], int32(0), "")
	f.Add(getlinkDump(5, "bond"), int32(0), "")
	f.Add(master0(), int32(0), "veth")
	f.Add(statsMsg(f, 5, 0xff), int32(0), "")
}

func FuzzRewrite(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, msgs []byte, master int32, kind string) {
		snap := snap802(t)
		in := append([]byte(nil), msgs...)
		filter := Filter{Master: master, Kind: kind}
		out := Rewrite(msgs, snap, filter)
		if !bytes.Equal(in, msgs) {
			t.Fatal("Rewrite modified its input")
		}
		if limit := len(msgs) + maxGrowth*(len(msgs)/nlmsgHdrLen+1); len(out) > limit {
			t.Fatalf("output %d bytes for %d in", len(out), len(msgs))
		}
		// Rewriting is idempotent: a rewritten bond or port stays as it is.
		if again := Rewrite(out, snap, filter); !bytes.Equal(again, out) {
			t.Fatalf("not idempotent:\n% x\n% x", out, again)
		}
		// Well-formed input gives well-formed output.
		good := true
		walk(msgs, func(_ []byte, ok bool) { good = good && ok })
		if good {
			walk(out, func(m []byte, ok bool) {
				if !ok {
					t.Fatalf("malformed output message % x", m)
				}
			})
		}
		_ = Concerns(msgs, snap)
	})
}

func FuzzParseDumpFilter(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, req []byte, _ int32, _ string) {
		in := append([]byte(nil), req...)
		fl, out, ok := ParseDumpFilter(req)
		if !bytes.Equal(in, req) {
			t.Fatal("ParseDumpFilter modified its input")
		}
		if !ok {
			if fl != (Filter{}) || !bytes.Equal(out, req) {
				t.Fatalf("not ok but %+v / changed request", fl)
			}
			return
		}
		if len(out) > len(req) || len(out) < nlmsgHdrLen || int(out[0])|int(out[1])<<8 != len(out) {
			t.Fatalf("stripped request %d bytes (from %d): % x", len(out), len(req), out)
		}
		// What is left holds no filter the kernel could not apply.
		f2, _, ok2 := ParseDumpFilter(out)
		if ok2 && (f2.Master != 0 || f2.Kind == kindBond) {
			t.Fatalf("stripped request still filters: %+v", f2)
		}
	})
}
