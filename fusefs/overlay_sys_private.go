package fusefs

import (
	"fmt"
	"runtime"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// PrivateSysfs is a sysfs instance mounted for one network namespace and
// attached nowhere: a detached mount (fsopen/fsmount) reached through
// /proc/self/fd/N. It shows that namespace's /sys/class/net whatever is
// mounted over /sys/class/net later, so the daemon never reads through its
// own mount.
type PrivateSysfs struct {
	fd int
	// nl is an RTNLGRP_LINK socket of the same namespace (linkwatch.go)
	// until Mount takes it, else -1.
	mu sync.Mutex
	nl int
}

// OpenPrivateSysfs mounts a fresh sysfs for the network namespace at
// netnsPath ("" for the calling process's) as a detached mount. sysfs tags
// its class/net directory with the namespace of the task that creates the
// superblock, so the fsopen/fsconfig calls run on a locked OS thread that has
// entered the namespace; the thread is discarded afterwards. Errors: the
// namespace cannot be opened or entered, or the kernel lacks the new mount
// API (ENOSYS) or refuses the mount (EPERM without CAP_SYS_ADMIN).
func OpenPrivateSysfs(netnsPath string) (*PrivateSysfs, error) {
	type res struct {
		fd, nl int
		err    error
	}
	ch := make(chan res, 1)
	go func() {
		// The thread is never unlocked: it dies with this goroutine, so
		// its changed namespace never serves another goroutine.
		runtime.LockOSThread()
		if netnsPath != "" {
			nsfd, err := unix.Open(netnsPath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				ch <- res{-1, -1, fmt.Errorf("fusefs: open netns %s: %w", netnsPath, err)}
				return
			}
			err = unix.Setns(nsfd, unix.CLONE_NEWNET)
			unix.Close(nsfd)
			if err != nil {
				ch <- res{-1, -1, fmt.Errorf("fusefs: enter netns %s: %w", netnsPath, err)}
				return
			}
		}
		fsfd, err := unix.Fsopen("sysfs", unix.FSOPEN_CLOEXEC)
		if err != nil {
			ch <- res{-1, -1, fmt.Errorf("fusefs: fsopen sysfs: %w", err)}
			return
		}
		defer unix.Close(fsfd)
		if err := unix.FsconfigSetString(fsfd, "source", "bondingfs-sysfs"); err != nil {
			ch <- res{-1, -1, fmt.Errorf("fusefs: fsconfig sysfs: %w", err)}
			return
		}
		if err := unix.FsconfigCreate(fsfd); err != nil {
			ch <- res{-1, -1, fmt.Errorf("fusefs: fsconfig create sysfs: %w", err)}
			return
		}
		mfd, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC)
		if err != nil {
			ch <- res{-1, -1, fmt.Errorf("fusefs: fsmount sysfs: %w", err)}
			return
		}
		// the link watch is an optimisation: without it nothing is cached
		nl, err := openLinkSocket()
		if err != nil {
			nl = -1
		}
		ch <- res{mfd, nl, nil}
	}()
	r := <-ch
	if r.err != nil {
		return nil, r.err
	}
	p := &PrivateSysfs{fd: r.fd, nl: r.nl}
	privates.Store(p.Path(), p)
	return p, nil
}

// takeLinkSocket hands the link socket to its caller (-1 when there is
// none, or it was taken).
func (p *PrivateSysfs) takeLinkSocket() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	nl := p.nl
	p.nl = -1
	return nl
}

// Path returns the sysfs root as a path usable from every thread of this
// process: /proc/self/fd/N.
func (p *PrivateSysfs) Path() string { return "/proc/self/fd/" + strconv.Itoa(p.fd) }

// Close releases the mount (the kernel frees it with the last reference).
func (p *PrivateSysfs) Close() error {
	if p.fd < 0 {
		return nil
	}
	privates.CompareAndDelete(p.Path(), p)
	if nl := p.takeLinkSocket(); nl >= 0 {
		unix.Close(nl)
	}
	err := unix.Close(p.fd)
	p.fd = -1
	return err
}
