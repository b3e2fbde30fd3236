package bond

import (
	"context"
	"net/netip"
	"strings"
	"syscall"
)

// rtnetlink flow. A bond request a supervised process sends over
// NETLINK_ROUTE (package rtnl decodes it) meets these calls, each one
// Registry.Do on the control goroutine, as the kernel runs it under RTNL:
//
//   - RTM_NEWLINK creating a bond: NewLink (rtnl_newlink → bond_newlink:
//     in 6.1 the options are applied before register_netdevice, so their
//     log lines say "bond1 (uninitialized)", and a failed option leaves no
//     device and no log line of its removal);
//   - RTM_NEWLINK on a bond with IFLA_INFO_DATA: ChangeLink (bond_changelink);
//   - IFLA_MASTER on a port: SetMaster (do_set_master → bond_enslave or
//     bond_release);
//   - IFLA_INFO_SLAVE_DATA on a port: ChangeLink with the slave options
//     (bond_slave_changelink);
//   - RTM_DELLINK of a bond: DelLink (bond_uninit).
//
// Options go through the sysfs files' own path (setOption: checks, parse,
// setter, bond_opt_error_interpret's log lines, the journal), so errnos and
// log lines are those of the files. What differs is the kernel's netlink
// side: the errors carry an extack message (LinkError), and the "Error: ..."
// lines BOND_NL_ERR and SLAVE_NL_ERR log only without an extack are
// returned instead of logged.

// LinkOption is one IFLA_BOND_* (or IFLA_BOND_SLAVE_*) attribute of an
// rtnetlink request, as the text its sysfs file takes.
type LinkOption struct {
	Name string // the option (sysfs file name)
	// Value is the text written to the file. For arp_ip_target, "" clears
	// the list silently (bond_option_arp_ip_targets_clear: the start of the
	// IFLA_BOND_ARP_IP_TARGET nest) and "+a.b.c.d" adds one target.
	Value string
	// Errno, when non-zero, fails the request at this place, with ExtAck:
	// one of bond_changelink's own checks (e.g. arp_interval with miimon).
	Errno  syscall.Errno
	ExtAck string
	// LogValue is the value as the kernel's log line about an invalid one
	// prints it: netlink passes a number (bond_opt_initval), whose %llu
	// differs from Value for ad_actor_system and arp_ip_target. "" when it
	// is Value.
	LogValue string
}

// LinkError is a failed rtnetlink request: the errno and the extack
// message the kernel returns with it ("" for none).
type LinkError struct {
	Errno syscall.Errno
	Msg   string
}

func (e *LinkError) Error() string {
	if e.Msg == "" {
		return e.Errno.Error()
	}
	return e.Msg + ": " + e.Errno.Error()
}

// Unwrap returns the errno.
func (e *LinkError) Unwrap() error { return e.Errno }

// NewLink creates a bond as RTM_NEWLINK with kind "bond" does
// (bond_newlink): name may hold one "%d"; opts are applied in order, with
// the device still uninitialized; a failure removes the bond again without
// a log line. It returns the new bond's name, or a *LinkError (EEXIST when
// the name is taken, the option's errno and extack), or ctx.Err or ErrClosed.
func (r *Registry) NewLink(ctx context.Context, name string, opts []LinkOption) (string, error) {
	defer r.syncJournal()
	var created string
	err := r.Do(ctx, func() error {
		n := len(r.bonds)
		if err := r.createBond(name); err != nil {
			return &LinkError{Errno: ErrnoOf(err)}
		}
		if len(r.bonds) != n+1 {
			return &LinkError{Errno: syscall.EIO}
		}
		b := r.bonds[n]
		b.uninitialized = true
		err := r.applyLinkOptions(b, opts)
		b.uninitialized = false
		if err != nil {
			r.nlErr = func(string) bool { return true }
			r.removeBond(b, true)
			r.nlErr = nil
			return err
		}
		created = b.name
		return nil
	})
	return created, err
}

// ChangeLink applies opts to the bond named bond in order, stopping at the
// first failure (bond_changelink, bond_slave_changelink). It returns nil,
// a *LinkError (ENODEV when there is no such bond), ctx.Err or ErrClosed.
func (r *Registry) ChangeLink(ctx context.Context, bond string, opts []LinkOption) error {
	defer r.syncJournal()
	f, fetched := r.syncBond(bond)
	return r.Do(ctx, func() error {
		b := r.Bond(bond)
		if b == nil {
			return &LinkError{Errno: syscall.ENODEV}
		}
		if fetched && f.ok && f.index == b.index && f.link.Up != b.up && newer(&b.linkSeq, f.seq) {
			if f.link.Up {
				b.open()
			} else {
				b.close()
			}
			r.journal(Change{Kind: ChangeUp, Bond: b.name, Up: b.up})
		}
		return r.applyLinkOptions(b, opts)
	})
}

