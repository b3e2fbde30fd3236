package bond

import (
	"errors"
	"os"
	"syscall"
)

// txBox holds the published transmit selector (an atomic.Pointer needs a
// concrete type).
type txBox struct{ sel TxSelector }

// rebuildTx asks the mode for a new transmit selector after any change of
// slaves, links, active slave or parameters and publishes it.
func (b *Bond) rebuildTx() {
	v := TxView{Params: &b.params}
	for _, s := range b.slaves {
		if s.port != nil && s.devUp && s.link == LinkUp && s.active {
			v.Usable = append(v.Usable, s)
			v.UsablePorts = append(v.UsablePorts, s.port)
		}
	}
	if c := b.currActive; c != nil && c.port != nil && c.devUp && c.link == LinkUp {
		v.Active = c.port
	}
	b.tx.Store(&txBox{sel: b.mode.Tx(v)})
}

// xmit sends one frame (vnet header + Ethernet frame) from the bond device
// through the mode's published selector (bond_start_xmit).
func (b *Bond) xmit(frame []byte) { b.tx.Load().sel.Xmit(frame) }

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
		if n > VnetHdrLen+14 {
			fn(buf[:n])
		}
	}
}

// startTAPReader runs the bond's one TAP reader: frames the kernel stack
// sends through the bond device go to xmit.
func (b *Bond) startTAPReader() {
	m := b.master
	b.readers.Add(1)
	go func() {
		defer b.readers.Done()
		readLoop(m, b.xmit)
	}()
}

// startPortReader runs the slave's one reader: each frame received on the
// slave passes the receive probe, then goes up the bond device unless the
// probe consumed it or the slave is inactive (bond_handle_frame,
// bond_should_deliver_exact_match).
func (b *Bond) startPortReader(s *Slave) {
	m, p := b.master, s.port
	s.readerDone = make(chan struct{})
	done := s.readerDone
	b.readers.Add(1)
	go func() {
		defer b.readers.Done()
		defer close(done)
		readLoop(p, func(frame []byte) {
			if b.probeFrame(s, frame) {
				return
			}
			eth := frame[VnetHdrLen:]
			if s.rxDrop.Load() && (eth[0]&1 != 0 || !s.rxUnicast.Load()) {
				return
			}
			if a := s.rxLocal.Load(); a != nil && [6]byte(eth[0:6]) == [6]byte(a[0:6]) {
				copy(eth[0:6], a[6:12])
			}
			_ = m.WriteFrame(frame)
		})
	}()
}

// stopPortReader closes the slave's port and waits for its reader.
func (b *Bond) stopPortReader(s *Slave) {
	if s.port == nil {
		return
	}
	_ = s.port.Close()
	if s.readerDone != nil {
		<-s.readerDone
	}
	s.port = nil
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
