package netdev

import (
	"net"

	"golang.org/x/sys/unix"
)

// Socket memberships the engine does not take (it only needs
// SetPromiscuous), kept for TestSlaveDevMembership to check membership's other
// request types.

// SetAllMulti makes the interface receive every multicast frame while the
// SlaveDev is open (PACKET_MR_ALLMULTI).
func (p *SlaveDev) SetAllMulti(on bool) error {
	return p.membership(on, unix.PACKET_MR_ALLMULTI, nil)
}

// JoinMulticast adds (join) or removes a multicast MAC address, such as the
// Slow Protocols address 01:80:c2:00:00:02 for LACPDUs, to the interface's
// filter while the SlaveDev is open (PACKET_MR_MULTICAST).
func (p *SlaveDev) JoinMulticast(mac net.HardwareAddr, join bool) error {
	return p.membership(join, unix.PACKET_MR_MULTICAST, mac)
}
