package compat

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

type parseCase struct {
	name, file, in string
	want           string // settingsText
	wantErrs       []string
}

func runCases(t *testing.T, parse func(string, []byte, Validator) ([]Setting, []error), cases []parseCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, errs := parse(c.file, []byte(c.in), nil)
			if got := settingsText(s); got != c.want {
				t.Errorf("settings:\n%s\nwant:\n%s", got, c.want)
			}
			got := errsText(errs)
			for _, w := range c.wantErrs {
				if !strings.Contains(got, w) {
					t.Errorf("errors %q do not contain %q", got, w)
				}
			}
			if len(c.wantErrs) == 0 && len(errs) > 0 {
				t.Errorf("unexpected errors:\n%s", got)
			}
			for _, e := range errs {
				var pe *ParseError
				if !errors.As(e, &pe) || pe.File != c.file {
					t.Errorf("error %v is not a *ParseError for %s", e, c.file)
				}
			}
		})
	}
}

func TestParseIfcfg(t *testing.T) {
	runCases(t, ParseIfcfg, []parseCase{
		{name: "mode and miimon first, in the order given; primary last",
			file: "ifcfg-bond0",
			in:   "DEVICE=bond0\nBONDING_OPTS=\"primary=eth0 updelay=200 miimon=100 mode=1\"\n",
			want: "bond0 +bond +bond0 @1\nbond0 miimon 100 @2\nbond0 mode 1 @2\nbond0 updelay 200 @2\nbond0 primary eth0 @2\n"},
		{name: "comma list one +ip each, duplicates once",
			file: "ifcfg-bond0",
			in:   "DEVICE=bond0\nBONDING_OPTS='mode=1 arp_interval=100 arp_ip_target=10.0.0.1,10.0.0.2,10.0.0.1'\n",
			want: "bond0 +bond +bond0 @1\nbond0 mode 1 @2\nbond0 arp_interval 100 @2\nbond0 arp_ip_target +10.0.0.1 @2\nbond0 arp_ip_target +10.0.0.2 @2\n"},
		{name: "old repeated +ip syntax and removal",
			file: "ifcfg-bond0",
			in:   "DEVICE=bond0\nBONDING_OPTS=\"arp_ip_target=+10.0.0.1 arp_ip_target=+10.0.0.2 arp_ip_target=-10.0.0.1\"\n",
			want: "bond0 +bond +bond0 @1\nbond0 arp_ip_target +10.0.0.1 @2\nbond0 arp_ip_target +10.0.0.2 @2\nbond0 arp_ip_target -10.0.0.1 @2\n"},
		{name: "value after the last =",
			file: "ifcfg-bond0",
			in:   "DEVICE=bond0\nBONDING_OPTS=mode=x=2\n",
			want: "bond0 +bond +bond0 @1\nbond0 mode 2 @2\n"},
		{name: "BONDING_MASTER without options, DEVICE from the file name",
			file: "/etc/sysconfig/network-scripts/ifcfg-bond3",
			in:   "BONDING_MASTER=yes\n",
			want: "bond3 +bond +bond3 @1\n"},
		{name: "slave",
			file: "ifcfg-eth0",
			in:   "DEVICE=eth0\nONBOOT=yes\nMASTER=bond0\nSLAVE=Yes\n",
			want: "bond0 +bond +bond0 @3\nbond0 slaves +eth0 @3\n"},
		{name: "alias is not enslaved",
			file: "ifcfg-eth0:1",
			in:   "DEVICE=eth0:1\nMASTER=bond0\nSLAVE=yes\n",
			want: "", wantErrs: []string{"ifcfg-eth0:1:2: alias device eth0:1 cannot be a slave"}},
		{name: "MASTER without SLAVE",
			file: "ifcfg-eth0",
			in:   "DEVICE=eth0\nMASTER=bond0\n",
			want: "", wantErrs: []string{"ifcfg-eth0:2: MASTER=bond0 without SLAVE=yes"}},
		{name: "shell syntax: export, quotes, continuation, expansion, comments",
			file: "ifcfg-bond0",
			in:   "# comment\nexport DEVICE=bond0 ONBOOT=yes\nM=100 # trailing comment\nBONDING_OPTS=\"mode=active-backup \\\n miimon=$M\" ; X='a b'\n",
			want: "bond0 +bond +bond0 @2\nbond0 mode active-backup @4\nbond0 miimon 100 @4\n"},
		{name: "errors carry lines",
			file: "ifcfg-bond0",
			in:   "DEVICE=bond0\n\nBONDING_OPTS=\"mode=9 bogus=1 lacp_rate\"\nBONDING_FOO=1\necho hi\nIPADDR=$(hostname)\n",
			want: "bond0 +bond +bond0 @1\n",
			wantErrs: []string{`ifcfg-bond0:3: bond0: invalid value "9" for mode`, `ifcfg-bond0:3: bond0: unknown bonding option "bogus"`,
				`ifcfg-bond0:3: BONDING_OPTS: "lacp_rate" is not key=value`, "ifcfg-bond0:4: unknown bonding variable BONDING_FOO",
				"ifcfg-bond0:5: not a VAR=value assignment", "ifcfg-bond0:6: command substitution is not supported"}},
		{name: "unterminated quote",
			file: "ifcfg-bond0",
			in:   "DEVICE=bond0\nBONDING_OPTS=\"mode=1\n",
			want: "", wantErrs: []string{"ifcfg-bond0:2: BONDING_OPTS: unterminated quoted value"}},
		{name: "slaves and max_bonds are not options",
			file:     "ifcfg-bond0",
			in:       "DEVICE=bond0\nBONDING_OPTS=\"slaves=+eth0 max_bonds=2 mii_status=up\"\n",
			want:     "bond0 +bond +bond0 @1\n",
			wantErrs: []string{"slaves cannot be given as an option", "max_bonds is a module parameter", "mii_status is read-only"}},
	})
}

