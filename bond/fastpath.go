package bond

import (
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
)

// The in-kernel fast path (issue 18; package fastpath, bpf/c/bond.c). The
// engine stays the control plane: at every change it writes what the
// data path must apply (mode, active slave, usable slaves, hash policy,
// packets_per_slave, each slave's receive rules) into the maps, in the same
// control-goroutine step that changed it (rebuildTx and the slave flag
// setters call fpSync), and the programs apply it to every frame. A bond in
// a mode the programs do not run, or with more
// than FastMaxSlaves usable slaves, gets no map entry and stays on the
// userspace path, which stays complete: its TAP reader and slave readers
// carry its frames as before. BondStatus.DataPath says which path a bond
// uses.
//
// With a bond on the fast path, its slaves' AF_PACKET sockets copy only the
// control frames (ControlFilterer) unless the ARP monitor runs (any frame
// may then stamp a slave's last_rx), and their readers hand frames only to
// the ARP monitor and the receive probe, never up the TAP: the slave's tc
// ingress program delivers them.

// FastMaxSlaves is how many usable slaves a bond may have on the fast path
// (fastpath.MaxSlaves).
const FastMaxSlaves = 32

// FastMode is how the egress program picks the slave (fastpath.Mode).
type FastMode uint32

// The fast path's transmit modes.
const (
	FastActive FastMode = 1 // active-backup: FastConfig.Active
	FastRR     FastMode = 2 // balance-rr: PPS frames per slave in turn (0: random)
	FastHash   FastMode = 3 // balance-xor, 802.3ad: xmit_hash_policy hash modulo the slaves
	FastBcast  FastMode = 4 // broadcast: every slave
	FastTLB    FastMode = 5 // balance-tlb, balance-alb: FastConfig.TLB or the hash over Slaves (FastTLB* flags)
)

// FastConfig.Flags of FastTLB (bond.c FPF_*).
const (
	FastTLBDynamic = 1 // tlb_dynamic_lb: the table TLB, else xmit_hash_policy modulo Slaves
	FastTLBRLB     = 2 // balance-alb: bond_xmit_alb_slave_get's buckets; ARP goes to the engine
)

// FastTLBTable is a tlb table's bindings as the fast path mirrors them:
// the ifindex of the slave each hash bucket is bound to, 0 when unbound (the
// bucket's next frame goes to the engine, which binds it).
type FastTLBTable [256]int

// A FastTLBer is a Mode with a transmit load balancing table (balance-tlb,
// balance-alb; package modes): FastTLB fills c's FastTLB part (Active: the
// current slave if it can transmit, Flags, Slaves for tlb_dynamic_lb=0, TLB
// and MACs). Control goroutine; false keeps the bond on the userspace path.
type FastTLBer interface {
	FastTLB(c *FastConfig) bool
}

// FastConfig is what the egress program applies to one bond.
type FastConfig struct {
	Mode   FastMode
	Active int    // ifindex of curr_active_slave if it can transmit, else 0 (frames dropped)
	Policy uint32 // xmit_hash_policy
	PPS    uint32 // packets_per_slave
	Slaves []int  // ifindexes of the usable (802.3ad: distributing) slaves, in order
	Flags  uint32 // FastTLB*: FastTLB only
	// TLB is the tlb table (FastTLB with FastTLBDynamic), MACs each
	// transmitting slave's address by ifindex (FastTLB: the source address
	// of the frames it sends for another slave than the current one).
	TLB  *FastTLBTable
	MACs map[int][6]byte
}

// Receive rules of one slave (FastSlave.Flags; bond.c SL_*).
const (
	FastRxDrop        = 1 // inactive slave: frames are dropped (bond_should_deliver_exact_match)
	FastRxUnicast     = 2 // ... except unicast ones (balance-alb)
	FastRxConsumeSlow = 4 // slow-protocol frames are dropped: the engine consumes them (802.3ad)
	FastRxLocal       = 8 // frames to Local are readdressed to Master (SetSlaveRx)
)

// FastSlave is what the ingress program applies to one slave.
type FastSlave struct {
	Bond   int // the bond's ifindex
	Flags  uint32
	Local  [6]byte
	Master [6]byte
}

