package bond

import "encoding/binary"

// The receive probe (the kernel's bond->recv_probe, called from
// bond_handle_frame before the inactive-slave drop): the slave reader
// classifies each frame by EtherType and hands the classes the mode asked
// for (Control.SetRecvProbe) to Mode.Recv on the control goroutine, without
// allocating per frame: each slave owns rxBufs buffers, a frame is copied
// into a free one and sent to the control goroutine as a value; when none is
// free or the queue is full the frame is not handed over (counted in
// Registry.LoopStats().RecvDropped). Slow-protocol frames handed over are
// consumed; ARP and ND frames also continue up the bond device.

// FrameClass is a bit set of frame kinds the receive probe recognises.
type FrameClass uint32

const (
	// FrameSlow is EtherType 0x8809, the slow protocols (LACPDU, marker;
	// IEEE 802.3 Annex 57A).
	FrameSlow FrameClass = 1 << iota
	// FrameARP is EtherType 0x0806.
	FrameARP
	// FrameND is IPv6 neighbour discovery: ICMPv6 neighbour solicitation
	// (135) or advertisement (136) directly after the IPv6 header.
	FrameND
)

// EtherTypes and protocol numbers the probe reads.
const (
	etherTypeSlow = 0x8809
	etherTypeARP  = 0x0806
	etherTypeVLAN = 0x8100
	etherTypeIPv6 = 0x86dd
	protoICMPv6   = 58
	icmp6NS       = 135
	icmp6NA       = 136
)

// ClassifyFrame returns the class of an Ethernet frame (without vnet
// header), 0 when it is none of FrameSlow, FrameARP, FrameND.
func ClassifyFrame(f []byte) FrameClass {
	if len(f) < 14 {
		return 0
	}
	switch binary.BigEndian.Uint16(f[12:14]) {
	case etherTypeSlow:
		return FrameSlow
	case etherTypeARP:
		return FrameARP
	case etherTypeVLAN:
		// an ARP through one 802.1Q tag (a VLAN above the bond; the
		// kernel's probe sees it untagged)
		if len(f) >= 18 && binary.BigEndian.Uint16(f[16:18]) == etherTypeARP {
			return FrameARP
		}
	case etherTypeIPv6:
		// 14 Ethernet + 40 IPv6 + ICMPv6 type
		if len(f) > 14+40 && f[14+6] == protoICMPv6 {
			if t := f[14+40]; t == icmp6NS || t == icmp6NA {
				return FrameND
			}
		}
	}
	return 0
}

// rxBufs is how many frames of one slave may wait for the control
// goroutine at once.
const rxBufs = 8

// rxBufSize holds a frame the probe hands over: control frames are small,
// longer ones are cut (an LACPDU is 124 bytes, an ND frame rarely more than
// a few hundred).
const rxBufSize = 2048

// rxBuf is one receive probe buffer.
type rxBuf struct {
	data [rxBufSize]byte
	n    int
}

// rxFrame is a frame on its way from a slave reader to Mode.Recv.
type rxFrame struct {
	s   *Slave
	buf *rxBuf
}

// initProbe gives s its receive probe buffers.
func (s *Slave) initProbe() {
	s.rxFree = make(chan *rxBuf, rxBufs)
	for i := 0; i < rxBufs; i++ {
		s.rxFree <- new(rxBuf)
	}
}

// probe runs the receive probe on frame (vnet header + Ethernet frame) in
// s's reader and reports whether the frame was consumed.
func (b *Bond) probeFrame(s *Slave, frame []byte) (consumed bool) {
	want := FrameClass(b.probe.Load())
	if want == 0 {
		return false
	}
	eth := frame[VnetHdrLen:]
	c := ClassifyFrame(eth)
	if c&want == 0 {
		return false
	}
	r := b.reg
	select {
	case buf := <-s.rxFree:
		buf.n = copy(buf.data[:], eth)
		select {
		case r.recvq <- rxFrame{s: s, buf: buf}:
		default:
			s.rxFree <- buf
			r.stats.recvDropped.Add(1)
		}
	default:
		r.stats.recvDropped.Add(1)
	}
	return c == FrameSlow
}

// deliver hands a probed frame to the mode on the control goroutine and
// gives the buffer back.
func (r *Registry) deliver(f rxFrame) {
	s := f.s
	defer func() { s.rxFree <- f.buf }()
	if s.released || s.bond == nil || s.bond.deleted || s.bond.probe.Load() == 0 {
		return
	}
	s.bond.mode.Recv(s, f.buf.data[:f.buf.n])
}

// SetRecvProbe sets the frame classes handed to the mode's Recv (see
// Control.SetRecvProbe).
func (b *Bond) SetRecvProbe(classes FrameClass) { b.probe.Store(uint32(classes)) }
