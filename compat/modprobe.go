package compat

import (
	"path/filepath"
	"strings"
)

// A modprobe directive that concerns bonding.
type mpDirective struct {
	line int
	kind string // "alias", "options", "install"
	name string // the module name or alias the directive is for
	// alias: the target module; install: the module the command loads ("" if none)
	target string
	args   [][2]string // options/install: key=value parameters in order
}

// bondingAliases returns the names that load bonding: alias targets and
// install rules whose command loads bonding.
func bondingAliases(files [][]mpDirective) map[string]bool {
	m := map[string]bool{}
	for _, dirs := range files {
		for _, d := range dirs {
			if (d.kind == "alias" || d.kind == "install") && d.target == "bonding" && normModule(d.name) != "bonding" {
				m[normModule(d.name)] = true
			}
		}
	}
	return m
}

// normModule is modprobe's module name normalisation ('-' and '_' are the
// same).
func normModule(s string) string { return strings.ReplaceAll(s, "-", "_") }

func emitModprobe(dirs []mpDirective, aliases map[string]bool, b *builder) {
	for _, d := range dirs {
		name := normModule(d.name)
		isBonding := name == "bonding"
		isInstance := !isBonding && aliases[name]
		switch d.kind {
		case "alias":
			if d.target == "bonding" && !isBonding {
				b.create(d.line, d.name)
			}
		case "options":
			switch {
			case isBonding:
				for _, kv := range d.args {
					b.module(d.line, kv[0], kv[1])
				}
			case isInstance:
				for _, kv := range d.args {
					b.option(d.line, d.name, kv[0], kv[1])
				}
			case strings.HasPrefix(d.name, "bond"):
				b.e.add(d.line, "options %s: %s is not an alias of bonding (add `alias %s bonding`); ignored", d.name, d.name, d.name)
			}
		case "install":
			if d.target != "bonding" {
				continue
			}
			if isBonding {
				for _, kv := range d.args {
					b.module(d.line, kv[0], kv[1])
				}
				continue
			}
			b.create(d.line, d.name)
			for _, kv := range d.args {
				b.option(d.line, d.name, kv[0], kv[1])
			}
		}
	}
}

// parseModprobeDirectives reads one modprobe configuration file
// (/etc/modprobe.d/*.conf, /etc/modprobe.conf, /etc/modules.conf,
// /etc/modutils/*) into the directives that matter: comment lines start
// with '#', a trailing backslash continues a line (modprobe.d(5));
// emitModprobe turns them into writes, with the aliases of every file.
//
// Directives that concern bonding:
//
//   - `options bonding k=v …`: module options, applied to every bond when
//     the module loads; returned with an empty Bond. Parameter names take '-'
//     or '_' alike, as the kernel's parse_args does.
//   - `alias bond0 bonding`: bond0 is an instance of bonding; the bond is
//     created (2.4-era HOWTO §3, bonding.txt §3.2).
//   - `options bond0 [-o name] k=v …` for an alias of bonding: the old
//     one-module-instance-per-bond style (HOWTO §4, bonding.txt §3.3.1);
//     the options configure bond0 through sysfs. "-o name" only renamed
//     the module instance and is skipped.
//   - `install bond1 /sbin/modprobe --ignore-install bonding -o bond1 k=v …`
//     (bonding.txt §3.3.1): the options on the modprobe command line that
//     loads bonding configure bond1; `install bonding …` commands that load
//     bonding with options (or run `bondingfs modprobe k=v …`) give module
//     options.
//
// An `options` line for a name that is neither bonding nor an alias or install
// rule of it is ignored (another module), except that a name starting with
// "bond" is reported. Other directives (blacklist, softdep, remove, probeall,
// …) are ignored. The builder's validator checks each option.
func parseModprobeDirectives(data []byte, e *errs) []mpDirective {
	var out []mpDirective
	for _, ll := range logicalLines(data) {
		start, t := ll.line, ll.text
		f := strings.Fields(t)
		switch f[0] {
		case "alias":
			if len(f) != 3 {
				e.add(start, "alias: expected `alias <name> <module>`")
				continue
			}
			out = append(out, mpDirective{line: start, kind: "alias", name: f[1], target: normModule(f[2])})
		case "options":
			if len(f) < 2 {
				e.add(start, "options: expected `options <module> <option>…`")
				continue
			}
			rest := strings.TrimSpace(t[len("options"):])
			rest = strings.TrimSpace(rest[len(f[1]):])
			d := mpDirective{line: start, kind: "options", name: f[1]}
			words := splitQuoted(rest)
			for j := 0; j < len(words); j++ {
				w := words[j]
				if w == "-o" || w == "--name" {
					j++ // -o NAME: module instance name (old modprobe); not an option
					continue
				}
				if strings.HasPrefix(w, "-o") || strings.HasPrefix(w, "--name=") {
					continue
				}
				d.args = append(d.args, splitParam(w))
			}
			out = append(out, d)
		case "install":
			if len(f) < 3 {
				e.add(start, "install: expected `install <module> <command…>`")
				continue
			}
			cmd := strings.TrimSpace(t[len("install"):])
			cmd = strings.TrimSpace(cmd[len(f[1]):])
			out = append(out, parseInstall(start, f[1], cmd))
		}
	}
	return out
}

