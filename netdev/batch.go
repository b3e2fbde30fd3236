package netdev

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"bondingfs/bond"
	"bondingfs/internal/osmem"
)

// Batched frame I/O (bond.BatchReader, bond.BatchWriter). A SlaveDev
// receives with recvmmsg(2) and sends with sendmmsg(2): one system call
// and one netpoller wake-up for up to SlaveDevBatch frames. The TAP has no
// batch call in the kernel (one read(2) or write(2) per frame), so its
// ReadBatch reads every frame that is ready in one netpoller wake-up
// (until EAGAIN) and its WriteBatch writes a batch in one.
//
// Why recvmmsg rather than a TPACKET_V3 ring: a ring's frames have a fixed
// maximum size, and a slave must receive 64 KB GSO frames with their
// virtio_net_hdr (gVisor's fdbased endpoint turns GSO off for its
// PACKET_MMAP dispatcher for the same reason); a V3 block is also handed
// over only when full or after retire_blk_tov, which added 0.85 ms to the
// ping round trip (datapath.md §3). Why sendmmsg rather than PACKET_TX_RING
// with PACKET_QDISC_BYPASS: the TX ring carries no vnet header (no GSO), and
// veth has no qdisc to bypass (datapath.md §3: no speed change).

// SlaveDevBatch is the batch of a SlaveDev (BatchSize).
const SlaveDevBatch = 64

// TapBatch is the batch of a TAP queue (BatchSize).
const TapBatch = 64

// mmsgs is the scratch of one recvmmsg/sendmmsg call: headers and iovecs
// pointing into the caller's buffers, built anew for every call and never
// kept across calls, plus the callback handed to RawConn (bound once, so
// a call allocates nothing).
type mmsgs struct {
	hdrs  [SlaveDevBatch]unix.Mmsghdr
	iovs  [SlaveDevBatch]unix.Iovec
	oob   *[SlaveDevBatch][64]byte // receive only: each frame's PACKET_AUXDATA
	n     int                      // messages to pass
	got   int                      // messages done by the last call
	errno syscall.Errno
	flags uintptr
	nr    uintptr // SYS_RECVMMSG or SYS_SENDMMSG
	fn    func(fd uintptr) bool
	// busy (receive only, callRx) is 1 from a recvmmsg attempt until the next
	// attempt finds the socket empty: the reader may hold frames it took
	// off the socket and has not finished handing on (SlaveDev.RxPending).
	busy atomic.Int32
}

func newMmsgs(nr uintptr) *mmsgs {
	m := &mmsgs{nr: nr, flags: unix.MSG_DONTWAIT}
	m.fn = m.call
	return m
}

// set points message i at b.
func (m *mmsgs) set(i int, b []byte) {
	m.iovs[i].Base = unsafe.SliceData(b)
	m.iovs[i].SetLen(len(b))
	m.hdrs[i].Hdr.Iov = &m.iovs[i]
	m.hdrs[i].Hdr.SetIovlen(1)
	m.hdrs[i].Len = 0
}

// setRx points message i at b for receiving: 4 bytes are kept free at the
// end for the VLAN tag restoreTag puts back, and the message gets its
// control buffer.
func (m *mmsgs) setRx(i int, b []byte) {
	if len(b) >= bond.VnetHdrLen+14+4 {
		b = b[:len(b)-4]
	}
	m.set(i, b)
	m.hdrs[i].Hdr.Control = &m.oob[i][0]
	m.hdrs[i].Hdr.SetControllen(len(m.oob[i]))
	m.hdrs[i].Hdr.Flags = 0
}

// release drops the pointers into the caller's buffers.
func (m *mmsgs) release() {
	for i := 0; i < m.n; i++ {
		m.iovs[i].Base = nil
	}
}

// call runs one system call; false means "not ready, wait in the netpoller".
func (m *mmsgs) call(fd uintptr) bool {
	r, _, e := unix.Syscall6(m.nr, fd, uintptr(unsafe.Pointer(&m.hdrs[0])), uintptr(m.n), m.flags, 0, 0)
	if e == unix.EAGAIN {
		return false
	}
	m.got, m.errno = int(r), e
	return true
}

