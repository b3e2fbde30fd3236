package netdev

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"bondingfs/bond"
	"bondingfs/internal/nettest"
)

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

func TestLinkErrorsWrapENODEV(t *testing.T) {
	p := newPair(t)
	if _, err := p.h.LinkByName("nosuch0"); !errors.Is(err, syscall.ENODEV) {
		t.Errorf("LinkByName(nosuch0) = %v, want ENODEV", err)
	}
	if _, err := p.h.LinkByIndex(99999); !errors.Is(err, syscall.ENODEV) {
		t.Errorf("LinkByIndex(99999) = %v, want ENODEV", err)
	}
	if err := p.h.SetLinkUp(99999, true); !errors.Is(err, syscall.ENODEV) {
		t.Errorf("SetLinkUp(99999) = %v, want ENODEV", err)
	}
	if _, _, err := p.h.Speed(99999); !errors.Is(err, syscall.ENODEV) {
		t.Errorf("Speed(99999) = %v, want ENODEV", err)
	}
	if _, err := p.h.OpenPort(bond.LinkInfo{Index: 99999}); !errors.Is(err, syscall.ENODEV) {
		t.Errorf("OpenPort(99999) = %v, want ENODEV", err)
	}
}

func TestLinkInfoAndSetters(t *testing.T) {
	p := newPair(t)
	li := p.link(t, "eth0")
	if li.Kind != "veth" || !li.Up || !li.Carrier || !li.Ether || li.Loopback || li.MTU != 1500 || len(li.HWAddr) != 6 {
		t.Errorf("eth0 = %+v", li)
	}
	lo := p.link(t, "lo")
	if lo.Kind != "" || !lo.Loopback || lo.Ether {
		t.Errorf("lo = %+v", lo)
	}
	if err := p.h.SetMTU(li.Index, 1400); err != nil {
		t.Fatal(err)
	}
	if err := p.h.SetHWAddr(li.Index, testMAC); err != nil {
		t.Fatal(err)
	}
	if err := p.h.SetLinkUp(li.Index, false); err != nil {
		t.Fatal(err)
	}
	got := p.link(t, "eth0")
	if got.MTU != 1400 || !bytes.Equal(got.HWAddr, testMAC) || got.Up || got.Carrier {
		t.Errorf("after setters eth0 = %+v", got)
	}
	// The host namespace is untouched: no eth0 change leaks out.
	if out := p.a.Run(t, "ip", "link", "show", "eth0"); !strings.Contains(out, "mtu 1400") {
		t.Errorf("ip link show eth0 in ns: %s", out)
	}
}

func TestSpeed(t *testing.T) {
	p := newPair(t)
	li := p.link(t, "eth0")
	if mbps, dup, err := p.h.Speed(li.Index); err != nil || mbps != 10000 || dup != bond.DuplexFull {
		t.Errorf("Speed(veth) = %d, %d, %v; want 10000, full", mbps, dup, err)
	}
	lo := p.link(t, "lo")
	if mbps, dup, err := p.h.Speed(lo.Index); err != nil || mbps != bond.SpeedUnknown || dup != bond.DuplexUnknown {
		t.Errorf("Speed(lo) = %d, %d, %v; want unknown", mbps, dup, err)
	}
	m, tli, err := p.h.CreateMaster("bond0")
	if err != nil {
		t.Fatal(err)
	}
	defer p.h.DeleteMaster(m, tli.Index)
	mbps, dup, err := p.h.Speed(tli.Index)
	t.Logf("Speed(tap) = %d, %d, %v", mbps, dup, err)
	if err != nil {
		t.Error(err)
	}
}

