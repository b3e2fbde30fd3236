package modes

import (
	"context"
	"encoding/binary"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"bondingfs/bond"
	"bondingfs/bond/bondtest"
	"bondingfs/modes/lacp"
)

func TestMain(m *testing.M) { bondtest.VerifyTestMain(m) }

var root = bond.Caller{NetAdmin: true}

// adEnv is bond0 (802.3ad, miimon 100) in a bondtest.Env with slaves eth0
// and eth1, whose far ends are the ports 0 and 1 of a pure lacp.System
// ("peer", the link partner) that the test drives tick by tick.
type adEnv struct {
	*bondtest.Env
	t     *testing.T
	peer  *lacp.System
	out   [][]byte      // frames the peer sent, to deliver
	outTo []lacp.PortID // their ports
	seen  [2]int        // frames of eth0/eth1 already handed to the peer
	inj   [2]int        // frames injected into eth0/eth1
	names [2]string
	logs  []string
}

var peerMAC = [6]byte{0x02, 0, 0, 0, 0xee, 0}

func newADEnv(t *testing.T, fast bool) *adEnv { return newADEnvWait(t, fast, rxWait) }

// newADEnvWait is newADEnv with waitRx bounded by rxWaitMax.
func newADEnvWait(t *testing.T, fast bool, rxWaitMax time.Duration) *adEnv {
	p := bond.DefaultParams()
	p.Mode, p.Miimon = bond.Mode8023AD, 100
	if fast {
		p.LACPRate = 1
	}
	modes := Factories()
	modes[bond.Mode8023AD] = func(c bond.Control) bond.Mode { return newAD(c, rxWaitMax) }
	a := &adEnv{Env: bondtest.NewWithModes(t, p, modes, "eth0", "eth1"), t: t, names: [2]string{"eth0", "eth1"}}
	opt := lacp.DefaultOptions()
	opt.LACPFast = fast
	a.peer = lacp.New(lacp.Config{
		Name: "peer", BondMAC: peerMAC, Options: opt,
		Transmit: func(id lacp.PortID, f []byte) {
			a.out = append(a.out, append([]byte(nil), f...))
			a.outTo = append(a.outTo, id)
		},
		Log:     func(e lacp.Event) { a.logs = append(a.logs, e.Text) },
		Changed: func(lacp.Change) {},
	})
	up := lacp.Link{Status: lacp.LinkUp, Speed: 10000, Duplex: lacp.DuplexFull, DevUp: true}
	for i := 0; i < 2; i++ {
		m := peerMAC
		m[5] = byte(i + 1)
		require.NoError(t, a.peer.AddPort(lacp.PortID(i), "peer"+string(rune('0'+i)), m, up))
	}
	a.peer.Open()
	return a
}

func (a *adEnv) enslave(names ...string) {
	a.t.Helper()
	for _, n := range names {
		require.NoError(a.t, a.Do(func() error { return a.Reg.Bond("bond0").Enslave(n) }))
	}
	a.settle()
}

func (a *adEnv) mode() *adMode {
	var m *adMode
	_ = a.Do(func() error { m, _ = a.Reg.Bond("bond0").Mode().(*adMode); return nil })
	require.NotNil(a.t, m)
	return m
}

// settle waits for the engine, including an apply a tick has posted.
func (a *adEnv) settle() {
	m := a.mode()
	for m.syncPending.Load() {
		runtime.Gosched()
	}
	a.Settle()
}

// shuttle hands the LACPDUs bond0's ports sent to the peer, and the peer's
// to bond0's ports (through their readers and the receive probe).
func (a *adEnv) shuttle(inject bool) {
	for i, n := range a.names {
		d := a.Host.SlaveDev(n)
		if d == nil {
			continue
		}
		fr := d.Frames()
		for _, f := range fr[a.seen[i]:] {
			eth := f[bond.VnetHdrLen:]
			if len(eth) >= 14 && binary.BigEndian.Uint16(eth[12:14]) == lacp.EtherTypeSlow {
				a.peer.Receive(lacp.PortID(i), eth)
			}
		}
		a.seen[i] = len(fr)
	}
	if inject {
		for k, f := range a.out {
			if d := a.Host.SlaveDev(a.names[a.outTo[k]]); d != nil {
				d.Inject(append(make([]byte, bond.VnetHdrLen), f...))
				a.inj[a.outTo[k]]++
			}
		}
		a.out, a.outTo = nil, nil
	}
	for i, n := range a.names {
		if d := a.Host.SlaveDev(n); d != nil {
			require.True(a.t, d.WaitConsumed(a.inj[i], 5*time.Second), "%s reader", n)
		}
	}
}

