package bond_test

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/mdlayher/ndp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"bondingfs/bond"
	"bondingfs/bond/bondtest"
	"bondingfs/internal/frame"
)

var (
	bondIP6  = netip.MustParseAddr("2001:db8::1")
	target6  = netip.MustParseAddr("2001:db8::9")
	target6b = netip.MustParseAddr("2001:db8::a")
)

// nsEnv is a bond whose only monitor is the NS monitor (arp_interval
// 100 ms, ns_ip6_target, no arp_ip_target) over eth0 and eth1, with the
// peer model of arpEnv for IPv6: every NS the bond sends on a slave whose
// path is alive is answered on that slave by the targets that answer
// (an NA to the NS's source, or to ff02::1 from ::), and flooded to the
// other slaves whose path is alive.
type nsEnv struct{ arpEnv }

func newNSEnv(t *testing.T, mode bond.ModeID, validate bond.ARPValidate, targets ...netip.Addr) *nsEnv {
	p := bond.DefaultParams()
	p.Mode = mode
	p.Miimon = 0
	p.ARPInterval = int(arpIval / time.Millisecond)
	p.NSTargets = targets
	p.ARPValidate = validate
	e := bondtest.New(t, p, "eth0", "eth1")
	e.Host.SetAddrs("bond0", bondIP6)
	for _, tg := range targets {
		e.Host.SetRoute(tg, "bond0")
	}
	e.SetUp("bond0", true)
	b := e.Bond("bond0")
	require.Eventually(t, func() bool {
		known := false
		_ = e.Do(func() error { known = bond.NSRoutesKnown(b); return nil })
		return known
	}, 5*time.Second, time.Millisecond, "routes to the NS targets read")
	a := &nsEnv{arpEnv{t: t, e: e, alive: map[string]bool{"eth0": true, "eth1": true},
		answer: map[netip.Addr]bool{}, seen: map[string]int{}, injected: map[string]int{}}}
	for _, tg := range targets {
		a.answer[tg] = true
	}
	enslave(t, e, "eth0", "eth1")
	e.Log.Take()
	return a
}

// naFrame is a solicited NA for target from target to dst at dstMAC.
func naFrame(dstMAC net.HardwareAddr, target, dst netip.Addr) []byte {
	na := &ndp.NeighborAdvertisement{Solicited: true, Override: true, TargetAddress: target,
		Options: []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: peerMAC}}}
	icmp, err := ndp.MarshalMessageChecksum(na, target, dst)
	if err != nil {
		panic(err)
	}
	f := append(append([]byte{}, dstMAC...), peerMAC...)
	f = append(f, 0x86, 0xdd, 0x60, 0, 0, 0)
	f = binary.BigEndian.AppendUint16(f, uint16(len(icmp)))
	f = append(f, 58, 255)
	f = append(f, target.AsSlice()...)
	f = append(f, dst.AsSlice()...)
	return append(f, icmp...)
}

