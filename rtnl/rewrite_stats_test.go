package rtnl

import (
	"os"
	"strings"
	"testing"

	"github.com/mdlayher/netlink"
	"github.com/mdlayher/netlink/nlenc"
	"golang.org/x/sys/unix"

	"bondingfs/bond"
	"bondingfs/rtnl/nltext"
)

// statsMsg is an RTM_NEWSTATS of a device without fill_linkxstats (a TAP,
// a veth): if_stats_msg, IFLA_STATS_LINK_64 when asked, IFLA_STATS_AF_SPEC.
func statsMsg(t testing.TB, idx int32, mask uint32) []byte {
	t.Helper()
	hdr := make([]byte, ifStatsMsgLen)
	nlenc.PutUint32(hdr[4:8], uint32(idx))
	nlenc.PutUint32(hdr[8:12], mask)
	var a attrs
	if mask&statsBit(unix.IFLA_STATS_LINK_64) != 0 {
		a.raw(unix.IFLA_STATS_LINK_64, make([]byte, 200))
	}
	if mask&statsBit(unix.IFLA_STATS_AF_SPEC) != 0 {
		a.raw(unix.IFLA_STATS_AF_SPEC, nil)
	}
	body := append(hdr, a.encode()...)
	b, err := netlink.Message{Header: netlink.Header{Length: uint32(nlmsgHdrLen + len(body)), Type: rtmNewStats, Flags: netlink.Multi, Sequence: 3},
		Data: body}.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRewriteStats(t *testing.T) {
	snap := snap802(t)
	snap.Bonds[0].AD.Stats.LACPDUTx = 42
	snap.Bonds[0].Slaves[1].ADStats = nil
	x := statsBit(unix.IFLA_STATS_LINK_XSTATS)
	xs := statsBit(unix.IFLA_STATS_LINK_XSTATS_SLAVE)
	l64 := statsBit(unix.IFLA_STATS_LINK_64) | statsBit(unix.IFLA_STATS_AF_SPEC)

	// The bond, asked for LINK_64 and XSTATS: XSTATS between them.
	in := statsMsg(t, 5, l64|x)
	if !Concerns(in, snap) {
		t.Error("Concerns = false for the bond's xstats")
	}
	out := Rewrite(in, snap, Filter{})
	var msg netlink.Message
	if err := msg.UnmarshalBinary(out); err != nil {
		t.Fatal(err)
	}
	as, _ := decodeAttrs(msg.Data[ifStatsMsgLen:])
	if len(as) != 3 || as[0].Type != unix.IFLA_STATS_LINK_64 || as[1].Type != unix.IFLA_STATS_LINK_XSTATS || as[2].Type != unix.IFLA_STATS_AF_SPEC {
		t.Fatalf("attributes %v", as)
	}
	bondNest, _ := decodeAttrs(as[1].Data)
	if len(bondNest) != 1 || bondNest[0].Type != linkXstatsBond {
		t.Fatalf("LINK_XSTATS_TYPE_BOND: %v", bondNest)
	}
	ad, _ := decodeAttrs(bondNest[0].Data)
	if len(ad) != 1 || ad[0].Type != bondXstats3AD {
		t.Fatalf("BOND_XSTATS_3AD: %v", ad)
	}
	c, _ := decodeAttrs(ad[0].Data)
	if len(c) != 9 || c[1].Type != 1 || nlenc.Uint64(c[1].Data) != 42 || len(c[0].Data) != 8 {
		t.Errorf("counters %v", c)
	}
	// Idempotent.
	if again := Rewrite(out, snap, Filter{}); string(again) != string(out) {
		t.Error("second Rewrite changed the stats message")
	}
	// A port asked for XSTATS_SLAVE; eth1 has no counters: an empty bond nest.
	pout := Rewrite(statsMsg(t, 7, xs|statsBit(unix.IFLA_STATS_AF_SPEC)), snap, Filter{})
	if err := msg.UnmarshalBinary(pout); err != nil {
		t.Fatal(err)
	}
	as, _ = decodeAttrs(msg.Data[ifStatsMsgLen:])
	if len(as) != 2 || as[0].Type != unix.IFLA_STATS_LINK_XSTATS_SLAVE || len(as[0].Data) != 4 {
		t.Errorf("port stats attributes %v", as)
	}
	// Not asked for: unchanged, and not a concern.
	plain := statsMsg(t, 5, l64)
	if Concerns(plain, snap) || string(Rewrite(plain, snap, Filter{})) != string(plain) {
		t.Error("stats without XSTATS changed")
	}
}

// TestStatsMatchKernel compares the shape of the extended statistics
// (types, nesting, sizes) with what 6.1 sent for a bond and its port in
// 802.3ad and active-backup (testdata/rtnl/golden/52-rtnl-xstats.txt).
func TestStatsMatchKernel(t *testing.T) {
	b, err := os.ReadFile("../testdata/rtnl/golden/52-rtnl-xstats.txt")
	if err != nil {
		t.Fatal(err)
	}
	// golden records per step and device
	want := map[string]string{}
	var step, dev string
	for _, l := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(l, "== ["):
			step = l[strings.Index(l, "] ")+2:]
		case strings.HasPrefix(l, "$ nldump -stats "):
			dev = strings.TrimPrefix(l, "$ nldump -stats ")
		case strings.HasPrefix(l, "| ") && dev != "":
			want[step+" "+dev] += l[2:] + "\n"
		default:
			dev = ""
		}
	}
	for _, m := range []bond.ModeID{bond.Mode8023AD, bond.ModeActiveBackup} {
		snap := snap802(t)
		bs := snap.Bonds[0]
		bs.Params.Mode = m
		bs.Slaves = bs.Slaves[:1] // eth0 only, as the scenario
		bs.Slaves[0].ADStats = &bond.ADStats{}
		if m != bond.Mode8023AD {
			bs.AD, bs.Slaves[0].AD, bs.Slaves[0].ADStats = nil, nil, nil
		}
		mask := statsBit(unix.IFLA_STATS_LINK_XSTATS) | statsBit(unix.IFLA_STATS_LINK_XSTATS_SLAVE)
		for dev, idx := range map[string]int32{"bond0": 5, "eth0": 6, "eth1": 7} {
			w, ok := want[m.String()+" "+dev]
			if !ok {
				t.Fatalf("golden has no %s %s", m, dev)
			}
			got := "stats " + dev + " " + nltext.StatsShape(Rewrite(statsMsg(t, idx, mask), snap, Filter{}))
			if got != w {
				t.Errorf("%s %s:\ngot\n%swant\n%s", m, dev, got, w)
			}
		}
	}
}
