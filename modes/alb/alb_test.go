package alb

import (
	"encoding/binary"
	"fmt"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeHost records MAC changes, promiscuity and log lines.
type fakeHost struct {
	log     []string
	promisc map[string]int
	failMAC bool
}

func (h *fakeHost) SetMAC(s *Slave, m MAC) error {
	if h.failMAC {
		return syscall.EOPNOTSUPP
	}
	return nil
}
func (h *fakeHost) SetPromisc(s *Slave, inc int) error {
	if h.promisc == nil {
		h.promisc = map[string]int{}
	}
	h.promisc[s.Name] += inc
	return nil
}
func (h *fakeHost) SlaveLogf(s *Slave, f string, a ...any) {
	h.log = append(h.log, fmt.Sprintf("(slave %s): ", s.Name)+fmt.Sprintf(f, a...))
}
func (h *fakeHost) Logf(f string, a ...any) { h.log = append(h.log, fmt.Sprintf(f, a...)) }

// fakeDev keeps the frames written to it (without the vnet header).
type fakeDev struct {
	mu     sync.Mutex
	frames [][]byte
}

func (p *fakeDev) WriteFrame(f []byte) error {
	p.mu.Lock()
	p.frames = append(p.frames, append([]byte(nil), f[vnetHdrLen:]...))
	p.mu.Unlock()
	return nil
}

func (p *fakeDev) take() [][]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	f := p.frames
	p.frames = nil
	return f
}

func (p *fakeDev) count(etherType uint16) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, f := range p.frames {
		if et, _ := l3(f); et == etherType {
			n++
		}
	}
	return n
}

func m(last byte) MAC { return MAC{2, 0, 0, 0, 0, last} }

var bondMAC = m(1)

// layer2 is bond_xmit_hash with xmit_hash_policy=layer2.
func layer2(eth []byte) uint32 {
	return uint32(eth[5]^eth[11]) ^ uint32(binary.BigEndian.Uint16(eth[12:14]))
}

// rig is a bond with n slaves (MACs 02:..:01, 02, …) enslaved in order,
// opened, slave 0 current, all able to transmit.
type rig struct {
	a    *ALB
	h    *fakeHost
	s    []*Slave
	devs []*fakeDev
}

func newRig(t *testing.T, rlb bool, n int) *rig {
	h := &fakeHost{}
	a := New(h, Config{TLBOnly: !rlb, DynamicLB: true, LPInterval: 1, Hash: layer2})
	a.SetBondMAC(bondMAC)
	a.Initialize(rlb)
	r := &rig{a: a, h: h}
	for i := 0; i < n; i++ {
		s := &Slave{Name: fmt.Sprintf("eth%d", i), Perm: m(byte(i + 1)), MAC: bondMAC}
		require.NoError(t, a.InitSlave(s))
		p := &fakeDev{}
		a.SetLink(s, true, 10000)
		a.SetSlaveDev(s, p)
		if i == 0 {
			a.ActiveChange(s)
		}
		r.s = append(r.s, s)
		r.devs = append(r.devs, p)
	}
	for _, p := range r.devs {
		p.take()
	}
	return r
}

func (r *rig) macs() []MAC {
	var out []MAC
	for _, s := range r.s {
		out = append(out, s.MAC)
	}
	return out
}

// ipv4 is a UDP frame from the bond to dst (MAC last byte and address
// 192.0.2.dst).
func ipv4(dst byte, n int) []byte {
	f := make([]byte, vnetHdrLen+n)
	e := f[vnetHdrLen:]
	copy(e[0:6], []byte{2, 0xaa, 0, 0, 0, dst})
	copy(e[6:12], bondMAC[:])
	binary.BigEndian.PutUint16(e[12:14], etherTypeIPv4)
	ip := e[14:]
	ip[0] = 0x45
	ip[9] = 17
	copy(ip[12:16], []byte{192, 0, 2, 1})
	copy(ip[16:20], []byte{192, 0, 2, dst})
	return f
}

