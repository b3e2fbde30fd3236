package netdev

import (
	"errors"
	"fmt"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"bondingfs/bond"
)

// ethtool is read with the SIOCETHTOOL ioctl (ETHTOOL_GLINKSETTINGS, the
// call ethtool(8) and the bonding driver's speed query use) on a socket
// created inside the Host's namespace. That is two ioctls and needs no
// dependency; the generic-netlink ethtool library would need its own
// namespace plumbing for the same two numbers.

// ethtoolLinkSettings mirrors struct ethtool_link_settings
// (include/uapi/linux/ethtool.h) followed by room for the largest link-mode
// masks the kernel can report (3 masks of at most 127 u32 words).
type ethtoolLinkSettings struct {
	cmd              uint32
	speed            uint32
	duplex           uint8
	port             uint8
	phyAddress       uint8
	autoneg          uint8
	mdioSupport      uint8
	ethTpMdix        uint8
	ethTpMdixCtrl    uint8
	linkModeNwords   int8
	transceiver      uint8
	masterSlaveCfg   uint8
	masterSlaveState uint8
	rateMatching     uint8
	reserved         [7]uint32
	masks            [3 * 127]uint32
}

// ifreqPtr is struct ifreq with ifr_data set (40 bytes on 64-bit Linux).
type ifreqPtr struct {
	name [unix.IFNAMSIZ]byte
	data unsafe.Pointer
	_    [16]byte
}

func (h *Host) ethtool(name string, req *ethtoolLinkSettings) error {
	var ifr ifreqPtr
	copy(ifr.name[:unix.IFNAMSIZ-1], name)
	ifr.data = unsafe.Pointer(req)
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(h.ctlFd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&ifr)))
	if e != 0 {
		return e
	}
	return nil
}

// Speed returns the link's speed in Mb/s and its duplex as the kernel's
// ETHTOOL_GLINKSETTINGS reports them. A speed of 0 or SPEED_UNKNOWN gives
// bond.SpeedUnknown and a duplex other than half or full gives
// bond.DuplexUnknown, as the bonding driver reads them. Drivers without
// link settings (lo, EOPNOTSUPP) report unknown for both with a nil error.
// veth and tun/tap report fixed values (10000/full for both on kernel 6.18).
// A missing link gives an error wrapping syscall.ENODEV.
func (h *Host) Speed(index int) (mbps int, duplex int, err error) {
	li, err := h.LinkByIndex(index)
	if err != nil {
		return bond.SpeedUnknown, bond.DuplexUnknown, err
	}
	var req ethtoolLinkSettings
	req.cmd = unix.ETHTOOL_GLINKSETTINGS
	// First call: the kernel answers with -(number of mask words) it uses.
	err = h.ethtool(li.Name, &req)
	if err == nil && req.linkModeNwords < 0 {
		n := -req.linkModeNwords
		req = ethtoolLinkSettings{cmd: unix.ETHTOOL_GLINKSETTINGS, linkModeNwords: n}
		err = h.ethtool(li.Name, &req)
	}
	switch {
	case errors.Is(err, syscall.EOPNOTSUPP):
		return bond.SpeedUnknown, bond.DuplexUnknown, nil
	case err != nil:
		return bond.SpeedUnknown, bond.DuplexUnknown, noDev("ethtool", li.Name, err)
	case req.linkModeNwords <= 0:
		return bond.SpeedUnknown, bond.DuplexUnknown, fmt.Errorf("netdev: ethtool %s: link mode handshake failed", li.Name)
	}
	mbps = int(req.speed)
	if req.speed == 0 || req.speed == ^uint32(0) {
		mbps = bond.SpeedUnknown
	}
	duplex = int(req.duplex)
	if duplex != bond.DuplexHalf && duplex != bond.DuplexFull {
		duplex = bond.DuplexUnknown
	}
	return mbps, duplex, nil
}
