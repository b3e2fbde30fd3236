package bond

import (
	"net/netip"
	"strconv"
	"strings"
	"syscall"

	"bondingfs/internal/ktext"
)

// ns_ip6_target, the NS monitor's IPv6 targets (bond_options.c
// bond_option_ns_ip6_targets_set, bond_netlink.c bond_changelink's
// IFLA_BOND_NS_IP6_TARGET block). In 6.1 the option exists only over
// rtnetlink: bond_sysfs.c has no file for it, so it lives in
// NetlinkOptions, not in Options (which drives the bonding/ directory, the
// module options and BONDING_OPTS). Goroutine: the setters run on the
// control goroutine, as every option setter.

// OptNetlinkOnly marks an option of NetlinkOptions: set over rtnetlink
// only, with no file under bonding/ (the kernel's options absent from
// bond_sysfs.c per_bond_attrs[]).
const OptNetlinkOnly = OptReadOnly << 1

// NetlinkOptions are the options of bond_options.c bond_opts[] that 6.1
// sets only over rtnetlink. OptionByName does not find them (no sysfs file
// has their name); LinkOptionByName does.
var NetlinkOptions = []*Option{
	{Name: "ns_ip6_target", Desc: "NS targets in ffff:ffff::ffff:ffff form",
		Flags: OptRawVal | OptNetlinkOnly, Show: showNSTargets, set: setNSTarget},
}

// LinkOptionByName returns the option named name from Options or
// NetlinkOptions (bond_opt_get_by_name over the whole bond_opts[]), or nil:
// the options an rtnetlink request may set.
func LinkOptionByName(name string) *Option {
	if o := OptionByName(name); o != nil {
		return o
	}
	for _, o := range NetlinkOptions {
		if o.Name == name {
			return o
		}
	}
	return nil
}

// NetlinkOnly reports whether the option has no sysfs file (OptNetlinkOnly).
func (o *Option) NetlinkOnly() bool { return o.Flags&OptNetlinkOnly != 0 }

// nsValueAny is how bond_opt_error_interpret prints the value of an
// ns_ip6_target set over netlink: bond_opt_initextra leaves the number at
// ULLONG_MAX.
const nsValueAny = "18446744073709551615"

// NSInvalidValue is the text the kernel's "option ns_ip6_target: invalid
// value (...)" line shows for a target set over rtnetlink (ULLONG_MAX: the
// address travels in the value's extra bytes, not in its number).
const NSInvalidValue = nsValueAny

// showNSTargets renders the targets as a space-separated list with a
// newline ("" for none). No sysfs file shows it; the status report and the
// journal do.
func showNSTargets(s *BondStatus, _ Caller) string {
	items := make([]string, 0, len(s.Params.NSTargets))
	for _, a := range s.Params.NSTargets {
		items = append(items, FormatIP6C(a))
	}
	return optJoinList(items, 0)
}

// setNSTarget is the ns_ip6_target setter. The raw value is "+addr", one
// target added as bond_option_ns_ip6_targets_set adds it, or "" (a lone
// newline too), which empties the table without a log line
// (bond_option_ns_ip6_targets_clear). An address that does not parse as
// IPv6 is EINVAL (netlink never sends one: the attribute is 16 bytes).
func setNSTarget(b *Bond, _ *OptValue, raw string) error {
	raw = ktext.CutNL(raw)
	if raw == "" {
		b.clearNSTargets()
		return nil
	}
	if raw[0] != '+' {
		return syscall.EINVAL
	}
	a, err := netip.ParseAddr(raw[1:])
	if err != nil || !a.Is6() || a.Zone() != "" {
		return syscall.EINVAL
	}
	return b.addNSTarget(a)
}

// SetLinkOption sets the option named name (LinkOptionByName: a sysfs
// option or a netlink-only one) from text as __bond_opt_set does for an
// rtnetlink request, with the same checks, log lines and journal record
// as a write to an option's file (Bond.SetOption), on the control
// goroutine. It returns nil or a syscall.Errno (ENOENT for an unknown
// option, EACCES for a read-only one).
func (b *Bond) SetLinkOption(name, text string) error {
	o := LinkOptionByName(name)
	if o == nil {
		return syscall.ENOENT
	}
	if o.ReadOnly() {
		return syscall.EACCES
	}
	if err := b.setOption(o, text); err != nil {
		return err
	}
	b.journalOption(o, text)
	return nil
}

// NSTargetOK is bond_is_ip6_target_ok: not ::, not ::1, not multicast.
func NSTargetOK(a netip.Addr) bool {
	return a.Is6() && !a.IsUnspecified() && !a.IsLoopback() && !a.IsMulticast()
}

// solicitedNode is addrconf_addr_solict_mult: ff02::1:ffXX:XXXX with the
// low 24 bits of a.
func solicitedNode(a netip.Addr) netip.Addr {
	b := a.As16()
	return netip.AddrFrom16([16]byte{0xff, 0x02, 10: 0, 11: 0x01, 12: 0xff, 13: b[13], 14: b[14], 15: b[15]})
}

