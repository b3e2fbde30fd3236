package netdev

import (
	"bytes"
	"errors"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"bondingfs/bond"
	"bondingfs/internal/nettest"
)

func nftTableText(t *testing.T, ns *nettest.Netns) string {
	out, err := ns.Exec("nft", "list", "table", "netdev", NftTable)
	if err != nil {
		return ""
	}
	return out
}

func TestSlaveDevIsolationAppliedAndRestored(t *testing.T) {
	p := newPair(t)
	nettest.Veth(t, p.a, "eth1", p.b, "p1")
	sysctl := func(dev string) string {
		return strings.TrimSpace(p.a.Run(t, "cat", "/proc/sys/net/ipv6/conf/"+dev+"/disable_ipv6"))
	}
	if v := sysctl("eth0"); v != "0" {
		t.Fatalf("eth0 disable_ipv6 = %s before", v)
	}
	p0, err := p.h.OpenSlaveDev(p.link(t, "eth0"))
	if err != nil {
		t.Fatal(err)
	}
	p1, err := p.h.OpenSlaveDev(p.link(t, "eth1"))
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
		t.Errorf("after closing eth0's dev:\n%s", txt)
	}
	if v := sysctl("eth0"); v != "0" {
		t.Errorf("eth0 disable_ipv6 = %s after Close", v)
	}
	// The last device's Close must work after the Host is gone and removes the table.
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
	pp, err := h.OpenSlaveDev(li1)
	if err != nil {
		t.Fatal(err)
	}
	pp.Close()
	if v := sysctl("eth1"); v != "1" {
		t.Errorf("eth1 disable_ipv6 = %s after Close, want the previous 1", v)
	}
}

