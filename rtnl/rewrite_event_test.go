package rtnl

import (
	"slices"
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
	check := func(name string, got []Change, want ...Change) {
		t.Helper()
		if !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", name, got, want)
		}
	}
	check("equal snapshots", Changed(old, snap802(t)))
	opt := snap802(t)
	opt.Bonds[0].Params.Miimon = 200
	check("miimon change", Changed(old, opt), Change{5, EventBondingOptions})
	// A release: the port (no master now), then the bond (its ports).
	rel := snap802(t)
	rel.Bonds[0].Slaves = rel.Bonds[0].Slaves[:1]
	check("release of eth1", Changed(old, rel), Change{7, EventNone}, Change{5, EventBondingOptions})
	// An enslave, ports before the bond.
	check("enslave of eth1", Changed(rel, old), Change{7, EventNone}, Change{5, EventBondingOptions})
	mii := snap802(t)
	mii.Bonds[0].Slaves[0].Link = bond.LinkFail
	check("eth0 going down", Changed(old, mii), Change{6, EventNone})
	car := snap802(t)
	car.Bonds[0].Carrier = false
	check("carrier only", Changed(old, car), Change{5, EventNone})
	// The bond deleted: its ports, not the bond (the TAP's RTM_DELLINK).
	check("bond deleted", Changed(old, &bond.Snapshot{}), Change{6, EventNone}, Change{7, EventNone})
	check("bond created", Changed(nil, &bond.Snapshot{Bonds: []*bond.BondStatus{{Name: "bond1", Index: 11}}}),
		Change{11, EventBondingOptions})
	// A failover in active-backup.
	ab := func(active string) *bond.Snapshot {
		s := snap802(t)
		b := s.Bonds[0]
		b.Params.Mode, b.AD, b.ActiveSlave = bond.ModeActiveBackup, nil, active
		for i := range b.Slaves {
			b.Slaves[i].AD = nil
			b.Slaves[i].Active = b.Slaves[i].Name == active
		}
		return s
	}
	check("failover", Changed(ab("eth0"), ab("eth1")), Change{6, EventNone}, Change{7, EventNone}, Change{5, EventBondingFailover})
}
