package bond

import (
	"net/netip"
	"sync/atomic"

	"bondingfs/internal/frame"
)

// The NS monitor: the IPv6 half of the ARP monitor (bond_main.c
// bond_ns_send_all and bond_ns_send on the probe side, bond_na_rcv and
// bond_validate_na on the receive side, both reached through
// bond_send_validate and bond_rcv_validate). It has no work of its own:
// every ARP monitor run that probes a slave (arpSendAll) also sends one
// neighbour solicitation per ns_ip6_target, and the slave readers judge
// the NS and NA frames they receive by the arp_validate rules (arpRcv hands
// IPv6 frames to nsRcv). A reply stamps the slave's last_rx and the
// target's slot of target_last_arp_rx, which the kernel shares between
// ARP and NS targets.
//
// Goroutines: as arpmon.go and arp_rcv.go. The control goroutine sends
// the probes (nsSendAll) and publishes the targets and the bond's IPv6
// addresses in the arpView (nsPublish); the route and address reads
// (nsReadPrepare) run in arpRefresh's read goroutine and are applied with
// its answer; the slave readers run nsRcv with no lock and no allocation.

// NSLookup is implemented by hosts that can resolve IPv6 routes from the
// bond and list the namespace's IPv6 addresses; the NS monitor then sends
// its probes from the bond's address on the route to each ns_ip6_target
// and knows the addresses replies may be sent to. Called outside the
// control goroutine.
type NSLookup interface {
	// RouteTo6 resolves the route to dst leaving through the device with
	// ifindex oif, as ip6_route_output with flowi6_oif set: the output
	// device, its preferred source address for dst (ipv6_dev_get_saddr;
	// invalid when there is none) and whether the device is oif or a VLAN
	// device stacked on it. No route is an error (ENETUNREACH).
	RouteTo6(dst netip.Addr, oif int) (Route, error)
	// GlobalAddrs6 lists the namespace's IPv6 addresses of global scope
	// that are not tentative, on every device: ipv6_chk_addr, which
	// bond_has_this_ip6 calls without strict, accepts them on any device.
	GlobalAddrs6() ([]netip.Addr, error)
}

// nsMon is the NS monitor's part of the ARP monitor state (control
// goroutine).
type nsMon struct {
	routes map[netip.Addr]arpRoute // by target, as the ARP monitor's
	ips    [][16]byte              // bond_has_this_ip6: the addresses replies may go to
}

// nsView is what the slave readers need to validate NS and NA frames
// (published with the arpView; nil without NS targets).
type nsView struct {
	targets  [MaxNSTargets][16]byte
	ntargets int
	ips      [][16]byte
	// macs are the slaves' device MACs (a frame to another unicast MAC is
	// PACKET_OTHERHOST, which bond_na_rcv ignores).
	macs []nsSlaveMAC
}

type nsSlaveMAC struct {
	s   *Slave
	mac [6]byte
}

// nsWarnedNoRoute is pr_warn_once's flag for "no route to ns_ip6_target".
var nsWarnedNoRoute atomic.Bool

// allNodes6 is ff02::1 (in6addr_linklocal_allnodes).
var allNodes6 = [16]byte{0xff, 0x02, 15: 1}

// nsReset forgets the routes and addresses when the monitor stops.
func (a *arpMon) nsReset() { a.ns.routes, a.ns.ips = nil, nil }

// nsPublish adds the NS targets, the bond's IPv6 addresses and the slaves'
// MACs to v (control goroutine, from arpPublish).
func (b *Bond) nsPublish(v *arpView) {
	p := &b.params
	if len(p.NSTargets) == 0 {
		return
	}
	n := &nsView{ips: b.arp.ns.ips}
	for i, t := range p.NSTargets {
		if i < MaxNSTargets {
			n.targets[i] = t.As16()
			n.ntargets++
		}
	}
	for _, s := range b.slaves {
		if m := b.slaveMAC(s); len(m) == 6 {
			n.macs = append(n.macs, nsSlaveMAC{s: s, mac: [6]byte(m)})
		}
	}
	v.ns = n
}

// nsSendAll is bond_ns_send_all: one neighbour solicitation per target
// through s, from the bond's address on the route to it (:: when the bond
// has none or there is no route, with the kernel's warning once when
// arp_validate is set), skipped when the route leaves through a device
// that is neither the bond nor stacked on it. A target whose route has not
// been read yet is not probed.
func (b *Bond) nsSendAll(s *Slave) {
	p := &b.params
	for _, t := range p.NSTargets {
		r, known := b.arp.ns.routes[t]
		if !known || (!r.ok && r.misses < noRouteReads && !b.arp.fresh) {
			continue
		}
		var src netip.Addr
		var tags []VLANTag
		if !r.ok {
			if p.ARPValidate != 0 && nsWarnedNoRoute.CompareAndSwap(false, true) {
				b.reg.logf("%s: no route to ns_ip6_target %s and arp_validate is set", b.name, FormatIP6C(t))
			}
		} else if !r.route.Stacked {
			continue
		} else {
			src, tags = r.route.Src, r.route.Tags
			if !src.Is6() {
				src = netip.Addr{}
			}
		}
		f := frame.NeighborSolicitation(b.slaveMAC(s), src, t, tags)
		if f == nil {
			continue
		}
		s.arp.lastTx.Store(b.reg.nanos())
		_ = b.Send(s, f)
	}
}