// SetMaster makes the bond named bond the master of port, as IFLA_MASTER
// does (do_set_master): a port of another bond is released from it first;
// bond "" releases port from its bond (IFLA_MASTER 0). Setting the master a
// port already has does nothing. It returns nil, a *LinkError, ctx.Err or
// ErrClosed.
func (r *Registry) SetMaster(ctx context.Context, port, bond string) error {
	defer r.syncJournal()
	f, fetched := r.syncBond(bond)
	return r.Do(ctx, func() error {
		var cur *Bond
		for _, b := range r.bonds {
			for _, s := range b.slaves {
				if s.name == port {
					cur = b
				}
			}
		}
		var b *Bond
		if bond != "" {
			if b = r.Bond(bond); b == nil {
				return &LinkError{Errno: syscall.ENODEV}
			}
			if b == cur {
				return nil
			}
			if fetched && f.ok && f.index == b.index && f.link.Up != b.up && newer(&b.linkSeq, f.seq) {
				if f.link.Up {
					b.open()
				} else {
					b.close()
				}
				r.journal(Change{Kind: ChangeUp, Bond: b.name, Up: b.up})
			}
		}
		slaves := OptionByName("slaves")
		if cur != nil {
			if err := r.applyLinkOption(cur, slaves, "-"+port); err != nil {
				return err
			}
		}
		if b == nil {
			return nil
		}
		return r.applyLinkOption(b, slaves, "+"+port)
	})
}

// DelLink deletes the bond named bond as RTM_DELLINK does (bond_uninit:
// its slaves are released, "Released all slaves"), without the log lines
// of bonding_masters. It returns nil, a *LinkError (ENODEV), ctx.Err or
// ErrClosed.
func (r *Registry) DelLink(ctx context.Context, bond string) error {
	defer r.syncJournal()
	return r.Do(ctx, func() error {
		b := r.Bond(bond)
		if b == nil {
			return &LinkError{Errno: syscall.ENODEV}
		}
		r.deleteBond(b)
		return nil
	})
}

// applyLinkOptions applies opts to b in order; control goroutine.
func (r *Registry) applyLinkOptions(b *Bond, opts []LinkOption) error {
	for _, lo := range opts {
		if lo.Errno != 0 {
			return &LinkError{Errno: lo.Errno, Msg: lo.ExtAck}
		}
		o := LinkOptionByName(lo.Name)
		if o == nil || o.ReadOnly() {
			return &LinkError{Errno: syscall.EOPNOTSUPP}
		}
		if lo.Name == "ns_ip6_target" {
			if err := r.applyNSTargets(b, o, lo.Value); err != nil {
				return err
			}
			continue
		}
		if lo.Name == "arp_ip_target" && lo.Value == "" {
			b.clearARPTargets()
			b.journalOption(o, "")
			continue
		}
		r.nlLogValue = lo.LogValue
		err := r.applyLinkOption(b, o, lo.Value)
		r.nlLogValue = ""
		if err != nil {
			return err
		}
	}
	return nil
}

// applyLinkOption sets one option as __bond_opt_set does with an extack:
// the errno's extack message, and the "Error: " lines of enslave taken as
// the message instead of logged.
func (r *Registry) applyLinkOption(b *Bond, o *Option, text string) error {
	var nlMsg string
	r.nlErr = func(msg string) bool {
		if m, ok := strings.CutPrefix(msg, "Error: "); ok && nlMsg == "" {
			nlMsg = m
			return true
		}
		return false
	}
	err := b.setOption(o, text)
	r.nlErr = nil
	if err == nil {
		b.journalOption(o, text)
		return nil
	}
	e := ErrnoOf(err)
	if nlMsg == "" {
		nlMsg = optExtAck(b, o, e)
	}
	return &LinkError{Errno: e, Msg: nlMsg}
}

// optExtAck is the extack message __bond_opt_set and
// bond_opt_error_interpret give an errno.
func optExtAck(b *Bond, o *Option, e syscall.Errno) string {
	switch e {
	case syscall.EINVAL:
		return "invalid option value"
	case syscall.EACCES:
		if o.Unsupported(b.params.Mode) {
			return "option not supported in mode"
		}
	case syscall.ENOTEMPTY:
		return "unable to set option because the bond device has slaves"
	case syscall.EBUSY:
		if o.Name != "slaves" {
			return "unable to set option because the bond device is up"
		}
	}
	return ""
}

// clearARPTargets empties the target list without log lines
// (bond_option_arp_ip_targets_clear).
func (b *Bond) clearARPTargets() {
	r := b.reg
	r.nlErr = func(string) bool { return true }
	for n := len(b.params.ARPTargets); n > 0; n = len(b.params.ARPTargets) {
		if b.removeARPTarget(b.params.ARPTargets[n-1]) != nil {
			break
		}
	}
	r.nlErr = nil
}

// applyNSTargets is bond_changelink's IFLA_BOND_NS_IP6_TARGET block: list
// is the nest's addresses, space-separated (rtnl's nsTargets); the table
// is emptied, each address set as __bond_opt_set does (its log lines and
// extack), and the resulting list journalled.
func (r *Registry) applyNSTargets(b *Bond, o *Option, list string) error {
	var addrs []netip.Addr
	for _, f := range strings.Fields(list) {
		a, err := netip.ParseAddr(f)
		if err != nil {
			return &LinkError{Errno: syscall.EINVAL, Msg: "Invalid IPv6 address"}
		}
		addrs = append(addrs, a)
	}
	err := b.SetNSTargets(addrs, func(text string) error { return r.applyLinkOption(b, o, text) })
	b.journalOption(o, "")
	return err
}