func TestCreateMaster(t *testing.T) {
	p := newPair(t)
	m, li, err := p.h.CreateMaster("bond0")
	if err != nil {
		t.Fatal(err)
	}
	if li.Name != "bond0" || li.Kind != "tun" || !li.Ether || li.Carrier || li.Up {
		t.Errorf("LinkInfo = %+v", li)
	}
	if _, _, err := p.h.CreateMaster("bond0"); !errors.Is(err, syscall.EEXIST) {
		t.Errorf("second CreateMaster(bond0) = %v, want EEXIST", err)
	}
	if _, _, err := p.h.CreateMaster("eth0"); !errors.Is(err, syscall.EEXIST) {
		t.Errorf("CreateMaster(eth0) = %v, want EEXIST", err)
	}
	// TUNGETIFF reports the flags the TAP was created with.
	rc, _ := m.(*Tap).f.SyscallConn()
	var flags uint16
	rc.Control(func(fd uintptr) {
		ifr, _ := unix.NewIfreq("")
		if err := unix.IoctlIfreq(int(fd), unix.TUNGETIFF, ifr); err != nil {
			t.Error(err)
		}
		flags = ifr.Uint16()
	})
	if want := uint16(unix.IFF_TAP | unix.IFF_NO_PI | unix.IFF_VNET_HDR); flags&want != want {
		t.Errorf("TUNGETIFF flags %#x, want %#x set", flags, want)
	}
	if out := p.a.Run(t, "ip", "-d", "link", "show", "bond0"); !strings.Contains(out, "vnet_hdr on") || !strings.Contains(out, "persist off") {
		t.Errorf("ip -d link show bond0:\n%s", out)
	}

	if err := p.h.SetLinkUp(li.Index, true); err != nil {
		t.Fatal(err)
	}
	for _, on := range []bool{true, false, true} {
		if err := m.SetCarrier(on); err != nil {
			t.Fatal(err)
		}
		got, err := p.h.LinkByIndex(li.Index)
		if err != nil || got.Carrier != on {
			t.Errorf("after SetCarrier(%v): %+v, %v", on, got, err)
		}
	}
	if out := p.a.Run(t, "cat", "/sys/class/net/bond0/operstate"); strings.TrimSpace(out) != "up" {
		t.Errorf("operstate = %q, want up", out)
	}

	// A blocked ReadFrame returns os.ErrClosed when the master closes.
	errc := make(chan error, 1)
	go func() {
		buf := make([]byte, frameBuf)
		for {
			if _, err := m.ReadFrame(buf); err != nil {
				errc <- err
				return
			}
		}
	}()
	time.Sleep(50 * time.Millisecond)
	if err := p.h.DeleteMaster(m, li.Index); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, os.ErrClosed) {
			t.Errorf("ReadFrame after DeleteMaster = %v, want os.ErrClosed", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("ReadFrame still blocked after DeleteMaster")
	}
	if _, err := p.h.LinkByName("bond0"); !errors.Is(err, syscall.ENODEV) {
		t.Errorf("bond0 after DeleteMaster: %v, want ENODEV", err)
	}
	if err := m.SetCarrier(true); err == nil {
		t.Error("SetCarrier after close succeeded")
	}
}

// TestMasterDeletedFromOutside checks that "ip link del" removes the TAP
// while the daemon holds it, and what the holder then sees.
func TestMasterDeletedFromOutside(t *testing.T) {
	p := newPair(t)
	m, li, err := p.h.CreateMaster("bond0")
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		buf := make([]byte, frameBuf)
		_, err := m.ReadFrame(buf)
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond)
	p.a.Run(t, "ip", "link", "del", "bond0")
	select {
	case err := <-errc:
		if !errors.Is(err, syscall.EBADFD) || !errors.Is(err, os.ErrClosed) {
			t.Errorf("ReadFrame after ip link del = %v, want EBADFD and os.ErrClosed", err)
		}
	case <-time.After(2 * time.Second):
		t.Error("ReadFrame still blocked after ip link del")
	}
	if err := m.WriteFrame(make([]byte, bond.VnetHdrLen+60)); !errors.Is(err, syscall.EBADFD) || !errors.Is(err, os.ErrClosed) {
		t.Errorf("WriteFrame after ip link del = %v, want EBADFD", err)
	}
	if err := p.h.DeleteMaster(m, li.Index); err != nil {
		t.Errorf("DeleteMaster after ip link del: %v", err)
	}
}

func nftTableText(t *testing.T, ns *nettest.Netns) string {
	out, err := ns.Exec("nft", "list", "table", "netdev", NftTable)
	if err != nil {
		return ""
	}
	return out
}

