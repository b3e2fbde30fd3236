package netdev

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"bondingfs/bond"
	"bondingfs/internal/nettest"
)

// benchLinks returns a Host on a namespace with n veth pairs (2n+1 links).
func benchLinks(b *testing.B, n int) *Host { return benchLinksT(b, n) }

// benchLinksT is benchLinks for any test.
func benchLinksT(b testing.TB, n int) *Host {
	b.Helper()
	nettest.SkipUnlessRoot(b)
	ns := nettest.NewNetns(b, "ndbench")
	var batch strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&batch, "link add e%d type veth peer name f%d\n", i, i)
	}
	f := filepath.Join(b.TempDir(), "batch")
	if err := os.WriteFile(f, []byte(batch.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	ns.Run(b, "ip", "-batch", f)
	h, err := NewHost(ns.Path())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { h.Close() })
	return h
}

// BenchmarkCarriers300 is the MII monitor's carrier read of a namespace
// with 301 links: one RTM_GETLINK dump, decoding index, flags and
// tx_dropped only.
func BenchmarkCarriers300(b *testing.B) {
	h := benchLinks(b, 150)
	var dst = make([]bond.CarrierState, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if dst, err = h.Carriers(dst); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLinks300 is the same dump decoded by vishvananda/netlink
// (Host.Links, what Registry.Sync uses).
func BenchmarkLinks300(b *testing.B) {
	h := benchLinks(b, 150)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Links(); err != nil {
			b.Fatal(err)
		}
	}
}
