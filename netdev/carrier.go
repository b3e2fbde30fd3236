package netdev

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"bondingfs/bond"
)

// The MII monitor's carrier read (bond.CarrierLister): one RTM_GETLINK dump
// of the namespace per miimon period, on a netlink socket the Host keeps
// for it, decoding only what the monitor needs from each RTM_NEWLINK: the
// ifinfomsg's index and flags (IFF_UP, IFF_LOWER_UP) and IFLA_STATS64's
// tx_dropped. vishvananda/netlink's LinkList decodes every attribute of
// every link into a netlink.Link; for 300 links ten times a second that
// decoding, not the dump, was the cost.

var (
	_ bond.CarrierLister     = (*Host)(nil)
	_ bond.KindCarrierLister = (*Host)(nil)
)

// carrierDump is the Host's dump socket: one dump at a time (mu).
type carrierDump struct {
	mu     sync.Mutex
	fd     int // -1 until the first dump; closed by Host.Close
	seq    uint32
	buf    []byte // one datagram; the kernel's dump datagrams are at most 32 KB
	strict bool   // NETLINK_GET_STRICT_CHK is on: the kernel honours a kind filter
}

// iflaStats64 is IFLA_STATS64 (include/uapi/linux/if_link.h); the
// struct rtnl_link_stats64 in it has tx_dropped as its eighth __u64.
const (
	iflaStats64          = 23
	stats64TxDropped     = 7 * 8
	carrierDumpBuf       = 64 << 10
	carrierDumpWaitMs    = 1000   // SO_RCVTIMEO: a dump that stalls this long fails
	nlaTypeMask          = 0x3fff // NLA_TYPE_MASK: without NLA_F_NESTED, NLA_F_NET_BYTEORDER
	rtextFilterSkipStats = 1 << 3 // RTEXT_FILTER_SKIP_STATS (include/uapi/linux/rtnetlink.h)
)

// errDumpInterrupted is a dump the kernel marked NLM_F_DUMP_INTR: links
// changed while it ran, so it may have missed or repeated some.
var errDumpInterrupted = errors.New("netdev: link dump interrupted (NLM_F_DUMP_INTR)")

// Carriers appends the admin state, carrier and tx_dropped of every link of
// the Host's namespace to dst[:0] (bond.CarrierLister), from one RTM_GETLINK
// dump. Goroutine: any (one dump at a time). Errors: the socket's errno, a
// NLMSG_ERROR's errno, errDumpInterrupted, EAGAIN after a 1 s stall.
// Kernel counterpart: what bond_miimon_inspect reads with netif_carrier_ok,
// for every slave at once.
func (h *Host) Carriers(dst []bond.CarrierState) ([]bond.CarrierState, error) {
	return h.carriers("", dst)
}

// CarriersOfKind is Carriers for the links of one rtnetlink kind ("veth")
// only (bond.KindCarrierLister): the request carries IFLA_LINKINFO with
// IFLA_INFO_KIND on a socket with NETLINK_GET_STRICT_CHK, and the kernel
// skips the other links before filling their messages (rtnl_dump_ifinfo,
// link_dump_filtered; Linux 4.20+). Where the socket could not be made
// strict the whole namespace is dumped, as by Carriers.
func (h *Host) CarriersOfKind(kind string, dst []bond.CarrierState) ([]bond.CarrierState, error) {
	return h.carriers(kind, dst)
}

func (h *Host) carriers(kind string, dst []bond.CarrierState) ([]bond.CarrierState, error) {
	d := &h.dump
	d.mu.Lock()
	defer d.mu.Unlock()
	select {
	case <-h.closed:
		return dst[:0], fmt.Errorf("netdev: link dump: %w", syscall.EBADF)
	default:
	}
	if d.fd < 0 {
		fd, err := h.openDumpSocket()
		if err != nil {
			return dst[:0], err
		}
		d.fd, d.buf = fd, make([]byte, carrierDumpBuf)
		d.strict = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_GET_STRICT_CHK, 1) == nil
	}
	d.seq++
	if !d.strict {
		kind = ""
	}
	req := dumpRequest(d.seq, kind)
	if err := unix.Sendto(d.fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return dst[:0], fmt.Errorf("netdev: link dump: %w", err)
	}
	dst = dst[:0]
	var derr error
	for {
		n, _, err := unix.Recvfrom(d.fd, d.buf, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			// the socket may still hold the rest of this dump: start the
			// next one on a fresh socket
			unix.Close(d.fd)
			d.fd = -1
			return dst[:0], fmt.Errorf("netdev: link dump: %w", err)
		}
		var done bool
		var e error
		dst, done, e = decodeCarriers(d.buf[:n], d.seq, dst)
		if e != nil && derr == nil {
			derr = e
		}
		if done {
			break
		}
	}
	if derr != nil {
		return dst[:0], derr
	}
	return dst, nil
}

