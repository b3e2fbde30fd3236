package bond

import (
	"context"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// Tests generated from the option table: every table value by name and by
// number, "default", min, max, one past max, every unsupported mode
// (EACCES), bond up (EBUSY), bond with slaves (ENOTEMPTY), and the order of
// those checks; each with the errno, the file text and the kernel log lines.

// firstSupportedMode returns a mode in which o can be set.
func firstSupportedMode(o *Option) ModeID {
	for m := ModeRoundRobin; m <= ModeALB; m++ {
		if !o.Unsupported(m) {
			return m
		}
	}
	return -1
}

// newTableEnv is a bond in a mode that supports o, with miimon 1 so delays
// are stored unrounded.
func newTableEnv(t *testing.T, o *Option) *optEnv {
	e := newOptEnv(t, "eth0", "eth1")
	e.reg.cfg.Clock = optNoClock{}
	e.b.params.Mode = firstSupportedMode(o)
	if o.Name != "arp_interval" {
		e.b.params.Miimon = 1
	}
	return e
}

// wantShow is the file text after a successful write of value v.
func wantShow(o *Option, v uint64) string {
	switch o.Name {
	case "mode", "fail_over_mac", "arp_validate", "arp_all_targets", "lacp_active",
		"lacp_rate", "ad_select", "xmit_hash_policy", "primary_reselect":
		return ValueName(o.Name, int(v)) + " " + strconv.FormatUint(v, 10) + "\n"
	}
	return strconv.FormatUint(v, 10) + "\n"
}

// invalidLogs are the lines of a rejected value.
func invalidLogs(o *Option, shown string) []string {
	l := []string{"bond0: option " + o.Name + ": invalid value (" + shown + ")"}
	if min, max, ok := o.Range(); ok {
		l = append(l, "bond0: option "+o.Name+": allowed values "+strconv.FormatUint(min, 10)+" - "+strconv.FormatUint(max, 10))
	}
	return l
}

func tableOptions() []*Option {
	var l []*Option
	for _, o := range Options {
		if !o.ReadOnly() && o.Flags&OptRawVal == 0 {
			l = append(l, o)
		}
	}
	return l
}

func TestOptionsTableValues(t *testing.T) {
	for _, o := range tableOptions() {
		t.Run(o.Name, func(t *testing.T) {
			for _, v := range o.Values {
				for _, text := range []string{v.Name, strconv.FormatUint(v.Value, 10), " " + strconv.FormatUint(v.Value, 10) + " ", "0" + strconv.FormatUint(v.Value, 10)} {
					e := newTableEnv(t, o)
					e.w(o.Name, text, 0)
					e.r(o.Name, wantShow(o, v.Value))
					// without the trailing newline (printf %s), and with junk after a word
					e.wraw(o.Name, text, 0)
					e.r(o.Name, wantShow(o, v.Value))
				}
				if strings.ToUpper(v.Name) != v.Name {
					e := newTableEnv(t, o)
					e.w(o.Name, strings.ToUpper(v.Name), syscall.EINVAL, invalidLogs(o, strings.ToUpper(v.Name))...)
				}
				e := newTableEnv(t, o)
				e.w(o.Name, v.Name+" trailing words", 0)
				e.r(o.Name, wantShow(o, v.Value))
			}
		})
	}
}

func TestOptionsTableDefaultAndRange(t *testing.T) {
	for _, o := range tableOptions() {
		t.Run(o.Name, func(t *testing.T) {
			e := newTableEnv(t, o)
			if d := o.Default(); d != nil {
				e.w(o.Name, "default", 0)
				e.r(o.Name, wantShow(o, d.Value))
			} else {
				e.w(o.Name, "default", syscall.EINVAL, invalidLogs(o, "default")...)
			}
			min, max, ranged := o.Range()
			if ranged {
				e.w(o.Name, strconv.FormatUint(min, 10), 0)
				e.r(o.Name, wantShow(o, min))
				e.w(o.Name, strconv.FormatUint(max, 10), 0)
				e.r(o.Name, wantShow(o, max))
				e.w(o.Name, strconv.FormatUint(max+1, 10), syscall.EINVAL, invalidLogs(o, strconv.FormatUint(max+1, 10))...)
				e.r(o.Name, wantShow(o, max))
				if min > 0 {
					e.w(o.Name, strconv.FormatUint(min-1, 10), syscall.EINVAL, invalidLogs(o, strconv.FormatUint(min-1, 10))...)
				}
				// a number between the table values is accepted by range
				mid := min + (max-min)/2
				e.w(o.Name, strconv.FormatUint(mid, 10), 0)
				e.r(o.Name, wantShow(o, mid))
			} else {
				top := uint64(0)
				for _, v := range o.Values {
					if v.Value > top {
						top = v.Value
					}
				}
				e.w(o.Name, strconv.FormatUint(top+1, 10), syscall.EINVAL, invalidLogs(o, strconv.FormatUint(top+1, 10))...)
			}
			// 2^64 wraps to 0, 2^64-1 does not
			if _, ok := o.Parse("0"); ok {
				e.w(o.Name, "18446744073709551616", 0)
				e.r(o.Name, wantShow(o, 0))
			}
			e.w(o.Name, "18446744073709551615", syscall.EINVAL, invalidLogs(o, "18446744073709551615")...)
			for _, bad := range []string{"", " ", "-1", "+1", "0x1", "1x", "1.0", "bogus"} {
				e.w(o.Name, bad, syscall.EINVAL, invalidLogs(o, bad)...)
			}
		})
	}
}

// anyValue is a value that parses for o.
func anyValue(o *Option) string { return o.Values[len(o.Values)-1].Name }

func TestOptionsTableDependencies(t *testing.T) {
	for _, o := range tableOptions() {
		t.Run(o.Name, func(t *testing.T) {
			for m := ModeRoundRobin; m <= ModeALB; m++ {
				e := newTableEnv(t, o)
				e.b.params.Mode = m
				if o.Unsupported(m) {
					want := "bond0: option " + o.Name + ": mode dependency failed, not supported in mode " + ValueName("mode", int(m)) + "(" + strconv.Itoa(int(m)) + ")"
					e.w(o.Name, anyValue(o), syscall.EACCES, want)
					// EACCES comes before ENOTEMPTY, EBUSY and EINVAL
					e.addSlave(e.b, "eth0")
					e.b.up = true
					e.w(o.Name, "bogus", syscall.EACCES, want)
				} else if o.Name != "mode" {
					e.w(o.Name, anyValue(o), 0)
				}
			}
			// ENOTEMPTY before EBUSY before EINVAL
			e := newTableEnv(t, o)
			e.addSlave(e.b, "eth0")
			e.b.up = true
			switch {
			case o.Flags&OptNoSlaves != 0:
				e.w(o.Name, "bogus", syscall.ENOTEMPTY, "bond0: option "+o.Name+": unable to set because the bond device has slaves")
			case o.Flags&OptIfDown != 0:
				e.w(o.Name, "bogus", syscall.EBUSY, "bond0: option "+o.Name+": unable to set because the bond device is up")
			default:
				e.w(o.Name, "bogus", syscall.EINVAL, invalidLogs(o, "bogus")...)
				e.w(o.Name, anyValue(o), 0)
			}
			e = newTableEnv(t, o)
			e.b.up = true
			if o.Flags&OptIfDown != 0 {
				e.w(o.Name, anyValue(o), syscall.EBUSY, "bond0: option "+o.Name+": unable to set because the bond device is up")
				e.b.up = false
				e.w(o.Name, anyValue(o), 0)
			} else {
				e.w(o.Name, anyValue(o), 0)
			}
		})
	}
}

func TestOptionsReadOnly(t *testing.T) {
	e := newOptEnv(t)
	for _, o := range Options {
		if !o.ReadOnly() {
			continue
		}
		e.w(o.Name, "1", syscall.EACCES)
	}
	e.w("no_such_option", "1", syscall.ENOENT)
}

// The ad_* files show only in 802.3ad mode and only to CAP_NET_ADMIN.
func TestOptionsPrivateShow(t *testing.T) {
	st := &BondStatus{Name: "bond0", Params: DefaultParams()}
	st.Params.Mode = Mode8023AD
	st.AD = &ADStatus{ActiveAggregator: &ADAggregator{ID: 1, NumPorts: 2, ActorKey: 15, PartnerKey: 17,
		PartnerMAC: []byte{2, 0, 0, 0, 0xb1, 0}}}
	root, user := Caller{NetAdmin: true}, Caller{}
	for name, want := range map[string][2]string{
		"ad_aggregator":     {"1\n", "1\n"},
		"ad_num_ports":      {"2\n", "2\n"},
		"ad_actor_key":      {"15\n", ""},
		"ad_partner_key":    {"17\n", ""},
		"ad_partner_mac":    {"02:00:00:00:b1:00\n", ""},
		"ad_actor_sys_prio": {"65535\n", ""},
		"ad_actor_system":   {"00:00:00:00:00:00\n", ""},
		"ad_user_port_key":  {"0\n", ""},
	} {
		o := OptionByName(name)
		if got := o.Show(st, root); got != want[0] {
			t.Errorf("%s as root = %q, want %q", name, got, want[0])
		}
		if got := o.Show(st, user); got != want[1] {
			t.Errorf("%s as user = %q, want %q", name, got, want[1])
		}
	}
	st.AD.ActiveAggregator = nil
	for name, want := range map[string]string{"ad_aggregator": "0\n", "ad_num_ports": "0\n",
		"ad_actor_key": "0\n", "ad_partner_key": "0\n", "ad_partner_mac": ""} {
		if got := OptionByName(name).Show(st, root); got != want {
			t.Errorf("%s without aggregator = %q, want %q", name, got, want)
		}
	}
	st.Params.Mode = ModeActiveBackup
	st.ActiveSlave = "eth0"
	if got := OptionByName("active_slave").Show(st, root); got != "eth0\n" {
		t.Errorf("active_slave = %q", got)
	}
	st.Params.Mode = ModeXOR
	if got := OptionByName("active_slave").Show(st, root); got != "" {
		t.Errorf("active_slave in balance-xor = %q", got)
	}
}

// WriteOption goes through the control goroutine of a started registry.
func TestOptionsWriteOption(t *testing.T) {
	h := &optFakeHost{links: map[string]LinkInfo{}}
	var logs []string
	logc := make(chan string, 16)
	r := NewRegistry(Config{Host: optSubscribeHost{h}, Log: func(l string) { logc <- l }, Defaults: DefaultParams(), Clock: optNoClock{}})
	b := r.newBond("bond0", 0, optFakeMaster{}, nil, 0)
	r.bonds = append(r.bonds, b)
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = r.Do(context.Background(), func() error { r.bonds = nil; return nil })
		r.Close()
	}()
	ctx := context.Background()
	root := Caller{NetAdmin: true}
	check := func(err error, want syscall.Errno) {
		t.Helper()
		if got := ErrnoOf(err); got != want {
			t.Errorf("errno %v, want %v", errName(got), errName(want))
		}
	}
	check(r.WriteOption(ctx, "bond0", "mode", "active-backup\n", root), 0)
	check(r.WriteOption(ctx, "bond0", "mode", "9\n", root), syscall.EINVAL)
	logs = append(logs, <-logc)
	if logs[0] != "bond0: option mode: invalid value (9)" {
		t.Errorf("log %q", logs[0])
	}
	check(r.WriteOption(ctx, "bond0", "mode", "1\n", Caller{}), syscall.EACCES)
	check(r.WriteOption(ctx, "bond0", "mii_status", "up\n", root), syscall.EACCES)
	check(r.WriteOption(ctx, "bond1", "mode", "1\n", root), syscall.ENODEV)
	check(r.WriteOption(ctx, "bond0", "nosuch", "1\n", root), syscall.ENOENT)
	check(r.WriteOption(ctx, "bond0", "mode", strings.Repeat("1", pageSizeForTest+1), root), syscall.E2BIG)
	var mode ModeID
	_ = r.Do(ctx, func() error { mode = b.params.Mode; return nil })
	if mode != ModeActiveBackup {
		t.Errorf("mode %d", mode)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := r.WriteOption(cctx, "bond0", "mode", "1\n", root); err == nil {
		t.Errorf("canceled context: no error")
	}
}

const pageSizeForTest = 4096

// optSubscribeHost adds a no-op link subscription to the fake host.
type optSubscribeHost struct{ *optFakeHost }

func (optSubscribeHost) SubscribeLinks(context.Context, func(LinkEvent)) error { return nil }
