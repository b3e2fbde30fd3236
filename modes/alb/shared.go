package alb

import (
	"encoding/binary"
	"syscall"
)

// The parts TLB and RLB share (bond_alb.c, "tlb/rlb shared functions" and
// the exported bond_alb_* functions): learning packets, the MAC address
// rules on attach, detach and change of the current slave, the periodic
// work and the transmit path.

// sendLPVid is alb_send_lp_vid: one learning packet, ETH_P_LOOPBACK from
// and to mac, padded to ETH_ZLEN, tagged with vid when it is not 0.
func (a *ALB) sendLPVid(s *Slave, mac MAC, vid uint16) {
	if s.dev == nil {
		return // the device cannot send (down): dev_queue_xmit drops it
	}
	f := a.buf[:vnetHdrLen]
	clear(f)
	f = append(f, mac[:]...)
	f = append(f, mac[:]...)
	if vid != 0 {
		f = binary.BigEndian.AppendUint16(f, etherTypeVLAN)
		f = binary.BigEndian.AppendUint16(f, vid)
	}
	f = binary.BigEndian.AppendUint16(f, etherTypeLoopback)
	want := vnetHdrLen + lpFrameLen
	if vid != 0 {
		want += 4
	}
	for len(f) < want {
		f = append(f, 0)
	}
	_ = s.dev.WriteFrame(f)
}

// sendLearningPackets is alb_send_learning_packets: untagged, then one per
// VLAN above the bond. The VLAN devices above the bond are not visible to
// the engine; the VLAN ids the bond has sent tagged frames on stand for
// them, and their address is taken to be mac (a VLAN device's address is
// normally the bond's). strict_match only matters for macvlan devices,
// which are not seen either.
func (a *ALB) sendLearningPackets(s *Slave, mac MAC, strict bool) {
	_ = strict
	a.sendLPVid(s, mac, 0)
	for w, bits := range a.vlans {
		for b := 0; bits != 0 && b < 64; b++ {
			if bits&(1<<b) != 0 {
				a.sendLPVid(s, mac, uint16(w*64+b))
			}
		}
	}
}

// swapMAC is alb_swap_mac_addr.
func (a *ALB) swapMAC(s1, s2 *Slave) {
	tmp := s1.MAC
	_ = a.setSlaveMAC(s1, s2.MAC)
	_ = a.setSlaveMAC(s2, tmp)
}

// fastenMACSwap is alb_fasten_mac_swap: after a swap, each slave that can
// transmit announces its new address (and its clients are told), and a
// disabled slave's new address is taught on the current slave.
func (a *ALB) fastenMACSwap(s1, s2 *Slave) {
	differ := s1.canTx != s2.canTx
	var disabled *Slave
	for _, s := range []*Slave{s1, s2} {
		if s.canTx {
			a.sendLearningPackets(s, s.MAC, false)
			if a.rlbEnabled {
				a.reqUpdateSlaveClients(s)
			}
		} else {
			disabled = s
		}
	}
	if a.rlbEnabled && differ {
		a.teachDisabledMACOnPrimary(disabled.MAC)
	}
}

// changeHWAddrOnDetach is alb_change_hw_addr_on_detach: a slave leaving
// with an address that is neither its own nor the bond's takes back its
// own address from the slave that has it.
func (a *ALB) changeHWAddrOnDetach(s *Slave) {
	if s.Perm != s.MAC && s.Perm != a.bondMAC {
		if f := a.hasMAC(s.Perm); f != nil {
			a.swapMAC(s, f)
			a.fastenMACSwap(s, f)
		}
	}
}

// collisionOnAttach is alb_handle_addr_collision_on_attach: a new slave
// whose address is the bond's, or another slave's, gets the permanent
// address of a slave whose address is free. EFAULT when there is none.
func (a *ALB) collisionOnAttach(s *Slave) error {
	hasBondAddr := a.curr
	if len(a.slaves) == 0 {
		return nil
	}
	if s.Perm != a.bondMAC {
		if a.hasMAC(s.MAC) == nil {
			return nil
		}
		_ = a.setSlaveMAC(s, a.bondMAC)
	}
	var free *Slave
	for _, t := range a.slaves {
		if a.hasMAC(t.Perm) == nil {
			free = t
			break
		}
		if hasBondAddr == nil && t.MAC == a.bondMAC {
			hasBondAddr = t
		}
	}
	switch {
	case free != nil:
		_ = a.setSlaveMAC(s, free.Perm)
		a.host.SlaveLogf(s, "the slave hw address is in use by the bond; giving it the hw address of %s", free.Name)
	case hasBondAddr != nil:
		a.host.SlaveLogf(s, "the slave hw address is in use by the bond; couldn't find a slave with a free hw address to give it (this should not have happened)")
		return syscall.EFAULT
	}
	return nil
}

