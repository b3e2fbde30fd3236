package compat

import (
	"path/filepath"
	"strings"
)

type ifLine struct {
	line  int
	key   string
	value string
}

type stanza struct {
	line int
	name string
	opts []ifLine
}

// parseStanzas reads a Debian ifupdown file (/etc/network/interfaces or a
// file under interfaces.d, interfaces(5)) into its stanzas; each stanza's
// emit adds the bonding writes it asks for.
//
// Lines starting with '#' are comments and a trailing backslash continues a
// line. "iface <name> …" and "mapping" start a stanza; "auto", "allow-*",
// "source*", "rename", "no-auto-down" and "no-scripts" lines end it (source
// lines are not followed: pass the sourced files too). Inside an iface stanza
// (ifenslave's ifupdown hooks and README.Debian):
//
//   - bond-<option> or bond_<option> (dashes in the option name are
//     underscores: bond-xmit-hash-policy, bond-lacp-rate, bond-arp-ip-target,
//     …) sets bonding/<option> of the stanza's bond; bond-arp-ip-target takes
//     a list of addresses separated by spaces or commas.
//   - bond-slaves (or slaves, or ifupdown-ng's bond-members) lists the slaves;
//     "none" means the slaves name the bond with bond-master; "all" (every
//     eth* interface at boot) needs the live system and is reported.
//   - bond-master <bond> makes the stanza's interface a slave of <bond>, which
//     is created if needed; the other bond-* options of a slave stanza set
//     the master's options ("You can setup the master interface mode and any
//     other possible attribute of the master … in the stanza of the slaves").
//     bond-queue-id in a slave stanza writes "<slave>:<id>" to queue_id.
//   - bond-primary names the primary; bond-give-a-chance is a timing hint of
//     the scripts, not a bonding option, and is ignored.
//   - up, pre-up and post-up commands: `ifenslave [-f] <bond> <slave>…`
//     enslaves (seed 004 "up ifenslave bond0 eth0 eth1"), `ifenslave -c <bond>
//     <slave>` sets active_slave, `ifenslave -d …` (detaching) is skipped,
//     `echo <value> > /sys/class/net/<bond>/bonding/<option>` and
//     `echo +<bond> > /sys/class/net/bonding_masters` are taken as the writes
//     they are, and `ip link set [dev] <slave> master <bond>` enslaves. Other
//     commands are not bonding's business and are ignored; down commands are
//     ignored.
//
// The stanza of a bond (any bond-* option other than bond-master) creates
// it. Writes follow the package's order; the builder's validator checks
// each option.
func parseStanzas(data []byte, e *errs) []*stanza {
	var out []*stanza
	var cur *stanza
	for _, ll := range logicalLines(data) {
		start, t := ll.line, ll.text
		f := strings.Fields(t)
		switch {
		case f[0] == "iface":
			if len(f) < 2 {
				e.add(start, "iface: expected `iface <name> <family> <method>`")
				cur = nil
				continue
			}
			cur = &stanza{line: start, name: f[1]}
			out = append(out, cur)
		case f[0] == "mapping" || f[0] == "auto" || strings.HasPrefix(f[0], "allow-") ||
			strings.HasPrefix(f[0], "source") || f[0] == "rename" || f[0] == "no-auto-down" || f[0] == "no-scripts":
			cur = nil
		case cur != nil:
			cur.opts = append(cur.opts, ifLine{line: start, key: f[0], value: strings.TrimSpace(t[len(f[0]):])})
		default:
			e.add(start, "%q outside an iface stanza", firstN(t, 60))
		}
	}
	return out
}

// bondKey returns the bonding option a stanza key names: "bond-lacp-rate" and
// "bond_lacp_rate" give "lacp_rate"; "slaves" gives "slaves".
func bondKey(key string) (string, bool) {
	if key == "slaves" {
		return "slaves", true
	}
	if len(key) > 5 && (strings.HasPrefix(key, "bond-") || strings.HasPrefix(key, "bond_")) {
		return strings.ReplaceAll(key[5:], "-", "_"), true
	}
	return "", false
}