// inject hands a frame to bond0's slave i (counted for shuttle's wait).
func (a *adEnv) inject(i int, f []byte) {
	a.Host.SlaveDev(a.names[i]).Inject(f)
	a.inj[i]++
}

// step advances 100 ms on both sides.
func (a *adEnv) step() {
	a.Clock.Advance(lacp.TickInterval * time.Millisecond)
	a.peer.Tick()
	a.shuttle(true)
	a.settle()
	a.shuttle(false)
}

func (a *adEnv) distributing() bool {
	st := a.Status("bond0")
	if st == nil || st.AD == nil || st.AD.ActiveAggregator == nil || st.AD.ActiveAggregator.NumPorts != 2 {
		return false
	}
	for _, s := range st.Slaves {
		if s.AD == nil || s.AD.ActorOperState&0x30 != 0x30 || s.AD.PartnerOperState&0x30 != 0x30 {
			return false
		}
	}
	return len(a.peer.DistributingPorts(nil)) == 2
}

func (a *adEnv) negotiate() int {
	a.t.Helper()
	for i := 1; i <= 100; i++ {
		a.step()
		if a.distributing() {
			return i
		}
	}
	a.t.Fatalf("no aggregation after 10 s: %+v", a.Status("bond0").AD)
	return -1
}

// dataFrame is an IPv4/UDP frame from src to dst with a vnet header.
func dataFrame(dst, src byte, sport uint16) []byte {
	f := make([]byte, bond.VnetHdrLen+14+20+8)
	e := f[bond.VnetHdrLen:]
	copy(e[0:6], []byte{0x02, 0, 0, 0, 0xee, dst})
	copy(e[6:12], []byte{0x02, 0, 0, 0, 0, src})
	binary.BigEndian.PutUint16(e[12:14], 0x0800)
	ip := e[14:]
	ip[0], ip[9] = 0x45, 17
	copy(ip[12:16], []byte{192, 0, 2, 1})
	copy(ip[16:20], []byte{192, 0, 2, 2})
	binary.BigEndian.PutUint16(ip[20:22], sport)
	binary.BigEndian.PutUint16(ip[22:24], 5201)
	return f
}

