package bond_test

import (
	"context"
	"net/netip"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"bondingfs/bond"
	"bondingfs/bond/bondtest"
	"bondingfs/internal/frame"
)

// Engine tests: a Registry over bondtest's in-memory host, time driven by
// hand (bondtest.Clock), waits only on the engine (Env.Settle, Dev.WaitSent)
// and never on the wall clock.

func TestMain(m *testing.M) { bondtest.VerifyTestMain(m) }

// waitFrames bounds how long a test waits for the data path's reader
// goroutines (a wait on a channel, not a sleep).
const waitFrames = 5 * time.Second

// zeroFrame is a vnet header and a 60-byte all-zero Ethernet frame.
func zeroFrame() []byte { return make([]byte, bond.VnetHdrLen+60) }

var root = bond.Caller{NetAdmin: true}

func enslave(t *testing.T, e *bondtest.Env, names ...string) {
	t.Helper()
	b := e.Bond("bond0")
	for _, n := range names {
		require.NoError(t, e.Do(func() error { return b.Enslave(n) }))
	}
	e.Settle()
}

func write(t *testing.T, e *bondtest.Env, opt, val string) {
	t.Helper()
	require.NoError(t, e.Reg.WriteOption(context.Background(), "bond0", opt, val, root))
	e.Settle()
}

func TestWriteMasters(t *testing.T) {
	e := bondtest.New(t, bond.DefaultParams(), "eth0", "eth1")
	ctx := context.Background()
	cases := []struct {
		in   string
		err  error
		logs []string
	}{
		{"+bond1\n", nil, []string{"bonding: bond1 is being created..."}},
		{"+bond1\n", syscall.EEXIST, []string{"bonding: bond1 is being created...", "bonding: bond1 already exists"}},
		{"+eth0\n", syscall.EEXIST, []string{"bonding: eth0 is being created...", "bonding: eth0 already exists"}},
		{"-bond9\n", syscall.ENODEV, []string{"bonding: unable to delete non-existent bond9"}},
		{"-eth0\n", syscall.ENODEV, []string{"bonding: unable to delete non-existent eth0"}},
		{"bond2\n", syscall.EPERM, []string{"bonding: no command found in bonding_masters - use +ifname or -ifname"}},
		{"\n", syscall.EPERM, []string{"bonding: no command found in bonding_masters - use +ifname or -ifname"}},
		{"+bond/x\n", syscall.EPERM, []string{"bonding: no command found in bonding_masters - use +ifname or -ifname"}},
		{"+..\n", syscall.EPERM, []string{"bonding: no command found in bonding_masters - use +ifname or -ifname"}},
		{"--bond0\n", syscall.ENODEV, []string{"bonding: unable to delete non-existent -bond0"}},
		{"+bond x\n", nil, []string{"bonding: bond is being created..."}},
		{"+bond%d\n", nil, []string{"bonding: bond%d is being created..."}},
		{"+%d%d\n", syscall.EINVAL, []string{"bonding: %d%d is being created...", "bonding: %d%d creation failed"}},
		{"+averyveryverylongbondname\n", nil, []string{"bonding: averyveryverylo is being created..."}},
		{"-averyveryverylongbondname\n", nil, []string{"bonding: averyveryverylo is being deleted...", "averyveryverylo (unregistering): Released all slaves"}},
		{"-bond1", nil, []string{"bonding: bond1 is being deleted...", "bond1 (unregistering): Released all slaves"}},
		// sscanf %s ends the word at 0xA0 (the kernel's isspace); the byte
		// before it is a valid name byte
		{"+bo\xc2\xa0nd\n", nil, []string{"bonding: bo\xc2 is being created..."}},
		{"-bo\xc2\n", nil, []string{"bonding: bo\xc2 is being deleted...", "bo\xc2 (unregistering): Released all slaves"}},
	}
	for _, c := range cases {
		err := e.Reg.WriteMasters(ctx, c.in)
		if c.err == nil {
			assert.NoError(t, err, c.in)
		} else {
			assert.ErrorIs(t, err, c.err, c.in)
		}
		assert.Equal(t, c.logs, e.Log.Take(), c.in)
	}
	var names []string
	for _, b := range e.Reg.Snapshot().Bonds {
		names = append(names, b.Name)
	}
	// "+bond%d" took bond2: bond0 and bond1 existed
	assert.Equal(t, []string{"bond0", "bond", "bond2"}, names)
	_, err := e.Host.LinkByName("bond1")
	assert.ErrorIs(t, err, syscall.ENODEV, "the TAP of a deleted bond is gone")
}

