package compat

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"

	"bondingfs/bond"
	"bondingfs/bond/modparams"
)

// Format is a configuration file format.
type Format int

// The formats Load reads.
const (
	FormatUnknown    Format = iota
	FormatModprobe          // modprobe.d, modprobe.conf, modules.conf
	FormatIfcfg             // Red Hat initscripts ifcfg-*
	FormatSysconfig         // SUSE sysconfig ifcfg-*
	FormatInterfaces        // Debian /etc/network/interfaces
)

func (f Format) String() string {
	switch f {
	case FormatModprobe:
		return "modprobe"
	case FormatIfcfg:
		return "ifcfg"
	case FormatSysconfig:
		return "sysconfig"
	case FormatInterfaces:
		return "interfaces"
	}
	return "unknown"
}

// DetectFormat tells the format of a file from its path and content:
//
//   - ifcfg-* is SUSE sysconfig when it lives under sysconfig/network/ (not
//     network-scripts/) or uses a SUSE-only variable (BONDING_MODULE_OPTS,
//     BONDING_SLAVE*, STARTMODE), and initscripts otherwise;
//   - "interfaces" and files under interfaces.d are ifupdown files;
//   - *.conf under modprobe.d, modprobe.conf, modules.conf, conf.modules and
//     files under /etc/modutils are modprobe files;
//   - otherwise the first significant line decides: iface/auto/allow-*/
//     mapping/source start an interfaces file, alias/options/install/
//     blacklist/softdep/remove/include a modprobe file, VAR=value an ifcfg
//     file.
func DetectFormat(path string, data []byte) Format {
	base := filepath.Base(path)
	dir := filepath.Base(filepath.Dir(path))
	slash := filepath.ToSlash(path)
	switch {
	case strings.HasPrefix(base, "ifcfg-"):
		if strings.Contains(slash, "sysconfig/network/") && !strings.Contains(slash, "network-scripts/") ||
			suseVars.Match(data) {
			return FormatSysconfig
		}
		return FormatIfcfg
	case base == "interfaces" || dir == "interfaces.d":
		return FormatInterfaces
	case dir == "modprobe.d" && strings.HasSuffix(base, ".conf"),
		base == "modprobe.conf", base == "modules.conf", base == "conf.modules",
		dir == "modutils":
		return FormatModprobe
	}
	for _, l := range strings.Split(string(data), "\n") {
		t := strings.TrimSpace(l)
		if t == "" || t[0] == '#' {
			continue
		}
		w := strings.Fields(t)[0]
		switch {
		case w == "iface" || w == "auto" || w == "mapping" || strings.HasPrefix(w, "allow-") || strings.HasPrefix(w, "source"):
			return FormatInterfaces
		case w == "alias" || w == "options" || w == "install" || w == "blacklist" || w == "softdep" || w == "remove" || w == "include":
			return FormatModprobe
		case shellAssign.MatchString(t):
			if suseVars.Match(data) {
				return FormatSysconfig
			}
			return FormatIfcfg
		}
		return FormatUnknown
	}
	return FormatUnknown
}

var (
	suseVars    = regexp.MustCompile(`(?m)^[ \t]*(BONDING_MODULE_OPTS|BONDING_SLAVE_?[0-9]*|STARTMODE)=`)
	shellAssign = regexp.MustCompile(`^(export[ \t]+)?[A-Za-z_][A-Za-z0-9_]*=`)
	// ifupdown's source-directory takes only these names (interfaces(5)).
	ifupdownName = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)
)

// BondPlan is what to do for one bond.
type BondPlan struct {
	Name     string
	Settings []Setting // in write order; the first creates the bond
}

// Plan is everything a set of configuration files asks for.
type Plan struct {
	// Module holds the module options (`options bonding …`), in file order.
	Module []Setting
	// Bonds in order of first appearance.
	Bonds []BondPlan
	// Errors found while reading: *ParseError values (file:line: message),
	// in file and line order.
	Errors []error
}

// Options configure Load.
type Options struct {
	// Validator checks every option; nil means DefaultValidator.
	Validator Validator
}

