package bond_test

import (
	"encoding/binary"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"bondingfs/bond"
	"bondingfs/bond/bondtest"
	"bondingfs/internal/frame"
)

var (
	bondIP  = netip.MustParseAddr("192.0.2.1")
	target1 = netip.MustParseAddr("192.0.2.9")
	target2 = netip.MustParseAddr("192.0.2.10")
	peerMAC = net.HardwareAddr{2, 0, 0, 0, 1, 1}
)

// arpEnv is a bond with the ARP monitor (arp_interval 100 ms) over eth0 and
// eth1 and a peer model: every ARP request the bond sends on a slave whose
// path is alive is answered on that slave by the targets that answer, and
// flooded to the other slaves whose path is alive (a bridge).
type arpEnv struct {
	t        *testing.T
	e        *bondtest.Env
	alive    map[string]bool
	answer   map[netip.Addr]bool
	seen     map[string]int // frames of each device already looked at
	injected map[string]int
}

const arpIval = 100 * time.Millisecond

func newARPEnv(t *testing.T, mode bond.ModeID, validate bond.ARPValidate, allTargets int, targets ...netip.Addr) *arpEnv {
	p := bond.DefaultParams()
	p.Mode = mode
	p.Miimon = 0
	p.ARPInterval = int(arpIval / time.Millisecond)
	p.ARPTargets = targets
	p.ARPValidate = validate
	p.ARPAllTargets = allTargets
	e := bondtest.New(t, p, "eth0", "eth1")
	e.Host.SetAddrs("bond0", bondIP)
	for _, tg := range targets {
		e.Host.SetRoute(tg, "bond0")
	}
	e.SetUp("bond0", true)
	b := e.Bond("bond0")
	require.Eventually(t, func() bool {
		known := false
		_ = e.Do(func() error { known = bond.ARPRoutesKnown(b); return nil })
		return known
	}, 5*time.Second, time.Millisecond, "routes to the targets read")
	a := &arpEnv{t: t, e: e, alive: map[string]bool{"eth0": true, "eth1": true},
		answer: map[netip.Addr]bool{}, seen: map[string]int{}, injected: map[string]int{}}
	for _, tg := range targets {
		a.answer[tg] = true
	}
	enslave(t, e, "eth0", "eth1")
	e.Log.Take()
	return a
}

// inject hands f (an Ethernet frame) to slave name's reader and waits until
// it has been handled.
func (a *arpEnv) inject(name string, f []byte) {
	d := a.e.Host.SlaveDev(name)
	d.Inject(append(make([]byte, bond.VnetHdrLen), f...))
	a.injected[name]++
	require.True(a.t, d.WaitConsumed(a.injected[name], waitFrames))
}

// tick advances one arp_interval (the monitor runs) and lets the peer
// answer what the bond sent.
func (a *arpEnv) tick() {
	a.e.Tick(arpIval)
	for _, name := range []string{"eth0", "eth1"} {
		d := a.e.Host.SlaveDev(name)
		fs := d.Frames()
		for _, f := range fs[a.seen[name]:] {
			eth := f[bond.VnetHdrLen:]
			if binary.BigEndian.Uint16(eth[12:14]) != 0x0806 || binary.BigEndian.Uint16(eth[20:22]) != 1 || !a.alive[name] {
				continue
			}
			tip, _ := netip.AddrFromSlice(eth[38:42])
			if a.answer[tip] {
				sip, _ := netip.AddrFromSlice(eth[28:32])
				a.inject(name, arpFrame(2, net.HardwareAddr(eth[6:12]), peerMAC, tip, sip))
			}
			for _, o := range []string{"eth0", "eth1"} {
				if o != name && a.alive[o] {
					a.inject(o, eth)
				}
			}
		}
		a.seen[name] = len(fs)
	}
}

// arpFrame builds an Ethernet ARP frame from sha/sip to tha/tip (the
// Ethernet destination is tha, broadcast for a request).
func arpFrame(op uint16, tha, sha net.HardwareAddr, sip, tip netip.Addr) []byte {
	dst := tha
	if op == 1 {
		dst = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	}
	f := append(append([]byte{}, dst...), sha...)
	f = append(f, 0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, byte(op))
	f = append(f, sha...)
	f = append(f, sip.AsSlice()...)
	f = append(f, tha...)
	return append(f, tip.AsSlice()...)
}

// junkFrame is an IPv4 UDP frame from the peer.
func junkFrame() []byte {
	f := append(append([]byte{}, 2, 0, 0, 0, 0, 1), peerMAC...)
	f = append(f, 0x08, 0x00, 0x45)
	return append(f, make([]byte, 45)...)
}

