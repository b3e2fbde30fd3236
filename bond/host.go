package bond

import (
	"context"
	"net"

	"bondingfs/internal/frame"
)

// VnetHdrLen is the size in bytes of the struct virtio_net_hdr that prefixes
// every frame read from or written to a NetDev (frame.VnetHdrLen).
const VnetHdrLen = frame.VnetHdrLen

// A NetDev is one interface as the data path uses it: the master TAP or one
// slave's AF_PACKET socket. A frame is [virtio_net_hdr (VnetHdrLen bytes)]
// followed by a whole Ethernet II frame without FCS.
type NetDev interface {
	// ReadFrame reads one frame (with its vnet header) into buf and returns its
	// length. It returns an error wrapping os.ErrClosed after Close, and never
	// returns frames this NetDev sent itself.
	ReadFrame(buf []byte) (int, error)
	// WriteFrame sends one frame (with its vnet header). Safe for concurrent
	// use. After a slave flap the first send may fail with one stale ENETDOWN;
	// implementations retry it once.
	WriteFrame(frame []byte) error
	// Close stops the device; a blocked ReadFrame returns.
	Close() error
}

// A LinkLister is a Host that can read every link of its namespace in one
// request (an RTM_GETLINK dump). Registry.Sync uses it, when the host has
// it, instead of one LinkByIndex per bond and slave: with n bonds a sync
// costs one dump instead of n round trips.
type LinkLister interface {
	// Links returns every link of the namespace. An error (including an
	// interrupted dump) makes Sync fall back to LinkByIndex.
	Links() ([]LinkInfo, error)
}

// A LinkEventBarrier is a Host whose link event stream can tell whether
// it has delivered everything the kernel queued: Registry.Sync and SyncBond
// then read nothing from the host, because the events have already brought
// the registry up to date (reads that scale).
type LinkEventBarrier interface {
	// LinkEventsPending reports false only when every link event queued
	// before the call has been handed to SubscribeLinks' fn and fn has
	// returned. It must be cheap (one non-blocking syscall) and safe for
	// concurrent use; when unsure it reports true.
	LinkEventsPending() bool
}

// A Requeuer is a SlaveDev that keeps copies of the frames it sent last, so
// that those its interface dropped after losing carrier (which a send does
// not report: veth and most drivers accept the frame and count it in
// tx_dropped) can be sent again on another slave.
type Requeuer interface {
	// Requeue waits until no send on the device is in progress (at most
	// 10 ms), then sends the last n frames the device sent again on to,
	// oldest first, except those it kept no copy of (frames above 2 KB: GSO
	// frames, which TCP retransmits); it returns how many it sent.
	Requeue(to NetDev, n int) int
}

// A Master is the bond device as the kernel stack sees it: a TAP.
type Master interface {
	NetDev
	// SetCarrier turns the TAP's carrier on or off (TUNSETCARRIER), which is
	// the bond's carrier (bonding/mii_status, operstate).
	SetCarrier(on bool) error
}

// A SlaveDev is an enslaved interface opened for the data path: an AF_PACKET
// socket with PACKET_VNET_HDR and PACKET_IGNORE_OUTGOING, plus the isolation
// that keeps the slave's own kernel stack quiet (netdev ingress drop, IPv6
// off). Close undoes the isolation.
type SlaveDev interface {
	NetDev
}

// LinkInfo is the kernel's view of one network interface (rtnetlink
// RTM_NEWLINK), as the engine needs it.
type LinkInfo struct {
	Index    int
	Name     string
	Up       bool // IFF_UP (administratively up)
	Carrier  bool // IFF_LOWER_UP
	Loopback bool // IFF_LOOPBACK
	MTU      int
	HWAddr   net.HardwareAddr
	// Kind is the rtnetlink link kind ("veth", "tun", "bridge", "" for lo).
	Kind string
	// MasterIndex is IFLA_MASTER: the kernel-level master (a bridge, say).
	MasterIndex int
	// Ether is true for ARPHRD_ETHER devices.
	Ether bool
	// TxDropped is the interface's tx_dropped counter (IFLA_STATS64): a
	// veth counts there the frames it dropped because its peer was down.
	TxDropped uint64
}

// LinkEvent is one rtnetlink link notification.
type LinkEvent struct {
	Link    LinkInfo
	Deleted bool // RTM_DELLINK
}

// Speed and duplex values as ethtool reports them (include/uapi/linux/ethtool.h).
const (
	SpeedUnknown  = -1 // SPEED_UNKNOWN
	DuplexHalf    = 0
	DuplexFull    = 1
	DuplexUnknown = 0xff
)

// Host is the network system the engine drives: rtnetlink, ethtool, TAP and
// AF_PACKET. netdev implements it on Linux; tests use an in-memory
// fake. Errors for a missing interface wrap syscall.ENODEV.
type Host interface {
	LinkByName(name string) (LinkInfo, error)
	LinkByIndex(index int) (LinkInfo, error)
	SetLinkUp(index int, up bool) error
	SetMTU(index int, mtu int) error
	SetHWAddr(index int, mac net.HardwareAddr) error
	// Speed returns the link speed in Mb/s (SpeedUnknown) and duplex
	// (DuplexHalf, DuplexFull, DuplexUnknown), as ethtool's get_link_ksettings.
	Speed(index int) (mbps int, duplex int, err error)
	// CreateMaster creates the bond's TAP device (IFF_TAP|IFF_NO_PI|IFF_VNET_HDR,
	// TUNSETOFFLOAD, carrier off) and returns it with its LinkInfo.
	CreateMaster(name string) (Master, LinkInfo, error)
	// DeleteMaster removes the TAP created by CreateMaster (closing m).
	DeleteMaster(m Master, index int) error
	// OpenSlaveDev opens the data-path socket on an enslaved interface and
	// isolates the interface's own stack (ingress drop, IPv6 disabled,
	// remembering the previous disable_ipv6 value so Close restores it).
	OpenSlaveDev(link LinkInfo) (SlaveDev, error)
	// SubscribeLinks delivers every link event of the namespace to fn, in
	// order, from one goroutine, until ctx ends. It returns once the
	// subscription is in place.
	SubscribeLinks(ctx context.Context, fn func(LinkEvent)) error
}
