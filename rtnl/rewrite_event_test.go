package rtnl

import (
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"bondingfs/bond"
	"bondingfs/rtnl/nltext"
)

func TestEvent(t *testing.T) {
	snap := snap802(t)
	up := uint32(unix.IFF_UP | unix.IFF_BROADCAST | unix.IFF_MULTICAST)
	reply := tapMsg(5, "bond0", up, 99)
	ev := Event(reply, snap, EventBondingOptions)
	if ev == nil {
		t.Fatal("Event = nil")
	}
	l, ok := parseLink(ev)
	if !ok || l.hdr.Sequence != 0 || l.hdr.PID != 0 || l.hdr.Flags != 0 || uint16(l.hdr.Type) != unix.RTM_NEWLINK {
		t.Fatalf("event header %+v", l.hdr)
	}
	if l.kind() != "bond" || l.flags()&unix.IFF_MASTER == 0 {
		t.Errorf("event not rewritten: kind %q flags %#x", l.kind(), l.flags())
	}
	// IFLA_EVENT right after IFLA_PROTO_DOWN, as in the 6.1 transcript.
	text := nltext.Link(ev, nltext.Normalise)
	if !strings.Contains(text, " PROTO_DOWN 0\n 0x2c EVENT 6\n") {
		t.Errorf("IFLA_EVENT missing or misplaced:\n%s", text)
	}
	// No event attribute for EventNone; a port event carries its master.
	port := Event(vethMsg(6, "eth0", up, 3), snap, EventNone)
	if pl, ok := parseLink(port); !ok || pl.attrs.find(unix.IFLA_EVENT) >= 0 || pl.master() != 5 {
		t.Errorf("port event: %s", nltext.Link(port, nltext.Normalise))
	}
	// Not exactly one link message: nil.
	two := append(tapMsg(5, "bond0", up, 1), tapMsg(5, "bond0", up, 1)...)
	if Event(two, snap, 0) != nil || Event(doneMsg(1), snap, 0) != nil || Event(nil, snap, 0) != nil {
		t.Error("Event accepted something other than one link message")
	}
}

func TestChanged(t *testing.T) {
	old := snap802(t)
	if got := Changed(old, snap802(t)); len(got) != 0 {
		t.Errorf("equal snapshots: %v", got)
	}
	// An option change shows on the bond only.
	opt := snap802(t)
	opt.Bonds[0].Params.Miimon = 200
	if got := Changed(old, opt); len(got) != 1 || got[0] != 5 {
		t.Errorf("miimon change: %v", got)
	}
	// A release: the port changes, and the bond (its 802.3ad info does not
	// change here, so only the port).
	rel := snap802(t)
	rel.Bonds[0].Slaves = rel.Bonds[0].Slaves[:1]
	if got := Changed(old, rel); len(got) != 1 || got[0] != 7 {
		t.Errorf("release of eth1: %v", got)
	}
	// A port's MII status.
	mii := snap802(t)
	mii.Bonds[0].Slaves[0].Link = bond.LinkFail
	if got := Changed(old, mii); len(got) != 1 || got[0] != 6 {
		t.Errorf("eth0 going down: %v", got)
	}
	// The bond deleted: its ports, not the bond (the TAP's RTM_DELLINK).
	if got := Changed(old, &bond.Snapshot{}); len(got) != 2 || got[0] != 6 || got[1] != 7 {
		t.Errorf("bond deleted: %v", got)
	}
	// A new bond with no ports.
	if got := Changed(nil, &bond.Snapshot{Bonds: []*bond.BondStatus{{Name: "bond1", Index: 11}}}); len(got) != 1 || got[0] != 11 {
		t.Errorf("bond created: %v", got)
	}
}
