package bond

import "time"

// ARPRoutesKnown reports whether the ARP monitor of b has read the routes to
// its targets (control goroutine only).
func ARPRoutesKnown(b *Bond) bool { return b.arp.routes != nil }

// ARPRcv runs bond_rcv_validate (arpRcv) on frame for a slave of a bond
// with the given arp_validate, arp_all_targets and state, targets
// 192.0.2.9 and 192.0.2.10 and address 192.0.2.1, and returns the slave's
// last_rx (0 when the frame did not count).
func ARPRcv(validate ARPValidate, allTargets, backup bool, frame []byte) int64 {
	r := NewRegistry(Config{})
	b := &Bond{reg: r}
	s := &Slave{bond: b}
	s.arp.backup.Store(backup)
	act := &Slave{bond: b}
	act.arp.lastRx.Store(2)
	act.arp.lastLinkUp.Store(1)
	v := &arpView{validate: validate, allTargets: allTargets, interval: int64(time.Second),
		targets: [MaxARPTargets]uint32{0xc0000209, 0xc000020a}, ntargets: 2,
		ips: []uint32{0xc0000201}, currActive: act, currARP: act}
	b.arpRcv(v, s, frame)
	return s.arp.lastRx.Load()
}

// WaitSenders waits until the goroutines b started to send peer
// notifications and membership reports are done (call after Env.Settle).
func WaitSenders(b *Bond) { b.arp.senders.Wait() }

// InSync reports Registry.inSync.
func InSync(r *Registry) bool { return r.inSync() }

// ResetARPWarnedNoRoute forgets that "no route to arp_ip_target" was
// printed (pr_warn_once's flag is per process).
func ResetARPWarnedNoRoute() { arpWarnedNoRoute.Store(false) }

// Retained reports what the registry keeps of bonds it no longer has: the
// capacity of its bond list, and whether the MII monitor's carrier read
// still holds its dump buffer or index (call after Env.Settle, with no
// read running).
func Retained(r *Registry) (bondsCap int, carrierBuf bool) {
	done := make(chan struct{})
	r.post(func() { bondsCap = cap(r.bonds); close(done) })
	<-done
	r.carrier.mu.Lock()
	carrierBuf = r.carrier.buf != nil || r.carrier.at != nil
	r.carrier.mu.Unlock()
	return bondsCap, carrierBuf
}
