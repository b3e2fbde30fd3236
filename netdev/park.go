package netdev

import (
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"bondingfs/bond"
)

// Parked readers (bond.Parker). An idle slave or TAP queue needs no
// goroutine of its own: its reader parks, and one epoll instance shared by
// the whole process (rxPoller) watches every parked descriptor, armed
// EPOLLIN|EPOLLONESHOT, level-triggered. When one becomes readable (or
// fails: EPOLLERR/EPOLLHUP are always reported) the poller's one goroutine
// starts the parked reader on a new goroutine, and the epoll entry stays
// disarmed until the reader parks again. So 1000 idle slaves cost no
// goroutine, no stack and no 480-byte goroutine descriptor (which the Go
// runtime never frees: a daemon that once ran a reader per device kept
// their memory after every bond was deleted, issue 19); a busy device
// keeps its reader for as long as it finds frames.
//
// The epoll descriptor itself waits in the Go netpoller (an epoll
// instance is pollable), so the poller holds no thread. It exists only
// while some device is registered, so a process with no device has no
// poller goroutine (goleak).

// poller is the process's one rxPoller.
var poller rxPoller

// rxPoller owns the current epoll set; a new one is made when the first
// device registers after the last one left.
type rxPoller struct {
	mu  sync.Mutex
	set *epollSet
}

// epollSet is one epoll instance and the parking slots registered in it,
// by id (the epoll event's data).
type epollSet struct {
	fd    int
	f     *os.File
	rc    syscall.RawConn
	slots map[uint32]*parkSlot // guarded by rxPoller.mu
	next  uint32
}

// parkSlot is one device's parking place: the reader waiting to be started
// and the device's registration.
type parkSlot struct {
	mu     sync.Mutex
	set    *epollSet // nil until the first Park, and after close
	id     uint32
	fn     func() // the parked reader, nil while none
	closed bool
}

// add registers fd (armed) for s in the current set, making the set and
// its goroutine if there is none.
func (r *rxPoller) add(fd int, s *parkSlot) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.set == nil {
		epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
			return os.NewSyscallError("epoll_create1", err)
		}
		if err := unix.SetNonblock(epfd, true); err != nil {
			unix.Close(epfd)
			return os.NewSyscallError("fcntl", err)
		}
		f := os.NewFile(uintptr(epfd), "rx-epoll")
		rc, err := f.SyscallConn()
		if err != nil {
			f.Close()
			return err
		}
		r.set = &epollSet{fd: epfd, f: f, rc: rc, slots: make(map[uint32]*parkSlot)}
		go r.set.run()
	}
	e := r.set
	e.next++
	for e.slots[e.next] != nil || e.next == 0 {
		e.next++
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLONESHOT, Fd: int32(e.next)}
	var err error
	// The epoll descriptor may not be closed while rc.Control runs.
	if cerr := e.rc.Control(func(epfd uintptr) { err = unix.EpollCtl(int(epfd), unix.EPOLL_CTL_ADD, fd, &ev) }); cerr != nil {
		return cerr
	}
	if err != nil {
		r.dropIfEmpty()
		return os.NewSyscallError("epoll_ctl", err)
	}
	e.slots[e.next] = s
	s.set, s.id = e, e.next
	return nil
}

// remove forgets s's registration (its descriptor already deleted from the
// set) and closes the set once nothing is registered.
func (r *rxPoller) remove(e *epollSet, id uint32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(e.slots, id)
	if e == r.set {
		r.dropIfEmpty()
	} else if len(e.slots) == 0 {
		e.f.Close()
	}
}

// dropIfEmpty closes the current set when it holds no slot: its goroutine
// sees the descriptor closed and ends. r.mu held.
func (r *rxPoller) dropIfEmpty() {
	if e := r.set; e != nil && len(e.slots) == 0 {
		e.f.Close()
		r.set = nil
	}
}

// slot returns the slot registered under id, nil if it has gone.
func (r *rxPoller) slot(e *epollSet, id uint32) *parkSlot {
	r.mu.Lock()
	defer r.mu.Unlock()
	return e.slots[id]
}

// run waits for the set's events in the Go netpoller and starts the
// readers parked on the descriptors that are ready, until the set is
// closed.
func (e *epollSet) run() {
	var evs [64]unix.EpollEvent
	var n int
	wait := func(fd uintptr) bool {
		var err error
		n, err = unix.EpollWait(int(fd), evs[:], 0)
		return err == nil && n > 0
	}
	for {
		if err := e.rc.Read(wait); err != nil {
			return // closed: nothing is registered any more
		}
		for i := range evs[:n] {
			if s := poller.slot(e, uint32(evs[i].Fd)); s != nil {
				s.wake()
			}
		}
	}
}

// wake starts the parked reader, if any.
func (s *parkSlot) wake() {
	s.mu.Lock()
	fn := s.fn
	s.fn = nil
	s.mu.Unlock()
	if fn != nil {
		go fn()
	}
}

// park arms the device's descriptor (reached through rc) for fn: fn runs
// once, on a new goroutine, as soon as the descriptor is readable or has
// an error, or when the device is closed (at once if it already is). The
// caller must not read the device after a nil return: fn may already be
// running. An error (the descriptor is closed, epoll refused it) leaves
// nothing parked.
func (s *parkSlot) park(rc syscall.RawConn, fn func()) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		go fn()
		return nil
	}
	defer s.mu.Unlock()
	var err error
	cerr := rc.Control(func(fd uintptr) {
		if s.set == nil {
			err = poller.add(int(fd), s)
			return
		}
		ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLONESHOT, Fd: int32(s.id)}
		if e := s.set.rc.Control(func(epfd uintptr) { err = unix.EpollCtl(int(epfd), unix.EPOLL_CTL_MOD, int(fd), &ev) }); e != nil {
			err = e
		} else if err != nil {
			err = os.NewSyscallError("epoll_ctl", err)
		}
	})
	if cerr != nil {
		return cerr
	}
	if err != nil {
		return err
	}
	s.fn = fn // the set's goroutine takes s.mu before it looks
	return nil
}

// close deletes the device's descriptor (reached through rc, still open)
// from the set and returns the parked reader, if any, which the caller
// starts (go fn()) once the descriptor is closed, so that it finds the
// device closed and ends; later parks start their reader at once. Call it
// before closing the descriptor: epoll knows a descriptor by its number,
// which a later open may reuse.
func (s *parkSlot) close(rc syscall.RawConn) (fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	fn, s.fn = s.fn, nil
	if e := s.set; e != nil {
		_ = rc.Control(func(fd uintptr) {
			_ = e.rc.Control(func(epfd uintptr) { _ = unix.EpollCtl(int(epfd), unix.EPOLL_CTL_DEL, int(fd), nil) })
		})
		poller.remove(e, s.id)
		s.set = nil
	}
	return fn
}

// resume starts fn, if not nil, on a new goroutine.
func resume(fn func()) {
	if fn != nil {
		go fn()
	}
}

// parked reports whether a reader is parked on s (tests).
func (s *parkSlot) parked() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fn != nil
}

// pollerRunning reports whether the process has a poller set (tests).
func pollerRunning() bool {
	poller.mu.Lock()
	defer poller.mu.Unlock()
	return poller.set != nil
}

var (
	_ bond.Parker = (*SlaveDev)(nil)
	_ bond.Parker = (*tapQueue)(nil)
)
