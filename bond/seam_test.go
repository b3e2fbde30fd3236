package bond_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"bondingfs/bond"
	"bondingfs/bond/bondtest"
)

// recMode is a Mode outside bond, as modes/ad_mode.go is: it records the
// hooks the engine calls, asks the receive probe for slow-protocol and ARP
// frames, keeps every slave active and transmits on the first usable one.
type recMode struct {
	bond.ModeBase
	c     bond.Control
	calls []string
	recv  [][]byte
	ticks int
	work  *bond.Work
	fired int
}

func (m *recMode) log(format string, a ...any) { m.calls = append(m.calls, fmt.Sprintf(format, a...)) }

func (m *recMode) Open() error {
	m.log("Open")
	m.c.SetRecvProbe(bond.FrameSlow | bond.FrameARP)
	m.work = m.c.NewWork(func() { m.fired++ })
	m.work.Queue(50 * time.Millisecond)
	return nil
}
func (m *recMode) Close() { m.log("Close") }
func (m *recMode) Bind(s *bond.Slave) error {
	m.log("Bind %s", s.Name())
	m.c.SetSlaveActive(s)
	return nil
}
func (m *recMode) Unbind(s *bond.Slave)        { m.log("Unbind %s", s.Name()) }
func (m *recMode) LinkChanged(s *bond.Slave)   { m.log("LinkChanged %s %d", s.Name(), s.Link()) }
func (m *recMode) OptionChanged(name string)   { m.log("OptionChanged %s", name) }
func (m *recMode) Tick() time.Duration         { m.ticks++; return 100 * time.Millisecond }
func (m *recMode) Carrier() (on, decided bool) { return len(m.c.Slaves()) >= 2, true }
func (m *recMode) Recv(s *bond.Slave, f []byte) {
	m.recv = append(m.recv, append([]byte(nil), f...))
	// answer on the same slave with our own source MAC
	_ = m.c.Send(s, append(make([]byte, bond.VnetHdrLen), f...))
}
func (m *recMode) Tx(v bond.TxView) bond.TxSelector { return firstTx(v.UsableDevs) }
func (m *recMode) Status(st *bond.BondStatus) {
	st.AD = &bond.ADStatus{SystemPriority: len(m.calls)}
}

type firstTx []bond.SlaveDev

func (t firstTx) Xmit(f []byte) {
	if len(t) > 0 {
		_ = t[0].WriteFrame(f)
	}
}

// recModes hands in a recMode for 802.3ad; *cur is the newest instance.
func recModes(cur **recMode) map[bond.ModeID]bond.ModeFactory {
	return map[bond.ModeID]bond.ModeFactory{bond.Mode8023AD: func(c bond.Control) bond.Mode {
		*cur = &recMode{c: c}
		return *cur
	}}
}

func ethFrame(etherType uint16, n int) []byte {
	f := make([]byte, bond.VnetHdrLen+n)
	e := f[bond.VnetHdrLen:]
	copy(e[6:12], []byte{2, 0, 0, 0, 0, 0x99})
	binary.BigEndian.PutUint16(e[12:14], etherType)
	return f
}

