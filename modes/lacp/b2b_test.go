package lacp

import (
	"testing"
)

// backToBack builds bond0 (eth0, eth1) and bond1 (p0, p1) joined eth0-p0,
// eth1-p1, as scenario 14-8023ad step 7 does.
func backToBack(t testing.TB, o0, o1 Options) (*testNet, *System, *System) {
	n := newTestNet(t)
	b0 := n.addSystem("bond0", mac(0, 0, 1), o0)
	b1 := n.addSystem("bond1", mac(0, 0xb1, 0), o1)
	for i := 0; i < 2; i++ {
		if err := b0.AddPort(PortID(i), []string{"eth0", "eth1"}[i], mac(0, 0, byte(i+1)), up10G); err != nil {
			t.Fatal(err)
		}
		if err := b1.AddPort(PortID(i), []string{"p0", "p1"}[i], mac(0, 1, byte(i+1)), up10G); err != nil {
			t.Fatal(err)
		}
		n.connect(endpoint{0, PortID(i)}, endpoint{1, PortID(i)})
	}
	return n, b0, b1
}

func fastOpts() Options {
	o := DefaultOptions()
	o.LACPFast = true
	return o
}

func TestBackToBackFast(t *testing.T) {
	n, b0, b1 := backToBack(t, fastOpts(), fastOpts())
	b0.Open()
	b1.Open()
	ticks := n.until(100, func() bool { return distributing(b0) && distributing(b1) })
	t.Logf("both links Collecting_Distributing after %d ticks", ticks)
	if ticks < 0 || ticks > 30 {
		t.Fatalf("took %d ticks, want ≤ 30 (3 s)", ticks)
	}
}