func TestEnslaveRules(t *testing.T) {
	e := bondtest.New(t, bond.DefaultParams(), "eth0", "eth1")
	b := e.Bond("bond0")
	require.NoError(t, e.Do(func() error { return b.Enslave("eth0") }))
	assert.Equal(t, []string{"bond0: (slave eth0): Enslaving as an active interface with an up link"}, e.Log.Take())
	e.Settle()
	st := e.Status("bond0")
	assert.Equal(t, "02:00:00:00:00:01", st.HWAddr.String(), "bond takes the first slave's MAC")
	assert.True(t, st.Carrier)
	require.Len(t, st.Slaves, 1)
	assert.Equal(t, 10000, st.Slaves[0].Speed)

	assert.ErrorIs(t, e.Do(func() error { return b.Enslave("eth0") }), syscall.EBUSY)
	assert.Equal(t, []string{"bond0: (slave eth0): Error: Device is in use and cannot be enslaved"}, e.Log.Take())
	assert.ErrorIs(t, e.Do(func() error { return b.Enslave("bond0") }), syscall.EPERM)
	assert.Equal(t, []string{"bond0: Error: Cannot enslave bond to itself."}, e.Log.Take())
	assert.ErrorIs(t, e.Do(func() error { return b.Enslave("lo") }), syscall.EPERM)
	assert.Equal(t, []string{
		"bond0: (slave lo): enslaved VLAN challenged slave. Adding VLANs will be blocked as long as it is part of bond.",
		"bond0: (slave lo): Error: Device can not be enslaved while up",
	}, e.Log.Take())
	assert.ErrorIs(t, e.Do(func() error { return b.Release("eth1") }), syscall.EINVAL)

	require.NoError(t, e.Do(func() error { return b.Enslave("eth1") }))
	e.Log.Take()
	require.NoError(t, e.Do(func() error { return b.Release("eth0") }))
	assert.Equal(t, []string{
		"bond0: (slave eth0): Releasing backup interface",
		"bond0: (slave eth0): the permanent HWaddr of slave - 02:00:00:00:00:01 - is still in use by bond - set the HWaddr of slave to a different address to avoid conflicts",
	}, e.Log.Take())
	e.Settle()
	eth0, _ := e.Host.Link("eth0")
	assert.False(t, eth0.Up, "a released slave is closed")
	assert.Equal(t, "02:00:00:00:00:01", eth0.HWAddr.String())
	eth1, _ := e.Host.Link("eth1")
	assert.True(t, eth1.Up)
	assert.Equal(t, "02:00:00:00:00:01", eth1.HWAddr.String(), "slaves take the bond's MAC")
}

func abParams(miimon int) bond.Params {
	p := bond.DefaultParams()
	p.Mode = bond.ModeActiveBackup
	p.Miimon = miimon
	return p
}

func TestActiveBackupFailover(t *testing.T) {
	e := bondtest.New(t, abParams(10), "eth0", "eth1")
	enslave(t, e, "eth0", "eth1")
	assert.Equal(t, []string{
		"bond0: (slave eth0): making interface the new active one",
		"bond0: (slave eth0): Enslaving as an active interface with an up link",
		"bond0: (slave eth1): Enslaving as a backup interface with an up link",
	}, e.Log.Take())
	e.SetUp("bond0", true)
	st := e.Status("bond0")
	assert.Equal(t, "eth0", st.ActiveSlave)
	assert.True(t, st.Up)

	// data path: frames from the TAP go out of the active slave only
	m := e.Host.Master(st.Index)
	m.Inject(zeroFrame())
	require.True(t, e.Host.SlaveDev("eth0").WaitSent(1, waitFrames))
	assert.Equal(t, 0, e.Host.SlaveDev("eth1").Sent())
	// frames received on the backup are dropped, on the active delivered
	e.Host.SlaveDev("eth1").Inject(zeroFrame())
	require.True(t, e.Host.SlaveDev("eth1").WaitConsumed(1, waitFrames))
	assert.Equal(t, 0, m.Sent())
	e.Host.SlaveDev("eth0").Inject(zeroFrame())
	require.True(t, m.WaitSent(1, waitFrames))

	e.Host.SetCarrier("eth0", false)
	e.Settle()
	assert.Equal(t, []string{
		"bond0: (slave eth0): link status definitely down, disabling slave",
		"bond0: (slave eth1): making interface the new active one",
	}, e.Log.Take())
	st = e.Status("bond0")
	assert.Equal(t, "eth1", st.ActiveSlave)
	assert.Equal(t, 1, st.Slaves[0].LinkFailureCount)
	assert.Equal(t, bond.LinkDown, st.Slaves[0].Link)
	assert.False(t, st.Slaves[0].Active)
	m.Inject(zeroFrame())
	require.True(t, e.Host.SlaveDev("eth1").WaitSent(1, waitFrames))

	e.Host.SetCarrier("eth1", false)
	e.Settle()
	assert.Equal(t, []string{
		"bond0: (slave eth1): link status definitely down, disabling slave",
		"bond0: now running without any active interface!",
	}, e.Log.Take())
	assert.False(t, e.Status("bond0").Carrier)
	assert.False(t, m.Carrier())

	e.Host.SetCarrier("eth0", true)
	e.Settle()
	assert.Equal(t, []string{
		"bond0: (slave eth0): link status definitely up, 10000 Mbps full duplex",
		"bond0: (slave eth0): making interface the new active one",
		"bond0: active interface up!",
	}, e.Log.Take())
}