func TestADNegotiatesAndDistributes(t *testing.T) {
	a := newADEnv(t, true)
	a.enslave("eth0", "eth1")
	st := a.Status("bond0")
	require.NotNil(t, st.AD)
	assert.Nil(t, st.AD.ActiveAggregator, "no aggregator before the bond is up")
	for _, s := range st.Slaves {
		assert.False(t, s.Active, "802.3ad enslaves as backup")
		require.NotNil(t, s.ADStats)
	}
	assert.Equal(t, []string{
		"bond0: (slave eth0): Enslaving as a backup interface with an up link",
		"bond0: (slave eth1): Enslaving as a backup interface with an up link",
	}, a.Log.Take())

	a.SetUp("bond0", true)
	ticks := a.negotiate()
	t.Logf("both links Collecting_Distributing after %d ticks", ticks)
	assert.LessOrEqual(t, ticks, 30, "fast LACP aggregates within 3 s")

	st = a.Status("bond0")
	agg := st.AD.ActiveAggregator
	assert.Equal(t, 2, agg.NumPorts)
	assert.Equal(t, peerMAC[:], []byte(agg.PartnerMAC))
	assert.True(t, st.Carrier)
	for _, s := range st.Slaves {
		assert.True(t, s.Active, "%s distributes", s.Name)
		assert.Equal(t, 63, s.AD.ActorOperState, s.Name)
		assert.Equal(t, 63, s.AD.PartnerOperState, s.Name)
		assert.NotZero(t, s.ADStats.LACPDURx, s.Name)
		assert.NotZero(t, s.ADStats.LACPDUTx, s.Name)
		src := a.Host.SlaveDev(s.Name).Frames()[0][bond.VnetHdrLen+6 : bond.VnetHdrLen+12]
		assert.Equal(t, []byte(s.PermHWAddr), src, "LACPDUs leave %s from its own MAC", s.Name)
	}
	assert.Equal(t, st.Slaves[0].ADStats.LACPDURx+st.Slaves[1].ADStats.LACPDURx, st.AD.Stats.LACPDURx)

	// data: layer2 hashes dst[5]^src[5]^0x0800 over the two ports
	tap := a.Host.Master(st.Index)
	n0, n1 := a.Host.SlaveDev("eth0").Sent(), a.Host.SlaveDev("eth1").Sent()
	tap.Inject(dataFrame(2, 1, 1000)) // hash 3+0x800: odd → eth1
	tap.Inject(dataFrame(3, 1, 1000)) // even → eth0
	require.True(t, a.Host.SlaveDev("eth1").WaitSent(n1+1, 5*time.Second))
	require.True(t, a.Host.SlaveDev("eth0").WaitSent(n0+1, 5*time.Second))

	// a frame received on a distributing port goes up the bond
	sent := tap.Sent()
	a.inject(0, dataFrame(1, 9, 7))
	require.True(t, tap.WaitSent(sent+1, 5*time.Second))

	// the peer's port 1 goes away: eth1 leaves the aggregator (its partner
	// expires after 3 s), eth0 carries everything, frames received on eth1
	// are dropped
	a.Host.SetCarrier("eth1", false)
	a.settle()
	for i := 0; i < 40; i++ {
		a.step()
	}
	st = a.Status("bond0")
	assert.Equal(t, 1, st.AD.ActiveAggregator.NumPorts)
	assert.True(t, st.Slaves[0].Active)
	assert.False(t, st.Slaves[1].Active)
	n0 = a.Host.SlaveDev("eth0").Sent()
	tap.Inject(dataFrame(2, 1, 1000)) // was eth1's flow
	require.True(t, a.Host.SlaveDev("eth0").WaitSent(n0+1, 5*time.Second))
	logs := a.Log.Take()
	assert.Contains(t, logs, "bond0: (slave eth1): link status definitely down, disabling slave")
}

// TestADNotStarved blocks the control goroutine for a second, then four,
// while a fast partner expects an LACPDU every second (and expires after
// 3 s without): the adapter's own timer keeps sending LACPDUs, the slave
// readers keep handing the partner's to the protocol, neither side expires,
// and the data path keeps using both links.
func TestADNotStarved(t *testing.T) {
	a := newADEnv(t, true)
	a.enslave("eth0", "eth1")
	a.SetUp("bond0", true)
	a.negotiate()
	st := a.Status("bond0")
	tap := a.Host.Master(st.Index)
	m := a.mode()

	for _, block := range []int{10, 40} { // ticks of 100 ms
		release := make(chan struct{})
		running := make(chan struct{})
		done := make(chan struct{})
		var once sync.Once
		unblock := func() { once.Do(func() { close(release) }) }
		t.Cleanup(unblock) // a failed require must not leave the loop blocked
		go func() {
			_ = a.Reg.Do(context.Background(), func() error {
				close(running)
				<-release // a slow enslave, a stuck host call
				return nil
			})
			close(done)
		}()
		<-running
		hook := a.Clock.AfterFire
		a.Clock.AfterFire = nil // Settle would wait for the blocked goroutine
		tx0 := a.Host.SlaveDev("eth0").Sent() + a.Host.SlaveDev("eth1").Sent()
		for i := 0; i < block; i++ {
			a.Clock.Advance(lacp.TickInterval * time.Millisecond)
			a.peer.Tick()
			a.shuttle(true) // received on the readers while the control goroutine waits
			for id := lacp.PortID(0); id < 2; id++ {
				p, _ := a.peer.Port(id)
				require.Equal(t, lacp.RxCurrent, p.RxState, "peer port %d at tick %d of the block", id, i)
				require.Equal(t, lacp.MuxCollectingDistributing, p.MuxState, "peer port %d at tick %d of the block", id, i)
				m.mu.Lock()
				q, _ := m.sys.Port(id)
				m.mu.Unlock()
				require.Equal(t, lacp.RxCurrent, q.RxState, "bond0 port %d at tick %d of the block", id, i)
				require.Equal(t, lacp.MuxCollectingDistributing, q.MuxState, "bond0 port %d at tick %d of the block", id, i)
			}
		}
		tx := a.Host.SlaveDev("eth0").Sent() + a.Host.SlaveDev("eth1").Sent() - tx0
		assert.GreaterOrEqual(t, tx, block/10*2, "LACPDUs sent while the control goroutine was blocked")
		// the data path does not wait for the control goroutine either
		n1 := a.Host.SlaveDev("eth1").Sent()
		tap.Inject(dataFrame(2, 1, 1000))
		require.True(t, a.Host.SlaveDev("eth1").WaitSent(n1+1, 5*time.Second))
		unblock()
		<-done
		a.Clock.AfterFire = hook
		a.settle()
		for i := 0; i < 10; i++ {
			a.step()
		}
		assert.True(t, a.distributing(), "still aggregated after a %d ms block", block*100)
		for _, s := range a.Status("bond0").Slaves {
			assert.Equal(t, 0, s.AD.ActorChurnCount)
			assert.Equal(t, 63, s.AD.ActorOperState)
		}
	}
	assert.Empty(t, a.logs, "the peer logged nothing")
	for _, l := range a.Log.Take() {
		assert.NotContains(t, l, "No 802.3ad response")
	}
}

