package netdev

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/google/nftables"
	"github.com/mdlayher/socket"
	"golang.org/x/sys/unix"

	"bondingfs/bond"
)

// NftTable is the name of the netdev-family nftables table that holds one
// ingress chain (policy drop) per open SlaveDev.
const NftTable = "bondingfs"

// slaveDevBufSize is SO_RCVBUFFORCE/SO_SNDBUFFORCE in bytes (the kernel doubles
// it for bookkeeping). The default 208 KB dropped bursts of 64 KB GSO frames
// (datapath.md §3).
const slaveDevBufSize = 16 << 20

// SlaveDev is an enslaved interface opened for the data path: an AF_PACKET
// SOCK_RAW socket bound to the interface for every protocol (ETH_P_ALL) with
// PACKET_VNET_HDR, PACKET_IGNORE_OUTGOING and 16 MB buffers for receiving
// (recvmmsg in the Go netpoller), a second one bound with protocol 0 for
// sending (sendmmsg, outside the netpoller; openTx), plus the
// isolation of the interface's own stack: a netdev ingress chain with policy
// drop in table NftTable (AF_PACKET taps run before it, so the SlaveDev still
// sees every frame) and net.ipv6.conf.<if>.disable_ipv6=1.
type SlaveDev struct {
	c     *socket.Conn
	ns    nsRef // own reference, so Close works after Host.Close
	nftMu *sync.Mutex
	name  string
	index int
	chain string
	oldV6 string // previous disable_ipv6 value; "" if unknown (no IPv6)

	txfd int      // the transmit socket (openTx), outside the netpoller
	b    devBatch // recvmmsg/sendmmsg state (batch.go)
	park parkSlot // the engine's reader while the socket is idle (park.go)
	ring *txRing  // copies of the frames sent last (batch.go)

	closeOnce sync.Once
	closeErr  error
	closed    atomic.Bool

	// recvmsg(2) state of the one reader (ReadFrame is not called
	// concurrently): built once, so a read allocates nothing
	rc     syscall.RawConn
	iov    unix.Iovec
	msg    unix.Msghdr
	oob    [64]byte
	rn     int
	rerr   syscall.Errno
	readFn func(fd uintptr) bool
}

var _ bond.SlaveDev = (*SlaveDev)(nil)

// Name returns the interface name the SlaveDev was opened on.
func (p *SlaveDev) Name() string { return p.name }

// Index returns the interface's ifindex.
func (p *SlaveDev) Index() int { return p.index }

// ReadFrame reads one received frame (vnet header + Ethernet frame) into buf
// with read(2), waiting in the Go netpoller; it never returns frames sent on
// the interface (PACKET_IGNORE_OUTGOING). Frames longer than buf are
// truncated: pass at least 65536+bond.VnetHdrLen bytes. The stale ENETDOWN a
// packet socket reports once after its interface went down is skipped.
// After Close the error wraps os.ErrClosed.
//
// A frame that arrived with an 802.1Q (or 802.1ad) tag comes back with the
// tag in place: the kernel takes it out before packet sockets see the frame
// (skb_vlan_untag) and reports it in PACKET_AUXDATA; the vnet header's
// csum_start and hdr_len are moved by the 4 bytes. buf needs 4 bytes of room
// beyond the longest frame for that.
func (p *SlaveDev) ReadFrame(buf []byte) (int, error) {
	if p.readFn == nil || len(buf) < bond.VnetHdrLen+14+4 {
		return p.readPlain(buf)
	}
	b := buf[:len(buf)-4]
	for {
		if p.closed.Load() {
			return 0, fmt.Errorf("netdev: read %s: %w", p.name, os.ErrClosed)
		}
		p.iov.Base = &b[0]
		p.iov.SetLen(len(b))
		p.msg.Iov = &p.iov
		p.msg.Iovlen = 1
		p.msg.Control = &p.oob[0]
		p.msg.SetControllen(len(p.oob))
		p.msg.Flags = 0
		if err := p.rc.Read(p.readFn); err != nil {
			if p.closed.Load() {
				return 0, fmt.Errorf("netdev: read %s: %w", p.name, os.ErrClosed)
			}
			return 0, err
		}
		switch p.rerr {
		case 0:
		case syscall.EINTR, syscall.ENETDOWN:
			continue
		default:
			return 0, p.rerr
		}
		return p.restoreTag(buf, p.rn), nil
	}
}

// readPlain is read(2) without the tag restore.
func (p *SlaveDev) readPlain(buf []byte) (int, error) {
	for {
		n, err := p.c.Read(buf)
		if err != nil && errors.Is(err, syscall.ENETDOWN) {
			continue
		}
		return n, err
	}
}

