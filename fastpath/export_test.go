package fastpath

import "github.com/cilium/ebpf"

// EgressProgram returns bond_egress (for BPF_PROG_TEST_RUN).
func EgressProgram(p *Path) *ebpf.Program { return p.objs.BondEgress }

// SlaveEgressProgram returns slave_egress (nil when it did not load).
func SlaveEgressProgram(p *Path) *ebpf.Program { return p.objs.SlaveEgress }