// TestStaleIsolation: a chain left by a crashed daemon does not stop
// OpenSlaveDev, and ResetIsolation removes the table.
func TestStaleIsolation(t *testing.T) {
	p := newPair(t)
	p.a.Run(t, "nft", "add table netdev "+NftTable+" ; add chain netdev "+NftTable+` eth0_in { type filter hook ingress device "eth0" priority 0; policy drop; }`)
	dev, err := p.h.OpenSlaveDev(p.link(t, "eth0"))
	if err != nil {
		t.Fatalf("OpenSlaveDev over a stale chain: %v", err)
	}
	dev.Close()
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

// TestSlaveDevExchange sends an ARP request out of the device and reads the peer
// kernel's reply, then repeats after the slave flapped (the stale ENETDOWN
// must be retried, not returned).
func TestSlaveDevExchange(t *testing.T) {
	p := newPair(t)
	li := p.link(t, "eth0")
	dev := openSlaveDev(t, p.h, "eth0")

	exchange := func(what string) {
		t.Helper()
		req := arpFrame(1, bcast, li.HWAddr, bondIP, peerIP, zeroMAC)
		got := make(chan error, 1)
		go func() {
			got <- readUntil(dev, 2*time.Second, func(f []byte) bool {
				return isARP(f, 2) && bytes.Equal(f[bond.VnetHdrLen:][:6], li.HWAddr)
			})
		}()
		if err := dev.WriteFrame(req); err != nil {
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
	if _, err := dev.(*SlaveDev).c.Write(arpFrame(1, bcast, li.HWAddr, bondIP, peerIP, zeroMAC)); !errors.Is(err, syscall.ENETDOWN) {
		t.Errorf("raw write after a flap = %v, want the stale ENETDOWN", err)
	}
	// ... and WriteFrame retries past it.
	p.a.SetDown(t, "eth0")
	p.a.SetUp(t, "eth0")
	eventually(t, 2*time.Second, func() bool { l := p.link(t, "eth0"); return l.Up && l.Carrier }, "eth0 not back up with carrier after the flap")
	exchange("after flap")

	// A frame sent through the device is not read back (IGNORE_OUTGOING), and
	// the peer saw exactly what we sent: check the peer's neighbour entry.
	if out := p.b.Run(t, "ip", "neigh", "show", "192.0.2.1"); !strings.Contains(out, li.HWAddr.String()) {
		t.Errorf("peer neighbour table: %q, want %s", out, li.HWAddr)
	}

	// Writing while the slave is down fails after one retry.
	p.a.SetDown(t, "eth0")
	if err := dev.WriteFrame(arpFrame(1, bcast, li.HWAddr, bondIP, peerIP, zeroMAC)); !errors.Is(err, syscall.ENETDOWN) {
		t.Errorf("WriteFrame on a down slave = %v, want ENETDOWN", err)
	}

	// Close unblocks a reader with os.ErrClosed (frames still queued from
	// the peer are read first).
	errc := make(chan error, 1)
	go func() {
		buf := make([]byte, frameBuf)
		for {
			if _, err := dev.ReadFrame(buf); err != nil {
				errc <- err
				return
			}
		}
	}()
	eventually(t, 2*time.Second, blockedIn("netdev.(*SlaveDev).ReadFrame"), "the reader never blocked in ReadFrame")
	dev.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, os.ErrClosed) {
			t.Errorf("ReadFrame after Close = %v, want os.ErrClosed", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("ReadFrame still blocked after Close")
	}
}

func TestSlaveDevMembership(t *testing.T) {
	p := newPair(t)
	dev := openSlaveDev(t, p.h, "eth0")
	pp := dev.(*SlaveDev)
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
	dev.Close()
	if f := flags(); !strings.Contains(f, "promiscuity 0 ") {
		t.Errorf("PROMISC left after Close: %s", f)
	}
	if out := p.a.Run(t, "ip", "maddr", "show", "dev", "eth0"); strings.Contains(out, "01:80:c2:00:00:02") {
		t.Errorf("multicast address left after Close:\n%s", out)
	}
}

// TestSlaveDevRestoresVLANTag: a frame that arrives tagged comes out of
// ReadFrame with its 802.1Q tag where it was (the kernel hands packet
// sockets the frame untagged and the tag in PACKET_AUXDATA); an untagged
// frame is unchanged.
func TestSlaveDevRestoresVLANTag(t *testing.T) {
	p, dev, p0 := openSlaveDevPair(t)
	dst := p.link(t, "eth0").HWAddr
	frame := func(tag bool, marker byte) []byte { return markedFrame(dst, tag, marker) }
	for _, tc := range []struct {
		tag    bool
		marker byte
	}{{true, 0xa1}, {false, 0xa2}} {
		want := frame(tc.tag, tc.marker)
		got := make(chan error, 1)
		go func() {
			got <- readUntil(dev, 2*time.Second, func(f []byte) bool {
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
		if err := p0.WriteFrame(want); err != nil {
			t.Fatal(err)
		}
		if err := <-got; err != nil {
			t.Fatalf("tag=%v: %v", tc.tag, err)
		}
	}
	// reading a tagged frame allocates nothing
	queued := packetsQueued(t, dev)
	for i := 0; i < 120; i++ {
		if err := p0.WriteFrame(frame(true, 0xa3)); err != nil {
			t.Fatal(err)
		}
	}
	waitQueued(t, queued, 120)
	buf := make([]byte, frameBuf)
	if n := testing.AllocsPerRun(100, func() {
		if _, err := dev.ReadFrame(buf); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("ReadFrame: %v allocations per frame", n)
	}
}

// TestSlaveDevBatchRestoresVLANTag: ReadBatch (recvmmsg) puts a received
// frame's 802.1Q tag back as ReadFrame does, frame by frame within a batch,
// and reads a batch without allocating.
func TestSlaveDevBatchRestoresVLANTag(t *testing.T) {
	p, dev, p0 := openSlaveDevPair(t)
	dst := p.link(t, "eth0").HWAddr
	frame := func(tag bool, marker byte) []byte { return markedFrame(dst, tag, marker) }
	want := [][]byte{frame(true, 0xb1), frame(false, 0xb2), frame(true, 0xb3)}
	queued := packetsQueued(t, dev)
	if _, err := p0.(bond.BatchWriter).WriteBatch(want, 0); err != nil {
		t.Fatal(err)
	}
	waitQueued(t, queued, len(want)) // one ReadBatch can take all three
	br := dev.(bond.BatchReader)
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
	queued()
	for i := 0; i < 120; i++ {
		if err := p0.WriteFrame(frame(true, 0xb4)); err != nil {
			t.Fatal(err)
		}
	}
	waitQueued(t, queued, 120)
	if n := testing.AllocsPerRun(20, func() {
		if _, err := br.ReadBatch(bufs[:1], sizes, 0); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("ReadBatch: %v allocations per call", n)
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
	dev := openSlaveDev(t, p.h, "eth0")
	p.a.SetUp(t, "eth0")
	p.b.SetUp(t, "p0")
	frame := func(i byte) []byte {
		return arpFrame(1, bcast, eth0.HWAddr, net.IPv4(192, 0, 2, 1), net.IPv4(192, 0, 2, i), zeroMAC)
	}
	// Delivered frames first, then the peer loses carrier.
	if _, err := dev.(bond.BatchWriter).WriteBatch([][]byte{frame(1), frame(2)}, 0); err != nil {
		t.Fatal(err)
	}
	before := p.link(t, "eth0").TxDropped
	p.b.SetDown(t, "p0")
	big := make([]byte, 3000) // above the MTU, not GSO: refused (EMSGSIZE)
	copy(big, frame(9))
	if _, err := dev.(bond.BatchWriter).WriteBatch([][]byte{frame(3), big, frame(4)}, 0); err != nil {
		t.Fatal(err)
	}
	// veth reports its drop as ENOBUFS on this kernel (NET_XMIT_DROP);
	// older ones accept the frame silently.
	if err := dev.WriteFrame(frame(5)); err != nil && !errors.Is(err, syscall.ENOBUFS) {
		t.Fatal(err)
	}
	d := p.link(t, "eth0").TxDropped - before
	if d != 3 {
		t.Fatalf("tx_dropped rose by %d with the peer down, want 3 (the 3000-byte frame is refused with EMSGSIZE before veth)", d)
	}
	var to recDev
	if n := dev.(bond.Requeuer).Requeue(&to, int(d)); n != 3 {
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

// TestSlaveDevRxPending: a frame queued on the receive socket is pending
// (SIOCINQ); a batch ReadBatch returned stays pending while the reader
// hands it on, until the reader comes back and finds the socket empty; a
// closed device has nothing pending.
func TestSlaveDevRxPending(t *testing.T) {
	_, dev, p0 := openSlaveDevPair(t)
	rp := dev.(bond.RxPender)
	waitFor := func(what string, want bool) {
		t.Helper()
		eventually(t, 2*time.Second, func() bool { return rp.RxPending() == want }, "%s: RxPending stays %v", what, !want)
	}
	frame := make([]byte, bond.VnetHdrLen, bond.VnetHdrLen+64)
	frame = append(frame, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0xbb, 1, 0x88, 0xb5)
	frame = frame[:cap(frame)]
	if err := p0.WriteFrame(frame); err != nil {
		t.Fatal(err)
	}
	waitFor("a frame queued, no reader", true)
	br := dev.(bond.BatchReader)
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
	if err := dev.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, os.ErrClosed) {
		t.Errorf("ReadBatch after Close: %v, want os.ErrClosed", err)
	}
	if rp.RxPending() {
		t.Error("RxPending true on a closed dev")
	}
}

// markedFrame is a vnet header and a 64-byte frame to dst of the local
// experimental EtherType 0x88b5, filled with marker, with an 802.1Q tag
// (priority 1, VLAN 5) if tag.
func markedFrame(dst []byte, tag bool, marker byte) []byte {
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