// TestADTickOnOwnTimer checks that LACP runs on the adapter's timer and not
// on the engine's Tick work: the engine's Tick answers 0.
func TestADTickOnOwnTimer(t *testing.T) {
	a := newADEnv(t, false)
	a.enslave("eth0")
	a.SetUp("bond0", true)
	m := a.mode()
	assert.Equal(t, time.Duration(0), m.Tick())
	sent := a.Host.SlaveDev("eth0").Sent()
	// no partner: LACPDUs keep going out on the adapter's own timer, with
	// no engine work involved
	for i := 0; i < 310; i++ {
		a.Clock.Advance(lacp.TickInterval * time.Millisecond)
	}
	a.settle()
	assert.GreaterOrEqual(t, a.Host.SlaveDev("eth0").Sent()-sent, 2, "LACPDUs without partner")
	a.SetUp("bond0", false)
	sent = a.Host.SlaveDev("eth0").Sent()
	a.Clock.Advance(10 * time.Second)
	a.settle()
	assert.Equal(t, sent, a.Host.SlaveDev("eth0").Sent(), "closed: no LACPDU")
}

func TestADOptions(t *testing.T) {
	a := newADEnv(t, false)
	a.enslave("eth0")
	ctx := context.Background()
	require.NoError(t, a.Reg.WriteOption(ctx, "bond0", "ad_actor_sys_prio", "100\n", root))
	require.NoError(t, a.Reg.WriteOption(ctx, "bond0", "ad_actor_system", "02:00:00:00:ad:01\n", root))
	require.NoError(t, a.Reg.WriteOption(ctx, "bond0", "min_links", "2\n", root))
	a.settle()
	st := a.Status("bond0")
	assert.Equal(t, 100, st.AD.SystemPriority)
	assert.Equal(t, "02:00:00:00:ad:01", st.AD.SystemMAC.String())
	a.SetUp("bond0", true)
	for i := 0; i < 20; i++ {
		a.step()
	}
	assert.False(t, a.Status("bond0").Carrier, "min_links 2 with one port")
	require.NoError(t, a.Reg.WriteOption(ctx, "bond0", "min_links", "0\n", root))
	a.settle()
	assert.True(t, a.Status("bond0").Carrier)
}

// nopDev is a bond.SlaveDev that drops what it is given.
type nopDev struct{ n int }

