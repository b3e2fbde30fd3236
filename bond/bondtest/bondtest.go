// Package bondtest is the engine's test kit: an in-memory bond.Host with
// in-memory devices, a Clock that tests advance by hand, an Env that runs a
// Registry over them and waits for it deterministically (no sleeps), and a
// goroutine-leak check. Engine tests in bond and the tests of the modes
// outside bond (modes/ad, modes/alb) use it.
package bondtest

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"bondingfs/bond"
)

// Dev is an in-memory bond.NetDev (a TAP or a slave socket): frames written
// are recorded, Inject delivers a frame to ReadFrame.
type Dev struct {
	in      chan []byte
	reads   int           // ReadFrame calls entered
	readCh  chan struct{} // closed and replaced on every ReadFrame entry
	closed  chan struct{}
	once    sync.Once
	mu      sync.Mutex
	sent    [][]byte
	wrote   chan struct{} // closed and replaced on every write
	carrier bool
	// injected counts Inject calls; a frame is handled once the reader
	// has come back to ReadFrame after it (RxPending).
	injected int
	hold     chan struct{} // non-nil: ReadFrame waits for it before returning a frame (HoldReads)
	onAsked  func()        // called by RxPending when it reports true
}

// NewDev returns an open Dev.
func NewDev() *Dev {
	return &Dev{in: make(chan []byte, 64), closed: make(chan struct{}), wrote: make(chan struct{}), readCh: make(chan struct{})}
}

// ReadFrame returns the next injected frame, or os.ErrClosed after Close.
func (d *Dev) ReadFrame(buf []byte) (int, error) {
	d.mu.Lock()
	d.reads++
	close(d.readCh)
	d.readCh = make(chan struct{})
	d.mu.Unlock()
	select {
	case f := <-d.in:
		d.mu.Lock()
		hold := d.hold
		d.mu.Unlock()
		if hold != nil { // taken off the "socket", not yet handed on
			select {
			case <-hold:
			case <-d.closed:
				return 0, os.ErrClosed
			}
		}
		return copy(buf, f), nil
	case <-d.closed:
		return 0, os.ErrClosed
	}
}

// WriteFrame records a copy of f.
func (d *Dev) WriteFrame(f []byte) error {
	d.mu.Lock()
	d.sent = append(d.sent, append([]byte(nil), f...))
	close(d.wrote)
	d.wrote = make(chan struct{})
	d.mu.Unlock()
	return nil
}

// Requeue implements bond.Requeuer: it sends the last n frames written to
// d again on to, oldest first, and returns how many it sent.
func (d *Dev) Requeue(to bond.NetDev, n int) int {
	if to == nil || n <= 0 {
		return 0
	}
	d.mu.Lock()
	frames := d.sent[max(len(d.sent)-n, 0):]
	frames = append([][]byte(nil), frames...)
	d.mu.Unlock()
	for _, f := range frames {
		_ = to.WriteFrame(f)
	}
	return len(frames)
}

// Close ends ReadFrame.
func (d *Dev) Close() error { d.once.Do(func() { close(d.closed) }); return nil }

// SetCarrier records the TAP's carrier (bond.Master).
func (d *Dev) SetCarrier(on bool) error { d.mu.Lock(); d.carrier = on; d.mu.Unlock(); return nil }

// Carrier is the last SetCarrier value.
func (d *Dev) Carrier() bool { d.mu.Lock(); defer d.mu.Unlock(); return d.carrier }

// Inject hands f to the reader of the device (a frame received).
func (d *Dev) Inject(f []byte) {
	d.mu.Lock()
	d.injected++
	d.mu.Unlock()
	d.in <- append([]byte(nil), f...)
}

// RxPending implements bond.RxPender: a frame was injected that the reader
// has not fully handled (it has not come back to ReadFrame after it). When
// it reports true it calls the function HoldReads armed, if any, first.
func (d *Dev) RxPending() bool {
	d.mu.Lock()
	pending := d.injected > max(d.reads-1, 0)
	f := d.onAsked
	if pending {
		d.onAsked = nil
	}
	d.mu.Unlock()
	if pending && f != nil {
		f()
	}
	return pending
}