// InitSlave is bond_alb_init_slave: s (not yet a slave of the tables)
// takes back its own address, address collisions are resolved, and a
// rebalance is ordered. The errno of a failure (EOPNOTSUPP, EFAULT) fails
// the enslave. On success s is appended to the slaves.
func (a *ALB) InitSlave(s *Slave) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.setSlaveMAC(s, s.Perm); err != nil {
		return syscall.EOPNOTSUPP
	}
	if err := a.collisionOnAttach(s); err != nil {
		return err
	}
	tlbInitSlave(s)
	a.txRebalanceCounter = RebalanceTicks
	if a.rlbEnabled {
		a.rlbRebalance = true
	}
	a.slaves = append(a.slaves, s)
	a.updateUsable()
	return nil
}

// DeinitSlave is bond_alb_deinit_slave for a slave being released: it
// leaves the slaves (and, if it was the current slave, stops being it as
// bond_change_active_slave(NULL) does first in the kernel), addresses are
// fixed up, and its TLB entries and RLB clients move to other slaves.
func (a *ALB) DeinitSlave(s *Slave) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i, t := range a.slaves {
		if t == s {
			a.slaves = append(a.slaves[:i:i], a.slaves[i+1:]...)
			break
		}
	}
	if a.curr == s {
		a.activeChange(nil)
	}
	if len(a.slaves) > 0 {
		a.changeHWAddrOnDetach(s)
	}
	a.tlbClearSlave(s, false)
	if a.rlbEnabled {
		a.rxSlave = nil
		a.rlbClearSlave(s)
	}
	s.canTx, s.dev = false, nil
	a.updateUsable()
}

// SetLink records s's transmit ability and speed (after a link change and
// before LinkChange, so the tables see the slave as the kernel does when
// bond_alb_handle_link_change runs).
func (a *ALB) SetLink(s *Slave, canTx bool, speed int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	s.canTx, s.speed = canTx, uint32(speed)
	if !canTx {
		s.dev = nil
	}
	a.updateUsable()
}

// SetSlaveDev records the device frames for s go through (nil: s cannot send).
func (a *ALB) SetSlaveDev(s *Slave, p SlaveDev) {
	a.mu.Lock()
	defer a.mu.Unlock()
	s.dev = p
}

// LinkChange is bond_alb_handle_link_change: a slave gone down loses its
// TLB entries and RLB clients; one come up orders a rebalance.
func (a *ALB) LinkChange(s *Slave, up bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !up {
		a.tlbClearSlave(s, false)
		if a.rlbEnabled {
			a.rlbClearSlave(s)
		}
	} else {
		a.txRebalanceCounter = RebalanceTicks
		if a.rlbEnabled {
			a.rlbRebalance = true
		}
	}
	a.updateUsable()
}

// ActiveChange is bond_alb_handle_active_change: n becomes the current
// slave and takes the bond's address, by swapping addresses with the slave
// that had it.
func (a *ALB) ActiveChange(n *Slave) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.activeChange(n)
}

func (a *ALB) activeChange(n *Slave) {
	old := a.curr
	if old == n {
		return
	}
	if old != nil && a.primaryIsPromisc {
		_ = a.host.SetPromisc(old, -1)
		a.primaryIsPromisc = false
		a.promiscTimeout = 0
	}
	swap := old
	a.curr = n
	if n == nil || len(a.slaves) == 0 {
		return
	}
	if swap == nil {
		swap = a.hasMAC(a.bondMAC)
	}
	if swap != nil {
		a.tlbClearSlave(swap, true)
	}
	a.tlbClearSlave(n, true)
	if swap != nil {
		a.swapMAC(swap, n)
		a.fastenMACSwap(swap, n)
	} else {
		_ = a.setSlaveMAC(n, a.bondMAC)
		a.sendLearningPackets(n, a.bondMAC, false)
	}
}

