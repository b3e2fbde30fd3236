package bond

import (
	"encoding/binary"

	"bondingfs/internal/frame"
)

// The receive side of the ARP monitor (bond_main.c bond_rcv_validate,
// bond_arp_rcv, bond_validate_arp, slave_last_rx). Goroutine: the slave
// readers run this file, on every frame a slave receives (rxPass calls
// arpRcv), with no lock and no allocation. They read an immutable arpView
// the control goroutine publishes (arpPublish, in arpmon.go) and stamp the
// slave's last_rx and target_last_arp_rx atomically. The one exception is
// slaveLastRx, the control goroutine's way into lastRx: the monitor in
// arpmon.go reads the stamps back through it.

// arpView is what the slave readers need of the bond to validate an ARP
// frame (bond_rcv_validate), published by the control goroutine.
type arpView struct {
	validate   ARPValidate
	allTargets bool
	interval   int64 // ns
	targets    [MaxARPTargets]uint32
	ntargets   int
	ips        []uint32
	currActive *Slave
	currARP    *Slave
	ns         *nsView // NS targets (nsmon.go); nil without
}

// inInterval is bond_time_in_interval in a slave reader, with the
// view's arp_interval.
func (v *arpView) inInterval(now, last int64, mod int64) bool {
	return timeInInterval(now, last, mod, v.interval)
}

// arpRcv is bond_rcv_validate in a slave reader, for every frame (an
// Ethernet frame without vnet header): when the slave's state does not ask
// for validation the frame counts as received (with arp_validate filter*,
// only ARP and IPv6 frames do); otherwise only an ARP frame that
// bond_arp_rcv's rules trust and that comes from (or, on a backup, goes to)
// a target does. No lock, no allocation.
func (b *Bond) arpRcv(v *arpView, s *Slave, f []byte) {
	if len(f) < 14 {
		return
	}
	et := binary.BigEndian.Uint16(f[12:14])
	now := b.reg.nanos()
	bit := ARPValidateActive
	if s.arp.backup.Load() {
		bit = ARPValidateBackup
	}
	if v.validate&bit == 0 {
		if v.validate&ARPValidateFilter == 0 || et == frame.EtherTypeARP || et == frame.EtherTypeIPv6 {
			s.arp.lastRx.Store(now)
		}
		return
	}
	if et != frame.EtherTypeARP || len(f) < 14+frame.ARPLen {
		b.nsRcv(v, s, f, now) // bond_na_rcv
		return
	}
	arp := f[14:]
	if arp[4] != 6 || binary.BigEndian.Uint16(arp[0:2]) != 1 ||
		binary.BigEndian.Uint16(arp[2:4]) != 0x0800 || arp[5] != 4 {
		return
	}
	op := binary.BigEndian.Uint16(arp[6:8])
	sip := binary.BigEndian.Uint32(arp[14:18])
	tip := binary.BigEndian.Uint32(arp[24:28])
	switch {
	case !s.arp.backup.Load():
		v.validateARP(s, sip, tip, now)
	case v.currActive != nil && v.lastRx(v.currActive) > v.currActive.arp.lastLinkUp.Load():
		v.validateARP(s, tip, sip, now)
	case v.currARP != nil && op == frame.ARPOpReply && v.inInterval(now, v.currARP.arp.lastTx.Load(), 1):
		v.validateARP(s, sip, tip, now)
	}
}

// validateARP is bond_validate_arp: sip must be a target and tip one of the
// bond's addresses.
func (v *arpView) validateARP(s *Slave, sip, tip uint32, now int64) {
	if sip == 0 {
		return
	}
	mine := false
	for _, ip := range v.ips {
		if ip == tip {
			mine = true
			break
		}
	}
	if !mine {
		return
	}
	for i := 0; i < v.ntargets; i++ {
		if v.targets[i] == sip {
			s.arp.lastRx.Store(now)
			s.arp.targetRx[i].Store(now)
			return
		}
	}
}

// lastRx is slave_last_rx: with arp_all_targets all, the oldest of the
// targets' last replies.
func (v *arpView) lastRx(s *Slave) int64 {
	if !v.allTargets {
		return s.arp.lastRx.Load()
	}
	t := s.arp.targetRx[0].Load()
	for i := 1; i < v.ntargets; i++ {
		if x := s.arp.targetRx[i].Load(); x < t {
			t = x
		}
	}
	return t
}

// slaveLastRx is slave_last_rx on the control goroutine.
func (b *Bond) slaveLastRx(s *Slave) int64 {
	v := arpView{allTargets: b.params.ARPAllTargets == 1}
	v.ntargets = len(b.params.ARPTargets)
	if v.ntargets > MaxARPTargets {
		v.ntargets = MaxARPTargets
	}
	return v.lastRx(s)
}