// arpFrame is an ARP packet; vid 0 for no tag.
func arpFrame(op uint16, srcMAC MAC, srcIP [4]byte, dstMAC MAC, dstIP [4]byte, ethDst MAC, vid uint16) []byte {
	f := make([]byte, vnetHdrLen, 80)
	f = append(f, ethDst[:]...)
	f = append(f, srcMAC[:]...)
	if vid != 0 {
		f = binary.BigEndian.AppendUint16(f, etherTypeVLAN)
		f = binary.BigEndian.AppendUint16(f, vid)
	}
	f = binary.BigEndian.AppendUint16(f, etherTypeARP)
	f = append(f, 0, 1, 8, 0, 6, 4)
	f = binary.BigEndian.AppendUint16(f, op)
	f = append(f, srcMAC[:]...)
	f = append(f, srcIP[:]...)
	f = append(f, dstMAC[:]...)
	f = append(f, dstIP[:]...)
	return f
}

func client(i byte) (MAC, [4]byte) { return MAC{2, 0xcc, 0, 0, 0, i}, [4]byte{192, 0, 2, 100 + i} }

var bondIP = [4]byte{192, 0, 2, 1}

func TestAttachGivesEachSlaveItsOwnMAC(t *testing.T) {
	r := newRig(t, true, 3)
	assert.Equal(t, []MAC{bondMAC, m(2), m(3)}, r.macs(), "each slave keeps its own address, the current one the bond's")
	assert.Empty(t, r.h.log)
}

func TestAttachCollision(t *testing.T) {
	// a new slave whose own address is the bond's gets a free one
	r := newRig(t, false, 2)
	// make eth0 give its address away: eth1 current (swap), eth0 has 02
	r.a.ActiveChange(r.s[1])
	assert.Equal(t, []MAC{m(2), bondMAC}, r.macs())
	assert.Equal(t, syscall.EFAULT, r.a.InitSlave(&Slave{Name: "eth8", Perm: bondMAC, MAC: bondMAC}))
	assert.Contains(t, r.h.log, "(slave eth8): the slave hw address is in use by the bond; couldn't find a slave with a free hw address to give it (this should not have happened)")

	// a new slave whose address another slave uses, while some slave's
	// own address is free (eth1's address was changed by hand): it gets
	// the free one
	r = newRig(t, false, 2)
	r.s[1].MAC = m(5)
	third := &Slave{Name: "eth2", Perm: m(5), MAC: bondMAC}
	require.NoError(t, r.a.InitSlave(third))
	assert.Equal(t, m(2), third.MAC)
	assert.Equal(t, []string{"(slave eth2): the slave hw address is in use by the bond; giving it the hw address of eth1"}, r.h.log)
	// a new slave with an address nobody uses keeps it
	r.h.log = nil
	fourth := &Slave{Name: "eth3", Perm: m(7), MAC: bondMAC}
	require.NoError(t, r.a.InitSlave(fourth))
	assert.Equal(t, m(7), fourth.MAC)
	assert.Empty(t, r.h.log)
}

func TestALBSetMACFailureFailsAttach(t *testing.T) {
	h := &fakeHost{failMAC: true}
	a := New(h, Config{LPInterval: 1, Hash: layer2, DynamicLB: true})
	a.Initialize(true)
	assert.Equal(t, syscall.EOPNOTSUPP, a.InitSlave(&Slave{Name: "eth0", Perm: m(1)}))
	assert.Equal(t, []string{"(slave eth0): dev_set_mac_address on slave failed! ALB mode requires that the base driver support setting the hw address also when the network device's interface is open"}, h.log)
}

func TestActiveChangeSwapsMACs(t *testing.T) {
	r := newRig(t, false, 3)
	// the current slave fails: eth2 takes over and swaps addresses
	r.a.SetLink(r.s[0], false, 10000)
	r.a.LinkChange(r.s[0], false)
	r.a.ActiveChange(r.s[2])
	assert.Equal(t, []MAC{m(3), m(2), bondMAC}, r.macs())
	assert.Equal(t, 0, r.devs[0].count(etherTypeLoopback), "the failed slave sends nothing")
	lp := r.devs[2].take()
	require.Len(t, lp, 1, "the new current slave announces the bond's address")
	assert.Equal(t, bondMAC[:], lp[0][0:6])
	assert.Equal(t, bondMAC[:], lp[0][6:12])
	assert.Len(t, lp[0], 60)
	// releasing eth0 (address 03, eth2's) gives eth2 nothing back: the
	// bond's address stays with the current slave; eth0 takes its own
	r.a.DeinitSlave(r.s[0])
	assert.Equal(t, m(3), r.s[0].MAC, "eth0's permanent address was the bond's: it keeps 03 until the engine restores it")
	assert.Equal(t, bondMAC, r.s[2].MAC)
}

