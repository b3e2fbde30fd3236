package alb

import "encoding/binary"

// Receive load balancing (bond_alb.c, "rlb specific functions"): every ARP
// reply the bond's own stack sends is steered to a slave chosen per client
// and carries that slave's MAC as sender, so each client sends to a
// different slave. The client table has 256 entries indexed by the XOR of
// the client's IPv4 address bytes; used entries are chained from
// rxUsedHead, and entries sharing the hash of the bond-side address are
// chained from that hash's srcFirst.

// arpPkt is the part of an ARP packet for IPv4 over Ethernet the tables read
// (struct arp_pkt); off is where it starts in the frame.
type arpPkt struct {
	op       uint16
	macSrc   MAC
	ipSrc    uint32
	macDst   MAC
	ipDst    uint32
	vlanID   uint16
	hasVLAN  bool
	off      int
	validLen bool
}

// parseARP reads the ARP packet of an Ethernet frame, through one 802.1Q
// tag (the kernel has the tag out of band: vlan_get_tag). ok is false for
// anything but ARP or a frame too short for struct arp_pkt.
func parseARP(eth []byte) (p arpPkt, ok bool) {
	if len(eth) < 14 {
		return p, false
	}
	et := binary.BigEndian.Uint16(eth[12:14])
	off := 14
	if et == etherTypeVLAN {
		if len(eth) < 18 {
			return p, false
		}
		p.vlanID = binary.BigEndian.Uint16(eth[14:16]) & 0x0fff
		p.hasVLAN = true
		et = binary.BigEndian.Uint16(eth[16:18])
		off = 18
	}
	if et != etherTypeARP || len(eth) < off+28 {
		return p, false
	}
	a := eth[off:]
	p.off = off
	p.op = binary.BigEndian.Uint16(a[6:8])
	copy(p.macSrc[:], a[8:14])
	p.ipSrc = binary.BigEndian.Uint32(a[14:18])
	copy(p.macDst[:], a[18:24])
	p.ipDst = binary.BigEndian.Uint32(a[24:28])
	return p, true
}

// rlbInitEntryDst is rlb_init_table_entry_dst.
func rlbInitEntryDst(e *rlbEntry) {
	e.usedNext, e.usedPrev = nullIndex, nullIndex
	e.assigned = false
	e.slave = nil
	e.vlanID = 0
}

// rlbInitEntrySrc is rlb_init_table_entry_src.
func rlbInitEntrySrc(e *rlbEntry) {
	e.srcFirst, e.srcPrev, e.srcNext = nullIndex, nullIndex, nullIndex
}

// rlbInitEntry is rlb_init_table_entry.
func (a *ALB) rlbInitEntry(e *rlbEntry) {
	*e = rlbEntry{}
	rlbInitEntryDst(e)
	rlbInitEntrySrc(e)
}

// deleteEntryDst is rlb_delete_table_entry_dst: unlink from the used list.
func (a *ALB) deleteEntryDst(i uint32) {
	next, prev := a.rx[i].usedNext, a.rx[i].usedPrev
	if i == a.rxUsedHead {
		a.rxUsedHead = next
	}
	if prev != nullIndex {
		a.rx[prev].usedNext = next
	}
	if next != nullIndex {
		a.rx[next].usedPrev = prev
	}
}

// srcUnlink is rlb_src_unlink.
func (a *ALB) srcUnlink(i uint32) {
	next, prev := a.rx[i].srcNext, a.rx[i].srcPrev
	a.rx[i].srcNext, a.rx[i].srcPrev = nullIndex, nullIndex
	if next != nullIndex {
		a.rx[next].srcPrev = prev
	}
	if prev == nullIndex {
		return
	}
	if a.rx[prev].srcFirst == i {
		a.rx[prev].srcFirst = next
	} else {
		a.rx[prev].srcNext = next
	}
}

// deleteEntry is rlb_delete_table_entry.
func (a *ALB) deleteEntry(i uint32) {
	a.deleteEntryDst(i)
	rlbInitEntryDst(&a.rx[i])
	a.srcUnlink(i)
}

// srcLink is rlb_src_link: entry dstHash joins the list of srcHash.
func (a *ALB) srcLink(srcHash, dstHash uint32) {
	a.rx[dstHash].srcPrev = srcHash
	next := a.rx[srcHash].srcFirst
	a.rx[dstHash].srcNext = next
	if next != nullIndex {
		a.rx[next].srcPrev = dstHash
	}
	a.rx[srcHash].srcFirst = dstHash
}

// purgeSrcIP is rlb_purge_src_ip: entries for the sender's address with
// another MAC are deleted (someone else uses that address now).
func (a *ALB) purgeSrcIP(p *arpPkt) {
	for i := a.rx[ipHash(p.ipSrc)].srcFirst; i != nullIndex; {
		e := &a.rx[i]
		next := e.srcNext
		if e.ipSrc == p.ipSrc && e.macSrc != p.macSrc {
			a.deleteEntry(i)
		}
		i = next
	}
}