// TestCarrierPollFindsSilentChange: a carrier change without a netlink
// event (or with one linkwatch holds back) is found by the carrier read,
// one dump per miimon period, as the kernel's MII monitor finds it at its
// next tick.
func TestCarrierPollFindsSilentChange(t *testing.T) {
	e := bondtest.New(t, abParams(100), "eth0", "eth1")
	enslave(t, e, "eth0", "eth1")
	e.SetUp("bond0", true)
	e.Log.Take()
	e.Host.ModifySilently("eth0", func(l *bond.LinkInfo) { l.Carrier = false })
	e.Tick(100*time.Millisecond - time.Millisecond)
	assert.Equal(t, "eth0", e.Status("bond0").ActiveSlave)
	e.Tick(time.Millisecond)
	assert.Equal(t, "eth1", e.Status("bond0").ActiveSlave)
	assert.Equal(t, []string{
		"bond0: (slave eth0): link status definitely down, disabling slave",
		"bond0: (slave eth1): making interface the new active one",
	}, e.Log.Take())
}

func TestDownDelayStepsTicks(t *testing.T) {
	p := abParams(20)
	p.DownDelay = 10 // ticks: 200 ms
	p.UpDelay = 10
	e := bondtest.New(t, p, "eth0", "eth1")
	enslave(t, e, "eth0", "eth1")
	assert.Equal(t, bond.LinkBack, e.Status("bond0").Slaves[0].Link, "going back at enslave (updelay)")
	e.Log.Take()
	e.SetUp("bond0", true)
	// the first MII run ignores updelay without an active slave: eth0 comes
	// up at once; eth1 counts its 10 ticks
	assert.Equal(t, []string{
		"bond0: (slave eth0): link status definitely up, 10000 Mbps full duplex",
		"bond0: (slave eth0): making interface the new active one",
		"bond0: active interface up!",
	}, e.Log.Take())
	e.Tick(180 * time.Millisecond) // 9 ticks
	assert.Equal(t, bond.LinkBack, e.Status("bond0").Slaves[1].Link)
	e.Tick(20 * time.Millisecond) // the 10th
	assert.Equal(t, []string{"bond0: (slave eth1): link status definitely up, 10000 Mbps full duplex"}, e.Log.Take())
	assert.Equal(t, bond.LinkUp, e.Status("bond0").Slaves[1].Link)

	e.Host.SetCarrier("eth0", false)
	e.Settle()
	assert.Equal(t, []string{"bond0: (slave eth0): link status down for active interface, disabling it in 200 ms"}, e.Log.Take())
	assert.Equal(t, bond.LinkFail, e.Status("bond0").Slaves[0].Link)
	e.Tick(180 * time.Millisecond) // 9 more ticks: still going down
	assert.Empty(t, e.Log.Take())
	st := e.Status("bond0")
	assert.Equal(t, bond.LinkFail, st.Slaves[0].Link)
	assert.Equal(t, "eth0", st.ActiveSlave)
	e.Tick(20 * time.Millisecond) // 200 ms after the change
	assert.Equal(t, []string{
		"bond0: (slave eth0): link status definitely down, disabling slave",
		"bond0: (slave eth1): making interface the new active one",
	}, e.Log.Take())
	assert.Equal(t, "eth1", e.Status("bond0").ActiveSlave)
}

