package bond

import "bondingfs/internal/frame"

// Inbound flow (bond_handle_frame), in the order a frame a slave receives
// meets the calls:
//
//  1. The slave's AF_PACKET socket (its SlaveDev) holds the frame;
//     startReader (xmit.go) runs the slave's one reader (a goroutine
//     while frames come; parked with no goroutine while idle, Parker).
//  2. runBatchReader (batch.go) takes every frame that is ready with
//     BatchReader.ReadBatch (recvmmsg), dropping runts; a device that cannot
//     batch is read frame by frame by readLoop (NetDev.ReadFrame).
//  3. The reader closure in startReader passes each frame to rxPass
//     (xmit.go).
//  4. rxPass first gives it to arpRcv (arp_rcv.go) while the ARP monitor
//     runs (bond_rcv_validate: the slave's last_rx).
//  5. rxPass then runs Bond.probeFrame (this file): frame.ClassifyFrame,
//     and for a class the mode asked for (SetRecvProbe) either the direct
//     hook on the reader (SetRecvDirect, 802.3ad) or a copy into one of the
//     slave's rxBufs sent on Registry.recvq.
//  6. On the control goroutine Registry.run takes it from recvq, and
//     Registry.recv (registry.go) and Registry.deliver (this file) hand it
//     to the mode's Mode.Recv, then give the buffer back.
//  7. Back in rxPass, a frame the probe did not consume is dropped on an
//     inactive slave (bond_should_deliver_exact_match), counted, and, if it
//     is addressed to the slave's own MAC, readdressed to the bond's.
//  8. The reader writes the frames that passed to the TAP: writeFrames
//     (batch.go; BatchWriter.WriteBatch) for a batch, else
//     NetDev.WriteFrame, and the kernel stack receives them from the bond
//     device.
//
// The functions in this file are the probe's part, steps 5 and 6: the
// slave readers run probeFrame, the control goroutine deliver;
// SetRecvProbe and SetRecvDirect are atomic stores, safe from any
// goroutine.
//
// The receive probe (the kernel's bond->recv_probe, called from
// bond_handle_frame before the inactive-slave drop): the slave reader
// classifies each frame by EtherType and hands the classes the mode asked
// for (Control.SetRecvProbe) to Mode.Recv on the control goroutine, without
// allocating per frame: each slave owns rxBufs buffers, a frame is copied
// into a free one and sent to the control goroutine as a value; when none is
// free or the queue is full the frame is not handed over (counted in
// Registry.LoopStats().RecvDropped). Slow-protocol frames handed over are
// consumed; ARP and ND frames also continue up the bond device.

// FrameClass is a bit set of frame kinds the receive probe recognises
// (frame.Class).
type FrameClass = frame.Class

// The frame classes (frame.ClassSlow, ClassARP, ClassND).
const (
	FrameSlow = frame.ClassSlow // slow protocols: LACPDU, marker; consumed
	FrameARP  = frame.ClassARP  // ARP, also through one 802.1Q tag
	FrameND   = frame.ClassND   // IPv6 neighbour solicitation or advertisement
)

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

// initProbe makes s's pool of receive probe buffers. The buffers are
// allocated as the probe first needs them (probeBuf), up to rxBufs: a slave
// that never receives a frame its mode asks for (active-backup without
// ARP monitor: none) holds none, instead of 16 KB from its enslavement on
// (issue 19).
func (s *Slave) initProbe() {
	s.rxFree = make(chan *rxBuf, rxBufs)
}

// probeBuf takes a free probe buffer of s, allocating one while fewer than
// rxBufs exist; nil when all are in use (slave reader).
func (s *Slave) probeBuf() *rxBuf {
	select {
	case buf := <-s.rxFree:
		return buf
	default:
	}
	if s.rxMade.Add(1) > rxBufs {
		s.rxMade.Add(-1)
		return nil
	}
	return new(rxBuf)
}

// probeFrame runs the receive probe on vf (vnet header + Ethernet frame)
// in s's reader and reports whether the frame was consumed.
func (b *Bond) probeFrame(s *Slave, vf []byte) (consumed bool) {
	want := FrameClass(b.probe.Load())
	if want == 0 {
		return false
	}
	eth := vf[VnetHdrLen:]
	c := frame.ClassifyFrame(eth)
	if c&want == 0 {
		return false
	}
	if fn := b.direct.Load(); fn != nil {
		(*fn)(s, eth)
		return c == FrameSlow
	}
	r := b.reg
	if buf := s.probeBuf(); buf != nil {
		buf.n = copy(buf.data[:], eth)
		select {
		case r.recvq <- rxFrame{s: s, buf: buf}:
		default:
			s.rxFree <- buf
			r.stats.recvDropped.Add(1)
		}
	} else {
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

// SetRecvDirect makes the receive probe hand the frames of the classes set
// with SetRecvProbe to fn on the slave's reader goroutine, as the kernel
// runs recv_probe in softirq, instead of queueing them for Mode.Recv on the
// control goroutine (nil restores the queue). fn must not block or keep
// frame, and must tolerate slaves it no longer knows (a reader may still
// deliver a frame after Unbind). 802.3ad uses it so that a busy control
// goroutine never delays an LACPDU.
func (b *Bond) SetRecvDirect(fn func(s *Slave, frame []byte)) {
	if fn == nil {
		b.direct.Store(nil)
		return
	}
	b.direct.Store(&fn)
}