// FastPath is the in-kernel data path the engine steers
// (*fastpath.Path; Config.FastPath). The engine calls it on the control
// goroutine, and from UsableChanged, always under the bond's own lock, so
// the calls for one bond never overlap. Each call is a few bpf(2) or
// netlink requests.
type FastPath interface {
	AttachMaster(ifindex int) error // egress program on the bond's TAP
	AttachSlave(ifindex int) error  // ingress program on a slave
	Detach(ifindex int) error       // both off an interface; a missing one is no error
	SetBond(ifindex int, c FastConfig) error
	DeleteBond(ifindex int) error
	SetSlave(ifindex int, st FastSlave) error
	DeleteSlave(ifindex int) error
	// Stats returns an attached interface's counters (zero when none);
	// any goroutine.
	Stats(ifindex int) (FastStats, error)
	// TakeTLBBytes adds the bytes each tlb bucket of the bond sent in the
	// kernel since the last call to into (index 256: the frames not
	// balanced) and resets them.
	TakeTLBBytes(ifindex int, into *[257]uint64) error
}

// FastStats are the fast path's counters of one interface, summed over
// the CPUs. For a bond: frames sent (tx) and delivered (rx) through it in
// the kernel; for a slave, the same through that slave. TxDropped counts
// frames no slave could take; Slow the frames left to the engine (the TAP
// fd) or consumed by it (LACPDUs). Frames and bytes count Ethernet frames
// as the kernel's interface counters do.
type FastStats struct {
	TxPackets, TxBytes, TxDropped uint64
	RxPackets, RxBytes, RxDropped uint64
	Slow                          uint64
}

// fastStatsFunc is FastStats as a func, nil without a fast path
// (BondStatus.FastStats).
func (b *Bond) fastStatsFunc() func() FastStats {
	if b.reg.cfg.FastPath == nil {
		return nil
	}
	return b.FastStats
}

// FastStats returns the fast path's counters of the bond (zero when it has
// none). Any goroutine.
func (b *Bond) FastStats() FastStats {
	fp := b.reg.cfg.FastPath
	if fp == nil {
		return FastStats{}
	}
	st, _ := fp.Stats(b.index)
	return st
}

// A ControlFilterer is a SlaveDev whose socket can be restricted to the
// control frames the engine reads (netdev.SlaveDev.FilterControl: slow
// protocols, ARP, IPv6 neighbour discovery): on while the fast path
// delivers the slave's other frames in the kernel.
type ControlFilterer interface {
	FilterControl(on bool) error
}

// fpBond is a bond's fast-path state (Bond.fp). mu serialises the writes
// of the control goroutine and of UsableChanged.
type fpBond struct {
	mu     sync.Mutex
	master bool // the egress program is attached
	failed bool // attaching failed once: the bond stays on the userspace path
	on     bool // the bond has its map entry
	hold   int  // peer notifications being sent: slaves that stop delivering wait (fpHoldDrops)
	cfg    FastConfig
	slaves map[int]*fpSlave // by ifindex
	// tlbPost: a FastTLBChanged sync is posted to the control goroutine
	tlbPost atomic.Bool
}

// fpSlave is one slave's fast-path state.
type fpSlave struct {
	s        *Slave
	attached bool
	on       bool // slave_state written
	st       FastSlave
	filtered bool // the socket copies only control frames
}

// DataPath names the path carrying the bond's frames: "ebpf" or
// "userspace" (BondStatus.DataPath).
func (b *Bond) DataPath() string {
	if b.fp.on {
		return "ebpf"
	}
	return "userspace"
}

