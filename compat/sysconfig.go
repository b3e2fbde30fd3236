package compat

import (
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

type suseSlave struct {
	n    int
	line int
	name string
}

// parseSysconfigVars reads the variables of one SUSE sysconfig file
// (/etc/sysconfig/network/ifcfg-<name>, ifcfg-bonding(5), bonding.txt §3.1)
// and adds to b the writes that configure the bond it describes.
//
// The interface is the name after "ifcfg-" in the file name (sysconfig has no
// DEVICE=). The file describes a bond when BONDING_MASTER='yes'. Its
// BONDING_MODULE_OPTS ("mode=active-backup miimon=100"), which "are not
// passed as parameters to the bonding kernel module any more, but set via
// sysfs" (ifcfg-bonding(5)), are split at white space into key=value words
// (key before the first '='); max_bonds is refused ("Do not include the
// max_bonds bonding parameter", bonding.txt §3.1); arp_ip_target is a comma
// list. The slaves are BONDING_SLAVEn and BONDING_SLAVE_n (wicked's
// spelling), enslaved in the order of n. A slave given as a device
// specifier (bus-pci-0000:06:08.1) cannot be resolved without the live
// system and is reported.
//
// Writes follow the package's order (mode and miimon first, other options,
// slaves, primary). Other variables are ignored; an unknown BONDING_*
// variable is an error. b's validator checks each option.
func parseSysconfigVars(file string, vars *shellVars, b *builder) {
	e := b.e
	name := strings.TrimPrefix(filepath.Base(file), "ifcfg-")
	var slaves []suseSlave
	var bondingVars []assign
	for _, a := range vars.order {
		if !strings.HasPrefix(a.Name, "BONDING_") {
			continue
		}
		switch {
		case a.Name == "BONDING_MASTER" || a.Name == "BONDING_MODULE_OPTS":
		case strings.HasPrefix(a.Name, "BONDING_SLAVE"):
			idx := strings.TrimPrefix(strings.TrimPrefix(a.Name, "BONDING_SLAVE"), "_")
			n, err := strconv.Atoi(idx)
			if err != nil || n < 0 {
				e.add(a.Line, "%s: expected BONDING_SLAVEn or BONDING_SLAVE_n with a number n", a.Name)
				continue
			}
			// Only the last assignment of a variable counts (the file is sourced).
			if vars.last[a.Name].Line == a.Line {
				slaves = append(slaves, suseSlave{n: n, line: a.Line, name: a.Value})
			}
		case a.Name == "BONDING_OPTS":
			e.add(a.Line, "BONDING_OPTS is an initscripts variable; SUSE sysconfig reads BONDING_MODULE_OPTS")
		default:
			e.add(a.Line, "unknown bonding variable %s", a.Name)
		}
		bondingVars = append(bondingVars, a)
	}
	bm, hasBM := vars.get("BONDING_MASTER")
	if !hasBM || strings.ToLower(bm.Value) != "yes" {
		if len(bondingVars) > 0 {
			line := bondingVars[0].Line
			if hasBM {
				line = bm.Line
			}
			e.add(line, "BONDING_* variables without BONDING_MASTER='yes': %s is not set up as a bond", name)
		}
		return
	}
	if !strings.HasPrefix(filepath.Base(file), "ifcfg-") {
		e.add(bm.Line, "cannot tell the interface name: the file is not named ifcfg-<interface>")
		return
	}
	b.create(bm.Line, name)
	if o, ok := vars.get("BONDING_MODULE_OPTS"); ok {
		for _, w := range shellFields(o.Value) {
			key, val, ok := strings.Cut(w, "=")
			if !ok {
				e.add(o.Line, "BONDING_MODULE_OPTS: %q is not key=value", w)
				continue
			}
			if key == "max_bonds" {
				e.add(o.Line, "BONDING_MODULE_OPTS: do not include max_bonds (bonding.txt §3.1)")
				continue
			}
			b.option(o.Line, name, key, val)
		}
	}
	sort.SliceStable(slaves, func(i, j int) bool { return slaves[i].n < slaves[j].n })
	for _, s := range slaves {
		switch {
		case s.name == "":
		case strings.HasPrefix(s.name, "bus-") || strings.HasPrefix(s.name, "id-") || strings.Contains(s.name, ":"):
			e.add(s.line, "slave %q is a device specifier; bondingfs needs the interface name", s.name)
		default:
			b.slave(s.line, name, s.name)
		}
	}
}
