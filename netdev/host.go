package netdev

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"bondingfs/bond"
)

var _ bond.Host = (*Host)(nil)

// Host is bond.Host for one Linux network namespace. Every operation —
// rtnetlink, ethtool, TAP creation, AF_PACKET sockets, nftables and
// /proc/sys writes — happens inside that namespace while the calling
// process stays in its own. A Host is safe for concurrent use.
type Host struct {
	ns      nsRef
	nl      *netlink.Handle
	ctlFd   int           // AF_UNIX socket in ns for SIOCETHTOOL
	nftMu   sync.Mutex    // serialises changes to the "bondingfs" nft table
	closed  chan struct{} // closed by Close; ends subscriptions
	closeMu sync.Once

	resubscribed atomic.Int64 // link subscriptions restarted after an error

	// linkStream is the subscription LinkEventsPending asks (nil while
	// there is none or it is being replaced); linkOverrun is set when a
	// peek took the socket's ENOBUFS, until the reader resubscribes.
	linkStream  atomic.Pointer[linkStream]
	linkOverrun atomic.Bool

	dump carrierDump // the MII monitor's carrier read (carrier.go)
}

// NewHost opens a Host for the network namespace at netnsPath (for example
// NetnsPath("red")); "" means the namespace of the calling thread, which for
// a process that never switches namespaces is the process's own.
func NewHost(netnsPath string) (*Host, error) {
	ns, err := openNS(netnsPath)
	if err != nil {
		return nil, err
	}
	h := &Host{ns: ns, ctlFd: -1, closed: make(chan struct{})}
	h.dump.fd = -1
	if ns.fd < 0 {
		h.nl, err = netlink.NewHandle(unix.NETLINK_ROUTE)
	} else {
		h.nl, err = netlink.NewHandleAt(ns.handle(), unix.NETLINK_ROUTE)
	}
	if err != nil {
		ns.close()
		return nil, fmt.Errorf("netdev: netlink handle: %w", err)
	}
	err = ns.do(func() error {
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		h.ctlFd = fd
		return err
	})
	if err != nil {
		h.nl.Close()
		ns.close()
		return nil, fmt.Errorf("netdev: control socket: %w", err)
	}
	return h, nil
}

// Close releases the Host's netlink handle, control socket and namespace
// reference, and ends the goroutines of its link subscriptions (they stop
// without waiting for a callback in progress). Masters and SlaveDevs opened
// through the Host stay valid and must be closed by their owner.
func (h *Host) Close() error {
	h.closeMu.Do(func() {
		close(h.closed)
		h.closeDump()
		h.nl.Close()
		unix.Close(h.ctlFd)
		h.ns.close()
	})
	return nil
}

// noDev wraps err so that it unwraps to syscall.ENODEV when it reports a
// missing link (netlink's LinkNotFoundError or an ENODEV errno).
func noDev(op string, what any, err error) error {
	var nf netlink.LinkNotFoundError
	if errors.As(err, &nf) || errors.Is(err, syscall.ENODEV) {
		return fmt.Errorf("netdev: %s %v: %w", op, what, syscall.ENODEV)
	}
	return fmt.Errorf("netdev: %s %v: %w", op, what, err)
}

// linkInfo converts a netlink link to the engine's view.
func linkInfo(l netlink.Link) bond.LinkInfo {
	a := l.Attrs()
	kind := l.Type()
	switch kind {
	case "device": // vishvananda's name for links without IFLA_INFO_KIND
		kind = ""
	case "tuntap": // the kernel's kind for TUN and TAP is "tun"
		kind = "tun"
	}
	var hw net.HardwareAddr
	if len(a.HardwareAddr) > 0 {
		hw = append(net.HardwareAddr(nil), a.HardwareAddr...)
	}
	var txDropped uint64
	if a.Statistics != nil {
		txDropped = a.Statistics.TxDropped
	}
	return bond.LinkInfo{
		TxDropped:   txDropped,
		Index:       a.Index,
		Name:        a.Name,
		Up:          a.RawFlags&unix.IFF_UP != 0,
		Carrier:     a.RawFlags&unix.IFF_LOWER_UP != 0,
		Loopback:    a.RawFlags&unix.IFF_LOOPBACK != 0,
		MTU:         a.MTU,
		HWAddr:      hw,
		Kind:        kind,
		MasterIndex: a.MasterIndex,
		Ether:       a.EncapType == "ether",
	}
}

// LinkByName returns the link called name (RTM_GETLINK). A missing link
// gives an error wrapping syscall.ENODEV.
func (h *Host) LinkByName(name string) (bond.LinkInfo, error) {
	l, err := h.nl.LinkByName(name)
	if err != nil {
		return bond.LinkInfo{}, noDev("link", name, err)
	}
	return linkInfo(l), nil
}

// LinkByIndex returns the link with ifindex index (RTM_GETLINK). A missing
// link gives an error wrapping syscall.ENODEV.
func (h *Host) LinkByIndex(index int) (bond.LinkInfo, error) {
	l, err := h.nl.LinkByIndex(index)
	if err != nil {
		return bond.LinkInfo{}, noDev("link", index, err)
	}
	return linkInfo(l), nil
}

var _ bond.LinkLister = (*Host)(nil)

// Links returns every link of the Host's namespace with one RTM_GETLINK
// dump (bond.LinkLister). An interrupted dump (NLM_F_DUMP_INTR: links
// changed meanwhile) is an error, so the caller reads link by link.
func (h *Host) Links() ([]bond.LinkInfo, error) {
	ls, err := h.nl.LinkList()
	if err != nil {
		return nil, fmt.Errorf("netdev: link list: %w", err)
	}
	out := make([]bond.LinkInfo, len(ls))
	for i, l := range ls {
		out[i] = linkInfo(l)
	}
	return out, nil
}

func byIndex(index int) netlink.Link {
	return &netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: index}}
}

// SetLinkUp sets or clears IFF_UP on the link (ip link set … up/down).
// Errors carry the kernel's errno (ENODEV for a missing link).
func (h *Host) SetLinkUp(index int, up bool) error {
	var err error
	if up {
		err = h.nl.LinkSetUp(byIndex(index))
	} else {
		err = h.nl.LinkSetDown(byIndex(index))
	}
	if err != nil {
		return noDev("set up/down", index, err)
	}
	return nil
}

// SetMTU sets the link's MTU in bytes (IFLA_MTU). The kernel answers EINVAL
// for a value outside the device's range.
func (h *Host) SetMTU(index int, mtu int) error {
	if err := h.nl.LinkSetMTU(byIndex(index), mtu); err != nil {
		return noDev("set mtu", index, err)
	}
	return nil
}

// SetHWAddr sets the link's MAC address (IFLA_ADDRESS). Drivers without
// IFF_LIVE_ADDR_CHANGE answer EBUSY while the link is up; veth and tun
// accept it live.
func (h *Host) SetHWAddr(index int, mac net.HardwareAddr) error {
	if err := h.nl.LinkSetHardwareAddr(byIndex(index), mac); err != nil {
		return noDev("set address", index, err)
	}
	return nil
}