// foreignARP is an ARP request between two other hosts.
func foreignARP() []byte {
	return arpFrame(1, make(net.HardwareAddr, 6), peerMAC, netip.MustParseAddr("192.0.2.50"), netip.MustParseAddr("192.0.2.51"))
}

func (a *arpEnv) slave(name string) bond.SlaveStatus {
	_, s := a.e.Reg.Snapshot().Slave(name)
	require.NotNil(a.t, s)
	return *s
}

// downs returns the slaves the log says went definitely down.
func downs(lines []string) map[string]bool {
	out := map[string]bool{}
	for _, l := range lines {
		for _, n := range []string{"eth0", "eth1"} {
			if strings.Contains(l, "(slave "+n+"): link status definitely down") ||
				strings.Contains(l, "(slave "+n+"): interface is now down") {
				out[n] = true
			}
		}
	}
	return out
}

// TestARPMonitorAnswered: with every path alive and the target answering,
// both slaves of an active-backup bond stay up under every arp_validate
// value; the bond probes through the active slave only, from its address.
func TestARPMonitorAnswered(t *testing.T) {
	for v := bond.ARPValidateNone; v <= bond.ARPValidateFilterBackup; v++ {
		a := newARPEnv(t, bond.ModeActiveBackup, v, 0, target1)
		for i := 0; i < 12; i++ {
			a.tick()
		}
		lines := a.e.Log.Take()
		assert.Empty(t, downs(lines), "arp_validate %d: %v", v, lines)
		assert.Equal(t, "eth0", a.e.Status("bond0").ActiveSlave, "arp_validate %d", v)
		assert.Equal(t, bond.LinkUp, a.slave("eth1").Link, "arp_validate %d", v)
		assert.Zero(t, a.e.Host.SlaveDev("eth1").Sent(), "no probe through the backup")
		fs := a.e.Host.SlaveDev("eth0").Frames()
		require.NotEmpty(t, fs)
		want := frame.ARPProbe(a.e.Status("bond0").HWAddr, bondIP, target1, nil)
		assert.Equal(t, want, fs[len(fs)-1])
		assert.Len(t, want, bond.VnetHdrLen+42)
	}
}

// TestARPMonitorValidate feeds both slaves of an active-backup bond only
// one kind of frame (the peer answers nothing) and checks which slaves the
// monitor takes down under each arp_validate value (bond_rcv_validate:
// without validation for the slave's state any frame counts, with filter
// only ARP; with validation only ARP from a target to the bond).
func TestARPMonitorValidate(t *testing.T) {
	type counts struct{ junk, foreign, valid bool }
	all, none := counts{true, true, true}, counts{false, false, true}
	filtered := counts{false, true, true}
	cases := []struct {
		validate       bond.ARPValidate
		active, backup counts
	}{
		{bond.ARPValidateNone, all, all},
		{bond.ARPValidateActive, none, all},
		{bond.ARPValidateBackup, all, none},
		{bond.ARPValidateAll, none, none},
		{bond.ARPValidateFilter, filtered, filtered},
		{bond.ARPValidateFilterActive, none, filtered},
		{bond.ARPValidateFilterBackup, filtered, none},
	}
	for _, c := range cases {
		for kind, mk := range map[string]func(a *arpEnv, name string) []byte{
			"junk":    func(*arpEnv, string) []byte { return junkFrame() },
			"foreign": func(*arpEnv, string) []byte { return foreignARP() },
			"valid": func(a *arpEnv, name string) []byte {
				if a.slave(name).Active {
					return arpFrame(2, a.e.Status("bond0").HWAddr, peerMAC, target1, bondIP)
				}
				return arpFrame(1, make(net.HardwareAddr, 6), a.e.Status("bond0").HWAddr, bondIP, target1)
			},
		} {
			a := newARPEnv(t, bond.ModeActiveBackup, c.validate, 0, target1)
			a.alive["eth0"], a.alive["eth1"] = false, false
			var lines []string
			for i := 0; i < 12; i++ {
				a.tick()
				for _, n := range []string{"eth0", "eth1"} {
					if n == "eth1" || kind != "valid" {
						a.inject(n, mk(a, n))
					} else {
						a.inject(n, mk(a, n))
					}
				}
				lines = append(lines, a.e.Log.Take()...)
			}
			pick := func(c counts) bool {
				switch kind {
				case "junk":
					return c.junk
				case "foreign":
					return c.foreign
				}
				return c.valid
			}
			want := map[string]bool{}
			if !pick(c.active) {
				want["eth0"], want["eth1"] = true, true
			}
			if !pick(c.backup) {
				want["eth1"] = true
			}
			assert.Equal(t, want, downs(lines), "arp_validate %d, %s frames: %v", c.validate, kind, lines)
		}
	}
}

