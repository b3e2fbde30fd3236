package compat

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"bondingfs/bond"
	"bondingfs/internal/ktext"
)

// Pseudo keys of a Setting besides the option names.
const (
	// KeyCreate creates the bond: echo +<Bond> > /sys/class/net/bonding_masters.
	KeyCreate = "+bond"
	// KeySlaves enslaves Value ("+eth0") through bonding/slaves.
	KeySlaves = "slaves"
)

// Setting is one write, in the order it would be made.
type Setting struct {
	File string // the configuration file it comes from
	Line int    // 1-based line in File
	// Bond is the bond written to; "" for a module option.
	Bond string
	// Key is the file under bonding/ ("mode", "arp_ip_target", "slaves"), or
	// KeyCreate; for a module option, the module parameter name.
	Key string
	// Value is the exact text echoed ("1", "+10.0.0.1", "+eth0"); for
	// KeyCreate, "+"+Bond.
	Value string
}

func (s Setting) pos() string { return fmt.Sprintf("%s:%d", s.File, s.Line) }

// ParseError is an error in a configuration file.
type ParseError struct {
	File string
	Line int // 0 when it concerns the whole file
	Msg  string
}

func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// errs collects the errors of one file.
type errs struct {
	file string
	list []error
}

func (e *errs) add(line int, format string, args ...any) {
	e.list = append(e.list, &ParseError{File: e.file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// Validator checks that value may be written to the bonding option key
// (a file under bonding/, e.g. "mode", "arp_ip_target") and returns an error
// saying why not. The default is DefaultValidator.
type Validator func(key, value string) error

// DefaultValidator checks key and value against the option table of package
// bond (bond.OptionByName), as the kernel parses a write (bond_options.c
// bond_opt_parse): the option must exist and be writable; for an option with
// named values, only the first word counts and it must be one of the names
// (or "default" for the option's default), or a decimal number equal to one
// of the values or, when the table has a "maxval" entry, within
// [minval, maxval]. Raw-value options are checked for their syntax only:
// arp_ip_target "+a.b.c.d" or "-a.b.c.d" (IPv4), ad_actor_system a unicast
// non-zero MAC, queue_id "ifname:N", primary and active_slave an interface
// name or empty.
func DefaultValidator(key, value string) error {
	o := bond.OptionByName(key)
	if o == nil {
		return fmt.Errorf("unknown bonding option %q", key)
	}
	if o.Flags&bond.OptReadOnly != 0 {
		return fmt.Errorf("bonding option %s is read-only", key)
	}
	if o.Flags&bond.OptRawVal != 0 || len(o.Values) == 0 {
		return checkRaw(key, value)
	}
	return checkTable(o, value)
}

// checkTable is bond_opt_parse for a non-raw option (bond.Option.Parse).
func checkTable(o *bond.Option, value string) error {
	if strings.TrimSpace(value) == "" {
		return fmt.Errorf("invalid value %q for %s: empty", value, o.Name)
	}
	if _, ok := o.Parse(value); !ok {
		return fmt.Errorf("invalid value %q for %s (expected %s)", value, o.Name, valueNames(o))
	}
	return nil
}

func valueNames(o *bond.Option) string {
	var names []string
	if lo, hi, ok := o.Range(); ok {
		return fmt.Sprintf("a number from %d to %d", lo, hi)
	}
	for _, v := range o.Values {
		names = append(names, fmt.Sprintf("%s (%d)", v.Name, v.Value))
	}
	return strings.Join(names, ", ")
}

// checkRaw checks the syntax of a raw-value option.
func checkRaw(key, value string) error {
	switch key {
	case "arp_ip_target":
		return checkARPTarget(value)
	case "ad_actor_system":
		return checkMAC(value)
	case "queue_id":
		name, id, ok := strings.Cut(strings.TrimSpace(value), ":")
		if !ok || !validIfName(name) {
			return fmt.Errorf("invalid queue_id %q (expected ifname:queue_id)", value)
		}
		if _, err := strconv.ParseUint(id, 10, 16); err != nil {
			return fmt.Errorf("invalid queue_id %q (expected ifname:queue_id)", value)
		}
	case "primary":
		if w := strings.TrimSpace(value); w != "" && !validIfName(w) {
			return fmt.Errorf("invalid interface name %q for %s", value, key)
		}
	case "active_slave":
		// bond_option_active_slave_set reads the first word (sscanf %15s)
		if w := ktext.FirstWord(value, ktext.IFNAMSIZ-1); w != "" && !validIfName(w) {
			return fmt.Errorf("invalid interface name %q for %s", value, key)
		}
	}
	return nil
}

// checkARPTarget checks a write to arp_ip_target: "+a.b.c.d" adds, "-a.b.c.d"
// removes (bond_option_arp_ip_targets_set); 0.0.0.0 and 255.255.255.255
// cannot be added (IS_IP_TARGET_UNUSABLE_ADDRESS).
func checkARPTarget(value string) error {
	v := strings.TrimSpace(value)
	if v == "" || (v[0] != '+' && v[0] != '-') {
		return fmt.Errorf("invalid arp_ip_target %q: use +<addr> or -<addr>", value)
	}
	a, err := netip.ParseAddr(v[1:])
	if err != nil || !a.Is4() {
		return fmt.Errorf("invalid arp_ip_target %q: not an IPv4 address", value)
	}
	if v[0] == '+' && (a.IsUnspecified() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255})) {
		return fmt.Errorf("invalid arp_ip_target %q: unusable address", value)
	}
	return nil
}

func checkMAC(value string) error {
	v := strings.TrimSpace(value)
	p := strings.Split(v, ":")
	bad := fmt.Errorf("invalid ad_actor_system %q: not a unicast, non-zero MAC address", value)
	if len(p) != 6 {
		return bad
	}
	var b [6]byte
	for i, x := range p {
		n, err := strconv.ParseUint(x, 16, 8)
		if err != nil || x == "" || len(x) > 2 {
			return bad
		}
		b[i] = byte(n)
	}
	if b == [6]byte{} || b[0]&1 != 0 {
		return bad
	}
	return nil
}

// validIfName is dev_valid_name (net/core/dev.c).
func validIfName(name string) bool { return ktext.ValidIfName(name) }

// moduleParams are the bonding module's parameters (bond_main.c
// module_param block, Linux 6.1): the keys an `options bonding` line (or a
// modprobe command line) may use. Parameters that are not also files under
// bonding/ are checked here: max_bonds and tx_queues.
var moduleParams = map[string]bool{
	"max_bonds": true, "tx_queues": true, "num_grat_arp": true, "num_unsol_na": true,
	"miimon": true, "updelay": true, "downdelay": true, "use_carrier": true,
	"mode": true, "primary": true, "primary_reselect": true, "lacp_rate": true,
	"ad_select": true, "min_links": true, "xmit_hash_policy": true,
	"arp_interval": true, "arp_ip_target": true, "arp_validate": true,
	"arp_all_targets": true, "fail_over_mac": true, "all_slaves_active": true,
	"resend_igmp": true, "packets_per_slave": true, "lp_interval": true,
}

// checkModuleParam checks one module parameter as bond_check_params would
// accept it; arp_ip_target is a comma list of IPv4 addresses (at most
// bond.MaxARPTargets).
func checkModuleParam(v Validator, key, value string) error {
	if !moduleParams[key] {
		if bond.OptionByName(key) != nil || key == "arp_missed_max" {
			return fmt.Errorf("%s is not a module parameter of bonding (set it per bond through sysfs)", key)
		}
		return fmt.Errorf("unknown bonding module parameter %q", key)
	}
	switch key {
	case "max_bonds":
		n, err := strconv.ParseInt(value, 0, 32)
		if err != nil || n < 0 {
			return fmt.Errorf("invalid max_bonds %q (expected a number from 0 to %d)", value, int32(^uint32(0)>>1))
		}
		return nil
	case "tx_queues":
		n, err := strconv.ParseInt(value, 0, 32)
		if err != nil || n < 1 || n > 255 {
			return fmt.Errorf("invalid tx_queues %q (expected a number from 1 to 255)", value)
		}
		return nil
	case "arp_ip_target":
		targets := splitList(value, ",")
		if len(targets) > bond.MaxARPTargets {
			return fmt.Errorf("too many arp_ip_target entries (at most %d)", bond.MaxARPTargets)
		}
		for _, t := range targets {
			if err := checkARPTarget("+" + t); err != nil {
				return err
			}
		}
		return nil
	case "primary":
		if value != "" && !validIfName(value) {
			return fmt.Errorf("invalid interface name %q for primary", value)
		}
		return nil
	}
	return v(key, value)
}

// splitList splits s at any of the separator bytes, dropping empty fields.
func splitList(s, seps string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune(seps, r) })
}

