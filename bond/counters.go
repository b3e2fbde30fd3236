package bond

import "sync/atomic"

// SlaveCounters are one slave's data-path counters since it was enslaved.
// The slave's reader updates them with atomic adds (no lock, no allocation
// per frame); readers load them at any time through SlaveStatus.Counters,
// so a snapshot's counters are live, not frozen at the snapshot. The
// slave's transmit side is counted by the kernel (the slave interface's
// own tx_packets, tx_bytes, tx_dropped), as is everything it received.
type SlaveCounters struct {
	rxFrames, rxBytes atomic.Uint64
	rxDropped         atomic.Uint64
	rxProbed          atomic.Uint64
	// fast reads the fast path's counters of the slave, added to these
	// (fastpath.go; nil when the slave has no program attached)
	fast atomic.Pointer[func() FastStats]
}

// fastStats is the fast path's share of the counters (zero without it).
func (c *SlaveCounters) fastStats() FastStats {
	if f := c.fast.Load(); f != nil {
		return (*f)()
	}
	return FastStats{}
}

// RxFrames and RxBytes count the frames (and their bytes, Ethernet header
// included, vnet header not) received on the slave and delivered up the
// bond device.
func (c *SlaveCounters) RxFrames() uint64 { return c.rxFrames.Load() + c.fastStats().RxPackets }

// RxBytes: see RxFrames.
func (c *SlaveCounters) RxBytes() uint64 { return c.rxBytes.Load() + c.fastStats().RxBytes }

// RxDropped counts frames received on an inactive slave and not delivered
// (bond_should_deliver_exact_match; all_slaves_active 0).
func (c *SlaveCounters) RxDropped() uint64 { return c.rxDropped.Load() + c.fastStats().RxDropped }

// RxProbed counts frames the receive probe consumed (LACPDUs, ARP
// replies the ARP monitor took, …) instead of delivering them.
func (c *SlaveCounters) RxProbed() uint64 { return c.rxProbed.Load() }

// countRx counts one received frame of n bytes (vnet header included):
// delivered, dropped (inactive slave) or taken by the probe.
func (c *SlaveCounters) countRx(n int, probed, dropped bool) {
	switch {
	case probed:
		c.rxProbed.Add(1)
	case dropped:
		c.rxDropped.Add(1)
	default:
		c.rxFrames.Add(1)
		c.rxBytes.Add(uint64(n - VnetHdrLen))
	}
}
