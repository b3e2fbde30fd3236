package bond

import (
	"errors"
	"syscall"
)

// OptFlags are an option's bond_opt flags (BOND_OPTFLAG_*).
type OptFlags uint

const (
	// OptNoSlaves: the option can be set only while the bond has no slaves
	// (else ENOTEMPTY).
	OptNoSlaves OptFlags = 1 << iota
	// OptIfDown: the option can be set only while the bond is down (else EBUSY).
	OptIfDown
	// OptRawVal: the setter receives the raw written string.
	OptRawVal
	// OptReadOnly: a 0444 file; opening it for writing fails with EACCES.
	OptReadOnly
)

// Value flags (BOND_VALFLAG_*).
const (
	ValDefault = 1 << iota
	ValMin
	ValMax
)

// OptValue is one named value of an option's value table (struct
// bond_opt_value): e.g. {"active-backup", 1, 0} or {"maxval", INT_MAX, ValMax}.
type OptValue struct {
	Name  string
	Value uint64
	Flags int
}

// Caller is who reads or writes a file: the FUSE request's credentials.
type Caller struct {
	// NetAdmin is true when the caller has CAP_NET_ADMIN (root).
	NetAdmin bool
}

// Option is one entry of the option table (bond_options.c bond_opts[]): the
// sysfs file bonding/<Name>, the module parameter and the BONDING_OPTS key.
type Option struct {
	Name string
	// Desc is the module parameter description (modinfo bonding).
	Desc  string
	Flags OptFlags
	// UnsuppModes is a bit set of modes (1<<Mode) in which setting the option
	// fails with EACCES.
	UnsuppModes uint32
	Values      []OptValue
	// Show renders the file's exact text ("" is an empty file) from a
	// snapshot (bond_sysfs.c bonding_show_*).
	Show func(s *BondStatus, c Caller) string
	// set applies a parsed (or, with OptRawVal, raw) value on the control
	// goroutine and returns a syscall.Errno on failure.
	set func(b *Bond, v *OptValue, raw string) error
}

// ErrnoOf returns the errno an error carries (EINVAL when it carries none,
// 0 for nil). It looks through wrapping (fmt.Errorf %w) and every branch of
// errors.Join, taking the first syscall.Errno errors.As finds.
func ErrnoOf(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	return errnoOr(err, syscall.EINVAL)
}

// errnoOr returns the errno in err as ErrnoOf finds it, or def when it
// carries none (nil included).
func errnoOr(err error, def syscall.Errno) syscall.Errno {
	var e syscall.Errno
	if errors.As(err, &e) {
		return e
	}
	return def
}
