package netdev

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"bondingfs/bond"
)

// tapOffloads are the offloads the TAP accepts from the kernel stack in
// vnet-header frames: partial checksums and TCP segmentation for IPv4, IPv6
// and ECN (TUNSETOFFLOAD, include/uapi/linux/if_tun.h).
const tapOffloads = unix.TUN_F_CSUM | unix.TUN_F_TSO4 | unix.TUN_F_TSO6 | unix.TUN_F_TSO_ECN

// tapUSO adds UDP segmentation offload (TUN_F_USO4|TUN_F_USO6, Linux 6.2):
// the stack then hands UDP GSO frames (VIRTIO_NET_HDR_GSO_UDP_L4) to the
// bond whole, and the slave sockets pass them on as they are. Kernels that
// refuse it (EINVAL) get tapOffloads alone.
const tapUSO = unix.TUN_F_USO4 | unix.TUN_F_USO6

// TapQueues is the number of queues (IFF_MULTI_QUEUE) of a bond's TAP, each
// with its own reader: the kernel picks the queue of a frame by its flow
// hash, so the frames of one flow stay on one reader, in order.
var TapQueues = min(runtime.NumCPU(), 2)

// Tap is the bond master: a TAP device opened with IFF_TAP|IFF_NO_PI|
// IFF_VNET_HDR. Every frame read or written starts with a 10-byte
// virtio_net_hdr. The device is not persistent: it disappears when Close
// closes the last descriptor (or the process dies).
type Tap struct {
	f      *os.File // queue 0: ReadFrame, WriteFrame, SetCarrier
	q      []*tapQueue
	attach sync.Once
	live   []*tapQueue // attached queues, after Queues
	name   string
	index  int
}

// tapQueue is one queue's descriptor with its batch-read state.
type tapQueue struct {
	t      *Tap
	f      *os.File
	rc     syscall.RawConn
	closed atomic.Bool
	park   parkSlot // the engine's reader while the queue is idle
	// ReadBatch state (one caller per queue), read by rfn.
	bufs   [][]byte
	sizes  []int
	offset int
	got    int
	err    error
	rfn    func(fd uintptr) bool
	// WriteBatch state, guarded by wmu.
	wmu   sync.Mutex
	wbuf  [][]byte
	woff  int
	wdone int
	werr  error
	wfn   func(fd uintptr) bool
}

var _ bond.Master = (*Tap)(nil)

// Name returns the interface name the kernel gave the TAP.
func (t *Tap) Name() string { return t.name }

// Index returns the TAP's ifindex.
func (t *Tap) Index() int { return t.index }

// ReadFrame reads one frame (vnet header + Ethernet frame) the kernel stack
// sent through the bond, blocking in the Go netpoller. A frame longer than
// buf is truncated; pass at least 65536+bond.VnetHdrLen bytes. After Close
// the error wraps os.ErrClosed.
// If the link is deleted from outside (ip link del) the error wraps both
// syscall.EBADFD, which the kernel returns then, and os.ErrClosed, since
// the device is gone for good; an RTM_DELLINK event follows.
func (t *Tap) ReadFrame(buf []byte) (int, error) {
	n, err := t.f.Read(buf)
	return n, t.deleted(err)
}

var (
	_ bond.BatchReader = (*Tap)(nil)
	_ bond.BatchWriter = (*Tap)(nil)
	_ bond.MultiQueue  = (*Tap)(nil)
)

// Queues attaches every queue of the TAP (IFF_MULTI_QUEUE; TapQueues of
// them) and returns one NetDev per queue, each with ReadBatch and
// WriteBatch; the engine runs one reader per queue. Until Queues is called
// only queue 0 is attached (the others are created detached,
// TUNSETQUEUE IFF_DETACH_QUEUE), so the kernel sends every frame to queue 0
// and ReadFrame sees them all. Closing a queue does nothing: Close closes
// them all. A queue that fails to attach is left out.
func (t *Tap) Queues() []bond.NetDev {
	t.attach.Do(func() {
		t.live = t.q[:1]
		for _, q := range t.q[1:] {
			rc, err := q.f.SyscallConn()
			if err != nil {
				continue
			}
			var aerr error
			if err := rc.Control(func(fd uintptr) { aerr = setQueue(int(fd), true) }); err != nil || aerr != nil {
				continue
			}
			t.live = append(t.live, q)
		}
	})
	qs := make([]bond.NetDev, len(t.live))
	for i, q := range t.live {
		qs[i] = q
	}
	return qs
}