// recvmsg is the raw read ReadFrame hands the netpoller: false asks to wait
// for the socket to become readable.
func (p *SlaveDev) recvmsg(fd uintptr) bool {
	n, _, e := unix.Syscall(unix.SYS_RECVMSG, fd, uintptr(unsafe.Pointer(&p.msg)), 0)
	if e == unix.EAGAIN {
		return false
	}
	p.rn, p.rerr = int(n), e
	return true
}

// tpacket_auxdata status bits (include/uapi/linux/if_packet.h).
const (
	tpStatusVLANValid     = 1 << 4
	tpStatusVLANTPIDValid = 1 << 6
	virtioNetHdrNeedsCsum = 1 // VIRTIO_NET_HDR_F_NEEDS_CSUM
)

// restoreTag puts the VLAN tag PACKET_AUXDATA reported back into the frame
// of n bytes in buf and returns the new length.
func (p *SlaveDev) restoreTag(buf []byte, n int) int {
	return restoreTag(p.oob[:p.msg.Controllen], buf, n)
}

// restoreTag puts the VLAN tag that the control messages oob (of one
// received frame) report back into the frame of n bytes in buf, which has
// 4 bytes of room after it, and returns the new length.
func restoreTag(oob []byte, buf []byte, n int) int {
	const hl = bond.VnetHdrLen
	if n < hl+14 {
		return n
	}
	for len(oob) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < unix.SizeofCmsghdr || l > len(oob) {
			return n
		}
		data := oob[unix.SizeofCmsghdr:l]
		if h.Level == unix.SOL_PACKET && h.Type == unix.PACKET_AUXDATA && len(data) >= 20 {
			status := binary.NativeEndian.Uint32(data[0:4])
			if status&tpStatusVLANValid == 0 {
				return n
			}
			tci := binary.NativeEndian.Uint16(data[16:18])
			tpid := uint16(0x8100)
			if status&tpStatusVLANTPIDValid != 0 {
				tpid = binary.NativeEndian.Uint16(data[18:20])
			}
			copy(buf[hl+16:n+4], buf[hl+12:n])
			binary.BigEndian.PutUint16(buf[hl+12:], tpid)
			binary.BigEndian.PutUint16(buf[hl+14:], tci)
			// struct virtio_net_hdr, little endian: flags, gso_type,
			// hdr_len, gso_size, csum_start, csum_offset
			if buf[1] != 0 {
				if v := binary.LittleEndian.Uint16(buf[2:4]); v != 0 {
					binary.LittleEndian.PutUint16(buf[2:4], v+4)
				}
			}
			if buf[0]&virtioNetHdrNeedsCsum != 0 {
				binary.LittleEndian.PutUint16(buf[6:8], binary.LittleEndian.Uint16(buf[6:8])+4)
			}
			return n + 4
		}
		oob = oob[cmsgAlign(l):]
	}
	return n
}

func cmsgAlign(l int) int { return (l + 7) &^ 7 }

// WriteFrame sends one frame (vnet header + Ethernet frame) out of the
// interface with write(2) on the transmit socket (openTx). Safe for concurrent use. A send failing with
// ENETDOWN is retried once: after the interface went down and up the socket
// reports that stale error on its next call (datapath.md §4); a second
// ENETDOWN means the interface is down. Other errors: EMSGSIZE for a non-GSO
// frame above the MTU, EINVAL for a bad vnet header, ENXIO once the
// interface is gone, os.ErrClosed after Close.
func (p *SlaveDev) WriteFrame(frame []byte) error {
	p.ring.inflight.Add(1)
	defer p.ring.inflight.Add(-1)
	if p.closed.Load() {
		return fmt.Errorf("netdev: %s: %w", p.name, os.ErrClosed)
	}
	seq := p.ring.record([][]byte{frame}, 0)
	err := p.txWrite(frame)
	if err != nil && errors.Is(err, syscall.ENETDOWN) {
		err = p.txWrite(frame)
	}
	if err != nil && (errors.Is(err, syscall.EMSGSIZE) || errors.Is(err, syscall.EINVAL)) {
		p.ring.refused(seq)
	}
	return err
}

// SetPromiscuous turns promiscuous reception on the interface on or off
// for as long as the SlaveDev is open (PACKET_ADD_MEMBERSHIP PACKET_MR_PROMISC;
// the kernel counts it per socket and drops it when the socket closes).
func (p *SlaveDev) SetPromiscuous(on bool) error {
	return p.membership(on, unix.PACKET_MR_PROMISC, nil)
}

