//go:build linux

// Package supervisor answers the seccomp user notifications of processes
// run under `bondingfs exec`: their NETLINK_ROUTE sockets, placed in a
// reserved fd range, are real kernel sockets, and only their sends and
// receives come here. Requests that concern a bond are carried out by the
// bonding engine (package rtnl's Execute) and answered by injection from a
// helper socket; replies and events the kernel delivers for a bond's TAP
// and its ports are rewritten (rtnl.Rewrite) on the way to the caller.
// Anything else continues to the kernel untouched
// (SECCOMP_USER_NOTIF_FLAG_CONTINUE).
//
// Goroutines: one reads the listener (Serve); each notification is handled
// on a goroutine of its own, so a slow or blocked caller (a receive that
// waits for data) never holds up another.
package supervisor

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"bondingfs/bond"
	"bondingfs/rtnl"
)

// Limits on what is read from a caller.
const (
	maxSend   = 1 << 20 // bytes of one send; a larger one continues to the kernel
	maxIov    = 1024    // UIO_MAXIOV
	opTimeout = 30 * time.Second
	// waitTick is how often a blocked receive checks that its caller still
	// waits and has no signal pending.
	waitTick = 100 * time.Millisecond
)

// Config is what the supervisor works with.
type Config struct {
	// Engine is the bonding engine (a *bond.Registry).
	Engine rtnl.Engine
	// Log receives one line per problem (never per request).
	Log func(string)
	// Watch, when set, subscribes to the engine's changes
	// (bond.Registry.Watch): they become RTM_NEWLINK events.
	Watch func() (<-chan struct{}, func())
}

// Supervisor serves one listener fd.
type Supervisor struct {
	cfg      Config
	listener int
	wakeMu   sync.Mutex
	wake     int // eventfd: Close wakes Serve's poll; -1 once serve ended
	done     chan struct{}
	closing  chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup

	// opMu is held (write) while a request runs on the engine; a receive
	// takes it (read) before it looks at a kernel event, so that an event
	// the request's own device changes caused is judged against the
	// snapshot published after it, not the one before.
	opMu sync.RWMutex

	mu      sync.Mutex
	nets    map[uint64]*netnsConn // by netns inode
	filters map[uint64]rtnl.Filter
	sockMu  map[int]*sync.Mutex // socket() placement, by tgid
	socks   map[uint64]sockRef  // supervised sockets, by inode (events.go)
	passed  map[uint64]passed   // datagrams let through to a peek, by socket inode (recv.go)
}

// New takes over listener (a seccomp notification fd) and starts serving
// it; Done is closed when every supervised process is gone (or Close).
func New(listener int, cfg Config) (*Supervisor, error) {
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("supervisor: eventfd: %w", err)
	}
	if cfg.Log == nil {
		cfg.Log = func(string) {}
	}
	s := &Supervisor{cfg: cfg, listener: listener, wake: wake, done: make(chan struct{}), closing: make(chan struct{}),
		nets: map[uint64]*netnsConn{}, filters: map[uint64]rtnl.Filter{}, sockMu: map[int]*sync.Mutex{}, socks: map[uint64]sockRef{}, passed: map[uint64]passed{}}
	if cfg.Watch != nil {
		watch, stop := cfg.Watch()
		s.wg.Add(1)
		go s.events(watch, stop)
	}
	s.wg.Add(1)
	go s.serve()
	return s, nil
}

// Done is closed once the supervisor stopped.
func (s *Supervisor) Done() <-chan struct{} { return s.done }

// Close stops serving and waits for the handlers; supervised calls not
// answered yet fail (ENOSYS) once the listener is closed.
func (s *Supervisor) Close() {
	s.stop()
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	s.wakeMu.Lock()
	if s.wake >= 0 {
		_, _ = unix.Write(s.wake, one[:])
	}
	s.wakeMu.Unlock()
	<-s.done
}

// stop tells the handlers and the event goroutine to end.
func (s *Supervisor) stop() { s.stopOnce.Do(func() { close(s.closing) }) }

