package fusefs

import (
	"context"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"bondingfs/bond"
)

// The bond's statistics on the eBPF fast path (issue 18): frames the
// programs redirect between the TAP and the slaves never pass the TAP's
// own counters, so <bond>/statistics/{rx,tx}_{packets,bytes,dropped} read
// the TAP's counter (the frames left to the daemon) plus the fast path's
// (bond.BondStatus.FastStats), as bond_get_stats gives the traffic of the
// slaves. The other statistics files, and every file of a bond on the
// userspace path, stay the TAP's.

// fastStatsRead returns the text of a bond's statistics file with the fast
// path's counter added, or ok false when the file is not one of those
// (rel: the file's path in the mount; dev: its device).
func (f *filesystem) fastStatsRead(dev, rel string) (text string, ok bool) {
	if path.Dir(rel) != "statistics" {
		return "", false
	}
	b := f.be.Snapshot().Bond(dev)
	if b == nil || b.FastStats == nil || b.DataPath != "ebpf" {
		return "", false
	}
	var add func(bond.FastStats) uint64
	switch path.Base(rel) {
	case "rx_packets":
		add = func(s bond.FastStats) uint64 { return s.RxPackets }
	case "tx_packets":
		add = func(s bond.FastStats) uint64 { return s.TxPackets }
	case "rx_bytes":
		add = func(s bond.FastStats) uint64 { return s.RxBytes }
	case "tx_bytes":
		add = func(s bond.FastStats) uint64 { return s.TxBytes }
	case "rx_dropped":
		add = func(s bond.FastStats) uint64 { return s.RxDropped }
	case "tx_dropped":
		add = func(s bond.FastStats) uint64 { return s.TxDropped }
	default:
		return "", false
	}
	raw, err := os.ReadFile(filepath.Join(f.realDev(dev), "statistics", path.Base(rel)))
	if err != nil {
		return "", false
	}
	tap, err := strconv.ParseUint(strings.TrimSpace(string(raw)), 10, 64)
	if err != nil {
		return "", false
	}
	return strconv.FormatUint(tap+add(b.FastStats()), 10) + "\n", true
}

// fastStatsHandle serves one such file's text, read once at open.
type fastStatsHandle struct{ text []byte }

var _ fs.FileReader = (*fastStatsHandle)(nil)

func (h *fastStatsHandle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if off >= int64(len(h.text)) {
		return fuse.ReadResultData(nil), 0
	}
	return fuse.ReadResultData(h.text[off:]), 0
}

// openFastStats opens rel through fastStatsRead for reading (ok false: not
// such a file; the caller opens the real one).
func (n *sysNode) openFastStats(rel string, flags uint32) (fs.FileHandle, uint32, bool) {
	if flags&syscall.O_ACCMODE != syscall.O_RDONLY {
		return nil, 0, false
	}
	text, ok := n.fsys.fastStatsRead(n.dev, rel)
	if !ok {
		return nil, 0, false
	}
	return &fastStatsHandle{text: []byte(text)}, fuse.FOPEN_DIRECT_IO, true
}
