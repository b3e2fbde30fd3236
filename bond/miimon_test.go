package bond_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"bondingfs/bond"
	"bondingfs/bond/bondtest"
)

// manyBonds creates bond0 … bond<n-1> (active-backup, the given miimon),
// each over two slaves eth<2i>, eth<2i+1>, all up.
func manyBonds(t *testing.T, n, miimon int) *bondtest.Env {
	t.Helper()
	var slaves []string
	for i := 0; i < 2*n; i++ {
		slaves = append(slaves, fmt.Sprintf("eth%d", i))
	}
	e := bondtest.New(t, abParams(miimon), slaves...)
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("bond%d", i)
		if i > 0 {
			require.NoError(t, e.Reg.CreateBond(context.Background(), name))
		}
		e.Settle()
		b := e.Bond(name)
		for _, s := range slaves[2*i : 2*i+2] {
			require.NoError(t, e.Do(func() error { return b.Enslave(s) }))
		}
		e.SetUp(name, true)
	}
	e.Settle()
	e.Log.Take()
	return e
}

// TestCarrierReadOneDumpPerPeriod: the namespace's carrier read is one
// dump per period of the shortest running miimon, whatever the number of
// bonds and slaves; none at miimon 0, none for a bond that is down.
func TestCarrierReadOneDumpPerPeriod(t *testing.T) {
	e := manyBonds(t, 20, 100)
	d0 := e.Host.Dumps()
	e.Tick(time.Second)
	assert.Equal(t, 10, e.Host.Dumps()-d0, "40 slaves at miimon 100: 10 dumps a second")

	write := func(bond, opt, val string) {
		t.Helper()
		require.NoError(t, e.Reg.WriteOption(context.Background(), bond, opt, val, root))
		e.Settle()
	}
	write("bond3", "miimon", "20")
	d0 = e.Host.Dumps()
	e.Tick(time.Second)
	assert.Equal(t, 50, e.Host.Dumps()-d0, "the shortest miimon sets the period")

	e.SetUp("bond3", false)
	d0 = e.Host.Dumps()
	e.Tick(time.Second)
	assert.Equal(t, 10, e.Host.Dumps()-d0, "a bond that is down is not read")

	for i := 0; i < 20; i++ {
		write(fmt.Sprintf("bond%d", i), "miimon", "0")
	}
	d0 = e.Host.Dumps()
	e.Tick(time.Second)
	assert.Equal(t, 0, e.Host.Dumps()-d0, "miimon 0: no read")
	assert.Equal(t, uint64(e.Host.Dumps()), e.Reg.CarrierReads())
}

// TestCarrierReadByKind: while every slave the carrier read covers has one
// rtnetlink kind (veth), its dump asks the kernel for that kind only
// (bond.KindCarrierLister); a slave of another kind (a NIC: none) makes it
// read every link again, and its release makes it filter again.
func TestCarrierReadByKind(t *testing.T) {
	e := bondtest.New(t, abParams(100), "eth0", "eth1", "eth2")
	e.Host.ModifySilently("eth2", func(l *bond.LinkInfo) { l.Kind = "" })
	b := e.Bond("bond0")
	enslave(t, e, "eth0", "eth1")
	e.SetUp("bond0", true)
	d0, k0 := e.Host.Dumps(), e.Host.KindDumps
	e.Tick(time.Second)
	assert.Equal(t, 10, e.Host.Dumps()-d0)
	assert.Equal(t, 10, e.Host.KindDumps-k0, "veth slaves only: every dump by kind")

	require.NoError(t, e.Do(func() error { return b.Enslave("eth2") }))
	e.Settle()
	d0, k0 = e.Host.Dumps(), e.Host.KindDumps
	e.Tick(time.Second)
	assert.Equal(t, 10, e.Host.Dumps()-d0)
	assert.Equal(t, 0, e.Host.KindDumps-k0, "a slave without kind: the whole namespace")

	// a silent carrier loss on the NIC is found by the whole dump
	e.Host.ModifySilently("eth2", func(l *bond.LinkInfo) { l.Carrier = false })
	e.Tick(100 * time.Millisecond)
	assert.Contains(t, e.Log.Take(), "bond0: (slave eth2): link status definitely down, disabling slave")

	require.NoError(t, e.Do(func() error { return b.Release("eth2") }))
	e.Settle()
	k0 = e.Host.KindDumps
	e.Tick(time.Second)
	assert.Equal(t, 10, e.Host.KindDumps-k0, "veth slaves only again")
}

// TestCarrierReadFindsEverySlave: with many bonds, silent carrier losses
// (no event: linkwatch holds it back) on several slaves are all found by
// the one dump of the next period, and every bond fails over with the
// kernel's log lines.
func TestCarrierReadFindsEverySlave(t *testing.T) {
	e := manyBonds(t, 10, 100)
	e.Tick(50 * time.Millisecond) // mid-period
	for i := 0; i < 10; i += 3 {
		e.Host.ModifySilently(fmt.Sprintf("eth%d", 2*i), func(l *bond.LinkInfo) { l.Carrier = false })
	}
	e.Tick(49 * time.Millisecond)
	assert.Empty(t, e.Log.Take(), "not before the next read")
	d0 := e.Host.Dumps()
	e.Tick(time.Millisecond)
	assert.Equal(t, 1, e.Host.Dumps()-d0)
	var want []string
	for i := 0; i < 10; i += 3 {
		want = append(want,
			fmt.Sprintf("bond%d: (slave eth%d): link status definitely down, disabling slave", i, 2*i),
			fmt.Sprintf("bond%d: (slave eth%d): making interface the new active one", i, 2*i+1))
	}
	assert.ElementsMatch(t, want, e.Log.Take())
	for i := 0; i < 10; i++ {
		active := fmt.Sprintf("eth%d", 2*i)
		if i%3 == 0 {
			active = fmt.Sprintf("eth%d", 2*i+1)
		}
		assert.Equal(t, active, e.Status(fmt.Sprintf("bond%d", i)).ActiveSlave)
	}
}

