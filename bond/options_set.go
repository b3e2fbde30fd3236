package bond

import (
	"context"
	"net/netip"
	"syscall"

	"bondingfs/internal/ktext"
)

// Option-write flow. An echo into bonding/<option> meets these calls, in
// this order (the kernel's bonding_sysfs_store_option → bond_opt_tryset_rtnl
// → __bond_opt_set → bond_option_*_set, under RTNL):
//
//  1. fusefs: node.Open (O_WRONLY|O_TRUNC) → filesystem.syncedFor, then
//     node.Setattr (size 0), then node.Write → node.write (EIO, EACCES,
//     page cut) on the FUSE request's goroutine.
//  2. Registry.WriteOption (this file): ENOENT, EACCES, E2BIG; syncBond reads
//     the bond's IFF_UP from the host outside the control goroutine.
//  3. Registry.Do hands the closure to the control goroutine (registry.go),
//     which first applies a newer IFF_UP (open/close).
//  4. Bond.setOption → trySet: bond_opt_check_deps (EACCES for the mode,
//     ENOTEMPTY, EBUSY), then Option.Parse (options_parse.go, EINVAL).
//  5. The option's setter (setMiimon, setMode, …), which calls
//     Bond.ParamsChanged (lifecycle.go) when monitors or the transmit
//     selector depend on it; then Mode.OptionChanged.
//  6. Bond.journalOption → Config.Journal.Record (journal.go), and Do's
//     deferred publish of a new Snapshot (registry.go).
//  7. Back on the caller: the journal's done (Registry.reserveJournal, taken
//     before step 3: a journal that cannot be written fails the write
//     with EIO or ENOSPC before anything changes) makes the change durable
//     before WriteOption returns, and the write returns len(data) or the
//     errno.
//
// A read back opens the file again: node.Open renders the text from the new
// snapshot (node.content → RenderOption → the option's Show).

// WriteOption writes data to the file bonding/<option> of the bond named
// bond, as write(2) on the kernel's sysfs file (bond_sysfs.c
// bonding_sysfs_store_option → bond_options.c __bond_opt_set). It runs on
// the control goroutine and returns nil or a syscall.Errno:
//
//   - ENOENT for an unknown option, ENODEV for an unknown bond;
//   - EACCES for a read-only file or a caller without CAP_NET_ADMIN (the
//     kernel refuses the open of a 0444/root-only file);
//   - E2BIG for more than a page (kernfs atomic_write_len);
//   - EIO or ENOSPC when the crash journal cannot take the change
//     (JournalReserver; no kernel counterpart): nothing changes;
//   - then, in the kernel's order: EACCES when the option is not supported in
//     the current mode, ENOTEMPTY when it needs a bond without slaves, EBUSY
//     when it needs the bond down, EINVAL when the value does not parse, and
//     finally the setter's own errors (EPERM, ENODEV, EINVAL, ...).
//
// Failures are logged like bond_opt_error_interpret; successful sets log
// nothing except the kernel's warnings (delay rounding, last ARP target).
// ctx ending first returns ctx.Err(); a closed registry returns ErrClosed.
func (r *Registry) WriteOption(ctx context.Context, bond, option, data string, c Caller) error {
	o := LinkOptionByName(option) // no file names a netlink-only option: the journal's replay
	if o == nil {
		return syscall.ENOENT
	}
	if o.ReadOnly() || !c.NetAdmin {
		return syscall.EACCES
	}
	if len(data) > PageSize {
		return syscall.E2BIG
	}
	// the bond's IFF_UP as the host has it now (OptIfDown), read here,
	// outside the control goroutine
	f, fetched := r.syncBond(bond)
	done, err := r.reserveJournal()
	if err != nil {
		return err
	}
	return endJournal(done, r.Do(ctx, func() error {
		b := r.Bond(bond)
		if b == nil {
			return syscall.ENODEV
		}
		if fetched && f.ok && f.index == b.index && f.link.Up != b.up && newer(&b.linkSeq, f.seq) {
			if f.link.Up {
				b.open()
			} else {
				b.close()
			}
			r.journal(Change{Kind: ChangeUp, Bond: b.name, Up: b.up})
		}
		if err := b.setOption(o, data); err != nil {
			return err
		}
		b.journalOption(o, data)
		return nil
	}))
}