// HoldReads keeps the device's reader from taking injected frames (as a
// reader goroutine that is not scheduled) until the first RxPending that
// reports a frame waiting, which releases it: what a receive barrier sees.
// The returned func releases it too (idempotent).
func (d *Dev) HoldReads() (release func()) {
	ch := make(chan struct{})
	var once sync.Once
	release = func() {
		once.Do(func() {
			d.mu.Lock()
			d.hold, d.onAsked = nil, nil
			d.mu.Unlock()
			close(ch)
		})
	}
	d.mu.Lock()
	d.hold, d.onAsked = ch, release
	d.mu.Unlock()
	return release
}

// Sent is the number of frames written.
func (d *Dev) Sent() int { d.mu.Lock(); defer d.mu.Unlock(); return len(d.sent) }

// Frames returns copies of the frames written.
func (d *Dev) Frames() [][]byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([][]byte(nil), d.sent...)
}

// WaitSent waits until at least n frames were written, at most timeout
// (the data path runs on reader goroutines); it reports whether they were.
func (d *Dev) WaitSent(n int, timeout time.Duration) bool {
	return d.wait(timeout, func() (bool, chan struct{}) { return len(d.sent) >= n, d.wrote })
}

// wait waits until done reports true (called with d.mu held; it also
// returns the channel that is closed on the next change), at most timeout.
func (d *Dev) wait(timeout time.Duration, done func() (bool, chan struct{})) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		d.mu.Lock()
		ok, ch := done()
		d.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-ch:
		case <-deadline.C:
			return false
		}
	}
}

// WaitConsumed waits until the device's reader has fully handled n frames
// (it came back to ReadFrame for frame n+1), at most timeout; it reports
// whether it had. Use it to check that a frame was dropped.
func (d *Dev) WaitConsumed(n int, timeout time.Duration) bool {
	return d.wait(timeout, func() (bool, chan struct{}) { return d.reads > n, d.readCh })
}

// Host is an in-memory bond.Host: links in a table, link events delivered
// in order from one goroutine, and counters the tests can wait on.
type Host struct {
	mu      sync.Mutex
	links   map[int]*bond.LinkInfo
	next    int
	ports   map[int]*Dev
	masters map[int]*Dev
	addrs   map[string][]netip.Addr
	routes  map[netip.Addr]string // destination → output device name
	groups  map[string][]netip.Addr
	vlans   map[int]vlanOf // VLAN device ifindex → its lower and tag
	fn      func(bond.LinkEvent)

	onSpeed    func(index int)
	speedCalls int
	speeds     map[int][2]int // SetSpeed: ifindex → Mb/s, duplex

	// ListLinks makes Links answer (bond.LinkLister); while false it fails
	// and Registry.Sync reads link by link. ListCalls counts its answers.
	ListLinks bool
	ListCalls int

	// EventBarrier makes LinkEventsPending (bond.LinkEventBarrier) answer
	// from the event queue; while false it always reports events pending,
	// so that Registry.Sync reads the links, as tests of changes made
	// without an event (ModifySilently, Delete without event) need.
	EventBarrier bool

	evMu    sync.Mutex
	evCond  *sync.Cond
	events  []bond.LinkEvent
	pending int  // queued or being delivered
	paused  bool // PauseEvents: queued events stay queued
}

// LinkEventsPending implements bond.LinkEventBarrier: with EventBarrier,
// whether an event is queued or being delivered; without it, always true.
func (h *Host) LinkEventsPending() bool {
	h.evMu.Lock()
	defer h.evMu.Unlock()
	return !h.EventBarrier || h.pending > 0
}

// PauseEvents stops (true) or resumes (false) the delivery of queued link
// events, as events that wait in the kernel's socket.
func (h *Host) PauseEvents(paused bool) {
	h.evMu.Lock()
	h.paused = paused
	h.evCond.Broadcast()
	h.evMu.Unlock()
}