func TestDownDelayLinkUpAgain(t *testing.T) {
	p := abParams(10)
	p.DownDelay = 5
	e := bondtest.New(t, p, "eth0", "eth1")
	enslave(t, e, "eth0", "eth1")
	e.SetUp("bond0", true)
	e.Log.Take()
	e.Host.SetCarrier("eth1", false)
	e.Settle()
	assert.Equal(t, []string{"bond0: (slave eth1): link status down for backup interface, disabling it in 50 ms"}, e.Log.Take())
	e.Tick(20 * time.Millisecond)
	e.Host.SetCarrier("eth1", true)
	e.Settle()
	// down at the kick (delay 5→4), two ticks (→2): 30 ms of the 50
	assert.Equal(t, []string{
		"bond0: (slave eth1): link status up again after 30 ms",
		"bond0: (slave eth1): link status definitely up, 10000 Mbps full duplex",
	}, e.Log.Take())
	assert.Equal(t, bond.LinkUp, e.Status("bond0").Slaves[1].Link)
	assert.Equal(t, 0, e.Status("bond0").Slaves[1].LinkFailureCount)
}

func TestUpDelayGoingBack(t *testing.T) {
	p := abParams(10)
	p.UpDelay = 3 // 30 ms
	e := bondtest.New(t, p, "eth0", "eth1")
	enslave(t, e, "eth0", "eth1")
	e.SetUp("bond0", true)
	e.Tick(30 * time.Millisecond)
	e.Log.Take()
	require.Equal(t, bond.LinkUp, e.Status("bond0").Slaves[1].Link)

	e.Host.SetCarrier("eth1", false)
	e.Settle()
	assert.Equal(t, []string{"bond0: (slave eth1): link status definitely down, disabling slave"}, e.Log.Take())
	e.Host.SetCarrier("eth1", true)
	e.Settle()
	assert.Equal(t, []string{"bond0: (slave eth1): link status up, enabling it in 30 ms"}, e.Log.Take())
	assert.Equal(t, bond.LinkBack, e.Status("bond0").Slaves[1].Link)
	e.Tick(10 * time.Millisecond)
	e.Host.SetCarrier("eth1", false)
	e.Settle()
	assert.Equal(t, []string{
		"bond0: (slave eth1): link status down again after 20 ms",
		"bond0: (slave eth1): link status definitely down, disabling slave",
	}, e.Log.Take())
	assert.Equal(t, bond.LinkDown, e.Status("bond0").Slaves[1].Link)

	e.Host.SetCarrier("eth1", true)
	e.Settle()
	e.Log.Take()
	e.Tick(20 * time.Millisecond)
	assert.Equal(t, bond.LinkBack, e.Status("bond0").Slaves[1].Link, "2 of 3 ticks")
	e.Tick(10 * time.Millisecond)
	assert.Equal(t, []string{"bond0: (slave eth1): link status definitely up, 10000 Mbps full duplex"}, e.Log.Take())
	assert.Equal(t, bond.LinkUp, e.Status("bond0").Slaves[1].Link)
	assert.Equal(t, "eth0", e.Status("bond0").ActiveSlave)
}

func TestPrimaryReselect(t *testing.T) {
	e := bondtest.New(t, abParams(10), "eth0", "eth1")
	enslave(t, e, "eth0", "eth1")
	e.SetUp("bond0", true)
	write(t, e, "primary", "eth1\n")
	assert.Equal(t, "eth1", e.Status("bond0").ActiveSlave, "primary takes over at once")

	// failure: the primary coming back does not take over
	write(t, e, "primary_reselect", "failure\n")
	e.Host.SetCarrier("eth1", false)
	e.Settle()
	assert.Equal(t, "eth0", e.Status("bond0").ActiveSlave)
	e.Host.SetCarrier("eth1", true)
	e.Settle()
	assert.Equal(t, "eth0", e.Status("bond0").ActiveSlave)

	// always: reselection gives the primary back
	e.Log.Take()
	write(t, e, "primary_reselect", "always\n")
	assert.Equal(t, "eth1", e.Status("bond0").ActiveSlave)
	assert.Equal(t, []string{"bond0: (slave eth1): making interface the new active one"}, e.Log.Take())

	// better: equal speed keeps the current one
	write(t, e, "primary_reselect", "better\n")
	e.Host.SetCarrier("eth1", false)
	e.Settle()
	e.Host.SetCarrier("eth1", true)
	e.Settle()
	assert.Equal(t, "eth0", e.Status("bond0").ActiveSlave)
}

