package compat

// The one-file parsers the tests drive. LoadWith runs the same steps
// (parseShellVars, parseIfcfgVars, parseSysconfigVars, parseStanzas,
// parseModprobeDirectives and emitModprobe) over every file it reads; these
// run them on one file and put its settings in write order with finish.

// ParseIfcfg reads one Red Hat initscripts file (see parseIfcfgVars); v
// checks each option (nil means DefaultValidator).
func ParseIfcfg(file string, data []byte, v Validator) ([]Setting, []error) {
	e := &errs{file: file}
	b := &builder{e: e, v: defaultValidator(v)}
	vars := parseShellVars(data, e)
	parseIfcfgVars(file, vars, b)
	return b.finish(), e.list
}

// ParseSysconfig reads one SUSE sysconfig file (see parseSysconfigVars).
func ParseSysconfig(file string, data []byte, v Validator) ([]Setting, []error) {
	e := &errs{file: file}
	b := &builder{e: e, v: defaultValidator(v)}
	vars := parseShellVars(data, e)
	parseSysconfigVars(file, vars, b)
	return b.finish(), e.list
}

// ParseInterfaces reads one Debian ifupdown file (see parseStanzas).
func ParseInterfaces(file string, data []byte, v Validator) ([]Setting, []error) {
	e := &errs{file: file}
	b := &builder{e: e, v: defaultValidator(v)}
	for _, st := range parseStanzas(data, e) {
		st.emit(b)
	}
	return b.finish(), e.list
}

// ParseModprobe reads one modprobe configuration file, its own aliases
// only (see parseModprobeDirectives).
func ParseModprobe(file string, data []byte, v Validator) ([]Setting, []error) {
	e := &errs{file: file}
	dirs := parseModprobeDirectives(data, e)
	b := &builder{e: e, v: defaultValidator(v)}
	emitModprobe(dirs, bondingAliases([][]mpDirective{dirs}), b)
	return b.finish(), e.list
}

// finish returns the settings in write order: module options first, then
// each bond in order of first appearance, each in stage order.
func (b *builder) finish() []Setting {
	out, errs := dedupe(orderAll(b.out))
	b.e.list = sortErrs(append(b.e.list, errs...))
	return out
}