// NewHost returns a host with only "lo".
func NewHost() *Host {
	h := &Host{links: map[int]*bond.LinkInfo{}, next: 1, ports: map[int]*Dev{}, masters: map[int]*Dev{}, addrs: map[string][]netip.Addr{}, routes: map[netip.Addr]string{}, groups: map[string][]netip.Addr{}, vlans: map[int]vlanOf{}}
	h.evCond = sync.NewCond(&h.evMu)
	h.add(bond.LinkInfo{Name: "lo", Up: true, Carrier: true, Loopback: true, MTU: 65536})
	return h
}

func (h *Host) add(li bond.LinkInfo) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	li.Index = h.next
	h.next++
	if li.MTU == 0 {
		li.MTU = 1500
	}
	h.links[li.Index] = &li
	return li.Index
}

// AddVeth adds an Ethernet device named name with MAC 02:00:00:00:00:mac,
// down, with carrier (its peer is up). It returns the ifindex.
func (h *Host) AddVeth(name string, mac byte) int {
	return h.add(bond.LinkInfo{Name: name, HWAddr: net.HardwareAddr{2, 0, 0, 0, 0, mac}, Kind: "veth", Ether: true, Carrier: true})
}

func (h *Host) find(name string) (*bond.LinkInfo, bool) {
	for _, l := range h.links {
		if l.Name == name {
			return l, true
		}
	}
	return nil, false
}

// queue appends a link event for the delivery goroutine.
func (h *Host) queue(ev bond.LinkEvent) {
	h.evMu.Lock()
	h.events = append(h.events, ev)
	h.pending++
	h.evCond.Broadcast()
	h.evMu.Unlock()
}

// Emit queues an event with the link's current state (or its deletion).
func (h *Host) Emit(index int, deleted bool) {
	h.mu.Lock()
	l, ok := h.links[index]
	if !ok {
		h.mu.Unlock()
		return
	}
	li := *l
	if deleted {
		delete(h.links, index)
	}
	h.mu.Unlock()
	h.queue(bond.LinkEvent{Link: li, Deleted: deleted})
}

// SetCarrier changes a link's carrier and queues its event.
func (h *Host) SetCarrier(name string, on bool) {
	h.Modify(name, func(l *bond.LinkInfo) { l.Carrier = on })
}

// Modify changes a link in place and queues its event (as `ip link set`).
func (h *Host) Modify(name string, f func(*bond.LinkInfo)) {
	h.mu.Lock()
	l, ok := h.find(name)
	if ok {
		f(l)
	}
	h.mu.Unlock()
	if ok {
		h.Emit(l.Index, false)
	}
}

// ModifySilently changes a link without an event (one still on its way, or
// lost: what the carrier poll and Sync are for).
func (h *Host) ModifySilently(name string, f func(*bond.LinkInfo)) {
	h.mu.Lock()
	if l, ok := h.find(name); ok {
		f(l)
	}
	h.mu.Unlock()
}

// Delete removes a link; with event, its RTM_DELLINK is queued, else it is
// held back (as a deletion whose event is still on its way) and returned.
func (h *Host) Delete(name string, event bool) (bond.LinkEvent, bool) {
	h.mu.Lock()
	l, ok := h.find(name)
	if !ok {
		h.mu.Unlock()
		return bond.LinkEvent{}, false
	}
	ev := bond.LinkEvent{Link: *l, Deleted: true}
	delete(h.links, l.Index)
	h.mu.Unlock()
	if event {
		h.queue(ev)
	}
	return ev, true
}

// Send queues an event as it is (a late or repeated notification).
func (h *Host) Send(ev bond.LinkEvent) { h.queue(ev) }

// Link returns the link named name.
func (h *Host) Link(name string) (bond.LinkInfo, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if l, ok := h.find(name); ok {
		return *l, true
	}
	return bond.LinkInfo{}, false
}

// Port returns the data-path device opened on the link named name (nil
// when none).
func (h *Host) Port(name string) *Dev {
	h.mu.Lock()
	defer h.mu.Unlock()
	if l, ok := h.find(name); ok {
		return h.ports[l.Index]
	}
	return nil
}

// Master returns the TAP of the bond with ifindex index.
func (h *Host) Master(index int) *Dev {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.masters[index]
}

// SetAddrs gives the link named name its IP addresses (what Addrs4 and
// Addrs6 list: the engine announces them after a failover).
func (h *Host) SetAddrs(name string, addrs ...netip.Addr) {
	h.mu.Lock()
	h.addrs[name] = addrs
	h.mu.Unlock()
}

