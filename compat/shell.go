package compat

import (
	"strings"
)

// assign is one shell variable assignment of an ifcfg file.
type assign struct {
	Name  string
	Value string
	Line  int
}

// shellVars holds the assignments of a sourced file: the last value of each
// variable wins, as when the shell sources it.
type shellVars struct {
	order []assign // every assignment, in file order
	last  map[string]assign
}

func (v *shellVars) get(name string) (assign, bool) {
	a, ok := v.last[name]
	return a, ok
}

// parseShellVars reads a file that network scripts source with `.`:
// initscripts ifcfg-* (network-functions source_config) and SUSE sysconfig
// ifcfg-* files. Accepted: NAME=value assignments (several per line, with an
// optional `export`), values unquoted, in '…' or in "…" (which may span
// lines), backslash escapes and line continuations, $NAME and ${NAME}
// expanded from earlier assignments, comments from an unquoted '#' at the
// start of a word. Anything else (a command, command substitution) is
// reported and ignored: bondingfs does not run shell code.
func parseShellVars(data []byte, e *errs) *shellVars {
	vars := &shellVars{last: map[string]assign{}}
	p := &shLexer{s: string(data), line: 1, vars: vars, e: e}
	for !p.eof() {
		p.skipBlank()
		if p.eof() {
			break
		}
		c := p.peek()
		switch {
		case c == '\n' || c == ';':
			p.next()
			continue
		case c == '#':
			p.skipLine()
			continue
		}
		start := p.line
		name, ok := p.assignName()
		if !ok {
			word := p.rawWord()
			if word == "export" || word == "readonly" || word == "declare" || word == "local" {
				continue // the assignments follow on the line
			}
			e.add(start, "not a VAR=value assignment: %q (shell commands are not run; line ignored)", firstN(word+p.restOfLine(), 60))
			continue
		}
		val, ok := p.value()
		if !ok {
			e.add(start, "%s: unterminated quoted value", name)
			return vars
		}
		a := assign{Name: name, Value: val, Line: start}
		vars.order = append(vars.order, a)
		vars.last[name] = a
	}
	return vars
}

func firstN(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

type shLexer struct {
	s    string
	i    int
	line int
	vars *shellVars
	e    *errs
}

func (p *shLexer) eof() bool  { return p.i >= len(p.s) }
func (p *shLexer) peek() byte { return p.s[p.i] }

func (p *shLexer) next() byte {
	c := p.s[p.i]
	p.i++
	if c == '\n' {
		p.line++
	}
	return c
}

// skipBlank skips spaces and tabs and backslash-newline continuations.
func (p *shLexer) skipBlank() {
	for !p.eof() {
		c := p.peek()
		if c == ' ' || c == '\t' || c == '\r' {
			p.next()
		} else if c == '\\' && p.i+1 < len(p.s) && p.s[p.i+1] == '\n' {
			p.next()
			p.next()
		} else {
			return
		}
	}
}

func (p *shLexer) skipLine() {
	for !p.eof() && p.peek() != '\n' {
		p.next()
	}
}

func (p *shLexer) restOfLine() string {
	start := p.i
	p.skipLine()
	return p.s[start:p.i]
}

// assignName consumes NAME= if the input is at one.
func (p *shLexer) assignName() (string, bool) {
	j := p.i
	for j < len(p.s) && isNameByte(p.s[j], j == p.i) {
		j++
	}
	if j == p.i || j >= len(p.s) || p.s[j] != '=' {
		return "", false
	}
	name := p.s[p.i:j]
	p.i = j + 1
	return name, true
}

func isNameByte(c byte, first bool) bool {
	return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (!first && c >= '0' && c <= '9')
}

// rawWord consumes one unquoted word (for error messages).
func (p *shLexer) rawWord() string {
	start := p.i
	for !p.eof() {
		c := p.peek()
		if c == ' ' || c == '\t' || c == '\n' || c == ';' {
			break
		}
		p.next()
	}
	return p.s[start:p.i]
}

// value reads the word after NAME=; ok is false on an unterminated quote.
func (p *shLexer) value() (string, bool) {
	var b strings.Builder
	for !p.eof() {
		c := p.peek()
		switch c {
		case ' ', '\t', '\r', '\n', ';':
			return b.String(), true
		case '\'':
			p.next()
			j := strings.IndexByte(p.s[p.i:], '\'')
			if j < 0 {
				return "", false
			}
			for k := 0; k < j; k++ {
				b.WriteByte(p.next())
			}
			p.next()
		case '"':
			p.next()
			if !p.doubleQuoted(&b) {
				return "", false
			}
		case '\\':
			p.next()
			if p.eof() {
				return b.String(), true
			}
			if d := p.next(); d != '\n' {
				b.WriteByte(d)
			}
		case '$':
			p.next()
			p.expand(&b)
		case '`':
			p.next()
			p.e.add(p.line, "command substitution is not supported")
			j := strings.IndexByte(p.s[p.i:], '`')
			if j < 0 {
				return "", false
			}
			for k := 0; k <= j; k++ {
				p.next()
			}
		default:
			b.WriteByte(p.next())
		}
	}
	return b.String(), true
}

// doubleQuoted reads up to the closing '"'.
func (p *shLexer) doubleQuoted(b *strings.Builder) bool {
	for !p.eof() {
		c := p.next()
		switch c {
		case '"':
			return true
		case '\\':
			if p.eof() {
				return false
			}
			d := p.next()
			switch d {
			case '"', '\\', '$', '`':
				b.WriteByte(d)
			case '\n':
			default:
				b.WriteByte('\\')
				b.WriteByte(d)
			}
		case '$':
			p.expand(b)
		case '`':
			p.e.add(p.line, "command substitution is not supported")
			for !p.eof() && p.peek() != '`' {
				p.next()
			}
			if p.eof() {
				return false
			}
			p.next()
		default:
			b.WriteByte(c)
		}
	}
	return false
}

// expand handles what follows a '$': NAME or {NAME}; "$(" is reported; a '$'
// before anything else is literal.
func (p *shLexer) expand(b *strings.Builder) {
	if p.eof() {
		b.WriteByte('$')
		return
	}
	switch c := p.peek(); {
	case c == '{':
		j := strings.IndexByte(p.s[p.i:], '}')
		if j < 0 {
			b.WriteByte('$')
			return
		}
		name := p.s[p.i+1 : p.i+j]
		if !validShellName(name) {
			p.e.add(p.line, "unsupported parameter expansion ${%s}", firstN(name, 40))
		} else {
			a, _ := p.vars.get(name)
			b.WriteString(a.Value)
		}
		for k := 0; k <= j; k++ {
			p.next()
		}
	case c == '(':
		p.e.add(p.line, "command substitution is not supported")
		b.WriteByte('$')
	case isNameByte(c, true):
		j := p.i
		for j < len(p.s) && isNameByte(p.s[j], j == p.i) {
			j++
		}
		a, _ := p.vars.get(p.s[p.i:j])
		b.WriteString(a.Value)
		p.i = j
	default:
		b.WriteByte('$')
	}
}

func validShellName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isNameByte(s[i], i == 0) {
			return false
		}
	}
	return true
}

// isTrue is /etc/init.d/functions is_true: y, yes, t, true, on, 1 in any
// case.
func isTrue(s string) bool {
	switch strings.ToLower(s) {
	case "y", "yes", "t", "true", "on", "1":
		return true
	}
	return false
}

// shellFields splits an unquoted expansion ($BONDING_OPTS) at the default
// IFS (space, tab, newline).
func shellFields(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '\t' || r == '\n' })
}