func TestParseSysconfig(t *testing.T) {
	runCases(t, ParseSysconfig, []parseCase{
		{name: "bonding.txt §3.1",
			file: "/etc/sysconfig/network/ifcfg-bond0",
			in:   "BONDING_MASTER='yes'\nBONDING_MODULE_OPTS='miimon=100 mode=active-backup arp_ip_target=10.0.0.1,10.0.0.2'\nBONDING_SLAVE1='eth1'\nBONDING_SLAVE0='eth0'\n",
			want: "bond0 +bond +bond0 @1\nbond0 miimon 100 @2\nbond0 mode active-backup @2\nbond0 arp_ip_target +10.0.0.1 @2\nbond0 arp_ip_target +10.0.0.2 @2\nbond0 slaves +eth0 @4\nbond0 slaves +eth1 @3\n"},
		{name: "slaves by number, the last assignment wins",
			file: "ifcfg-bond1",
			in:   "BONDING_MASTER=yes\nBONDING_SLAVE_10=eth10\nBONDING_SLAVE_2=eth2\nBONDING_SLAVE_2=eth3\nBONDING_SLAVE_3=''\n",
			want: "bond1 +bond +bond1 @1\nbond1 slaves +eth3 @4\nbond1 slaves +eth10 @2\n"},
		{name: "no BONDING_MASTER",
			file: "ifcfg-bond0",
			in:   "BONDING_SLAVE0=eth0\n",
			want: "", wantErrs: []string{"ifcfg-bond0:1: BONDING_* variables without BONDING_MASTER='yes'"}},
		{name: "device specifier, max_bonds",
			file:     "ifcfg-bond0",
			in:       "BONDING_MASTER=yes\nBONDING_MODULE_OPTS='max_bonds=2 mode=1'\nBONDING_SLAVE0=bus-pci-0000:06:08.1\n",
			want:     "bond0 +bond +bond0 @1\nbond0 mode 1 @2\n",
			wantErrs: []string{"ifcfg-bond0:2: BONDING_MODULE_OPTS: do not include max_bonds", "ifcfg-bond0:3: slave \"bus-pci-0000:06:08.1\" is a device specifier"}},
	})
}

