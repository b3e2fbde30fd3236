//go:build linux

package supervisor

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"bondingfs/rtnl"
)

// send answers sendto, sendmsg and write on a supervised socket. A send
// whose messages need nothing of the supervisor (the common case) continues
// to the kernel: it costs the notification alone. Otherwise each message
// in turn is carried out by the engine and answered by injection, has its
// dump filter taken out (the receive path applies it), or goes to the
// kernel on the caller's own socket (the same open file, through
// pidfd_getfd), so the replies queue up in the caller's order.
func (s *Supervisor) send(n notif) error {
	pid := int(n.Pid)
	var data []byte
	var err error
	var destAddr, destLen uint64
	switch int(n.Nr) {
	case unix.SYS_SENDTO:
		destAddr, destLen = n.Args[4], n.Args[5]
		if n.Args[2] > maxSend {
			return s.cont(n)
		}
		data, err = readMem(pid, n.Args[1], int(n.Args[2]))
	case unix.SYS_WRITE:
		if n.Args[2] > maxSend {
			return s.cont(n)
		}
		data, err = readMem(pid, n.Args[1], int(n.Args[2]))
	case unix.SYS_SENDMSG:
		var mh []byte
		if mh, err = readMem(pid, n.Args[1], sizeofMsghdr); err != nil {
			break
		}
		destAddr = binary.NativeEndian.Uint64(mh[mhName:])
		destLen = uint64(binary.NativeEndian.Uint32(mh[mhNameLen:]))
		var iovs []iovec
		if iovs, err = readIovs(pid, binary.NativeEndian.Uint64(mh[mhIov:]), binary.NativeEndian.Uint64(mh[mhIovLen:])); err != nil {
			break
		}
		total := uint64(0)
		for _, v := range iovs {
			total += v.len
		}
		if total > maxSend {
			return s.cont(n)
		}
		for _, v := range iovs {
			var b []byte
			if b, err = readMem(pid, v.base, int(v.len)); err != nil {
				break
			}
			data = append(data, b...)
		}
	}
	if err != nil {
		// the kernel will say EFAULT (or the caller is gone)
		return s.cont(n)
	}
	if destAddr != 0 && destLen >= unix.SizeofSockaddrNetlink {
		sa, err := readMem(pid, destAddr, unix.SizeofSockaddrNetlink)
		if err != nil || binary.NativeEndian.Uint32(sa[4:8]) != 0 || binary.NativeEndian.Uint32(sa[8:12]) != 0 {
			return s.cont(n) // to another socket or a group: not a request
		}
	}
	msgs, ok := split(data)
	if !ok {
		return s.cont(n)
	}
	snap := s.snapshot()
	type step struct {
		local    bool
		filter   *rtnl.Filter
		stripped []byte
	}
	steps := make([]step, len(msgs))
	mine := false
	for i, m := range msgs {
		if rtnl.Classify(m, snap) {
			steps[i].local, mine = true, true
			continue
		}
		if f, stripped, ok := rtnl.ParseDumpFilter(m); ok {
			steps[i].filter, steps[i].stripped, mine = &f, stripped, true
		}
	}
	if !mine {
		return s.cont(n)
	}
	c, err := s.caller(n)
	if err != nil {
		return err
	}
	defer c.close()
	fd, err := c.getfd(int(n.Args[0]))
	if err != nil {
		return s.cont(n)
	}
	defer unix.Close(fd)
	si, err := sockinfo(fd)
	if err != nil {
		return s.cont(n)
	}
	nc, err := s.callerNetns(c.tgid)
	if err != nil {
		return s.fail(n, errnoOf(err))
	}
	if !s.knownSocket(si.ino) {
		s.noteSocket(si.ino, sockRef{tgid: c.tgid, fd: int(n.Args[0]), ns: nc.ino})
	}
	kernel := unix.SockaddrNetlink{Family: unix.AF_NETLINK}
	for i, m := range msgs {
		switch {
		case steps[i].local:
			var rerr error
			if !c.netAdmin {
				// rtnetlink_rcv_msg: netlink_net_capable(skb, CAP_NET_ADMIN)
				rerr = unix.EPERM
			} else if req, derr := rtnl.DecodeLink(m); derr != nil {
				rerr = unix.EINVAL
			} else {
				ctx, cancel := engineCtx()
				s.opMu.Lock()
				rerr = rtnl.Execute(ctx, req, s.cfg.Engine, nc)
				s.opMu.Unlock()
				cancel()
			}
			if reply := rtnl.Reply(m, si.portid, rerr, si.capAck, si.extAck); reply != nil {
				if err := nc.send(si.portid, reply); err != nil {
					return s.fail(n, errnoOf(err))
				}
			}
		case steps[i].filter != nil:
			s.setFilter(si.ino, *steps[i].filter)
			if err := unix.Sendto(fd, steps[i].stripped, 0, &kernel); err != nil {
				return s.fail(n, errnoOf(err))
			}
		default:
			if !c.netAdmin && !isGet(m) {
				// the kernel checks the sender's capability, and the sender
				// of this copy is the supervisor: refuse as it would
				if reply := rtnl.Reply(m, si.portid, unix.EPERM, si.capAck, si.extAck); reply != nil {
					if err := nc.send(si.portid, reply); err != nil {
						return s.fail(n, errnoOf(err))
					}
				}
				continue
			}
			if err := unix.Sendto(fd, m, 0, &kernel); err != nil {
				return s.fail(n, errnoOf(err))
			}
		}
	}
	return s.ok(n, int64(len(data)))
}

// isGet reports whether m is an rtnetlink GET (kind 2 of
// rtnetlink_rcv_msg, open to every caller) or a netlink control message.
func isGet(m []byte) bool {
	t := binary.NativeEndian.Uint16(m[4:6])
	if t < unix.RTM_BASE {
		return true
	}
	return (t-unix.RTM_BASE)&3 == 2
}

func (s *Supervisor) setFilter(ino uint64, f rtnl.Filter) {
	s.mu.Lock()
	s.filters[ino] = f
	s.mu.Unlock()
}

func (s *Supervisor) filter(ino uint64) (rtnl.Filter, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.filters[ino]
	return f, ok
}

func (s *Supervisor) clearFilter(ino uint64) {
	s.mu.Lock()
	delete(s.filters, ino)
	s.mu.Unlock()
}