// setQueue attaches (TUNSETQUEUE IFF_ATTACH_QUEUE) or detaches a queue.
func setQueue(fd int, attach bool) error {
	ifr, err := unix.NewIfreq("")
	if err != nil {
		return err
	}
	flag, name := uint16(unix.IFF_DETACH_QUEUE), "IFF_DETACH_QUEUE"
	if attach {
		flag, name = unix.IFF_ATTACH_QUEUE, "IFF_ATTACH_QUEUE"
	}
	ifr.SetUint16(flag)
	if err := unix.IoctlIfreq(fd, unix.TUNSETQUEUE, ifr); err != nil {
		return fmt.Errorf("TUNSETQUEUE %s: %w", name, err)
	}
	return nil
}

// BatchSize is TapBatch.
func (t *Tap) BatchSize() int { return TapBatch }

// ReadBatch reads from queue 0 (see tapQueue.ReadBatch).
func (t *Tap) ReadBatch(bufs [][]byte, sizes []int, offset int) (int, error) {
	return t.q[0].ReadBatch(bufs, sizes, offset)
}

// WriteBatch writes on queue 0 (see tapQueue.WriteBatch).
func (t *Tap) WriteBatch(bufs [][]byte, offset int) (int, error) {
	return t.q[0].WriteBatch(bufs, offset)
}

func (q *tapQueue) BatchSize() int { return TapBatch }

var _ bond.ReadWaiter = (*tapQueue)(nil)

// WaitRead waits in the netpoller until the queue has a frame, without
// reading it (poll(2) with no timeout checks each wake-up).
func (q *tapQueue) WaitRead() error {
	err := q.rc.Read(q.wait)
	if err != nil && q.closed.Load() {
		err = errors.Join(err, os.ErrClosed)
	}
	return err
}

// WaitReadFor waits in the netpoller up to d (a read deadline) until the
// queue has a frame or an error, without reading it (bond.Parker): true
// if it has, false if none came; true at once after Close.
func (q *tapQueue) WaitReadFor(d time.Duration) (bool, error) {
	if q.closed.Load() {
		return true, nil
	}
	return waitReadFor(q.f, q.rc, d, func(err error) error {
		if q.closed.Load() {
			err = errors.Join(err, os.ErrClosed)
		}
		return err
	})
}

// Park parks the engine's reader of this queue (bond.Parker): fn runs on a
// new goroutine once the queue has a frame or an error (a TAP deleted
// from outside polls as EPOLLERR), or at Close.
func (q *tapQueue) Park(fn func()) error { return q.park.park(q.rc, fn) }

func (q *tapQueue) wait(fd uintptr) bool {
	fds := [1]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	n, err := unix.Poll(fds[:], 0)
	return err == nil && n > 0
}

func (q *tapQueue) ReadFrame(buf []byte) (int, error) {
	n, err := q.f.Read(buf)
	return n, q.t.deleted(err)
}

func (q *tapQueue) WriteFrame(frame []byte) error {
	_, err := q.f.Write(frame)
	return q.t.deleted(err)
}

func (q *tapQueue) Close() error { return nil }

// ReadBatch waits in the netpoller until the queue has a frame, then reads
// frames with read(2) (the TAP returns one per call) into bufs[i][offset:]
// until none is left or the batch is full, all in one wake-up. Errors as
// ReadFrame; frames read before an error are returned first.
func (q *tapQueue) ReadBatch(bufs [][]byte, sizes []int, offset int) (int, error) {
	q.bufs, q.sizes, q.offset, q.got, q.err = bufs[:min(len(bufs), len(sizes))], sizes, offset, 0, nil
	err := q.rc.Read(q.rfn)
	q.bufs, q.sizes = nil, nil
	if err != nil {
		if q.closed.Load() {
			err = errors.Join(err, os.ErrClosed)
		}
		return 0, err
	}
	if q.got > 0 {
		return q.got, nil
	}
	return 0, q.t.deleted(os.NewSyscallError("read", q.err))
}