// Load reads the configuration files and directories at paths with the
// default options (see LoadWith).
func Load(paths ...string) (*Plan, error) {
	return LoadWith(Options{}, paths...)
}

// LoadWith reads the configuration at paths and returns the plan. A
// directory is walked (in lexical order) for the files the distributions'
// scripts read: ifcfg-* (without the backup suffixes initscripts ignore: ~,
// .bak, .old, .orig, .rpmnew, .rpmorig, .rpmsave), interfaces and the files
// of interfaces.d, *.conf of modprobe.d, modprobe.conf, modules.conf,
// conf.modules and the files of /etc/modutils (seed 004). A
// file named explicitly is always read; its format is DetectFormat's.
//
// Every modprobe file is applied before the others, as the module is loaded
// before the network scripts run; aliases and install rules count across all
// of them. Then the settings of every file are merged per bond in the order
// of the paths, and put in write order (see the package documentation):
// the creation first, mode and miimon, other options, slaves, primary.
// Repeated creations, slaves and ARP targets are written once.
//
// Problems in the files are collected in Plan.Errors; the returned error is
// non-nil only when a path cannot be read at all.
func LoadWith(o Options, paths ...string) (*Plan, error) {
	v := defaultValidator(o.Validator)
	files, err := expand(paths)
	if err != nil {
		return nil, err
	}
	type loaded struct {
		path   string
		data   []byte
		format Format
	}
	var all []loaded
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		all = append(all, loaded{f, data, DetectFormat(f, data)})
	}
	var settings []Setting
	var errList []error

	// modprobe files first, aliases across all of them.
	var mpDirs [][]mpDirective
	var mpErrs []*errs
	for _, l := range all {
		if l.format != FormatModprobe {
			continue
		}
		e := &errs{file: l.path}
		mpDirs = append(mpDirs, parseModprobeDirectives(l.data, e))
		mpErrs = append(mpErrs, e)
	}
	aliases := bondingAliases(mpDirs)
	for i, dirs := range mpDirs {
		b := &builder{e: mpErrs[i], v: v}
		emitModprobe(dirs, aliases, b)
		settings = append(settings, b.out...)
		errList = append(errList, sortErrs(b.e.list)...)
	}
	for _, l := range all {
		e := &errs{file: l.path}
		b := &builder{e: e, v: v}
		switch l.format {
		case FormatModprobe:
			continue
		case FormatIfcfg:
			parseIfcfgVars(l.path, parseShellVars(l.data, e), b)
		case FormatSysconfig:
			parseSysconfigVars(l.path, parseShellVars(l.data, e), b)
		case FormatInterfaces:
			for _, st := range parseStanzas(l.data, e) {
				st.emit(b)
			}
		default:
			e.add(0, "cannot tell the format of this file (modprobe.d, ifcfg-*, interfaces)")
		}
		settings = append(settings, b.out...)
		errList = append(errList, sortErrs(e.list)...)
	}
	ordered, dupErrs := dedupe(orderAll(settings))
	p := &Plan{}
	errList = append(errList, dupErrs...)
	idx := map[string]int{}
	for _, s := range ordered {
		if s.Bond == "" {
			p.Module = append(p.Module, s)
			continue
		}
		i, ok := idx[s.Bond]
		if !ok {
			i = len(p.Bonds)
			idx[s.Bond] = i
			p.Bonds = append(p.Bonds, BondPlan{Name: s.Bond})
		}
		p.Bonds[i].Settings = append(p.Bonds[i].Settings, s)
	}
	errList = append(errList, checkModes(p)...)
	errList = append(errList, checkModule(p.Module)...)
	p.Errors = sortByFile(errList, files)
	return p, nil
}

// sortByFile orders errors by the position of their file in files, then by
// line.
func sortByFile(list []error, files []string) []error {
	rank := map[string]int{}
	for i, f := range files {
		rank[f] = i
	}
	key := func(err error) (int, int) {
		var pe *ParseError
		if errors.As(err, &pe) {
			return rank[pe.File], pe.Line
		}
		return len(files), 0
	}
	sort.SliceStable(list, func(i, j int) bool {
		fi, li := key(list[i])
		fj, lj := key(list[j])
		return fi < fj || fi == fj && li < lj
	})
	return list
}