func TestParseModprobe(t *testing.T) {
	runCases(t, ParseModprobe, []parseCase{
		{name: "module options",
			file: "bonding.conf",
			in:   "# c\noptions bonding max_bonds=2 mode=1 \\\n  miimon=100 arp-ip-target=1.1.1.1,2.2.2.2\n",
			want: " max_bonds 2 @2\n mode 1 @2\n miimon 100 @2\n arp_ip_target 1.1.1.1,2.2.2.2 @2\n"},
		{name: "per-instance after its alias, -o skipped",
			file: "modprobe.conf",
			in:   "options bond0 -o bond0 miimon=100 mode=balance-rr arp_ip_target=1.1.1.1,2.2.2.2\nalias bond0 bonding\n",
			want: "bond0 +bond +bond0 @2\nbond0 miimon 100 @1\nbond0 mode balance-rr @1\nbond0 arp_ip_target +1.1.1.1 @1\nbond0 arp_ip_target +2.2.2.2 @1\n"},
		{name: "install rule",
			file: "modprobe.conf",
			in:   "install bond1 /sbin/modprobe --ignore-install bonding -o bond1 \\\n\tmode=balance-alb miimon=50\ninstall bonding /sbin/modprobe e1000; /sbin/modprobe --ignore-install bonding lacp_rate=fast\n",
			want: " lacp_rate fast @3\nbond1 +bond +bond1 @1\nbond1 mode balance-alb @1\nbond1 miimon 50 @1\n"},
		{name: "bondingfs modprobe",
			file: "b.conf",
			in:   "install bonding bondingfs modprobe -v mode=4\n",
			want: " mode 4 @1\n"},
		{name: "the shipped rule (dist/modprobe.d) with options",
			file: "b.conf",
			in:   "install bonding /usr/local/sbin/bondingfs modprobe $CMDLINE_OPTS\nremove bonding /usr/local/sbin/bondingfs modprobe -r\noptions bonding miimon=100\n",
			want: " miimon 100 @3\n"},
		{name: "other modules ignored, bond names reported",
			file: "m.conf",
			in:   "options e1000 X=1\nblacklist floppy\noptions bond0 miimon=100\n",
			want: "", wantErrs: []string{"m.conf:3: options bond0: bond0 is not an alias of bonding"}},
		{name: "bad module parameters",
			file:     "m.conf",
			in:       "options bonding mode=9 foo=1 max_bonds=x tx_queues=0 arp_missed_max=2 primary\n",
			want:     " primary  @1\n",
			wantErrs: []string{`invalid value "9" for mode`, `unknown bonding module parameter "foo"`, `invalid max_bonds "x"`, `invalid tx_queues "0"`, "arp_missed_max is not a module parameter"}},
	})
}

