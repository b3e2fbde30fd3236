package alb

import "math"

// The transmit load balancing table (bond_alb.c, "tlb specific functions"):
// 256 entries indexed by a hash of the destination, each bound to the slave
// that had the largest free capacity when the entry was first used; every
// rebalance interval the entries forget their slave and remember their load.

// tlbInitEntry is tlb_init_table_entry.
func (a *ALB) tlbInitEntry(e *tlbEntry, saveLoad bool) {
	if saveLoad {
		e.loadHistory = 1 + e.txBytes/RebalanceInterval
		e.txBytes = 0
	}
	e.slave = nil
	e.next = nullIndex
	e.prev = nullIndex
}

// tlbInitSlave is tlb_init_slave.
func tlbInitSlave(s *Slave) {
	s.load = 0
	s.head = nullIndex
}

// tlbClearSlave is __tlb_clear_slave: every entry on s is unbound.
func (a *ALB) tlbClearSlave(s *Slave, saveLoad bool) {
	if a.tx != nil {
		for i := s.head; i != nullIndex; {
			next := a.tx[i].next
			a.tlbInitEntry(&a.tx[i], saveLoad)
			i = next
		}
	}
	tlbInitSlave(s)
}

// computeGap is compute_gap: free capacity in bits per second, with the
// kernel's 32-bit arithmetic (speed << 20 and load << 3 are u32).
func computeGap(s *Slave) int64 {
	return int64(s.speed<<20) - int64(s.load<<3)
}

// leastLoaded is tlb_get_least_loaded_slave.
func (a *ALB) leastLoaded() *Slave {
	var best *Slave
	maxGap := int64(math.MinInt64)
	for _, s := range a.slaves {
		if !s.canTx {
			continue
		}
		if g := computeGap(s); maxGap < g {
			best, maxGap = s, g
		}
	}
	return best
}

// tlbChooseChannel is __tlb_choose_channel: the entry's slave, binding it
// to the least loaded slave when it has none, and the entry's byte count.
func (a *ALB) tlbChooseChannel(idx uint32, n uint32) *Slave {
	e := &a.tx[idx]
	s := e.slave
	if s == nil {
		s = a.leastLoaded()
		if s != nil {
			next := s.head
			e.slave, e.next, e.prev = s, next, nullIndex
			if next != nullIndex {
				a.tx[next].prev = idx
			}
			s.head = idx
			s.load += e.loadHistory
			a.bound = true
		}
	}
	if s != nil {
		e.txBytes += n
	}
	return s
}

// TLBEntry reports entry i of the transmit table: its slave (nil when
// unbound), bytes sent this interval and load of the last one. For tests
// and diagnostics.
func (a *ALB) TLBEntry(i int) (s *Slave, txBytes, loadHistory uint32) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.tx == nil {
		return nil, 0, 0
	}
	e := &a.tx[i]
	return e.slave, e.txBytes, e.loadHistory
}

// Load returns s's TLB load (sum of its entries' load history).
func (a *ALB) Load(s *Slave) uint32 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return s.load
}

// FastView is what the eBPF fast path mirrors of the transmit tables
// (bond.FastTLBer), read at once under the tables' lock.
type FastView struct {
	Curr    *Slave              // curr_active_slave, nil when it cannot transmit
	Table   [TLBHashSize]*Slave // each bucket's slave; nil: unbound or its slave cannot transmit
	Usable  []*Slave            // the slaves tlb_dynamic_lb=0 hashes over
	MACs    map[*Slave]MAC      // the address of every slave that can transmit
	Dynamic bool                // tlb_dynamic_lb: Table is used
}

// FastView fills v. A bucket the fast path sees unbound sends its next
// frame through Xmit, which binds it (__tlb_choose_channel) or clears a
// slave that cannot transmit as bond_do_alb_xmit does. Safe for concurrent
// use.
func (a *ALB) FastView(v *FastView) {
	a.mu.Lock()
	defer a.mu.Unlock()
	ok := func(s *Slave) *Slave {
		if s != nil && s.canTx && s.dev != nil {
			return s
		}
		return nil
	}
	v.Curr = ok(a.curr)
	for i := range v.Table {
		v.Table[i] = nil
		if a.tx != nil {
			v.Table[i] = ok(a.tx[i].slave)
		}
	}
	v.Usable = append(v.Usable[:0], a.usable...)
	v.MACs = map[*Slave]MAC{}
	for _, s := range a.slaves {
		if ok(s) != nil {
			v.MACs[s] = s.MAC
		}
	}
	v.Dynamic = a.cfg.DynamicLB
}

// RebalanceDue reports whether the next Monitor rebalances the table
// (BOND_TLB_REBALANCE_TICKS): the fast path's byte counts must be in by then
// (AddTxBytes).
func (a *ALB) RebalanceDue() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.slaves) > 0 && a.txRebalanceCounter+1 >= RebalanceTicks
}

// AddTxBytes adds bytes the eBPF fast path sent for each bucket (tx_bytes of
// a bound entry; index TLBHashSize: unbalanced_load) with the kernel's u32
// arithmetic.
func (a *ALB) AddTxBytes(b *[TLBHashSize + 1]uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.tx == nil {
		return
	}
	for i := 0; i < TLBHashSize; i++ {
		if a.tx[i].slave != nil {
			a.tx[i].txBytes += uint32(b[i])
		}
	}
	a.unbalancedLoad += uint32(b[TLBHashSize])
}