// updateEntryFromARP is rlb_update_entry_from_arp: a client's reply gives
// its unicast MAC.
func (a *ALB) updateEntryFromARP(p *arpPkt) {
	e := &a.rx[ipHash(p.ipSrc)]
	if e.assigned && e.ipSrc == p.ipDst && e.ipDst == p.ipSrc && e.macDst != p.macSrc {
		e.macDst = p.macSrc
		e.ntt = true
		a.rxNTT = true
	}
}

// RecvARP is rlb_arp_recv, the receive probe of balance-alb: eth is an
// Ethernet frame received on a slave (ARP, possibly with an 802.1Q tag).
func (a *ALB) RecvARP(eth []byte) {
	p, ok := parseARP(eth)
	if !ok {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.rlbEnabled || a.rx == nil {
		return
	}
	a.purgeSrcIP(&p)
	if p.op == arpReply {
		a.updateEntryFromARP(&p)
	}
}

// nextRxSlave is __rlb_next_rx_slave: round robin over the slaves that can
// transmit, preferring the fastest.
func (a *ALB) nextRxSlave() *Slave {
	var before, rx *Slave
	found := false
	for _, s := range a.slaves {
		if !s.canTx {
			continue
		}
		if !found {
			if before == nil || before.speed < s.speed {
				before = s
			}
		} else if rx == nil || rx.speed < s.speed {
			rx = s
		}
		if s == a.rxSlave {
			found = true
		}
	}
	if rx == nil || (before != nil && rx.speed < before.speed) {
		rx = before
	}
	if rx != nil {
		a.rxSlave = rx
	}
	return rx
}

// teachDisabledMACOnPrimary is rlb_teach_disabled_mac_on_primary: the
// current slave goes promiscuous and announces addr, so that frames for a
// disabled slave's MAC still arrive.
func (a *ALB) teachDisabledMACOnPrimary(addr MAC) {
	c := a.curr
	if c == nil {
		return
	}
	if !a.primaryIsPromisc {
		a.primaryIsPromisc = a.host.SetPromisc(c, 1) == nil
	}
	a.promiscTimeout = 0
	a.sendLearningPackets(c, addr, true)
}

// rlbClearSlave is rlb_clear_slave: the clients of s move to other slaves.
func (a *ALB) rlbClearSlave(s *Slave) {
	if a.rx != nil {
		for i := a.rxUsedHead; i != nullIndex; {
			e := &a.rx[i]
			next := e.usedNext
			if e.slave == s {
				if n := a.nextRxSlave(); n != nil {
					e.slave = n
					if e.macDst.IsValid() {
						e.ntt = true
						a.rxNTT = true
						a.updateRetry = RLBUpdateRetry
					}
				} else {
					e.slave = nil
				}
			}
			i = next
		}
	}
	if s != a.curr {
		a.teachDisabledMACOnPrimary(s.MAC)
	}
}

// updateClient is rlb_update_client: RLB_ARP_BURST_SIZE ARP replies telling
// the client the bond's address is at its slave's MAC.
func (a *ALB) updateClient(e *rlbEntry) {
	s := e.slave
	if s == nil || !e.macDst.IsValid() || s.dev == nil {
		return
	}
	f := a.buf[:vnetHdrLen]
	clear(f)
	f = append(f, e.macDst[:]...)
	f = append(f, s.MAC[:]...)
	if e.vlanID != 0 {
		f = binary.BigEndian.AppendUint16(f, etherTypeVLAN)
		f = binary.BigEndian.AppendUint16(f, e.vlanID)
	}
	f = binary.BigEndian.AppendUint16(f, etherTypeARP)
	f = append(f, 0, 1, 8, 0, 6, 4, 0, arpReply)
	f = append(f, s.MAC[:]...)
	f = binary.BigEndian.AppendUint32(f, e.ipSrc)
	f = append(f, e.macDst[:]...)
	f = binary.BigEndian.AppendUint32(f, e.ipDst)
	for i := 0; i < RLBARPBurst; i++ {
		_ = s.dev.WriteFrame(f)
	}
}

// updateRxClients is rlb_update_rx_clients.
func (a *ALB) updateRxClients() {
	for i := a.rxUsedHead; i != nullIndex; i = a.rx[i].usedNext {
		e := &a.rx[i]
		if e.ntt {
			a.updateClient(e)
			if a.updateRetry == 0 {
				e.ntt = false
			}
		}
	}
	a.updateDelay = RLBUpdateDelay
}

// reqUpdateSlaveClients is rlb_req_update_slave_clients: s has a new MAC.
func (a *ALB) reqUpdateSlaveClients(s *Slave) {
	if a.rx == nil {
		return
	}
	ntt := false
	for i := a.rxUsedHead; i != nullIndex; i = a.rx[i].usedNext {
		e := &a.rx[i]
		if e.slave == s && e.macDst.IsValid() {
			e.ntt = true
			ntt = true
		}
	}
	if ntt {
		a.rxNTT = true
		a.updateRetry = RLBUpdateRetry
	}
}

// reqUpdateSubnetClients is rlb_req_update_subnet_clients: the bond's ARP
// request from srcIP was broadcast with the bond's MAC, so every client of
// that address on another slave must be told its slave again.
func (a *ALB) reqUpdateSubnetClients(srcIP uint32) {
	for i := a.rxUsedHead; i != nullIndex; i = a.rx[i].usedNext {
		e := &a.rx[i]
		if e.slave == nil {
			a.host.Logf("found a client with no channel in the client's hash table")
			continue
		}
		if e.ipSrc == srcIP && e.slave.MAC != a.bondMAC && e.macDst.IsValid() {
			e.ntt = true
			a.rxNTT = true
		}
	}
}

// chooseChannel is rlb_choose_channel: the client's entry for an ARP the
// bond sends, (re)assigned to the next receive slave when needed.
func (a *ALB) chooseChannel(p *arpPkt) *Slave {
	idx := ipHash(p.ipDst)
	e := &a.rx[idx]
	if e.assigned {
		if e.ipSrc == p.ipSrc && e.ipDst == p.ipDst {
			if p.macDst != (MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}) {
				e.macDst = p.macDst
			}
			e.macSrc = p.macSrc
			if e.slave != nil {
				return e.slave
			}
		} else if a.curr != nil && e.slave != a.curr {
			// another client had the entry: move it to the current slave
			e.slave = a.curr
			a.updateClient(e)
		}
	}
	s := a.nextRxSlave()
	if s == nil {
		return nil
	}
	if !(e.assigned && e.ipSrc == p.ipSrc) {
		a.srcUnlink(idx)
		a.srcLink(ipHash(p.ipSrc), idx)
	}
	e.ipSrc, e.ipDst = p.ipSrc, p.ipDst
	e.macDst, e.macSrc = p.macDst, p.macSrc
	e.slave = s
	if e.macDst.IsValid() {
		e.ntt = true
		a.rxNTT = true
	} else {
		e.ntt = false
	}
	e.vlanID = 0
	if p.hasVLAN {
		e.vlanID = p.vlanID
	}
	if !e.assigned {
		prev := a.rxUsedHead
		a.rxUsedHead = idx
		e.usedNext = prev
		if prev != nullIndex {
			a.rx[prev].usedPrev = idx
		}
		e.assigned = true
	}
	return s
}

