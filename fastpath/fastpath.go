// Package fastpath loads the bond's in-kernel data path (package bpf's
// bond_egress and slave_ingress), attaches it to the bonds' TAPs and their
// slaves, and writes the maps the programs read. It decides nothing: the
// engine (package bond, on its control goroutine) calls the writers at
// every change of mode, active slave, usable slaves or receive rules, and
// the programs apply the maps to every frame.
//
// Attachment is tcx (Linux ≥ 6.6): the links belong to this process's file
// descriptors and go away with it, crash included. On older kernels the
// programs go into a clsact qdisc as direct-action cls_bpf filters named
// FilterName, which outlive the process: the daemon's reaper removes them
// (Reap). Nothing is pinned in bpffs.
//
// Goroutines: every method is safe for concurrent use (one mutex); the
// writers take ~1–5 µs per map update (one bpf(2) call each).
package fastpath

import (
	"errors"
	"fmt"
	"maps"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/rlimit"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"bondingfs/bond"
	"bondingfs/bpf"
)

var _ bond.FastPath = (*Path)(nil)

// MaxSlaves is how many usable slaves one bond may have on the fast path
// (bond.c MAX_SLAVES); a bond with more stays on the userspace path.
const MaxSlaves = bond.FastMaxSlaves

// FilterName is the name of the clsact filters (kernels without tcx).
const FilterName = "bondingfs"

// Mode is how bond_egress picks the slave (bond.c FP_*).
type Mode = bond.FastMode

// The transmit modes of the fast path.
const (
	ModeActive = bond.FastActive // active-backup: Config.Active
	ModeRR     = bond.FastRR     // balance-rr: Config.PPS frames per slave in turn (0: random)
	ModeHash   = bond.FastHash   // balance-xor, 802.3ad: xmit_hash_policy hash modulo the slaves
	ModeBcast  = bond.FastBcast  // broadcast: every slave
	ModeTLB    = bond.FastTLB    // balance-tlb, balance-alb: Config.TLB or the hash over Config.Slaves
)

// Config is what bond_egress applies to one bond.
type Config = bond.FastConfig

// SlaveState is what slave_ingress applies to one slave (Flags: the
// bond.FastRx* bits, bond.c SL_*).
type SlaveState = bond.FastSlave

// Stats are the fast path's counters of one interface (bond.FastStats).
type Stats = bond.FastStats

// Options tune Load.
type Options struct {
	// Clsact attaches through clsact even where tcx exists (tests of the
	// fallback).
	Clsact bool
	// InNetns runs fn on an OS thread in the bonds' network namespace:
	// link creation and netlink resolve ifindexes there. nil runs fn on
	// the calling goroutine.
	InNetns func(fn func() error) error
}

// Path is the loaded fast path of one network namespace.
type Path struct {
	opts   Options
	objs   bpf.BondObjects // SlaveEgress nil when it did not load (carrierErr)
	clsact bool

	carrierErr error

	mu    sync.Mutex
	links map[attachKey]func() error // detach functions
	gen   map[int]uint32             // current tx_slaves generation per bond
	tlb   map[int]*bond.FastTLBTable // tlb_tab as written, per bond
	macs  map[int]map[int][6]byte    // tx_mac entries written, per bond
}

type attachKey struct {
	ifindex int
	egress  bool
}

// ErrUnsupported wraps every reason the fast path cannot run here (no BPF,
// no permission, a kernel without the hooks): the daemon then uses the
// userspace path.
var ErrUnsupported = errors.New("eBPF fast path unavailable")