// Monitor is one run of bond_alb_monitor (alb_work, every 100 ms):
// learning packets every lp_interval, the TLB rebalance every 10 s, and for
// RLB the end of the current slave's promiscuity, the client rebalance and
// the client updates.
func (a *ALB) Monitor() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.slaves) == 0 {
		a.txRebalanceCounter = 0
		a.lpCounter = 0
		return
	}
	a.txRebalanceCounter++
	a.lpCounter++
	// BOND_ALB_LP_TICKS is an int product: lp_interval above 214748364
	// wraps (2147483647 gives -10, learning packets every tick)
	if a.lpCounter >= int(int32(a.cfg.LPInterval)*TicksPerSec) {
		for _, s := range a.slaves {
			strict := s != a.curr || a.rlbEnabled
			a.sendLearningPackets(s, s.MAC, strict)
		}
		a.lpCounter = 0
	}
	if a.txRebalanceCounter >= RebalanceTicks {
		for _, s := range a.slaves {
			a.tlbClearSlave(s, true)
			if s == a.curr {
				s.load = a.unbalancedLoad / RebalanceInterval
				a.unbalancedLoad = 0
			}
		}
		a.txRebalanceCounter = 0
	}
	if !a.rlbEnabled || a.rx == nil {
		return
	}
	if a.primaryIsPromisc {
		a.promiscTimeout++
		if a.promiscTimeout >= RLBPromiscTimeout {
			a.promiscTimeout = 0
			if a.curr != nil {
				_ = a.host.SetPromisc(a.curr, -1)
				a.primaryIsPromisc = false
			}
		}
	}
	if a.rlbRebalance {
		a.rlbRebalance = false
		a.rlbRebalanceClients()
	}
	if a.rxNTT {
		if a.updateDelay > 0 {
			a.updateDelay--
		} else {
			a.updateRxClients()
			if a.updateRetry > 0 {
				a.updateRetry--
			} else {
				a.rxNTT = false
			}
		}
	}
}

// Xmit sends one frame from the bond device (virtio_net_hdr + Ethernet
// frame) as bond_tlb_xmit / bond_alb_xmit do: on the slave the tables
// choose, with that slave's MAC as source unless it is the current slave;
// frames not balanced go through the current slave. A frame no slave can
// take is dropped. The frame's bytes may be changed.
func (a *ALB) Xmit(frame []byte) {
	a.mu.Lock()
	p := a.place(frame)
	bound := a.takeBound()
	a.mu.Unlock()
	if bound {
		a.cfg.Bound()
	}
	if p != nil {
		_ = p.WriteFrame(frame)
	}
}

// A Placer takes the frames of a batch with the device each goes out on
// (bond.TxBatch through an adapter in package modes).
type Placer interface {
	Place(p SlaveDev, frame []byte)
}

// XmitEach is Xmit for a batch: the tables are taken once, and each frame
// that a slave can send is handed to out with its device, in order; the
// caller sends them (one WriteBatch per device). No allocation.
func (a *ALB) XmitEach(frames [][]byte, out Placer) {
	a.mu.Lock()
	for _, f := range frames {
		if p := a.place(f); p != nil {
			out.Place(p, f)
		}
	}
	bound := a.takeBound()
	a.mu.Unlock()
	if bound {
		a.cfg.Bound()
	}
}

// takeBound reports whether a bucket was bound since the last call and
// Config.Bound wants to know (a.mu held).
func (a *ALB) takeBound() bool {
	b := a.bound && a.cfg.Bound != nil
	a.bound = false
	return b
}

// place chooses the device of one frame as bond_tlb_xmit / bond_alb_xmit do
// and rewrites its source MAC when the tables say so; nil drops it
// (a.mu held).
func (a *ALB) place(frame []byte) SlaveDev {
	if len(frame) < vnetHdrLen+14 {
		return nil
	}
	eth := frame[vnetHdrLen:]
	if binary.BigEndian.Uint16(eth[12:14]) == etherTypeVLAN && len(eth) >= 18 {
		vid := binary.BigEndian.Uint16(eth[14:16]) & 0x0fff
		a.vlans[vid/64] |= 1 << (vid % 64)
	}
	var tx *Slave
	if a.cfg.TLBOnly {
		tx = a.tlbSlaveGet(eth)
	} else {
		tx = a.albSlaveGet(eth)
	}
	n := uint32(len(eth))
	if tx == nil {
		tx = a.curr
		if a.cfg.DynamicLB {
			a.unbalancedLoad += n
		}
	}
	if tx != nil && tx.canTx && tx.dev != nil {
		if tx != a.curr {
			copy(eth[6:12], tx.MAC[:])
		}
		return tx.dev
	}
	if tx != nil && a.cfg.DynamicLB {
		a.tlbClearSlave(tx, false)
	}
	return nil
}