func TestParseInterfaces(t *testing.T) {
	runCases(t, ParseInterfaces, []parseCase{
		{name: "master stanza",
			file: "interfaces",
			in:   "auto bond0\niface bond0 inet dhcp\n  bond-primary eth1\n  bond-slaves eth0 eth1\n  bond-miimon 100\n  bond-mode active-backup\n  bond_xmit_hash_policy layer2\n",
			want: "bond0 +bond +bond0 @2\nbond0 miimon 100 @5\nbond0 mode active-backup @6\nbond0 xmit_hash_policy layer2 @7\nbond0 slaves +eth0 @4\nbond0 slaves +eth1 @4\nbond0 primary eth1 @3\n"},
		{name: "slave stanzas set the master's options",
			file: "interfaces",
			in:   "iface eth0 inet manual\n bond-mode 1\n bond-master bond0\n bond-queue-id 2\niface eth1 inet manual\n bond-master bond0\n",
			want: "bond0 +bond +bond0 @3\nbond0 mode 1 @2\nbond0 slaves +eth0 @3\nbond0 slaves +eth1 @6\nbond0 queue_id eth0:2 @4\n"},
		{name: "seed 004 up ifenslave",
			file: "interfaces",
			in:   "iface bond0 inet static\naddress 10.1.100.63\nup ifenslave bond0 eth0 eth1\ndown ifenslave -d bond0 eth0 eth1\n",
			want: "bond0 +bond +bond0 @3\nbond0 slaves +eth0 @3\nbond0 slaves +eth1 @3\n"},
		{name: "echo into sysfs, ip link, ifenslave -c",
			file: "interfaces",
			in:   "iface bond0 inet manual\n pre-up echo +bond0 > /sys/class/net/bonding_masters\n pre-up echo 1 >/sys/class/net/bond0/bonding/mode\n up ifenslave -c bond0 eth1 ; ip link set dev eth1 master bond0\n",
			want: "bond0 +bond +bond0 @2\nbond0 mode 1 @3\nbond0 slaves +eth1 @4\nbond0 active_slave eth1 @4\n"},
		{name: "slave of two bonds",
			file:     "interfaces",
			in:       "iface bond0 inet manual\n bond-slaves eth0\niface bond1 inet manual\n bond-slaves eth0\n",
			want:     "bond0 +bond +bond0 @1\nbond0 slaves +eth0 @2\nbond1 +bond +bond1 @3\n",
			wantErrs: []string{"interfaces:4: eth0 is already a slave of bond0 (interfaces:2)"}},
		{name: "errors",
			file:     "interfaces",
			in:       "iface bond0 inet manual\n bond-lacp-rate\n bond-frobnicate 1\n bond-slaves all\n",
			want:     "bond0 +bond +bond0 @1\n",
			wantErrs: []string{"interfaces:2: bond-lacp-rate: no value given", `interfaces:3: bond0: unknown bonding option "frobnicate"`, "interfaces:4: bond-slaves all"}},
	})
}

func TestDetectFormat(t *testing.T) {
	for _, c := range []struct {
		path, data string
		want       Format
	}{
		{"/etc/sysconfig/network-scripts/ifcfg-bond0", "DEVICE=bond0\n", FormatIfcfg},
		{"/etc/sysconfig/network/ifcfg-bond0", "BONDING_MASTER=yes\n", FormatSysconfig},
		{"x/ifcfg-bond0", "BONDING_MODULE_OPTS='mode=1'\n", FormatSysconfig},
		{"/etc/network/interfaces", "", FormatInterfaces},
		{"/etc/network/interfaces.d/bond", "", FormatInterfaces},
		{"/etc/modprobe.d/bonding.conf", "", FormatModprobe},
		{"/etc/modutils/aliases", "", FormatModprobe},
		{"somefile", "\n# c\nauto bond0\n", FormatInterfaces},
		{"somefile", "options bonding mode=1\n", FormatModprobe},
		{"somefile", "DEVICE=bond0\n", FormatIfcfg},
		{"somefile", "hello world\n", FormatUnknown},
	} {
		if got := DetectFormat(c.path, []byte(c.data)); got != c.want {
			t.Errorf("DetectFormat(%q, %q) = %v, want %v", c.path, c.data, got, c.want)
		}
	}
}

// fakeApplier records the writes.
type fakeApplier struct {
	log   []string
	fail  map[string]error // "bond/option=value" or "+bond" → error
	after int              // cancel the context after this many calls (0: never)
	stop  context.CancelFunc
}

func (f *fakeApplier) call(s string) error {
	f.log = append(f.log, s)
	if f.after > 0 && len(f.log) == f.after {
		f.stop()
	}
	return f.fail[s]
}

func (f *fakeApplier) CreateBond(ctx context.Context, name string) error {
	return f.call("+" + name)
}