// Load loads the programs and maps into the kernel and finds how to attach
// them (tcx, else clsact). Close gives everything back.
func Load(o Options) (*Path, error) {
	if o.InNetns == nil {
		o.InNetns = func(fn func() error) error { return fn() }
	}
	_ = rlimit.RemoveMemlock() // kernels < 5.11 charge maps to RLIMIT_MEMLOCK
	p := &Path{opts: o, links: map[attachKey]func() error{}, gen: map[int]uint32{}, tlb: map[int]*bond.FastTLBTable{}, macs: map[int]map[int][6]byte{}}
	spec, err := bpf.LoadBond()
	if err != nil {
		return nil, fmt.Errorf("%w: load: %v", ErrUnsupported, err)
	}
	// bond_egress, slave_ingress and the maps: no CO-RE, any kernel with
	// the hooks
	var core struct {
		bpf.BondMaps
		BondEgress   *ebpf.Program `ebpf:"bond_egress"`
		SlaveIngress *ebpf.Program `ebpf:"slave_ingress"`
	}
	if err := spec.LoadAndAssign(&core, nil); err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			return nil, fmt.Errorf("%w: load: %v", ErrUnsupported, ve)
		}
		return nil, fmt.Errorf("%w: load: %v", ErrUnsupported, err)
	}
	p.objs.BondMaps = core.BondMaps
	p.objs.BondEgress, p.objs.SlaveIngress = core.BondEgress, core.SlaveIngress
	// slave_egress needs the bpf_cast_to_kern_ctx kfunc and kernel BTF
	// (Linux 6.3+): without it the fast path runs, and active-backup
	// frames sent to a slave that lost its carrier are lost until the
	// engine fails over (CarrierErr)
	var eg struct {
		SlaveEgress *ebpf.Program `ebpf:"slave_egress"`
	}
	p.carrierErr = spec.LoadAndAssign(&eg, &ebpf.CollectionOptions{MapReplacements: map[string]*ebpf.Map{
		bpf.BondMapSlaveState: core.SlaveState, bpf.BondMapStats: core.Stats}})
	p.objs.SlaveEgress = eg.SlaveEgress
	p.clsact = o.Clsact
	if !p.clsact {
		// tcx (Linux 6.6) answers a query of the loopback device's egress
		// programs; an older kernel refuses the attach type
		err := o.InNetns(func() error {
			_, err := link.QueryPrograms(link.QueryOptions{Target: 1, Attach: ebpf.AttachTCXEgress})
			return err
		})
		p.clsact = err != nil
	}
	return p, nil
}

// CarrierErr is why slave_egress did not load (nil when it did): without
// it, a frame sent to an active-backup bond's active slave after that
// slave lost its carrier is dropped by the slave, where with it the frame
// goes to the engine, which resends it at the failover.
func (p *Path) CarrierErr() error { return p.carrierErr }

// Attachment names how the programs are attached: "tcx" or "clsact".
func (p *Path) Attachment() string {
	if p.clsact {
		return "clsact"
	}
	return "tcx"
}

// Close detaches every program and unloads the programs and maps.
func (p *Path) Close() error {
	p.mu.Lock()
	var errs []error
	for k, d := range p.links {
		errs = append(errs, d())
		delete(p.links, k)
	}
	p.mu.Unlock()
	errs = append(errs, p.objs.Close())
	return errors.Join(errs...)
}

// AttachMaster attaches bond_egress to the bond's TAP (ifindex) and creates
// its counters; the bond stays on the userspace path until SetBond.
func (p *Path) AttachMaster(ifindex int) error {
	return p.attach(ifindex, true, p.objs.BondEgress)
}

// AttachSlave attaches slave_ingress (and slave_egress, when it loaded)
// to a slave; its frames stay on the userspace path until SetSlave.
func (p *Path) AttachSlave(ifindex int) error {
	if err := p.attach(ifindex, false, p.objs.SlaveIngress); err != nil {
		return err
	}
	if p.objs.SlaveEgress == nil {
		return nil
	}
	return p.attach(ifindex, true, p.objs.SlaveEgress)
}

func (p *Path) attach(ifindex int, egress bool, prog *ebpf.Program) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := attachKey{ifindex, egress}
	if _, ok := p.links[k]; ok {
		return nil
	}
	if err := p.objs.Stats.Update(uint32(ifindex), p.zeroStats(), ebpf.UpdateNoExist); err != nil && !errors.Is(err, ebpf.ErrKeyExist) {
		return fmt.Errorf("fastpath: counters of ifindex %d: %w", ifindex, err)
	}
	var detach func() error
	err := p.opts.InNetns(func() error {
		if !p.clsact {
			at := ebpf.AttachTCXIngress
			if egress {
				at = ebpf.AttachTCXEgress
			}
			l, err := link.AttachTCX(link.TCXOptions{Interface: ifindex, Program: prog, Attach: at})
			if err == nil {
				detach = l.Close
				return nil
			}
			if !errors.Is(err, ebpf.ErrNotSupported) {
				return err
			}
			p.clsact = true // a kernel before 6.6: clsact from now on
		}
		var err error
		detach, err = p.attachClsact(ifindex, egress, prog)
		return err
	})
	if err != nil {
		dir := "ingress"
		if egress {
			dir = "egress"
		}
		return fmt.Errorf("fastpath: attach %s to ifindex %d: %w", dir, ifindex, err)
	}
	p.links[k] = detach
	return nil
}