func TestRoundRobinAndXOR(t *testing.T) {
	p := bond.DefaultParams()
	p.Miimon = 10
	e := bondtest.New(t, p, "eth0", "eth1")
	enslave(t, e, "eth0", "eth1")
	e.SetUp("bond0", true)
	m := e.Host.Master(e.Status("bond0").Index)
	for i := 0; i < 10; i++ {
		m.Inject(zeroFrame())
	}
	require.True(t, m.WaitConsumed(10, waitFrames))
	assert.Equal(t, 5, e.Host.SlaveDev("eth0").Sent())
	assert.Equal(t, 5, e.Host.SlaveDev("eth1").Sent())
	// a slave without carrier gets nothing
	e.Host.SetCarrier("eth1", false)
	e.Settle()
	for i := 0; i < 4; i++ {
		m.Inject(zeroFrame())
	}
	require.True(t, m.WaitConsumed(14, waitFrames))
	assert.Equal(t, 9, e.Host.SlaveDev("eth0").Sent())
	assert.Equal(t, 5, e.Host.SlaveDev("eth1").Sent())
}

func TestSyncAppliesPendingHostChanges(t *testing.T) {
	t.Run("link by link", func(t *testing.T) { testSyncAppliesPendingHostChanges(t, false) })
	t.Run("one dump", func(t *testing.T) { testSyncAppliesPendingHostChanges(t, true) })
}

func testSyncAppliesPendingHostChanges(t *testing.T, dump bool) {
	e := bondtest.New(t, bond.DefaultParams(), "eth0", "eth1")
	e.Host.ListLinks = dump
	enslave(t, e, "eth0", "eth1")
	e.Log.Take()
	// eth1 disappears; its RTM_DELLINK has not been delivered yet
	ev, ok := e.Host.Delete("eth1", false)
	require.True(t, ok)
	require.NoError(t, e.Reg.Sync(context.Background()))
	if dump {
		assert.Positive(t, e.Host.ListCalls, "Sync used the dump")
	}
	st := e.Status("bond0")
	require.Len(t, st.Slaves, 1)
	assert.Equal(t, "eth0", st.Slaves[0].Name)
	assert.Equal(t, []string{"bond0: (slave eth1): Releasing backup interface"}, e.Log.Take())
	// the late event changes nothing
	e.Host.Send(ev)
	e.Settle()
	assert.Len(t, e.Status("bond0").Slaves, 1)
	assert.Empty(t, e.Log.Take())
}

// TestSyncSkipsWhenEventsInSync: with a host that can tell its link event
// stream is drained (LinkEventBarrier), Sync and SyncBond read nothing once
// every event is applied, and read the links while one is queued (in the
// socket) or delivered but not yet applied.
func TestSyncSkipsWhenEventsInSync(t *testing.T) {
	e := bondtest.New(t, bond.DefaultParams(), "eth0", "eth1")
	e.Host.ListLinks = true
	e.Host.EventBarrier = true
	enslave(t, e, "eth0", "eth1")
	e.Settle()
	e.Log.Take()
	ctx := context.Background()

	// drained: nothing is read
	calls, skips := e.Host.ListCalls, e.Reg.LoopStats().SyncsSkipped
	require.True(t, bond.InSync(e.Reg))
	require.NoError(t, e.Reg.Sync(ctx))
	require.NoError(t, e.Reg.SyncBond(ctx, "bond0"))
	assert.Equal(t, calls, e.Host.ListCalls, "an in-sync Sync reads no dump")
	assert.Equal(t, skips+2, e.Reg.LoopStats().SyncsSkipped)
	// an option write needs the bond's IFF_UP: in sync, the registry has it
	reads := e.Reg.LoopStats().SyncsRead
	write(t, e, "miimon", "100\n")
	assert.Equal(t, reads, e.Reg.LoopStats().SyncsRead, "an in-sync option write reads nothing")

	// an event still queued: Sync reads the links and applies the change
	e.Host.PauseEvents(true)
	_, ok := e.Host.Delete("eth1", true)
	require.True(t, ok)
	assert.False(t, bond.InSync(e.Reg))
	require.NoError(t, e.Reg.Sync(ctx))
	assert.Equal(t, calls+1, e.Host.ListCalls, "Sync read the dump")
	st := e.Status("bond0")
	require.Len(t, st.Slaves, 1)
	assert.Equal(t, "eth0", st.Slaves[0].Name)
	e.Host.PauseEvents(false)
	e.Settle()
	assert.True(t, bond.InSync(e.Reg))

	// an event delivered while the control goroutine is busy: not in sync
	// until it has been applied
	hold, held := make(chan struct{}), make(chan struct{})
	go func() {
		_ = e.Reg.Do(ctx, func() error {
			close(held)
			<-hold
			return nil
		})
	}()
	<-held
	_, ok = e.Host.Delete("eth0", true)
	require.True(t, ok)
	e.Host.WaitEvents()
	assert.False(t, bond.InSync(e.Reg), "delivered but not applied")
	close(hold)
	e.Settle()
	assert.True(t, bond.InSync(e.Reg))
	assert.Empty(t, e.Status("bond0").Slaves, "the deletion was applied")
}