// TestARPMonitorFailover: the active slave's path dies (carrier stays up);
// the monitor takes it down after arp_missed_max intervals without a reply
// and makes the backup, kept up by the active slave's flooded requests,
// active (as the kernel's transcript 37-arp-ab shows); the path back brings
// the old active slave up again as a backup.
func TestARPMonitorFailover(t *testing.T) {
	a := newARPEnv(t, bond.ModeActiveBackup, bond.ARPValidateAll, 0, target1)
	for i := 0; i < 5; i++ {
		a.tick()
	}
	require.Empty(t, a.e.Log.Take())
	a.alive["eth0"] = false
	n := 0
	for a.e.Status("bond0").ActiveSlave != "eth1" && n < 20 {
		a.tick()
		n++
	}
	require.Equal(t, "eth1", a.e.Status("bond0").ActiveSlave)
	assert.LessOrEqual(t, n, 3, "ticks to fail over: arp_missed_max + 1")
	assert.Equal(t, []string{
		"bond0: (slave eth0): link status definitely down, disabling slave",
		"bond0: (slave eth1): making interface the new active one",
	}, a.e.Log.Take())
	assert.Equal(t, bond.LinkDown, a.slave("eth0").Link)
	assert.Equal(t, 1, a.slave("eth0").LinkFailureCount)
	assert.True(t, a.e.Status("bond0").Carrier)
	a.alive["eth0"] = true
	for i := 0; i < 6; i++ {
		a.tick()
	}
	assert.Equal(t, []string{"bond0: (slave eth0): link status definitely up"}, a.e.Log.Take())
	assert.Equal(t, bond.LinkUp, a.slave("eth0").Link)
	assert.Equal(t, "eth1", a.e.Status("bond0").ActiveSlave)
}

// TestARPMonitorAllTargets: with two targets of which one is silent, the
// active slave stays up with arp_all_targets any and goes down with all
// (slave_last_rx is then the oldest target's last reply).
func TestARPMonitorAllTargets(t *testing.T) {
	for _, all := range []int{0, 1} {
		a := newARPEnv(t, bond.ModeActiveBackup, bond.ARPValidateActive, all, target1, target2)
		a.answer[target2] = false
		for i := 0; i < 8; i++ {
			a.tick()
		}
		got := downs(a.e.Log.Take())
		if all == 0 {
			assert.Empty(t, got, "any")
		} else {
			assert.True(t, got["eth0"], "all: the active slave goes down")
		}
	}
}

// TestARPMonitorLoadBalance: balance-rr (bond_loadbalance_arp_mon) probes
// through every slave; a slave whose path dies goes down ("interface is
// now down"), the bond loses its carrier when both have, and a slave whose
// traffic comes back is "definitely up" (no current slave) again.
func TestARPMonitorLoadBalance(t *testing.T) {
	a := newARPEnv(t, bond.ModeRoundRobin, bond.ARPValidateNone, 0, target1)
	for i := 0; i < 5; i++ {
		a.tick()
	}
	require.Empty(t, a.e.Log.Take())
	assert.NotZero(t, a.e.Host.SlaveDev("eth0").Sent())
	assert.NotZero(t, a.e.Host.SlaveDev("eth1").Sent())
	a.alive["eth0"] = false
	for i := 0; i < 5; i++ {
		a.tick()
	}
	assert.Equal(t, []string{"bond0: (slave eth0): interface is now down"}, a.e.Log.Take())
	assert.True(t, a.e.Status("bond0").Carrier)
	a.alive["eth1"] = false
	for i := 0; i < 5; i++ {
		a.tick()
	}
	assert.Equal(t, []string{
		"bond0: (slave eth1): interface is now down",
		"bond0: now running without any active interface!",
	}, a.e.Log.Take())
	assert.False(t, a.e.Status("bond0").Carrier)
	a.alive["eth0"], a.alive["eth1"] = true, true
	for i := 0; i < 4; i++ {
		a.tick()
	}
	lines := a.e.Log.Take()
	assert.Contains(t, lines, "bond0: (slave eth0): link status definitely up")
	assert.Contains(t, lines, "bond0: active interface up!")
	assert.True(t, a.e.Status("bond0").Carrier)
}