// nsReadPrepare is the NS monitor's part of arpRefresh, called on the
// control goroutine as a read starts: it returns the read, which runs on
// the read's goroutine (the routes to the NS targets and the IPv6
// addresses replies may be sent to: the bond's and its VLAN devices', and
// the namespace's global ones) and returns the apply, which runs on the
// control goroutine when the read is posted back, before the ARP routes
// are published. Without NS targets or an NSLookup host both do nothing.
func (b *Bond) nsReadPrepare() func() func() {
	r := b.reg
	nl, _ := r.cfg.Host.(NSLookup)
	if nl == nil || len(b.params.NSTargets) == 0 {
		return func() func() { return func() {} }
	}
	targets := append([]netip.Addr(nil), b.params.NSTargets...)
	index := b.index
	return func() func() {
		type read struct {
			t     netip.Addr
			rt    Route
			err   error
			known bool
		}
		reads := make([]read, 0, len(targets))
		for _, t := range targets {
			rt, err := nl.RouteTo6(t, index)
			reads = append(reads, read{t: t, rt: rt, err: err, known: err == nil || noRoute(err)})
		}
		devs := []int{index}
		if vl, ok := r.cfg.Host.(VLANLister); ok {
			if ups, err := vl.VLANUppers(index); err == nil {
				for _, u := range ups {
					devs = append(devs, u.Index)
				}
			}
		}
		var ips [][16]byte
		ipsOK := true
		if g, err := nl.GlobalAddrs6(); err == nil {
			for _, a := range g {
				ips = append(ips, a.As16())
			}
		} else {
			ipsOK = false
		}
		if al, ok := r.cfg.Host.(Addr6Lister); ok && ipsOK {
			for _, d := range devs {
				l, err := al.Addrs6(d)
				if err != nil {
					ipsOK = false
					break
				}
				for _, a := range l {
					ips = append(ips, a.As16())
				}
			}
		}
		return func() {
			a := &b.arp
			// a failed read keeps the previous answer
			routes := make(map[netip.Addr]arpRoute, len(reads))
			for _, x := range reads {
				old, had := a.ns.routes[x.t]
				switch {
				case !x.known:
					if had {
						routes[x.t] = old
					}
				case x.err == nil:
					routes[x.t] = arpRoute{ok: true, route: x.rt}
				default:
					m := 1
					if had && !old.ok {
						m = old.misses + 1
					}
					routes[x.t] = arpRoute{misses: m}
				}
			}
			a.ns.routes = routes
			if ipsOK {
				a.ns.ips = ips
			}
		}
	}
}

// nsRcv is bond_na_rcv in a slave reader, for a frame (Ethernet, no vnet
// header) that arp_validate asks to validate and that is not ARP: an NS or
// NA (frame.ParseND) not addressed to another host's MAC is trusted by the
// rules of bond_arp_rcv (on the active slave; on a backup when the active
// slave has heard a reply since it became active, with source and
// destination swapped; on any slave while the current ARP slave probed
// within the last interval) and then validated. No lock, no allocation.
func (b *Bond) nsRcv(v *arpView, s *Slave, f []byte, now int64) {
	n := v.ns
	if n == nil {
		return
	}
	h, ok := frame.ParseND(f)
	if !ok {
		return
	}
	if f[0]&1 == 0 { // unicast: PACKET_OTHERHOST unless to the slave's MAC
		mine := false
		for i := range n.macs {
			if n.macs[i].s == s {
				mine = [6]byte(f[0:6]) == n.macs[i].mac
				break
			}
		}
		if !mine {
			return
		}
	}
	switch {
	case !s.arp.backup.Load():
		n.validateNA(s, &h.Src, &h.Dst, now)
	case v.currActive != nil && v.lastRx(v.currActive) > v.currActive.arp.lastLinkUp.Load():
		n.validateNA(s, &h.Dst, &h.Src, now)
	case v.currARP != nil && v.inInterval(now, v.currARP.arp.lastTx.Load(), 1):
		n.validateNA(s, &h.Src, &h.Dst, now)
	}
}

// validateNA is bond_validate_na: saddr must be specified and one of the
// targets (or a target's solicited-node address), daddr ff02::1 or one of
// the bond's addresses.
func (n *nsView) validateNA(s *Slave, saddr, daddr *[16]byte, now int64) {
	if *saddr == ([16]byte{}) {
		return
	}
	if *daddr != allNodes6 {
		mine := false
		for i := range n.ips {
			if n.ips[i] == *daddr {
				mine = true
				break
			}
		}
		if !mine {
			return
		}
	}
	i := n.targetIndex(saddr)
	if i < 0 {
		return
	}
	s.arp.lastRx.Store(now)
	s.arp.targetRx[i].Store(now)
}

// targetIndex is bond_get_targets_ip6 on the reader's copy (nsTargetIndex).
func (n *nsView) targetIndex(ip *[16]byte) int {
	for i := 0; i < MaxNSTargets; i++ {
		var t [16]byte
		if i < n.ntargets {
			t = n.targets[i]
		}
		if t == *ip {
			return i
		}
		if ip[0] == 0xff && ip[1] == 0x02 && ip[11] == 0x01 && ip[12] == 0xff &&
			[11]byte(ip[0:11]) == [11]byte{0xff, 0x02, 10: 0} &&
			ip[13] == t[13] && ip[14] == t[14] && ip[15] == t[15] {
			return i
		}
		if t == ([16]byte{}) {
			break
		}
	}
	return -1
}