// TestOptionWriteSeesBondUp: a write right after `ip link set bond0 up`
// sees the bond up (EBUSY) although the link event has not been handled.
func TestOptionWriteSeesBondUp(t *testing.T) {
	e := bondtest.New(t, bond.DefaultParams())
	e.Host.ModifySilently("bond0", func(l *bond.LinkInfo) { l.Up = true })
	err := e.Reg.WriteOption(context.Background(), "bond0", "mode", "1\n", root)
	assert.ErrorIs(t, err, syscall.EBUSY)
	assert.True(t, e.Status("bond0").Up)
	assert.Equal(t, []string{"bond0: option mode: unable to set because the bond device is up"}, e.Log.Take())
}

func TestAllSlavesActive(t *testing.T) {
	e := bondtest.New(t, abParams(0), "eth0", "eth1")
	enslave(t, e, "eth0", "eth1")
	e.SetUp("bond0", true)
	m := e.Host.Master(e.Status("bond0").Index)
	eth1 := e.Host.SlaveDev("eth1")
	eth1.Inject(zeroFrame())
	require.True(t, eth1.WaitConsumed(1, waitFrames))
	assert.Equal(t, 0, m.Sent(), "the backup slave drops received frames")
	write(t, e, "all_slaves_active", "1\n")
	eth1.Inject(zeroFrame())
	require.True(t, m.WaitSent(1, waitFrames), "all_slaves_active=1: the backup delivers")
	write(t, e, "all_slaves_active", "0\n")
	eth1.Inject(zeroFrame())
	require.True(t, eth1.WaitConsumed(3, waitFrames))
	assert.Equal(t, 1, m.Sent(), "all_slaves_active=0 again: the backup drops")
}

func TestLoopStats(t *testing.T) {
	e := bondtest.New(t, abParams(10), "eth0", "eth1")
	enslave(t, e, "eth0", "eth1")
	e.SetUp("bond0", true)
	e.Tick(time.Second)
	st := e.Reg.LoopStats()
	assert.Greater(t, st.Wait.Count, uint64(100), "a second of 10 ms MII ticks")
	// Settle's last no-op returns from inside its run, before the loop
	// records the run time: that one operation may be counted as waited
	// and not yet as run (the hand-driven clock posts nothing else)
	assert.LessOrEqual(t, st.Run.Count, st.Wait.Count)
	assert.LessOrEqual(t, st.Wait.Count-st.Run.Count, uint64(1), "every other operation counted in both")
	t.Logf("control loop: wait %v; run %v", st.Wait, st.Run)
}