// fastConfig is the bond's FastConfig now, false when its mode does not
// run on the fast path. Control goroutine (and fpUsable, which reads only
// the published selector).
func (b *Bond) fastConfig() (FastConfig, bool) {
	c := FastConfig{Policy: uint32(b.params.XmitPolicy), PPS: uint32(b.params.PacketsPerSlave)}
	usable := func() {
		for _, s := range b.slaves {
			if s.dev != nil && s.devUp && s.link == LinkUp && s.active {
				c.Slaves = append(c.Slaves, s.index)
			}
		}
	}
	switch b.modeID {
	case ModeActiveBackup:
		c.Mode = FastActive
		if a := b.currActive; a != nil && a.dev != nil && a.devUp && a.link == LinkUp {
			c.Active = a.index
		}
	case ModeRoundRobin:
		c.Mode = FastRR
		usable()
	case ModeXOR:
		c.Mode = FastHash
		usable()
	case ModeBroadcast:
		c.Mode = FastBcast
		usable()
	case Mode8023AD:
		c.Mode = FastHash
		var ok bool
		if c.Slaves, ok = b.hashTxSlaves(); !ok {
			return c, false
		}
	case ModeTLB, ModeALB:
		c.Mode = FastTLB
		t, ok := b.mode.(FastTLBer)
		if !ok || !t.FastTLB(&c) {
			return c, false
		}
	default:
		return c, false
	}
	return c, len(c.Slaves) <= FastMaxSlaves
}

// hashTxSlaves is the ifindexes of the published HashTx's usable devices
// (802.3ad's distributing ports); false when the mode's selector is not a
// HashTx or a device cannot tell its ifindex. Any goroutine.
func (b *Bond) hashTxSlaves() ([]int, bool) {
	box := b.tx.Load()
	if box == nil {
		return nil, false
	}
	h, ok := box.sel.(*HashTx)
	if !ok {
		return nil, false
	}
	var out []int
	for _, d := range h.devs() {
		x, ok := d.(interface{ Index() int })
		if !ok {
			return nil, false
		}
		out = append(out, x.Index())
	}
	return out, true
}

// fastSlave is s's receive rules now.
func (b *Bond) fastSlave(s *Slave) FastSlave {
	st := FastSlave{Bond: b.index}
	if s.rxDrop.Load() {
		st.Flags |= FastRxDrop
	}
	if s.rxUnicast.Load() {
		st.Flags |= FastRxUnicast
	}
	if FrameClass(b.probe.Load())&FrameSlow != 0 {
		st.Flags |= FastRxConsumeSlow
	}
	if a := s.rxLocal.Load(); a != nil {
		st.Flags |= FastRxLocal
		copy(st.Local[:], a[0:6])
		copy(st.Master[:], a[6:12])
	}
	return st
}

// fpSync brings the maps up to date with the bond on the control goroutine:
// programs attached to the TAP and to each open slave, the bond's entry,
// each slave's receive rules, make-before-break: slaves that start
// delivering first, then the transmit choice, then slaves that stop.
// Errors are logged once per bond, and the bond then stays (or goes back)
// on the userspace path.
func (b *Bond) fpSync() {
	fp := b.reg.cfg.FastPath
	if fp == nil {
		return
	}
	st := &b.fp
	st.mu.Lock()
	defer st.mu.Unlock()
	if b.deleted || st.failed {
		return
	}
	cfg, fast := b.fastConfig()
	fast = fast && b.up
	if !fast && !st.on && len(st.slaves) == 0 {
		return // never on the fast path (a bond that is down, balance-alb): nothing attached
	}
	if !st.master {
		if err := fp.AttachMaster(b.index); err != nil {
			b.fpFail(fp, err)
			return
		}
		st.master = true
	}
	if st.slaves == nil {
		st.slaves = map[int]*fpSlave{}
	}
	// slaves gone or closed
	for idx, ps := range st.slaves {
		if !slices.Contains(b.slaves, ps.s) || ps.s.dev == nil {
			b.fpSlaveOff(fp, ps)
			_ = fp.Detach(idx)
			delete(st.slaves, idx)
		}
	}
	want := map[*fpSlave]FastSlave{}
	for _, s := range b.slaves {
		if s.dev == nil {
			continue
		}
		ps := st.slaves[s.index]
		if ps == nil {
			ps = &fpSlave{s: s}
			st.slaves[s.index] = ps
		}
		if !ps.attached {
			if err := fp.AttachSlave(s.index); err != nil {
				b.fpFail(fp, err)
				return
			}
			ps.attached = true
			idx := s.index
			read := func() FastStats { st, _ := fp.Stats(idx); return st }
			s.counters.fast.Store(&read)
		}
		want[ps] = b.fastSlave(s)
	}
	if !fast {
		if st.on {
			_ = fp.DeleteBond(b.index)
			st.on = false
		}
		for ps := range want {
			b.fpSlaveOff(fp, ps)
		}
		return
	}
	var err error
	write := func(ps *fpSlave, v FastSlave) {
		if err != nil || (ps.on && ps.st == v) {
			return
		}
		if st.hold > 0 && ps.on && ps.st.Flags&FastRxDrop == 0 && v.Flags&FastRxDrop != 0 {
			return // after the peer notification (fpReleaseDrops)
		}
		if err = fp.SetSlave(ps.s.index, v); err == nil {
			ps.on, ps.st = true, v
			ps.s.fp.Store(true)
		}
	}
	for ps, v := range want {
		if v.Flags&FastRxDrop == 0 {
			write(ps, v)
		}
	}
	if err == nil && (!st.on || !fastConfigEqual(st.cfg, cfg)) {
		if err = fp.SetBond(b.index, cfg); err == nil {
			st.on, st.cfg = true, cfg
		}
	}
	for ps, v := range want {
		write(ps, v)
	}
	if err != nil {
		b.fpFail(fp, err)
		return
	}
	filter := b.params.ARPInterval <= 0
	for ps := range want {
		if ps.filtered != filter {
			if f, ok := ps.s.dev.(ControlFilterer); ok && f.FilterControl(filter) == nil {
				ps.filtered = filter
			}
		}
	}
}