// TestCarrierEventActedUponAtOnce: a carrier event is acted upon before the
// next miimon tick (here at once: kickMii), so failover stays as fast as the
// event; the next tick finds nothing left to do.
func TestCarrierEventActedUponAtOnce(t *testing.T) {
	e := manyBonds(t, 3, 100)
	e.Tick(30 * time.Millisecond)
	e.Host.SetCarrier("eth2", false) // with its event
	e.Settle()                       // no clock advance
	assert.Equal(t, []string{
		"bond1: (slave eth2): link status definitely down, disabling slave",
		"bond1: (slave eth3): making interface the new active one",
	}, e.Log.Take())
	e.Tick(100 * time.Millisecond)
	assert.Empty(t, e.Log.Take())
	e.Host.SetCarrier("eth2", true)
	e.Settle()
	assert.Equal(t, []string{"bond1: (slave eth2): link status definitely up, 10000 Mbps full duplex"}, e.Log.Take())
}

// TestCarrierReadKeepsDelays: a change the carrier read finds counts its
// downdelay and updelay in miimon ticks from there, with the kernel's lines.
func TestCarrierReadKeepsDelays(t *testing.T) {
	p := abParams(100)
	p.DownDelay = 3
	p.UpDelay = 2
	e := bondtest.New(t, p, "eth0", "eth1")
	enslave(t, e, "eth0", "eth1")
	e.SetUp("bond0", true)
	e.Tick(time.Second) // both up
	e.Log.Take()
	e.Host.ModifySilently("eth0", func(l *bond.LinkInfo) { l.Carrier = false })
	e.Tick(100 * time.Millisecond)
	assert.Equal(t, []string{"bond0: (slave eth0): link status down for active interface, disabling it in 300 ms"}, e.Log.Take())
	e.Tick(200 * time.Millisecond)
	assert.Empty(t, e.Log.Take())
	assert.Equal(t, bond.LinkFail, e.Status("bond0").Slaves[0].Link)
	e.Tick(100 * time.Millisecond)
	assert.Equal(t, []string{
		"bond0: (slave eth0): link status definitely down, disabling slave",
		"bond0: (slave eth1): making interface the new active one",
	}, e.Log.Take())
	e.Host.ModifySilently("eth0", func(l *bond.LinkInfo) { l.Carrier = true })
	e.Tick(100 * time.Millisecond)
	assert.Equal(t, []string{"bond0: (slave eth0): link status up, enabling it in 200 ms"}, e.Log.Take())
	e.Tick(100 * time.Millisecond)
	assert.Empty(t, e.Log.Take())
	e.Tick(100 * time.Millisecond)
	assert.Equal(t, []string{"bond0: (slave eth0): link status definitely up, 10000 Mbps full duplex"}, e.Log.Take())
}

// TestQuietMIIMonitorSleeps: once every slave's link state agrees with its
// carrier, the MII monitors queue no tick: 20 idle bonds at miimon 100 cost
// the namespace's 10 carrier reads a second and nothing else. A change the
// read finds wakes the bond's monitor, which ticks while its downdelay
// counts and sleeps again after the failover's peer notifications.
func TestQuietMIIMonitorSleeps(t *testing.T) {
	e := manyBonds(t, 20, 100)
	e.Tick(time.Second)
	f0, d0 := e.Clock.Fired(), e.Host.Dumps()
	e.Tick(time.Second)
	assert.Equal(t, 10, e.Host.Dumps()-d0)
	assert.Equal(t, int64(10), e.Clock.Fired()-f0, "the carrier reads only")

	require.NoError(t, e.Reg.WriteOption(context.Background(), "bond4", "downdelay", "300", root))
	require.NoError(t, e.Reg.WriteOption(context.Background(), "bond4", "num_grat_arp", "3", root))
	e.Settle()
	e.Tick(time.Second)
	e.Log.Take()
	e.Host.ModifySilently("eth8", func(l *bond.LinkInfo) { l.Carrier = false })
	e.Tick(100 * time.Millisecond)
	assert.Equal(t, []string{"bond4: (slave eth8): link status down for active interface, disabling it in 300 ms"}, e.Log.Take())
	e.Tick(300 * time.Millisecond)
	assert.Equal(t, []string{
		"bond4: (slave eth8): link status definitely down, disabling slave",
		"bond4: (slave eth9): making interface the new active one",
	}, e.Log.Take())
	e.Tick(time.Second) // the notification rounds
	f0, d0 = e.Clock.Fired(), e.Host.Dumps()
	e.Tick(time.Second)
	assert.Equal(t, int64(10), e.Clock.Fired()-f0, "quiet again")
	assert.Equal(t, 10, e.Host.Dumps()-d0)
	assert.Equal(t, "eth9", e.Status("bond4").ActiveSlave)
}