func (p *nopDev) ReadFrame([]byte) (int, error) { select {} }
func (p *nopDev) WriteFrame([]byte) error       { p.n++; return nil }
func (p *nopDev) Close() error                  { return nil }

// BenchmarkADXmit is the 802.3ad data path per frame: the distributing
// ports' table, the layer3+4 hash, the port's write (a no-op here).
func BenchmarkADXmit(b *testing.B) {
	p0, p1 := &nopDev{}, &nopDev{}
	tx := adHashTx(bond.XmitLayer34, p0, p1)
	f := dataFrame(2, 1, 1000)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		binary.BigEndian.PutUint16(f[bond.VnetHdrLen+34:], uint16(i))
		tx.Xmit(f)
	}
	if b.N > 100 && (p0.n == 0 || p1.n == 0) {
		b.Fatalf("one port got nothing: %d/%d", p0.n, p1.n)
	}
}

func TestADXmitNoAlloc(t *testing.T) {
	tx := adHashTx(bond.XmitEncap34, &nopDev{}, &nopDev{})
	f := dataFrame(2, 1, 1000)
	assert.Zero(t, testing.AllocsPerRun(1000, func() { tx.Xmit(f) }))
}

// TestADUpdelayPromotion: with updelay, a slave going back that the engine
// makes curr_active_slave early (the active one failed) is link up for
// 802.3ad too (bond_change_active_slave → bond_3ad_handle_link_change).
func TestADUpdelayPromotion(t *testing.T) {
	p := bond.DefaultParams()
	p.Mode, p.Miimon, p.UpDelay = bond.Mode8023AD, 100, 5
	e := bondtest.NewWithModes(t, p, Factories(), "eth0", "eth1")
	e.Host.SetCarrier("eth0", false)
	e.Settle()
	for _, n := range []string{"eth0", "eth1"} {
		require.NoError(t, e.Do(func() error { return e.Reg.Bond("bond0").Enslave(n) }))
	}
	e.SetUp("bond0", true)
	var m *adMode
	_ = e.Do(func() error { m = e.Reg.Bond("bond0").Mode().(*adMode); return nil })
	settle := func() {
		for m.syncPending.Load() {
			runtime.Gosched()
		}
		e.Settle()
	}
	// eth0 comes up through the MII monitor: curr_active_slave
	e.Host.SetCarrier("eth0", true)
	settle()
	e.Tick(600 * time.Millisecond)
	settle()
	// eth1 fails and starts coming back (updelay 500 ms)
	e.Host.SetCarrier("eth1", false)
	settle()
	e.Tick(100 * time.Millisecond)
	e.Host.SetCarrier("eth1", true)
	settle()
	require.Equal(t, bond.LinkBack, e.Status("bond0").Slaves[1].Link)
	// eth0 fails: eth1 is promoted at once
	e.Host.SetCarrier("eth0", false)
	settle()
	st := e.Status("bond0")
	require.Equal(t, bond.LinkUp, st.Slaves[1].Link, "the going-back slave is promoted")
	m.mu.Lock()
	ps, _ := m.sys.Port(1)
	m.mu.Unlock()
	assert.Equal(t, lacp.LinkUp, ps.Link.Status, "802.3ad hears of the promotion")
	settle()
}

// TestADLoopbackLog: eth0's own LACPDU received on eth1 (the two ports
// cabled together) gives the kernel's two-line error as one log record.
func TestADLoopbackLog(t *testing.T) {
	a := newADEnv(t, true)
	a.enslave("eth0", "eth1")
	a.SetUp("bond0", true)
	a.negotiate()
	var pdu []byte
	for _, f := range a.Host.SlaveDev("eth0").Frames() {
		if binary.BigEndian.Uint16(f[bond.VnetHdrLen+12:]) == lacp.EtherTypeSlow {
			pdu = f
		}
	}
	require.NotNil(t, pdu)
	a.Log.Take()
	m := a.mode()
	m.mu.Lock()
	before, _ := m.sys.Port(1)
	m.mu.Unlock()
	require.Equal(t, lacp.RxCurrent, before.RxState)
	a.inject(1, pdu)
	a.shuttle(false)
	a.settle()
	m.mu.Lock()
	after, _ := m.sys.Port(1)
	m.mu.Unlock()
	assert.Equal(t, before.Stats.LACPDURx+1, after.Stats.LACPDURx)
	assert.Contains(t, a.Log.Take(), "bond0: (slave eth1): An illegal loopback occurred on slave\n"+
		"Check the configuration to verify that all adapters are connected to 802.3ad compliant switch ports")
}