func TestDetachReturnsBorrowedAddress(t *testing.T) {
	r := newRig(t, false, 3)
	r.a.ActiveChange(r.s[1]) // eth1 has the bond's address, eth0 has 02
	require.Equal(t, []MAC{m(2), bondMAC, m(3)}, r.macs())
	// eth1 leaves (the engine made it not current first) with the bond's
	// address: it takes back its own from eth0, which gets the bond's
	r.a.ActiveChange(nil)
	r.a.DeinitSlave(r.s[1])
	assert.Equal(t, []MAC{bondMAC, m(2), m(3)}, r.macs())

	r = newRig(t, false, 3)
	r.a.ActiveChange(r.s[1])
	r.a.ActiveChange(r.s[2]) // eth1 swaps with eth2: eth1 03, eth2 01
	require.Equal(t, []MAC{m(2), m(3), bondMAC}, r.macs())
	r.a.DeinitSlave(r.s[1]) // eth1 (03) takes its own 02 back from eth0
	assert.Equal(t, []MAC{m(3), m(2), bondMAC}, r.macs())
	r.a.DeinitSlave(r.s[0]) // eth0's own address is the bond's: nothing
	assert.Equal(t, m(3), r.s[0].MAC)
}

func TestComputeGap32Bit(t *testing.T) {
	s := &Slave{speed: 10000, load: 0}
	assert.Equal(t, int64(1895825408), computeGap(s), "speed << 20 wraps at 32 bits as the kernel's u32")
	s.load = 1 << 29
	assert.Equal(t, int64(1895825408), computeGap(s), "load << 3 wraps too")
}

func TestTLBBalancesAfterRebalance(t *testing.T) {
	r := newRig(t, false, 2)
	// a rebalance is due at once (bond_alb_init_slave): the first tick
	for _, d := range []byte{1, 2, 3, 4} {
		r.a.Xmit(ipv4(d, 100))
	}
	assert.Equal(t, 4, r.devs[0].count(etherTypeIPv4), "no load history yet: every entry goes to the first slave")
	r.a.Monitor()
	r.devs[0].take()
	for i := 0; i < 10; i++ {
		for _, d := range []byte{1, 2, 3, 4} {
			r.a.Xmit(ipv4(d, 1000))
		}
	}
	assert.Equal(t, 20, r.devs[0].count(etherTypeIPv4))
	assert.Equal(t, 20, r.devs[1].count(etherTypeIPv4))
	for _, f := range r.devs[1].take() {
		if et, _ := l3(f); et == etherTypeIPv4 {
			m2 := m(2)
			assert.Equal(t, m2[:], f[6:12], "a slave sends with its own source address")
		}
	}
	for _, f := range r.devs[0].take() {
		assert.Equal(t, bondMAC[:], f[6:12])
	}
	// the table keeps 10000 bytes per entry for 100 ticks, then remembers
	// 1 + bytes/10 as the load
	s, tx, _ := r.a.TLBEntry(int(layer2(ipv4(1, 60)[vnetHdrLen:]) & 0xff))
	require.NotNil(t, s)
	assert.Equal(t, uint32(10000), tx)
	for i := 0; i < RebalanceTicks; i++ {
		r.a.Monitor()
	}
	s, tx, hist := r.a.TLBEntry(int(layer2(ipv4(1, 60)[vnetHdrLen:]) & 0xff))
	assert.Nil(t, s)
	assert.Equal(t, uint32(0), tx)
	assert.Equal(t, uint32(1001), hist)
}