func (h *Host) addrsOf(i int, v4 bool) ([]netip.Addr, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	l, ok := h.links[i]
	if !ok {
		return nil, syscall.ENODEV
	}
	var out []netip.Addr
	for _, a := range h.addrs[l.Name] {
		if a.Is4() == v4 {
			out = append(out, a)
		}
	}
	return out, nil
}

// SetRoute makes the route to dst go out through the link named dev ("" removes
// it: no route). The preferred source is dev's first IPv4 address (SetAddrs).
func (h *Host) SetRoute(dst netip.Addr, dev string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if dev == "" {
		delete(h.routes, dst)
		return
	}
	h.routes[dst] = dev
}

// RouteTo implements bond.RouteLookup: ENETUNREACH without a route; the
// path is stacked only when the output device is lower itself (no VLANs in
// memory).
func (h *Host) RouteTo(dst netip.Addr, lower int) (bond.Route, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	name, ok := h.routes[dst]
	if !ok {
		return bond.Route{}, syscall.ENETUNREACH
	}
	l, ok := h.find(name)
	if !ok {
		return bond.Route{}, syscall.ENETUNREACH
	}
	r := bond.Route{Dev: l.Index, Stacked: l.Index == lower}
	for _, a := range h.addrs[name] {
		if a.Is4() {
			r.Src = a
			break
		}
	}
	return r, nil
}

type vlanOf struct {
	lower int
	id    uint16
}

// AddVLAN adds a VLAN device name with VLAN id id on the link named lower
// (up, with lower's MAC) and returns its ifindex.
func (h *Host) AddVLAN(name, lower string, id uint16) int {
	l, ok := h.Link(lower)
	if !ok {
		panic("bondtest: AddVLAN: no link " + lower)
	}
	i := h.add(bond.LinkInfo{Name: name, HWAddr: l.HWAddr, Kind: "vlan", Ether: true, Up: true, Carrier: true})
	h.mu.Lock()
	h.vlans[i] = vlanOf{lower: l.Index, id: id}
	h.mu.Unlock()
	return i
}

// VLANUppers implements bond.VLANLister.
func (h *Host) VLANUppers(index int) ([]bond.VLANDev, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []bond.VLANDev
	for i, v := range h.vlans {
		var tags []bond.VLANTag
		cur, ok := v, true
		for ok {
			tags = append([]bond.VLANTag{{Proto: 0x8100, ID: cur.id}}, tags...)
			if cur.lower == index {
				out = append(out, bond.VLANDev{Index: i, HWAddr: h.links[i].HWAddr, Tags: tags})
				break
			}
			cur, ok = h.vlans[cur.lower]
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Index < out[b].Index })
	return out, nil
}

// SetGroups makes the link named name a member of the multicast groups
// (IPv4 and IPv6), as Groups lists them.
func (h *Host) SetGroups(name string, groups ...netip.Addr) {
	h.mu.Lock()
	h.groups[name] = groups
	h.mu.Unlock()
}

// Groups implements bond.GroupLister (IGMPv3).
func (h *Host) Groups(i int) (v4 []netip.Addr, version int, v6 []netip.Addr, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	l, ok := h.links[i]
	if !ok {
		return nil, 0, nil, syscall.ENODEV
	}
	for _, g := range h.groups[l.Name] {
		if g.Is4() {
			v4 = append(v4, g)
		} else {
			v6 = append(v6, g)
		}
	}
	return v4, 3, v6, nil
}

// Addrs4 implements bond.AddrLister.
func (h *Host) Addrs4(i int) ([]netip.Addr, error) { return h.addrsOf(i, true) }

// Addrs6 implements bond.Addr6Lister.
func (h *Host) Addrs6(i int) ([]netip.Addr, error) { return h.addrsOf(i, false) }

// WaitEvents waits until every queued link event has been handed to the
// subscriber.
func (h *Host) WaitEvents() {
	h.evMu.Lock()
	for h.pending > 0 {
		h.evCond.Wait()
	}
	h.evMu.Unlock()
}

