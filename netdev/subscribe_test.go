package netdev

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"

	"bondingfs/bond"
	"bondingfs/internal/nettest"
)

// linkMsg builds one rtnetlink link message as the kernel sends it: an
// ifinfomsg with IFLA_IFNAME and IFLA_MTU.
func linkMsg(typ int, index int32, name string, mtu uint32, flags uint32) []byte {
	req := nl.NewNetlinkRequest(typ, 0)
	msg := nl.NewIfInfomsg(unix.AF_UNSPEC)
	msg.Index = index
	msg.Flags = flags
	req.AddData(msg)
	req.AddData(nl.NewRtAttr(unix.IFLA_IFNAME, nl.ZeroTerminated(name)))
	req.AddData(nl.NewRtAttr(unix.IFLA_MTU, nl.Uint32Attr(mtu)))
	return req.Serialize()
}

// TestDecodeLinkDatagram: RTM_NEWLINK and RTM_DELLINK become link events in
// datagram order; a dump's NLMSG_DONE, truncated or foreign messages none.
func TestDecodeLinkDatagram(t *testing.T) {
	b := append(linkMsg(unix.RTM_NEWLINK, 7, "eth9", 1400, unix.IFF_UP|unix.IFF_LOWER_UP),
		linkMsg(unix.RTM_DELLINK, 8, "eth8", 1500, 0)...)
	done := nl.NewNetlinkRequest(unix.NLMSG_DONE, 0)
	done.AddData(nl.NewRtAttr(0, []byte{0, 0, 0, 0}))
	b = append(b, done.Serialize()...)
	evs := decodeLinkDatagram(b)
	require.Len(t, evs, 2)
	assert.Equal(t, "eth9", evs[0].Link.Name)
	assert.Equal(t, 7, evs[0].Link.Index)
	assert.Equal(t, 1400, evs[0].Link.MTU)
	assert.True(t, evs[0].Link.Up)
	assert.True(t, evs[0].Link.Carrier)
	assert.False(t, evs[0].Deleted)
	assert.Equal(t, "eth8", evs[1].Link.Name)
	assert.True(t, evs[1].Deleted)

	// a port leaving its bridge: RTM_DELLINK of family AF_BRIDGE, the device stays
	port := linkMsg(unix.RTM_DELLINK, 9, "bond0", 1500, 0)
	port[unix.NLMSG_HDRLEN] = unix.AF_BRIDGE
	evs = decodeLinkDatagram(port)
	require.Len(t, evs, 1)
	assert.False(t, evs[0].Deleted, "a bridge port's RTM_DELLINK is not the device's deletion")

	assert.Empty(t, decodeLinkDatagram(nil))
	assert.Empty(t, decodeLinkDatagram(b[:10]), "shorter than a header")
	assert.Empty(t, decodeLinkDatagram(linkMsg(unix.RTM_NEWADDR, 7, "eth9", 1400, 0)), "not a link message")
	short := linkMsg(unix.RTM_NEWLINK, 7, "eth9", 1400, 0)[:unix.NLMSG_HDRLEN+4]
	short[0] = byte(len(short)) // a header that says so
	short[1], short[2], short[3] = 0, 0, 0
	assert.Empty(t, decodeLinkDatagram(short), "no room for the ifinfomsg")
}

// FuzzDecodeLinkDatagram: whatever arrives on the link subscription, the
// decoder never panics and returns only named or indexed links.
func FuzzDecodeLinkDatagram(f *testing.F) {
	f.Add(linkMsg(unix.RTM_NEWLINK, 7, "eth9", 1400, unix.IFF_UP))
	f.Add(linkMsg(unix.RTM_DELLINK, 8, "eth8", 1500, 0))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, ev := range decodeLinkDatagram(b) {
			_ = ev.Link.Name
		}
	})
}