// SetOption sets the option named name from text as a write to its sysfs
// file would (see Registry.WriteOption), on the control goroutine: for
// BONDING_OPTS-style configuration applied to a bond the caller already
// holds. It returns nil or a syscall.Errno.
func (b *Bond) SetOption(name, text string) error {
	o := OptionByName(name)
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

// setOption is __bond_opt_set: dependency checks, parse, set, and the error
// log of bond_opt_error_interpret.
func (b *Bond) setOption(o *Option, text string) error {
	text = ktext.CutNUL(text)
	err := b.trySet(o, text)
	if err != nil {
		e := ErrnoOf(err)
		b.interpretOptError(o, e, text)
		return e
	}
	b.mode.OptionChanged(o.Name)
	return nil
}

func (b *Bond) trySet(o *Option, text string) error {
	// bond_opt_check_deps
	if o.Unsupported(b.params.Mode) {
		return syscall.EACCES
	}
	if o.Flags&OptNoSlaves != 0 && b.HasSlaves() {
		return syscall.ENOTEMPTY
	}
	if o.Flags&OptIfDown != 0 && b.IsUp() {
		return syscall.EBUSY
	}
	if o.set == nil {
		return syscall.EACCES
	}
	if o.Flags&OptRawVal != 0 {
		return o.set(b, nil, text)
	}
	v, ok := o.Parse(text)
	if !ok {
		return syscall.EINVAL
	}
	return o.set(b, &v, text)
}

// interpretOptError logs a failed set like bond_opt_error_interpret.
func (b *Bond) interpretOptError(o *Option, e syscall.Errno, text string) {
	s := ktext.CutNL(text)
	if o.NetlinkOnly() {
		s = nsValueAny // netlink's bond_opt_initextra: the number is ULLONG_MAX
	}
	if b.reg.nlLogValue != "" {
		s = b.reg.nlLogValue // a netlink value: the kernel prints its u64
	}
	switch e {
	case syscall.EINVAL:
		b.Logf("option %s: invalid value (%s)", o.Name, s)
		if min, max, ok := o.Range(); ok {
			b.Logf("option %s: allowed values %d - %d", o.Name, min, max)
		}
	case syscall.EACCES:
		if m := b.params.Mode; o.Unsupported(m) {
			b.Logf("option %s: mode dependency failed, not supported in mode %s(%d)",
				o.Name, m, m)
		}
	case syscall.ENOTEMPTY:
		b.Logf("option %s: unable to set because the bond device has slaves", o.Name)
	case syscall.EBUSY:
		b.Logf("option %s: unable to set because the bond device is up", o.Name)
	case syscall.ENODEV:
		b.Logf("option %s: interface %s does not exist!", o.Name, s)
	}
}

// setInt is the setter of options that only store their value; T is the
// field's type (int, or an enum type such as ARPValidate).
func setInt[T ~int](field func(*Params) *T) func(*Bond, *OptValue, string) error {
	return func(b *Bond, v *OptValue, _ string) error {
		*field(&b.params) = T(v.Value)
		b.ParamsChanged()
		return nil
	}
}

// setXmitPolicy is the setter of xmit_hash_policy: it only stores the value.
func setXmitPolicy(b *Bond, v *OptValue, _ string) error {
	b.params.XmitPolicy = XmitPolicy(v.Value)
	b.ParamsChanged()
	return nil
}

// setMode is bond_option_mode_set: modes without ARP monitoring (802.3ad,
// tlb, alb) turn arp_interval off and miimon on (100 ms) if it was off;
// balance-alb forces tlb_dynamic_lb on; arp_validate is reset.
func setMode(b *Bond, v *OptValue, _ string) error {
	p := &b.params
	m := ModeID(v.Value)
	if !b.reg.modeConfigured(m) {
		return syscall.EINVAL // Config.Modes lacks it: an unsupported value
	}
	if !m.UsesARPMonitor() {
		p.ARPInterval = 0
		if p.Miimon == 0 {
			p.Miimon = DefaultMiimon
		}
	}
	if m == ModeALB {
		p.TLBDynamicLB = 1
	}
	p.ARPValidate = ARPValidateNone
	p.Mode = m
	b.ParamsChanged()
	return nil
}

// DefaultMiimon is BOND_DEFAULT_MIIMON (ms), the miimon the modes without
// ARP monitoring force when it is 0.
const DefaultMiimon = 100

// setMiimon is bond_option_miimon_set: a non-zero miimon (ms) turns the ARP
// monitor and arp_validate off. Delays stay stored in ticks, so their shown
// values scale with the new miimon.
func setMiimon(b *Bond, v *OptValue, _ string) error {
	p := &b.params
	p.Miimon = int(v.Value)
	if v.Value != 0 && p.ARPInterval != 0 {
		p.ARPInterval = 0
		p.ARPValidate = ARPValidateNone
	}
	b.ParamsChanged()
	return nil
}

// setARPInterval is bond_option_arp_interval_set: a non-zero interval (ms)
// turns MII monitoring off.
func setARPInterval(b *Bond, v *OptValue, _ string) error {
	p := &b.params
	p.ARPInterval = int(v.Value)
	if v.Value != 0 {
		p.Miimon = 0
	}
	b.ParamsChanged()
	return nil
}

// setDelay is _bond_option_delay_set: the value (ms) is stored in miimon
// ticks, rounded down with a warning; EPERM while miimon is 0.
func setDelay(name string, field func(*Params) *int) func(*Bond, *OptValue, string) error {
	return func(b *Bond, v *OptValue, _ string) error {
		p := &b.params
		value := int(int32(v.Value))
		if p.Miimon == 0 {
			b.Logf("Unable to set %s as MII monitoring is disabled", name)
			return syscall.EPERM
		}
		if value%p.Miimon != 0 {
			b.Logf("%s (%d) is not a multiple of miimon (%d), value rounded to %d ms",
				name, value, p.Miimon, value/p.Miimon*p.Miimon)
		}
		*field(p) = value / p.Miimon
		b.ParamsChanged()
		return nil
	}
}

// setPrimaryReselect stores primary_reselect and reselects the active slave.
func setPrimaryReselect(b *Bond, v *OptValue, _ string) error {
	b.params.PrimaryReselect = PrimaryReselect(v.Value)
	b.ParamsChanged()
	b.Reselect()
	return nil
}

// setAllSlavesActive is bond_option_all_slaves_active_set; the engine flips
// the inactive flags of backup slaves in ParamsChanged.
func setAllSlavesActive(b *Bond, v *OptValue, _ string) error {
	if int(v.Value) == b.params.AllSlavesActive {
		return nil
	}
	b.params.AllSlavesActive = int(v.Value)
	b.ParamsChanged()
	return nil
}

// setSlaves is bond_option_slaves_set: "+ifname" enslaves, "-ifname"
// releases (first word, at most 16 bytes). A malformed command is EPERM; an
// interface the host does not have is ENODEV; then Bond.Enslave /
// Bond.Release decide (their errno is interpreted like any setter error).
func setSlaves(b *Bond, _ *OptValue, raw string) error {
	cmd := ktext.FirstWord(raw, ifNameSize)
	if len(cmd) <= 1 || (cmd[0] != '+' && cmd[0] != '-') || !ktext.ValidIfName(cmd[1:]) {
		b.Logf("no command found in slaves file - use +ifname or -ifname")
		return syscall.EPERM
	}
	name := cmd[1:]
	if err := b.optLookupLink(name); err != nil {
		return err
	}
	if cmd[0] == '+' {
		return b.Enslave(name)
	}
	return b.Release(name)
}

// optLookupLink is __dev_get_by_name through the Host: ENODEV (or the
// host's errno) when the interface does not exist.
func (b *Bond) optLookupLink(name string) error {
	h := b.reg.Host()
	if h == nil {
		return syscall.ENODEV
	}
	if _, err := h.LinkByName(name); err != nil {
		return ErrnoOf(err)
	}
	return nil
}

// setARPTargets is bond_option_arp_ip_targets_set: "+a.b.c.d" adds,
// "-a.b.c.d" removes one target. An unparsable address or missing command is
// EPERM; 0.0.0.0, 255.255.255.255, duplicates, a full table (16) and
// removing an absent target are EINVAL.
func setARPTargets(b *Bond, _ *OptValue, raw string) error {
	var addr netip.Addr
	ok := false
	if len(raw) >= 1 {
		addr, ok = ktext.In4pton(raw[1:])
	}
	if !ok {
		b.Logf("invalid ARP target specified")
		return syscall.EPERM
	}
	switch raw[0] {
	case '+':
		return b.addARPTarget(addr)
	case '-':
		return b.removeARPTarget(addr)
	}
	b.Logf("no command found in arp_ip_targets file - use +<addr> or -<addr>")
	return syscall.EPERM
}

// ARPTargetOK is bond_is_ip_target_ok: neither 0.0.0.0 nor 255.255.255.255.
func ARPTargetOK(a netip.Addr) bool {
	return a != netip.IPv4Unspecified() && a != netip.AddrFrom4([4]byte{255, 255, 255, 255})
}

func (b *Bond) addARPTarget(a netip.Addr) error {
	p := &b.params
	if !ARPTargetOK(a) {
		b.Logf("invalid ARP target %s specified for addition", a)
		return syscall.EINVAL
	}
	for _, t := range p.ARPTargets {
		if t == a {
			b.Logf("ARP target %s is already present", a)
			return syscall.EINVAL
		}
	}
	if len(p.ARPTargets) >= MaxARPTargets {
		b.Logf("ARP target table is full!")
		return syscall.EINVAL
	}
	p.ARPTargets = append(append([]netip.Addr(nil), p.ARPTargets...), a)
	b.arpTargetAdded(len(p.ARPTargets) - 1)
	b.ParamsChanged()
	return nil
}

func (b *Bond) removeARPTarget(a netip.Addr) error {
	p := &b.params
	if !ARPTargetOK(a) {
		b.Logf("invalid ARP target %s specified for removal", a)
		return syscall.EINVAL
	}
	ind := -1
	for i, t := range p.ARPTargets {
		if t == a {
			ind = i
			break
		}
	}
	if ind < 0 {
		b.Logf("unable to remove nonexistent ARP target %s", a)
		return syscall.EINVAL
	}
	if ind == 0 && len(p.ARPTargets) == 1 && p.ARPInterval != 0 {
		b.Logf("Removing last arp target with arp_interval on")
	}
	b.arpTargetRemoved(ind)
	t := make([]netip.Addr, 0, len(p.ARPTargets)-1)
	t = append(t, p.ARPTargets[:ind]...)
	p.ARPTargets = append(t, p.ARPTargets[ind+1:]...)
	b.ParamsChanged()
	return nil
}

// setPrimary is bond_option_primary_set: the text up to its first newline
// names the primary; "" clears it. It never fails: a name that is not (yet)
// a slave is recorded (Bond.SetPrimary keeps at most 15 bytes).
func setPrimary(b *Bond, _ *OptValue, raw string) error {
	b.SetPrimary(ktext.CutNL(raw))
	b.changed()
	return nil
}

// setActiveSlave is bond_option_active_slave_set: the first word (at most
// 15 bytes) names the new active slave; an empty value (or one starting with
// a newline) clears it and reselects. Bond.SetActiveSlave checks the rest:
// ENODEV when the interface does not exist, EINVAL when it is not a slave of
// this bond or its link is not up.
func setActiveSlave(b *Bond, _ *OptValue, raw string) error {
	name := ktext.FirstWord(raw, ifNameSize-1)
	if name == "" || raw[0] == '\n' {
		name = ""
	}
	err := b.SetActiveSlave(name)
	b.changed()
	return err
}

// setQueueID is bond_option_queue_id_set: "ifname:qid" gives a slave a
// queue id (0 .. tx_queues; a non-zero id used by another slave is refused).
// Every failure is EPERM and logs nothing.
func setQueueID(b *Bond, _ *OptValue, raw string) error {
	i := -1
	for j := 0; j < len(raw); j++ {
		if raw[j] == ':' {
			i = j
			break
		}
	}
	if i < 0 {
		return syscall.EPERM
	}
	name := raw[:i]
	qid, ok := ktext.ScanHd(raw[i+1:])
	if !ok || !ktext.ValidIfName(name) || int(qid) > b.params.TxQueues {
		return syscall.EPERM
	}
	var target *Slave
	for _, s := range b.slaves {
		if s.name == name {
			target = s
		} else if qid != 0 && int(qid) == s.queueID {
			return syscall.EPERM
		}
	}
	if target == nil {
		return syscall.EPERM
	}
	target.SetQueueID(int(qid))
	return nil
}

// setAdActorSystem is bond_option_ad_actor_system_set: a MAC address
// "xx:xx:xx:xx:xx:xx" that is not multicast, else EINVAL with "Invalid
// ad_actor_system MAC address.".
func setAdActorSystem(b *Bond, _ *OptValue, raw string) error {
	m, ok := ktext.MacPton(raw)
	if !ok || m[0]&1 != 0 {
		b.Logf("Invalid ad_actor_system MAC address.")
		return syscall.EINVAL
	}
	b.params.ADActorSystem = m
	b.ParamsChanged()
	return nil
}
