//go:build linux

package supervisor

import (
	"encoding/binary"
	"unsafe"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"bondingfs/bond"
	"bondingfs/rtnl"
)

// Events. A kernel with bonding.ko sends RTM_NEWLINK to RTNLGRP_LINK on
// enslave, release, option and active-slave changes; here the kernel sees
// none of those (the requests were the engine's, or the sysfs files'), so
// the supervisor makes them: after each published engine change
// (Config.Watch) it asks rtnl.Changed which bonds and ports look different
// from the last snapshot, asks the kernel for each (RTM_GETLINK), makes the
// event 6.1 sends of it (rtnl.Event, with IFLA_EVENT) and unicasts it, from an event socket of its own,
// to every supervised socket whose NETLINK_LIST_MEMBERSHIPS has
// RTNLGRP_LINK. The receive path delivers those as the kernel's multicast:
// sender 0, nl_groups RTMGRP_LINK, and a NETLINK_PKTINFO of RTNLGRP_LINK
// when the socket asked for it (sd-netlink drops group-0 messages not
// addressed to it).

// sockRef is a supervised socket: the process and fd it was last seen at,
// and its network namespace.
type sockRef struct {
	tgid, fd int
	ns       uint64
}

// noteSocket records a supervised socket (by inode).
func (s *Supervisor) noteSocket(ino uint64, r sockRef) {
	s.mu.Lock()
	s.socks[ino] = r
	s.mu.Unlock()
}

func (s *Supervisor) knownSocket(ino uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.socks[ino]
	return ok
}

// events runs until Close: one round of events per engine change.
func (s *Supervisor) events(watch <-chan struct{}, stop func()) {
	defer s.wg.Done()
	defer stop()
	last := s.snapshot()
	for {
		select {
		case <-s.closing:
			return
		case <-watch:
		}
		snap := s.snapshot()
		ch := rtnl.Changed(last, snap)
		last = snap
		if len(ch) > 0 {
			s.sendEvents(snap, ch)
		}
	}
}

// sendEvents sends RTM_NEWLINK of the links ch to the subscribers.
func (s *Supervisor) sendEvents(snap *bond.Snapshot, ch []rtnl.Change) {
	s.mu.Lock()
	socks := make(map[uint64]sockRef, len(s.socks))
	for ino, r := range s.socks {
		socks[ino] = r
	}
	nets := make(map[uint64]*netnsConn, len(s.nets))
	for k, v := range s.nets {
		nets[k] = v
	}
	s.mu.Unlock()
	msgs := map[uint64][][]byte{} // by netns
	for ino, r := range socks {
		nc := nets[r.ns]
		if nc == nil {
			continue
		}
		portid, ok, gone := subscriber(ino, r)
		if gone {
			s.mu.Lock()
			delete(s.socks, ino)
			s.mu.Unlock()
			continue
		}
		if !ok {
			continue
		}
		evs, done := msgs[r.ns]
		if !done {
			for _, c := range ch {
				if m := nc.getlinkRaw(c.Index); m != nil {
					if ev := rtnl.Event(m, snap, c.Event); ev != nil {
						evs = append(evs, ev)
					}
				}
			}
			msgs[r.ns] = evs
		}
		for _, ev := range evs {
			// a full receive queue drops the event, as for the kernel's
			_ = unix.Sendto(nc.events, ev, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Pid: portid})
		}
	}
}

// subscriber reports the portid of the socket ino when it has RTNLGRP_LINK
// among its memberships; gone when the socket is no longer at r.
func subscriber(ino uint64, r sockRef) (portid uint32, ok, gone bool) {
	pidfd, err := unix.PidfdOpen(r.tgid, 0)
	if err != nil {
		return 0, false, true
	}
	defer unix.Close(pidfd)
	fd, err := unix.PidfdGetfd(pidfd, r.fd, 0)
	if err != nil {
		return 0, false, true
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Ino != ino {
		return 0, false, true
	}
	groups := make([]uint32, 8)
	l := uint32(len(groups) * 4)
	if _, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_NETLINK, unix.NETLINK_LIST_MEMBERSHIPS,
		uintptr(unsafe.Pointer(&groups[0])), uintptr(unsafe.Pointer(&l)), 0); e != 0 {
		return 0, false, false
	}
	const bit = unix.RTNLGRP_LINK - 1
	if groups[bit/32]&(1<<(bit%32)) == 0 {
		return 0, false, false
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return 0, false, false
	}
	nl, isNL := sa.(*unix.SockaddrNetlink)
	if !isNL || nl.Pid == 0 {
		return 0, false, false
	}
	return nl.Pid, true, false
}

// getlinkRaw is the kernel's RTM_NEWLINK of ifindex index, as bytes.
func (n *netnsConn) getlinkRaw(index int32) []byte {
	body := make([]byte, unix.SizeofIfInfomsg)
	binary.NativeEndian.PutUint32(body[4:8], uint32(index))
	n.mu.Lock()
	msgs, err := n.conn.Execute(netlink.Message{Header: netlink.Header{Type: unix.RTM_GETLINK, Flags: netlink.Request}, Data: body})
	n.mu.Unlock()
	if err != nil || len(msgs) == 0 {
		return nil
	}
	b, err := msgs[0].MarshalBinary()
	if err != nil {
		return nil
	}
	return b
}
