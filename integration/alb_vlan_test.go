package integration

// balance-alb with a VLAN above the bond, on real sockets. The test
// machine's kernel may lack 802.1Q (CONFIG_VLAN_8021Q), so no VLAN device
// is made: the bond's own stack is stood in for by an AF_PACKET socket on
// bond0 in namespace A that sends the tagged frames a bond0.5 device would,
// and the frames leaving the slaves are captured on the bridge ports.

import (
	"encoding/binary"
	"net"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"bondingfs/internal/nettest"
)

// rawSock opens an AF_PACKET socket on dev inside namespace ns (all
// EtherTypes, frames received only, 50 ms receive timeout).
func rawSock(t *testing.T, ns *nettest.Netns, dev string) int {
	return rawSockDir(t, ns, dev, true)
}

// rawSockDir is rawSock; with ignoreOutgoing false it also reads the frames
// the device sends.
func rawSockDir(t *testing.T, ns *nettest.Netns, dev string, ignoreOutgoing bool) int {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	h, err := netns.GetFromName(ns.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := netns.Set(h); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := netns.Set(orig); err != nil {
			panic(err) // a thread left in another namespace must not be reused
		}
	}()
	ifi, err := net.InterfaceByName(dev)
	if err != nil {
		t.Fatalf("%s in %s: %v", dev, ns.Name(), err)
	}
	proto := int(htons16(unix.ETH_P_ALL))
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: uint16(proto), Ifindex: ifi.Index}); err != nil {
		t.Fatal(err)
	}
	// the kernel strips a received tag into the skb (skb_vlan_untag); a
	// packet socket gets it back in PACKET_AUXDATA
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_AUXDATA, 1); err != nil {
		t.Fatal(err)
	}
	// only frames the device received: on a bridge port, frames the
	// bridge floods out would count as the port's too
	if ignoreOutgoing {
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1); err != nil {
			t.Fatal(err)
		}
	}
	tv := unix.NsecToTimeval(int64(50 * time.Millisecond))
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		t.Fatal(err)
	}
	return fd
}

func htons16(v uint16) uint16 { return v<<8 | v>>8 }

