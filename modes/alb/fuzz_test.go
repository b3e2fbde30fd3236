package alb

import (
	"testing"
)

// FuzzALBFrames feeds one frame to balance-alb's transmit path (with a
// tag, an ARP reply or request from the bond, IPv4, IPv6) and to its
// receive probe, then runs the periodic work: nothing may panic, and the
// client table's used list must stay a list of assigned entries.
func FuzzALBFrames(f *testing.F) {
	c1, ip1 := client(1)
	f.Add(arpFrame(arpReply, bondMAC, bondIP, c1, ip1, c1, 0)[vnetHdrLen:])
	f.Add(arpFrame(arpRequest, bondMAC, bondIP, MAC{}, ip1, bcastMAC, 9)[vnetHdrLen:])
	f.Add(arpFrame(arpReply, c1, ip1, bondMAC, bondIP, bondMAC, 0)[vnetHdrLen:])
	f.Add(ipv4(3, 80)[vnetHdrLen:])
	f.Fuzz(func(t *testing.T, eth []byte) {
		for _, rlb := range []bool{true, false} {
			r := newRig(t, rlb, 2)
			frame := append(make([]byte, vnetHdrLen), eth...)
			r.a.Xmit(frame)
			r.a.RecvARP(eth)
			r.a.Xmit(append(make([]byte, vnetHdrLen), eth...))
			for i := 0; i < 3; i++ {
				r.a.Monitor()
			}
			r.a.SetLink(r.s[1], false, 10000)
			r.a.LinkChange(r.s[1], false)
			cl := r.a.Clients()
			if len(cl) > RLBHashSize {
				t.Fatalf("used list longer than the table: %d", len(cl))
			}
			for _, c := range cl {
				if c.Slave != nil && c.Slave != r.s[0] {
					t.Fatalf("client %d left on a failed slave", c.Index)
				}
			}
		}
	})
}