// callRx is call for the receive scratch: it keeps busy for RxPending.
func (m *mmsgs) callRx(fd uintptr) bool {
	m.busy.Store(1)
	if !m.call(fd) {
		m.busy.Store(0)
		return false
	}
	return true
}

// devBatch is a SlaveDev's batch state: one receive scratch (ReadBatch has one
// caller at a time) and a pool of send scratches (WriteBatch is safe for
// concurrent use: several TAP queues may send on one slave).
type devBatch struct {
	rc syscall.RawConn
	rx *mmsgs
	tx sync.Pool
}

func (p *SlaveDev) initBatch() error {
	rc, err := p.c.SyscallConn()
	if err != nil {
		return err
	}
	p.b.rc = rc
	p.b.rx = newMmsgs(unix.SYS_RECVMMSG)
	p.b.rx.fn = p.b.rx.callRx
	p.b.rx.oob = new([SlaveDevBatch][64]byte)
	p.b.tx.New = func() any { return newMmsgs(unix.SYS_SENDMMSG) }
	return nil
}

var (
	_ bond.BatchReader = (*SlaveDev)(nil)
	_ bond.BatchWriter = (*SlaveDev)(nil)
)

// RxPending reports whether a frame the kernel has already queued for the
// device may not yet have been through the bond's receive path: one waits on
// the receive socket (SIOCINQ: the length of the next frame, 0 when none),
// or the reader has taken a batch off it with ReadBatch and not yet come
// back for the next (it is still handing those frames on). The socket is
// asked first: a frame taken between the two questions shows as the
// reader's. False once the device is closed. The 802.3ad tick waits on it, so
// that an LACPDU that reached the slave before the tick is handled before
// the machines run, as the kernel's receive in softirq has it
// (bond_3ad_lacpdu_recv runs as the frame arrives).
func (p *SlaveDev) RxPending() bool {
	if p.closed.Load() || p.b.rc == nil {
		return false
	}
	queued := false
	if err := p.b.rc.Control(func(fd uintptr) {
		n, err := unix.IoctlGetInt(int(fd), unix.SIOCINQ)
		queued = err == nil && n > 0
	}); err != nil {
		return false
	}
	return queued || p.b.rx.busy.Load() != 0
}

var _ bond.ReadWaiter = (*SlaveDev)(nil)

// WaitRead waits in the netpoller until the receive socket has a frame (or
// an error) queued, without reading it (poll(2) with no timeout checks each
// wake-up), so that the engine's reader holds no buffer while the slave is
// idle. After Close the error wraps os.ErrClosed.
func (p *SlaveDev) WaitRead() error {
	if p.closed.Load() {
		return fmt.Errorf("netdev: read %s: %w", p.name, os.ErrClosed)
	}
	p.b.rx.busy.Store(0) // the reader is back (RxPending asks the socket first)
	return p.batchErr(p.b.rc.Read(pollIn))
}

// WaitReadFor waits in the netpoller up to d (a read deadline) until the
// receive socket has a frame or an error queued, without reading it (the
// engine's reader before it parks, bond.Parker): true if one is, false if
// none came. The reader is then back from its last batch (RxPending asks
// the socket first, so a frame queued meanwhile still shows). True at once
// after Close.
func (p *SlaveDev) WaitReadFor(d time.Duration) (bool, error) {
	if p.closed.Load() {
		return true, nil
	}
	p.b.rx.busy.Store(0)
	return waitReadFor(p.c, p.b.rc, d, p.batchErr)
}

// deadliner is the read deadline of a socket.Conn or an os.File.
type deadliner interface{ SetReadDeadline(time.Time) error }

// waitReadFor is WaitReadFor on a descriptor in the netpoller; mapErr
// turns a wait's error into the device's.
func waitReadFor(c deadliner, rc syscall.RawConn, d time.Duration, mapErr func(error) error) (bool, error) {
	// Ask first (no deadline to set and clear while frames are queued, and
	// a wait whose deadline has passed does not even look).
	ready := true
	if err := rc.Control(func(fd uintptr) { ready = pollIn(fd) }); err != nil || ready || d <= 0 {
		return ready || err != nil, nil // closed: the read says so
	}
	if err := c.SetReadDeadline(time.Now().Add(d)); err != nil {
		return true, nil // closed: the read says so
	}
	err := rc.Read(pollIn)
	_ = c.SetReadDeadline(time.Time{})
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, os.ErrDeadlineExceeded):
		return false, nil
	default:
		return false, mapErr(err)
	}
}

