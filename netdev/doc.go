// Package netdev implements bond.Host on Linux: rtnetlink, ethtool, the bond's
// TAP device and the slaves' AF_PACKET sockets, all inside one network
// namespace chosen at NewHost while the process itself stays where it is.
//
// Frames crossing this package always start with a 10-byte struct
// virtio_net_hdr (bond.VnetHdrLen): the TAP is opened with IFF_VNET_HDR and
// the packet sockets use PACKET_VNET_HDR, so GSO frames of up to 64 KB and
// partial checksums pass unchanged (see datapath.md §3 and §5.2).
package netdev