func TestTLBNonDynamicUsesHashPolicy(t *testing.T) {
	r := newRig(t, false, 2)
	r.a.SetConfig(Config{TLBOnly: true, DynamicLB: false, LPInterval: 1, Hash: layer2})
	for _, d := range []byte{1, 2, 3, 4} {
		r.a.Xmit(ipv4(d, 100))
	}
	for i, p := range r.devs {
		want := 0
		for _, d := range []byte{1, 2, 3, 4} {
			if int(layer2(ipv4(d, 100)[vnetHdrLen:])%2) == i {
				want++
			}
		}
		assert.Equal(t, want, p.count(etherTypeIPv4), "slave %d", i)
	}
	// broadcast and ARP go through the current slave
	b := ipv4(9, 60)
	copy(b[vnetHdrLen:], bcastMAC[:])
	r.a.Xmit(b)
	r.a.Xmit(arpFrame(arpRequest, bondMAC, bondIP, MAC{}, [4]byte{192, 0, 2, 9}, bcastMAC, 0))
	f := r.devs[0].take()
	assert.Equal(t, bcastMAC[:], f[len(f)-2][0:6])
	assert.Equal(t, uint16(etherTypeARP), binary.BigEndian.Uint16(f[len(f)-1][12:14]))
}

func TestLearningPackets(t *testing.T) {
	r := newRig(t, false, 2)
	r.a.SetConfig(Config{TLBOnly: true, DynamicLB: true, LPInterval: 2, Hash: layer2})
	for i := 0; i < 19; i++ {
		r.a.Monitor()
	}
	assert.Equal(t, 0, r.devs[0].count(etherTypeLoopback))
	r.a.Monitor()
	for i, p := range r.devs {
		f := p.take()
		require.Len(t, f, 1)
		assert.Equal(t, r.s[i].MAC[:], f[0][0:6])
		assert.Equal(t, r.s[i].MAC[:], f[0][6:12])
		assert.Equal(t, uint16(etherTypeLoopback), binary.BigEndian.Uint16(f[0][12:14]))
	}
	// a VLAN the bond sent on gets its own learning packet, tagged
	v := ipv4(5, 100)
	e := v[vnetHdrLen:]
	tagged := append(append(append([]byte{}, v[:vnetHdrLen+12]...), 0x81, 0, 0, 7), e[12:]...)
	r.a.Xmit(tagged)
	for _, p := range r.devs {
		p.take()
	}
	for i := 0; i < 20; i++ {
		r.a.Monitor()
	}
	f := r.devs[1].take()
	require.Len(t, f, 2)
	assert.Equal(t, []byte{0x81, 0, 0, 7, 0x90, 0}, f[1][12:18])
	assert.Len(t, f[1], 64)
}

func TestRLBSpreadsClients(t *testing.T) {
	r := newRig(t, true, 2)
	// the bond answers four clients' requests: each reply leaves on the
	// client's slave with that slave's address as sender
	got := map[MAC]int{}
	for i := byte(1); i <= 4; i++ {
		cm, cip := client(i)
		f := arpFrame(arpReply, bondMAC, bondIP, cm, cip, cm, 0)
		r.a.Xmit(f)
	}
	for i, p := range r.devs {
		for _, f := range p.take() {
			sha := MAC(f[22:28])
			assert.Equal(t, r.s[i].MAC, sha, "sender address of the slave it leaves on")
			assert.Equal(t, r.s[i].MAC[:], f[6:12])
			got[sha]++
		}
	}
	assert.Equal(t, map[MAC]int{bondMAC: 2, m(2): 2}, got)
	cl := r.a.Clients()
	require.Len(t, cl, 4)
	for _, c := range cl {
		assert.True(t, c.NTT, "a known client MAC is to be updated")
	}
	// the updates wait RLB_UPDATE_DELAY ticks after the last ARP... none
	// was a request, so they go out at the first tick: 2 replies each
	r.a.Monitor() // rebalance from attach happens here too
	n := len(r.devs[0].take()) + len(r.devs[1].take())
	assert.Equal(t, 8, n)

	// eth1 fails: its clients move to eth0 with updates (retried)
	r.a.SetLink(r.s[1], false, 10000)
	r.a.LinkChange(r.s[1], false)
	for _, c := range r.a.Clients() {
		assert.Equal(t, r.s[0], c.Slave)
	}
	assert.Equal(t, 1, r.h.promisc["eth0"], "the current slave learns the failed slave's address in promiscuous mode")
	lp := r.devs[0].take()
	require.Len(t, lp, 1)
	m2 := m(2)
	assert.Equal(t, m2[:], lp[0][6:12], "learning packet with the failed slave's address on the current one")
	for i := 0; i < RLBPromiscTimeout; i++ {
		r.a.Monitor()
	}
	assert.Equal(t, 0, r.h.promisc["eth0"])
	replies := 0
	for _, f := range r.devs[0].take() {
		if et, _ := l3(f); et == etherTypeARP {
			replies++
			assert.Equal(t, bondMAC[:], f[22:28])
		}
	}
	assert.Equal(t, 2*2*(1+RLBUpdateRetry), replies, "two moved clients, a burst of 2, retried 3 times")
}