func TestModeSeam(t *testing.T) {
	var m *recMode
	p := bond.DefaultParams()
	p.Mode, p.Miimon = bond.Mode8023AD, 100
	e := bondtest.NewWithModes(t, p, recModes(&m), "eth0", "eth1")
	require.NotNil(t, m, "the mode handed in serves the new bond")
	enslave(t, e, "eth0")
	assert.False(t, e.Status("bond0").Carrier, "the mode decides the carrier: one slave is not enough")
	enslave(t, e, "eth1")
	assert.True(t, e.Status("bond0").Carrier)
	e.SetUp("bond0", true)
	assert.Error(t, e.Reg.WriteOption(context.Background(), "bond0", "lacp_rate", "fast\n", root))
	write(t, e, "ad_actor_sys_prio", "100\n")

	var calls []string
	_ = e.Do(func() error { calls = append(calls, m.calls...); return nil })
	assert.Equal(t, []string{"Bind eth0", "Bind eth1", "Open", "OptionChanged ad_actor_sys_prio"}, calls)
	assert.Equal(t, len(calls), e.Status("bond0").AD.SystemPriority, "Status fills the snapshot")

	// Tick runs at once after Open, then on the mode's own period; the
	// mode's work fires once after 50 ms
	ticks := func() (n, fired int) {
		_ = e.Do(func() error { n, fired = m.ticks, m.fired; return nil })
		return
	}
	n, fired := ticks()
	assert.Equal(t, 1, n)
	assert.Equal(t, 0, fired)
	e.Tick(300 * time.Millisecond)
	n, fired = ticks()
	assert.Equal(t, 4, n)
	assert.Equal(t, 1, fired)

	// the receive probe: slow protocols are handed over and consumed, ARP
	// handed over and delivered, other frames only delivered
	tap := e.Host.Master(e.Status("bond0").Index)
	eth0 := e.Host.SlaveDev("eth0")
	eth0.Inject(ethFrame(0x8809, 124))
	eth0.Inject(ethFrame(0x0806, 42))
	eth0.Inject(ethFrame(0x0800, 60))
	require.True(t, eth0.WaitConsumed(3, waitFrames))
	require.True(t, tap.WaitSent(2, waitFrames))
	e.Settle()
	var recv [][]byte
	_ = e.Do(func() error { recv = m.recv; return nil })
	require.Len(t, recv, 2)
	assert.Equal(t, ethFrame(0x8809, 124)[bond.VnetHdrLen:], recv[0], "Recv gets the Ethernet frame")
	assert.Equal(t, uint16(0x0806), binary.BigEndian.Uint16(recv[1][12:14]))
	for _, f := range tap.Frames() {
		assert.NotEqual(t, uint16(0x8809), binary.BigEndian.Uint16(f[bond.VnetHdrLen+12:]), "a slow-protocol frame reached the bond device")
	}
	assert.Equal(t, 2, eth0.Sent(), "Control.Send answered on the slave")

	// the selector the mode built carries the bond's frames
	tap.Inject(ethFrame(0x0800, 60))
	require.True(t, eth0.WaitSent(3, waitFrames))

	// carrier changes reach LinkChanged; down clears the probe
	e.Host.SetCarrier("eth1", false)
	e.Settle()
	e.SetUp("bond0", false)
	require.NoError(t, e.Do(func() error { return e.Reg.Bond("bond0").Release("eth0") }))
	calls = nil
	_ = e.Do(func() error { calls = append(calls, m.calls...); return nil })
	assert.Equal(t, []string{
		"LinkChanged eth1 2", "Close", "Unbind eth0",
	}, calls[4:])
	eth1 := e.Host.SlaveDev("eth1")
	eth1.Inject(ethFrame(0x8809, 124))
	require.True(t, eth1.WaitConsumed(1, waitFrames))
	e.Settle()
	_ = e.Do(func() error { recv = m.recv; return nil })
	assert.Len(t, recv, 2, "no probe while the bond is down")
}

func TestConfigModesUnknown(t *testing.T) {
	assert.Panics(t, func() {
		bond.NewRegistry(bond.Config{Modes: map[bond.ModeID]bond.ModeFactory{7: func(bond.Control) bond.Mode { return nil }}})
	})
	assert.Panics(t, func() { bond.NewRegistry(bond.Config{Modes: map[bond.ModeID]bond.ModeFactory{bond.ModeALB: nil}}) })
}

// TestModeNotConfigured: a mode that Config.Modes lacks is refused as an
// unsupported value (EINVAL with bond_opt_parse's log line), and a bond
// cannot be created with it as its default mode; bond's own four modes
// need no configuration.
func TestModeNotConfigured(t *testing.T) {
	e := bondtest.New(t, bond.DefaultParams(), "eth0")
	for _, m := range []string{"802.3ad", "4", "balance-tlb", "balance-alb"} {
		err := e.Reg.WriteOption(context.Background(), "bond0", "mode", m+"\n", root)
		assert.Equal(t, syscall.EINVAL, bond.ErrnoOf(err), m)
		assert.Equal(t, []string{"bond0: option mode: invalid value (" + m + ")"}, e.Log.Take(), m)
	}
	assert.Equal(t, bond.ModeRoundRobin, e.Status("bond0").Params.Mode)
	for _, m := range []string{"balance-rr", "active-backup", "balance-xor", "broadcast"} {
		require.NoError(t, e.Reg.WriteOption(context.Background(), "bond0", "mode", m+"\n", root), m)
	}
	assert.Equal(t, bond.ModeBroadcast, e.Status("bond0").Params.Mode)

	p := bond.DefaultParams()
	p.Mode = bond.ModeALB
	r := bond.NewRegistry(bond.Config{Host: bondtest.NewHost(), Defaults: p})
	require.NoError(t, r.Start())
	defer r.Close()
	assert.Equal(t, syscall.EINVAL, bond.ErrnoOf(r.CreateBond(context.Background(), "bond0")))
	assert.Empty(t, r.Snapshot().Bonds)
}