// Park parks the engine's reader (bond.Parker): fn runs on a new goroutine
// once a frame or an error is queued on the receive socket, or at Close.
func (p *SlaveDev) Park(fn func()) error { return p.park.park(p.b.rc, fn) }

// pollIn reports whether fd is readable now (or has an error pending).
func pollIn(fd uintptr) bool {
	fds := [1]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	n, err := unix.Poll(fds[:], 0)
	return err == nil && n > 0
}

// BatchSize is SlaveDevBatch.
func (p *SlaveDev) BatchSize() int { return SlaveDevBatch }

// ReadBatch receives up to min(len(bufs), SlaveDevBatch) frames (vnet header +
// Ethernet frame) with one recvmmsg(2), waiting in the Go netpoller until
// at least one is there; frame i goes to bufs[i][offset:], its length to
// sizes[i]. A frame longer than its buffer (less 4 bytes) is truncated. A
// frame that arrived with an 802.1Q/802.1ad tag comes back with the tag in
// place, as from ReadFrame (PACKET_AUXDATA, restoreTag). The stale
// ENETDOWN after a flap is skipped; after Close the error wraps
// os.ErrClosed.
func (p *SlaveDev) ReadBatch(bufs [][]byte, sizes []int, offset int) (int, error) {
	m := p.b.rx
	m.n = min(len(bufs), len(sizes), SlaveDevBatch)
	for i := 0; i < m.n; i++ {
		m.setRx(i, bufs[i][offset:])
	}
	defer m.release()
	for {
		err := p.b.rc.Read(m.fn)
		if err != nil {
			return 0, p.batchErr(err)
		}
		if m.errno == unix.ENETDOWN || m.errno == unix.EINTR {
			continue
		}
		if m.errno != 0 {
			return 0, os.NewSyscallError("recvmmsg", m.errno)
		}
		for i := 0; i < m.got; i++ {
			h := &m.hdrs[i].Hdr
			sizes[i] = restoreTag(m.oob[i][:h.Controllen], bufs[i][offset:], int(m.hdrs[i].Len))
		}
		return m.got, nil
	}
}

// WriteBatch sends bufs[i][offset:] in order with sendmmsg(2), as many
// calls as the socket needs (waiting in the netpoller while its send
// buffer is full). A frame the kernel refuses (EMSGSIZE above the MTU,
// EINVAL for a bad vnet header) is skipped; one stale ENETDOWN after a flap
// is retried. It returns the frames handed to the interface and, when it
// stops early, the error: ENETDOWN (down), ENXIO (gone), os.ErrClosed.
func (p *SlaveDev) WriteBatch(bufs [][]byte, offset int) (int, error) {
	p.ring.inflight.Add(1)
	defer p.ring.inflight.Add(-1)
	if p.closed.Load() {
		return 0, fmt.Errorf("netdev: %s: %w", p.name, os.ErrClosed)
	}
	first := p.ring.record(bufs, offset)
	m := p.b.tx.Get().(*mmsgs)
	defer p.b.tx.Put(m)
	done, retried := 0, false
	for done < len(bufs) {
		m.n = min(len(bufs)-done, SlaveDevBatch)
		for i := 0; i < m.n; i++ {
			m.set(i, bufs[done+i][offset:])
		}
		err := p.txCall(m)
		m.release()
		if err != nil {
			return done, err
		}
		switch {
		case m.errno == 0 && m.got == 0:
			done++ // never spin on an empty answer
		case m.errno == 0:
			done += m.got
		case m.errno == unix.EINTR:
		case m.errno == unix.ENETDOWN && !retried:
			retried = true
		case m.errno == unix.ENOBUFS:
			done++ // the interface dropped it (veth: peer down), counted in tx_dropped
		case m.errno == unix.EMSGSIZE || m.errno == unix.EINVAL:
			p.ring.refused(first + uint64(done))
			done++ // the first frame is refused: drop it, as WriteFrame's callers do
		default:
			return done, os.NewSyscallError("sendmmsg", m.errno)
		}
	}
	return done, nil
}

