package fusefs

import (
	"encoding/binary"
	"errors"
	"os"
	"sync"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"golang.org/x/sys/unix"
)

// The link watch: the class/net links are cached by the kernel (entryTTL)
// while an RTNLGRP_LINK socket of the engine's namespace tells us of every
// device that appears, goes or is renamed, and each such event drops the
// cached entries of the names involved (FUSE_NOTIFY_INVAL_ENTRY). A walk
// through a cached link still asks about the device's directory each time
// (its entry in the net directory has timeout 0), so `[ -e
// /sys/class/net/X ]` and every read are exact whatever the watch's delay;
// only lstat or readlink of the link itself may see a device for the few
// microseconds between the kernel queueing the event and the watch taking
// it.

// privates maps PrivateSysfs.Path to its PrivateSysfs, so that Mount finds
// the link socket that belongs to Options.Sysfs.
var privates sync.Map

// openLinkSocket opens a NETLINK_ROUTE socket subscribed to RTNLGRP_LINK in
// the calling thread's network namespace (the socket stays in it).
func openLinkSocket() (int, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_ROUTE)
	if err != nil {
		return -1, err
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: unix.RTMGRP_LINK}); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// linkNames returns the interface names and indexes of the RTM_NEWLINK and
// RTM_DELLINK messages in one netlink datagram b. Malformed messages are
// skipped.
func linkNames(b []byte) (names []string, indexes []int32) {
	msgs, err := syscall.ParseNetlinkMessage(b)
	if err != nil {
		return nil, nil
	}
	for _, m := range msgs {
		if m.Header.Type != unix.RTM_NEWLINK && m.Header.Type != unix.RTM_DELLINK {
			continue
		}
		if len(m.Data) < unix.SizeofIfInfomsg {
			continue
		}
		index := int32(binary.NativeEndian.Uint32(m.Data[4:8]))
		// the attributes (struct rtattr), walked by hand: the standard
		// library's ParseNetlinkRouteAttr panics on a short one
		for a := m.Data[unix.SizeofIfInfomsg:]; len(a) >= 4; {
			l := int(binary.NativeEndian.Uint16(a[0:2]))
			if l < 4 || l > len(a) {
				break
			}
			if binary.NativeEndian.Uint16(a[2:4]) == unix.IFLA_IFNAME {
				v := a[4:l]
				for len(v) > 0 && v[len(v)-1] == 0 {
					v = v[:len(v)-1]
				}
				names = append(names, string(v))
				indexes = append(indexes, index)
			}
			a = a[min((l+3)&^3, len(a)):]
		}
	}
	return names, indexes
}

// watchLinks reads link events from f until it is closed and drops the
// cached class/net entries of every name involved: the name an event
// carries and, for a rename, the name the index had before. On ENOBUFS
// (events lost) every cached entry is dropped. Runs on its own goroutine;
// never from a FUSE request.
func (s *Server) watchLinks(f *os.File) {
	defer close(s.watchDone)
	byIndex := map[int32]string{}
	buf := make([]byte, 64<<10)
	for {
		n, err := f.Read(buf)
		if err != nil {
			if errors.Is(err, unix.ENOBUFS) {
				s.forgetLinks(nil)
				continue
			}
			return // closed
		}
		names, indexes := linkNames(buf[:n])
		var drop []string
		for i, name := range names {
			if old, ok := byIndex[indexes[i]]; ok && old != name {
				drop = append(drop, old)
			}
			byIndex[indexes[i]] = name
			drop = append(drop, name)
		}
		if len(drop) > 0 {
			s.forgetLinks(drop)
		}
	}
}

// forgetLinks drops the kernel's cached class/net entries of names (all of
// them for nil).
func (s *Server) forgetLinks(names []string) {
	net := s.classNet()
	if net == nil {
		return
	}
	if names == nil {
		for name := range net.Children() {
			names = append(names, name)
		}
	}
	for _, name := range names {
		net.NotifyEntry(name)
	}
}

// classNet returns the inode of sys/class/net if the kernel knows it.
func (s *Server) classNet() *fs.Inode {
	in := s.root.EmbeddedInode()
	for _, name := range []string{"sys", "class", "net"} {
		if in = in.GetChild(name); in == nil {
			return nil
		}
	}
	return in
}
