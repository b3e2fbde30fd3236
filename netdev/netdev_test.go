package netdev

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"bondingfs/bond"
	"bondingfs/internal/nettest"
)

// Shared setup of the netdev tests: two namespaces joined by a veth, frame
// builders, and waits on conditions (eventually) instead of sleeps.

const frameBuf = 65536 + bond.VnetHdrLen + 64

// pair is two namespaces joined by a veth: eth0 in A (where the Host works)
// and p0 in B with 192.0.2.2/24.
type pair struct {
	a, b *nettest.Netns
	h    *Host
}

func newPair(t *testing.T) *pair {
	t.Helper()
	nettest.SkipUnlessRoot(t)
	p := &pair{a: nettest.NewNetns(t, "ndA"), b: nettest.NewNetns(t, "ndB")}
	nettest.Veth(t, p.a, "eth0", p.b, "p0")
	p.b.AddAddr(t, "p0", "192.0.2.2/24")
	h, err := NewHost(p.a.Path())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	p.h = h
	return p
}

func (p *pair) link(t *testing.T, name string) bond.LinkInfo {
	t.Helper()
	li, err := p.h.LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	return li
}

// openSlaveDevPair opens AF_PACKET sockets on both ends of a new veth pair: eth0
// in namespace a and p0 in namespace b. They are closed when the test ends.
func openSlaveDevPair(t *testing.T) (p *pair, eth0, p0 bond.SlaveDev) {
	t.Helper()
	p = newPair(t)
	eth0 = openSlaveDev(t, p.h, "eth0")
	hb, err := NewHost(p.b.Path())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hb.Close() })
	return p, eth0, openSlaveDev(t, hb, "p0")
}

// openSlaveDev opens the device of the link named name on h; it is closed when
// the test ends (closing it before is fine).
func openSlaveDev(t *testing.T, h *Host, name string) bond.SlaveDev {
	t.Helper()
	li, err := h.LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	dev, err := h.OpenSlaveDev(li)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dev.Close() })
	return dev
}

// arpFrame builds a vnet-header-prefixed ARP request (op 1) or reply (op 2).
func arpFrame(op uint16, dst, src net.HardwareAddr, sip, tip net.IP, tha net.HardwareAddr) []byte {
	b := make([]byte, bond.VnetHdrLen, bond.VnetHdrLen+42)
	b = append(b, dst...)
	b = append(b, src...)
	b = binary.BigEndian.AppendUint16(b, 0x0806)
	b = append(b, 0, 1, 8, 0, 6, 4)
	b = binary.BigEndian.AppendUint16(b, op)
	b = append(b, src...)
	b = append(b, sip.To4()...)
	b = append(b, tha...)
	b = append(b, tip.To4()...)
	return b
}

var (
	bcast    = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	zeroMAC  = net.HardwareAddr{0, 0, 0, 0, 0, 0}
	testMAC  = net.HardwareAddr{0x02, 0, 0x5e, 0, 0x53, 0x01}
	bondIP   = net.IPv4(192, 0, 2, 1)
	peerIP   = net.IPv4(192, 0, 2, 2)
	errTimed = errors.New("timed out")
)

// readUntil reads frames from d until match accepts one or the timeout
// passes; it closes nothing.
func readUntil(d bond.NetDev, timeout time.Duration, match func(frame []byte) bool) error {
	done := make(chan error, 1)
	stop := make(chan struct{})
	go func() {
		buf := make([]byte, frameBuf)
		for {
			n, err := d.ReadFrame(buf)
			if err != nil {
				done <- err
				return
			}
			if match(buf[:n]) {
				done <- nil
				return
			}
			select {
			case <-stop:
				return
			default:
			}
		}
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(timeout):
		close(stop)
		return errTimed
	}
}

func isARP(frame []byte, op uint16) bool {
	f := frame[bond.VnetHdrLen:]
	return len(f) >= 42 && binary.BigEndian.Uint16(f[12:]) == 0x0806 && binary.BigEndian.Uint16(f[20:]) == op
}