func (p *SlaveDev) membership(add bool, typ uint16, mac net.HardwareAddr) error {
	mreq := unix.PacketMreq{Ifindex: int32(p.index), Type: typ}
	if len(mac) > len(mreq.Address) {
		return fmt.Errorf("netdev: %s: address %v: %w", p.name, mac, syscall.EINVAL)
	}
	mreq.Alen = uint16(copy(mreq.Address[:], mac))
	opt := unix.PACKET_ADD_MEMBERSHIP
	if !add {
		opt = unix.PACKET_DROP_MEMBERSHIP
	}
	rc, err := p.c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptPacketMreq(int(fd), unix.SOL_PACKET, opt, &mreq)
	}); err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("netdev: %s: packet membership: %w", p.name, serr)
	}
	return nil
}

// Close closes the socket (a blocked ReadFrame returns), removes the
// interface's ingress chain (and the table once it holds no chain) and
// restores its previous disable_ipv6 value. A missing interface is not an
// error. Close is idempotent.
func (p *SlaveDev) Close() error {
	p.closeOnce.Do(func() {
		p.closed.Store(true)
		var parked func()
		if p.b.rc != nil {
			parked = p.park.close(p.b.rc)
		}
		errs := []error{p.c.Close()}
		resume(parked) // it finds the socket closed and ends
		// Senders check closed after announcing themselves in inflight:
		// once inflight is 0 no one uses txfd any more.
		for i := 0; i < 2000 && p.ring.inflight.Load() > 0; i++ {
			time.Sleep(time.Millisecond)
		}
		errs = append(errs, unix.Close(p.txfd))
		p.ring.drop()
		memRelease.note()
		errs = append(errs, unisolate(p.ns, p.nftMu, p.chain))
		if p.oldV6 != "" {
			errs = append(errs, setDisableIPv6(p.ns, p.name, p.oldV6, nil))
		}
		p.ns.close()
		p.closeErr = errors.Join(errs...)
	})
	return p.closeErr
}

// OpenSlaveDev opens the data path on link: the receiving AF_PACKET socket
// (created in the Host's namespace, all options set before bind(2) so no
// frame is queued without them), the transmit socket (openTx), the
// nftables ingress drop chain and disable_ipv6=1. It is built on
// github.com/mdlayher/socket, the layer under mdlayher/packet, and raw
// system calls, because packet.Conn only offers ReadFrom/WriteTo, which
// allocate an address per frame and cannot batch; recvmmsg/sendmmsg with
// preallocated headers do neither.
// A missing interface gives an error wrapping syscall.ENODEV.
func (h *Host) OpenSlaveDev(link bond.LinkInfo) (bond.SlaveDev, error) {
	li, err := h.LinkByIndex(link.Index)
	if err != nil {
		return nil, err
	}
	ns, err := h.ns.dup()
	if err != nil {
		return nil, err
	}
	p := &SlaveDev{ns: ns, nftMu: &h.nftMu, name: li.Name, index: li.Index, chain: li.Name + "_in", ring: new(txRing)}
	if err := ns.do(func() error {
		p.c, err = openPacket(li.Index)
		if err == nil {
			if err = p.initBatch(); err != nil {
				p.c.Close()
				return err
			}
			if p.txfd, err = openTx(li.Index); err != nil {
				p.c.Close()
			}
		}
		return err
	}); err != nil {
		ns.close()
		return nil, noDev("open port", li.Name, err)
	}
	if rc, err := p.c.SyscallConn(); err == nil {
		p.rc = rc
		p.readFn = p.recvmsg
	}
	if err := isolate(ns, &h.nftMu, li.Name, p.chain); err != nil {
		p.c.Close()
		unix.Close(p.txfd)
		ns.close()
		return nil, noDev("isolate", li.Name, err)
	}
	if err := setDisableIPv6(ns, li.Name, "1", &p.oldV6); err != nil {
		p.c.Close()
		unix.Close(p.txfd)
		unisolate(ns, &h.nftMu, p.chain)
		ns.close()
		return nil, noDev("disable_ipv6", li.Name, err)
	}
	return p, nil
}

// openPacket creates the AF_PACKET socket in the calling thread's namespace.
func openPacket(ifindex int) (*socket.Conn, error) {
	// Protocol 0 at socket(2): nothing is queued until bind(2) below.
	c, err := socket.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0, "packet", nil)
	if err != nil {
		return nil, err
	}
	opts := []struct {
		level, opt, val int
		name            string
	}{
		{unix.SOL_PACKET, unix.PACKET_VNET_HDR, 1, "PACKET_VNET_HDR"},
		{unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1, "PACKET_IGNORE_OUTGOING"},
		{unix.SOL_PACKET, unix.PACKET_AUXDATA, 1, "PACKET_AUXDATA"},
		{unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, slaveDevBufSize, "SO_RCVBUFFORCE"},
		{unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, slaveDevBufSize, "SO_SNDBUFFORCE"},
	}
	for _, o := range opts {
		if err := c.SetsockoptInt(o.level, o.opt, o.val); err != nil {
			c.Close()
			return nil, fmt.Errorf("%s: %w", o.name, err)
		}
	}
	if err := c.Bind(&unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifindex}); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// openTx creates the SlaveDev's transmit socket in the calling thread's