// fpSlaveDelivers lets the fast path deliver s's frames at once when s
// has just become active (SetSlaveActive), before the peer notification
// that follows a failover steers the peers' traffic to it; the old slave
// stops delivering only at the next fpSync, after the transmit switch.
// Control goroutine.
func (b *Bond) fpSlaveDelivers(s *Slave) {
	fp := b.reg.cfg.FastPath
	if fp == nil {
		return
	}
	st := &b.fp
	st.mu.Lock()
	defer st.mu.Unlock()
	ps := st.slaves[s.index]
	if ps == nil || !ps.on || ps.s != s || ps.st.Flags&FastRxDrop == 0 {
		return
	}
	v := b.fastSlave(s)
	if v.Flags&FastRxDrop != 0 {
		return
	}
	if fp.SetSlave(s.index, v) == nil {
		ps.st = v
	}
}

// fpHoldDrops makes slaves that stop delivering (the old active slave of
// a failover) keep delivering until fpReleaseDrops: while a peer
// notification is on its way, the peers still send to the old slave, and
// those frames would be lost. Control goroutine, before the notification's
// goroutine starts.
func (b *Bond) fpHoldDrops() {
	if b.reg.cfg.FastPath == nil {
		return
	}
	b.fp.mu.Lock()
	b.fp.hold++
	b.fp.mu.Unlock()
}

// fpReleaseDrops ends a fpHoldDrops once the notification was sent, and
// writes the receive rules held back. Any goroutine: it reads only the
// slaves' atomics.
func (b *Bond) fpReleaseDrops() {
	fp := b.reg.cfg.FastPath
	if fp == nil {
		return
	}
	st := &b.fp
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.hold--; st.hold > 0 || !st.on || st.failed {
		return
	}
	for idx, ps := range st.slaves {
		if !ps.on {
			continue
		}
		if v := b.fastSlave(ps.s); v != ps.st && fp.SetSlave(idx, v) == nil {
			ps.st = v
		}
	}
}

// fpSlaveOff gives a slave's frames back to the userspace path: its reader
// delivers again, its socket copies everything, its map entry goes.
func (b *Bond) fpSlaveOff(fp FastPath, ps *fpSlave) {
	ps.s.fp.Store(false)
	if ps.filtered {
		if f, ok := ps.s.dev.(ControlFilterer); ok && ps.s.dev != nil {
			_ = f.FilterControl(false)
		}
		ps.filtered = false
	}
	if ps.on {
		_ = fp.DeleteSlave(ps.s.index)
		ps.on = false
	}
}

// fpFail logs err, puts the bond back on the userspace path for good and
// detaches its programs (b.fp.mu held).
func (b *Bond) fpFail(fp FastPath, err error) {
	st := &b.fp
	st.failed = true
	b.reg.logf("bondingfs: %s: eBPF fast path: %v; the bond stays on the userspace path", b.name, err)
	b.fpDetachLocked(fp)
}