func TestModeIDPredicates(t *testing.T) {
	cases := []struct {
		m                                    bond.ModeID
		name                                 string
		primary, arp, lb, hash, activeBackup bool
	}{
		{bond.ModeRoundRobin, "balance-rr", false, true, false, false, false},
		{bond.ModeActiveBackup, "active-backup", true, true, false, false, true},
		{bond.ModeXOR, "balance-xor", false, true, false, true, false},
		{bond.ModeBroadcast, "broadcast", false, true, false, false, false},
		{bond.Mode8023AD, "802.3ad", false, false, false, true, false},
		{bond.ModeTLB, "balance-tlb", true, false, true, true, false},
		{bond.ModeALB, "balance-alb", true, false, true, true, false},
	}
	for _, c := range cases {
		assert.Equal(t, c.name, c.m.String())
		assert.Equal(t, c.primary, c.m.UsesPrimary(), c.name)
		assert.Equal(t, c.arp, c.m.UsesARPMonitor(), c.name)
		assert.Equal(t, c.lb, c.m.IsLB(), c.name)
		assert.Equal(t, c.hash, c.m.CanUseXmitHash(), c.name)
		assert.Equal(t, c.activeBackup, c.m.IsActiveBackup(), c.name)
	}
	assert.Equal(t, "mode(9)", bond.ModeID(9).String())
}

func TestErrnoOf(t *testing.T) {
	assert.Equal(t, syscall.Errno(0), bond.ErrnoOf(nil))
	assert.Equal(t, syscall.EINVAL, bond.ErrnoOf(errors.New("x")))
	assert.Equal(t, syscall.ENODEV, bond.ErrnoOf(fmt.Errorf("link: %w", syscall.ENODEV)))
	joined := errors.Join(errors.New("first"), fmt.Errorf("second: %w", syscall.EBUSY))
	assert.Equal(t, syscall.EBUSY, bond.ErrnoOf(joined), "errors.Join is looked through")
	assert.Equal(t, syscall.EPERM, bond.ErrnoOf(fmt.Errorf("outer: %w", errors.Join(syscall.EPERM))))
}

// TestWorkCancel: a cancelled work does not run, even when its timer has
// already fired; Queue replaces a pending run.
func TestWorkCancel(t *testing.T) {
	e := bondtest.New(t, bond.DefaultParams())
	b := e.Bond("bond0")
	runs := 0
	var w *bond.Work
	_ = e.Do(func() error {
		w = b.NewWork(func() { runs++ })
		w.Queue(10 * time.Millisecond)
		w.Queue(30 * time.Millisecond) // replaces the 10 ms run
		return nil
	})
	e.Tick(20 * time.Millisecond)
	_ = e.Do(func() error { assert.Equal(t, 0, runs); assert.True(t, w.Pending()); return nil })
	e.Tick(10 * time.Millisecond)
	_ = e.Do(func() error { assert.Equal(t, 1, runs); assert.False(t, w.Pending()); return nil })

	// the timer fires, but Cancel comes before the control goroutine runs it
	hook := e.Clock.AfterFire
	e.Clock.AfterFire = nil
	block, started, done := make(chan struct{}), make(chan struct{}), make(chan struct{})
	_ = e.Do(func() error { w.Queue(10 * time.Millisecond); return nil })
	go func() {
		_ = e.Do(func() error { close(started); <-block; w.Cancel(); return nil })
		close(done)
	}()
	<-started
	e.Clock.Advance(10 * time.Millisecond) // posts the run behind the blocked op
	close(block)
	<-done
	e.Clock.AfterFire = hook
	e.Settle()
	_ = e.Do(func() error { assert.Equal(t, 1, runs, "a cancelled run never happens"); return nil })
}

// lacpMode stands for modes/ad_mode.go's adapter of modes/lacp.
type lacpMode struct {
	bond.ModeBase
	c bond.Control
}

func (m *lacpMode) Open() error {
	m.c.SetRecvProbe(bond.FrameSlow) // LACPDUs and markers, consumed
	return nil
}

func (m *lacpMode) Tick() time.Duration { return 100 * time.Millisecond } // AD_TIMER_INTERVAL

// A mode outside bond is handed in through Config.Modes (the daemon passes
// modes.Factories()); every bond created in or switched to 802.3ad gets a
// new instance.
func ExampleConfig_modes() {
	r := bond.NewRegistry(bond.Config{
		Host:     bondtest.NewHost(),
		Defaults: bond.DefaultParams(),
		Modes: map[bond.ModeID]bond.ModeFactory{
			bond.Mode8023AD: func(c bond.Control) bond.Mode { return &lacpMode{c: c} },
		},
	})
	_ = r
}
