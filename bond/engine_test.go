package bond

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWriteMasters(t *testing.T) {
	r, h, lg := newEngine(t, DefaultParams())
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
	}
	for _, c := range cases {
		err := r.WriteMasters(ctx, c.in)
		if c.err == nil {
			assert.NoError(t, err, c.in)
		} else {
			assert.ErrorIs(t, err, c.err, c.in)
		}
		assert.Equal(t, c.logs, lg.take(), c.in)
	}
	var names []string
	for _, b := range r.Snapshot().Bonds {
		names = append(names, b.Name)
	}
	// "+bond%d" took bond2: bond0 and bond1 existed
	assert.Equal(t, []string{"bond0", "bond", "bond2"}, names)
	_, err := h.LinkByName("bond1")
	assert.ErrorIs(t, err, syscall.ENODEV, "the TAP of a deleted bond is gone")
}

func TestEnslaveRules(t *testing.T) {
	r, h, lg := newEngine(t, DefaultParams())
	b := r.bondNamed(t, "bond0")
	require.NoError(t, do(t, r, func() error { return b.Enslave("eth0") }))
	assert.Equal(t, []string{"bond0: (slave eth0): Enslaving as an active interface with an up link"}, lg.take())
	settle(t, r)
	st := r.Snapshot().Bond("bond0")
	assert.Equal(t, "02:00:00:00:00:01", st.HWAddr.String(), "bond takes the first slave's MAC")
	assert.True(t, st.Carrier)
	require.Len(t, st.Slaves, 1)
	assert.Equal(t, 10000, st.Slaves[0].Speed)

	assert.ErrorIs(t, do(t, r, func() error { return b.Enslave("eth0") }), syscall.EBUSY)
	assert.Equal(t, []string{"bond0: (slave eth0): Error: Device is in use and cannot be enslaved"}, lg.take())
	assert.ErrorIs(t, do(t, r, func() error { return b.Enslave("bond0") }), syscall.EPERM)
	assert.Equal(t, []string{"bond0: Error: Cannot enslave bond to itself."}, lg.take())
	assert.ErrorIs(t, do(t, r, func() error { return b.Enslave("lo") }), syscall.EPERM)
	assert.Equal(t, []string{
		"bond0: (slave lo): enslaved VLAN challenged slave. Adding VLANs will be blocked as long as it is part of bond.",
		"bond0: (slave lo): Error: Device can not be enslaved while up",
	}, lg.take())
	assert.ErrorIs(t, do(t, r, func() error { return b.Release("eth1") }), syscall.EINVAL)

	require.NoError(t, do(t, r, func() error { return b.Enslave("eth1") }))
	lg.take()
	require.NoError(t, do(t, r, func() error { return b.Release("eth0") }))
	assert.Equal(t, []string{
		"bond0: (slave eth0): Releasing backup interface",
		"bond0: (slave eth0): the permanent HWaddr of slave - 02:00:00:00:00:01 - is still in use by bond - set the HWaddr of slave to a different address to avoid conflicts",
	}, lg.take())
	settle(t, r)
	eth0, _ := h.LinkByName("eth0")
	assert.False(t, eth0.Up, "a released slave is closed")
	assert.Equal(t, "02:00:00:00:00:01", eth0.HWAddr.String())
	eth1, _ := h.LinkByName("eth1")
	assert.True(t, eth1.Up)
	assert.Equal(t, "02:00:00:00:00:01", eth1.HWAddr.String(), "slaves take the bond's MAC")
}

func (r *Registry) bondNamed(t *testing.T, name string) *Bond {
	var b *Bond
	_ = do(t, r, func() error { b = r.Bond(name); return nil })
	require.NotNil(t, b)
	return b
}

func TestActiveBackupFailover(t *testing.T) {
	p := DefaultParams()
	p.Mode = ModeActiveBackup
	p.Miimon = 10
	r, h, lg := newEngine(t, p)
	b := r.bondNamed(t, "bond0")
	require.NoError(t, do(t, r, func() error { return b.Enslave("eth0") }))
	require.NoError(t, do(t, r, func() error { return b.Enslave("eth1") }))
	assert.Equal(t, []string{
		"bond0: (slave eth0): making interface the new active one",
		"bond0: (slave eth0): Enslaving as an active interface with an up link",
		"bond0: (slave eth1): Enslaving as a backup interface with an up link",
	}, lg.take())
	require.NoError(t, h.SetLinkUp(r.Snapshot().Bond("bond0").Index, true))
	settle(t, r)
	st := r.Snapshot().Bond("bond0")
	assert.Equal(t, "eth0", st.ActiveSlave)
	assert.True(t, st.Up)

	// data path: frames from the TAP go out of the active slave only
	m := h.master[st.Index]
	frame := make([]byte, VnetHdrLen+60)
	m.in <- frame
	require.Eventually(t, func() bool { return h.port("eth0").Sent() == 1 }, time.Second, time.Millisecond)
	assert.Equal(t, 0, h.port("eth1").Sent())
	// frames received on the backup are dropped, on the active delivered
	h.port("eth1").in <- frame
	h.port("eth0").in <- frame
	require.Eventually(t, func() bool { return m.Sent() == 1 }, time.Second, time.Millisecond)

	h.setCarrier("eth0", false)
	settle(t, r)
	assert.Equal(t, []string{
		"bond0: (slave eth0): link status definitely down, disabling slave",
		"bond0: (slave eth1): making interface the new active one",
	}, lg.take())
	st = r.Snapshot().Bond("bond0")
	assert.Equal(t, "eth1", st.ActiveSlave)
	assert.Equal(t, 1, st.Slaves[0].LinkFailureCount)
	assert.Equal(t, LinkDown, st.Slaves[0].Link)
	assert.False(t, st.Slaves[0].Active)
	m.in <- frame
	require.Eventually(t, func() bool { return h.port("eth1").Sent() == 1 }, time.Second, time.Millisecond)

	h.setCarrier("eth1", false)
	settle(t, r)
	assert.Equal(t, []string{
		"bond0: (slave eth1): link status definitely down, disabling slave",
		"bond0: now running without any active interface!",
	}, lg.take())
	assert.False(t, r.Snapshot().Bond("bond0").Carrier)

	h.setCarrier("eth0", true)
	settle(t, r)
	assert.Equal(t, []string{
		"bond0: (slave eth0): link status definitely up, 10000 Mbps full duplex",
		"bond0: (slave eth0): making interface the new active one",
		"bond0: active interface up!",
	}, lg.take())
}

