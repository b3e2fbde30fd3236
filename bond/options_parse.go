package bond

import "bondingfs/internal/ktext"

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
	s := ktext.CutNL(ktext.CutNUL(text))
	numeric := true
	for i := 0; i < len(s); i++ {
		if !ktext.IsDigit(s[i]) && !ktext.IsSpace(s[i]) {
			numeric = false
			break
		}
	}
	if numeric {
		n, ok := ktext.ScanULL(s)
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
	word, _ := ktext.ScanWord(s, 32)
	for _, e := range o.Values {
		if (word == "default" && e.Flags&ValDefault != 0) || word == e.Name {
			return e, true
		}
	}
	return OptValue{}, false
}