// collect reads frames from fds for d, and returns them per socket, with
// the 802.1Q tag the kernel took out (PACKET_AUXDATA) put back in.
func collect(fds []int, d time.Duration) [][][]byte {
	out := make([][][]byte, len(fds))
	deadline := time.Now().Add(d)
	buf := make([]byte, 2048)
	oob := make([]byte, 256)
	for time.Now().Before(deadline) {
		for i, fd := range fds {
			for {
				n, oobn, _, _, err := unix.Recvmsg(fd, buf, oob, unix.MSG_DONTWAIT)
				if err != nil || n <= 0 {
					break
				}
				f := append([]byte(nil), buf[:n]...)
				if tci, ok := auxVLAN(oob[:oobn]); ok && n >= 12 {
					tag := []byte{0x81, 0, byte(tci >> 8), byte(tci)}
					f = append(f[:12:12], append(tag, f[12:]...)...)
				}
				out[i] = append(out[i], f)
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	return out
}

// auxVLAN returns the tag control information of a tpacket_auxdata
// control message whose TP_STATUS_VLAN_VALID is set.
func auxVLAN(oob []byte) (uint16, bool) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return 0, false
	}
	for _, m := range msgs {
		if m.Header.Level == unix.SOL_PACKET && m.Header.Type == unix.PACKET_AUXDATA && len(m.Data) >= 20 {
			status := binary.NativeEndian.Uint32(m.Data[0:4])
			if status&unix.TP_STATUS_VLAN_VALID != 0 {
				return binary.NativeEndian.Uint16(m.Data[16:18]), true
			}
		}
	}
	return 0, false
}

func TestALBVLANFrames(t *testing.T) {
	nettest.SkipUnlessRoot(t)
	needTools(t, "ip", "ping", "bridge")
	bondingfsBin(t)
	tp := newLBTopo(t, "balance-alb")
	defer tp.dumpOnFail(t)
	reach(t, tp.A, peerIP(0), 10*time.Second)
	bondMAC, err := net.ParseMAC(readTrim(t, tp.d.sys+"/bond0/address"))
	if err != nil {
		t.Fatal(err)
	}
	eth1MAC, _ := net.ParseMAC(strings.TrimSpace(tp.A.Run(t, "cat", "/sys/class/net/eth1/address")))
	bond := rawSock(t, tp.A, "bond0")
	caps := []int{rawSock(t, tp.B, "p0"), rawSock(t, tp.B, "p1")}
	collect(caps, 100*time.Millisecond) // drain

	// bond0.5 (198.51.100.1) answers two clients' ARP requests on VLAN 5
	for i := byte(1); i <= 2; i++ {
		client := net.HardwareAddr{2, 0, 0, 0, 0x0c, i}
		f := append([]byte{}, client...)
		f = append(f, bondMAC...)
		f = append(f, 0x81, 0x00, 0x00, 0x05, 0x08, 0x06)
		f = append(f, 0, 1, 8, 0, 6, 4, 0, 2)
		f = append(f, bondMAC...)
		f = append(f, 198, 51, 100, 1)
		f = append(f, client...)
		f = append(f, 198, 51, 100, 10+i)
		if err := unix.Sendto(bond, f, 0, &unix.SockaddrLinklayer{Ifindex: ifindexOf(t, tp.A, "bond0"), Halen: 6}); err != nil {
			t.Fatalf("send on bond0: %v", err)
		}
	}
	got := collect(caps, 1500*time.Millisecond)
	slaveMAC := []net.HardwareAddr{bondMAC, eth1MAC}
	replies := map[byte]int{} // client → port
	lpTagged := 0
	for port, frames := range got {
		for _, f := range frames {
			if len(f) < 18 || binary.BigEndian.Uint16(f[12:14]) != 0x8100 {
				continue
			}
			if vid := binary.BigEndian.Uint16(f[14:16]) & 0xfff; vid != 5 {
				t.Errorf("p%d: a frame tagged %d", port, vid)
			}
			switch binary.BigEndian.Uint16(f[16:18]) {
			case 0x0806:
				a := f[18:]
				if len(a) < 28 || binary.BigEndian.Uint16(a[6:8]) != 2 {
					continue
				}
				replies[f[5]] = port
				if sha := net.HardwareAddr(a[8:14]); sha.String() != slaveMAC[port].String() {
					t.Errorf("p%d: tagged ARP reply for client %d says %s is at %s, want the slave's %s", port, f[5], "198.51.100.1", sha, slaveMAC[port])
				}
				if src := net.HardwareAddr(f[6:12]); src.String() != slaveMAC[port].String() {
					t.Errorf("p%d: tagged ARP reply sent from %s, want %s", port, src, slaveMAC[port])
				}
			case 0x9000:
				lpTagged++
			}
		}
	}
	t.Logf("tagged replies by client → port: %v; tagged learning packets: %d", replies, lpTagged)
	if len(replies) != 2 || replies[1] == replies[2] {
		t.Errorf("balance-alb: the two clients' tagged ARP replies should leave on different slaves: %v", replies)
	}
	if lpTagged == 0 {
		t.Errorf("no learning packet tagged with VLAN 5 within 1.5 s")
	}

	// receive: a client on VLAN 5 sends to eth1's MAC; eth1 is not the
	// current slave, but balance-alb delivers unicast there: bond0 gets
	// the frame tagged, addressed to the bond's MAC
	collect([]int{bond}, 100*time.Millisecond)
	in := append([]byte{}, eth1MAC...)
	in = append(in, 2, 0, 0, 0, 0x0c, 1)
	in = append(in, 0x81, 0x00, 0x00, 0x05, 0x88, 0xb5)
	for len(in) < 64 {
		in = append(in, 0xa7)
	}
	p1 := caps[1]
	if err := unix.Sendto(p1, in, 0, &unix.SockaddrLinklayer{Ifindex: ifindexOf(t, tp.B, "p1"), Halen: 6}); err != nil {
		t.Fatalf("send on p1: %v", err)
	}
	found := false
	for _, f := range collect([]int{bond}, 500*time.Millisecond)[0] {
		if len(f) >= 18 && binary.BigEndian.Uint16(f[16:18]) == 0x88b5 {
			found = true
			if binary.BigEndian.Uint16(f[12:14]) != 0x8100 || binary.BigEndian.Uint16(f[14:16])&0xfff != 5 {
				t.Errorf("bond0 received the client's frame without its VLAN 5 tag: % x", f[:18])
			}
			if net.HardwareAddr(f[0:6]).String() != bondMAC.String() {
				t.Errorf("bond0 received the client's frame addressed to %s, want the bond's %s", net.HardwareAddr(f[0:6]), bondMAC)
			}
		}
	}
	if !found {
		t.Errorf("a tagged unicast frame to eth1's MAC did not reach bond0")
	}
}

func ifindexOf(t *testing.T, ns *nettest.Netns, dev string) int {
	t.Helper()
	n, err := atoiTrim(ns.Run(t, "cat", "/sys/class/net/"+dev+"/ifindex"))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func atoiTrim(s string) (int, error) { return strconv.Atoi(strings.TrimSpace(s)) }
