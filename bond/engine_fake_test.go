package bond

import (
	"context"
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"
)

// memDev is an in-memory NetDev: frames written are recorded on Sent,
// Inject delivers a frame to ReadFrame.
type memDev struct {
	in      chan []byte
	mu      sync.Mutex
	sent    [][]byte
	closed  chan struct{}
	once    sync.Once
	carrier bool
}

func newMemDev() *memDev { return &memDev{in: make(chan []byte, 64), closed: make(chan struct{})} }

func (d *memDev) ReadFrame(buf []byte) (int, error) {
	select {
	case f := <-d.in:
		return copy(buf, f), nil
	case <-d.closed:
		return 0, os.ErrClosed
	}
}
func (d *memDev) WriteFrame(f []byte) error {
	d.mu.Lock()
	d.sent = append(d.sent, append([]byte(nil), f...))
	d.mu.Unlock()
	return nil
}
func (d *memDev) Close() error             { d.once.Do(func() { close(d.closed) }); return nil }
func (d *memDev) SetCarrier(on bool) error { d.mu.Lock(); d.carrier = on; d.mu.Unlock(); return nil }
func (d *memDev) Sent() int                { d.mu.Lock(); defer d.mu.Unlock(); return len(d.sent) }

// memHost is an in-memory Host: links in a map, events to the subscriber.
type memHost struct {
	mu     sync.Mutex
	links  map[int]*LinkInfo
	next   int
	ports  map[int]*memDev
	master map[int]*memDev
	fn     func(LinkEvent)
}

func newMemHost() *memHost {
	h := &memHost{links: map[int]*LinkInfo{}, next: 1, ports: map[int]*memDev{}, master: map[int]*memDev{}}
	h.add(LinkInfo{Name: "lo", Up: true, Carrier: true, Loopback: true, MTU: 65536})
	return h
}

func (h *memHost) add(li LinkInfo) int {
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

// addVeth adds an Ethernet device that is down with carrier (its peer up).
func (h *memHost) addVeth(name string, mac byte) int {
	return h.add(LinkInfo{Name: name, HWAddr: net.HardwareAddr{2, 0, 0, 0, 0, mac}, Kind: "veth", Ether: true, Carrier: true})
}

func (h *memHost) emit(idx int, deleted bool) {
	h.mu.Lock()
	li := *h.links[idx]
	fn := h.fn
	if deleted {
		delete(h.links, idx)
	}
	h.mu.Unlock()
	if fn != nil {
		fn(LinkEvent{Link: li, Deleted: deleted})
	}
}

// setCarrier changes a link's carrier and sends the event.
func (h *memHost) setCarrier(name string, on bool) {
	h.mu.Lock()
	var idx int
	for i, l := range h.links {
		if l.Name == name {
			l.Carrier = on
			idx = i
		}
	}
	h.mu.Unlock()
	h.emit(idx, false)
}

func (h *memHost) find(name string) (*LinkInfo, bool) {
	for _, l := range h.links {
		if l.Name == name {
			return l, true
		}
	}
	return nil, false
}

func (h *memHost) LinkByName(name string) (LinkInfo, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if l, ok := h.find(name); ok {
		return *l, nil
	}
	return LinkInfo{}, fmt.Errorf("link %s: %w", name, syscall.ENODEV)
}
func (h *memHost) LinkByIndex(i int) (LinkInfo, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if l, ok := h.links[i]; ok {
		return *l, nil
	}
	return LinkInfo{}, syscall.ENODEV
}
func (h *memHost) modify(i int, f func(*LinkInfo)) error {
	h.mu.Lock()
	l, ok := h.links[i]
	if ok {
		f(l)
	}
	h.mu.Unlock()
	if !ok {
		return syscall.ENODEV
	}
	go h.emit(i, false)
	return nil
}
func (h *memHost) SetLinkUp(i int, up bool) error {
	return h.modify(i, func(l *LinkInfo) { l.Up = up })
}
func (h *memHost) SetMTU(i, mtu int) error { return h.modify(i, func(l *LinkInfo) { l.MTU = mtu }) }
func (h *memHost) SetHWAddr(i int, mac net.HardwareAddr) error {
	return h.modify(i, func(l *LinkInfo) { l.HWAddr = append(net.HardwareAddr(nil), mac...) })
}
func (h *memHost) Speed(i int) (int, int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if l, ok := h.links[i]; ok && l.Kind == "veth" {
		return 10000, DuplexFull, nil
	}
	return SpeedUnknown, DuplexUnknown, nil
}
func (h *memHost) CreateMaster(name string) (Master, LinkInfo, error) {
	idx := h.add(LinkInfo{Name: name, HWAddr: net.HardwareAddr{0x9a, 1, 2, 3, 4, byte(h.next)}, Kind: "tun", Ether: true})
	d := newMemDev()
	h.mu.Lock()
	h.master[idx] = d
	li := *h.links[idx]
	h.mu.Unlock()
	return d, li, nil
}
func (h *memHost) DeleteMaster(m Master, i int) error {
	m.Close()
	h.mu.Lock()
	delete(h.links, i)
	h.mu.Unlock()
	return nil
}
func (h *memHost) OpenPort(li LinkInfo) (Port, error) {
	d := newMemDev()
	h.mu.Lock()
	h.ports[li.Index] = d
	h.mu.Unlock()
	return d, nil
}
func (h *memHost) SubscribeLinks(ctx context.Context, fn func(LinkEvent)) error {
	h.mu.Lock()
	h.fn = fn
	h.mu.Unlock()
	return nil
}

func (h *memHost) port(name string) *memDev {
	h.mu.Lock()
	defer h.mu.Unlock()
	l, _ := h.find(name)
	return h.ports[l.Index]
}

// testLog collects log lines.
type testLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *testLog) add(s string) { l.mu.Lock(); l.lines = append(l.lines, s); l.mu.Unlock() }
func (l *testLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.lines
	l.lines = nil
	return r
}

// newEngine starts a registry over a memHost with bond0 and slaves eth0, eth1.
func newEngine(t *testing.T, p Params) (*Registry, *memHost, *testLog) {
	t.Helper()
	h := newMemHost()
	h.addVeth("eth0", 1)
	h.addVeth("eth1", 2)
	lg := &testLog{}
	r := NewRegistry(Config{Host: h, Log: lg.add, Defaults: p})
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	if err := r.CreateBond(context.Background(), "bond0"); err != nil {
		t.Fatal(err)
	}
	return r, h, lg
}

// do runs fn on the control goroutine.
func do(t *testing.T, r *Registry, fn func() error) error {
	t.Helper()
	return r.Do(context.Background(), fn)
}

// settle waits until the control goroutine has handled what is queued.
func settle(t *testing.T, r *Registry) {
	t.Helper()
	for i := 0; i < 5; i++ {
		time.Sleep(5 * time.Millisecond)
		_ = do(t, r, func() error { return nil })
	}
}
