package fusefs

import (
	"encoding/binary"
	"errors"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"golang.org/x/sys/unix"
)

// The link watch: the class/net links and the device directories below
// sys/devices are cached by the kernel (entryTTL) while an RTNLGRP_LINK
// socket of the engine's namespace tells us of every device that appears,
// goes or is renamed, and each such event drops the cached entries of the
// names involved (FUSE_NOTIFY_INVAL_ENTRY), and with them everything the
// kernel cached below. A read of a device's file is exact whatever the
// watch's delay (every open reaches the daemon); a stat of a device's
// link, directory or real file opened with FUSE passthrough (whose entry
// is cached) may see a device for the moment between the kernel queueing
// the event and the watch taking it (differences.md).

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
// cached entries of every name involved: the name an event carries and,
// for a rename, the name the index had before (known from an earlier event
// or from the devices that existed when the watch started). On ENOBUFS
// (events lost) every cached entry is dropped. Runs on its own goroutine;
// never from a FUSE request.
func (s *Server) watchLinks(f *os.File) {
	defer close(s.watchDone)
	fsys := s.root.fsys
	byIndex := map[int32]string{}
	for _, d := range fsys.realDevs() {
		if v, errno := fsys.readReal(d, "ifindex"); errno == 0 {
			if i, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32); err == nil {
				byIndex[int32(i)] = d
			}
		}
	}
	buf := make([]byte, 64<<10)
	for {
		n, err := f.Read(buf)
		if err != nil {
			if errors.Is(err, unix.ENOBUFS) {
				s.forgetDevices(nil)
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
			s.forgetDevices(drop)
		}
	}
}

// forgetDevices drops the kernel's cached entries of names (all of them for
// nil) in class/net and in every net directory below sys/devices.
func (s *Server) forgetDevices(names []string) { s.root.fsys.forgetDevices(names) }

// forgetDevices is Server.forgetDevices. Never from a FUSE request.
func (f *filesystem) forgetDevices(names []string) {
	f.devDirs.Range(func(_, v any) bool {
		in := v.(*fs.Inode)
		ns := names
		if ns == nil {
			for name := range in.Children() {
				ns = append(ns, name)
			}
		}
		for _, name := range ns {
			in.NotifyEntry(name)
		}
		return true
	})
}