// Stages of the write order (see the package documentation).
const (
	stageCreate = iota
	stageModeMiimon
	stageOption
	stageSlaves
	stageAfterSlaves
	stagePrimary
)

func stageOf(key string) int {
	switch key {
	case KeyCreate:
		return stageCreate
	case "mode", "miimon":
		return stageModeMiimon
	case KeySlaves:
		return stageSlaves
	case "queue_id", "active_slave":
		return stageAfterSlaves
	case "primary":
		return stagePrimary
	}
	return stageOption
}

// orderSettings puts one bond's settings in write order, keeping the given
// order within a stage.
func orderSettings(s []Setting) {
	sort.SliceStable(s, func(i, j int) bool { return stageOf(s[i].Key) < stageOf(s[j].Key) })
}

// builder accumulates the settings of one file for one or more bonds and
// validates each as it is added.
type builder struct {
	e   *errs
	v   Validator
	out []Setting
}

func (b *builder) create(line int, bondName string) {
	if !validIfName(bondName) {
		b.e.add(line, "invalid bond name %q", bondName)
		return
	}
	b.out = append(b.out, Setting{File: b.e.file, Line: line, Bond: bondName, Key: KeyCreate, Value: "+" + bondName})
}

func (b *builder) slave(line int, bondName, slave string) {
	if !validIfName(bondName) {
		return // reported where the bond is created
	}
	if !validIfName(slave) {
		b.e.add(line, "invalid slave interface name %q", slave)
		return
	}
	if slave == bondName {
		b.e.add(line, "%s cannot be a slave of itself", slave)
		return
	}
	b.out = append(b.out, Setting{File: b.e.file, Line: line, Bond: bondName, Key: KeySlaves, Value: "+" + slave})
}