// attachClsact adds the clsact qdisc (if missing) and a direct-action
// cls_bpf filter named FilterName; the returned func deletes the filter
// (in the namespace, through InNetns). Runs in the namespace.
func (p *Path) attachClsact(ifindex int, egress bool, prog *ebpf.Program) (func() error, error) {
	q := &netlink.GenericQdisc{QdiscAttrs: netlink.QdiscAttrs{LinkIndex: ifindex, Handle: netlink.MakeHandle(0xffff, 0), Parent: netlink.HANDLE_CLSACT}, QdiscType: "clsact"}
	if err := netlink.QdiscAdd(q); err != nil && !errors.Is(err, unix.EEXIST) {
		return nil, fmt.Errorf("clsact: %w", err)
	}
	parent := uint32(netlink.HANDLE_MIN_INGRESS)
	if egress {
		parent = netlink.HANDLE_MIN_EGRESS
	}
	f := &netlink.BpfFilter{
		FilterAttrs:  netlink.FilterAttrs{LinkIndex: ifindex, Parent: parent, Handle: 1, Protocol: unix.ETH_P_ALL, Priority: 1},
		Fd:           prog.FD(),
		Name:         FilterName,
		DirectAction: true,
	}
	if err := netlink.FilterReplace(f); err != nil {
		return nil, fmt.Errorf("cls_bpf: %w", err)
	}
	return func() error {
		return p.opts.InNetns(func() error {
			if err := netlink.FilterDel(f); err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ENODEV) && !errors.Is(err, unix.EINVAL) {
				return err
			}
			return nil
		})
	}, nil
}

// Detach removes the programs from ifindex (a released slave, a deleted
// bond) and forgets its counters. A missing device is not an error.
func (p *Path) Detach(ifindex int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []error
	for _, eg := range []bool{true, false} {
		k := attachKey{ifindex, eg}
		if d, ok := p.links[k]; ok {
			delete(p.links, k)
			if err := d(); err != nil && !errors.Is(err, unix.ENODEV) {
				errs = append(errs, err)
			}
		}
	}
	_ = p.objs.Stats.Delete(uint32(ifindex))
	return errors.Join(errs...)
}

