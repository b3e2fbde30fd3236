package bondtest

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"sync"
	"syscall"

	"bondingfs/bond"
)

// Host is an in-memory bond.Host: links in a table, link events delivered
// in order from one goroutine, and counters the tests can wait on.
type Host struct {
	mu        sync.Mutex
	links     map[int]*bond.LinkInfo
	next      int
	slaveDevs map[int]*Dev
	masters   map[int]*Dev
	addrs     map[string][]netip.Addr
	routes    map[netip.Addr]string // destination → output device name
	groups    map[string][]netip.Addr
	vlans     map[int]vlanOf // VLAN device ifindex → its lower and tag
	fn        func(bond.LinkEvent)

	onSpeed func(index int)
	speeds  map[int][2]int // SetSpeed: ifindex → Mb/s, duplex

	// ListLinks makes Links answer (bond.LinkLister); while false it fails
	// and Registry.Sync reads link by link. ListCalls counts its answers.
	ListLinks bool
	ListCalls int
	// CarrierDumps counts the answers of Carriers (bond.CarrierLister)
	// and CarriersOfKind: the MII monitor's carrier reads, one link dump
	// each; KindDumps those restricted to one kind.
	CarrierDumps int
	KindDumps    int

	// EventBarrier makes LinkEventsPending (bond.LinkEventBarrier) answer
	// from the event queue; while false it always reports events pending,
	// so that Registry.Sync reads the links, as tests of changes made
	// without an event (ModifySilently, Delete without event) need.
	EventBarrier bool

	evMu      sync.Mutex
	evCond    *sync.Cond
	events    []bond.LinkEvent
	pending   int    // queued or being delivered
	delivered uint64 // events handed to the subscriber so far
	paused    bool   // PauseEvents: queued events stay queued
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
	h := &Host{links: map[int]*bond.LinkInfo{}, next: 1, slaveDevs: map[int]*Dev{}, masters: map[int]*Dev{}, addrs: map[string][]netip.Addr{}, routes: map[netip.Addr]string{}, groups: map[string][]netip.Addr{}, vlans: map[int]vlanOf{}}
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

// SlaveDev returns the data-path device opened on the link named name (nil
// when none).
func (h *Host) SlaveDev(name string) *Dev {
	h.mu.Lock()
	defer h.mu.Unlock()
	if l, ok := h.find(name); ok {
		return h.slaveDevs[l.Index]
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

// Carriers implements bond.CarrierLister: every link's admin state,
// carrier and tx_dropped, as one dump would return them.
func (h *Host) Carriers(dst []bond.CarrierState) ([]bond.CarrierState, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.CarrierDumps++
	dst = dst[:0]
	for _, l := range h.links {
		dst = append(dst, bond.CarrierState{Index: l.Index, Up: l.Up, Carrier: l.Carrier, TxDropped: l.TxDropped})
	}
	return dst, nil
}

// CarriersOfKind implements bond.KindCarrierLister: Carriers restricted to
// the links of that kind, counted in KindDumps too.
func (h *Host) CarriersOfKind(kind string, dst []bond.CarrierState) ([]bond.CarrierState, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.CarrierDumps++
	h.KindDumps++
	dst = dst[:0]
	for _, l := range h.links {
		if l.Kind == kind {
			dst = append(dst, bond.CarrierState{Index: l.Index, Up: l.Up, Carrier: l.Carrier, TxDropped: l.TxDropped})
		}
	}
	return dst, nil
}

// Dumps returns CarrierDumps.
func (h *Host) Dumps() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.CarrierDumps
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

// OpenSlaveDev implements bond.Host.
func (h *Host) OpenSlaveDev(li bond.LinkInfo) (bond.SlaveDev, error) {
	d := NewDev()
	h.mu.Lock()
	h.slaveDevs[li.Index] = d
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
			h.delivered++
			h.evCond.Broadcast()
			h.evMu.Unlock()
		}
	}()
	return nil
}