func (st *stanza) emit(b *builder) {
	e := b.e
	// The bond this stanza's bond-* options configure: its own interface, or
	// its bond-master.
	master, masterLine := "", 0
	for _, o := range st.opts {
		if k, ok := bondKey(o.key); ok && k == "master" {
			if len(strings.Fields(o.value)) != 1 {
				e.add(o.line, "%s: bond-master takes one bond name", o.key)
				continue
			}
			if master != "" && o.value != master {
				e.add(o.line, "%s: second bond-master %s (already %s)", st.name, o.value, master)
				continue
			}
			master, masterLine = o.value, o.line
		}
	}
	target := st.name
	if master != "" {
		target = master
	}
	created := false
	ensure := func() {
		if !created && master == "" {
			b.create(st.line, st.name)
		}
		created = true
	}
	for _, o := range st.opts {
		switch o.key {
		case "up", "post-up", "pre-up":
			emitCommands(b, o.line, o.value)
			continue
		}
		k, ok := bondKey(o.key)
		if !ok {
			continue
		}
		words := strings.Fields(o.value)
		switch k {
		case "master":
			if o.line != masterLine {
				continue
			}
			b.create(o.line, master)
			b.slave(o.line, master, st.name)
		case "slaves", "members":
			if master != "" {
				e.add(o.line, "%s: %s lists slaves but %s is itself a slave of %s", o.key, st.name, st.name, master)
				continue
			}
			ensure()
			switch {
			case len(words) == 0:
				e.add(o.line, "%s: no slaves given (use \"none\")", o.key)
			case len(words) == 1 && words[0] == "none":
			case len(words) == 1 && words[0] == "all":
				e.add(o.line, "%s all: enslaving every eth* interface needs the live system; list the slaves", o.key)
			default:
				for _, w := range words {
					b.slave(o.line, st.name, w)
				}
			}
		case "give_a_chance":
		case "primary":
			ensure()
			if len(words) != 1 {
				e.add(o.line, "%s: expected one interface name", o.key)
				continue
			}
			b.option(o.line, target, "primary", words[0])
		case "queue_id":
			if master == "" {
				e.add(o.line, "%s belongs in a slave's stanza (with bond-master)", o.key)
				continue
			}
			b.option(o.line, master, "queue_id", st.name+":"+o.value)
		case "arp_ip_target":
			ensure()
			ts := splitList(o.value, " \t,")
			if len(ts) == 0 {
				e.add(o.line, "%s: no target given", o.key)
			}
			for _, t := range ts {
				b.option(o.line, target, k, t)
			}
		default:
			ensure()
			if o.value == "" {
				e.add(o.line, "%s: no value given", o.key)
				continue
			}
			b.option(o.line, target, k, o.value)
		}
	}
}

// emitCommands takes the bonding writes out of an up/pre-up/post-up command.
func emitCommands(b *builder, line int, cmd string) {
	for _, argv := range simpleCommands(cmd) {
		switch filepath.Base(argv[0]) {
		case "ifenslave":
			ifenslave(b, line, argv[1:])
		case "echo":
			echoSysfs(b, line, argv[1:])
		case "ip":
			ipLinkMaster(b, line, argv[1:])
		}
	}
}

// ifenslave follows the classic ifenslave command line: [-acdfhuvV] master
// slave… ; -d detaches (skipped), -c changes the active slave.
func ifenslave(b *builder, line int, args []string) {
	change := false
	var words []string
	for _, a := range args {
		switch {
		case a == "-d" || a == "--detach":
			return
		case a == "-c" || a == "--change-active":
			change = true
		case strings.HasPrefix(a, "-"):
			if strings.Contains(a, "d") && !strings.HasPrefix(a, "--") {
				return
			}
			if strings.Contains(a, "c") && !strings.HasPrefix(a, "--") {
				change = true
			}
		default:
			words = append(words, a)
		}
	}
	if len(words) < 2 {
		b.e.add(line, "ifenslave: expected a bond and at least one slave")
		return
	}
	bondName := words[0]
	b.create(line, bondName)
	if change {
		if len(words) != 2 {
			b.e.add(line, "ifenslave -c: expected a bond and one slave")
			return
		}
		b.option(line, bondName, "active_slave", words[1])
		return
	}
	for i := 1; i < len(words); i++ {
		if words[i] == "metric" { // 2.4-era `slave metric N`
			i++
			continue
		}
		b.slave(line, bondName, words[i])
	}
}

// echoSysfs takes `echo VALUE > /sys/class/net/...` as the write it is.
func echoSysfs(b *builder, line int, args []string) {
	var vals []string
	path := ""
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == ">" {
			if i+1 < len(args) {
				path = args[i+1]
			}
			break
		}
		if len(vals) == 0 && (a == "-n" || a == "-e" || a == "-ne") {
			continue
		}
		vals = append(vals, a)
	}
	const prefix = "/sys/class/net/"
	if !strings.HasPrefix(path, prefix) {
		return
	}
	val := strings.Join(vals, " ")
	rest := strings.TrimPrefix(path, prefix)
	if rest == "bonding_masters" {
		switch {
		case strings.HasPrefix(val, "+"):
			b.create(line, val[1:])
		default:
			b.e.add(line, "echo %q > bonding_masters: only bond creation (+name) is taken", val)
		}
		return
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 3 || parts[1] != "bonding" {
		return
	}
	bondName, opt := parts[0], parts[2]
	b.create(line, bondName)
	if opt == KeySlaves {
		if strings.HasPrefix(val, "+") {
			b.slave(line, bondName, val[1:])
		} else {
			b.e.add(line, "echo %q > %s: only enslaving (+name) is taken", val, path)
		}
		return
	}
	b.add(line, bondName, opt, val)
}

// ipLinkMaster takes `ip link set [dev] SLAVE … master BOND`.
func ipLinkMaster(b *builder, line int, args []string) {
	if len(args) < 3 || args[0] != "link" || args[1] != "set" {
		return
	}
	rest := args[2:]
	if rest[0] == "dev" {
		rest = rest[1:]
	}
	if len(rest) == 0 {
		return
	}
	dev := rest[0]
	for i := 1; i+1 < len(rest); i++ {
		if rest[i] == "master" {
			b.create(line, rest[i+1])
			b.slave(line, rest[i+1], dev)
			return
		}
	}
}
