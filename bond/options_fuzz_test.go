package bond

import (
	"errors"
	"strings"
	"syscall"
	"testing"
)

// FuzzOptionParse checks the value parser of every table option: no panic,
// the newline cut, and results inside the table or its range.
func FuzzOptionParse(f *testing.F) {
	for _, s := range []string{"1\n", " 3 ", "active-backup", "default", "maxval", "0x1",
		"18446744073709551616", "-1", "\xa02", "1\n2", "layer3+4 x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		for _, o := range tableOptions() {
			v, ok := o.Parse(text)
			v2, ok2 := o.Parse(cutNL(text) + "\n")
			if ok != ok2 || v != v2 {
				t.Fatalf("%s: Parse(%q) = %v %v but with the line cut %v %v", o.Name, text, v, ok, v2, ok2)
			}
			if !ok {
				continue
			}
			if v.Name != "" {
				if ValueName(o.Name, int(v.Value)) == "" {
					t.Fatalf("%s: %q gave %v, not in the table", o.Name, text, v)
				}
				continue
			}
			min, max, ranged := o.Range()
			if !ranged || v.Value < min || v.Value > max {
				t.Fatalf("%s: %q gave %d outside the range", o.Name, text, v.Value)
			}
		}
	})
}

// FuzzSetOption writes arbitrary text to every writable option of a bond in
// each mode: no panic, only the errnos a sysfs write can return, and the
// values stay inside their tables' ranges.
func FuzzSetOption(f *testing.F) {
	for _, s := range []string{"+192.0.2.1\n", "-eth0", "eth0:1", "02:00:00:00:00:01", "1\n", "", "\n", "+eth0 -eth1"} {
		f.Add(s, uint8(1))
	}
	allowed := map[syscall.Errno]bool{0: true, syscall.EINVAL: true, syscall.EPERM: true, syscall.EACCES: true,
		syscall.EBUSY: true, syscall.ENOTEMPTY: true, syscall.ENODEV: true}
	f.Fuzz(func(t *testing.T, text string, mode uint8) {
		e := newOptEnv(t)
		e.reg.cfg.Clock = optNoClock{}
		e.b.params.Mode = int(mode % 7)
		e.b.params.Miimon = 100
		for _, o := range Options {
			if o.ReadOnly() {
				continue
			}
			if err := ErrnoOf(e.b.SetOption(o.Name, text)); !allowed[err] {
				t.Fatalf("%s %q: errno %v", o.Name, text, err)
			}
		}
		p := e.b.params
		if p.Mode < 0 || p.Mode > ModeALB || len(p.ArpTargets) > MaxArpTargets || p.NumPeerNotif > 255 ||
			p.MissedMax < 1 || p.MissedMax > 255 || p.PacketsPerSlave > 65535 || p.Miimon < 0 {
			t.Fatalf("%q: params out of range: %+v", text, p)
		}
	})
}

// FuzzModuleOptions parses arbitrary module option lines: no panic, errors
// only of the kernel's load-failure kind, and checked values in range.
func FuzzModuleOptions(f *testing.F) {
	for _, s := range []string{"mode=1 miimon=100", "max_bonds=3 arp_ip_target=1.2.3.4,5.6.7.8 arp_interval=10",
		`"mode=4" lacp_rate=fast`, "miimon=-5 updelay=7", "arp_validate=all", "tx_queues=0x10", "x=\"a b\" y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		cfg, err := ParseModuleOptions(strings.Fields(line), nil)
		if err != nil {
			var me *ModuleOptionError
			if !errors.As(err, &me) || ErrnoOf(err) != syscall.EINVAL {
				t.Fatalf("%q: unexpected error %v", line, err)
			}
			return
		}
		p := cfg.Params
		if cfg.MaxBonds < 0 || p.Miimon < 0 || p.UpDelay < 0 || p.DownDelay < 0 || p.ArpInterval < 0 ||
			p.TxQueues < 1 || p.TxQueues > 255 || p.NumPeerNotif < 0 || p.NumPeerNotif > 255 ||
			p.ResendIGMP < 0 || p.ResendIGMP > 255 || p.PacketsPerSlave < 0 || p.PacketsPerSlave > 65535 ||
			len(p.ArpTargets) > MaxArpTargets || (p.Miimon != 0 && p.ArpInterval != 0) || p.Mode < 0 || p.Mode > ModeALB {
			t.Fatalf("%q: out of range: %+v", line, cfg)
		}
	})
}
