//go:build linux

package supervisor

import (
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// socket answers socket(AF_NETLINK, type, NETLINK_ROUTE): a real kernel
// socket made in the caller's network namespace, installed at the lowest
// free number of the reserved range (SECCOMP_IOCTL_NOTIF_ADDFD with
// SETFD|SEND), so that only its sends and receives come here.
func (s *Supervisor) socket(n notif) error {
	typ := int(n.Args[1])
	base := typ &^ (unix.SOCK_NONBLOCK | unix.SOCK_CLOEXEC)
	if base != unix.SOCK_RAW && base != unix.SOCK_DGRAM {
		return s.cont(n) // the kernel's ESOCKTNOSUPPORT
	}
	c, err := s.caller(n)
	if err != nil {
		return err
	}
	defer c.close()
	nsfd, err := unix.Open("/proc/"+itoa(c.tgid)+"/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return s.fail(n, unix.ENOMEM)
	}
	var nsSt unix.Stat_t
	_ = unix.Fstat(nsfd, &nsSt)
	if _, err := s.netns(nsfd); err != nil {
		unix.Close(nsfd)
		return s.fail(n, errnoOf(err))
	}
	fd, err := socketAt(nsfd, base|unix.SOCK_CLOEXEC|(typ&unix.SOCK_NONBLOCK))
	unix.Close(nsfd)
	if err != nil {
		return s.fail(n, errnoOf(err))
	}
	defer unix.Close(fd)
	// one placement at a time per process: the free number must stay free
	mu := s.placeLock(c.tgid)
	mu.Lock()
	defer mu.Unlock()
	newfd := -1
	for i := ReservedBase; i < ReservedBase+ReservedCount; i++ {
		if _, err := os.Readlink("/proc/" + itoa(c.tgid) + "/fd/" + itoa(i)); os.IsNotExist(err) {
			newfd = i
			break
		}
	}
	if newfd < 0 {
		return s.fail(n, unix.EMFILE)
	}
	if err := addFD(s.listener, n.ID, fd, newfd, typ&unix.SOCK_CLOEXEC != 0); err != nil {
		if err == unix.ENOENT {
			return err
		}
		// e.g. EMFILE: newfd above the caller's RLIMIT_NOFILE
		return s.fail(n, errnoOf(err))
	}
	var st unix.Stat_t
	if unix.Fstat(fd, &st) == nil {
		s.noteSocket(st.Ino, sockRef{tgid: c.tgid, fd: newfd, ns: nsSt.Ino})
	}
	return nil
}

func (s *Supervisor) placeLock(tgid int) *sync.Mutex {
	s.mu.Lock()
	defer s.mu.Unlock()
	mu := s.sockMu[tgid]
	if mu == nil {
		mu = &sync.Mutex{}
		s.sockMu[tgid] = mu
	}
	return mu
}