// checkModule loads the module options as a whole the way the module would
// (modparams.Parse, bond_check_params): an error there (an invalid
// enum, arp_validate without arp_interval, …) means `modprobe bonding` fails.
// It is reported at the first module option; the options that are wrong on
// their own have been reported at their lines already.
func checkModule(mod []Setting) []error {
	if len(mod) == 0 {
		return nil
	}
	args := make([]string, len(mod))
	for i, s := range mod {
		args[i] = s.Key + "=" + s.Value
		if strings.ContainsAny(s.Value, " \t") {
			args[i] = s.Key + "=\"" + s.Value + "\""
		}
	}
	if _, err := modparams.Parse(args, nil); err != nil {
		return []error{&ParseError{File: mod[0].File, Line: mod[0].Line,
			Msg: fmt.Sprintf("the module options as a whole: %v", err)}}
	}
	return nil
}

// checkModes follows each bond's mode through its writes (starting from the
// module's mode option, else balance-rr) and reports the options the kernel
// refuses in that mode with EACCES (the option table's unsupported modes,
// bond_opt_check_deps): e.g. lacp_rate outside 802.3ad, primary in
// balance-rr.
func checkModes(p *Plan) []error {
	var list []error
	start := uint64(bond.ModeRoundRobin)
	for _, s := range p.Module {
		if s.Key == "mode" {
			if m, ok := modeNumber(s.Value); ok {
				start = m
			}
		}
	}
	for _, b := range p.Bonds {
		mode := start
		for _, s := range b.Settings {
			if s.Key == "mode" {
				if m, ok := modeNumber(s.Value); ok {
					mode = m
				}
				continue
			}
			o := bond.OptionByName(s.Key)
			if o == nil || mode >= 32 || !o.Unsupported(bond.ModeID(mode)) {
				continue
			}
			list = append(list, &ParseError{File: s.File, Line: s.Line,
				Msg: fmt.Sprintf("%s: %s is not supported in mode %s(%d): the kernel refuses it (EACCES)", s.Bond, s.Key, modeName(mode), mode)})
		}
	}
	return list
}

// modeNumber parses a mode value with the option table (name or number).
func modeNumber(v string) (uint64, bool) {
	x, ok := bond.OptionByName("mode").Parse(v)
	return x.Value, ok
}

func modeName(m uint64) string {
	if o := bond.OptionByName("mode"); o != nil {
		for _, x := range o.Values {
			if x.Value == m {
				return x.Name
			}
		}
	}
	return "?"
}

func sortErrs(list []error) []error {
	line := func(err error) int {
		var pe *ParseError
		if errors.As(err, &pe) {
			return pe.Line
		}
		return 0
	}
	sort.SliceStable(list, func(i, j int) bool { return line(list[i]) < line(list[j]) })
	return list
}

// ignoredSuffix are the backup files initscripts skip
// (network-functions __sed_discard_ignored_files, is_ignored_file).
var ignoredSuffix = []string{"~", ".bak", ".old", ".orig", ".rpmnew", ".rpmorig", ".rpmsave"}

func ignoredIfcfg(base string) bool {
	for _, s := range ignoredSuffix {
		if strings.HasSuffix(base, s) {
			return true
		}
	}
	return false
}

// wanted reports whether a directory walk reads the file at path.
func wanted(path string) bool {
	base := filepath.Base(path)
	dir := filepath.Base(filepath.Dir(path))
	switch {
	case strings.HasPrefix(base, "ifcfg-"):
		return !ignoredIfcfg(base)
	case base == "interfaces":
		return true
	case dir == "interfaces.d":
		return ifupdownName.MatchString(base)
	case dir == "modprobe.d":
		return strings.HasSuffix(base, ".conf")
	case base == "modprobe.conf" || base == "modules.conf" || base == "conf.modules":
		return true
	case dir == "modutils":
		return true
	}
	return false
}

