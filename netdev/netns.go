package netdev

import (
	"fmt"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// NetnsPath returns the path of a network namespace given by name, as `ip
// netns` names them (/var/run/netns/NAME), or given as a path (anything with
// a '/', returned as is); "" stays "" (the calling thread's namespace).
func NetnsPath(name string) string {
	if name == "" || strings.Contains(name, "/") {
		return name
	}
	return filepath.Join("/var/run/netns", name)
}

// nsRef is a network namespace to run operations in. fd < 0 means the
// namespace of the calling thread; no switching is done then.
type nsRef struct {
	fd int
}

// openNS opens the namespace at path; "" yields the current namespace.
func openNS(path string) (nsRef, error) {
	if path == "" {
		return nsRef{fd: -1}, nil
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nsRef{fd: -1}, fmt.Errorf("netdev: open netns %s: %w", path, err)
	}
	var st unix.Statfs_t
	if err := unix.Fstatfs(fd, &st); err != nil || st.Type != unix.NSFS_MAGIC {
		unix.Close(fd)
		return nsRef{fd: -1}, fmt.Errorf("netdev: %s is not a namespace file: %w", path, unix.EINVAL)
	}
	return nsRef{fd: fd}, nil
}

// dup returns an independent reference to the same namespace.
func (n nsRef) dup() (nsRef, error) {
	if n.fd < 0 {
		return n, nil
	}
	fd, err := unix.FcntlInt(uintptr(n.fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nsRef{fd: -1}, fmt.Errorf("netdev: dup netns fd: %w", err)
	}
	return nsRef{fd: fd}, nil
}

func (n nsRef) close() {
	if n.fd >= 0 {
		unix.Close(n.fd)
	}
}

// handle returns the namespace as a netns.NsHandle (netns.None() for the
// current one). The handle is borrowed: do not close it.
func (n nsRef) handle() netns.NsHandle {
	if n.fd < 0 {
		return netns.None()
	}
	return netns.NsHandle(n.fd)
}

// do runs fn on an OS thread that has entered the namespace, then returns
// the thread to its previous namespace. fn must not start goroutines that
// expect to inherit the namespace. File descriptors created by fn (sockets,
// /dev/net/tun, /proc/sys files) keep the namespace they were created in.
// If the thread cannot be switched back it stays locked and is discarded
// when the helper goroutine exits.
func (n nsRef) do(fn func() error) error {
	if n.fd < 0 {
		return fn()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("netdev: get current netns: %w", err)
			return
		}
		defer orig.Close()
		if err := netns.Set(netns.NsHandle(n.fd)); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("netdev: enter netns: %w", err)
			return
		}
		err = fn()
		if netns.Set(orig) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}