// splitParam splits a module parameter word at the first '=' and normalises
// '-' to '_' in the name. A bare word gets an empty value (every bonding
// parameter needs one, so validation reports it).
func splitParam(w string) [2]string {
	k, v, ok := strings.Cut(w, "=")
	k = strings.ReplaceAll(k, "-", "_")
	if !ok {
		return [2]string{k, ""}
	}
	return [2]string{k, v}
}

// parseInstall reads the shell command of an install rule: simple commands
// separated by ';', '&&', '||' or '|'. A modprobe command loading bonding
// (or an alias of it: the rule's own name with --ignore-install) gives the
// parameters; `bondingfs modprobe k=v …` gives them too.
func parseInstall(line int, name, cmd string) mpDirective {
	d := mpDirective{line: line, kind: "install", name: name}
	for _, argv := range simpleCommands(cmd) {
		if len(argv) == 0 {
			continue
		}
		prog := filepath.Base(argv[0])
		var args []string
		switch {
		case prog == "modprobe" || prog == "insmod":
			args = argv[1:]
		case prog == "bondingfs" && len(argv) > 1 && argv[1] == "modprobe":
			d.target = "bonding"
			for _, w := range argv[2:] {
				// $CMDLINE_OPTS (modprobe's own options, the shipped
				// rule) adds nothing of its own.
				if !strings.HasPrefix(w, "-") && !strings.HasPrefix(w, "$") {
					d.args = append(d.args, splitParam(w))
				}
			}
			continue
		default:
			continue
		}
		module := ""
		for j := 0; j < len(args); j++ {
			w := args[j]
			switch {
			case w == "-o" || w == "--name":
				j++
			case strings.HasPrefix(w, "-"):
			case module == "":
				module = normModule(strings.TrimSuffix(filepath.Base(w), ".ko"))
			case module == "bonding":
				d.args = append(d.args, splitParam(w))
			}
		}
		if module == "bonding" {
			d.target = "bonding"
		}
	}
	return d
}

// simpleCommands splits a shell command line into simple commands, each a
// list of words (quotes removed).
func simpleCommands(s string) [][]string {
	var out [][]string
	var cur []string
	var w strings.Builder
	inWord := false
	flush := func() {
		if inWord {
			cur = append(cur, w.String())
			w.Reset()
			inWord = false
		}
	}
	end := func() {
		flush()
		if len(cur) > 0 {
			out = append(out, cur)
		}
		cur = nil
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case ' ', '\t', '\r', '\n':
			flush()
		case ';', '&', '|':
			end()
		case '\'', '"': // quoted text up to the same quote (or the end)
			j := strings.IndexByte(s[i+1:], c)
			if j < 0 {
				j = len(s) - i - 1
			}
			w.WriteString(s[i+1 : i+1+j])
			inWord = true
			i += j + 1
		case '\\':
			if i+1 < len(s) {
				i++
				w.WriteByte(s[i])
				inWord = true
			}
		case '>':
			flush()
			cur = append(cur, ">")
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	end()
	return out
}

// splitQuoted splits at white space, keeping double-quoted parts together and
// removing the quotes (modprobe's option parsing).
func splitQuoted(s string) []string {
	var out []string
	var w strings.Builder
	in, quoted := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			quoted = !quoted
			in = true
		case !quoted && (c == ' ' || c == '\t'):
			if in {
				out = append(out, w.String())
				w.Reset()
				in = false
			}
		default:
			w.WriteByte(c)
			in = true
		}
	}
	if in {
		out = append(out, w.String())
	}
	return out
}