// tick advances one arp_interval and lets the peer answer the NSs.
func (a *nsEnv) tick() {
	a.e.Tick(arpIval)
	for _, name := range []string{"eth0", "eth1"} {
		d := a.e.Host.SlaveDev(name)
		fs := d.Frames()
		for _, f := range fs[a.seen[name]:] {
			eth := f[bond.VnetHdrLen:]
			h, ok := frame.ParseND(eth)
			if !ok || h.Type != frame.NDNeighborSolicitation || !a.alive[name] {
				continue
			}
			tgt := netip.AddrFrom16([16]byte(eth[14+40+8 : 14+40+24]))
			if a.answer[tgt] {
				src := netip.AddrFrom16(h.Src)
				dmac := net.HardwareAddr(eth[6:12])
				if src.IsUnspecified() {
					src, dmac = netip.MustParseAddr("ff02::1"), net.HardwareAddr{0x33, 0x33, 0, 0, 0, 1}
				}
				a.inject(name, naFrame(dmac, tgt, src))
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

// TestNSMonitorAnswered: with every path alive and the target answering,
// both slaves of an active-backup bond whose only monitor is the NS
// monitor stay up under every arp_validate value; the bond probes through
// the active slave only, with the kernel's NS from its address.
func TestNSMonitorAnswered(t *testing.T) {
	for v := bond.ARPValidateNone; v <= bond.ARPValidateFilterBackup; v++ {
		a := newNSEnv(t, bond.ModeActiveBackup, v, target6)
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
		want := frame.NeighborSolicitation(a.e.Status("bond0").HWAddr, bondIP6, target6, nil)
		assert.Equal(t, want, fs[len(fs)-1])
	}
}

// TestNSMonitorFailover: the active slave's path dies (carrier stays up);
// the monitor takes it down and makes the backup, kept up by the active
// slave's flooded NSs (a backup validates them with source and destination
// swapped: the solicited-node address names the target), active; the path
// back brings the old active slave up again as a backup.
func TestNSMonitorFailover(t *testing.T) {
	a := newNSEnv(t, bond.ModeActiveBackup, bond.ARPValidateAll, target6)
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
	a.alive["eth0"] = true
	for i := 0; i < 6; i++ {
		a.tick()
	}
	assert.Equal(t, []string{"bond0: (slave eth0): link status definitely up"}, a.e.Log.Take())
	assert.Equal(t, "eth1", a.e.Status("bond0").ActiveSlave)
}

// TestNSMonitorTargetSilent: the target stops answering on every path;
// both slaves go down and the bond loses its carrier; an NA from a host
// that is not a target keeps nothing up under arp_validate all.
func TestNSMonitorTargetSilent(t *testing.T) {
	a := newNSEnv(t, bond.ModeActiveBackup, bond.ARPValidateAll, target6)
	for i := 0; i < 4; i++ {
		a.tick()
	}
	require.Empty(t, a.e.Log.Take())
	a.answer[target6] = false
	mac := a.e.Status("bond0").HWAddr
	var lines []string
	for i := 0; i < 10; i++ {
		a.tick()
		for _, n := range []string{"eth0", "eth1"} {
			a.inject(n, naFrame(mac, netip.MustParseAddr("2001:db8::77"), bondIP6))
		}
		lines = append(lines, a.e.Log.Take()...)
	}
	assert.Equal(t, map[string]bool{"eth0": true, "eth1": true}, downs(lines), "%v", lines)
	assert.False(t, a.e.Status("bond0").Carrier)
}

// TestNSMonitorValidateNA: which NAs an active slave validating
// (arp_validate active) counts: from a target to the bond's address or
// to ff02::1, not to another address, not from another host, not to
// another host's MAC; with two targets and arp_validate active both
// stamp the slave.
func TestNSMonitorValidateNA(t *testing.T) {
	other := net.HardwareAddr{2, 0, 0, 0, 0x55, 0x55}
	allNodesMAC := net.HardwareAddr{0x33, 0x33, 0, 0, 0, 1}
	for name, tc := range map[string]struct {
		f  func(mac net.HardwareAddr) []byte
		up bool
	}{
		"to the bond":       {func(m net.HardwareAddr) []byte { return naFrame(m, target6, bondIP6) }, true},
		"to all nodes":      {func(net.HardwareAddr) []byte { return naFrame(allNodesMAC, target6, netip.MustParseAddr("ff02::1")) }, true},
		"second target":     {func(m net.HardwareAddr) []byte { return naFrame(m, target6b, bondIP6) }, true},
		"to another addr":   {func(m net.HardwareAddr) []byte { return naFrame(m, target6, netip.MustParseAddr("2001:db8::55")) }, false},
		"from a non-target": {func(m net.HardwareAddr) []byte { return naFrame(m, netip.MustParseAddr("2001:db8::77"), bondIP6) }, false},
		"to another MAC":    {func(net.HardwareAddr) []byte { return naFrame(other, target6, bondIP6) }, false},
	} {
		a := newNSEnv(t, bond.ModeActiveBackup, bond.ARPValidateActive, target6, target6b)
		a.alive["eth0"], a.alive["eth1"] = false, false
		mac := a.e.Status("bond0").HWAddr
		var lines []string
		for i := 0; i < 8; i++ {
			a.tick()
			a.inject("eth0", tc.f(mac))
			lines = append(lines, a.e.Log.Take()...)
		}
		assert.Equal(t, !tc.up, downs(lines)["eth0"], "%s: %v", name, lines)
	}
}

// TestNSMonitorNoRoute: a target without a route through the bond is
// probed from :: (no source link-layer option) once the route has been
// missing for two reads, as bond_ns_send_all does when ip6_route_output
// fails; a target with a route through another device is not probed.
func TestNSMonitorNoRoute(t *testing.T) {
	a := newNSEnv(t, bond.ModeActiveBackup, bond.ARPValidateNone, target6)
	a.e.Host.SetRoute(target6, "")
	want := frame.NeighborSolicitation(a.e.Status("bond0").HWAddr, netip.Addr{}, target6, nil)
	require.Eventually(t, func() bool {
		a.tick() // each run reads the routes again
		fs := a.e.Host.SlaveDev("eth0").Frames()
		return len(fs) > 0 && string(fs[len(fs)-1]) == string(want)
	}, 5*time.Second, time.Millisecond, "a probe from ::")

	a.e.Host.SetRoute(target6, "eth1") // leaves through another device: ENETUNREACH with the bond as oif
	_, err := a.e.Host.RouteTo6(target6, a.e.Status("bond0").Index)
	assert.Error(t, err)
}
