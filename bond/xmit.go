package bond

import (
	"errors"
	"os"
	"syscall"
)

// The data path's goroutines: the TAP readers (transmit) and the slave
// readers (receive, whose flow bond/probe.go lists). None of them takes a
// lock or allocates per frame; they read what the control goroutine
// publishes (the transmit selector, the receive probe's classes, the ARP
// monitor's view) through atomic pointers.
//
// Outbound flow (bond_start_xmit), in the order a frame sent through the
// bond device meets the calls:
//
//  1. The kernel stack queues the frame on the TAP (the bond's master
//     NetDev); startTAPReader runs one reader per queue
//     (MultiQueue.Queues).
//  2. runBatchReader (batch.go) takes every frame that is ready with
//     BatchReader.ReadBatch, dropping runts; a master that cannot batch is
//     read frame by frame by readLoop (NetDev.ReadFrame).
//  3. Bond.xmitBatch (batch.go), or Bond.xmit per frame, loads the published
//     TxSelector: the one the mode's Mode.Tx built from a TxView when the
//     control goroutine last ran rebuildTx (slaves, links, active slave or
//     parameters changed).
//  4. The selector places the frame: BatchTxSelector.XmitBatch adds it to
//     the reader's TxBatch (TxBatch.Add) per egress device (balance-xor and
//     802.3ad hash it with frame.XmitHash); a plain TxSelector.Xmit writes
//     it at once with SlaveDev.WriteFrame.
//  5. TxBatch.flush (batch.go) hands each device its frames in order through
//     writeFrames: one BatchWriter.WriteBatch (sendmmsg on a slave's
//     AF_PACKET socket) where the device has it, else SlaveDev.WriteFrame.
//
// After a failover, requeueDropped sends again the frames the old slave
// dropped (Requeuer), once rebuildTx has published the new selector.
//
// The functions in this file occur (roughly) in that order, after the
// control goroutine's rebuildTx and requeueDropped; the slave readers'
// part of the inbound flow (startReader, rxPass) follows.

// txBox holds the published transmit selector (an atomic.Pointer needs a
// concrete type).
type txBox struct{ sel TxSelector }

// rebuildTx asks the mode for a new transmit selector after any change of
// slaves, links, active slave or parameters and publishes it.
func (b *Bond) rebuildTx() {
	v := TxView{Params: &b.params}
	for _, s := range b.slaves {
		if s.dev != nil && s.devUp && s.link == LinkUp && s.active {
			v.Usable = append(v.Usable, s)
			v.UsableDevs = append(v.UsableDevs, s.dev)
		}
	}
	if c := b.currActive; c != nil && c.dev != nil && c.devUp && c.link == LinkUp {
		v.Active = c.dev
	}
	b.tx.Store(&txBox{sel: b.mode.Tx(v)})
	b.fpSync()
	if q := b.requeue; q != nil {
		b.requeue = nil
		go q()
	}
}

// requeueDropped arranges, after a failover from old to n, that the frames
// old's interface dropped since its carrier was last seen up (its
// tx_dropped counter now minus the value the carrier read found then) are
// sent again on n's device: frames the TAP reader had already handed to old
// before the new selector was published. It runs on its own goroutine once
// the new selector is published (rebuildTx), so the control goroutine never
// waits for the link read. SlaveDevs that are not Requeuers, and bonds without
// the carrier read (miimon=0), are left alone.
func (b *Bond) requeueDropped(old, n *Slave) {
	rq, ok := old.dev.(Requeuer)
	if !ok || n.dev == nil || b.params.Miimon <= 0 {
		return
	}
	to, index, base, host := n.dev, old.index, old.txDropped.Load(), b.reg.cfg.Host
	if base == 0 {
		return // never read with the link up: no baseline
	}
	base--
	b.requeue = func() {
		// Wait for sends in progress on the old device, then read its counter.
		rq.Requeue(nil, 0)
		li, err := host.LinkByIndex(index)
		if err != nil || li.TxDropped <= base {
			return
		}
		d := li.TxDropped - base
		if d > 1<<16 {
			return // not a failover's worth: a counter that moved for other reasons
		}
		rq.Requeue(to, int(d))
	}
}

// startTAPReader runs the bond's TAP readers, one per queue (MultiQueue): frames the kernel stack
// sends through the bond device go to the mode's selector, a batch at a
// time grouped per slave when the TAP reads in batches and the selector
// places batches (BatchReader, BatchTxSelector), else frame by frame.
func (b *Bond) startTAPReader() {
	queues := []NetDev{b.master}
	if mq, ok := b.master.(MultiQueue); ok {
		queues = mq.Queues()
	}
	for _, q := range queues {
		b.readers.Add(1)
		if br, ok := q.(BatchReader); ok {
			out := new(TxBatch)
			runBatchReader(br, func(frames [][]byte) { b.xmitBatch(frames, out) }, b.readers.Done)
			continue
		}
		go func() {
			defer b.readers.Done()
			readLoop(q, b.xmit)
		}()
	}
}

