package lacp

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden traces under testdata/")

// checkGolden compares got with testdata/name, or rewrites it with -update.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -run %s -update to create it", t.Name())
	require.Equal(t, string(want), got, "trace differs from %s (go test -update rewrites it)", path)
}

// traceBackToBack records every state change of two bonds negotiating back
// to back for secs seconds.
func traceBackToBack(t *testing.T, opt Options, secs int) string {
	n, b0, b1 := backToBack(t, opt, opt)
	tr := newTracer(n)
	tr.snap()
	b0.Open()
	b1.Open()
	for i := 0; i < secs*TicksPerSecond; i++ {
		n.step()
		tr.snap()
	}
	return tr.sb.String()
}

func TestGoldenBackToBackFast(t *testing.T) {
	checkGolden(t, "b2b-fast.trace", traceBackToBack(t, fastOpts(), 10))
}

func TestGoldenBackToBackSlow(t *testing.T) {
	checkGolden(t, "b2b-slow.trace", traceBackToBack(t, DefaultOptions(), 10))
}

func TestGoldenPassivePassive(t *testing.T) {
	o := fastOpts()
	o.LACPActive = false
	checkGolden(t, "passive-passive-fast.trace", traceBackToBack(t, o, 10))
}