// sportPort records the UDP source port of every frame written to it.
type sportPort struct{ got []uint16 }

func (p *sportPort) ReadFrame([]byte) (int, error) { select {} }
func (p *sportPort) WriteFrame(f []byte) error {
	p.got = append(p.got, binary.BigEndian.Uint16(f[bond.VnetHdrLen+34:]))
	return nil
}
func (p *sportPort) Close() error { return nil }

// TestADXmitBatchMatchesXmit: XmitBatch puts each frame on the port Xmit
// sends it on, in order, for every hash policy; with no distributing port
// it places nothing.
func TestADXmitBatchMatchesXmit(t *testing.T) {
	for _, policy := range []bond.XmitPolicy{bond.XmitLayer2, bond.XmitLayer34, bond.XmitLayer23, bond.XmitEncap23, bond.XmitEncap34} {
		p0, p1, p2 := &sportPort{}, &sportPort{}, &sportPort{}
		tx := adHashTx(policy, p0, p1, p2)
		var frames [][]byte
		for i := 0; i < 40; i++ {
			frames = append(frames, dataFrame(byte(2+i%5), byte(1+i%3), uint16(1000+i)))
		}
		for _, f := range frames {
			tx.Xmit(f)
		}
		var out bond.TxBatch
		tx.XmitBatch(frames, &out)
		for i, p := range []*sportPort{p0, p1, p2} {
			var got []uint16
			for _, f := range out.Frames(p) {
				got = append(got, binary.BigEndian.Uint16(f[bond.VnetHdrLen+34:]))
			}
			assert.Equal(t, p.got, got, "policy %d port %d", policy, i)
		}
		if policy == bond.XmitLayer34 {
			assert.True(t, len(p0.got) > 0 && len(p1.got) > 0 && len(p2.got) > 0, "layer3+4 spreads 40 flows over 3 ports")
		}
	}
	var out bond.TxBatch
	adHashTx(bond.XmitLayer2).XmitBatch([][]byte{dataFrame(2, 1, 1)}, &out)
	assert.Nil(t, out.Frames(nil))
	// before the first distributing table
	(&adMode{}).Tx(bond.TxView{Params: &bond.Params{}}).(bond.BatchTxSelector).XmitBatch([][]byte{dataFrame(2, 1, 1)}, &out)
	assert.Nil(t, out.Frames(nil))
}

// adBatchRig is an 802.3ad selector over two no-op ports (layer3+4) and
// a batch of 32 frames of as many flows.
func adBatchRig() (*bond.HashTx, [][]byte) {
	var frames [][]byte
	for i := 0; i < 32; i++ {
		frames = append(frames, dataFrame(2, 1, uint16(i)))
	}
	return adHashTx(bond.XmitLayer34, &nopDev{}, &nopDev{}), frames
}

// adHashTx is the selector adMode.Tx builds, over a distributing table of
// ports.
func adHashTx(policy bond.XmitPolicy, ports ...bond.SlaveDev) *bond.HashTx {
	m := &adMode{}
	m.dist.Store(&ports)
	return m.Tx(bond.TxView{Params: &bond.Params{XmitPolicy: policy}}).(*bond.HashTx)
}

func TestADXmitBatchNoAlloc(t *testing.T) {
	tx, frames := adBatchRig()
	var out bond.TxBatch
	tx.XmitBatch(frames, &out) // the batch grows once
	out.Reset()
	assert.Zero(t, testing.AllocsPerRun(1000, func() { tx.XmitBatch(frames, &out); out.Reset() }))
}

// BenchmarkADXmitBatch is BenchmarkADXmit for a batch of 32 frames.
func BenchmarkADXmitBatch(b *testing.B) {
	tx, frames := adBatchRig()
	var out bond.TxBatch
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		tx.XmitBatch(frames, &out)
		out.Reset()
	}
}