// Links implements bond.LinkLister when ListLinks is set: every link, as
// one dump would return them.
func (h *Host) Links() ([]bond.LinkInfo, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.ListLinks {
		return nil, syscall.EOPNOTSUPP
	}
	h.ListCalls++
	out := make([]bond.LinkInfo, 0, len(h.links))
	for _, l := range h.links {
		out = append(out, *l)
	}
	return out, nil
}

// LinkByName implements bond.Host.
func (h *Host) LinkByName(name string) (bond.LinkInfo, error) {
	if l, ok := h.Link(name); ok {
		return l, nil
	}
	return bond.LinkInfo{}, fmt.Errorf("link %s: %w", name, syscall.ENODEV)
}

// LinkByIndex implements bond.Host.
func (h *Host) LinkByIndex(i int) (bond.LinkInfo, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if l, ok := h.links[i]; ok {
		return *l, nil
	}
	return bond.LinkInfo{}, syscall.ENODEV
}

func (h *Host) modify(i int, f func(*bond.LinkInfo)) error {
	h.mu.Lock()
	l, ok := h.links[i]
	if ok {
		f(l)
	}
	h.mu.Unlock()
	if !ok {
		return syscall.ENODEV
	}
	h.Emit(i, false)
	return nil
}

// SetLinkUp implements bond.Host.
func (h *Host) SetLinkUp(i int, up bool) error {
	return h.modify(i, func(l *bond.LinkInfo) { l.Up = up })
}

// SetMTU implements bond.Host.
func (h *Host) SetMTU(i, mtu int) error {
	return h.modify(i, func(l *bond.LinkInfo) { l.MTU = mtu })
}

// SetHWAddr implements bond.Host.
func (h *Host) SetHWAddr(i int, mac net.HardwareAddr) error {
	return h.modify(i, func(l *bond.LinkInfo) { l.HWAddr = append(net.HardwareAddr(nil), mac...) })
}

// OnSpeed sets a function Speed calls first, on the caller's goroutine
// (nil: none), to see who reads the speed and when.
func (h *Host) OnSpeed(fn func(index int)) {
	h.mu.Lock()
	h.onSpeed = fn
	h.mu.Unlock()
}

// SpeedCalls is the number of Speed calls so far.
func (h *Host) SpeedCalls() int { h.mu.Lock(); defer h.mu.Unlock(); return h.speedCalls }

// SetSpeed makes Speed answer mbps and duplex for the link named name and
// queues its event (the NETDEV_CHANGE of a speed change, as after
// `ethtool -s`).
func (h *Host) SetSpeed(name string, mbps, duplex int) {
	h.mu.Lock()
	l, ok := h.find(name)
	if ok {
		if h.speeds == nil {
			h.speeds = map[int][2]int{}
		}
		h.speeds[l.Index] = [2]int{mbps, duplex}
	}
	h.mu.Unlock()
	if ok {
		h.Emit(l.Index, false)
	}
}

