package netdev

import (
	"fmt"
	"syscall"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// vlanLinks returns the namespace's VLAN devices. On the dump socket with
// NETLINK_GET_STRICT_CHK (Linux 4.20+) the RTM_GETLINK dump asks for kind
// "vlan" only (IFLA_LINKINFO/IFLA_INFO_KIND, as CarriersOfKind does): the
// kernel fills no message for the other links, and only the VLANs are
// decoded (vishvananda/netlink's LinkDeserialize). A kernel without the
// 8021q module knows no "vlan" kind and so applies no filter
// (rtnl_dump_ifinfo filters only by a kind it has ops for): every link
// comes back, and each is skipped by its IFLA_INFO_KIND before anything is
// decoded (linkKind). Decoding them all had been 29 % of what the daemon
// allocated over scripts/bench-idle.sh (175 of 607 MB, 100 bonds). Without a strict socket it
// is vishvananda/netlink's LinkList of every link, as before.
//
// Why (issue 19): VLANUppers runs at every bond's gratuitous ARP
// (notifyPeers) and at the ARP and NS monitors' route reads; with 100 bonds
// over 200 veths LinkList decoded all 301 links of the namespace each time,
// garbage made while the bonds came up whose 480-byte netlink.Link values
// (200 of them live in a heap profile then) share a size class with the
// goroutine descriptors the runtime never frees (docs/benchmarks.md, "Idle
// cost"). Goroutine: any (one dump at a time on the Host's dump socket).
// Errors: the socket's errno, a NLMSG_ERROR's errno, errDumpInterrupted.
func (h *Host) vlanLinks() ([]*netlink.Vlan, error) {
	d := &h.dump
	d.mu.Lock()
	defer d.mu.Unlock()
	select {
	case <-h.closed:
		return nil, fmt.Errorf("netdev: link dump: %w", syscall.EBADF)
	default:
	}
	if d.fd < 0 {
		fd, err := h.openDumpSocket()
		if err != nil {
			return nil, err
		}
		d.fd, d.buf = fd, make([]byte, carrierDumpBuf)
		d.strict = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_GET_STRICT_CHK, 1) == nil
	}
	if !d.strict {
		return vlansOf(h.nl.LinkList())
	}
	d.seq++
	if err := unix.Sendto(d.fd, dumpRequest(d.seq, "vlan"), 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, fmt.Errorf("netdev: link dump: %w", err)
	}
	var out []*netlink.Vlan
	var derr error
	for {
		n, _, err := unix.Recvfrom(d.fd, d.buf, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			unix.Close(d.fd) // the rest of this dump may still be queued
			d.fd = -1
			return nil, fmt.Errorf("netdev: link dump: %w", err)
		}
		var done bool
		var e error
		out, done, e = decodeVLANs(d.buf[:n], d.seq, out)
		if e != nil && derr == nil {
			derr = e
		}
		if done {
			break
		}
	}
	if derr != nil {
		return nil, derr
	}
	return out, nil
}

// vlansOf keeps the VLANs of a LinkList.
func vlansOf(links []netlink.Link, err error) ([]*netlink.Vlan, error) {
	if err != nil {
		return nil, err
	}
	var out []*netlink.Vlan
	for _, l := range links {
		if v, ok := l.(*netlink.Vlan); ok {
			out = append(out, v)
		}
	}
	return out, nil
}

// decodeVLANs decodes one datagram of the dump with sequence number seq,
// appending each RTM_NEWLINK that is a VLAN to dst (a kernel that ignored
// the kind filter sends every link: the others are skipped). done and err
// are dumpWalk's. A message LinkDeserialize refuses or panics on is
// skipped.
func decodeVLANs(b []byte, seq uint32, dst []*netlink.Vlan) (out []*netlink.Vlan, done bool, err error) {
	w := dumpWalk{b: b, seq: seq}
	for {
		hdr, msg, ok := w.next()
		if !ok {
			return dst, w.done, w.err
		}
		if v := decodeVLAN(&hdr, msg); v != nil {
			dst = append(dst, v)
		}
	}
}

// decodeVLAN is the VLAN an RTM_NEWLINK describes, or nil.
func decodeVLAN(hdr *unix.NlMsghdr, msg []byte) (v *netlink.Vlan) {
	defer func() {
		if recover() != nil {
			v = nil
		}
	}()
	if string(linkKind(msg)) != "vlan" {
		return nil // not decoded: only a VLAN is worth LinkDeserialize's garbage
	}
	l, err := netlink.LinkDeserialize(hdr, msg)
	if err != nil {
		return nil
	}
	v, _ = l.(*netlink.Vlan)
	return v
}