// arpXmit is rlb_arp_xmit: the slave an ARP from the bond goes out on (nil:
// the current slave). A reply gets the chosen slave's MAC as sender
// address, written into eth.
func (a *ALB) arpXmit(eth []byte) *Slave {
	p, ok := parseARP(eth)
	if !ok {
		return nil
	}
	// only ARPs of the bond itself or a VLAN directly above it
	if a.hasMAC(p.macSrc) == nil {
		return nil
	}
	switch p.op {
	case arpReply:
		s := a.chooseChannel(&p)
		if s != nil && p.macSrc != s.MAC {
			copy(eth[p.off+8:p.off+14], s.MAC[:])
		}
		return s
	case arpRequest:
		s := a.chooseChannel(&p)
		a.updateDelay = RLBUpdateDelay
		a.reqUpdateSubnetClients(p.ipSrc)
		return s
	}
	return nil
}

// rlbRebalanceClients is rlb_rebalance.
func (a *ALB) rlbRebalanceClients() {
	ntt := false
	for i := a.rxUsedHead; i != nullIndex; i = a.rx[i].usedNext {
		e := &a.rx[i]
		s := a.nextRxSlave()
		if s != nil && e.slave != s {
			e.slave = s
			if e.macDst != (MAC{}) {
				e.ntt = true
				ntt = true
			}
		}
	}
	if ntt {
		a.rxNTT = true
	}
}

// ClearVLAN is bond_alb_clear_vlan: the clients reached through VLAN vid
// are forgotten (the VLAN device above the bond went away).
func (a *ALB) ClearVLAN(vid uint16) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.rlbEnabled || a.rx == nil {
		return
	}
	for i := a.rxUsedHead; i != nullIndex; {
		next := a.rx[i].usedNext
		if a.rx[i].vlanID == vid {
			a.deleteEntry(i)
		}
		i = next
	}
	a.vlans[vid/64] &^= 1 << (vid % 64)
}

// Client is one used entry of the RLB table, for tests and diagnostics.
type Client struct {
	Index          int
	IPSrc, IPDst   uint32
	MACSrc, MACDst MAC
	Slave          *Slave
	NTT            bool
	VLAN           uint16
}

// Clients returns the used entries of the client table, in used-list
// order (newest first).
func (a *ALB) Clients() []Client {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []Client
	if a.rx == nil {
		return nil
	}
	for i := a.rxUsedHead; i != nullIndex; i = a.rx[i].usedNext {
		e := &a.rx[i]
		out = append(out, Client{int(i), e.ipSrc, e.ipDst, e.macSrc, e.macDst, e.slave, e.ntt, e.vlanID})
	}
	return out
}
