//go:build linux

package supervisor

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"bondingfs/bond"
	"bondingfs/rtnl"
)

// recv answers recvfrom, recvmsg and read on a supervised socket. It waits
// for a datagram as the caller would (unless MSG_DONTWAIT or O_NONBLOCK,
// shared as it is the same open file), peeks at it, and lets the kernel
// deliver it when nothing in it concerns a bond. Otherwise it reads it on
// the caller's behalf and writes the rewritten messages, the sender (0:
// the kernel, also for the supervisor's injected replies), the control
// messages (NETLINK_PKTINFO, SCM_CREDENTIALS as 0/0/0) and the flags
// (MSG_TRUNC, MSG_CTRUNC) into the caller's memory, with MSG_TRUNC's
// return value semantics.
func (s *Supervisor) recv(n notif) error {
	pid := int(n.Pid)
	var flags int
	var iovs []iovec
	var mh []byte // recvmsg's msghdr
	var srcAddr, srcLenAddr uint64
	var err error
	switch int(n.Nr) {
	case unix.SYS_RECVFROM:
		iovs = []iovec{{n.Args[1], n.Args[2]}}
		flags = int(n.Args[3])
		srcAddr, srcLenAddr = n.Args[4], n.Args[5]
	case unix.SYS_READ:
		iovs = []iovec{{n.Args[1], n.Args[2]}}
	case unix.SYS_RECVMSG:
		flags = int(n.Args[2])
		if mh, err = readMem(pid, n.Args[1], sizeofMsghdr); err != nil {
			return s.cont(n)
		}
		if iovs, err = readIovs(pid, binary.NativeEndian.Uint64(mh[mhIov:]), binary.NativeEndian.Uint64(mh[mhIovLen:])); err != nil {
			return s.cont(n)
		}
	}
	c, err := s.callerFast(n)
	if err != nil {
		return err
	}
	defer c.close()
	fd, err := c.getfd(int(n.Args[0]))
	if err != nil {
		return s.cont(n)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return s.cont(n)
	}
	nonblock := flags&unix.MSG_DONTWAIT != 0
	if fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0); err == nil && fl&unix.O_NONBLOCK != 0 {
		nonblock = true
	}
	var out, ctlMsgs []byte
	var fromPid, groups uint32
	var kind, oobn int
	for {
		// the head datagram's size
		var size int
		for {
			size, _, _, _, err = unix.Recvmsg(fd, nil, nil, unix.MSG_PEEK|unix.MSG_DONTWAIT|unix.MSG_TRUNC)
			if err == nil {
				break
			}
			if err != unix.EAGAIN {
				return s.fail(n, errnoOf(err))
			}
			if nonblock {
				return s.fail(n, unix.EAGAIN)
			}
			if e := s.wait(n, fd); e != 0 {
				if e == unix.ENOENT {
					return nil
				}
				return s.fail(n, e)
			}
		}
		// a request under way on the engine: wait for its snapshot
		s.opMu.RLock()
		s.opMu.RUnlock()
		snap := s.snapshot()
		// the caller's sizing peek and its read of the same datagram: the
		// second needs no second look when the first let it through
		var head [64]byte
		hn, _, _, _, err := unix.Recvmsg(fd, head[:], nil, unix.MSG_PEEK|unix.MSG_DONTWAIT)
		if err != nil {
			return s.cont(n)
		}
		if s.passedBefore(st.Ino, size, head[:hn], snap, flags&unix.MSG_PEEK == 0) {
			return s.cont(n)
		}
		buf := make([]byte, size+1)
		oob := make([]byte, 512)
		k, _, _, from, err := unix.Recvmsg(fd, buf, nil, unix.MSG_PEEK|unix.MSG_DONTWAIT)
		if err != nil {
			return s.cont(n)
		}
		fromPid, groups = 0, 0
		if sa, ok := from.(*unix.SockaddrNetlink); ok {
			fromPid, groups = sa.Pid, sa.Groups
		}
		f, filtered := s.filter(st.Ino)
		kind = s.helperPortid(fromPid)
		ours := kind != fromOther
		if !s.knownSocket(st.Ino) {
			if nc, err := s.callerNetns(c.tgid); err == nil {
				s.noteSocket(st.Ino, sockRef{tgid: c.tgid, fd: int(n.Args[0]), ns: nc.ino})
			}
		}
		if !ours && (fromPid != 0 || (!filtered && !rtnl.Concerns(buf[:k], snap))) {
			if flags&unix.MSG_PEEK != 0 {
				s.remember(st.Ino, size, head[:hn], snap)
			}
			return s.cont(n)
		}
		rflags := unix.MSG_DONTWAIT
		if flags&unix.MSG_PEEK != 0 {
			rflags |= unix.MSG_PEEK
		}
		k, oobn, _, _, err = unix.Recvmsg(fd, buf, oob, rflags)
		if err != nil {
			return s.fail(n, errnoOf(err))
		}
		out = buf[:k]
		ctlMsgs = oob[:oobn]
		if ours {
			fromPid = 0
			zeroCreds(ctlMsgs)
			if kind == fromEvent {
				groups = 1 << (unix.RTNLGRP_LINK - 1)
				ctlMsgs = setPktinfo(ctlMsgs, unix.RTNLGRP_LINK)
			}
		} else {
			out = rtnl.Rewrite(out, snap, f)
			if filtered && flags&unix.MSG_PEEK == 0 && endsDump(out) {
				s.clearFilter(st.Ino)
			}
		}
		if len(out) == 0 && k > 0 {
			// every message filtered out: the caller never sees this
			// datagram; take it off the queue and wait for the next
			if flags&unix.MSG_PEEK != 0 {
				_, _, _, _, _ = unix.Recvmsg(fd, buf, nil, unix.MSG_DONTWAIT)
			}
			continue
		}
		break
	}
	// data
	copied := 0
	for _, v := range iovs {
		if copied >= len(out) {
			break
		}
		m := int(v.len)
		if m > len(out)-copied {
			m = len(out) - copied
		}
		if err := writeMem(pid, v.base, out[copied:copied+m]); err != nil {
			return s.fail(n, unix.EFAULT)
		}
		copied += m
	}
	msgFlags := 0
	if copied < len(out) {
		msgFlags |= unix.MSG_TRUNC
	}
	name := make([]byte, unix.SizeofSockaddrNetlink)
	binary.NativeEndian.PutUint16(name[0:2], unix.AF_NETLINK)
	binary.NativeEndian.PutUint32(name[4:8], fromPid)
	binary.NativeEndian.PutUint32(name[8:12], groups)
	switch int(n.Nr) {
	case unix.SYS_RECVFROM:
		if srcAddr != 0 && srcLenAddr != 0 {
			lb, err := readMem(pid, srcLenAddr, 4)
			if err != nil {
				return s.fail(n, unix.EFAULT)
			}
			l := int(binary.NativeEndian.Uint32(lb))
			if l > len(name) {
				l = len(name)
			}
			if err := writeMem(pid, srcAddr, name[:l]); err != nil {
				return s.fail(n, unix.EFAULT)
			}
			if err := writeMem(pid, srcLenAddr, binary.NativeEndian.AppendUint32(nil, uint32(len(name)))); err != nil {
				return s.fail(n, unix.EFAULT)
			}
		}
	case unix.SYS_RECVMSG:
		if a := binary.NativeEndian.Uint64(mh[mhName:]); a != 0 {
			l := int(binary.NativeEndian.Uint32(mh[mhNameLen:]))
			if l > len(name) {
				l = len(name)
			}
			if err := writeMem(pid, a, name[:l]); err != nil {
				return s.fail(n, unix.EFAULT)
			}
			if err := writeMem(pid, n.Args[1]+mhNameLen, binary.NativeEndian.AppendUint32(nil, uint32(len(name)))); err != nil {
				return s.fail(n, unix.EFAULT)
			}
		}
		ctl := ctlMsgs
		ca, cl := binary.NativeEndian.Uint64(mh[mhControl:]), binary.NativeEndian.Uint64(mh[mhControlLen:])
		if ca == 0 {
			cl = 0
		}
		if uint64(len(ctl)) > cl {
			ctl = cutCmsgs(ctl, int(cl))
			msgFlags |= unix.MSG_CTRUNC
		}
		if err := writeMem(pid, ca, ctl); err != nil {
			return s.fail(n, unix.EFAULT)
		}
		if err := writeMem(pid, n.Args[1]+mhControlLen, binary.NativeEndian.AppendUint64(nil, uint64(len(ctl)))); err != nil {
			return s.fail(n, unix.EFAULT)
		}
		if err := writeMem(pid, n.Args[1]+mhFlags, binary.NativeEndian.AppendUint32(nil, uint32(msgFlags))); err != nil {
			return s.fail(n, unix.EFAULT)
		}
	}
	ret := copied
	if flags&unix.MSG_TRUNC != 0 {
		ret = len(out)
	}
	return s.ok(n, int64(ret))
}

