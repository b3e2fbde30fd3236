package fastpath_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"bondingfs/bond"
	"bondingfs/fastpath"
	"bondingfs/internal/frame"
	"bondingfs/modes/alb"
)

type nopHost struct{}

func (nopHost) SetMAC(*alb.Slave, alb.MAC) error     { return nil }
func (nopHost) SetPromisc(*alb.Slave, int) error     { return nil }
func (nopHost) SlaveLogf(*alb.Slave, string, ...any) {}
func (nopHost) Logf(string, ...any)                  {}

// recDev remembers the last frame written (Ethernet part).
type recDev struct{ last []byte }

func (d *recDev) WriteFrame(f []byte) error {
	d.last = append([]byte(nil), f[bond.VnetHdrLen:]...)
	return nil
}

// TestTLBChoiceEqualsGo runs frames through modes/alb's transmit path
// (which binds the buckets) and then through bond_egress with the table
// mirrored as the engine mirrors it, for balance-tlb and balance-alb, with
// and without tlb_dynamic_lb, under every xmit_hash_policy: the slave, the
// source address and what is left to the engine (alb's ARP) are the same.
func TestTLBChoiceEqualsGo(t *testing.T) {
	p, prog := loadEgress(t)
	frames, _ := corpusFrames(t)
	all := mutated(frames, rand.New(rand.NewPCG(18, 5)), 40, false)
	// an ARP reply and a tagged ARP request (alb: the engine's)
	arp := []byte{2, 0, 0, 0, 0, 0x99, 2, 0, 0, 0, 0, 0xb0, 8, 6, 0, 1, 8, 0, 6, 4, 0, 2,
		2, 0, 0, 0, 0, 0xb0, 192, 0, 2, 1, 2, 0, 0, 0, 0, 0x99, 192, 0, 2, 9}
	tagged := append(append(append([]byte{}, arp[:12]...), 0x81, 0, 0, 5), arp[12:]...)
	tagged[0] = 0xff
	all = append(all, arp, tagged)
	const lo = 1
	checked, slow := 0, 0
	for _, rlb := range []bool{false, true} {
		for _, dyn := range []bool{true, false} {
			for pol := frame.XmitLayer2; pol <= frame.XmitVlanSrcMAC; pol++ {
				name := fmt.Sprintf("rlb %v dynamic %v policy %v", rlb, dyn, pol)
				a := alb.New(nopHost{}, alb.Config{TLBOnly: !rlb, DynamicLB: dyn, LPInterval: 1,
					Hash: func(eth []byte) uint32 { return frame.XmitHash(pol, eth) }})
				a.SetBondMAC(alb.MAC{2, 0, 0, 0, 0, 0xb0})
				a.Initialize(rlb)
				devs := map[*recDev]int{}
				var ss []*alb.Slave
				for i := 0; i < 3; i++ {
					s := &alb.Slave{Name: fmt.Sprintf("eth%d", i), Perm: alb.MAC{2, 0, 0, 0, 0, byte(i + 1)}, MAC: alb.MAC{2, 0, 0, 0, 0, 0xb0}, Data: 2000 + i}
					require.NoError(t, a.InitSlave(s))
					d := &recDev{}
					a.SetLink(s, true, 10000)
					a.SetSlaveDev(s, d)
					devs[d] = 2000 + i
					ss = append(ss, s)
				}
				a.ActiveChange(ss[0])
				for _, f := range all {
					if len(f) < 14 {
						continue
					}
					for d := range devs {
						d.last = nil
					}
					in := append(make([]byte, bond.VnetHdrLen), f...)
					a.Xmit(in)
					goOut, goFrame := 0, []byte(nil)
					for d, x := range devs {
						if d.last != nil {
							goOut, goFrame = x, d.last
						}
					}
					var v alb.FastView
					a.FastView(&v)
					c := fastpath.Config{Mode: fastpath.ModeTLB, Policy: uint32(pol), MACs: map[int][6]byte{}}
					idx := func(s *alb.Slave) int {
						if m, ok := v.MACs[s]; ok && s != nil {
							c.MACs[s.Data.(int)] = m
							return s.Data.(int)
						}
						return 0
					}
					c.Active = idx(v.Curr)
					if rlb {
						c.Flags |= bond.FastTLBRLB
					}
					if dyn {
						c.Flags |= bond.FastTLBDynamic
						c.TLB = new(bond.FastTLBTable)
						for i, s := range v.Table {
							c.TLB[i] = idx(s)
						}
					} else {
						for _, s := range v.Usable {
							c.Slaves = append(c.Slaves, idx(s))
						}
					}
					require.NoError(t, p.SetBond(lo, c))
					var ctx, out [48]uint32
					data := make([]byte, len(f))
					ret, err := prog.Run(&ebpf.RunOptions{Data: f, DataOut: data, Context: ctx[:20], ContextOut: &out})
					if err != nil && errors.Is(err, unix.EINVAL) && testRunRefuses(f) {
						continue
					}
					require.NoError(t, err, "%s frame %x", name, f)
					et, _ := l3(f)
					if rlb && et == frame.EtherTypeARP {
						require.EqualValues(t, 0, ret, "%s: ARP stays with the engine: %x", name, f)
						slow++
						continue
					}
					require.NotZero(t, goOut, "%s: the engine dropped %x", name, f)
					require.EqualValues(t, 7, ret, "%s: TC_ACT_REDIRECT for %x", name, f)
					require.EqualValues(t, goOut, out[13], "%s: slave of %x", name, f)
					require.Equal(t, goFrame[6:12], data[6:12], "%s: source address of %x", name, f)
					checked++
				}
			}
		}
	}
	t.Logf("%d frames compared, %d ARP frames left to the engine", checked, slow)
	require.Greater(t, checked, 1000)
}

// l3 is the EtherType after at most one 802.1Q tag.
func l3(f []byte) (uint16, int) {
	et := binary.BigEndian.Uint16(f[12:14])
	if et == 0x8100 && len(f) >= 18 {
		return binary.BigEndian.Uint16(f[16:18]), 18
	}
	return et, 14
}
