// Package ktext scans text exactly as the Linux kernel does where bonding
// reads what users write: its ctype (lib/ctype.c), sscanf's %s, %llu and %hd
// (lib/vsprintf.c vsscanf), kstrtoint (lib/kstrtox.c), in4_pton and
// mac_pton (net/core/utils.c, lib/net_utils.c) and dev_valid_name
// (net/core/dev.c). bond, its module-parameter parser and compat share it,
// so an interface name or a first word means the same everywhere. It imports
// nothing of this module.
package ktext

import (
	"errors"
	"math"
	"net"
	"net/netip"
	"strings"
)

// IFNAMSIZ is the size of an interface name buffer: names have at most
// IFNAMSIZ-1 bytes.
const IFNAMSIZ = 16

// IsSpace is the kernel's isspace: ASCII white space (' ', '\t' … '\r')
// and 0xA0, no-break space in the kernel's Latin-1 ctype table (lib/ctype.c
// marks 160 _S|_SP). A byte, not a rune: "\u00a0" in UTF-8 is 0xC2 0xA0, and
// only its second byte is a space.
func IsSpace(c byte) bool { return c == ' ' || (c >= '\t' && c <= '\r') || c == 0xa0 }

// IsDigit is isdigit.
func IsDigit(c byte) bool { return c >= '0' && c <= '9' }

// IsXDigit is isxdigit.
func IsXDigit(c byte) bool {
	return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// HexVal is hex_to_bin: the value of a hex digit, -1 for anything else.
func HexVal(c byte) int {
	switch {
	case IsDigit(c):
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// SkipSpaces is skip_spaces.
func SkipSpaces(s string) string {
	for len(s) > 0 && IsSpace(s[0]) {
		s = s[1:]
	}
	return s
}

// CutNUL cuts s at its first NUL byte, as kstrndup does with a sysfs write.
func CutNUL(s string) string {
	if i := strings.IndexByte(s, 0); i >= 0 {
		return s[:i]
	}
	return s
}

// CutNL cuts s at its first newline.
func CutNL(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// ScanWord is sscanf(s, "%<width>s"): the first IsSpace-delimited word, at
// most width bytes. ok is false when s is empty (no conversion); a string
// of white space only gives "", true.
func ScanWord(s string, width int) (w string, ok bool) {
	if s == "" {
		return "", false
	}
	s = SkipSpaces(s)
	n := 0
	for n < len(s) && n < width && !IsSpace(s[n]) {
		n++
	}
	return s[:n], true
}

// FirstWord is ScanWord without the conversion flag.
func FirstWord(s string, width int) string {
	w, _ := ScanWord(s, width)
	return w
}

// ScanULL is sscanf(s, "%llu"): leading white space, then decimal digits,
// wrapping modulo 2^64 as simple_strntoull does.
func ScanULL(s string) (uint64, bool) {
	if s == "" {
		return 0, false
	}
	s = SkipSpaces(s)
	if s == "" || !IsDigit(s[0]) {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(s) && IsDigit(s[i]); i++ {
		v = v*10 + uint64(s[i]-'0')
	}
	return v, true
}

// ScanHd is sscanf(s, "%hd") stored into a u16: optional '-', decimal
// digits wrapping modulo 2^64, then truncated to 16 bits.
func ScanHd(s string) (uint16, bool) {
	if s == "" {
		return 0, false
	}
	s = SkipSpaces(s)
	neg := false
	d := s
	if len(d) > 0 && d[0] == '-' {
		neg = true
		d = d[1:]
	}
	if d == "" || !IsDigit(d[0]) {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(d) && IsDigit(d[i]); i++ {
		v = v*10 + uint64(d[i]-'0')
	}
	if neg {
		v = -v
	}
	return uint16(v), true
}

// ValidIfName is dev_valid_name: 1..15 bytes, not "." or "..", and no '/',
// ':' or IsSpace byte (so 0xA0 is refused, as the kernel refuses it).
func ValidIfName(name string) bool {
	if name == "" || len(name) >= IFNAMSIZ || name == "." || name == ".." {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c == '/' || c == ':' || IsSpace(c) {
			return false
		}
	}
	return true
}

// In4pton is in4_pton(s, -1, dst, -1, NULL): four decimal octets separated
// by '.', ended by the end of s, ':' or any character that is neither a
// digit, a hex letter nor '.'; hex letters fail.
func In4pton(s string) (netip.Addr, bool) {
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
		case IsDigit(c):
			class, val = classDigit, uint32(c-'0')|0x30000
		case IsXDigit(c):
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

// MacPton is mac_pton: "xx:xx:xx:xx:xx:xx" (two hex digits per byte, ':'
// separators); anything may follow.
func MacPton(s string) (net.HardwareAddr, bool) {
	if len(s) < 17 {
		return nil, false
	}
	for i := 0; i < 6; i++ {
		if !IsXDigit(s[i*3]) || !IsXDigit(s[i*3+1]) {
			return nil, false
		}
		if i != 5 && s[i*3+2] != ':' {
			return nil, false
		}
	}
	m := make(net.HardwareAddr, 6)
	for i := range m {
		m[i] = byte(HexVal(s[i*3])<<4 | HexVal(s[i*3+1]))
	}
	return m, true
}

// ErrRange is Kstrtoint's error (the kernel's -EINVAL or -ERANGE).
var ErrRange = errors.New("ktext: invalid or out of range")

// Kstrtoint is kstrtoint/kstrtouint(s, 0): optional sign ('-' only when
// signed), base from the prefix (0x hex, 0 octal, else decimal), one
// trailing newline allowed, 32-bit range.
func Kstrtoint(s string, signed bool) (int64, error) {
	neg := false
	if strings.HasPrefix(s, "+") {
		s = s[1:]
	} else if signed && strings.HasPrefix(s, "-") {
		neg = true
		s = s[1:]
		if strings.HasPrefix(s, "+") {
			return 0, ErrRange
		}
	}
	base := uint64(10)
	switch {
	case len(s) >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && len(s) > 2 && IsXDigit(s[2]):
		base, s = 16, s[2:]
	case len(s) >= 1 && s[0] == '0':
		base = 8
	}
	var n uint64
	i := 0
	for ; i < len(s); i++ {
		d := HexVal(s[i])
		if d < 0 || uint64(d) >= base {
			break
		}
		if n > (math.MaxUint64-uint64(d))/base {
			return 0, ErrRange
		}
		n = n*base + uint64(d)
	}
	if i == 0 {
		return 0, ErrRange
	}
	if tail := s[i:]; tail != "" && tail != "\n" {
		return 0, ErrRange
	}
	switch {
	case !signed:
		if n > math.MaxUint32 {
			return 0, ErrRange
		}
		return int64(n), nil
	case neg:
		if n > -math.MinInt32 {
			return 0, ErrRange
		}
		return -int64(n), nil
	default:
		if n > math.MaxInt32 {
			return 0, ErrRange
		}
		return int64(n), nil
	}
}
