package netdev

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"

	"bondingfs/bond"
)

// subRcvBuf is the netlink receive buffer of a link subscription in bytes
// (SO_RCVBUFFORCE); a bigger buffer makes ENOBUFS overruns rarer. Tests
// shrink it to force overruns.
var subRcvBuf = 4 << 20

// linkStream is one rtnetlink RTNLGRP_LINK socket, read by one goroutine
// (runLinks). The socket is opened here and read by our own loop, not by
// vishvananda/netlink's LinkSubscribe goroutine (whose messages and link
// decoding we still use), because the loop must count the datagram it has
// taken off the socket and not yet delivered (inflight): LinkEventsPending
// needs that count to tell whether every event the kernel queued has
// reached the engine.
type linkStream struct {
	file *os.File
	conn syscall.RawConn
	// inflight is 1 from just before a recvfrom until the messages it
	// returned have all been delivered, else 0.
	inflight atomic.Int32
	buf      []byte
}

// openLinkStream opens a link subscription in the Host's namespace; with
// listExisting it also asks for a dump of every link, whose answers arrive
// on the same socket ahead of later events.
func (h *Host) openLinkStream(listExisting bool) (*linkStream, error) {
	fd := -1
	err := h.ns.do(func() error {
		var err error
		fd, err = unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_ROUTE)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("netdev: subscribe to link events: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: 1 << (unix.RTNLGRP_LINK - 1)}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netdev: subscribe to link events: bind: %w", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, subRcvBuf); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netdev: subscribe to link events: SO_RCVBUFFORCE: %w", err)
	}
	if listExisting {
		req := nl.NewNetlinkRequest(unix.RTM_GETLINK, unix.NLM_F_DUMP)
		req.AddData(nl.NewIfInfomsg(unix.AF_UNSPEC))
		if err := unix.Sendto(fd, req.Serialize(), 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("netdev: link dump: %w", err)
		}
	}
	// a non-blocking fd joins the runtime's netpoller
	f := os.NewFile(uintptr(fd), "rtnetlink-link")
	conn, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("netdev: subscribe to link events: %w", err)
	}
	return &linkStream{file: f, conn: conn, buf: make([]byte, nl.RECEIVE_BUFFER_SIZE)}, nil
}

// close closes the socket; a receive waiting on it returns an error.
func (s *linkStream) close() { _ = s.file.Close() }

// receive takes the next datagram off the socket, waiting for one, and
// returns its link events (decodeLinkDatagram). inflight is raised before the datagram leaves the
// socket; the caller lowers it once the messages are delivered (done).
func (s *linkStream) receive() ([]bond.LinkEvent, error) {
	var n int
	var from unix.Sockaddr
	var rerr error
	err := s.conn.Read(func(fd uintptr) bool {
		s.inflight.Store(1)
		for {
			n, from, rerr = unix.Recvfrom(int(fd), s.buf, 0)
			if rerr != unix.EINTR {
				break
			}
		}
		if rerr == unix.EAGAIN {
			s.inflight.Store(0)
			return false // wait in the netpoller
		}
		return true
	})
	if err == nil {
		err = rerr
	}
	if err != nil {
		return nil, err
	}
	if sa, ok := from.(*unix.SockaddrNetlink); !ok || sa.Pid != nl.PidKernel {
		return nil, nil // not from the kernel: ignored
	}
	return decodeLinkDatagram(s.buf[:n]), nil
}

// decodeLinkDatagram decodes one rtnetlink datagram into the link events
// it carries (RTM_NEWLINK, RTM_DELLINK; the NLMSG_DONE and NLMSG_ERROR of
// a dump carry none). A datagram that does not parse, or a message the
// link decoder (vishvananda/netlink's LinkDeserialize) refuses or panics
// on, is skipped: the kernel is the only sender, and a resync repairs
// what a lost event leaves stale.
func decodeLinkDatagram(b []byte) (evs []bond.LinkEvent) {
	if len(b) < unix.NLMSG_HDRLEN {
		return nil
	}
	msgs, err := syscall.ParseNetlinkMessage(b)
	if err != nil {
		return nil
	}
	for _, m := range msgs {
		if m.Header.Type != unix.RTM_NEWLINK && m.Header.Type != unix.RTM_DELLINK {
			continue
		}
		if ev, ok := decodeLinkMsg(m); ok {
			evs = append(evs, ev)
		}
	}
	return evs
}

func decodeLinkMsg(m syscall.NetlinkMessage) (ev bond.LinkEvent, ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	if len(m.Data) < unix.SizeofIfInfomsg {
		return ev, false
	}
	hdr := unix.NlMsghdr(m.Header)
	l, err := netlink.LinkDeserialize(&hdr, m.Data)
	if err != nil {
		return ev, false
	}
	// an RTM_DELLINK of family AF_BRIDGE says that a port left its bridge
	// (br_ifinfo_notify), not that the device went
	deleted := m.Header.Type == unix.RTM_DELLINK && m.Data[0] != unix.AF_BRIDGE
	return bond.LinkEvent{Link: linkInfo(l), Deleted: deleted}, true
}

func (s *linkStream) done() { s.inflight.Store(0) }

// queued reports whether the socket holds a datagram (or an error) not yet
// received: a MSG_PEEK that does not wait. The kernel reports a pending
// overrun (ENOBUFS) to the first receive, peeking or not, and forgets it;
// queued returns it so that the caller can hand it on to the reader.
func (s *linkStream) queued() (bool, error) {
	var b [unix.NLMSG_HDRLEN]byte
	queued, perr := true, error(nil)
	err := s.conn.Control(func(fd uintptr) {
		_, _, e := unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT|unix.MSG_TRUNC)
		switch e {
		case unix.EAGAIN:
			queued = false
		case nil:
		default:
			perr = e
		}
	})
	if err != nil {
		return true, err
	}
	return queued, perr
}