func (q *tapQueue) read(fd uintptr) bool {
	for q.got < len(q.bufs) {
		n, err := unix.Read(int(fd), q.bufs[q.got][q.offset:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			if err == unix.EAGAIN {
				return q.got > 0
			}
			q.err = err
			return true
		}
		q.sizes[q.got] = n
		q.got++
	}
	return true
}

// WriteBatch writes bufs[i][offset:] in order, one write(2) each, in one
// netpoller call. A frame the TAP refuses (EINVAL: bad vnet header) is
// skipped; it stops at any other error (EBADFD once deleted).
func (q *tapQueue) WriteBatch(bufs [][]byte, offset int) (int, error) {
	q.wmu.Lock()
	defer q.wmu.Unlock()
	q.wbuf, q.woff, q.wdone, q.werr = bufs, offset, 0, nil
	err := q.rc.Write(q.wfn)
	q.wbuf = nil
	if err != nil {
		if q.closed.Load() {
			err = errors.Join(err, os.ErrClosed)
		}
		return q.wdone, err
	}
	if q.werr != nil {
		return q.wdone, q.t.deleted(os.NewSyscallError("write", q.werr))
	}
	return q.wdone, nil
}

func (q *tapQueue) write(fd uintptr) bool {
	for q.wdone < len(q.wbuf) {
		_, err := unix.Write(int(fd), q.wbuf[q.wdone][q.woff:])
		switch err {
		case nil, unix.EINVAL, unix.EMSGSIZE:
			q.wdone++
		case unix.EINTR:
		case unix.EAGAIN:
			return false
		default:
			q.werr = err
			return true
		}
	}
	return true
}

func (t *Tap) deleted(err error) error {
	if err != nil && errors.Is(err, syscall.EBADFD) {
		return fmt.Errorf("netdev: %s was deleted (%w): %w", t.name, syscall.EBADFD, os.ErrClosed)
	}
	return err
}

// WriteFrame hands one frame (vnet header + Ethernet frame) to the kernel
// stack as received on the bond. Safe for concurrent use. A malformed vnet
// header gives EINVAL; a link deleted from outside gives an error wrapping
// syscall.EBADFD and os.ErrClosed, as in ReadFrame.
func (t *Tap) WriteFrame(frame []byte) error {
	_, err := t.f.Write(frame)
	return t.deleted(err)
}

// SetCarrier turns the TAP's carrier on or off (TUNSETCARRIER). The link's
// operstate follows it (up/down; a TAP whose carrier was never set reports
// "unknown").
func (t *Tap) SetCarrier(on bool) error {
	rc, err := t.f.SyscallConn()
	if err != nil {
		return err
	}
	v := 0
	if on {
		v = 1
	}
	var ierr error
	if err := rc.Control(func(fd uintptr) {
		ierr = unix.IoctlSetPointerInt(int(fd), unix.TUNSETCARRIER, v)
	}); err != nil {
		return err
	}
	if ierr != nil {
		return fmt.Errorf("netdev: %s: TUNSETCARRIER: %w", t.name, ierr)
	}
	return nil
}

// Close closes the TAP's descriptor, which removes the (non-persistent)
// device; a blocked ReadFrame returns an error wrapping os.ErrClosed.
func (t *Tap) Close() error {
	var errs []error
	for _, q := range t.q {
		q.closed.Store(true)
		parked := q.park.close(q.rc)
		errs = append(errs, q.f.Close())
		resume(parked) // it finds the queue closed and ends
	}
	return errors.Join(errs...)
}

// CreateMaster creates the bond's TAP device called name in the Host's
// namespace: /dev/net/tun with TUNSETIFF IFF_TAP|IFF_NO_PI|IFF_VNET_HDR
// (|IFF_MULTI_QUEUE, once per queue: TapQueues descriptors),
// TUNSETOFFLOAD csum+TSO4+TSO6+TSO_ECN (+USO4+USO6 where the kernel has
// them), and carrier off, so the bond starts
// without carrier. It is opened here rather than with songgao/water because
// water cannot set IFF_VNET_HDR. The descriptor is non-blocking and wrapped
// with os.NewFile, so reads wait in the Go netpoller. The TAP is not
// persistent, so it vanishes when the daemon exits or crashes; while open it
// can still be removed with "ip link del".
//
// A name already in use gives an error wrapping syscall.EEXIST; a name of
// IFNAMSIZ bytes or more gives EINVAL.
func (h *Host) CreateMaster(name string) (bond.Master, bond.LinkInfo, error) {
	if name == "" || len(name) >= unix.IFNAMSIZ {
		return nil, bond.LinkInfo{}, fmt.Errorf("netdev: create %q: %w", name, syscall.EINVAL)
	}
	if _, err := h.LinkByName(name); err == nil {
		return nil, bond.LinkInfo{}, fmt.Errorf("netdev: create %s: %w", name, syscall.EEXIST)
	} else if !errors.Is(err, syscall.ENODEV) {
		return nil, bond.LinkInfo{}, err
	}
	var files []*os.File
	closeAll := func() {
		for _, f := range files {
			f.Close()
		}
	}
	nq := max(TapQueues, 1)
	err := h.ns.do(func() error {
		// The tun socket takes the namespace of the opener, and TUNSETIFF
		// creates the device in it; each further TUNSETIFF with the same
		// name attaches one more queue.
		for i := 0; i < nq; i++ {
			fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
			if err != nil {
				return fmt.Errorf("open /dev/net/tun: %w", err)
			}
			ifr, err := unix.NewIfreq(name)
			if err != nil {
				unix.Close(fd)
				return err
			}
			flags := uint16(unix.IFF_TAP | unix.IFF_NO_PI | unix.IFF_VNET_HDR)
			if nq > 1 {
				flags |= unix.IFF_MULTI_QUEUE
			}
			ifr.SetUint16(flags)
			if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
				unix.Close(fd)
				return fmt.Errorf("TUNSETIFF: %w", err)
			}
			if i == 0 {
				name = ifr.Name()
			}
			files = append(files, os.NewFile(uintptr(fd), "tap:"+name))
			if err := unix.IoctlSetInt(fd, unix.TUNSETOFFLOAD, tapOffloads|tapUSO); err != nil {
				if err := unix.IoctlSetInt(fd, unix.TUNSETOFFLOAD, tapOffloads); err != nil {
					return fmt.Errorf("TUNSETOFFLOAD: %w", err)
				}
			}
			if i == 0 {
				if err := unix.IoctlSetPointerInt(fd, unix.TUNSETCARRIER, 0); err != nil {
					return fmt.Errorf("TUNSETCARRIER: %w", err)
				}
			} else if err := setQueue(fd, false); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		closeAll()
		return nil, bond.LinkInfo{}, fmt.Errorf("netdev: create %s: %w", name, err)
	}
	t := &Tap{f: files[0], name: name}
	for _, f := range files {
		q := &tapQueue{t: t, f: f}
		if q.rc, err = f.SyscallConn(); err != nil {
			closeAll()
			return nil, bond.LinkInfo{}, err
		}
		q.rfn, q.wfn = q.read, q.write
		t.q = append(t.q, q)
	}
	li, err := h.LinkByName(name)
	if err != nil {
		closeAll()
		return nil, bond.LinkInfo{}, err
	}
	t.index = li.Index
	return t, li, nil
}

// DeleteMaster closes m, which removes the TAP, and then deletes the link
// with the given ifindex if it is somehow still present (for instance when
// another descriptor was attached). A link already gone is not an error.
func (h *Host) DeleteMaster(m bond.Master, index int) error {
	defer memRelease.note()
	var first error
	if m != nil {
		if err := m.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
			first = err
		}
	}
	l, err := h.nl.LinkByIndex(index)
	if err != nil {
		return first
	}
	if t, ok := m.(*Tap); ok && l.Attrs().Name != t.name {
		return first // the index now belongs to another link
	}
	if err := h.nl.LinkDel(byIndex(index)); err != nil {
		if err = noDev("delete", index, err); !errors.Is(err, syscall.ENODEV) && first == nil {
			first = err
		}
	}
	return first
}
