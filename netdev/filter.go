package netdev

import (
	"golang.org/x/net/bpf"
)

// The slave socket's control filter (issue 18): while the eBPF fast path
// delivers a slave's frames in the kernel, the SlaveDev's socket copies
// only the frames the engine reads itself, those frame.ClassifyFrame marks
// as control: slow protocols (LACPDU, marker), ARP (also through a VLAN:
// the kernel takes the tag out before packet sockets filter) and IPv6
// neighbour solicitations and advertisements. The engine turns it off when
// the ARP monitor runs, since any received frame may then stamp the slave's
// last_rx (bond.Bond.fpSync).

// controlFilter is the classic BPF program: accept (whole frame) the control
// classes, drop everything else.
var controlFilter = mustAssemble([]bpf.Instruction{
	/* 0 */ bpf.LoadAbsolute{Off: 12, Size: 2}, // EtherType
	/* 1 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x8809, SkipTrue: 8}, // slow protocols
	/* 2 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x0806, SkipTrue: 7}, // ARP
	/* 3 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x86dd, SkipFalse: 5}, // IPv6
	/* 4 */ bpf.LoadAbsolute{Off: 14 + 6, Size: 1}, // next header
	/* 5 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: 58, SkipFalse: 3}, // ICMPv6
	/* 6 */ bpf.LoadAbsolute{Off: 14 + 40, Size: 1}, // type (a shorter frame is dropped)
	/* 7 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: 135, SkipTrue: 2}, // neighbour solicitation
	/* 8 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: 136, SkipTrue: 1}, // neighbour advertisement
	/* 9 */ bpf.RetConstant{Val: 0}, // drop
	/* 10 */ bpf.RetConstant{Val: 0xffffffff}, // accept the whole frame
})

func mustAssemble(p []bpf.Instruction) []bpf.RawInstruction {
	raw, err := bpf.Assemble(p)
	if err != nil {
		panic(err)
	}
	return raw
}

// FilterControl restricts the socket to the control frames (on) or lets it
// copy every frame again (off); bond.ControlFilterer. Frames already queued
// stay queued.
func (p *SlaveDev) FilterControl(on bool) error {
	if !on {
		return p.c.RemoveBPF()
	}
	return p.c.SetBPF(controlFilter)
}

// InNetns runs fn on an OS thread inside the Host's network namespace (the
// calling goroutine's namespace when the Host has none): the fast path
// attaches its programs there, since the kernel resolves ifindexes in the
// caller's namespace.
func (h *Host) InNetns(fn func() error) error { return h.ns.do(fn) }
