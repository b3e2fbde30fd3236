//go:build linux

package supervisor

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// struct seccomp_notif, seccomp_notif_resp and seccomp_notif_addfd
// (include/uapi/linux/seccomp.h).
type notif struct {
	ID    uint64
	Pid   uint32
	Flags uint32
	Nr    int32
	Arch  uint32
	IP    uint64
	Args  [6]uint64
}

type notifResp struct {
	ID    uint64
	Val   int64
	Error int32
	Flags uint32
}

type notifAddfd struct {
	ID         uint64
	Flags      uint32
	Srcfd      uint32
	Newfd      uint32
	NewfdFlags uint32
}

// the ioctls x/sys/unix lacks: SECCOMP_IOW(2, __u64) and
// SECCOMP_IOW(3, struct seccomp_notif_addfd)
const (
	ioctlNotifIDValid = 0x40082102
	ioctlNotifAddfd   = 0x40182103
	// SECCOMP_USER_NOTIF_FLAG_CONTINUE
	flagContinue = 1
)

func ioctl(fd int, req uintptr, arg unsafe.Pointer) (uintptr, error) {
	r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, uintptr(arg))
	if errno != 0 {
		return r, errno
	}
	return r, nil
}

// recvNotif is SECCOMP_IOCTL_NOTIF_RECV.
func recvNotif(listener int) (notif, error) {
	var n notif
	_, err := ioctl(listener, unix.SECCOMP_IOCTL_NOTIF_RECV, unsafe.Pointer(&n))
	return n, err
}

// respond is SECCOMP_IOCTL_NOTIF_SEND: the call returns val, or fails with
// errno when it is non-zero; cont lets the kernel run the call instead.
func respond(listener int, id uint64, val int64, errno unix.Errno, cont bool) error {
	r := notifResp{ID: id, Val: val}
	if errno != 0 {
		r.Error = -int32(errno)
		r.Val = 0
	}
	if cont {
		r = notifResp{ID: id, Flags: flagContinue}
	}
	_, err := ioctl(listener, unix.SECCOMP_IOCTL_NOTIF_SEND, unsafe.Pointer(&r))
	return err
}

// idValid is SECCOMP_IOCTL_NOTIF_ID_VALID: whether the notifying task is
// still waiting for this answer (it neither died nor got its pid reused).
func idValid(listener int, id uint64) bool {
	_, err := ioctl(listener, ioctlNotifIDValid, unsafe.Pointer(&id))
	return err == nil
}

// addFD is SECCOMP_IOCTL_NOTIF_ADDFD with SETFD|SEND: it installs src in
// the caller at newfd and answers the call with that number.
func addFD(listener int, id uint64, src, newfd int, cloexec bool) error {
	a := notifAddfd{ID: id, Flags: unix.SECCOMP_ADDFD_FLAG_SETFD | unix.SECCOMP_ADDFD_FLAG_SEND, Srcfd: uint32(src), Newfd: uint32(newfd)}
	if cloexec {
		a.NewfdFlags = unix.O_CLOEXEC
	}
	_, err := ioctl(listener, ioctlNotifAddfd, unsafe.Pointer(&a))
	return err
}