// expand turns the paths into the list of files to read, each once.
func expand(paths []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	add := func(p string) {
		abs, err := filepath.Abs(p)
		if err != nil {
			abs = p
		}
		if !seen[abs] {
			seen[abs] = true
			out = append(out, p)
		}
	}
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			add(p)
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if path != p && strings.HasPrefix(d.Name(), ".") {
					return filepath.SkipDir
				}
				return nil
			}
			if d.Type().IsRegular() && wanted(path) {
				add(path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Applier makes the writes of a plan: the bondingfs engine, the mounted
// sysfs, or a test double.
type Applier interface {
	// CreateBond creates the bond (echo +name > bonding_masters). An error
	// that is syscall.EEXIST (errors.Is) means it exists already and is not
	// a failure.
	CreateBond(ctx context.Context, name string) error
	// WriteOption writes value to /sys/class/net/<bond>/bonding/<option>
	// ("slaves" with "+eth0" enslaves).
	WriteOption(ctx context.Context, bond, option, value string) error
}

// ApplyError is a write that failed.
type ApplyError struct {
	Setting Setting
	Err     error
}

func (e *ApplyError) Error() string {
	s := e.Setting
	what := fmt.Sprintf("%s %s=%s", s.Bond, s.Key, s.Value)
	if s.Key == KeyCreate {
		what = "creating " + s.Bond
	}
	return fmt.Sprintf("%s: %s: %v", s.pos(), what, e.Err)
}

func (e *ApplyError) Unwrap() error { return e.Err }

// Apply makes the writes of every bond, in order, through a. Module options
// (p.Module) are not writes: the caller applies them when it loads the module
// (bondingfs serve passes them to the module-option loader) before calling
// Apply. Like the network scripts, Apply goes on after a failed write and
// returns every failure (each an *ApplyError, joined); it stops when ctx is
// done. Errors found while reading the files are not checked: the caller
// decides whether to apply a plan with p.Errors.
func (p *Plan) Apply(ctx context.Context, a Applier) error {
	var list []error
	for _, b := range p.Bonds {
		for _, s := range b.Settings {
			if err := ctx.Err(); err != nil {
				return errors.Join(append(list, err)...)
			}
			var err error
			if s.Key == KeyCreate {
				err = a.CreateBond(ctx, s.Bond)
				if errors.Is(err, syscall.EEXIST) {
					err = nil
				}
			} else {
				err = a.WriteOption(ctx, s.Bond, s.Key, s.Value)
			}
			if err != nil {
				list = append(list, &ApplyError{Setting: s, Err: err})
			}
		}
	}
	return errors.Join(list...)
}

// Describe prints what Apply would do, one line per write, each followed by
// the file and line it comes from:
//
//	options bonding max_bonds=2   # /etc/modprobe.d/bonding.conf:1
//	echo +bond0 > /sys/class/net/bonding_masters   # ifcfg-bond0:1
//	echo 1 > /sys/class/net/bond0/bonding/mode   # ifcfg-bond0:5
//	echo +eth0 > /sys/class/net/bond0/bonding/slaves   # ifcfg-eth0:3
//
// Module options come first, as `options bonding` lines.
func (p *Plan) Describe(w io.Writer) {
	for _, s := range p.Module {
		fmt.Fprintf(w, "options bonding %s=%s   # %s\n", s.Key, shQuote(s.Value), s.pos())
	}
	for _, b := range p.Bonds {
		for _, s := range b.Settings {
			fmt.Fprintf(w, "%s   # %s\n", describe(s), s.pos())
		}
	}
}

func describe(s Setting) string {
	if s.Key == KeyCreate {
		return fmt.Sprintf("echo %s > /sys/class/net/bonding_masters", shQuote(s.Value))
	}
	return fmt.Sprintf("echo %s > /sys/class/net/%s/bonding/%s", shQuote(s.Value), s.Bond, s.Key)
}

// shQuote quotes s for a POSIX shell when it needs it.
func shQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-_.,:/=@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
