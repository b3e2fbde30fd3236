//go:build linux

package supervisor

import (
	"encoding/binary"
	"fmt"
	"net"
	"sort"
	"strings"
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
// (Config.Watch) it compares every bond's and port's state with the last,
// asks the kernel for each changed link (RTM_GETLINK), rewrites it as 6.1
// shows it (rtnl.Rewrite) and unicasts it, from an event socket of its own,
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

// signatures is what an event reports of each bond and port, by ifindex.
func signatures(snap *bond.Snapshot) map[int]string {
	sig := map[int]string{}
	if snap == nil {
		return sig
	}
	for _, b := range snap.Bonds {
		var sl []string
		for _, x := range b.Slaves {
			sl = append(sl, x.Name)
			ad := ""
			if x.AD != nil {
				ad = fmt.Sprint(x.AD.AggregatorID, x.AD.ActorOperState, x.AD.PartnerOperState, x.AD.ActorChurnState, x.AD.PartnerChurnState)
			}
			sig[x.Index] = fmt.Sprint(b.Name, x.Link, x.Active, x.LinkFailureCount, x.QueueID, net.HardwareAddr(x.PermHWAddr), ad)
		}
		agg := ""
		if b.AD != nil && b.AD.ActiveAggregator != nil {
			a := b.AD.ActiveAggregator
			agg = fmt.Sprint(a.ID, a.NumPorts, a.ActorKey, a.PartnerKey, a.PartnerMAC)
		}
		sig[b.Index] = fmt.Sprintf("%s %+v %v %v %v %d %s %s %s %s", b.Name, b.Params, b.Up, b.Carrier, b.HWAddr, b.MTU,
			b.ActiveSlave, b.PrimarySlave, strings.Join(sl, ","), agg)
	}
	return sig
}

// changed lists the ifindexes whose signature differs (a port released is
// in last only: it changed too), in order.
func changed(last, cur map[int]string) []int {
	var idx []int
	for i, v := range cur {
		if last[i] != v {
			idx = append(idx, i)
		}
	}
	for i := range last {
		if _, ok := cur[i]; !ok {
			idx = append(idx, i)
		}
	}
	sort.Ints(idx)
	return idx
}

// events runs until Close: one round of events per engine change.
func (s *Supervisor) events(watch <-chan struct{}, stop func()) {
	defer s.wg.Done()
	defer stop()
	last := signatures(s.snapshot())
	for {
		select {
		case <-s.closing:
			return
		case <-watch:
		}
		snap := s.snapshot()
		cur := signatures(snap)
		idx := changed(last, cur)
		last = cur
		if len(idx) > 0 {
			s.sendEvents(snap, idx)
		}
	}
}

// sendEvents sends RTM_NEWLINK of the links idx to the subscribers.
func (s *Supervisor) sendEvents(snap *bond.Snapshot, idx []int) {
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
			for _, i := range idx {
				if m := nc.getlinkRaw(int32(i)); m != nil {
					evs = append(evs, eventOf(rtnl.Rewrite(m, snap, rtnl.Filter{})))
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

// eventOf turns a GETLINK reply into an event: sequence 0, portid 0, no
// flags, as rtmsg_ifinfo sends it.
func eventOf(msgs []byte) []byte {
	ms, _ := split(msgs)
	for _, m := range ms {
		binary.NativeEndian.PutUint16(m[6:8], 0)
		binary.NativeEndian.PutUint32(m[8:12], 0)
		binary.NativeEndian.PutUint32(m[12:16], 0)
	}
	return msgs
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