// poll calls cond every millisecond until it reports true or timeout has
// passed, and reports whether it did.
func poll(timeout time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(timeout); !cond(); {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
	return true
}

// eventually waits until cond reports true (polled every millisecond), or
// fails the test with the message after timeout. cond states what the test
// waits for; the kernel does it on its own time (a reader reaching its
// read, frames reaching a socket, a server listening).
func eventually(t testing.TB, timeout time.Duration, cond func() bool, format string, args ...any) {
	t.Helper()
	if !poll(timeout, cond) {
		t.Fatalf("after %v: %s", timeout, fmt.Sprintf(format, args...))
	}
}

// blockedIn returns a condition for eventually: a goroutine waits in the
// poller (or a system call) inside the function fn, such as
// "netdev.(*Tap).ReadFrame": a reader that has reached its read.
func blockedIn(fn string) func() bool {
	return func() bool {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		for _, g := range strings.Split(string(buf), "\n\n") {
			head, _, _ := strings.Cut(g, "\n")
			if (strings.Contains(head, "[IO wait") || strings.Contains(head, "[syscall")) && strings.Contains(g, fn+"(") {
				return true
			}
		}
		return false
	}
}

// packetsQueued returns a func that reports how many frames the kernel
// queued on device's socket since its previous call (PACKET_STATISTICS
// tp_packets, which reading resets; dropped frames included). This first
// call starts the count.
func packetsQueued(t *testing.T, dev bond.SlaveDev) func() int {
	t.Helper()
	rc, err := dev.(*SlaveDev).c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	queued := func() int {
		var st *unix.TpacketStats
		var serr error
		if err := rc.Control(func(fd uintptr) {
			st, serr = unix.GetsockoptTpacketStats(int(fd), unix.SOL_PACKET, unix.PACKET_STATISTICS)
		}); err != nil || serr != nil {
			t.Fatalf("PACKET_STATISTICS: %v %v", err, serr)
		}
		if st.Drops != 0 {
			t.Fatalf("%d frames dropped on the socket", st.Drops)
		}
		return int(st.Packets)
	}
	queued()
	return queued
}

// waitQueued waits until queued (packetsQueued) has counted n frames.
func waitQueued(t *testing.T, queued func() int, n int) {
	t.Helper()
	total := 0
	eventually(t, 2*time.Second, func() bool { total += queued(); return total >= n },
		"%d of %d frames reached the socket", total, n)
}

// bondWithSlave makes the bond side of a relay test: bond0 (a TAP) with
// 192.0.2.1/24, up, with carrier, and a device on eth0, which takes bond0's
// MAC as a slave of bonding does. Both go when the test ends.
func (p *pair) bondWithSlave(t *testing.T) (bond.Master, bond.SlaveDev) {
	t.Helper()
	m, mli, err := p.h.CreateMaster("bond0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.h.DeleteMaster(m, mli.Index) })
	eth0 := p.link(t, "eth0")
	if err := p.h.SetHWAddr(eth0.Index, mli.HWAddr); err != nil {
		t.Fatal(err)
	}
	dev, err := p.h.OpenSlaveDev(eth0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dev.Close() })
	p.a.AddAddr(t, "bond0", "192.0.2.1/24")
	if err := p.h.SetLinkUp(mli.Index, true); err != nil {
		t.Fatal(err)
	}
	if err := m.SetCarrier(true); err != nil {
		t.Fatal(err)
	}
	return m, dev
}

// startIperf3 starts a one-shot iperf3 server on 192.0.2.2 (p0's side) and
// waits until it listens.
func (p *pair) startIperf3(t *testing.T) {
	t.Helper()
	p.b.Start(t, "iperf3", "-s", "-1", "-B", "192.0.2.2")
	eventually(t, 5*time.Second, func() bool {
		out, _ := p.b.Exec("ss", "-Hltn", "src", "192.0.2.2:5201")
		return strings.Contains(out, "192.0.2.2:5201")
	}, "iperf3 does not listen on 192.0.2.2:5201")
}