// SetBond puts a bond on the fast path, or changes its transmit choice.
// The slave array is written to the spare half of tx_slaves first and the
// bond's entry switched to it with one update, so a frame sees either the
// old choice or the new one, never a mix.
func (p *Path) SetBond(ifindex int, c Config) error {
	if len(c.Slaves) > MaxSlaves {
		return fmt.Errorf("fastpath: %d slaves, at most %d", len(c.Slaves), MaxSlaves)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	gen := p.gen[ifindex] ^ 1
	if _, ok := p.gen[ifindex]; !ok {
		gen = 0
		if err := p.objs.RrCtr.Update(uint32(ifindex), uint64(0), ebpf.UpdateNoExist); err != nil && !errors.Is(err, ebpf.ErrKeyExist) {
			return fmt.Errorf("fastpath: rr counter: %w", err)
		}
	}
	for i, s := range c.Slaves {
		k := bpf.BondSlotKey{Bond: uint32(ifindex), Slot: gen*MaxSlaves + uint32(i)}
		if err := p.objs.TxSlaves.Put(&k, uint32(s)); err != nil {
			return fmt.Errorf("fastpath: tx slave: %w", err)
		}
	}
	if err := p.setTLB(ifindex, c); err != nil {
		return err
	}
	v := bpf.BondBondCfg{Mode: uint32(c.Mode), Active: uint32(c.Active), Policy: c.Policy, Pps: c.PPS, N: uint32(len(c.Slaves)), Gen: gen, Flags: c.Flags}
	if err := p.objs.BondCfg.Put(uint32(ifindex), &v); err != nil {
		return fmt.Errorf("fastpath: bond config: %w", err)
	}
	// The old half stays as it is: a frame that read the old entry may
	// still look a slot up in it. The next switch overwrites it; slots
	// beyond N are never read.
	p.gen[ifindex] = gen
	return nil
}

// DeleteBond takes a bond off the fast path: its frames go to the TAP fd
// again.
func (p *Path) DeleteBond(ifindex int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	err := p.objs.BondCfg.Delete(uint32(ifindex))
	if errors.Is(err, ebpf.ErrKeyNotExist) {
		err = nil
	}
	for s := 0; s < 2*MaxSlaves; s++ {
		k := bpf.BondSlotKey{Bond: uint32(ifindex), Slot: uint32(s)}
		_ = p.objs.TxSlaves.Delete(&k)
	}
	_ = p.objs.RrCtr.Delete(uint32(ifindex))
	delete(p.gen, ifindex)
	_ = p.setTLB(ifindex, Config{})
	var drop [257]uint64
	_ = p.TakeTLBBytes(ifindex, &drop)
	return err
}

// setTLB writes the differences between c's tlb table and slave addresses
// and what the maps hold for the bond: new addresses first, then the
// buckets that change, then the addresses no longer used, so a frame never
// finds a slave without its address (p.mu held).
func (p *Path) setTLB(ifindex int, c Config) error {
	old := p.tlb[ifindex]
	if old == nil {
		old = new(bond.FastTLBTable)
	}
	oldMACs := p.macs[ifindex]
	for s, m := range c.MACs {
		if om, ok := oldMACs[s]; ok && om == m {
			continue
		}
		if err := p.objs.TxMac.Put(uint32(s), bpf.BondTxMac{Mac: m}); err != nil {
			return fmt.Errorf("fastpath: slave address: %w", err)
		}
	}
	want := new(bond.FastTLBTable)
	if c.TLB != nil {
		*want = *c.TLB
	}
	for i := range want {
		if want[i] == old[i] {
			continue
		}
		k := bpf.BondSlotKey{Bond: uint32(ifindex), Slot: uint32(i)}
		var err error
		if want[i] == 0 {
			if err = p.objs.TlbTab.Delete(&k); errors.Is(err, ebpf.ErrKeyNotExist) {
				err = nil
			}
		} else {
			err = p.objs.TlbTab.Put(&k, uint32(want[i]))
		}
		if err != nil {
			return fmt.Errorf("fastpath: tlb bucket %d: %w", i, err)
		}
	}
	for s := range oldMACs {
		if _, ok := c.MACs[s]; !ok {
			_ = p.objs.TxMac.Delete(uint32(s))
		}
	}
	if c.TLB == nil {
		delete(p.tlb, ifindex)
	} else {
		p.tlb[ifindex] = want
	}
	if len(c.MACs) == 0 {
		delete(p.macs, ifindex)
	} else {
		p.macs[ifindex] = maps.Clone(c.MACs)
	}
	return nil
}

// SetSlave puts a slave's receive side on the fast path, or changes its
// rules.
func (p *Path) SetSlave(ifindex int, st SlaveState) error {
	v := bpf.BondSlaveState{Bond: uint32(st.Bond), Flags: st.Flags, Local: st.Local, Master: st.Master}
	if err := p.objs.SlaveState.Put(uint32(ifindex), &v); err != nil {
		return fmt.Errorf("fastpath: slave state: %w", err)
	}
	return nil
}

// DeleteSlave takes a slave's receive side off the fast path.
func (p *Path) DeleteSlave(ifindex int) error {
	err := p.objs.SlaveState.Delete(uint32(ifindex))
	if errors.Is(err, ebpf.ErrKeyNotExist) {
		return nil
	}
	return err
}

// Stats returns ifindex's counters summed over the CPUs (zero when it has
// none).
func (p *Path) Stats(ifindex int) (Stats, error) {
	var per []bpf.BondFpStats
	if err := p.objs.Stats.Lookup(uint32(ifindex), &per); err != nil {
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			return Stats{}, nil
		}
		return Stats{}, err
	}
	var s Stats
	for _, c := range per {
		s.TxPackets += c.TxPackets
		s.TxBytes += c.TxBytes
		s.TxDropped += c.TxDropped
		s.RxPackets += c.RxPackets
		s.RxBytes += c.RxBytes
		s.RxDropped += c.RxDropped
		s.Slow += c.Slow
	}
	return s, nil
}

// TakeTLBBytes adds what tlb_bytes counted for the bond's buckets to into
// and deletes the counts (a frame counted between the read and the delete
// is lost to the next rebalance: a few bytes of load history).
func (p *Path) TakeTLBBytes(ifindex int, into *[257]uint64) error {
	for i := range into {
		k := bpf.BondSlotKey{Bond: uint32(ifindex), Slot: uint32(i)}
		var v uint64
		if err := p.objs.TlbBytes.LookupAndDelete(&k, &v); err != nil {
			if errors.Is(err, ebpf.ErrKeyNotExist) {
				continue
			}
			// hash maps take LookupAndDelete since Linux 5.14
			if err = p.objs.TlbBytes.Lookup(&k, &v); err != nil {
				continue
			}
			_ = p.objs.TlbBytes.Delete(&k)
		}
		into[i] += v
	}
	return nil
}

// zeroStats is a zero value for every possible CPU of the per-CPU map.
func (p *Path) zeroStats() []bpf.BondFpStats {
	n, err := ebpf.PossibleCPU()
	if err != nil || n < 1 {
		n = 1
	}
	return make([]bpf.BondFpStats, n)
}
