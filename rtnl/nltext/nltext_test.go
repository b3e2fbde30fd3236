package nltext

import (
	"strings"
	"testing"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

func sample() []byte {
	req := nl.NewNetlinkRequest(unix.RTM_NEWLINK, unix.NLM_F_MULTI)
	msg := nl.NewIfInfomsg(unix.AF_UNSPEC)
	msg.Index = 5
	msg.Flags = unix.IFF_UP | unix.IFF_MASTER
	req.AddData(msg)
	req.AddData(nl.NewRtAttr(unix.IFLA_IFNAME, nl.ZeroTerminated("bond0")))
	req.AddData(nl.NewRtAttr(unix.IFLA_ADDRESS, []byte{2, 0, 0, 0, 0, 1}))
	req.AddData(nl.NewRtAttr(unix.IFLA_STATS64, make([]byte, 8)))
	li := nl.NewRtAttr(unix.IFLA_LINKINFO, nil)
	li.AddRtAttr(nl.IFLA_INFO_KIND, nl.ZeroTerminated("bond"))
	d := li.AddRtAttr(nl.IFLA_INFO_DATA, nil)
	d.AddRtAttr(nl.IFLA_BOND_MODE, nl.Uint8Attr(4))
	d.AddRtAttr(nl.IFLA_BOND_AD_ACTOR_SYSTEM, []byte{0x52, 0, 0, 0, 0, 9})
	ai := d.AddRtAttr(nl.IFLA_BOND_AD_INFO, nil)
	ai.AddRtAttr(nl.IFLA_BOND_AD_INFO_AGGREGATOR, nl.Uint16Attr(1))
	req.AddData(li)
	return req.Serialize()
}

func TestLink(t *testing.T) {
	got := Link(sample(), Normalise)
	want := `msg type=16 flags=0x3 ifi_type=0 ifi_index=5 ifi_flags=0x401
 0x3 IFNAME "bond0\x00"
 0x1 ADDRESS 02:00:00:00:00:01
 0x17 STATS64 -
 0x12 LINKINFO
  0x1 hex:626f6e6400
  0x2 INFO_DATA
   0x1 hex:04
   0x1a <random>
   0x17
    0x1 hex:0100
`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if !strings.HasPrefix(Link(sample()[:20], Normalise), "bad message") {
		t.Error("a cut message was printed")
	}
}

func FuzzLink(f *testing.F) {
	f.Add(sample())
	f.Add(sample()[:40])
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = Link(b, Normalise)
		_ = Link(b, nil)
	})
}