// txCall runs m's sendmmsg(2) on the transmit socket, waiting with poll(2)
// while its send buffer is full. The transmit socket is not in the Go
// netpoller: registered there (EPOLLOUT, edge-triggered) every frame the
// interface consumed woke the netpoller thread (sock_def_write_space →
// ep_poll_callback, 11 % of the daemon's time in perf at 64 B UDP).
func (p *SlaveDev) txCall(m *mmsgs) error {
	for !m.call(uintptr(p.txfd)) {
		if err := p.txWait(); err != nil {
			return err
		}
	}
	return nil
}

// txWait waits until the transmit socket can take more (up to 100 ms, so a
// Close is noticed).
func (p *SlaveDev) txWait() error {
	fds := [1]unix.PollFd{{Fd: int32(p.txfd), Events: unix.POLLOUT}}
	if _, err := unix.Poll(fds[:], 100); err != nil && err != unix.EINTR {
		return os.NewSyscallError("poll", err)
	}
	if p.closed.Load() {
		return fmt.Errorf("netdev: %s: %w", p.name, os.ErrClosed)
	}
	return nil
}

// txWrite sends one frame with write(2) on the transmit socket.
func (p *SlaveDev) txWrite(f []byte) error {
	for {
		_, err := unix.Write(p.txfd, f)
		switch err {
		case nil:
			return nil
		case unix.EINTR:
		case unix.EAGAIN:
			if err := p.txWait(); err != nil {
				return err
			}
		default:
			return os.NewSyscallError("write", err)
		}
	}
}

// batchErr turns a RawConn error after Close into one wrapping os.ErrClosed.
func (p *SlaveDev) batchErr(err error) error {
	if p.closed.Load() {
		return errors.Join(err, os.ErrClosed)
	}
	return err
}

// Copies of the frames a SlaveDev sent last (bond.Requeuer).
const (
	ringFrames = 256  // frames kept: 25 ms at 10 kpps
	ringFrame  = 2048 // largest frame kept (vnet header + Ethernet frame)
)

// txRing keeps copies of the last ringFrames frames sent, in the order
// their sends were reserved. Each send reserves its slots with one atomic
// add per batch, so concurrent senders write distinct slots and no lock is
// taken; frames too large to keep (GSO) hold their slot with n = -1, so
// that counting back from the newest stays exact.
//
// Its memory follows the traffic: the slots (ringStore) are allocated at
// the first send, each slot's buffer at the first frame it keeps and only
// as large as that frame's size class (a slave that sends ARP keeps 64-byte
// copies), and ringTrimmer drops the whole store once the slave has sent
// nothing for a ringTrimPeriod (an idle slave: no store at all).
type txRing struct {
	next     atomic.Uint64 // slots reserved so far
	inflight atomic.Int32  // sends in progress
	store    atomic.Pointer[ringStore]
	sent     atomic.Bool // a send since the trimmer last looked
	tracked  atomic.Bool // on the trimmer's list
}

// ringStore is a txRing's slots.
type ringStore struct {
	slot [ringFrames]struct {
		n   int
		buf []byte
	}
}

// ringClass is the buffer size a slot takes for a frame of l bytes.
func ringClass(l int) int {
	switch {
	case l <= 128:
		return 128
	case l <= 512:
		return 512
	default:
		return ringFrame
	}
}

// storeFor returns the ring's store, allocating it (and putting the ring on
// the trimmer's list) if it has none.
func (r *txRing) storeFor() *ringStore {
	for {
		if st := r.store.Load(); st != nil {
			return st
		}
		st := new(ringStore)
		if r.store.CompareAndSwap(nil, st) {
			ringTrim.track(r)
			return st
		}
	}
}

// record keeps copies of frames (bufs[i][offset:]) and returns the
// sequence number of the first.
func (r *txRing) record(bufs [][]byte, offset int) uint64 {
	k := uint64(len(bufs))
	first := r.next.Add(k) - k
	if !r.sent.Load() {
		r.sent.Store(true)
	}
	st := r.storeFor()
	for i, b := range bufs {
		s := &st.slot[(first+uint64(i))%ringFrames]
		f := b[offset:]
		if len(f) > ringFrame {
			s.n = slotNotKept
			continue
		}
		if cap(s.buf) < len(f) {
			s.buf = make([]byte, ringClass(len(f)))
		}
		s.n = copy(s.buf[:cap(s.buf)], f)
	}
	return first
}