// TestFailoverNotifiesPeers: after an active-backup failover the new active
// slave sends num_grat_arp gratuitous ARPs per IPv4 address and as many
// unsolicited NAs per IPv6 address (NETDEV_NOTIFY_PEERS): one round at the
// failover, the next at the next miimon tick (peer_notif_delay 0), then
// nothing more.
func TestFailoverNotifiesPeers(t *testing.T) {
	p := abParams(10)
	p.NumPeerNotif = 2
	e := bondtest.New(t, p, "eth0", "eth1")
	e.Host.SetAddrs("bond0", netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1"))
	enslave(t, e, "eth0", "eth1")
	e.SetUp("bond0", true)
	mac := e.Status("bond0").HWAddr
	eth1 := e.Host.SlaveDev("eth1")
	require.Equal(t, 0, eth1.Sent())
	e.Host.SetCarrier("eth0", false)
	e.Settle()
	require.Equal(t, "eth1", e.Status("bond0").ActiveSlave)
	require.True(t, eth1.WaitSent(2, waitFrames))
	require.Equal(t, 2, eth1.Sent(), "one round at the failover")
	e.Clock.Advance(10 * time.Millisecond)
	require.True(t, eth1.WaitSent(4, waitFrames))
	e.Tick(100 * time.Millisecond)
	bond.WaitSenders(e.Bond("bond0")) // a third round would have been sent
	frames := eth1.Frames()
	require.Len(t, frames, 4)
	frames = [][]byte{frames[0], frames[2], frames[1], frames[3]} // ARP, ARP, NA, NA
	for i, f := range frames[:2] {
		var ef ethernet.Frame
		require.NoError(t, ef.UnmarshalBinary(f[bond.VnetHdrLen:]), i)
		assert.Equal(t, ethernet.Broadcast, ef.Destination)
		assert.Equal(t, mac, ef.Source)
		require.Equal(t, ethernet.EtherTypeARP, ef.EtherType)
		ap := new(arp.Packet)
		require.NoError(t, ap.UnmarshalBinary(ef.Payload))
		assert.Equal(t, arp.OperationRequest, ap.Operation)
		assert.Equal(t, netip.MustParseAddr("192.0.2.1"), ap.SenderIP)
		assert.Equal(t, netip.MustParseAddr("192.0.2.1"), ap.TargetIP)
		assert.Equal(t, mac, ap.SenderHardwareAddr)
	}
	for i, f := range frames[2:] {
		eth := f[bond.VnetHdrLen:]
		require.Equal(t, bond.FrameND, frame.ClassifyFrame(eth), i)
		var ef ethernet.Frame
		require.NoError(t, ef.UnmarshalBinary(eth))
		assert.Equal(t, "33:33:00:00:00:01", ef.Destination.String())
		ip6 := ef.Payload
		assert.Equal(t, byte(255), ip6[7], "hop limit")
		m, err := ndp.ParseMessage(ip6[40:])
		require.NoError(t, err)
		na, ok := m.(*ndp.NeighborAdvertisement)
		require.True(t, ok)
		assert.True(t, na.Override)
		assert.False(t, na.Solicited)
		assert.Equal(t, netip.MustParseAddr("2001:db8::1"), na.TargetAddress)
		require.Len(t, na.Options, 1)
		assert.Equal(t, mac, na.Options[0].(*ndp.LinkLayerAddress).Addr)
	}
}

// TestFailoverNotifiesVLANPeers: the addresses of a VLAN device on the bond
// are announced too, tagged (vlan_device_event passes NETDEV_NOTIFY_PEERS
// on to the VLAN devices).
func TestFailoverNotifiesVLANPeers(t *testing.T) {
	p := abParams(10)
	p.NumPeerNotif = 1
	e := bondtest.New(t, p, "eth0", "eth1")
	e.Host.SetAddrs("bond0", netip.MustParseAddr("192.0.2.1"))
	enslave(t, e, "eth0", "eth1")
	e.Host.AddVLAN("bond0.100", "bond0", 100) // with the bond's MAC (eth0's now)
	e.Host.SetAddrs("bond0.100", netip.MustParseAddr("198.51.100.1"))
	e.SetUp("bond0", true)
	eth1 := e.Host.SlaveDev("eth1")
	e.Host.SetCarrier("eth0", false)
	e.Settle()
	require.True(t, eth1.WaitSent(2, waitFrames))
	fs := eth1.Frames()
	require.Len(t, fs, 2)
	tagged := fs[1][bond.VnetHdrLen:]
	assert.Equal(t, []byte{0x81, 0x00, 0x00, 100, 0x08, 0x06}, tagged[12:18])
	assert.Equal(t, fs[0][bond.VnetHdrLen+14:bond.VnetHdrLen+28], tagged[18:32], "same ARP header and sender MAC")
	assert.Equal(t, []byte{198, 51, 100, 1}, tagged[32:36])
}

// TestLateEventDoesNotUndo: a link event delivered late (rtnetlink can lag)
// carries an old state; the engine takes the link's state when it handles
// the event, so a slave set down, enslaved again and up does not flap.
func TestLateEventDoesNotUndo(t *testing.T) {
	e := bondtest.New(t, abParams(100), "eth0", "eth1")
	enslave(t, e, "eth0", "eth1")
	e.SetUp("bond0", true)
	e.Log.Take()
	stale, _ := e.Host.Link("eth1")
	stale.Up, stale.Carrier = false, false
	e.Host.Send(bond.LinkEvent{Link: stale})
	e.Settle()
	e.Tick(time.Second)
	assert.Empty(t, e.Log.Take())
	assert.Equal(t, bond.LinkUp, e.Status("bond0").Slaves[1].Link)
	assert.Equal(t, 0, e.Status("bond0").Slaves[1].LinkFailureCount)
}

// TestLinkUpSpeedReadOutside: the speed a link-up commit logs is read with
// the link state on the event's goroutine; the control goroutine never
// waits on it (Speed finds the control goroutine free).
func TestLinkUpSpeedReadOutside(t *testing.T) {
	e := bondtest.New(t, abParams(10), "eth0", "eth1")
	enslave(t, e, "eth0", "eth1")
	e.SetUp("bond0", true)
	e.Host.SetCarrier("eth1", false)
	e.Settle()
	e.Log.Take()
	var mu sync.Mutex
	var errs []error
	e.Host.OnSpeed(func(int) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		err := e.Reg.Do(ctx, func() error { return nil })
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	})
	e.Host.SetCarrier("eth1", true)
	e.Settle()
	e.Host.OnSpeed(nil)
	assert.Equal(t, []string{"bond0: (slave eth1): link status definitely up, 10000 Mbps full duplex"}, e.Log.Take())
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []error{nil}, errs, "one speed read, with the control goroutine free")
}