func TestRLBRecvAndRequests(t *testing.T) {
	r := newRig(t, true, 2)
	c1, ip1 := client(1)
	// the bond asks for client 1: a placeholder entry (broadcast MAC, no
	// update until the reply)
	r.a.Xmit(arpFrame(arpRequest, bondMAC, bondIP, MAC{}, ip1, bcastMAC, 0))
	assert.Equal(t, 1, r.devs[0].count(etherTypeARP), "a request leaves on the current slave")
	r.devs[0].take()
	cl := r.a.Clients()
	require.Len(t, cl, 1)
	assert.False(t, cl[0].NTT)
	// client 1 replies: its MAC is learnt and an update is due
	r.a.RecvARP(arpFrame(arpReply, c1, ip1, bondMAC, bondIP, bondMAC, 0)[vnetHdrLen:])
	cl = r.a.Clients()
	assert.Equal(t, c1, cl[0].MACDst)
	assert.True(t, cl[0].NTT)
	// the update waits RLB_UPDATE_DELAY ticks after the request
	for i := 0; i < RLBUpdateDelay; i++ {
		r.a.Monitor()
	}
	assert.Equal(t, 0, r.devs[0].count(etherTypeARP)+r.devs[1].count(etherTypeARP))
	r.a.Monitor()
	assert.Equal(t, 2, r.devs[0].count(etherTypeARP)+r.devs[1].count(etherTypeARP))

	// another host now claims the bond's address with another MAC: entries
	// of that source address are purged
	r.a.RecvARP(arpFrame(arpRequest, MAC{2, 0xee, 0, 0, 0, 1}, bondIP, MAC{}, ip1, bcastMAC, 0)[vnetHdrLen:])
	assert.Empty(t, r.a.Clients())
}

func TestRLBVLAN(t *testing.T) {
	r := newRig(t, true, 2)
	c1, ip1 := client(1)
	c2, ip2 := client(2)
	r.a.Xmit(arpFrame(arpReply, bondMAC, bondIP, c1, ip1, c1, 5))
	r.a.Xmit(arpFrame(arpReply, bondMAC, bondIP, c2, ip2, c2, 0))
	cl := r.a.Clients()
	require.Len(t, cl, 2)
	assert.Equal(t, uint16(0), cl[0].VLAN)
	assert.Equal(t, uint16(5), cl[1].VLAN)
	for _, p := range r.devs {
		p.take()
	}
	r.a.Monitor()
	var tagged int
	for _, p := range r.devs {
		for _, f := range p.take() {
			if binary.BigEndian.Uint16(f[12:14]) == etherTypeVLAN && binary.BigEndian.Uint16(f[16:18]) == etherTypeARP {
				tagged++
				assert.Equal(t, uint16(5), binary.BigEndian.Uint16(f[14:16]))
			}
		}
	}
	assert.Equal(t, 2, tagged)
	r.a.ClearVLAN(5)
	cl = r.a.Clients()
	require.Len(t, cl, 1)
	assert.Equal(t, c2, cl[0].MACDst)
}

func TestXmitNoSlave(t *testing.T) {
	h := &fakeHost{}
	a := New(h, Config{DynamicLB: true, LPInterval: 1, Hash: layer2})
	a.Initialize(true)
	a.Xmit(ipv4(1, 60)) // no slave: dropped, no panic
	a.Xmit(make([]byte, 5))
	a.Monitor()
	a.Deinitialize()
	a.Xmit(ipv4(1, 60))
	a.RecvARP(arpFrame(arpReply, m(9), bondIP, bondMAC, bondIP, bondMAC, 0)[vnetHdrLen:])
}