// openDumpSocket opens the dump socket in the Host's namespace: blocking,
// with a receive timeout, subscribed to no group.
func (h *Host) openDumpSocket() (int, error) {
	fd := -1
	err := h.ns.do(func() error {
		var err error
		fd, err = unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
		return err
	})
	if err != nil {
		return -1, fmt.Errorf("netdev: link dump socket: %w", err)
	}
	tv := unix.NsecToTimeval(carrierDumpWaitMs * 1e6)
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("netdev: link dump socket: SO_RCVTIMEO: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("netdev: link dump socket: bind: %w", err)
	}
	return fd, nil
}

// closeDump closes the dump socket (Host.Close).
func (h *Host) closeDump() {
	d := &h.dump
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fd >= 0 {
		unix.Close(d.fd)
		d.fd = -1
	}
}

// dumpRequest is RTM_GETLINK with NLM_F_DUMP, an AF_UNSPEC ifinfomsg and
// IFLA_EXT_MASK RTEXT_FILTER_SKIP_STATS: the kernel then leaves out each
// link's IPv6 statistics (inet6_fill_ifla6_attrs sums them over every CPU,
// the largest part of a dump's cost), not IFLA_STATS64. A kind ("veth")
// adds IFLA_LINKINFO { IFLA_INFO_KIND kind }, the kernel's dump filter
// (honoured on a NETLINK_GET_STRICT_CHK socket).
func dumpRequest(seq uint32, kind string) []byte {
	ne := binary.NativeEndian
	n := unix.NLMSG_HDRLEN + unix.SizeofIfInfomsg + unix.SizeofRtAttr + 4
	kindLen := unix.SizeofRtAttr + len(kind) + 1 // NUL-terminated string
	if kind != "" {
		n += unix.SizeofRtAttr + rtaAlign(kindLen)
	}
	b := make([]byte, n)
	ne.PutUint32(b[0:], uint32(n))
	ne.PutUint16(b[4:], unix.RTM_GETLINK)
	ne.PutUint16(b[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	ne.PutUint32(b[8:], seq)
	a := b[unix.NLMSG_HDRLEN+unix.SizeofIfInfomsg:]
	ne.PutUint16(a[0:], unix.SizeofRtAttr+4)
	ne.PutUint16(a[2:], unix.IFLA_EXT_MASK)
	ne.PutUint32(a[4:], rtextFilterSkipStats)
	if kind != "" {
		a = a[unix.SizeofRtAttr+4:]
		ne.PutUint16(a[0:], uint16(unix.SizeofRtAttr+rtaAlign(kindLen)))
		ne.PutUint16(a[2:], unix.IFLA_LINKINFO|unix.NLA_F_NESTED)
		k := a[unix.SizeofRtAttr:]
		ne.PutUint16(k[0:], uint16(kindLen))
		ne.PutUint16(k[2:], unix.IFLA_INFO_KIND)
		copy(k[unix.SizeofRtAttr:], kind)
	}
	return b
}

// decodeCarriers decodes one datagram of the dump with sequence number seq,
// appending each RTM_NEWLINK's state to dst. done and err are dumpWalk's.
func decodeCarriers(b []byte, seq uint32, dst []bond.CarrierState) (out []bond.CarrierState, done bool, err error) {
	w := dumpWalk{b: b, seq: seq}
	for {
		_, msg, ok := w.next()
		if !ok {
			return dst, w.done, w.err
		}
		if st, ok := decodeCarrier(msg); ok {
			dst = append(dst, st)
		}
	}
}

// dumpWalk walks one datagram of an RTM_GETLINK dump with sequence number
// seq (b): next returns each RTM_NEWLINK's header and payload in turn. Once
// next says no more, done is true if the dump ended (NLMSG_DONE or
// NLMSG_ERROR) and err is the NLMSG_ERROR's errno or errDumpInterrupted.
// Messages of other sequence numbers (a dump a failed call left behind)
// are skipped, and a malformed length ends the datagram. A value type with
// no callback, so that the MII monitor's carrier read allocates nothing.
type dumpWalk struct {
	b    []byte
	seq  uint32
	done bool
	err  error
}

func (w *dumpWalk) next() (hdr unix.NlMsghdr, msg []byte, ok bool) {
	ne := binary.NativeEndian
	for !w.done && len(w.b) >= unix.NLMSG_HDRLEN {
		b := w.b
		l := int(ne.Uint32(b[0:4]))
		if l < unix.NLMSG_HDRLEN || l > len(b) {
			w.b = nil
			w.err = nil
			return hdr, nil, false
		}
		typ, flags, mseq := ne.Uint16(b[4:6]), ne.Uint16(b[6:8]), ne.Uint32(b[8:12])
		msg = b[unix.NLMSG_HDRLEN:l]
		w.b = b[min(nlmAlign(l), len(b)):]
		if mseq != w.seq {
			continue
		}
		if flags&unix.NLM_F_DUMP_INTR != 0 {
			w.err = errDumpInterrupted
		}
		switch typ {
		case unix.NLMSG_DONE:
			w.done = true
		case unix.NLMSG_ERROR:
			w.done = true
			if len(msg) >= 4 {
				if e := int32(ne.Uint32(msg[0:4])); e < 0 {
					w.err = fmt.Errorf("netdev: link dump: %w", syscall.Errno(-e))
				}
			}
		case unix.RTM_NEWLINK:
			return unix.NlMsghdr{Len: uint32(l), Type: typ, Flags: flags, Seq: mseq}, msg, true
		}
	}
	return hdr, nil, false
}

// decodeCarrier decodes one RTM_NEWLINK's payload (ifinfomsg and
// attributes).
func decodeCarrier(m []byte) (bond.CarrierState, bool) {
	ne := binary.NativeEndian
	if len(m) < unix.SizeofIfInfomsg {
		return bond.CarrierState{}, false
	}
	flags := ne.Uint32(m[8:12])
	st := bond.CarrierState{
		Index:   int(int32(ne.Uint32(m[4:8]))),
		Up:      flags&unix.IFF_UP != 0,
		Carrier: flags&unix.IFF_LOWER_UP != 0,
	}
	if s := findAttr(m[unix.SizeofIfInfomsg:], iflaStats64); len(s) >= stats64TxDropped+8 {
		st.TxDropped = ne.Uint64(s[stats64TxDropped:])
	}
	return st, true
}

// findAttr returns the payload of the first of the route attributes in a
// whose type (less NLA_F_NESTED and NLA_F_NET_BYTEORDER) is typ; nil when
// none is, or the attributes are malformed before it. No allocation.
func findAttr(a []byte, typ uint16) []byte {
	ne := binary.NativeEndian
	for len(a) >= unix.SizeofRtAttr {
		l := int(ne.Uint16(a[0:2]))
		if l < unix.SizeofRtAttr || l > len(a) {
			return nil
		}
		if ne.Uint16(a[2:4])&nlaTypeMask == typ {
			return a[unix.SizeofRtAttr:l]
		}
		next := rtaAlign(l)
		if next > len(a) {
			return nil
		}
		a = a[next:]
	}
	return nil
}

// linkKind returns the kind of the link an RTM_NEWLINK payload (ifinfomsg
// and attributes) describes: its IFLA_LINKINFO's IFLA_INFO_KIND without the
// NUL, nil for a link with none (a NIC). No allocation.
func linkKind(m []byte) []byte {
	if len(m) < unix.SizeofIfInfomsg {
		return nil
	}
	k := findAttr(findAttr(m[unix.SizeofIfInfomsg:], unix.IFLA_LINKINFO), unix.IFLA_INFO_KIND)
	for len(k) > 0 && k[len(k)-1] == 0 {
		k = k[:len(k)-1]
	}
	return k
}

func nlmAlign(l int) int { return (l + unix.NLMSG_ALIGNTO - 1) &^ (unix.NLMSG_ALIGNTO - 1) }
func rtaAlign(l int) int { return (l + unix.RTA_ALIGNTO - 1) &^ (unix.RTA_ALIGNTO - 1) }