// Speed implements bond.Host: 10000 Mb/s full duplex for veths, unless
// SetSpeed said otherwise.
func (h *Host) Speed(i int) (int, int, error) {
	h.mu.Lock()
	fn := h.onSpeed
	h.speedCalls++
	h.mu.Unlock()
	if fn != nil {
		fn(i)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if sp, ok := h.speeds[i]; ok {
		return sp[0], sp[1], nil
	}
	if l, ok := h.links[i]; ok && l.Kind == "veth" {
		return 10000, bond.DuplexFull, nil
	}
	return bond.SpeedUnknown, bond.DuplexUnknown, nil
}

// CreateMaster implements bond.Host.
func (h *Host) CreateMaster(name string) (bond.Master, bond.LinkInfo, error) {
	h.mu.Lock()
	next := h.next
	h.mu.Unlock()
	idx := h.add(bond.LinkInfo{Name: name, HWAddr: net.HardwareAddr{0x9a, 1, 2, 3, 4, byte(next)}, Kind: "tun", Ether: true})
	d := NewDev()
	h.mu.Lock()
	h.masters[idx] = d
	li := *h.links[idx]
	h.mu.Unlock()
	return d, li, nil
}

// DeleteMaster implements bond.Host.
func (h *Host) DeleteMaster(m bond.Master, i int) error {
	_ = m.Close()
	h.mu.Lock()
	delete(h.links, i)
	h.mu.Unlock()
	return nil
}

// OpenPort implements bond.Host.
func (h *Host) OpenPort(li bond.LinkInfo) (bond.Port, error) {
	d := NewDev()
	h.mu.Lock()
	h.ports[li.Index] = d
	h.mu.Unlock()
	return d, nil
}

// SubscribeLinks implements bond.Host: one goroutine delivers the queued
// events in order until ctx ends.
func (h *Host) SubscribeLinks(ctx context.Context, fn func(bond.LinkEvent)) error {
	h.mu.Lock()
	h.fn = fn
	h.mu.Unlock()
	go func() {
		<-ctx.Done()
		h.evMu.Lock()
		h.fn = nil
		h.evCond.Broadcast()
		h.evMu.Unlock()
	}()
	go func() {
		for {
			h.evMu.Lock()
			for (len(h.events) == 0 || h.paused) && ctx.Err() == nil {
				h.evCond.Wait()
			}
			if ctx.Err() != nil {
				h.pending -= len(h.events)
				h.events = nil
				h.evCond.Broadcast()
				h.evMu.Unlock()
				return
			}
			ev := h.events[0]
			h.events = h.events[1:]
			h.evMu.Unlock()
			fn(ev)
			h.evMu.Lock()
			h.pending--
			h.evCond.Broadcast()
			h.evMu.Unlock()
		}
	}()
	return nil
}

// Clock is a bond.Clock advanced by hand. Timers fire in time order (ties
// in arming order) on the goroutine calling Advance; after each one the
// AfterFire hook (Env sets it to Settle) runs, so work a fired timer posts
// is done, and re-armed, before the next timer is considered.
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	seq    int
	timers []*clockTimer
	// AfterFire runs after each fired timer (nil: nothing).
	AfterFire func()
	nanos     atomic.Int64 // now as Unix nanoseconds, for Nanotime
}

type clockTimer struct {
	c       *Clock
	when    time.Time
	seq     int
	f       func()
	stopped bool
}

// NewClock returns a clock at an arbitrary fixed time.
func NewClock() *Clock {
	c := &Clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	c.nanos.Store(c.now.UnixNano())
	return c
}

// Nanotime implements bond.NanoClock: Now as Unix nanoseconds, read
// without a lock (the receive path stamps frames with it).
func (c *Clock) Nanotime() int64 { return c.nanos.Load() }

// Now implements bond.Clock.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

// AfterFunc implements bond.Clock.
func (c *Clock) AfterFunc(d time.Duration, f func()) bond.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	t := &clockTimer{c: c, when: c.now.Add(d), seq: c.seq, f: f}
	c.timers = append(c.timers, t)
	return t
}

// Stop implements bond.Timer.
func (t *clockTimer) Stop() bool {
	c := t.c
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, x := range c.timers {
		if x == t {
			c.timers = append(c.timers[:i], c.timers[i+1:]...)
			t.stopped = true
			return true
		}
	}
	return false
}

// Advance moves the clock forward by d, firing every timer that falls due,
// in order, including those armed by fired timers.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	target := c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		sort.SliceStable(c.timers, func(i, j int) bool {
			a, b := c.timers[i], c.timers[j]
			if !a.when.Equal(b.when) {
				return a.when.Before(b.when)
			}
			return a.seq < b.seq
		})
		if len(c.timers) == 0 || c.timers[0].when.After(target) {
			c.now = target
			c.nanos.Store(c.now.UnixNano())
			c.mu.Unlock()
			return
		}
		t := c.timers[0]
		c.timers = c.timers[1:]
		if t.when.After(c.now) {
			c.now = t.when
			c.nanos.Store(c.now.UnixNano())
		}
		hook := c.AfterFire
		c.mu.Unlock()
		t.f()
		if hook != nil {
			hook()
		}
	}
}

// Due reports whether a timer is due now (armed for a time not after Now).
func (c *Clock) Due() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, t := range c.timers {
		if !t.when.After(c.now) {
			return true
		}
	}
	return false
}

