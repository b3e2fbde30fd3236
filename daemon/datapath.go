package daemon

import (
	"fmt"
	"os"

	"bondingfs/bond"
	"bondingfs/fastpath"
)

// openFastPath loads the in-kernel fast path for --datapath=auto|ebpf and
// puts it in the engine's configuration; release unloads it after the
// registry has closed (which detaches every bond). With auto, a fast path
// that cannot load (no CAP_BPF/CAP_NET_ADMIN, a kernel without the hooks,
// lockdown) leaves every bond on the userspace path; ebpf makes that an
// error. One line on stderr says which path runs.
func (s *server) openFastPath(cfg *bond.Config) error {
	switch s.c.DataPath {
	case "", "userspace":
		fmt.Fprintf(s.stderr, "bondingfs: data path: userspace (--datapath=userspace)\n")
		return nil
	case "auto", "ebpf":
	default:
		return fmt.Errorf("--datapath=%s: want auto, ebpf or userspace", s.c.DataPath)
	}
	// BONDINGFS_FASTPATH_ATTACH=clsact attaches through clsact where tcx
	// exists (the fallback of kernels before 6.6, for tests)
	clsact := os.Getenv("BONDINGFS_FASTPATH_ATTACH") == "clsact"
	p, err := fastpath.Load(fastpath.Options{InNetns: s.host.InNetns, Clsact: clsact})
	if err != nil {
		if s.c.DataPath == "ebpf" {
			return fmt.Errorf("--datapath=ebpf: %v", err)
		}
		fmt.Fprintf(s.stderr, "bondingfs: data path: userspace (%v)\n", err)
		return nil
	}
	s.onRelease(func() { _ = p.Close() })
	cfg.FastPath = p
	if err := p.CarrierErr(); err != nil {
		fmt.Fprintf(s.stderr, "bondingfs: data path: ebpf (%s; no carrier check on slave egress, an active-backup failover after a carrier loss may lose frames: %v)\n", p.Attachment(), err)
	} else {
		fmt.Fprintf(s.stderr, "bondingfs: data path: ebpf (%s)\n", p.Attachment())
	}
	return nil
}