// readLoop reads frames from d until it is closed or fails for good, and
// hands each one (vnet header + Ethernet frame, valid during the call) to
// fn; runts shorter than both headers are skipped. One buffer, no
// allocation per frame.
func readLoop(d NetDev, fn func(frame []byte)) {
	buf := make([]byte, VnetHdrLen+65536+14+4)
	for {
		n, err := d.ReadFrame(buf)
		if err != nil {
			if errors.Is(err, os.ErrClosed) || !temporary(err) {
				return
			}
			continue
		}
		if n >= VnetHdrLen+14 {
			fn(buf[:n])
		}
	}
}

// xmit sends one frame (vnet header + Ethernet frame) from the bond device
// through the mode's published selector (bond_start_xmit).
func (b *Bond) xmit(frame []byte) { b.tx.Load().sel.Xmit(frame) }

// startReader runs the slave's one reader: each frame received on the
// slave passes the receive probe, then goes up the bond device unless the
// probe consumed it or the slave is inactive (bond_handle_frame,
// bond_should_deliver_exact_match). With a BatchReader device the frames of
// one batch that pass go to the TAP together (WriteBatch where it has it).
func (b *Bond) startReader(s *Slave) {
	m, p := b.master, s.dev
	s.readerDone = make(chan struct{})
	done := s.readerDone
	b.readers.Add(1)
	end := func() {
		close(done)
		b.readers.Done()
	}
	if br, ok := p.(BatchReader); ok {
		up := make([][]byte, 0, maxBatch)
		runBatchReader(br, func(frames [][]byte) {
			up = up[:0]
			for _, f := range frames {
				if b.rxPass(s, f) {
					up = append(up, f)
				}
			}
			writeFrames(m, up)
			clear(up)
		}, end)
		return
	}
	go func() {
		defer end()
		readLoop(p, func(frame []byte) {
			if b.rxPass(s, frame) {
				_ = m.WriteFrame(frame)
			}
		})
	}()
}

// rxPass decides whether a frame received on slave s goes up the bond
// device: the receive probe may consume it; an inactive slave drops it
// unless it is unicast and the mode keeps unicast (balance-alb); a frame
// to the slave's own MAC is readdressed to the bond's (SetSlaveRx).
func (b *Bond) rxPass(s *Slave, frame []byte) bool {
	if v := b.arp.view.Load(); v != nil {
		b.arpRcv(v, s, frame[VnetHdrLen:])
	}
	if b.probeFrame(s, frame) {
		s.counters.countRx(len(frame), true, false)
		return false
	}
	if s.fp.Load() {
		return false // the fast path delivered it in the kernel
	}
	eth := frame[VnetHdrLen:]
	if s.rxDrop.Load() && (eth[0]&1 != 0 || !s.rxUnicast.Load()) {
		s.counters.countRx(len(frame), false, true)
		return false
	}
	s.counters.countRx(len(frame), false, false)
	if a := s.rxLocal.Load(); a != nil && [6]byte(eth[0:6]) == [6]byte(a[0:6]) {
		copy(eth[0:6], a[6:12])
	}
	return true
}

// stopReader closes the slave's device and waits for its reader.
func (b *Bond) stopReader(s *Slave) {
	if s.dev == nil {
		return
	}
	s.rxPender.Store(nil)
	_ = s.dev.Close()
	if s.readerDone != nil {
		<-s.readerDone
	}
	s.dev = nil
}

// RxPender is a SlaveDev that can tell whether frames the kernel already
// queued for it have not yet been through the bond's receive path
// (netdev.SlaveDev).
type RxPender interface {
	RxPending() bool
}

// RxPending reports whether frames already queued for the slave's device
// may not yet have been through the receive path (RxPender); false for a
// device that cannot tell, and once the device is closed. Safe from any
// goroutine: the 802.3ad tick asks it before running the machines, so that
// it sees every LACPDU that reached the slave before it, as the kernel
// does (its receive runs in softirq as the frame arrives).
func (s *Slave) RxPending() bool {
	if p := s.rxPender.Load(); p != nil {
		return (*p).RxPending()
	}
	return false
}

// waitReaders waits for every reader of the bond to end.
func (b *Bond) waitReaders() { b.readers.Wait() }

// temporary reports whether a read error is worth retrying (ENETDOWN after
// a flap, EINTR, EAGAIN); anything else ends the reader.
func temporary(err error) bool {
	var t interface{ Temporary() bool }
	if errors.As(err, &t) && t.Temporary() {
		return true
	}
	switch ErrnoOf(err) {
	case syscall.ENETDOWN, syscall.EINTR, syscall.EAGAIN, syscall.ENXIO:
		return true
	}
	return false
}