func TestDownDelay(t *testing.T) {
	p := DefaultParams()
	p.Mode = ModeActiveBackup
	p.Miimon = 20
	p.DownDelay = 10 // ticks: 200 ms
	p.UpDelay = 10
	r, h, lg := newEngine(t, p)
	b := r.bondNamed(t, "bond0")
	require.NoError(t, do(t, r, func() error { return b.Enslave("eth0") }))
	require.NoError(t, do(t, r, func() error { return b.Enslave("eth1") }))
	require.NoError(t, h.SetLinkUp(b.index, true))
	settle(t, r)
	time.Sleep(300 * time.Millisecond) // the slaves were "going back" at enslave
	lg.take()
	h.setCarrier("eth0", false)
	settle(t, r)
	assert.Equal(t, []string{"bond0: (slave eth0): link status down for active interface, disabling it in 200 ms"}, lg.take())
	assert.Equal(t, LinkFail, r.Snapshot().Bond("bond0").Slaves[0].Link)
	require.Eventually(t, func() bool { return r.Snapshot().Bond("bond0").ActiveSlave == "eth1" }, 2*time.Second, 5*time.Millisecond)
	assert.Equal(t, []string{
		"bond0: (slave eth0): link status definitely down, disabling slave",
		"bond0: (slave eth1): making interface the new active one",
	}, lg.take())
}

func TestRoundRobinAndXOR(t *testing.T) {
	p := DefaultParams()
	p.Miimon = 10
	r, h, _ := newEngine(t, p)
	b := r.bondNamed(t, "bond0")
	require.NoError(t, do(t, r, func() error { return b.Enslave("eth0") }))
	require.NoError(t, do(t, r, func() error { return b.Enslave("eth1") }))
	require.NoError(t, h.SetLinkUp(b.index, true))
	settle(t, r)
	m := h.master[b.index]
	for i := 0; i < 10; i++ {
		m.in <- make([]byte, VnetHdrLen+60)
	}
	require.Eventually(t, func() bool { return h.port("eth0").Sent()+h.port("eth1").Sent() == 10 }, time.Second, time.Millisecond)
	assert.Equal(t, 5, h.port("eth0").Sent())
	// a slave without carrier gets nothing
	h.setCarrier("eth1", false)
	settle(t, r)
	for i := 0; i < 4; i++ {
		m.in <- make([]byte, VnetHdrLen+60)
	}
	require.Eventually(t, func() bool { return h.port("eth0").Sent() == 9 }, time.Second, time.Millisecond)
	assert.Equal(t, 5, h.port("eth1").Sent())
}

func TestXmitHash(t *testing.T) {
	f := make([]byte, 14+20+8)
	f[5], f[11] = 1, 2
	f[12], f[13] = 0x08, 0x00
	f[14] = 0x45
	f[14+9] = 17
	copy(f[14+12:], []byte{192, 0, 2, 1, 192, 0, 2, 2})
	l2 := XmitHash(XmitLayer2, f)
	assert.Equal(t, uint32(1^2^0x0800), l2)
	a := XmitHash(XmitLayer34, f)
	f[34], f[35] = 0x12, 0x34 // source port
	assert.NotEqual(t, a, XmitHash(XmitLayer34, f), "layer3+4 uses ports")
	assert.Equal(t, XmitHash(XmitLayer23, f), XmitHash(XmitLayer23, f[:34+8]))
}

func FuzzXmitHash(f *testing.F) {
	f.Add(0, []byte{})
	f.Add(1, make([]byte, 60))
	f.Fuzz(func(t *testing.T, policy int, frame []byte) {
		_ = XmitHash(policy%6, frame)
	})
}

func TestSyncAppliesPendingHostChanges(t *testing.T) {
	r, h, lg := newEngine(t, DefaultParams())
	b := r.bondNamed(t, "bond0")
	require.NoError(t, do(t, r, func() error { return b.Enslave("eth0") }))
	require.NoError(t, do(t, r, func() error { return b.Enslave("eth1") }))
	settle(t, r)
	lg.take()
	// eth1 disappears; its RTM_DELLINK has not been delivered yet
	h.mu.Lock()
	l, _ := h.find("eth1")
	delete(h.links, l.Index)
	h.mu.Unlock()
	require.NoError(t, r.Sync(context.Background()))
	st := r.Snapshot().Bond("bond0")
	require.Len(t, st.Slaves, 1)
	assert.Equal(t, "eth0", st.Slaves[0].Name)
	assert.Equal(t, []string{"bond0: (slave eth1): Releasing backup interface"}, lg.take())
	// the late event changes nothing
	h.mu.Lock()
	fn := h.fn
	h.mu.Unlock()
	fn(LinkEvent{Link: *l, Deleted: true})
	settle(t, r)
	assert.Len(t, r.Snapshot().Bond("bond0").Slaves, 1)
	assert.Empty(t, lg.take())
}