func TestPortIsolationAppliedAndRestored(t *testing.T) {
	p := newPair(t)
	nettest.Veth(t, p.a, "eth1", p.b, "p1")
	sysctl := func(dev string) string {
		return strings.TrimSpace(p.a.Run(t, "cat", "/proc/sys/net/ipv6/conf/"+dev+"/disable_ipv6"))
	}
	if v := sysctl("eth0"); v != "0" {
		t.Fatalf("eth0 disable_ipv6 = %s before", v)
	}
	p0, err := p.h.OpenPort(p.link(t, "eth0"))
	if err != nil {
		t.Fatal(err)
	}
	p1, err := p.h.OpenPort(p.link(t, "eth1"))
	if err != nil {
		t.Fatal(err)
	}
	txt := nftTableText(t, p.a)
	for _, want := range []string{`chain eth0_in`, `chain eth1_in`, `hook ingress device "eth0"`, `policy drop`} {
		if !strings.Contains(txt, want) {
			t.Errorf("nft table lacks %q:\n%s", want, txt)
		}
	}
	if v := sysctl("eth0"); v != "1" {
		t.Errorf("eth0 disable_ipv6 = %s while open", v)
	}
	if err := p0.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p0.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	txt = nftTableText(t, p.a)
	if strings.Contains(txt, "eth0_in") || !strings.Contains(txt, "eth1_in") {
		t.Errorf("after closing eth0's port:\n%s", txt)
	}
	if v := sysctl("eth0"); v != "0" {
		t.Errorf("eth0 disable_ipv6 = %s after Close", v)
	}
	// The last port's Close must work after the Host is gone and removes the table.
	p.h.Close()
	if err := p1.Close(); err != nil {
		t.Fatal(err)
	}
	if txt := nftTableText(t, p.a); txt != "" {
		t.Errorf("table left after last Close:\n%s", txt)
	}
	if v := sysctl("eth1"); v != "0" {
		t.Errorf("eth1 disable_ipv6 = %s after Close", v)
	}
	// A previous value of 1 is restored as 1.
	h, err := NewHost(p.a.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	p.a.Run(t, "sysctl", "-qw", "net.ipv6.conf.eth1.disable_ipv6=1")
	li1, err := h.LinkByName("eth1")
	if err != nil {
		t.Fatal(err)
	}
	pp, err := h.OpenPort(li1)
	if err != nil {
		t.Fatal(err)
	}
	pp.Close()
	if v := sysctl("eth1"); v != "1" {
		t.Errorf("eth1 disable_ipv6 = %s after Close, want the previous 1", v)
	}
}

// TestPortExchange sends an ARP request out of the port and reads the peer
// kernel's reply, then repeats after the slave flapped (the stale ENETDOWN
// must be retried, not returned).
func TestPortExchange(t *testing.T) {
	p := newPair(t)
	li := p.link(t, "eth0")
	port, err := p.h.OpenPort(li)
	if err != nil {
		t.Fatal(err)
	}
	defer port.Close()

	exchange := func(what string) {
		t.Helper()
		req := arpFrame(1, bcast, li.HWAddr, bondIP, peerIP, zeroMAC)
		got := make(chan error, 1)
		go func() {
			got <- readUntil(port, 2*time.Second, func(f []byte) bool {
				return isARP(f, 2) && bytes.Equal(f[bond.VnetHdrLen:][:6], li.HWAddr)
			})
		}()
		time.Sleep(20 * time.Millisecond)
		if err := port.WriteFrame(req); err != nil {
			t.Fatalf("%s: WriteFrame: %v", what, err)
		}
		if err := <-got; err != nil {
			t.Fatalf("%s: no ARP reply from the peer: %v", what, err)
		}
	}
	exchange("first")

	// After a flap the socket reports one stale ENETDOWN (datapath.md §4):
	// a plain write(2) shows it ...
	p.a.SetDown(t, "eth0")
	p.a.SetUp(t, "eth0")
	if _, err := port.(*Port).c.Write(arpFrame(1, bcast, li.HWAddr, bondIP, peerIP, zeroMAC)); !errors.Is(err, syscall.ENETDOWN) {
		t.Errorf("raw write after a flap = %v, want the stale ENETDOWN", err)
	}
	// ... and WriteFrame retries past it.
	p.a.SetDown(t, "eth0")
	p.a.SetUp(t, "eth0")
	time.Sleep(50 * time.Millisecond)
	exchange("after flap")

	// A frame sent through the port is not read back (IGNORE_OUTGOING), and
	// the peer saw exactly what we sent: check the peer's neighbour entry.
	if out := p.b.Run(t, "ip", "neigh", "show", "192.0.2.1"); !strings.Contains(out, li.HWAddr.String()) {
		t.Errorf("peer neighbour table: %q, want %s", out, li.HWAddr)
	}

	// Writing while the slave is down fails after one retry.
	p.a.SetDown(t, "eth0")
	if err := port.WriteFrame(arpFrame(1, bcast, li.HWAddr, bondIP, peerIP, zeroMAC)); !errors.Is(err, syscall.ENETDOWN) {
		t.Errorf("WriteFrame on a down slave = %v, want ENETDOWN", err)
	}

	// Close unblocks a reader with os.ErrClosed.
	errc := make(chan error, 1)
	go func() {
		buf := make([]byte, frameBuf)
		_, err := port.ReadFrame(buf)
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond)
	port.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, os.ErrClosed) {
			t.Errorf("ReadFrame after Close = %v, want os.ErrClosed", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("ReadFrame still blocked after Close")
	}
}

// TestForwardPing relays frames between a TAP master and a port, as the
// engine's data path does, and pings the peer through it: replies arrive,
// exactly once each (the slave's own stack is isolated).
func TestForwardPing(t *testing.T) {
	p := newPair(t)
	m, mli, err := p.h.CreateMaster("bond0")
	if err != nil {
		t.Fatal(err)
	}
	defer p.h.DeleteMaster(m, mli.Index)
	eth0 := p.link(t, "eth0")
	// As bonding does, the slave takes the bond's MAC.
	if err := p.h.SetHWAddr(eth0.Index, mli.HWAddr); err != nil {
		t.Fatal(err)
	}
	port, err := p.h.OpenPort(eth0)
	if err != nil {
		t.Fatal(err)
	}
	defer port.Close()
	p.a.AddAddr(t, "bond0", "192.0.2.1/24")
	if err := p.h.SetLinkUp(mli.Index, true); err != nil {
		t.Fatal(err)
	}
	if err := m.SetCarrier(true); err != nil {
		t.Fatal(err)
	}
	var maxOut, maxIn atomic.Int64
	relay := func(from, to bond.NetDev, max *atomic.Int64) {
		buf := make([]byte, frameBuf)
		for {
			n, err := from.ReadFrame(buf)
			if err != nil {
				return
			}
			if int64(n) > max.Load() {
				max.Store(int64(n))
			}
			to.WriteFrame(buf[:n])
		}
	}
	go relay(m, port, &maxOut)
	go relay(port, m, &maxIn)
	out, err := p.a.Exec("ping", "-c", "3", "-i", "0.2", "-W", "2", "192.0.2.2")
	if err != nil || !strings.Contains(out, "3 received") || strings.Contains(out, "DUP") {
		t.Errorf("ping through the relay: %v\n%s", err, out)
	}
	// TCP both ways with offloads on: GSO frames and partial checksums
	// cross the relay unsegmented.
	p.b.Start(t, "iperf3", "-s", "-1", "-B", "192.0.2.2")
	time.Sleep(300 * time.Millisecond)
	out, err = p.a.Exec("iperf3", "-c", "192.0.2.2", "-t", "1", "--bidir", "-f", "m")
	if err != nil {
		t.Fatalf("iperf3 through the relay: %v\n%s", err, out)
	}
	t.Logf("largest frame TAP→port %d bytes, port→TAP %d bytes", maxOut.Load(), maxIn.Load())
	if maxOut.Load() <= 1514+bond.VnetHdrLen || maxIn.Load() <= 1514+bond.VnetHdrLen {
		t.Errorf("no GSO frame crossed the relay (max %d / %d bytes)", maxOut.Load(), maxIn.Load())
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "receiver") {
			t.Log(strings.TrimSpace(l))
		}
	}
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
		deadline := time.After(3 * time.Second)
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

func TestPortMembership(t *testing.T) {
	p := newPair(t)
	port, err := p.h.OpenPort(p.link(t, "eth0"))
	if err != nil {
		t.Fatal(err)
	}
	pp := port.(*Port)
	// Socket memberships show as counters, not as PROMISC/ALLMULTI flags.
	flags := func() string { return p.a.Run(t, "ip", "-d", "-o", "link", "show", "eth0") }
	if err := pp.SetPromiscuous(true); err != nil {
		t.Fatal(err)
	}
	if err := pp.SetAllMulti(true); err != nil {
		t.Fatal(err)
	}
	if err := pp.JoinMulticast(net.HardwareAddr{0x01, 0x80, 0xc2, 0, 0, 0x02}, true); err != nil {
		t.Fatal(err)
	}
	if f := flags(); !strings.Contains(f, "promiscuity 1 ") || !strings.Contains(f, "allmulti 1 ") {
		t.Errorf("flags while set: %s", f)
	}
	if out := p.a.Run(t, "ip", "maddr", "show", "dev", "eth0"); !strings.Contains(out, "01:80:c2:00:00:02") {
		t.Errorf("multicast list lacks the slow-protocols address:\n%s", out)
	}
	if err := pp.SetAllMulti(false); err != nil {
		t.Fatal(err)
	}
	if f := flags(); !strings.Contains(f, "allmulti 0 ") {
		t.Errorf("ALLMULTI still set: %s", f)
	}
	port.Close()
	if f := flags(); !strings.Contains(f, "promiscuity 0 ") {
		t.Errorf("PROMISC left after Close: %s", f)
	}
	if out := p.a.Run(t, "ip", "maddr", "show", "dev", "eth0"); strings.Contains(out, "01:80:c2:00:00:02") {
		t.Errorf("multicast address left after Close:\n%s", out)
	}
}

// gatedSub is a link subscription with a 4 KB socket buffer whose callback
// waits on gate while blocked is set, and hands events on to events.
type gatedSub struct {
	events  chan bond.LinkEvent
	gate    chan struct{}
	blocked atomic.Bool
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
	time.Sleep(100 * time.Millisecond)
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
		deadline := time.Now().Add(5 * time.Second)
		for p.h.LinkEventsPending() {
			if time.Now().After(deadline) {
				t.Fatalf("events still pending: %s", what)
			}
			time.Sleep(time.Millisecond)
		}
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
	deadline := time.Now().Add(3 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines before, %d after:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestStaleIsolation: a chain left by a crashed daemon does not stop
// OpenPort, and ResetIsolation removes the table.
func TestStaleIsolation(t *testing.T) {
	p := newPair(t)
	p.a.Run(t, "nft", "add table netdev "+NftTable+" ; add chain netdev "+NftTable+` eth0_in { type filter hook ingress device "eth0" priority 0; policy drop; }`)
	port, err := p.h.OpenPort(p.link(t, "eth0"))
	if err != nil {
		t.Fatalf("OpenPort over a stale chain: %v", err)
	}
	port.Close()
	if txt := nftTableText(t, p.a); txt != "" {
		t.Errorf("table left:\n%s", txt)
	}
	p.a.Run(t, "nft", "add table netdev "+NftTable+" ; add chain netdev "+NftTable+` eth0_in { type filter hook ingress device "eth0" priority 0; policy drop; }`)
	if err := p.h.ResetIsolation(); err != nil {
		t.Fatal(err)
	}
	if err := p.h.ResetIsolation(); err != nil {
		t.Errorf("ResetIsolation without a table: %v", err)
	}
	if txt := nftTableText(t, p.a); txt != "" {
		t.Errorf("table left after ResetIsolation:\n%s", txt)
	}
}

// TestCurrentNamespace runs this test binary inside a test namespace and
// uses NewHost("") there, so the no-switch path never touches the host.
func TestCurrentNamespace(t *testing.T) {
	if os.Getenv("NETDEV_CHILD") == "1" {
		h, err := NewHost("")
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		m, li, err := h.CreateMaster("bond0")
		if err != nil {
			t.Fatal(err)
		}
		defer h.DeleteMaster(m, li.Index)
		eth0, err := h.LinkByName("eth0")
		if err != nil {
			t.Fatal(err)
		}
		port, err := h.OpenPort(eth0)
		if err != nil {
			t.Fatal(err)
		}
		port.Close()
		if mbps, _, err := h.Speed(eth0.Index); err != nil || mbps != 10000 {
			t.Fatalf("Speed = %d, %v", mbps, err)
		}
		return
	}
	p := newPair(t)
	out, err := p.a.Exec("env", "NETDEV_CHILD=1", os.Args[0], "-test.run=^TestCurrentNamespace$", "-test.v")
	if err != nil || !strings.Contains(out, "--- PASS") {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

// TestThreadsStayHome checks that switching namespaces never leaves an
// unlocked thread of the process in a test namespace.
func TestThreadsStayHome(t *testing.T) {
	p := newPair(t)
	home, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		if _, _, err := p.h.Speed(p.link(t, "eth0").Index); err != nil {
			t.Fatal(err)
		}
		port, err := p.h.OpenPort(p.link(t, "eth0"))
		if err != nil {
			t.Fatal(err)
		}
		port.Close()
	}
	tasks, _ := os.ReadDir("/proc/self/task")
	for _, task := range tasks {
		ns, err := os.Readlink("/proc/self/task/" + task.Name() + "/ns/net")
		if err == nil && ns != home {
			t.Errorf("thread %s is in %s, not %s", task.Name(), ns, home)
		}
	}
}

// TestPortRestoresVLANTag: a frame that arrives tagged comes out of
// ReadFrame with its 802.1Q tag where it was (the kernel hands packet
// sockets the frame untagged and the tag in PACKET_AUXDATA); an untagged
// frame is unchanged.
func TestPortRestoresVLANTag(t *testing.T) {
	p, port, p0 := openPortPair(t)
	dst := p.link(t, "eth0").HWAddr
	frame := func(tag bool, marker byte) []byte {
		b := make([]byte, bond.VnetHdrLen, 100)
		b = append(b, dst...)
		b = append(b, 2, 0, 0, 0, 0xbb, 1)
		if tag {
			b = append(b, 0x81, 0x00, 0x20, 0x05) // priority 1, VLAN 5
		}
		b = append(b, 0x88, 0xb5, marker) // local experimental EtherType
		for len(b) < bond.VnetHdrLen+64 {
			b = append(b, marker)
		}
		return b
	}
	for _, tc := range []struct {
		tag    bool
		marker byte
	}{{true, 0xa1}, {false, 0xa2}} {
		want := frame(tc.tag, tc.marker)
		got := make(chan error, 1)
		go func() {
			got <- readUntil(port, 2*time.Second, func(f []byte) bool {
				e := f[bond.VnetHdrLen:]
				if !bytes.Equal(e[6:12], want[bond.VnetHdrLen+6:bond.VnetHdrLen+12]) {
					return false
				}
				if !bytes.Equal(e, want[bond.VnetHdrLen:]) {
					t.Errorf("tag=%v: read % x, want % x", tc.tag, e, want[bond.VnetHdrLen:])
				}
				return true
			})
		}()
		time.Sleep(20 * time.Millisecond)
		if err := p0.WriteFrame(want); err != nil {
			t.Fatal(err)
		}
		if err := <-got; err != nil {
			t.Fatalf("tag=%v: %v", tc.tag, err)
		}
	}
	// reading a tagged frame allocates nothing
	for i := 0; i < 120; i++ {
		if err := p0.WriteFrame(frame(true, 0xa3)); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(50 * time.Millisecond)
	buf := make([]byte, frameBuf)
	if n := testing.AllocsPerRun(100, func() {
		if _, err := port.ReadFrame(buf); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("ReadFrame: %v allocations per frame", n)
	}
}

// TestForwardBatch relays as the engine's batched data path does: one
// reader per TAP queue (Queues) with ReadBatch, the port with ReadBatch,
// WriteBatch both ways. Ping gets every reply once, TCP with 4 streams runs
// both ways with GSO frames, and batches of more than one frame occur.
func TestForwardBatch(t *testing.T) {
	p := newPair(t)
	m, mli, err := p.h.CreateMaster("bond0")
	if err != nil {
		t.Fatal(err)
	}
	defer p.h.DeleteMaster(m, mli.Index)
	eth0 := p.link(t, "eth0")
	if err := p.h.SetHWAddr(eth0.Index, mli.HWAddr); err != nil {
		t.Fatal(err)
	}
	port, err := p.h.OpenPort(eth0)
	if err != nil {
		t.Fatal(err)
	}
	defer port.Close()
	p.a.AddAddr(t, "bond0", "192.0.2.1/24")
	if err := p.h.SetLinkUp(mli.Index, true); err != nil {
		t.Fatal(err)
	}
	if err := m.SetCarrier(true); err != nil {
		t.Fatal(err)
	}
	queues := m.(bond.MultiQueue).Queues()
	if len(queues) != max(TapQueues, 1) {
		t.Errorf("%d TAP queues attached, want %d", len(queues), TapQueues)
	}
	var maxBatch, maxFrame atomic.Int64
	relay := func(from bond.NetDev, to bond.BatchWriter) error {
		br := from.(bond.BatchReader)
		bufs := make([][]byte, br.BatchSize())
		for i := range bufs {
			bufs[i] = make([]byte, frameBuf)
		}
		sizes := make([]int, len(bufs))
		frames := make([][]byte, len(bufs))
		for {
			n, err := br.ReadBatch(bufs, sizes, 0)
			if err != nil {
				return err
			}
			if int64(n) > maxBatch.Load() {
				maxBatch.Store(int64(n))
			}
			for i := 0; i < n; i++ {
				frames[i] = bufs[i][:sizes[i]]
				if int64(sizes[i]) > maxFrame.Load() {
					maxFrame.Store(int64(sizes[i]))
				}
			}
			if _, err := to.WriteBatch(frames[:n], 0); err != nil {
				t.Logf("WriteBatch: %v", err)
			}
		}
	}
	for _, q := range queues {
		go relay(q, port.(bond.BatchWriter))
	}
	errc := make(chan error, 1)
	go func() { errc <- relay(port, m.(bond.BatchWriter)) }()
	out, err := p.a.Exec("ping", "-c", "3", "-i", "0.2", "-W", "2", "192.0.2.2")
	if err != nil || !strings.Contains(out, "3 received") || strings.Contains(out, "DUP") {
		t.Errorf("ping through the batch relay: %v\n%s", err, out)
	}
	p.b.Start(t, "iperf3", "-s", "-1", "-B", "192.0.2.2")
	time.Sleep(300 * time.Millisecond)
	out, err = p.a.Exec("iperf3", "-c", "192.0.2.2", "-t", "1", "-P", "4", "--bidir", "-f", "m")
	if err != nil {
		t.Fatalf("iperf3 through the batch relay: %v\n%s", err, out)
	}
	if maxFrame.Load() <= 1514+bond.VnetHdrLen {
		t.Errorf("no GSO frame crossed the batch relay (largest %d bytes)", maxFrame.Load())
	}
	if maxBatch.Load() < 2 {
		t.Errorf("largest batch %d frames: never more than one frame per call", maxBatch.Load())
	}
	t.Logf("largest batch %d frames, largest frame %d bytes", maxBatch.Load(), maxFrame.Load())
	// Close ends a blocked ReadBatch with os.ErrClosed.
	port.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, os.ErrClosed) {
			t.Errorf("ReadBatch after Close = %v, want os.ErrClosed", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("ReadBatch still blocked after Close")
	}
}

// recDev records the frames written to it.
type recDev struct{ got [][]byte }

func (d *recDev) ReadFrame([]byte) (int, error) { return 0, os.ErrClosed }
func (d *recDev) WriteFrame(f []byte) error {
	d.got = append(d.got, append([]byte(nil), f...))
	return nil
}
func (d *recDev) Close() error { return nil }

// TestRequeueDropped: frames sent while the veth peer is down are counted
// in the slave's tx_dropped (LinkInfo.TxDropped), and Requeue sends exactly
// the last n frames that reached the interface again, oldest first.
func TestRequeueDropped(t *testing.T) {
	p := newPair(t)
	eth0 := p.link(t, "eth0")
	port, err := p.h.OpenPort(eth0)
	if err != nil {
		t.Fatal(err)
	}
	defer port.Close()
	p.a.SetUp(t, "eth0")
	p.b.SetUp(t, "p0")
	frame := func(i byte) []byte {
		return arpFrame(1, bcast, eth0.HWAddr, net.IPv4(192, 0, 2, 1), net.IPv4(192, 0, 2, i), zeroMAC)
	}
	// Delivered frames first, then the peer loses carrier.
	if _, err := port.(bond.BatchWriter).WriteBatch([][]byte{frame(1), frame(2)}, 0); err != nil {
		t.Fatal(err)
	}
	before := p.link(t, "eth0").TxDropped
	p.b.SetDown(t, "p0")
	big := make([]byte, 3000) // above the MTU, not GSO: refused (EMSGSIZE)
	copy(big, frame(9))
	if _, err := port.(bond.BatchWriter).WriteBatch([][]byte{frame(3), big, frame(4)}, 0); err != nil {
		t.Fatal(err)
	}
	// veth reports its drop as ENOBUFS on this kernel (NET_XMIT_DROP);
	// older ones accept the frame silently.
	if err := port.WriteFrame(frame(5)); err != nil && !errors.Is(err, syscall.ENOBUFS) {
		t.Fatal(err)
	}
	d := p.link(t, "eth0").TxDropped - before
	if d != 3 {
		t.Fatalf("tx_dropped rose by %d with the peer down, want 3 (the 3000-byte frame is refused with EMSGSIZE before veth)", d)
	}
	var to recDev
	if n := port.(bond.Requeuer).Requeue(&to, int(d)); n != 3 {
		t.Errorf("Requeue sent %d frames, want 3", n)
	}
	var got []byte
	for _, f := range to.got {
		got = append(got, f[len(f)-1]) // last byte of the target IP
	}
	if string(got) != "\x03\x04\x05" {
		t.Errorf("requeued frames for targets %v, want [3 4 5]", got)
	}
}

// TestPortBatchRestoresVLANTag: ReadBatch (recvmmsg) puts a received
// frame's 802.1Q tag back as ReadFrame does, frame by frame within a batch,
// and reads a batch without allocating.
func TestPortBatchRestoresVLANTag(t *testing.T) {
	p, port, p0 := openPortPair(t)
	dst := p.link(t, "eth0").HWAddr
	frame := func(tag bool, marker byte) []byte {
		b := make([]byte, bond.VnetHdrLen, 100)
		b = append(b, dst...)
		b = append(b, 2, 0, 0, 0, 0xbb, 1)
		if tag {
			b = append(b, 0x81, 0x00, 0x20, 0x05)
		}
		b = append(b, 0x88, 0xb5, marker)
		for len(b) < bond.VnetHdrLen+64 {
			b = append(b, marker)
		}
		return b
	}
	want := [][]byte{frame(true, 0xb1), frame(false, 0xb2), frame(true, 0xb3)}
	if _, err := p0.(bond.BatchWriter).WriteBatch(want, 0); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	br := port.(bond.BatchReader)
	bufs := make([][]byte, 8)
	for i := range bufs {
		bufs[i] = make([]byte, frameBuf)
	}
	sizes := make([]int, len(bufs))
	var got [][]byte
	deadline := time.Now().Add(2 * time.Second)
	for len(got) < len(want) && time.Now().Before(deadline) {
		n, err := br.ReadBatch(bufs, sizes, 0)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < n; i++ {
			e := bufs[i][bond.VnetHdrLen:sizes[i]]
			if bytes.Equal(e[6:12], []byte{2, 0, 0, 0, 0xbb, 1}) {
				got = append(got, append([]byte(nil), e...))
			}
		}
	}
	if len(got) != len(want) {
		t.Fatalf("read %d of our frames, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i][bond.VnetHdrLen:]) {
			t.Errorf("frame %d: read % x, want % x", i, got[i], want[i][bond.VnetHdrLen:])
		}
	}
	for i := 0; i < 120; i++ {
		if err := p0.WriteFrame(frame(true, 0xb4)); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(50 * time.Millisecond)
	if n := testing.AllocsPerRun(20, func() {
		if _, err := br.ReadBatch(bufs[:1], sizes, 0); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("ReadBatch: %v allocations per call", n)
	}
}

// openPortPair opens AF_PACKET ports on both ends of a new veth pair: eth0
// in namespace a and p0 in namespace b. They are closed when the test ends.
func openPortPair(t *testing.T) (p *pair, eth0, p0 bond.Port) {
	t.Helper()
	p = newPair(t)
	eth0, err := p.h.OpenPort(p.link(t, "eth0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eth0.Close() })
	hb, err := NewHost(p.b.Path())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hb.Close() })
	p0li, err := hb.LinkByName("p0")
	if err != nil {
		t.Fatal(err)
	}
	p0, err = hb.OpenPort(p0li)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p0.Close() })
	return p, eth0, p0
}

// TestPortRxPending: a frame queued on the receive socket is pending
// (SIOCINQ); a batch ReadBatch returned stays pending while the reader
// hands it on, until the reader comes back and finds the socket empty; a
// closed port has nothing pending.
func TestPortRxPending(t *testing.T) {
	_, port, p0 := openPortPair(t)
	rp := port.(bond.RxPender)
	waitFor := func(what string, want bool) {
		t.Helper()
		for deadline := time.Now().Add(2 * time.Second); rp.RxPending() != want; {
			if time.Now().After(deadline) {
				t.Fatalf("%s: RxPending stays %v", what, !want)
			}
			time.Sleep(time.Millisecond)
		}
	}
	frame := make([]byte, bond.VnetHdrLen, bond.VnetHdrLen+64)
	frame = append(frame, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0xbb, 1, 0x88, 0xb5)
	frame = frame[:cap(frame)]
	if err := p0.WriteFrame(frame); err != nil {
		t.Fatal(err)
	}
	waitFor("a frame queued, no reader", true)
	br := port.(bond.BatchReader)
	bufs := [][]byte{make([]byte, frameBuf), make([]byte, frameBuf)}
	sizes := make([]int, len(bufs))
	if _, err := br.ReadBatch(bufs, sizes, 0); err != nil {
		t.Fatal(err)
	}
	if !rp.RxPending() {
		t.Fatal("RxPending false right after ReadBatch returned frames: the reader has not handed them on yet")
	}
	done := make(chan error, 1)
	go func() { // the reader comes back: it finds the socket empty and waits
		for {
			if _, err := br.ReadBatch(bufs, sizes, 0); err != nil {
				done <- err
				return
			}
		}
	}()
	waitFor("the reader back and waiting", false)
	if err := port.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, os.ErrClosed) {
		t.Errorf("ReadBatch after Close: %v, want os.ErrClosed", err)
	}
	if rp.RxPending() {
		t.Error("RxPending true on a closed port")
	}
}