// Log collects kernel log lines.
type Log struct {
	mu    sync.Mutex
	lines []string
}

// Add records one line (bond.Config.Log).
func (l *Log) Add(s string) { l.mu.Lock(); l.lines = append(l.lines, s); l.mu.Unlock() }

// Take returns the lines since the last Take.
func (l *Log) Take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.lines
	l.lines = nil
	return r
}

// Env is a running Registry over a Host and a hand-driven Clock.
type Env struct {
	T     testing.TB
	Reg   *bond.Registry
	Host  *Host
	Clock *Clock
	Log   *Log
}

// New starts a registry with default parameters p over a new Host that has
// the veths named in slaves (MACs 02:00:00:00:00:01, …, down, with carrier)
// and creates bond0. The registry is closed when the test ends. It has
// bond's own modes only; NewWithModes hands in others.
func New(t testing.TB, p bond.Params, slaves ...string) *Env {
	t.Helper()
	return NewWithModes(t, p, nil, slaves...)
}

// NewWithModes is New with modes as the registry's Config.Modes.
func NewWithModes(t testing.TB, p bond.Params, modes map[bond.ModeID]bond.ModeFactory, slaves ...string) *Env {
	t.Helper()
	e := &Env{T: t, Host: NewHost(), Clock: NewClock(), Log: &Log{}}
	for i, s := range slaves {
		e.Host.AddVeth(s, byte(i+1))
	}
	e.Clock.AfterFire = e.Settle
	e.Reg = bond.NewRegistry(bond.Config{Host: e.Host, Log: e.Log.Add, Defaults: p, Clock: e.Clock, Modes: modes})
	if err := e.Reg.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Reg.Close)
	if err := e.Reg.CreateBond(context.Background(), "bond0"); err != nil {
		t.Fatal(err)
	}
	e.Settle()
	return e
}

// Do runs fn on the control goroutine and returns its error.
func (e *Env) Do(fn func() error) error { return e.Reg.Do(context.Background(), fn) }

// Bond returns the bond named name (for use inside Do).
func (e *Env) Bond(name string) *bond.Bond {
	var b *bond.Bond
	_ = e.Do(func() error { b = e.Reg.Bond(name); return nil })
	if b == nil {
		e.T.Fatalf("no bond %s", name)
	}
	return b
}

// Status returns the latest snapshot of the bond named name.
func (e *Env) Status(name string) *bond.BondStatus { return e.Reg.Snapshot().Bond(name) }

// SetUp sets the bond named name administratively up on the host (as
// `ip link set bond0 up`) and settles.
func (e *Env) SetUp(name string, up bool) {
	e.T.Helper()
	e.Host.Modify(name, func(l *bond.LinkInfo) { l.Up = up })
	e.Settle()
}

// Settle waits until the engine has handled everything in flight: queued
// link events, operations they and due timers posted, recursively. It never
// sleeps: it waits on the event queue and on the control goroutine.
func (e *Env) Settle() {
	for i := 0; ; i++ {
		if i > 1000 {
			e.T.Fatal("bondtest: the engine does not settle")
		}
		e.Host.WaitEvents()
		_ = e.Do(func() error { return nil })
		e.Host.evMu.Lock()
		idle := e.Host.pending == 0
		e.Host.evMu.Unlock()
		if idle && !e.Clock.Due() {
			return
		}
		if e.Clock.Due() {
			hook := e.Clock.AfterFire
			e.Clock.AfterFire = nil
			e.Clock.Advance(0)
			e.Clock.AfterFire = hook
		}
	}
}

// Tick advances the clock by d in steps, settling after every timer.
func (e *Env) Tick(d time.Duration) {
	e.Clock.Advance(d)
	e.Settle()
}

// VerifyNone fails the test if goroutines other than the test's own are
// left (go.uber.org/goleak); call it with defer at the start of a test, or
// use VerifyTestMain.
func VerifyNone(t testing.TB) { goleak.VerifyNone(t) }

// VerifyTestMain runs the package's tests and then fails if any goroutine
// is left (goleak.VerifyTestMain).
func VerifyTestMain(m *testing.M) { goleak.VerifyTestMain(m) }