func (f *fakeApplier) WriteOption(ctx context.Context, bond, option, value string) error {
	return f.call(bond + "/" + option + "=" + value)
}

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// Apply writes exactly the initscripts sequence, across formats merged per
// bond: modprobe first, creation once, mode/miimon, options, slaves, primary.
func TestApplyOrder(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"modprobe.d/bonding.conf":              "alias bond0 bonding\noptions bond0 updelay=200 miimon=50\noptions bonding max_bonds=0\n",
		"network-scripts/ifcfg-bond0":          "DEVICE=bond0\nBONDING_OPTS=\"primary=eth1 arp_ip_target=1.1.1.1,1.1.1.2 mode=active-backup miimon=100\"\n",
		"network-scripts/ifcfg-eth1":           "DEVICE=eth1\nMASTER=bond0\nSLAVE=yes\n",
		"network-scripts/ifcfg-eth0":           "DEVICE=eth0\nMASTER=bond0\nSLAVE=yes\n",
		"network-scripts/ifcfg-eth0.rpmsave":   "DEVICE=eth0\nMASTER=bond9\nSLAVE=yes\n",
		"network/interfaces":                   "iface bond1 inet manual\n bond-slaves eth2\n bond-mode 4\n",
		"network-scripts/not-a-config-file.sh": "rm -rf /\n",
	})
	p, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Errors) > 0 {
		t.Fatalf("errors: %v", p.Errors)
	}
	if len(p.Module) != 1 || p.Module[0].Key != "max_bonds" {
		t.Errorf("module options %v", p.Module)
	}
	ctx := context.Background()
	f := &fakeApplier{fail: map[string]error{"+bond0": syscall.EEXIST}}
	if err := p.Apply(ctx, f); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"+bond0",
		"bond0/miimon=50", "bond0/mode=active-backup", "bond0/miimon=100",
		"bond0/updelay=200", "bond0/arp_ip_target=+1.1.1.1", "bond0/arp_ip_target=+1.1.1.2",
		"bond0/slaves=+eth0", "bond0/slaves=+eth1",
		"bond0/primary=eth1",
		"+bond1", "bond1/mode=4", "bond1/slaves=+eth2",
	}
	if fmt.Sprint(f.log) != fmt.Sprint(want) {
		t.Errorf("writes\n%v\nwant\n%v", f.log, want)
	}

	// Failures do not stop the sequence; each is reported with its origin.
	f = &fakeApplier{fail: map[string]error{"bond0/mode=active-backup": syscall.EBUSY}}
	err = p.Apply(ctx, f)
	var ae *ApplyError
	if !errors.As(err, &ae) || !errors.Is(err, syscall.EBUSY) || len(f.log) != len(want) {
		t.Fatalf("Apply = %v after %d writes", err, len(f.log))
	}
	if !strings.Contains(err.Error(), "ifcfg-bond0:2: bond0 mode=active-backup: device or resource busy") {
		t.Errorf("error text %q", err)
	}

	// A cancelled context stops it.
	cctx, cancel := context.WithCancel(ctx)
	f = &fakeApplier{after: 3, stop: cancel}
	if err := p.Apply(cctx, f); !errors.Is(err, context.Canceled) || len(f.log) != 3 {
		t.Errorf("Apply after cancel = %v after %d writes", err, len(f.log))
	}
}

func TestLoadErrors(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("Load of a missing path succeeded")
	}
	dir := writeFiles(t, map[string]string{"weird": "hello\n"})
	p, err := Load(filepath.Join(dir, "weird"), filepath.Join(dir, "weird"))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Errors) != 1 || !strings.Contains(p.Errors[0].Error(), "cannot tell the format") {
		t.Errorf("errors %v", p.Errors)
	}
}

func TestDescribeQuoting(t *testing.T) {
	p := &Plan{Bonds: []BondPlan{{Name: "bond0", Settings: []Setting{
		{File: "f", Line: 1, Bond: "bond0", Key: "active_slave", Value: ""},
		{File: "f", Line: 2, Bond: "bond0", Key: "x", Value: "a b'c"},
	}}}}
	var b strings.Builder
	p.Describe(&b)
	want := "echo '' > /sys/class/net/bond0/bonding/active_slave   # f:1\necho 'a b'\\''c' > /sys/class/net/bond0/bonding/x   # f:2\n"
	if b.String() != want {
		t.Errorf("Describe:\n%s\nwant:\n%s", b.String(), want)
	}
}