func (s *Supervisor) serve() {
	defer func() {
		s.stop() // the supervised processes are gone: so are the events
		s.wg.Done()
		s.wg.Wait()
		unix.Close(s.listener)
		s.wakeMu.Lock()
		unix.Close(s.wake)
		s.wake = -1
		s.wakeMu.Unlock()
		s.mu.Lock()
		for _, n := range s.nets {
			n.close()
		}
		s.mu.Unlock()
		close(s.done)
	}()
	fds := []unix.PollFd{{Fd: int32(s.listener), Events: unix.POLLIN}, {Fd: int32(s.wake), Events: unix.POLLIN}}
	for {
		fds[0].Revents, fds[1].Revents = 0, 0
		if _, err := unix.Poll(fds, -1); err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			s.cfg.Log(fmt.Sprintf("bondingfs: rtnl supervisor: poll: %v", err))
			return
		}
		if fds[1].Revents != 0 {
			return
		}
		if fds[0].Revents&unix.POLLIN == 0 && fds[0].Revents&(unix.POLLHUP|unix.POLLERR) != 0 {
			return // every supervised process is gone
		}
		n, err := recvNotif(s.listener)
		if err != nil {
			// ENOENT: the caller went away (or a signal took it) between
			// poll and recv; EINTR: retry
			if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EINTR) {
				continue
			}
			s.cfg.Log(fmt.Sprintf("bondingfs: rtnl supervisor: notification: %v", err))
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.handle(n)
		}()
	}
}

// handle answers one notification.
func (s *Supervisor) handle(n notif) {
	var err error
	switch int(n.Nr) {
	case unix.SYS_SOCKET:
		err = s.socket(n)
	case unix.SYS_SENDTO, unix.SYS_SENDMSG, unix.SYS_WRITE:
		err = s.send(n)
	case unix.SYS_RECVFROM, unix.SYS_RECVMSG, unix.SYS_READ:
		err = s.recv(n)
	default:
		err = s.cont(n)
	}
	if err != nil && !errors.Is(err, unix.ENOENT) {
		s.cfg.Log(fmt.Sprintf("bondingfs: rtnl supervisor: pid %d syscall %d: %v", n.Pid, n.Nr, err))
	}
}

func (s *Supervisor) cont(n notif) error {
	return respond(s.listener, n.ID, 0, 0, true)
}

func (s *Supervisor) fail(n notif, errno unix.Errno) error {
	return respond(s.listener, n.ID, 0, errno, false)
}

func (s *Supervisor) ok(n notif, val int64) error {
	return respond(s.listener, n.ID, val, 0, false)
}

// caller is the process behind a notification.
type caller struct {
	tid, tgid  int
	pidfd      int
	netAdmin   bool // CAP_NET_ADMIN in its effective set
	sigPending bool
}

func (c *caller) close() {
	if c.pidfd >= 0 {
		unix.Close(c.pidfd)
	}
}

// status reads /proc/<tid>/status: the thread group, the effective
// capabilities, and whether an unblocked signal is pending.
func readStatus(tid int) (tgid int, netAdmin, sigPending bool, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(tid) + "/status")
	if err != nil {
		return 0, false, false, err
	}
	var pend, blk uint64
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch k {
		case "Tgid":
			tgid, _ = strconv.Atoi(v)
		case "CapEff":
			c, _ := strconv.ParseUint(v, 16, 64)
			netAdmin = c&(1<<unix.CAP_NET_ADMIN) != 0
		case "SigPnd", "ShdPnd":
			p, _ := strconv.ParseUint(v, 16, 64)
			pend |= p
		case "SigBlk":
			blk, _ = strconv.ParseUint(v, 16, 64)
		}
	}
	if tgid == 0 {
		return 0, false, false, errors.New("no Tgid")
	}
	return tgid, netAdmin, pend&^blk != 0, nil
}

// caller identifies n's process: pid, then credentials, then
// SECCOMP_IOCTL_NOTIF_ID_VALID, so a pid reused meanwhile is never taken
// for the caller. ENOENT when the caller is gone.
func (s *Supervisor) caller(n notif) (*caller, error) {
	tgid, netAdmin, _, err := readStatus(int(n.Pid))
	if err != nil {
		return nil, unix.ENOENT
	}
	pidfd, err := unix.PidfdOpen(tgid, 0)
	if err != nil {
		return nil, unix.ENOENT
	}
	c := &caller{tid: int(n.Pid), tgid: tgid, pidfd: pidfd, netAdmin: netAdmin}
	if !idValid(s.listener, n.ID) {
		c.close()
		return nil, unix.ENOENT
	}
	return c, nil
}

// callerFast is caller without the credentials, for the receive path: a
// thread-group leader (the common case) needs no /proc read.
func (s *Supervisor) callerFast(n notif) (*caller, error) {
	pidfd, err := unix.PidfdOpen(int(n.Pid), 0)
	if err != nil {
		return s.caller(n)
	}
	c := &caller{tid: int(n.Pid), tgid: int(n.Pid), pidfd: pidfd}
	if !idValid(s.listener, n.ID) {
		c.close()
		return nil, unix.ENOENT
	}
	return c, nil
}