// SubscribeLinks delivers every RTM_NEWLINK and RTM_DELLINK of the Host's
// namespace to fn as a bond.LinkEvent, in kernel order, from one goroutine,
// until ctx ends or the Host is closed. It returns once the netlink
// subscription is in place (existing links are not replayed). If the
// subscription fails — typically ENOBUFS when fn falls behind — it
// resubscribes with a full dump and reports links that vanished meanwhile
// as Deleted, so no state is lost; events may then repeat.
//
// Only one subscription per Host reports to LinkEventsPending.
func (h *Host) SubscribeLinks(ctx context.Context, fn func(bond.LinkEvent)) error {
	s, err := h.openLinkStream(false)
	if err != nil {
		return err
	}
	h.linkStream.Store(s)
	go h.runLinks(ctx, fn, s)
	return nil
}

// LinkEventsPending implements bond.LinkEventBarrier: it reports false
// only when every link event the kernel queued on the subscription before
// the call has been handed to SubscribeLinks' fn and fn has returned —
// the socket is empty (a MSG_PEEK answers EAGAIN) and the reader holds no
// message it took off it — and no resubscription is under way. rtnetlink
// queues RTM_NEWLINK and RTM_DELLINK before the change that caused them
// returns to its caller (rtnl_notify under RTNL), so "no event pending"
// means the engine has seen every such change made before the call.
// Carrier changes reach rtnetlink through linkwatch, a little later, as
// they reach the kernel's own bonding driver (NETDEV_CHANGE).
func (h *Host) LinkEventsPending() bool {
	s := h.linkStream.Load()
	if s == nil || h.linkOverrun.Load() {
		return true
	}
	queued, err := s.queued()
	if errors.Is(err, unix.ENOBUFS) {
		// the peek took the overrun the reader must act on
		h.linkOverrun.Store(true)
		return true
	}
	if queued || err != nil {
		return true
	}
	return s.inflight.Load() != 0
}

func (h *Host) runLinks(ctx context.Context, fn func(bond.LinkEvent), s *linkStream) {
	known := make(map[int]bond.LinkInfo) // links seen alive, for resync
	// Closing the socket is what wakes a reader waiting for a datagram: a
	// watcher closes the current stream once ctx ends or the Host closes.
	var mu sync.Mutex
	cur, ended := s, false
	stop := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
		case <-h.closed:
		case <-stop:
		}
		mu.Lock()
		ended = true
		if cur != nil {
			cur.close()
		}
		mu.Unlock()
	}()
	// replace closes the current stream and installs next (nil: none); it
	// reports false (closing next) once the subscription has ended.
	replace := func(next *linkStream) bool {
		mu.Lock()
		defer mu.Unlock()
		h.linkStream.CompareAndSwap(cur, nil)
		if cur != nil {
			cur.close()
		}
		cur = next
		if ended && next != nil {
			next.close()
			return false
		}
		if next != nil {
			h.linkStream.Store(next)
		}
		return !ended
	}
	defer func() {
		replace(nil)
		close(stop)
	}()
	peak := 0 // the most links known at once since known was made
	for {
		evs, err := s.receive()
		for _, ev := range evs {
			if ev.Deleted {
				delete(known, ev.Link.Index)
				known, peak = shrinkKnown(known, peak)
			} else {
				known[ev.Link.Index] = ev.Link
				peak = max(peak, len(known))
			}
			fn(ev)
		}
		if err == nil && !h.linkOverrun.Load() {
			s.done()
			continue
		}
		// an overrun (ENOBUFS, from the reader's receive or a peek) or a
		// broken or closed socket: start again from a dump, unless the
		// subscription has ended
		if !replace(nil) {
			return
		}
		h.resubscribed.Add(1)
		s = h.resubscribe(ctx, fn, known)
		if s == nil || !replace(s) {
			return
		}
	}
}

// shrinkKnown returns known copied into a fresh map once at most a quarter
// of its peak (of at least 64 links) is left, with the new peak; else known
// and peak as they are. A Go map never gives back the room its deleted
// entries took: after 100 bonds and their slaves are deleted the map would
// keep the size of the namespace at its largest (issue 19).
func shrinkKnown(known map[int]bond.LinkInfo, peak int) (map[int]bond.LinkInfo, int) {
	if peak < 64 || len(known) > peak/4 {
		return known, peak
	}
	fresh := make(map[int]bond.LinkInfo, len(known))
	for k, v := range known {
		fresh[k] = v
	}
	return fresh, len(fresh)
}

// resubscribe opens a new subscription with a dump of all links and reports
// links in known that no longer exist as deleted. It retries every 100 ms
// and returns nil once ctx ends or the Host is closed. The caller publishes
// the new stream to LinkEventsPending after the deletions are delivered; its
// dump answers are then still queued on it, so it reads as pending until
// they are delivered too.
func (h *Host) resubscribe(ctx context.Context, fn func(bond.LinkEvent), known map[int]bond.LinkInfo) *linkStream {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-h.closed:
			return nil
		default:
		}
		h.linkOverrun.Store(false)
		s, err := h.openLinkStream(true)
		if err == nil {
			links, lerr := h.nl.LinkList()
			if lerr == nil {
				alive := make(map[int]bool, len(links))
				for _, l := range links {
					alive[l.Attrs().Index] = true
				}
				for idx, li := range known {
					if !alive[idx] {
						delete(known, idx)
						fn(bond.LinkEvent{Link: li, Deleted: true})
					}
				}
				return s
			}
			s.close()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-h.closed:
			return nil
		case <-time.After(100 * time.Millisecond):
		}
	}
}