// nsTargetIndex is bond_get_targets_ip6: the slot whose target is ip or
// has ip as its solicited-node multicast address, scanning the 16 slots
// (empty ones are ::) and stopping after the first empty one; -1 when none.
func nsTargetIndex(targets []netip.Addr, ip netip.Addr) int {
	for i := 0; i < MaxNSTargets; i++ {
		t := netip.IPv6Unspecified()
		if i < len(targets) {
			t = targets[i]
		}
		if t == ip || solicitedNode(t) == ip {
			return i
		}
		if t.IsUnspecified() {
			break
		}
	}
	return -1
}

// addNSTarget is bond_option_ns_ip6_targets_set for one address: the
// kernel's checks and error lines, then the first free slot, whose receive
// time on every slave starts now (_bond_options_ns_ip6_target_set).
func (b *Bond) addNSTarget(a netip.Addr) error {
	p := &b.params
	if !NSTargetOK(a) {
		b.Logf("invalid NS target %s specified for addition", FormatIP6C(a))
		return syscall.EINVAL
	}
	if nsTargetIndex(p.NSTargets, a) != -1 {
		b.Logf("NS target %s is already present", FormatIP6C(a))
		return syscall.EINVAL
	}
	i := nsTargetIndex(p.NSTargets, netip.IPv6Unspecified())
	if i == -1 || i != len(p.NSTargets) {
		b.Logf("NS target table is full!")
		return syscall.EINVAL
	}
	p.NSTargets = append(append([]netip.Addr(nil), p.NSTargets...), a)
	b.arpTargetAdded(i)
	b.ParamsChanged()
	return nil
}

// clearNSTargets is bond_option_ns_ip6_targets_clear: every slot emptied,
// and every slave's per-target receive time (shared with the ARP targets,
// slot by slot) set to zero.
func (b *Bond) clearNSTargets() {
	b.params.NSTargets = nil
	for _, s := range b.slaves {
		for i := range s.arp.targetRx {
			s.arp.targetRx[i].Store(0)
		}
	}
	b.ParamsChanged()
}

// SetNSTargets replaces the bond's NS targets as bond_changelink does with
// an IFLA_BOND_NS_IP6_TARGET nest: the table is emptied, then each address
// is added in order through add (the rtnetlink layer's per-option set,
// which logs and turns errors into extack; it is given "+addr"), stopping
// at the first failure; when none was added and arp_interval is on, the
// warning "Removing last ns target with arp_interval on" follows (after the
// failed add's lines, as in the kernel). It returns add's first error.
// Control goroutine.
func (b *Bond) SetNSTargets(addrs []netip.Addr, add func(text string) error) error {
	b.clearNSTargets()
	var err error
	n := 0
	for _, a := range addrs {
		if err = add("+" + a.String()); err != nil {
			break
		}
		n++
	}
	if n == 0 && b.params.ARPInterval != 0 {
		b.Logf("Removing last ns target with arp_interval on")
	}
	return err
}

// FormatIP6C formats an IPv6 address as the kernel's %pI6c
// (ip6_compressed_string): lower-case hex groups without leading zeros,
// the longest run of two or more zero groups (the first of equal runs)
// as "::", and the last 32 bits in dotted IPv4 form for IPv4-mapped
// (::ffff:a.b.c.d) and ISATAP (…:0:5efe:a.b.c.d, …:200:5efe:a.b.c.d)
// addresses.
func FormatIP6C(a netip.Addr) string {
	b := a.As16()
	var g [8]uint16
	for i := range g {
		g[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
	}
	v4mapped := g[0] == 0 && g[1] == 0 && g[2] == 0 && g[3] == 0 && g[4] == 0 && g[5] == 0xffff
	isatap := (g[4]|0x0200) == 0x0200 && g[5] == 0x5efe
	rng := 8
	if v4mapped || isatap {
		rng = 6
	}
	colon, longest := -1, 1
	for i := 0; i < rng; i++ {
		n := 0
		for j := i; j < rng && g[j] == 0; j++ {
			n++
		}
		if n > longest {
			longest, colon = n, i
		}
	}
	var sb strings.Builder
	need := false
	for i := 0; i < rng; i++ {
		if i == colon {
			if need || i == 0 {
				sb.WriteByte(':')
			}
			sb.WriteByte(':')
			need = false
			i += longest - 1
			continue
		}
		if need {
			sb.WriteByte(':')
		}
		sb.WriteString(strconv.FormatUint(uint64(g[i]), 16))
		need = true
	}
	if rng == 6 {
		if need {
			sb.WriteByte(':')
		}
		sb.WriteString(netip.AddrFrom4([4]byte(b[12:16])).String())
	}
	return sb.String()
}
