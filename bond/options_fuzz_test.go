package bond

import (
	"syscall"
	"testing"

	"bondingfs/internal/ktext"
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
			v2, ok2 := o.Parse(ktext.CutNL(text) + "\n")
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
		e.b.params.Mode = ModeID(mode % 7)
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
		if p.Mode < 0 || p.Mode > ModeALB || len(p.ARPTargets) > MaxARPTargets || p.NumPeerNotif > 255 ||
			p.MissedMax < 1 || p.MissedMax > 255 || p.PacketsPerSlave > 65535 || p.Miimon < 0 {
			t.Fatalf("%q: params out of range: %+v", text, p)
		}
	})
}