// TestSpeedChangeOnUpSlave: a link event with a new speed for a slave whose
// link is up replaces its speed at once (NETDEV_CHANGE's
// bond_update_speed_duplex, in every mode); a slave whose link is down
// takes the speed read with its link-up commit, as before.
func TestSpeedChangeOnUpSlave(t *testing.T) {
	e := bondtest.New(t, abParams(100), "eth0", "eth1")
	enslave(t, e, "eth0", "eth1")
	e.SetUp("bond0", true)
	e.Host.SetCarrier("eth1", false)
	e.Settle()
	e.Log.Take()
	e.Host.SetSpeed("eth0", 1000, bond.DuplexHalf)
	e.Settle()
	st := e.Status("bond0").Slaves
	assert.Equal(t, [2]int{1000, bond.DuplexHalf}, [2]int{st[0].Speed, st[0].Duplex}, "up: at once")
	e.Host.SetSpeed("eth1", 100, bond.DuplexFull) // no carrier: nothing read
	e.Host.SetCarrier("eth1", true)
	e.Settle()
	assert.Equal(t, []string{"bond0: (slave eth1): link status definitely up, 100 Mbps full duplex"}, e.Log.Take())
	assert.Equal(t, 100, e.Status("bond0").Slaves[1].Speed)
}

// TestFailoverRequeuesDropped: on an active-backup failover, the frames the
// old slave's interface dropped after its carrier was last seen up (its
// tx_dropped counter's rise) are sent again on the new active slave.
func TestFailoverRequeuesDropped(t *testing.T) {
	e := bondtest.New(t, abParams(100), "eth0", "eth1")
	enslave(t, e, "eth0", "eth1")
	e.SetUp("bond0", true)
	e.Log.Take()
	e.Host.Modify("eth0", func(l *bond.LinkInfo) { l.TxDropped = 5 })
	e.Tick(100 * time.Millisecond) // the carrier read finds tx_dropped 5 with the link up
	m := e.Host.Master(e.Status("bond0").Index)
	for i := byte(1); i <= 4; i++ {
		f := zeroFrame()
		f[len(f)-1] = i
		m.Inject(f)
	}
	eth0, eth1 := e.Host.SlaveDev("eth0"), e.Host.SlaveDev("eth1")
	require.True(t, eth0.WaitSent(4, waitFrames))
	// The peer loses carrier; eth0's driver dropped the last two frames.
	e.Host.ModifySilently("eth0", func(l *bond.LinkInfo) { l.Carrier = false; l.TxDropped = 7 })
	e.Tick(100 * time.Millisecond)
	assert.Equal(t, "eth1", e.Status("bond0").ActiveSlave)
	require.True(t, eth1.WaitSent(2, waitFrames), "the two dropped frames are resent on eth1")
	var got []byte
	for _, f := range eth1.Frames() {
		got = append(got, f[len(f)-1])
	}
	assert.Equal(t, []byte{3, 4}, got)
}
