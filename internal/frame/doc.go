// Package frame builds and reads the Ethernet frames of the bonding data
// path without any bond state: the transmit hash of balance-xor and 802.3ad
// with its flow dissector (XmitHash, bond_xmit_hash), the receive probe's
// classifier (ClassifyFrame), and the frames the engine sends on its own:
// the ARP monitor's probe (ARPProbe), peer notifications (GratuitousARP,
// UnsolicitedNA) and membership reports (IGMPReport, MLDv2Report).
//
// Every function is safe on any goroutine. The readers (XmitHash,
// ClassifyFrame) take an Ethernet frame without vnet header, never allocate
// and accept any input; the builders return a frame prefixed with an
// all-zero virtio_net_hdr (VnetHdrLen bytes), ready for a NetDev, or nil for
// arguments they cannot encode. It imports nothing of this module, in the
// manner of gVisor's pkg/tcpip/header.
package frame