// wait blocks until fd is readable, checking every waitTick that the
// caller still waits (ENOENT if not) and has no signal to take (EINTR).
func (s *Supervisor) wait(n notif, fd int) unix.Errno {
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		select {
		case <-s.closing:
			return unix.EINTR
		default:
		}
		pfd[0].Revents = 0
		r, err := unix.Poll(pfd, int(waitTick.Milliseconds()))
		if err != nil && err != unix.EINTR {
			return errnoOf(err)
		}
		if r > 0 {
			return 0
		}
		if !idValid(s.listener, n.ID) {
			return unix.ENOENT
		}
		if _, _, pending, err := readStatus(int(n.Pid)); err != nil {
			return unix.ENOENT
		} else if pending {
			return unix.EINTR
		}
	}
}

// endsDump reports whether msgs holds the end of a dump (NLMSG_DONE) or an
// error.
func endsDump(msgs []byte) bool {
	ms, _ := split(msgs)
	for _, m := range ms {
		t := binary.NativeEndian.Uint16(m[4:6])
		if t == unix.NLMSG_DONE || t == unix.NLMSG_ERROR {
			return true
		}
	}
	return false
}

// zeroCreds turns the SCM_CREDENTIALS in the control messages b into
// 0/0/0, as the kernel's own messages carry.
func zeroCreds(b []byte) {
	for len(b) >= unix.SizeofCmsghdr {
		l := int(binary.NativeEndian.Uint64(b[0:8]))
		level := int32(binary.NativeEndian.Uint32(b[8:12]))
		typ := int32(binary.NativeEndian.Uint32(b[12:16]))
		if l < unix.SizeofCmsghdr || l > len(b) {
			return
		}
		if level == unix.SOL_SOCKET && typ == unix.SCM_CREDENTIALS && l >= unix.SizeofCmsghdr+unix.SizeofUcred {
			for i := unix.SizeofCmsghdr; i < unix.SizeofCmsghdr+unix.SizeofUcred; i++ {
				b[i] = 0
			}
		}
		a := (l + 7) &^ 7
		if a > len(b) {
			return
		}
		b = b[a:]
	}
}

