package daemon

import (
	"runtime"

	"golang.org/x/sys/unix"

	"bondingfs/internal/state"
)

// soNetnsCookie is SO_NETNS_COOKIE (Linux 5.14).
const soNetnsCookie = 71

// netnsIdentity identifies the instance of the network namespace at nsPath
// ("" for this process's): its nsfs inode, and its cookie when the kernel
// tells it (0 otherwise). The inode alone is reused by a namespace created
// after this one is gone; the cookie never is.
func netnsIdentity(nsPath string) (state.Netns, error) {
	ino, err := netnsInode(nsPath)
	if err != nil {
		return state.Netns{}, err
	}
	return state.Netns{Inode: ino, Cookie: netnsCookie(nsPath)}, nil
}

// netnsCookie returns the cookie of the network namespace at nsPath, read
// from a socket made in it (0 when the kernel has no SO_NETNS_COOKIE, or
// the namespace cannot be entered). The calling goroutine's thread enters
// the namespace and comes back; a thread that could not come back is not
// reused (it stays locked and ends with the goroutine).
func netnsCookie(nsPath string) uint64 {
	runtime.LockOSThread()
	if nsPath != "" {
		self, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			return 0
		}
		defer unix.Close(self)
		target, err := unix.Open(nsPath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			return 0
		}
		err = unix.Setns(target, unix.CLONE_NEWNET)
		unix.Close(target)
		if err != nil {
			runtime.UnlockOSThread()
			return 0
		}
		defer func() {
			if unix.Setns(self, unix.CLONE_NEWNET) == nil {
				runtime.UnlockOSThread()
			}
		}()
	} else {
		defer runtime.UnlockOSThread()
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0
	}
	defer unix.Close(fd)
	v, err := unix.GetsockoptUint64(fd, unix.SOL_SOCKET, soNetnsCookie)
	if err != nil {
		return 0
	}
	return v
}
