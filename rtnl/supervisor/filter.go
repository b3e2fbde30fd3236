//go:build linux

package supervisor

import (
	"errors"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// The fd range the supervisor places the NETLINK_ROUTE sockets it makes in:
// [ReservedBase, ReservedBase+ReservedCount), below the usual soft
// RLIMIT_NOFILE of 1024. BPF cannot see what an fd is, but the supervisor
// decides the number, so only these fds' sends and receives are notified.
const (
	ReservedBase  = 960
	ReservedCount = 64
)

// mediated are the system calls on a reserved (or inherited rtnl) fd that
// the filter notifies. readv, writev, sendmmsg and recvmmsg are not (no
// netlink client uses them on NETLINK_ROUTE; see docs/differences.md).
var mediated = []uint32{unix.SYS_SENDTO, unix.SYS_SENDMSG, unix.SYS_RECVFROM, unix.SYS_RECVMSG, unix.SYS_READ, unix.SYS_WRITE}

// offsets in struct seccomp_data (little-endian: an argument's low word first)
const (
	offNr   = 0
	offArch = 4
	offArg0 = 16
	offArg2 = 32
)

// Program is the seccomp filter: socket(AF_NETLINK, *, NETLINK_ROUTE) and
// the mediated calls on fds in the reserved range or in inherited (the
// rtnl fds CMD inherits, e.g. networkd's socket-activated one) return
// SECCOMP_RET_USER_NOTIF; everything else, and every call of another
// architecture, is allowed.
func Program(inherited []int) ([]bpf.RawInstruction, error) {
	const allow, notify = unix.SECCOMP_RET_ALLOW, unix.SECCOMP_RET_USER_NOTIF
	// laid out as: arch check, nr dispatch, socket check, fd check, returns
	var p []bpf.Instruction
	// index of the two return instructions, filled in at the end
	var jumpsAllow, jumpsNotify []int
	jmp := func(val uint32, toNotify bool) { // if A == val: go to notify/allow, else next
		p = append(p, bpf.JumpIf{Cond: bpf.JumpEqual, Val: val})
		if toNotify {
			jumpsNotify = append(jumpsNotify, len(p)-1)
		} else {
			jumpsAllow = append(jumpsAllow, len(p)-1)
		}
	}
	p = append(p, bpf.LoadAbsolute{Off: offArch, Size: 4})
	p = append(p, bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: auditArch})
	jumpsAllow = append(jumpsAllow, len(p)-1)
	p = append(p, bpf.LoadAbsolute{Off: offNr, Size: 4})
	// socket: jump over the fd check to the socket check
	p = append(p, bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.SYS_SOCKET})
	socketJump := len(p) - 1
	for _, nr := range mediated {
		p = append(p, bpf.JumpIf{Cond: bpf.JumpEqual, Val: nr})
	}
	fdJumps := len(mediated)
	p = append(p, bpf.RetConstant{Val: allow})
	// fd check
	fdCheck := len(p)
	p = append(p, bpf.LoadAbsolute{Off: offArg0, Size: 4})
	p = append(p, bpf.JumpIf{Cond: bpf.JumpGreaterOrEqual, Val: ReservedBase + ReservedCount})
	geEnd := len(p) - 1
	p = append(p, bpf.JumpIf{Cond: bpf.JumpGreaterOrEqual, Val: ReservedBase})
	jumpsNotify = append(jumpsNotify, len(p)-1)
	inhStart := len(p)
	for _, fd := range inherited {
		jmp(uint32(fd), true)
	}
	p = append(p, bpf.RetConstant{Val: allow})
	_ = inhStart
	// socket check
	sockCheck := len(p)
	p = append(p, bpf.LoadAbsolute{Off: offArg0, Size: 4})
	jmpNE := len(p)
	p = append(p, bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: unix.AF_NETLINK})
	jumpsAllow = append(jumpsAllow, jmpNE)
	p = append(p, bpf.LoadAbsolute{Off: offArg2, Size: 4})
	jmp(unix.NETLINK_ROUTE, true)
	p = append(p, bpf.RetConstant{Val: allow})
	retAllow := len(p)
	p = append(p, bpf.RetConstant{Val: allow})
	retNotify := len(p)
	p = append(p, bpf.RetConstant{Val: notify})

	skip := func(from, to int) (uint8, error) {
		d := to - from - 1
		if d < 0 || d > 255 {
			return 0, errors.New("supervisor: filter too long")
		}
		return uint8(d), nil
	}
	set := func(i, to int) error {
		j := p[i].(bpf.JumpIf)
		s, err := skip(i, to)
		j.SkipTrue = s
		p[i] = j
		return err
	}
	var err error
	for _, i := range jumpsAllow {
		err = errors.Join(err, set(i, retAllow))
	}
	for _, i := range jumpsNotify {
		err = errors.Join(err, set(i, retNotify))
	}
	err = errors.Join(err, set(socketJump, sockCheck))
	for k := 0; k < fdJumps; k++ {
		err = errors.Join(err, set(socketJump+1+k, fdCheck))
	}
	// fd >= end: skip to the inherited list (past the ">= base" test)
	j := p[geEnd].(bpf.JumpIf)
	j.SkipTrue = 1
	p[geEnd] = j
	if err != nil {
		return nil, err
	}
	return bpf.Assemble(p)
}

// Install installs the filter on the calling thread with a user
// notification listener (SECCOMP_FILTER_FLAG_NEW_LISTENER) that waits
// killable once the supervisor received a notification
// (SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, Linux 5.19: without it Go's
// preemption signal interrupts notified calls). The caller must hold the
// thread (runtime.LockOSThread) and exec from it; the filter stays on CMD
// and everything it starts. Without CAP_SYS_ADMIN, PR_SET_NO_NEW_PRIVS is
// set first (as root it is not, so setuid helpers keep working). It returns
// the listener fd.
func Install(inherited []int) (int, error) {
	if !Supported {
		return -1, fmt.Errorf("supervisor: architecture not supported")
	}
	raw, err := Program(inherited)
	if err != nil {
		return -1, err
	}
	filter := make([]unix.SockFilter, len(raw))
	for i, r := range raw {
		filter[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	if os.Geteuid() != 0 {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return -1, fmt.Errorf("supervisor: no_new_privs: %w", err)
		}
	}
	fd, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER,
		unix.SECCOMP_FILTER_FLAG_NEW_LISTENER|unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
		uintptr(unsafe.Pointer(&prog)))
	if errno != 0 {
		if errno == unix.EINVAL {
			return -1, fmt.Errorf("supervisor: seccomp user notification with WAIT_KILLABLE_RECV needs Linux 5.19 or later: %w", errno)
		}
		return -1, fmt.Errorf("supervisor: seccomp: %w", errno)
	}
	return int(fd), nil
}

// InheritedRtnl lists the fds from 3 on that are NETLINK_ROUTE sockets
// (socket activation passes them, e.g. systemd-networkd.socket's
// ListenNetlink=route).
func InheritedRtnl() []int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil
	}
	var fds []int
	for _, e := range ents {
		var fd int
		if _, err := fmt.Sscan(e.Name(), &fd); err != nil || fd < 3 {
			continue
		}
		dom, err1 := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN)
		proto, err2 := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PROTOCOL)
		if err1 == nil && err2 == nil && dom == unix.AF_NETLINK && proto == unix.NETLINK_ROUTE {
			fds = append(fds, fd)
		}
	}
	return fds
}