// TestADTickSeesReceivedLACPDU: the partner's first LACPDUs reach both
// ports before a tick, but eth0's reader has not handed its one on when the
// tick comes (a goroutine not yet scheduled). The tick waits for it
// (waitRx), as the kernel's softirq receive has every LACPDU handled before
// the next tick: both ports reselect in the same tick and the LAG takes
// eth0's aggregator, 1. Without the wait eth1 reselects alone into its own
// aggregator, 2, and eth0 follows it there a tick later (oracle 14-8023ad
// step 7, two bonds back to back whose ticks ran 0.5 ms apart).
func TestADTickSeesReceivedLACPDU(t *testing.T) {
	a := newADEnvWait(t, true, time.Minute) // as long as the held reader needs
	a.enslave("eth0", "eth1")
	a.SetUp("bond0", true)
	// no partner yet: each port selects its own aggregator (1, 2)
	for i := 0; i < 3; i++ {
		a.Clock.Advance(lacp.TickInterval * time.Millisecond)
		a.settle()
	}
	for _, s := range a.Status("bond0").Slaves {
		require.Equal(t, map[string]int{"eth0": 1, "eth1": 2}[s.Name], s.AD.AggregatorID, "%s before the partner", s.Name)
	}
	a.shuttle(false)
	for i := 0; i < 10 && len(a.out) < 2; i++ {
		a.peer.Tick()
	}
	require.Len(t, a.out, 2, "the partner's first LACPDUs, one per port")
	release := a.Host.SlaveDev("eth0").HoldReads()
	defer release()
	for k, f := range a.out {
		a.inject(int(a.outTo[k]), append(make([]byte, bond.VnetHdrLen), f...))
	}
	a.out, a.outTo = nil, nil
	require.True(t, a.Host.SlaveDev("eth1").WaitConsumed(a.inj[1], 5*time.Second), "eth1 reader")
	a.Clock.Advance(lacp.TickInterval * time.Millisecond) // the tick; waitRx lets eth0's reader go
	release()
	a.settle()
	a.negotiate()
	st := a.Status("bond0")
	require.NotNil(t, st.AD.ActiveAggregator)
	assert.Equal(t, 1, st.AD.ActiveAggregator.ID, "the LAG's aggregator")
	for _, s := range st.Slaves {
		assert.Equal(t, 1, s.AD.AggregatorID, s.Name)
	}
}

// TestADSpeedChangeRecomputesKey: a speed change on a slave whose link is
// up (a NETDEV_CHANGE with the link still up) recomputes its port's key, as
// bond_3ad_adapter_speed_duplex_changed does: the actor's oper key that
// /proc/net/bonding shows goes from 10 Gb/s full duplex (code 7: 15) to
// 1 Gb/s (code 4: 9), and the port leaves the LAG of its old key.
func TestADSpeedChangeRecomputesKey(t *testing.T) {
	a := newADEnv(t, true)
	a.enslave("eth0", "eth1")
	a.SetUp("bond0", true)
	a.negotiate()
	keys := func() (k [2]int) {
		for i, s := range a.Status("bond0").Slaves {
			require.NotNil(t, s.AD, s.Name)
			k[i] = s.AD.Actor.Key
		}
		return k
	}
	require.Equal(t, [2]int{15, 15}, keys())
	require.Equal(t, 2, a.Status("bond0").AD.ActiveAggregator.NumPorts)

	a.Host.SetSpeed("eth0", 1000, bond.DuplexFull)
	a.settle()
	st := a.Status("bond0")
	assert.Equal(t, 1000, st.Slaves[0].Speed, "the slave's speed as /proc shows it")
	assert.Equal(t, [2]int{9, 15}, keys(), "eth0's oper key follows its speed")
	for i := 0; i < 30; i++ {
		a.step()
	}
	st = a.Status("bond0")
	assert.NotEqual(t, st.Slaves[0].AD.AggregatorID, st.Slaves[1].AD.AggregatorID, "ports of different keys do not aggregate")
	assert.Equal(t, 1, st.AD.ActiveAggregator.NumPorts)
}
