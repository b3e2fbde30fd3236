package bond

import (
	"encoding/binary"
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
			if v := b.arp.view.Load(); v != nil {
				b.arpRcv(v, s, frame[VnetHdrLen:])
			}
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

// XmitHash computes the transmit hash of an Ethernet frame (without vnet
// header) for an xmit_hash_policy, as bond_main.c bond_xmit_hash defines it
// (bonding.txt §2 xmit_hash_policy): layer2 XORs the last bytes of the MACs
// and the EtherType; layer2+3 adds the IPv4/IPv6 addresses; layer3+4 uses the
// addresses and the TCP/UDP ports (not for fragments); vlan+srcmac is
// vlanSrcMACHash. The caller takes the result modulo the number of usable
// slaves.
func XmitHash(policy int, f []byte) uint32 {
	if len(f) < 14 {
		return 0
	}
	if policy == XmitVlanSrcMAC {
		return vlanSrcMACHash(f)
	}
	l2 := uint32(f[5]^f[11]) ^ uint32(binary.BigEndian.Uint16(f[12:14]))
	if policy == XmitLayer2 {
		return l2
	}
	proto := binary.BigEndian.Uint16(f[12:14])
	off := 14
	if proto == 0x8100 && len(f) >= 18 {
		proto = binary.BigEndian.Uint16(f[16:18])
		off = 18
	}
	var src, dst, ports uint32
	var l4 []byte
	l4ok := false
	switch proto {
	case 0x0800:
		ip := f[off:]
		if len(ip) < 20 {
			return l2
		}
		ihl := int(ip[0]&0x0f) * 4
		if ihl < 20 || len(ip) < ihl {
			return l2
		}
		src = binary.BigEndian.Uint32(ip[12:16])
		dst = binary.BigEndian.Uint32(ip[16:20])
		frag := binary.BigEndian.Uint16(ip[6:8])
		if frag&0x3fff == 0 {
			switch ip[9] {
			case 6, 17, 132, 33, 136:
				l4, l4ok = ip[ihl:], true
			}
		}
	case 0x86dd:
		ip := f[off:]
		if len(ip) < 40 {
			return l2
		}
		for i := 0; i < 4; i++ {
			src ^= binary.BigEndian.Uint32(ip[8+4*i:])
			dst ^= binary.BigEndian.Uint32(ip[24+4*i:])
		}
		switch ip[6] {
		case 6, 17, 132, 33, 136:
			l4, l4ok = ip[40:], true
		}
	default:
		return l2
	}
	var h uint32
	if policy == XmitLayer23 || policy == XmitEncap23 {
		h = l2
	} else if l4ok && len(l4) >= 4 {
		ports = binary.LittleEndian.Uint32(l4[:4])
		h = ports
	}
	h ^= dst ^ src
	h ^= h >> 16
	h ^= h >> 8
	if policy == XmitLayer34 || policy == XmitEncap34 {
		return h >> 1
	}
	return h
}

// vlanSrcMACHash is bond_vlan_srcmac_hash (xmit_hash_policy=vlan+srcmac):
// the source MAC's first three bytes and its last three, each read as a
// 24-bit big-endian number, XORed together and with the 802.1Q tag control
// information when the frame carries a tag (the TAP hands tagged frames over
// with the tag in the frame, where the kernel has it in skb->vlan_tci).
func vlanSrcMACHash(f []byte) uint32 {
	vendor := uint32(f[6])<<16 | uint32(f[7])<<8 | uint32(f[8])
	dev := uint32(f[9])<<16 | uint32(f[10])<<8 | uint32(f[11])
	var vlan uint32
	if binary.BigEndian.Uint16(f[12:14]) == 0x8100 && len(f) >= 16 {
		vlan = uint32(binary.BigEndian.Uint16(f[14:16]))
	}
	return vlan ^ vendor ^ dev
}