// option adds key=value as the initscripts write it. arp_ip_target without
// a leading '+' or '-' is a comma list written one "+target" at a time
// (install_bonding_driver); with one, it is written as is (the pre-8.57
// `arp_ip_target=+a.b.c.d` syntax).
func (b *builder) option(line int, bondName, key, value string) {
	switch key {
	case "":
		b.e.add(line, "empty option name")
		return
	case KeySlaves:
		b.e.add(line, "slaves cannot be given as an option; name the slaves in the slave's or the bond's configuration")
		return
	case "max_bonds", "tx_queues":
		b.e.add(line, "%s is a module parameter, not a per-bond option", key)
		return
	}
	if key == "arp_ip_target" && (value == "" || (value[0] != '+' && value[0] != '-')) {
		targets := splitList(value, ",")
		if len(targets) == 0 {
			b.e.add(line, "arp_ip_target: no target given")
		}
		for _, t := range targets {
			b.add(line, bondName, key, "+"+t)
		}
		return
	}
	b.add(line, bondName, key, value)
}

func (b *builder) add(line int, bondName, key, value string) {
	if !validIfName(bondName) {
		return // reported where the bond is created
	}
	if err := b.v(key, value); err != nil {
		b.e.add(line, "%s: %v", bondName, err)
		return
	}
	b.out = append(b.out, Setting{File: b.e.file, Line: line, Bond: bondName, Key: key, Value: value})
}

