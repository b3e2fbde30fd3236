package netdev

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"bondingfs/bond"
)

// tapOffloads are the offloads the TAP accepts from the kernel stack in
// vnet-header frames: partial checksums and TCP segmentation for IPv4, IPv6
// and ECN (TUNSETOFFLOAD, include/uapi/linux/if_tun.h).
const tapOffloads = unix.TUN_F_CSUM | unix.TUN_F_TSO4 | unix.TUN_F_TSO6 | unix.TUN_F_TSO_ECN

// Tap is the bond master: a TAP device opened with IFF_TAP|IFF_NO_PI|
// IFF_VNET_HDR. Every frame read or written starts with a 10-byte
// virtio_net_hdr. The device is not persistent: it disappears when Close
// closes the last descriptor (or the process dies).
type Tap struct {
	f     *os.File
	name  string
	index int
}

var _ bond.Master = (*Tap)(nil)

// Name returns the interface name the kernel gave the TAP.
func (t *Tap) Name() string { return t.name }

// Index returns the TAP's ifindex.
func (t *Tap) Index() int { return t.index }

// ReadFrame reads one frame (vnet header + Ethernet frame) the kernel stack
// sent through the bond, blocking in the Go netpoller. A frame longer than
// buf is truncated; pass at least 65536+bond.VnetHdrLen bytes. After Close
// the error wraps os.ErrClosed.
// If the link is deleted from outside (ip link del) the error wraps both
// syscall.EBADFD, which the kernel returns then, and os.ErrClosed, since
// the device is gone for good; an RTM_DELLINK event follows.
func (t *Tap) ReadFrame(buf []byte) (int, error) {
	n, err := t.f.Read(buf)
	return n, t.deleted(err)
}

func (t *Tap) deleted(err error) error {
	if err != nil && errors.Is(err, syscall.EBADFD) {
		return fmt.Errorf("netdev: %s was deleted (%w): %w", t.name, syscall.EBADFD, os.ErrClosed)
	}
	return err
}

// WriteFrame hands one frame (vnet header + Ethernet frame) to the kernel
// stack as received on the bond. Safe for concurrent use. A malformed vnet
// header gives EINVAL; a link deleted from outside gives an error wrapping
// syscall.EBADFD and os.ErrClosed, as in ReadFrame.
func (t *Tap) WriteFrame(frame []byte) error {
	_, err := t.f.Write(frame)
	return t.deleted(err)
}

// SetCarrier turns the TAP's carrier on or off (TUNSETCARRIER). The link's
// operstate follows it (up/down; a TAP whose carrier was never set reports
// "unknown").
func (t *Tap) SetCarrier(on bool) error {
	rc, err := t.f.SyscallConn()
	if err != nil {
		return err
	}
	v := 0
	if on {
		v = 1
	}
	var ierr error
	if err := rc.Control(func(fd uintptr) {
		ierr = unix.IoctlSetPointerInt(int(fd), unix.TUNSETCARRIER, v)
	}); err != nil {
		return err
	}
	if ierr != nil {
		return fmt.Errorf("netdev: %s: TUNSETCARRIER: %w", t.name, ierr)
	}
	return nil
}

// Close closes the TAP's descriptor, which removes the (non-persistent)
// device; a blocked ReadFrame returns an error wrapping os.ErrClosed.
func (t *Tap) Close() error {
	return t.f.Close()
}

// CreateMaster creates the bond's TAP device called name in the Host's
// namespace: /dev/net/tun with TUNSETIFF IFF_TAP|IFF_NO_PI|IFF_VNET_HDR,
// TUNSETOFFLOAD csum+TSO4+TSO6+TSO_ECN, and carrier off, so the bond starts
// without carrier. It is opened here rather than with songgao/water because
// water cannot set IFF_VNET_HDR. The descriptor is non-blocking and wrapped
// with os.NewFile, so reads wait in the Go netpoller. The TAP is not
// persistent, so it vanishes when the daemon exits or crashes; while open it
// can still be removed with "ip link del".
//
// A name already in use gives an error wrapping syscall.EEXIST; a name of
// IFNAMSIZ bytes or more gives EINVAL.
func (h *Host) CreateMaster(name string) (bond.Master, bond.LinkInfo, error) {
	if name == "" || len(name) >= unix.IFNAMSIZ {
		return nil, bond.LinkInfo{}, fmt.Errorf("netdev: create %q: %w", name, syscall.EINVAL)
	}
	if _, err := h.LinkByName(name); err == nil {
		return nil, bond.LinkInfo{}, fmt.Errorf("netdev: create %s: %w", name, syscall.EEXIST)
	} else if !errors.Is(err, syscall.ENODEV) {
		return nil, bond.LinkInfo{}, err
	}
	var f *os.File
	err := h.ns.do(func() error {
		// The tun socket takes the namespace of the opener, and TUNSETIFF
		// creates the device in it.
		fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
		if err != nil {
			return fmt.Errorf("open /dev/net/tun: %w", err)
		}
		ifr, err := unix.NewIfreq(name)
		if err != nil {
			unix.Close(fd)
			return err
		}
		ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI | unix.IFF_VNET_HDR)
		if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
			unix.Close(fd)
			return fmt.Errorf("TUNSETIFF: %w", err)
		}
		if err := unix.IoctlSetInt(fd, unix.TUNSETOFFLOAD, tapOffloads); err != nil {
			unix.Close(fd)
			return fmt.Errorf("TUNSETOFFLOAD: %w", err)
		}
		if err := unix.IoctlSetPointerInt(fd, unix.TUNSETCARRIER, 0); err != nil {
			unix.Close(fd)
			return fmt.Errorf("TUNSETCARRIER: %w", err)
		}
		name = ifr.Name()
		f = os.NewFile(uintptr(fd), "tap:"+name)
		return nil
	})
	if err != nil {
		return nil, bond.LinkInfo{}, fmt.Errorf("netdev: create %s: %w", name, err)
	}
	li, err := h.LinkByName(name)
	if err != nil {
		f.Close()
		return nil, bond.LinkInfo{}, err
	}
	return &Tap{f: f, name: name, index: li.Index}, li, nil
}

// DeleteMaster closes m, which removes the TAP, and then deletes the link
// with the given ifindex if it is somehow still present (for instance when
// another descriptor was attached). A link already gone is not an error.
func (h *Host) DeleteMaster(m bond.Master, index int) error {
	var first error
	if m != nil {
		if err := m.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
			first = err
		}
	}
	l, err := h.nl.LinkByIndex(index)
	if err != nil {
		return first
	}
	if t, ok := m.(*Tap); ok && l.Attrs().Name != t.name {
		return first // the index now belongs to another link
	}
	if err := h.nl.LinkDel(byIndex(index)); err != nil {
		if err = noDev("delete", index, err); !errors.Is(err, syscall.ENODEV) && first == nil {
			first = err
		}
	}
	return first
}
