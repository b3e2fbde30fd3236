package fusefs

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"bondingfs/bond"
)

// TestRenderProcNSTargets: the "NS IPv6 target/s (xx::xx form):" line
// lists ns_ip6_target as %pI6c does (IPv4-mapped and ISATAP addresses end
// in dotted form), ", "-separated; goldens from the kernel transcript
// 52-ns-ip6-target (steps 1 and 2).
func TestRenderProcNSTargets(t *testing.T) {
	addrs := func(s ...string) []netip.Addr {
		var out []netip.Addr
		for _, a := range s {
			out = append(out, netip.MustParseAddr(a))
		}
		return out
	}
	var full []string
	for _, x := range []string{"1", "2", "3", "4", "5", "6", "7", "8", "a", "b", "c", "d", "e", "f", "10", "11"} {
		full = append(full, "2001:db8::"+x)
	}
	for _, tc := range []struct {
		golden  string
		targets []netip.Addr
	}{
		{"ab-ns-targets", addrs("2001:db8::9", "2001:db8::5efe:c000:201")},
		{"ab-ns-mapped", addrs("2001:db8::9", "::ffff:192.0.2.1", "fe80::1")},
		{"ab-ns-full", addrs(full...)},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join("..", "testdata", "proc", tc.golden+".golden"))
			if err != nil {
				t.Fatal(err)
			}
			st := bond.BondStatus{Name: "bond0", Params: params(func(p *bond.Params) {
				p.Mode, p.ARPInterval, p.NSTargets = bond.ModeActiveBackup, 250, tc.targets
			})}
			if got := normVersion(renderProc(&st)); got != string(want) {
				t.Errorf("renderProc mismatch\n--- got\n%s--- want\n%s", got, want)
			}
		})
	}
}