// refused marks frame seq as refused by the kernel (EMSGSIZE, EINVAL): it
// never reached the interface, so the interface's drop counter does not
// count it either.
func (r *txRing) refused(seq uint64) {
	if st := r.store.Load(); st != nil {
		st.slot[seq%ringFrames].n = slotRefused
	}
}

// drop frees the ring's store (Close).
func (r *txRing) drop() { r.store.Store(nil) }

const (
	slotNotKept = -1 // sent, but too large to keep
	slotRefused = -2 // refused by the kernel before the interface
)

// ringTrimPeriod is how long a slave must send nothing before its ring's
// copies are dropped.
const ringTrimPeriod = time.Second

// ringTrimFreeOS: once trims have dropped this many stores since the last
// time, the memory goes back to the system at once (osmem.Release), as
// an idle daemon may not run a GC for minutes.
const ringTrimFreeOS = 32

// ringTrim is the process's ring trimmer: a timer that runs only while some
// ring holds a store.
var ringTrim ringTrimmer

type ringTrimmer struct {
	mu      sync.Mutex
	rings   []*txRing
	armed   bool
	dropped int // stores dropped since the last FreeOSMemory
}

// track puts r on the list (once) and arms the timer.
func (t *ringTrimmer) track(r *txRing) {
	if r.tracked.Swap(true) {
		return
	}
	t.mu.Lock()
	t.rings = append(t.rings, r)
	if !t.armed {
		t.armed = true
		time.AfterFunc(ringTrimPeriod, t.trim)
	}
	t.mu.Unlock()
}

// trim drops the store of every ring that sent nothing since the last trim
// and has no send in progress, and takes it off the list.
func (t *ringTrimmer) trim() {
	t.mu.Lock()
	kept, dropped := t.rings[:0], 0
	for _, r := range t.rings {
		if r.sent.Swap(false) || r.inflight.Load() > 0 {
			kept = append(kept, r)
			continue
		}
		r.tracked.Store(false)
		if r.store.Swap(nil) != nil {
			dropped++
		}
		// a send that raced with the trim re-tracks the ring (storeFor)
		if r.store.Load() != nil {
			r.tracked.Store(true)
			kept = append(kept, r)
		}
	}
	clear(t.rings[len(kept):])
	t.rings = kept
	if len(kept) == 0 {
		t.rings = nil // the list of a past burst's rings goes with it
	}
	t.armed = len(kept) > 0
	if t.armed {
		time.AfterFunc(ringTrimPeriod, t.trim)
	}
	t.dropped += dropped
	free := t.dropped >= ringTrimFreeOS
	if free {
		t.dropped = 0
	}
	t.mu.Unlock()
	if free {
		osmem.Release()
	}
}

var _ bond.Requeuer = (*SlaveDev)(nil)

// Requeue waits (up to 10 ms) until no send on p is in progress, then sends
// the last n frames p sent again on to, oldest first, skipping those not
// kept (above 2 KB), and returns how many it sent. With to == nil it only
// waits.
func (p *SlaveDev) Requeue(to bond.NetDev, n int) int {
	r := p.ring
	for i := 0; i < 200 && r.inflight.Load() > 0; i++ {
		time.Sleep(50 * time.Microsecond)
	}
	if to == nil || n <= 0 {
		return 0
	}
	// Walk back from the newest frame over n frames that reached the
	// interface (refused ones do not count), then send them oldest first.
	st := r.store.Load()
	if st == nil {
		return 0 // nothing sent since the ring was trimmed
	}
	end := r.next.Load()
	var frames [][]byte
	for seq := end; seq > 0 && end-seq < ringFrames && n > 0; seq-- {
		s := &st.slot[(seq-1)%ringFrames]
		if s.n == slotRefused {
			continue
		}
		n--
		if s.n > 0 {
			frames = append(frames, append([]byte(nil), s.buf[:s.n]...))
		}
	}
	slices.Reverse(frames)
	if len(frames) == 0 {
		return 0
	}
	if w, ok := to.(bond.BatchWriter); ok {
		k, _ := w.WriteBatch(frames, 0)
		return k
	}
	k := 0
	for _, f := range frames {
		if to.WriteFrame(f) == nil {
			k++
		}
	}
	return k
}
