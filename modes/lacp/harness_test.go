package lacp

import (
	"fmt"
	"strings"
	"testing"
)

// endpoint is one port of one System in a test network.
type endpoint struct {
	sys int
	id  PortID
}

type sentFrame struct {
	from  endpoint
	frame []byte
}

// testNet wires Systems' ports back to back with a hand-driven clock: each
// step ticks every System once (in order), then delivers the frames sent
// during the step, and the answers to them, in order.
type testNet struct {
	t       testing.TB
	systems []*System
	names   []string
	peer    map[endpoint]endpoint
	queue   []sentFrame
	logs    []string
	changes []Change
	ticks   int
	// drop decides whether a frame is lost (nil: none).
	drop func(from endpoint, frame []byte) bool
	// sent counts LACPDUs per endpoint and per tick, for rate checks.
	sentAt map[endpoint][]int
}

func newTestNet(t testing.TB) *testNet {
	return &testNet{t: t, peer: map[endpoint]endpoint{}, sentAt: map[endpoint][]int{}}
}

// addSystem creates a System named name with the given MAC and options.
func (n *testNet) addSystem(name string, mac [6]byte, opt Options) *System {
	idx := len(n.systems)
	s := New(Config{
		Name:    name,
		BondMAC: mac,
		Options: opt,
		Transmit: func(id PortID, frame []byte) {
			ep := endpoint{idx, id}
			if frame[HeaderLen] == SubtypeLACP {
				n.sentAt[ep] = append(n.sentAt[ep], n.ticks)
			}
			n.queue = append(n.queue, sentFrame{ep, append([]byte(nil), frame...)})
		},
		Log:     func(e Event) { n.logs = append(n.logs, e.Text) },
		Changed: func(c Change) { n.changes = append(n.changes, c) },
	})
	n.systems = append(n.systems, s)
	n.names = append(n.names, name)
	return s
}

// connect joins two ports with a wire.
func (n *testNet) connect(a, b endpoint) {
	n.peer[a] = b
	n.peer[b] = a
}

// disconnect removes the wire of a.
func (n *testNet) disconnect(a endpoint) {
	b, ok := n.peer[a]
	if ok {
		delete(n.peer, a)
		delete(n.peer, b)
	}
}

// deliver hands queued frames to the peers until none are left.
func (n *testNet) deliver() {
	for len(n.queue) > 0 {
		f := n.queue[0]
		n.queue = n.queue[1:]
		to, ok := n.peer[f.from]
		if !ok {
			continue
		}
		if n.drop != nil && n.drop(f.from, f.frame) {
			continue
		}
		n.systems[to.sys].Receive(to.id, f.frame)
	}
}

// step advances the clock by one tick.
func (n *testNet) step() {
	n.ticks++
	for _, s := range n.systems {
		s.Tick()
	}
	n.deliver()
}

// run steps k ticks.
func (n *testNet) run(k int) {
	for i := 0; i < k; i++ {
		n.step()
	}
}

// until steps until cond holds, at most max ticks; it returns the ticks
// taken, or -1.
func (n *testNet) until(max int, cond func() bool) int {
	start := n.ticks
	for i := 0; i < max; i++ {
		if cond() {
			return n.ticks - start
		}
		n.step()
	}
	if cond() {
		return n.ticks - start
	}
	return -1
}

func (n *testNet) takeLogs() []string {
	l := n.logs
	n.logs = nil
	return l
}

// distributing reports whether every port of s is Collecting_Distributing.
func distributing(s *System) bool {
	st := s.Status()
	if len(st.Ports) == 0 {
		return false
	}
	for _, p := range st.Ports {
		if p.MuxState != MuxCollectingDistributing {
			return false
		}
	}
	return true
}

func mac(last ...byte) [6]byte {
	m := [6]byte{0x02, 0, 0, 0, 0, 0}
	copy(m[6-len(last):], last)
	return m
}

var up10G = Link{Status: LinkUp, Speed: 10000, Duplex: DuplexFull, DevUp: true}

// tracer renders, tick by tick, every change of the machines' states of
// the ports of a net: the golden state-machine traces.
type tracer struct {
	n    *testNet
	last map[endpoint]string
	sb   strings.Builder
}

func newTracer(n *testNet) *tracer { return &tracer{n: n, last: map[endpoint]string{}} }

func portLine(p PortStatus) string {
	agg := "-"
	if p.HasAggregator {
		agg = fmt.Sprint(p.AggregatorID)
	}
	flags := "active"
	if p.Backup {
		flags = "backup"
	}
	return fmt.Sprintf("rx=%s periodic=%s mux=%s sel=%v agg=%s actor=%d partner=%d key=%d pkey=%d %s churn=%s/%s",
		p.RxState, p.PeriodicState, p.MuxState, p.Selected, agg, p.ActorOperState,
		p.PartnerOperState, p.Actor.Key, p.Partner.Key, flags, p.ActorChurnState, p.PartnerChurnState)
}

// snap records the lines that changed since the last snap.
func (tr *tracer) snap() {
	for i, s := range tr.n.systems {
		st := s.Status()
		for _, p := range st.Ports {
			ep := endpoint{i, p.ID}
			l := portLine(p)
			if tr.last[ep] != l {
				tr.last[ep] = l
				fmt.Fprintf(&tr.sb, "t=%3d.%d %s/%s %s\n", tr.n.ticks/10, tr.n.ticks%10, tr.n.names[i], p.Name, l)
			}
		}
		if st.Active != nil {
			l := fmt.Sprintf("active agg=%d ports=%d key=%d pkey=%d partner=%s carrier=%v",
				st.Active.ID, st.Active.NumPorts, st.Active.ActorKey, st.Active.PartnerKey,
				macStr(st.Active.PartnerMAC), st.Carrier)
			ep := endpoint{i, -1}
			if tr.last[ep] != l {
				tr.last[ep] = l
				fmt.Fprintf(&tr.sb, "t=%3d.%d %s %s\n", tr.n.ticks/10, tr.n.ticks%10, tr.n.names[i], l)
			}
		}
	}
	for _, l := range tr.n.takeLogs() {
		fmt.Fprintf(&tr.sb, "t=%3d.%d log %s\n", tr.n.ticks/10, tr.n.ticks%10, l)
	}
}

func macStr(m [6]byte) string {
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5])
}