// getfd duplicates the caller's fd (the same open file).
func (c *caller) getfd(fd int) (int, error) {
	return unix.PidfdGetfd(c.pidfd, fd, 0)
}

// readMem reads n bytes at addr in process pid.
func readMem(pid int, addr uint64, n int) ([]byte, error) {
	b := make([]byte, n)
	if n == 0 {
		return b, nil
	}
	got, err := unix.ProcessVMReadv(pid, []unix.Iovec{{Base: &b[0], Len: uint64(n)}},
		[]unix.RemoteIovec{{Base: uintptr(addr), Len: n}}, 0)
	if err != nil {
		return nil, err
	}
	if got != n {
		return nil, unix.EFAULT
	}
	return b, nil
}

// writeMem writes b at addr in process pid.
func writeMem(pid int, addr uint64, b []byte) error {
	if len(b) == 0 {
		return nil
	}
	got, err := unix.ProcessVMWritev(pid, []unix.Iovec{{Base: &b[0], Len: uint64(len(b))}},
		[]unix.RemoteIovec{{Base: uintptr(addr), Len: len(b)}}, 0)
	if err != nil {
		return err
	}
	if got != len(b) {
		return unix.EFAULT
	}
	return nil
}

// iovec is one struct iovec of the caller.
type iovec struct{ base, len uint64 }

func readIovs(pid int, addr uint64, n uint64) ([]iovec, error) {
	if n > maxIov {
		return nil, unix.EMSGSIZE
	}
	b, err := readMem(pid, addr, int(n)*16)
	if err != nil {
		return nil, err
	}
	iovs := make([]iovec, n)
	for i := range iovs {
		iovs[i] = iovec{binary.NativeEndian.Uint64(b[16*i:]), binary.NativeEndian.Uint64(b[16*i+8:])}
	}
	return iovs, nil
}

// struct msghdr offsets on 64-bit Linux
const (
	mhName       = 0
	mhNameLen    = 8
	mhIov        = 16
	mhIovLen     = 24
	mhControl    = 32
	mhControlLen = 40
	mhFlags      = 48
	sizeofMsghdr = 56
)

// sockInfo is what the supervisor needs of the caller's socket.
type sockInfo struct {
	ino    uint64
	portid uint32
	capAck bool
	extAck bool
}

func sockinfo(fd int) (sockInfo, error) {
	var si sockInfo
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return si, err
	}
	si.ino = st.Ino
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return si, err
	}
	nl, ok := sa.(*unix.SockaddrNetlink)
	if !ok {
		return si, unix.ENOTSOCK
	}
	if nl.Pid == 0 {
		// not bound yet: the kernel's netlink_sendmsg would autobind now
		if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil && !errors.Is(err, unix.EINVAL) {
			return si, err
		}
		if sa, err = unix.Getsockname(fd); err != nil {
			return si, err
		}
		nl = sa.(*unix.SockaddrNetlink)
	}
	si.portid = nl.Pid
	v, err := unix.GetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_CAP_ACK)
	si.capAck = err == nil && v != 0
	v, err = unix.GetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_EXT_ACK)
	si.extAck = err == nil && v != 0
	return si, nil
}

// split cuts a buffer of netlink messages; ok is false when it is malformed.
func split(b []byte) (msgs [][]byte, ok bool) {
	for len(b) > 0 {
		if len(b) < unix.SizeofNlMsghdr {
			return nil, false
		}
		l := int(binary.NativeEndian.Uint32(b[0:4]))
		if l < unix.SizeofNlMsghdr || l > len(b) {
			return nil, false
		}
		msgs = append(msgs, b[:l])
		a := (l + 3) &^ 3
		if a > len(b) {
			a = len(b)
		}
		b = b[a:]
	}
	return msgs, true
}

// engineCtx is the deadline of one request's engine work.
func engineCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), opTimeout)
}

// errnoOf is the errno a failed syscall of the supervisor's returns.
func errnoOf(err error) unix.Errno {
	var en syscall.Errno
	if errors.As(err, &en) {
		return en
	}
	return unix.EIO
}

// snapshot is the engine's state now.
func (s *Supervisor) snapshot() *bond.Snapshot { return s.cfg.Engine.Snapshot() }