func TestSubscribeLinks(t *testing.T) {
	p := newPair(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := make(chan bond.LinkEvent, 100)
	if err := p.h.SubscribeLinks(ctx, func(ev bond.LinkEvent) { events <- ev }); err != nil {
		t.Fatal(err)
	}
	wait := func(what string, ok func(bond.LinkEvent) bool) {
		t.Helper()
		waitEvent(t, events, what, ok)
	}
	start := time.Now()
	p.b.SetDown(t, "p0")
	wait("eth0 carrier lost", func(ev bond.LinkEvent) bool {
		return ev.Link.Name == "eth0" && ev.Link.Up && !ev.Link.Carrier && !ev.Deleted
	})
	// Includes running "ip netns exec … ip link set p0 down" itself.
	t.Logf("carrier loss seen %v after starting ip link set down", time.Since(start))
	p.b.SetUp(t, "p0")
	wait("eth0 carrier back", func(ev bond.LinkEvent) bool {
		return ev.Link.Name == "eth0" && ev.Link.Carrier && ev.Link.Kind == "veth" && ev.Link.Ether
	})
	p.a.Run(t, "ip", "link", "add", "dummyv", "type", "veth", "peer", "name", "dummyw")
	wait("new link", func(ev bond.LinkEvent) bool { return ev.Link.Name == "dummyv" && !ev.Deleted })
	p.a.Run(t, "ip", "link", "del", "dummyv")
	wait("deleted link", func(ev bond.LinkEvent) bool { return ev.Link.Name == "dummyv" && ev.Deleted })
}

// gatedSub is a link subscription with a 4 KB socket buffer whose callback
// waits on gate while blocked is set (held counts it waiting), and hands
// events on to events.
type gatedSub struct {
	events  chan bond.LinkEvent
	gate    chan struct{}
	blocked atomic.Bool
	held    atomic.Int32 // callbacks waiting on gate
}

func newGatedSub(t *testing.T) (*pair, *gatedSub) {
	t.Helper()
	old := subRcvBuf
	subRcvBuf = 4096
	t.Cleanup(func() { subRcvBuf = old })
	p := newPair(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	gs := &gatedSub{events: make(chan bond.LinkEvent, 10000), gate: make(chan struct{})}
	if err := p.h.SubscribeLinks(ctx, func(ev bond.LinkEvent) {
		if gs.blocked.Load() {
			gs.held.Add(1)
			<-gs.gate
		}
		gs.events <- ev
	}); err != nil {
		t.Fatal(err)
	}
	return p, gs
}

// overrun runs one `ip -batch` in p's namespace that adds 60 veth pairs
// (<prefix>a<i> / <prefix>b<i>), enough to overrun a 4 KB subscription
// whose callback is held, then the commands in tail.
func overrun(t *testing.T, p *pair, prefix, tail string) {
	t.Helper()
	var batch strings.Builder
	for i := 0; i < 60; i++ {
		batch.WriteString("link add " + prefix + "a" + itoa(i) + " type veth peer name " + prefix + "b" + itoa(i) + "\n")
	}
	batch.WriteString(tail)
	file := t.TempDir() + "/batch"
	if err := os.WriteFile(file, []byte(batch.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	p.a.Run(t, "ip", "-batch", file)
}

// TestSubscribeLinksResync overruns the subscription's socket while the
// callback is blocked and checks that the resubscription reports the final
// state, including a link deleted during the overrun.
func TestSubscribeLinksResync(t *testing.T) {
	p, gs := newGatedSub(t)
	events, blocked, gate := gs.events, &gs.blocked, gs.gate
	p.a.Run(t, "ip", "link", "add", "vx0", "type", "veth", "peer", "name", "vy0")
	waitEvent(t, events, "vx0 created", func(ev bond.LinkEvent) bool { return ev.Link.Name == "vx0" })

	blocked.Store(true)
	overrun(t, p, "f", "link del vx0\nlink set eth0 mtu 1300\n")
	// the callback holds an event, so the socket filled up behind it
	eventually(t, 5*time.Second, func() bool { return gs.held.Load() > 0 }, "the callback never took an event to hold")
	blocked.Store(false)
	close(gate)

	waitEvent(t, events, "vx0 deleted", func(ev bond.LinkEvent) bool { return ev.Link.Name == "vx0" && ev.Deleted })
	waitEvent(t, events, "eth0 mtu 1300", func(ev bond.LinkEvent) bool { return ev.Link.Name == "eth0" && ev.Link.MTU == 1300 })
	if n := p.h.resubscribed.Load(); n == 0 {
		t.Error("the subscription was never overrun; the test proves nothing")
	} else {
		t.Logf("resubscribed %d time(s)", n)
	}
}

// TestLinkEventsPending: the subscription reports events pending while the
// kernel's socket holds one or the callback has not returned, and drained
// once every event has been delivered — also after an overrun whose
// ENOBUFS a peek took instead of the reader.
func TestLinkEventsPending(t *testing.T) {
	p, gs := newGatedSub(t)
	events, blocked, gate := gs.events, &gs.blocked, gs.gate
	drained := func(what string) {
		t.Helper()
		eventually(t, 5*time.Second, func() bool { return !p.h.LinkEventsPending() }, "events still pending: %s", what)
	}
	drained("at start")
	p.a.Run(t, "ip", "link", "set", "eth0", "mtu", "1400")
	// the RTM_NEWLINK was queued before ip returned
	waitEvent(t, events, "eth0 mtu 1400", func(ev bond.LinkEvent) bool { return ev.Link.Name == "eth0" && ev.Link.MTU == 1400 })
	drained("after the mtu event")

	blocked.Store(true)
	p.a.Run(t, "ip", "link", "set", "eth0", "mtu", "1300")
	if !p.h.LinkEventsPending() {
		t.Fatal("an event queued or held by the callback reads as drained")
	}
	// overrun the socket while the callback is held, and let the peek
	// take the ENOBUFS
	overrun(t, p, "p", "link set eth0 mtu 1280\n")
	for i := 0; i < 3; i++ {
		if !p.h.LinkEventsPending() {
			t.Fatal("an overrun socket reads as drained")
		}
	}
	blocked.Store(false)
	close(gate)
	waitEvent(t, events, "eth0 mtu 1280", func(ev bond.LinkEvent) bool { return ev.Link.Name == "eth0" && ev.Link.MTU == 1280 })
	drained("after the overrun")
	if n := p.h.resubscribed.Load(); n == 0 {
		t.Error("the subscription was never overrun; the test proves nothing")
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func waitEvent(t *testing.T, events <-chan bond.LinkEvent, what string, ok func(bond.LinkEvent) bool) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case ev := <-events:
			if ok(ev) {
				return
			}
		case <-deadline:
			t.Fatalf("no event: %s", what)
		}
	}
}

// TestNoGoroutineLeak checks that subscriptions end with their context or
// with Host.Close.
func TestNoGoroutineLeak(t *testing.T) {
	nettest.SkipUnlessRoot(t)
	ns := nettest.NewNetns(t, "ndL")
	before := runtime.NumGoroutine()
	h, err := NewHost(ns.Path())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := h.SubscribeLinks(ctx, func(bond.LinkEvent) {}); err != nil {
		t.Fatal(err)
	}
	if err := h.SubscribeLinks(context.Background(), func(bond.LinkEvent) {}); err != nil {
		t.Fatal(err)
	}
	m, li, err := h.CreateMaster("bond0")
	if err != nil {
		t.Fatal(err)
	}
	ns.Run(t, "ip", "link", "set", "bond0", "up")
	cancel()
	h.DeleteMaster(m, li.Index)
	h.Close()
	if !poll(3*time.Second, func() bool { return runtime.NumGoroutine() <= before }) {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines before, %d after:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
	}
}

// TestShrinkKnown: the subscription's map of live links is made afresh once
// at most a quarter of its peak (of at least 64) is left, keeping every
// entry; a small or still full map is kept as it is (issue 19).
func TestShrinkKnown(t *testing.T) {
	known := map[int]bond.LinkInfo{}
	peak := 0
	for i := 1; i <= 300; i++ {
		known[i] = bond.LinkInfo{Index: i, Name: fmt.Sprintf("eth%d", i)}
		peak = max(peak, len(known))
	}
	orig := known
	for i := 1; i <= 200; i++ { // a third left: kept
		delete(known, i)
		known, peak = shrinkKnown(known, peak)
	}
	if reflect.ValueOf(known).UnsafePointer() != reflect.ValueOf(orig).UnsafePointer() || peak != 300 {
		t.Fatalf("made afresh with %d of a peak of 300 left", len(known))
	}
	for i := 201; i <= 225; i++ { // a quarter left: fresh
		delete(known, i)
		known, peak = shrinkKnown(known, peak)
	}
	if reflect.ValueOf(known).UnsafePointer() == reflect.ValueOf(orig).UnsafePointer() {
		t.Fatalf("still the map of the peak with %d of 300 left", len(known))
	}
	if len(known) != 75 || peak != 75 || known[300].Name != "eth300" {
		t.Errorf("fresh map: %d links, peak %d, link 300 %+v", len(known), peak, known[300])
	}
	small := map[int]bond.LinkInfo{1: {Index: 1}}
	if got, p := shrinkKnown(small, 40); reflect.ValueOf(got).UnsafePointer() != reflect.ValueOf(small).UnsafePointer() || p != 40 {
		t.Errorf("a peak under 64 made the map afresh")
	}
}