// namespace: AF_PACKET SOCK_RAW, non-blocking, PACKET_VNET_HDR, a 16 MB
// send buffer, bound to the interface with protocol 0, so that it receives
// nothing (no receive hook; the kernel parses each frame's protocol from its
// Ethernet header). It is used with raw system calls and never registered
// with the Go netpoller (see txCall). Not PACKET_QDISC_BYPASS: the slave's
// qdisc applies as for the kernel's bond, and veth has none (datapath.md
// §3 measured no difference).
func openTx(ifindex int) (int, error) {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("socket: %w", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VNET_HDR, 1); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("PACKET_VNET_HDR: %w", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, slaveDevBufSize); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("SO_SNDBUFFORCE: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Ifindex: ifindex}); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("bind: %w", err)
	}
	return fd, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func nftConn(ns nsRef) (*nftables.Conn, error) {
	if ns.fd < 0 {
		return nftables.New()
	}
	return nftables.New(nftables.WithNetNSFd(ns.fd))
}

var nftTable = &nftables.Table{Family: nftables.TableFamilyNetdev, Name: NftTable}

// isolate adds table NftTable and, in it, an ingress chain for device ifname
// with policy drop, so the interface's own stack sees no frames.
func isolate(ns nsRef, mu *sync.Mutex, ifname, chain string) error {
	mu.Lock()
	defer mu.Unlock()
	c, err := nftConn(ns)
	if err != nil {
		return err
	}
	drop := nftables.ChainPolicyDrop
	c.AddTable(nftTable)
	c.AddChain(&nftables.Chain{
		Name:     chain,
		Table:    nftTable,
		Type:     nftables.ChainTypeFilter,
		Hooknum:  nftables.ChainHookIngress,
		Priority: nftables.ChainPriorityFilter,
		Policy:   &drop,
		Device:   ifname,
	})
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nft add chain netdev %s %s: %w", NftTable, chain, err)
	}
	return nil
}

// ResetIsolation deletes the whole NftTable table of the Host's namespace,
// dropping ingress chains a crashed daemon left on interfaces that are no
// longer enslaved. Call it at daemon start, before opening any SlaveDev. (The
// disable_ipv6 values such a daemon changed cannot be recovered.) A missing
// table is not an error.
func (h *Host) ResetIsolation() error {
	h.nftMu.Lock()
	defer h.nftMu.Unlock()
	c, err := nftConn(h.ns)
	if err != nil {
		return err
	}
	c.DelTable(nftTable)
	if err := c.Flush(); err != nil && !errors.Is(err, syscall.ENOENT) {
		return fmt.Errorf("netdev: nft delete table netdev %s: %w", NftTable, err)
	}
	return nil
}

// unisolate deletes the chain and then the table if no chain is left.
// Missing objects are not errors.
func unisolate(ns nsRef, mu *sync.Mutex, chain string) error {
	mu.Lock()
	defer mu.Unlock()
	c, err := nftConn(ns)
	if err != nil {
		return err
	}
	c.DelChain(&nftables.Chain{Name: chain, Table: nftTable})
	if err := c.Flush(); err != nil && !errors.Is(err, syscall.ENOENT) {
		return fmt.Errorf("nft delete chain netdev %s %s: %w", NftTable, chain, err)
	}
	chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyNetdev)
	if err != nil {
		return fmt.Errorf("nft list chains: %w", err)
	}
	for _, ch := range chains {
		if ch.Table != nil && ch.Table.Name == NftTable {
			return nil
		}
	}
	c.DelTable(nftTable)
	if err := c.Flush(); err != nil && !errors.Is(err, syscall.ENOENT) {
		return fmt.Errorf("nft delete table netdev %s: %w", NftTable, err)
	}
	return nil
}

// setDisableIPv6 writes val to net.ipv6.conf.<ifname>.disable_ipv6 inside
// ns; if old is not nil it first stores the current value there. A missing
// file (no IPv6, or the interface is gone) is not an error.
func setDisableIPv6(ns nsRef, ifname, val string, old *string) error {
	path := "/proc/sys/net/ipv6/conf/" + ifname + "/disable_ipv6"
	return ns.do(func() error {
		// /proc/sys/net resolves against the namespace of the thread that
		// opens the file.
		if old != nil {
			b, err := os.ReadFile(path)
			if errors.Is(err, os.ErrNotExist) {
				return nil
			}
			if err != nil {
				return err
			}
			*old = strings.TrimSpace(string(b))
		}
		err := os.WriteFile(path, []byte(val+"\n"), 0o644)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	})
}
