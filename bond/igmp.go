package bond

import (
	"net/netip"
	"sort"
	"time"

	"bondingfs/internal/frame"
)

// Membership reports after a change of active slave (bond_main.c
// bond_change_active_slave: igmp_retrans = resend_igmp and mcast_work;
// bond_resend_igmp_join_requests_delayed raises NETDEV_RESEND_IGMP, on which
// the stack sends an IGMP report per IPv4 group (ip_mc_rejoin_groups) and
// an MLD report of the IPv6 groups (ipv6_mc_rejoin_groups), again every
// 200 ms until resend_igmp rounds are done). A TAP cannot raise the event,
// so the engine sends the reports (built by frame.IGMPReport and
// frame.MLDv2Report) through the bond's
// transmit selector, as the stack's own would go.

// GroupLister is implemented by hosts that can list the multicast groups
// joined on an interface: IPv4 groups with the IGMP version in force there
// (1, 2 or 3: the querier seen, /proc/net/igmp), and IPv6 groups
// (/proc/net/igmp6). Called outside the control goroutine.
type GroupLister interface {
	Groups(index int) (v4 []netip.Addr, igmpVersion int, v6 []netip.Addr, err error)
}

// igmpResendInterval is the spacing of the rounds (HZ/5).
const igmpResendInterval = 200 * time.Millisecond

// startIGMPResend is the end of bond_change_active_slave: with the bond up,
// resend_igmp > 0, and a new active slave in a mode with a primary (or any
// change in balance-rr), resend_igmp rounds of reports start now.
func (b *Bond) startIGMPResend(n *Slave) {
	p := &b.params
	if !b.up || p.ResendIGMP <= 0 || !((p.Mode.UsesPrimary() && n != nil) || p.Mode == ModeRoundRobin) {
		return
	}
	if b.arp.mcastWork == nil {
		b.arp.mcastWork = b.newEngineWork(b.igmpRound)
	}
	b.arp.igmpRetrans = p.ResendIGMP
	b.arp.mcastWork.Queue(0)
}

// igmpRound is one run of mcast_work: one round of reports, the next in
// 200 ms while rounds are left.
func (b *Bond) igmpRound() {
	if !b.up {
		return
	}
	b.sendReports()
	if b.arp.igmpRetrans > 1 {
		b.arp.igmpRetrans--
		b.arp.mcastWork.Queue(igmpResendInterval)
	}
}

// sendReports lists the bond's groups and addresses and sends the reports
// through the transmit selector, on a goroutine of its own.
func (b *Bond) sendReports() {
	r := b.reg
	gl, ok := r.cfg.Host.(GroupLister)
	if !ok {
		return
	}
	index := b.index
	mac := append([]byte(nil), b.hwaddr...)
	r.wg.Add(1)
	b.arp.senders.Add(1)
	go func() {
		defer r.wg.Done()
		defer b.arp.senders.Done()
		v4, ver, v6, err := gl.Groups(index)
		if err != nil {
			return
		}
		var src4, src6 netip.Addr
		if al, ok := r.cfg.Host.(AddrLister); ok {
			if l, err := al.Addrs4(index); err == nil && len(l) > 0 {
				src4 = l[0]
			}
		}
		if al, ok := r.cfg.Host.(Addr6Lister); ok {
			if l, err := al.Addrs6(index); err == nil {
				for _, a := range l {
					if a.IsLinkLocalUnicast() {
						src6 = a
						break
					}
				}
			}
		}
		sort.Slice(v4, func(i, j int) bool { return v4[i].Less(v4[j]) })
		for _, g := range v4 {
			if f := frame.IGMPReport(mac, src4, g, ver); f != nil {
				b.xmit(f)
			}
		}
		if f := frame.MLDv2Report(mac, src6, v6); f != nil {
			b.xmit(f)
		}
	}()
}
