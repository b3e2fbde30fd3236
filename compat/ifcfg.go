package compat

import (
	"path/filepath"
	"strings"
)

// parseIfcfgVars reads the variables of one Red Hat initscripts file
// (/etc/sysconfig/network-scripts/ifcfg-<name>, a shell fragment sourced by
// network-functions source_config) and adds the writes the initscripts
// make for it to b, in their order.
//
// The interface is DEVICE= (the name after "ifcfg-" when DEVICE is not set).
//
// A bonding master is a file with BONDING_OPTS (network-functions is_available
// creates the bond when BONDING_OPTS is set), BONDING_MASTER=yes, or
// TYPE=Bond/Bonding (bonding.txt §3.2.1; the last two are also what
// NetworkManager's ifcfg-rh reads). For it install_bonding_driver writes
// "+<DEVICE>" to bonding_masters, then splits BONDING_OPTS at white space,
// takes each word's key before the first '=' and value after the last '=',
// writes mode and miimon first, then every other key except primary;
// arp_ip_target without a leading '+' is a comma list written one "+ip" at a
// time, with one (the syntax before initscripts 8.57 / 8.45.19, repeated
// `arp_ip_target=+a.b.c.d`) it is written as is. ifup-eth writes primary
// after the slaves are up.
//
// A slave is a file with SLAVE=yes (is_true) and MASTER=<bond> that is not
// an alias (DEVICE without ':'): ifup-eth calls install_bonding_driver
// <MASTER> (creating the bond) and writes "+<DEVICE>" to the master's
// bonding/slaves. MASTER= without SLAVE=yes is reported: ifup-eth does not
// enslave such a device.
//
// Variables other than these are ignored; an unknown BONDING_* variable is an
// error. b's validator checks each option.
func parseIfcfgVars(file string, vars *shellVars, b *builder) {
	e := b.e
	for _, a := range vars.order {
		if strings.HasPrefix(a.Name, "BONDING_") && a.Name != "BONDING_OPTS" && a.Name != "BONDING_MASTER" {
			if a.Name == "BONDING_MODULE_OPTS" || strings.HasPrefix(a.Name, "BONDING_SLAVE") {
				e.add(a.Line, "%s is a SUSE sysconfig variable; initscripts ignore it (use BONDING_OPTS and MASTER=/SLAVE= in the slaves' files)", a.Name)
			} else {
				e.add(a.Line, "unknown bonding variable %s", a.Name)
			}
		}
	}
	dev, devLine := ifcfgDevice(file, vars)
	opts, hasOpts := vars.get("BONDING_OPTS")
	bm, hasBM := vars.get("BONDING_MASTER")
	typ, _ := vars.get("TYPE")
	isAlias := strings.Contains(dev, ":")

	master := (hasOpts && opts.Value != "") || (hasBM && isTrue(bm.Value)) ||
		strings.EqualFold(typ.Value, "bond") || strings.EqualFold(typ.Value, "bonding")
	if master && !isAlias {
		if dev == "" {
			e.add(1, "bonding master without DEVICE=")
			return
		}
		b.create(devLine, dev)
		for _, w := range shellFields(opts.Value) {
			if !strings.Contains(w, "=") {
				e.add(opts.Line, "BONDING_OPTS: %q is not key=value", w)
				continue
			}
			// key=${arg%%=*}; value=${arg##*=}
			key := w[:strings.IndexByte(w, '=')]
			val := w[strings.LastIndexByte(w, '=')+1:]
			b.option(opts.Line, dev, key, val)
		}
	} else if hasOpts && opts.Value != "" && isAlias {
		e.add(opts.Line, "BONDING_OPTS on an alias device (%s) is ignored", dev)
	}

	m, hasMaster := vars.get("MASTER")
	sl, hasSlave := vars.get("SLAVE")
	switch {
	case hasMaster && m.Value != "" && hasSlave && isTrue(sl.Value):
		if isAlias {
			e.add(m.Line, "alias device %s cannot be a slave", dev)
			return
		}
		if dev == "" {
			e.add(m.Line, "slave without DEVICE=")
			return
		}
		b.create(m.Line, m.Value)
		b.slave(m.Line, m.Value, dev)
	case hasMaster && m.Value != "":
		e.add(m.Line, "MASTER=%s without SLAVE=yes: ifup-eth does not enslave %s", m.Value, dev)
	case hasSlave && isTrue(sl.Value):
		e.add(sl.Line, "SLAVE=%s without MASTER=", sl.Value)
	}
}

// ifcfgDevice returns DEVICE= and its line, or the name from the file name
// (line 1).
func ifcfgDevice(file string, vars *shellVars) (string, int) {
	if d, ok := vars.get("DEVICE"); ok && d.Value != "" {
		return d.Value, d.Line
	}
	base := filepath.Base(file)
	if strings.HasPrefix(base, "ifcfg-") {
		return strings.TrimPrefix(base, "ifcfg-"), 1
	}
	return "", 1
}