// module adds a module parameter (Bond "").
func (b *builder) module(line int, key, value string) {
	if err := checkModuleParam(b.v, key, value); err != nil {
		b.e.add(line, "%v", err)
		return
	}
	b.out = append(b.out, Setting{File: b.e.file, Line: line, Key: key, Value: value})
}

// dedupe drops writes the scripts skip or that repeat one already made: a
// second creation of a bond, a slave already enslaved to the bond (ifup-eth
// `grep -wq DEV slaves`), an ARP target already set (install_bonding_driver
// `grep -q ip arp_ip_target`). A slave named for a second bond, and more
// than bond.MaxARPTargets targets, are errors. in must be in orderAll order.
func dedupe(in []Setting) ([]Setting, []error) {
	var out []Setting
	var list []error
	seen := map[[3]string]bool{}
	slaveOf := map[string]Setting{}
	targets := map[string]int{}
	for _, s := range in {
		if s.Bond == "" {
			out = append(out, s)
			continue
		}
		k := [3]string{s.Bond, s.Key, s.Value}
		switch {
		case s.Key == KeyCreate:
			if seen[k] {
				continue
			}
		case s.Key == KeySlaves:
			name := s.Value[1:]
			if prev, ok := slaveOf[name]; ok {
				if prev.Bond != s.Bond {
					list = append(list, &ParseError{File: s.File, Line: s.Line,
						Msg: fmt.Sprintf("%s is already a slave of %s (%s)", name, prev.Bond, prev.pos())})
				}
				continue
			}
			slaveOf[name] = s
		case s.Key == "arp_ip_target" && strings.HasPrefix(s.Value, "+"):
			if seen[k] {
				continue
			}
			targets[s.Bond]++
			if targets[s.Bond] > bond.MaxARPTargets {
				list = append(list, &ParseError{File: s.File, Line: s.Line,
					Msg: fmt.Sprintf("%s: more than %d arp_ip_target entries", s.Bond, bond.MaxARPTargets)})
				continue
			}
		}
		seen[k] = true
		out = append(out, s)
	}
	return out, list
}

// orderAll groups settings by bond (module options first, then bonds in order
// of first appearance) and orders each bond's settings.
func orderAll(in []Setting) []Setting {
	var module []Setting
	var names []string
	byBond := map[string][]Setting{}
	for _, s := range in {
		if s.Bond == "" {
			module = append(module, s)
			continue
		}
		if _, ok := byBond[s.Bond]; !ok {
			names = append(names, s.Bond)
		}
		byBond[s.Bond] = append(byBond[s.Bond], s)
	}
	out := module
	for _, n := range names {
		s := byBond[n]
		orderSettings(s)
		out = append(out, s...)
	}
	return out
}

func defaultValidator(v Validator) Validator {
	if v == nil {
		return DefaultValidator
	}
	return v
}

// logicalLine is one non-blank, non-comment line of a modprobe.d or
// interfaces(5) file, with backslash-newline continuations joined.
type logicalLine struct {
	line int    // 1-based number of its first physical line
	text string // trimmed
}

// logicalLines splits data as modprobe.d(5) and interfaces(5) read it: a
// trailing backslash continues a line, '#' starts a comment line, CRLF is
// accepted.
func logicalLines(data []byte) []logicalLine {
	var out []logicalLine
	lines := strings.Split(string(data), "\n")
	for i := 0; i < len(lines); i++ {
		start := i + 1
		l := strings.TrimRight(lines[i], "\r")
		for strings.HasSuffix(l, "\\") && i+1 < len(lines) {
			i++
			l = l[:len(l)-1] + " " + strings.TrimRight(lines[i], "\r")
		}
		t := strings.TrimSpace(l)
		if t == "" || t[0] == '#' {
			continue
		}
		out = append(out, logicalLine{line: start, text: t})
	}
	return out
}