func TestSetBondAddress(t *testing.T) {
	// balance-alb: the current slave takes the new address
	r := newRig(t, true, 2)
	r.a.SetBondAddress(m(9))
	assert.Equal(t, []MAC{m(9), m(2)}, r.macs())
	lp := r.devs[0].take()
	require.NotEmpty(t, lp)
	assert.Equal(t, []byte{2, 0, 0, 0, 0, 9}, lp[0][6:12])
	// an address another slave has: swapped with it
	r.a.SetBondAddress(m(2))
	assert.Equal(t, []MAC{m(2), m(9)}, r.macs())

	// balance-tlb: every slave is given it
	r = newRig(t, false, 2)
	r.a.SetBondAddress(m(9))
	assert.Equal(t, []MAC{m(9), m(9)}, r.macs())
}

func TestLPIntervalWraps(t *testing.T) {
	r := newRig(t, false, 1)
	r.a.SetConfig(Config{TLBOnly: true, DynamicLB: true, LPInterval: 2147483647, Hash: layer2})
	r.a.Monitor()
	r.a.Monitor()
	assert.Equal(t, 2, r.devs[0].count(etherTypeLoopback), "the kernel's int product wraps negative: every tick")
}

// placerRec records XmitEach's choices as the rig's device index and the
// frame as sent (source MAC rewritten).
type placerRec struct {
	devs []*fakeDev
	got  []string
}

func (p *placerRec) Place(dev SlaveDev, frame []byte) {
	for i, q := range p.devs {
		if q == dev {
			p.got = append(p.got, fmt.Sprintf("%d %x", i, frame[vnetHdrLen:]))
			return
		}
	}
	p.got = append(p.got, fmt.Sprintf("? %x", frame[vnetHdrLen:]))
}

// TestXmitEachMatchesXmit: a batch goes where the same frames go one by
// one (two rigs in the same state), source MACs rewritten alike, for TLB
// and ALB with tlb_dynamic_lb (a fresh table: every flow on the current
// slave) and TLB without it (flows hashed over both slaves), balanced IPv4
// frames, an ARP reply and a runt among them.
func TestXmitEachMatchesXmit(t *testing.T) {
	for _, c := range []struct {
		rlb, static bool
	}{{false, false}, {true, false}, {false, true}} {
		rlb := c.rlb
		one, bat := newRig(t, rlb, 2), newRig(t, rlb, 2)
		if c.static {
			one.a.cfg.DynamicLB, bat.a.cfg.DynamicLB = false, false
		}
		var frames [][]byte
		for i := 0; i < 24; i++ {
			frames = append(frames, ipv4(byte(3+i%9), 80+i))
		}
		cm, cip := client(1)
		frames = append(frames, arpFrame(arpReply, bondMAC, bondIP, cm, cip, cm, 0), make([]byte, 6))
		var want []string
		for _, f := range frames {
			f = append([]byte(nil), f...)
			one.a.Xmit(f)
			for i, p := range one.devs {
				for _, sent := range p.take() {
					want = append(want, fmt.Sprintf("%d %x", i, sent))
				}
			}
		}
		batch := make([][]byte, len(frames))
		for i, f := range frames {
			batch[i] = append([]byte(nil), f...)
		}
		rec := &placerRec{devs: bat.devs}
		bat.a.XmitEach(batch, rec)
		assert.Equal(t, want, rec.got, "rlb %v", rlb)
		used := map[byte]bool{}
		for _, w := range want {
			used[w[0]] = true
		}
		if c.static {
			assert.True(t, used['0'] && used['1'], "the frames used both slaves (%d frames)", len(want))
		}
	}
}

type nopPlacer struct{}

func (nopPlacer) Place(SlaveDev, []byte) {}

func TestXmitEachNoAlloc(t *testing.T) {
	r := newRig(t, true, 2)
	var frames [][]byte
	for i := 0; i < 32; i++ {
		frames = append(frames, ipv4(byte(3+i%9), 100))
	}
	r.a.XmitEach(frames, nopPlacer{})
	assert.Zero(t, testing.AllocsPerRun(100, func() { r.a.XmitEach(frames, nopPlacer{}) }))
}