// fpDetachLocked takes the bond and its slaves off the fast path and
// detaches the programs (b.fp.mu held).
func (b *Bond) fpDetachLocked(fp FastPath) {
	st := &b.fp
	if st.on {
		_ = fp.DeleteBond(b.index)
		st.on = false
	}
	for idx, ps := range st.slaves {
		b.fpSlaveOff(fp, ps)
		if ps.attached {
			_ = fp.Detach(idx)
		}
		delete(st.slaves, idx)
	}
	if st.master {
		_ = fp.Detach(b.index)
		st.master = false
	}
}

// fpClose detaches the bond's programs before its TAP is deleted or the
// registry stops. Control goroutine.
func (b *Bond) fpClose() {
	fp := b.reg.cfg.FastPath
	if fp == nil {
		return
	}
	b.fp.mu.Lock()
	b.fpDetachLocked(fp)
	b.fp.mu.Unlock()
}

// UsableChanged tells the fast path that a mode republished the usable
// array of its HashTx (802.3ad's distributing ports, bond_update_slave_arr)
// outside a rebuildTx, possibly off the control goroutine: the bond's
// entry is rewritten at once, in the same step. Any goroutine; c is the
// mode's Control.
func UsableChanged(c Control) {
	b, ok := c.(*Bond)
	if !ok || b.reg.cfg.FastPath == nil {
		return
	}
	st := &b.fp
	st.mu.Lock()
	defer st.mu.Unlock()
	if !st.on || st.failed || st.cfg.Mode != FastHash {
		return
	}
	slaves, ok := b.hashTxSlaves()
	if !ok || len(slaves) > FastMaxSlaves || slices.Equal(slaves, st.cfg.Slaves) {
		return
	}
	cfg := st.cfg
	cfg.Slaves = slaves
	if err := b.reg.cfg.FastPath.SetBond(b.index, cfg); err != nil {
		b.reg.logf("bondingfs: %s: eBPF fast path: %v", b.name, err)
		return
	}
	st.cfg = cfg
}

func fastConfigEqual(a, b FastConfig) bool {
	return a.Mode == b.Mode && a.Active == b.Active && a.Policy == b.Policy && a.PPS == b.PPS && slices.Equal(a.Slaves, b.Slaves) &&
		a.Flags == b.Flags && (a.TLB == nil) == (b.TLB == nil) && (a.TLB == nil || *a.TLB == *b.TLB) && maps.Equal(a.MACs, b.MACs)
}

// FastTLBBytes adds the bytes the fast path sent for each tlb bucket of the
// bond since the last call to into (index 256: the frames not balanced,
// unbalanced_load); false when the bond is not on the fast path. The mode
// calls it before its rebalance (load_history). Control goroutine.
func (b *Bond) FastTLBBytes(into *[257]uint64) bool {
	fp := b.reg.cfg.FastPath
	if fp == nil || !b.fp.on {
		return false
	}
	if err := fp.TakeTLBBytes(b.index, into); err != nil {
		b.reg.logf("bondingfs: %s: eBPF fast path: %v", b.name, err)
		return false
	}
	return true
}

// FastTLBChanged asks for the bond's tlb table to be mirrored into the
// maps soon (its transmit path bound a bucket: the bucket's next frames
// then stay in the kernel): one fpTick is posted to the control goroutine,
// at most one at a time. Any goroutine; it never blocks.
func (b *Bond) FastTLBChanged() {
	if b.reg.cfg.FastPath == nil || !b.fp.tlbPost.CompareAndSwap(false, true) {
		return
	}
	go b.reg.post(func() {
		b.fp.tlbPost.Store(false)
		if !b.deleted {
			b.fpTick()
		}
	})
}

// fpTick brings a balance-tlb or balance-alb bond's tlb table into the maps
// after the mode's Tick (alb_work: the rebalance every 10 s unbinds every
// bucket) and the bindings its transmit path made since the last one.
// Control goroutine.
func (b *Bond) fpTick() {
	if b.fp.on && (b.modeID == ModeTLB || b.modeID == ModeALB) {
		b.fpSync()
	}
}

// String is for log lines and tests.
func (c FastConfig) String() string {
	return fmt.Sprintf("mode %d active %d policy %d pps %d slaves %v", c.Mode, c.Active, c.Policy, c.PPS, c.Slaves)
}
