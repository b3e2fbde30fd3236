package bond

import (
	"net"
	"net/netip"
	"strings"
)

// Text scanning exactly as the kernel does it for option values: its ctype
// (lib/ctype.c), vsscanf (lib/vsprintf.c), in4_pton and mac_pton
// (net/core/utils.c, lib/net_utils.c) and dev_valid_name (net/core/dev.c).

// ifNameSizeOpt is IFNAMSIZ.
const ifNameSizeOpt = 16

// kIsSpace is the kernel's isspace: ASCII white space and 0xA0 (the kernel's
// ctype table is Latin-1).
func kIsSpace(c byte) bool { return c == ' ' || (c >= '\t' && c <= '\r') || c == 0xa0 }

func kIsDigit(c byte) bool { return c >= '0' && c <= '9' }

func kIsXDigit(c byte) bool {
	return kIsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func optHexVal(c byte) int {
	switch {
	case kIsDigit(c):
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

func optSkipSpaces(s string) string {
	for len(s) > 0 && kIsSpace(s[0]) {
		s = s[1:]
	}
	return s
}

// cutNUL cuts s at its first NUL byte, as kstrndup does with a sysfs write.
func cutNUL(s string) string {
	if i := strings.IndexByte(s, 0); i >= 0 {
		return s[:i]
	}
	return s
}

// cutNL cuts s at its first newline (bond_opt_parse, bond_opt_error_interpret).
func cutNL(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// scanWord is sscanf(s, "%<width>s"): the first white-space delimited word,
// at most width bytes. ok is false when s is empty (no conversion).
func scanWord(s string, width int) (w string, ok bool) {
	if s == "" {
		return "", false
	}
	s = optSkipSpaces(s)
	n := 0
	for n < len(s) && n < width && !kIsSpace(s[n]) {
		n++
	}
	return s[:n], true
}

// scanULL is sscanf(s, "%llu"): leading white space, then decimal digits,
// wrapping modulo 2^64 as simple_strntoull does.
func scanULL(s string) (uint64, bool) {
	if s == "" {
		return 0, false
	}
	s = optSkipSpaces(s)
	if s == "" || !kIsDigit(s[0]) {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(s) && kIsDigit(s[i]); i++ {
		v = v*10 + uint64(s[i]-'0')
	}
	return v, true
}

// scanHd is sscanf(s, "%hd") stored into a u16 (queue_id): optional '-',
// decimal digits wrapping modulo 2^64, then truncated to 16 bits.
func scanHd(s string) (uint16, bool) {
	if s == "" {
		return 0, false
	}
	s = optSkipSpaces(s)
	neg := false
	d := s
	if len(d) > 0 && d[0] == '-' {
		neg = true
		d = d[1:]
	}
	if d == "" || !kIsDigit(d[0]) {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(d) && kIsDigit(d[i]); i++ {
		v = v*10 + uint64(d[i]-'0')
	}
	if neg {
		v = -v
	}
	return uint16(v), true
}

// validIfName is dev_valid_name: 1..15 bytes, not "." or "..", no '/', ':'
// or white space.
func validIfName(name string) bool {
	if name == "" || len(name) >= ifNameSizeOpt || name == "." || name == ".." {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c == '/' || c == ':' || kIsSpace(c) {
			return false
		}
	}
	return true
}

// in4pton is in4_pton(s, -1, dst, -1, NULL): four decimal octets separated
// by '.', ended by the end of s, ':' or any character that is neither a
// digit, a hex letter nor '.'; hex letters fail.
func in4pton(s string) (netip.Addr, bool) {
	const (
		classDigit = 1 << iota
		classDot
		classDelim
		classColon
	)
	var d [4]byte
	var w uint32 // as the kernel: value plus marker bits, 0 = no digit yet
	i := 0
	for pos := 0; ; pos++ {
		var c byte
		if pos < len(s) {
			c = s[pos]
		}
		var class int
		var val uint32
		switch {
		case c == 0:
			class = classDelim
		case c == ':':
			class = classColon
		case c == '.':
			class = classDot
		case kIsDigit(c):
			class, val = classDigit, uint32(c-'0')|0x30000
		case kIsXDigit(c):
			return netip.Addr{}, false
		default:
			class = classDelim
		}
		if class != classDigit {
			if w == 0 {
				return netip.Addr{}, false
			}
			d[i] = byte(w)
			w = 0
			i++
			if class == classDelim || class == classColon {
				if i != 4 {
					return netip.Addr{}, false
				}
				break
			}
		} else {
			w = w*10 + val
			if w&0xffff > 255 {
				return netip.Addr{}, false
			}
		}
		if i >= 4 {
			return netip.Addr{}, false
		}
	}
	return netip.AddrFrom4(d), true
}

// macPton is mac_pton: "xx:xx:xx:xx:xx:xx" (two hex digits per byte, ':'
// separators); anything may follow.
func macPton(s string) (net.HardwareAddr, bool) {
	if len(s) < 17 {
		return nil, false
	}
	for i := 0; i < 6; i++ {
		if !kIsXDigit(s[i*3]) || !kIsXDigit(s[i*3+1]) {
			return nil, false
		}
		if i != 5 && s[i*3+2] != ':' {
			return nil, false
		}
	}
	m := make(net.HardwareAddr, 6)
	for i := range m {
		m[i] = byte(optHexVal(s[i*3])<<4 | optHexVal(s[i*3+1]))
	}
	return m, true
}

// Parse interprets a value written to the option's file as bond_opt_parse
// does: the text is cut at its first newline; if it holds only digits and
// white space it is a number (%llu, wrapping modulo 2^64) that must equal a
// table value or lie in the table's [minval, maxval] range; otherwise its
// first word (at most 32 bytes) must be a table name or "default". The
// result's Name is "" for a number matched by range only. ok is false when
// the value is invalid (EINVAL) and for options that take raw text.
func (o *Option) Parse(text string) (v OptValue, ok bool) {
	if o.Flags&OptRawVal != 0 || len(o.Values) == 0 {
		return OptValue{}, false
	}
	s := cutNL(cutNUL(text))
	numeric := true
	for i := 0; i < len(s); i++ {
		if !kIsDigit(s[i]) && !kIsSpace(s[i]) {
			numeric = false
			break
		}
	}
	if numeric {
		n, ok := scanULL(s)
		if !ok {
			return OptValue{}, false
		}
		for _, e := range o.Values {
			if e.Value == n {
				return e, true
			}
		}
		if min, max, ok := o.Range(); ok && n >= min && n <= max {
			return OptValue{Value: n}, true
		}
		return OptValue{}, false
	}
	word, _ := scanWord(s, 32)
	for _, e := range o.Values {
		if (word == "default" && e.Flags&ValDefault != 0) || word == e.Name {
			return e, true
		}
	}
	return OptValue{}, false
}