// setPktinfo sets the group of the NETLINK_PKTINFO among the control
// messages b (the kernel added one, with group 0, when the socket asked for
// NETLINK_PKTINFO).
func setPktinfo(b []byte, group uint32) []byte {
	for off := 0; off+unix.SizeofCmsghdr <= len(b); {
		l := int(binary.NativeEndian.Uint64(b[off : off+8]))
		if l < unix.SizeofCmsghdr || off+l > len(b) {
			break
		}
		level := int32(binary.NativeEndian.Uint32(b[off+8 : off+12]))
		typ := int32(binary.NativeEndian.Uint32(b[off+12 : off+16]))
		if level == unix.SOL_NETLINK && typ == unix.NETLINK_PKTINFO && l >= unix.SizeofCmsghdr+4 {
			binary.NativeEndian.PutUint32(b[off+unix.SizeofCmsghdr:], group)
		}
		off += (l + 7) &^ 7
	}
	return b
}

// cutCmsgs keeps the whole control messages of b that fit in max bytes.
func cutCmsgs(b []byte, max int) []byte {
	end := 0
	for off := 0; off+unix.SizeofCmsghdr <= len(b); {
		l := int(binary.NativeEndian.Uint64(b[off : off+8]))
		if l < unix.SizeofCmsghdr || off+l > len(b) || off+l > max {
			break
		}
		// CMSG_SPACE when it fits, as put_cmsg counts it
		end = off + (l+7)&^7
		if end > max {
			end = max
		}
		if end > len(b) {
			end = len(b)
		}
		off += (l + 7) &^ 7
	}
	return b[:end]
}

// passed is a datagram the receive path let through to a caller's peek.
type passed struct {
	size int
	head [64]byte
	hn   int
	snap *bond.Snapshot
}

// remember notes that the head datagram of socket ino (size bytes, head
// its first bytes) concerns no bond in snap.
func (s *Supervisor) remember(ino uint64, size int, head []byte, snap *bond.Snapshot) {
	p := passed{size: size, hn: len(head), snap: snap}
	copy(p.head[:], head)
	s.mu.Lock()
	if len(s.passed) > 4096 {
		s.passed = map[uint64]passed{} // sockets closed after a peek
	}
	s.passed[ino] = p
	s.mu.Unlock()
}

// passedBefore reports whether the head datagram of socket ino is the one
// remember noted, with the engine's state unchanged; consume forgets it
// (the caller's read takes the datagram).
func (s *Supervisor) passedBefore(ino uint64, size int, head []byte, snap *bond.Snapshot, consume bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.passed[ino]
	if !ok {
		return false
	}
	if consume {
		delete(s.passed, ino)
	}
	return p.size == size && p.snap == snap && p.hn == len(head) && string(p.head[:p.hn]) == string(head)
}
