package fastpath_test

import (
	"bufio"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"bondingfs/fastpath"
	"bondingfs/internal/frame"
	"bondingfs/internal/nettest"
)

// corpusFrames reads the XmitHash fuzz corpus (go test fuzz v1: the policy,
// then the frame).
func corpusFrames(t *testing.T) (frames [][]byte, policies []frame.XmitPolicy) {
	t.Helper()
	files, err := filepath.Glob("../bond/testdata/fuzz/FuzzXmitHash/*")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, name := range files {
		f, err := os.Open(name)
		require.NoError(t, err)
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var pol int
		var b []byte
		for sc.Scan() {
			l := sc.Text()
			switch {
			case strings.HasPrefix(l, "int(") || strings.HasPrefix(l, "uint8("):
				v := l[strings.IndexByte(l, '(')+1 : len(l)-1]
				pol, err = strconv.Atoi(v)
				require.NoError(t, err, name)
			case strings.HasPrefix(l, "[]byte("):
				s, err := strconv.Unquote(l[len("[]byte(") : len(l)-1])
				require.NoError(t, err, name)
				b = []byte(s)
			}
		}
		f.Close()
		require.NotNil(t, b, name)
		frames = append(frames, b)
		policies = append(policies, frame.XmitPolicy(pol%6))
	}
	return frames, policies
}

// TestXmitHashEqualsGo runs bond_egress with BPF_PROG_TEST_RUN over the
// XmitHash fuzz corpus and seeded mutations of it (bytes changed, frames
// cut) under every xmit_hash_policy, and compares the hash and the chosen
// slave with frame.XmitHash's.
func TestXmitHashEqualsGo(t *testing.T) {
	p, prog := loadEgress(t)
	frames, _ := corpusFrames(t)
	all := mutated(frames, rand.New(rand.NewPCG(18, 18)), 200, true)
	slaves := make([]int, 31) // an odd count uses every bit of the hash
	for i := range slaves {
		slaves[i] = 1000 + i
	}
	const lo = 1 // BPF_PROG_TEST_RUN runs on the loopback device
	checked, refused := 0, 0
	for pol := frame.XmitLayer2; pol <= frame.XmitVlanSrcMAC; pol++ {
		require.NoError(t, p.SetBond(lo, fastpath.Config{Mode: fastpath.ModeHash, Policy: uint32(pol), Slaves: slaves}))
		for _, f := range all {
			if len(f) < 14 {
				continue // the kernel runs no frame shorter than an Ethernet header
			}
			var in, out [48]uint32 // struct __sk_buff; cb[0] is word 12
			ret, err := prog.Run(&ebpf.RunOptions{Data: f, Context: in[:20], ContextOut: &out})
			if err != nil && errors.Is(err, unix.EINVAL) && testRunRefuses(f) {
				refused++
				continue
			}
			require.NoError(t, err, "policy %v frame %x", pol, f)
			require.EqualValues(t, 7, ret, "TC_ACT_REDIRECT")
			want := frame.XmitHash(pol, f)
			require.Equal(t, want, out[12], "policy %v frame %x", pol, f)
			require.EqualValues(t, slaves[want%uint32(len(slaves))], out[13], "policy %v frame %x", pol, f)
			checked++
		}
	}
	t.Logf("%d frames × policies compared, %d cut IP frames the test run refuses", checked, refused)
	require.Greater(t, checked, 10*refused)
}

// testRunRefuses reports whether BPF_PROG_TEST_RUN refuses f (EINVAL): an
// IPv4 or IPv6 EtherType with the IP header cut.
func testRunRefuses(f []byte) bool {
	switch binary.BigEndian.Uint16(f[12:14]) {
	case frame.EtherTypeIPv4:
		return len(f) < 14+20
	case frame.EtherTypeIPv6:
		return len(f) < 14+40
	}
	return false
}

// loadEgress loads the programs (root only; fails under CI=true without
// root) and returns them and bond_egress; they are closed when t ends.
func loadEgress(t *testing.T) (*fastpath.Path, *ebpf.Program) {
	t.Helper()
	nettest.SkipUnlessRoot(t)
	p, err := fastpath.Load(fastpath.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { p.Close() })
	return p, fastpath.EgressProgram(p)
}

// mutated returns frames followed by n mutations of each drawn from rng:
// up to four bytes changed, and with cut a quarter of them shortened
// (never below the Ethernet header).
func mutated(frames [][]byte, rng *rand.Rand, n int, cut bool) [][]byte {
	all := append([][]byte(nil), frames...)
	for _, f := range frames {
		for i := 0; i < n; i++ {
			m := append([]byte(nil), f...)
			for k := rng.IntN(4); k >= 0; k-- {
				m[rng.IntN(len(m))] = byte(rng.Uint32())
			}
			if cut && rng.IntN(4) == 0 {
				m = m[:14+rng.IntN(len(m)-13)]
			}
			all = append(all, m)
		}
	}
	return all
}
