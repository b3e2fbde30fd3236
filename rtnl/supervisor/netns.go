//go:build linux

package supervisor

import (
	"encoding/binary"
	"errors"
	"runtime"
	"sync"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"bondingfs/bond"
)

// netnsConn is the supervisor's presence in one caller network namespace:
// conn asks the kernel (links, the kernel's part of a request), inject
// sends replies and events to the callers' portids. It implements
// rtnl.Kernel.
type netnsConn struct {
	ino    uint64
	mu     sync.Mutex // one request on conn at a time
	conn   *netlink.Conn
	inject int
	portid uint32 // inject's portid: its messages are "from the kernel" to callers
	events int    // the event socket (events.go)
	evPort uint32 // its portid: its messages are RTNLGRP_LINK multicasts to callers
}

// socketAt makes a NETLINK_ROUTE socket of type typ in the network
// namespace nsfd, from a thread of its own (setns there and back; a thread
// that cannot get back is not returned to the scheduler).
func socketAt(nsfd, typ int) (int, error) {
	type res struct {
		fd  int
		err error
	}
	ch := make(chan res, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			ch <- res{-1, err}
			return
		}
		defer unix.Close(orig)
		if err := unix.Setns(nsfd, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			ch <- res{-1, err}
			return
		}
		fd, err := unix.Socket(unix.AF_NETLINK, typ, unix.NETLINK_ROUTE)
		if unix.Setns(orig, unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		ch <- res{fd, err}
	}()
	r := <-ch
	return r.fd, r.err
}

// netns returns the connection to the network namespace of pid (nsfd is
// /proc/<pid>/ns/net opened), made on first use.
func (s *Supervisor) netns(nsfd int) (*netnsConn, error) {
	var st unix.Stat_t
	if err := unix.Fstat(nsfd, &st); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := s.nets[st.Ino]; n != nil {
		return n, nil
	}
	conn, err := netlink.Dial(unix.NETLINK_ROUTE, &netlink.Config{NetNS: nsfd})
	if err != nil {
		return nil, err
	}
	_ = conn.SetOption(netlink.ExtendedAcknowledge, true)
	inj, err := socketAt(nsfd, unix.SOCK_RAW|unix.SOCK_CLOEXEC)
	if err != nil {
		conn.Close()
		return nil, err
	}
	if err := unix.Bind(inj, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		conn.Close()
		unix.Close(inj)
		return nil, err
	}
	sa, err := unix.Getsockname(inj)
	if err != nil {
		conn.Close()
		unix.Close(inj)
		return nil, err
	}
	ev, evPort, err := boundSocketAt(nsfd)
	if err != nil {
		conn.Close()
		unix.Close(inj)
		return nil, err
	}
	n := &netnsConn{ino: st.Ino, conn: conn, inject: inj, portid: sa.(*unix.SockaddrNetlink).Pid, events: ev, evPort: evPort}
	s.nets[st.Ino] = n
	return n, nil
}

// callerNetns is netns for the process tgid.
func (s *Supervisor) callerNetns(tgid int) (*netnsConn, error) {
	fd, err := unix.Open("/proc/"+itoa(tgid)+"/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	return s.netns(fd)
}

// boundSocketAt is socketAt, bound (autobind) in nsfd, with its portid.
func boundSocketAt(nsfd int) (int, uint32, error) {
	fd, err := socketAt(nsfd, unix.SOCK_RAW|unix.SOCK_CLOEXEC)
	if err != nil {
		return -1, 0, err
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return -1, 0, err
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		unix.Close(fd)
		return -1, 0, err
	}
	return fd, sa.(*unix.SockaddrNetlink).Pid, nil
}

// sender kinds of helperPortid
const (
	fromOther = iota
	fromReply // an injected reply
	fromEvent // a synthesized RTNLGRP_LINK event
)

// helperPortid tells whether portid is one of the supervisor's injecting
// sockets, and which.
func (s *Supervisor) helperPortid(portid uint32) int {
	if portid == 0 {
		return fromOther
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range s.nets {
		switch portid {
		case n.portid:
			return fromReply
		case n.evPort:
			return fromEvent
		}
	}
	return fromOther
}

func (n *netnsConn) close() {
	n.conn.Close()
	unix.Close(n.inject)
	unix.Close(n.events)
}

// send unicasts msgs to portid as from the kernel (the receive path turns
// the sender into 0).
func (n *netnsConn) send(portid uint32, msgs []byte) error {
	return unix.Sendto(n.inject, msgs, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Pid: portid})
}

// link asks for one link (RTM_GETLINK by index or name) and returns its
// index and name.
func (n *netnsConn) link(index int32, name string) (int32, string, bool) {
	body := make([]byte, unix.SizeofIfInfomsg)
	binary.NativeEndian.PutUint32(body[4:8], uint32(index))
	if name != "" {
		ae := netlink.NewAttributeEncoder()
		ae.String(unix.IFLA_IFNAME, name)
		ae.Uint32(unix.IFLA_EXT_MASK, 0)
		b, err := ae.Encode()
		if err != nil {
			return 0, "", false
		}
		body = append(body, b...)
	}
	n.mu.Lock()
	msgs, err := n.conn.Execute(netlink.Message{Header: netlink.Header{Type: unix.RTM_GETLINK, Flags: netlink.Request}, Data: body})
	n.mu.Unlock()
	if err != nil || len(msgs) == 0 || len(msgs[0].Data) < unix.SizeofIfInfomsg {
		return 0, "", false
	}
	d := msgs[0].Data
	idx := int32(binary.NativeEndian.Uint32(d[4:8]))
	ad, err := netlink.NewAttributeDecoder(d[unix.SizeofIfInfomsg:])
	if err != nil {
		return 0, "", false
	}
	for ad.Next() {
		if ad.Type() == unix.IFLA_IFNAME {
			return idx, ad.String(), true
		}
	}
	return 0, "", false
}

// NameOf is rtnl.Links.
func (n *netnsConn) NameOf(index int32) (string, bool) {
	if index <= 0 {
		return "", false
	}
	_, name, ok := n.link(index, "")
	return name, ok
}

// IndexOf is rtnl.Kernel.
func (n *netnsConn) IndexOf(name string) (int32, bool) {
	if name == "" {
		return 0, false
	}
	idx, _, ok := n.link(0, name)
	return idx, ok
}

// Do is rtnl.Kernel: msg is sent with the supervisor's credentials, so the
// caller's right to it was checked before.
func (n *netnsConn) Do(msg []byte) error {
	var m netlink.Message
	if err := m.UnmarshalBinary(msg); err != nil {
		return &bond.LinkError{Errno: unix.EINVAL}
	}
	m.Header.Sequence = 0
	m.Header.PID = 0
	m.Header.Flags |= netlink.Request | netlink.Acknowledge
	n.mu.Lock()
	_, err := n.conn.Execute(m)
	n.mu.Unlock()
	if err == nil {
		return nil
	}
	var oe *netlink.OpError
	if errors.As(err, &oe) {
		var en unix.Errno
		if errors.As(oe.Err, &en) {
			return &bond.LinkError{Errno: en, Msg: oe.Message}
		}
	}
	return &bond.LinkError{Errno: unix.EIO}
}

func itoa(i int) string {
	var b [20]byte
	p := len(b)
	if i == 0 {
		return "0"
	}
	for i > 0 {
		p--
		b[p] = byte('0' + i%10)
		i /= 10
	}
	return string(b[p:])
}