// l3 returns the EtherType after at most one 802.1Q tag and the offset of
// the network header (the kernel has the tag out of band).
func l3(eth []byte) (uint16, int) {
	et := binary.BigEndian.Uint16(eth[12:14])
	if et == etherTypeVLAN && len(eth) >= 18 {
		return binary.BigEndian.Uint16(eth[16:18]), 18
	}
	return et, 14
}

// isND is alb_determine_nd: an IPv6 neighbour solicitation or
// advertisement, or a header too short to tell.
func isND(ip []byte) bool {
	if len(ip) < 40 {
		return true
	}
	if ip[6] != 58 {
		return false
	}
	if len(ip) < 44 {
		return true
	}
	return ip[40] == 135 || ip[40] == 136
}

// tlbSlaveGet is bond_xmit_tlb_slave_get.
func (a *ALB) tlbSlaveGet(eth []byte) *Slave {
	if eth[0]&1 != 0 {
		return nil // multicast or broadcast: not balanced
	}
	et, off := l3(eth)
	switch et {
	case etherTypeIPv6:
		if isND(eth[off:]) {
			return nil
		}
	case etherTypeIPv4:
	default:
		return nil
	}
	return a.hashSlave(a.cfg.Hash(eth)&0xff, eth)
}

// hashSlave picks the slave for a balanced frame: the TLB table with
// tlb_dynamic_lb, else the usable slaves by xmit_hash_policy.
func (a *ALB) hashSlave(idx uint32, eth []byte) *Slave {
	if a.cfg.DynamicLB {
		if a.tx == nil {
			return nil
		}
		return a.tlbChooseChannel(idx, uint32(len(eth)))
	}
	if n := uint32(len(a.usable)); n > 0 {
		return a.usable[a.cfg.Hash(eth)%n]
	}
	return nil
}

var (
	bcastMAC     = MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	v6AllNodeMAC = MAC{0x33, 0x33, 0, 0, 0, 1}
)

// albSlaveGet is bond_xmit_alb_slave_get.
func (a *ALB) albSlaveGet(eth []byte) *Slave {
	dst := MAC(eth[0:6])
	et, off := l3(eth)
	ip := eth[off:]
	switch et {
	case etherTypeIPv4:
		if dst == bcastMAC || len(ip) < 20 {
			return nil
		}
		if binary.BigEndian.Uint32(ip[16:20]) == 0xffffffff || ip[9] == 2 {
			return nil // broadcast or IGMP
		}
		return a.hashSlave(simpleHash(ip[16:20]), eth)
	case etherTypeIPv6:
		if dst == bcastMAC || dst == v6AllNodeMAC || isND(ip) {
			return nil
		}
		var zero [16]byte
		if [16]byte(ip[8:24]) == zero {
			return nil // DAD probe
		}
		return a.hashSlave(simpleHash(ip[24:40]), eth)
	case etherTypeARP:
		if a.rlbEnabled && a.rx != nil {
			return a.arpXmit(eth)
		}
	}
	return nil
}

// SetBondAddress is what a new address of the bond device does to the
// slaves (bond_set_mac_address): in balance-alb (bond_alb_set_mac_address)
// the current slave takes it, by a swap with the slave that has it, if any;
// in balance-tlb every slave is given it (bond_set_mac_address's loop).
func (a *ALB) SetBondAddress(m MAC) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.bondMAC = m
	if a.cfg.TLBOnly {
		for _, s := range a.slaves {
			_ = a.setSlaveMAC(s, m)
		}
		return
	}
	c := a.curr
	if c == nil {
		return
	}
	if swap := a.hasMAC(m); swap != nil {
		a.swapMAC(swap, c)
		a.fastenMACSwap(swap, c)
		return
	}
	_ = a.setSlaveMAC(c, m)
	a.sendLearningPackets(c, m, false)
	if a.rlbEnabled {
		a.reqUpdateSlaveClients(c)
	}
}
