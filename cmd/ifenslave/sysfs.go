package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// Interface flags (include/uapi/linux/if.h).
const (
	iffUp     = 0x1
	arphrdEth = 1 // ARPHRD_ETHER, /sys/class/net/<dev>/type
)

// sysfs is the part of /sys/class/net ifenslave uses. Paths are relative to
// the class directory ("bond0/bonding/slaves").
type sysfs interface {
	// read returns a file's content without its trailing newline.
	read(path string) (string, error)
	// write writes one value, as `echo value > path` does.
	write(path, value string) error
	// isDir reports whether path is a directory (following symlinks).
	isDir(path string) bool
	// devices lists the entries of the class directory that are devices.
	devices() ([]string, error)
}

// dirSysfs is sysfs rooted at a directory: /sys/class/net or a test tree.
type dirSysfs string

func (d dirSysfs) read(path string) (string, error) {
	b, err := os.ReadFile(filepath.Join(string(d), path))
	if err != nil {
		return "", errnoOf(err)
	}
	return strings.TrimRight(string(b), "\n"), nil
}

func (d dirSysfs) write(path, value string) error {
	f, err := os.OpenFile(filepath.Join(string(d), path), os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return errnoOf(err)
	}
	_, err = f.Write([]byte(value + "\n"))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return errnoOf(err)
	}
	return nil
}

func (d dirSysfs) isDir(path string) bool {
	st, err := os.Stat(filepath.Join(string(d), path))
	return err == nil && st.IsDir()
}

func (d dirSysfs) devices() ([]string, error) {
	ents, err := os.ReadDir(string(d))
	if err != nil {
		return nil, errnoOf(err)
	}
	var out []string
	for _, e := range ents {
		if d.isDir(e.Name()) {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}

// validDevName is dev_valid_name: 1 to IFNAMSIZ-1 (15) bytes, not "." or
// "..", no '/', ':' or white space. No interface has any other name.
func validDevName(name string) bool {
	if name == "" || len(name) >= 16 || name == "." || name == ".." {
		return false
	}
	return !strings.ContainsAny(name, "/: \t\n\v\f\r")
}

// namedSysfs is a sysfs on which the devices named by the command line that
// no interface can have (validDevName fails) do not exist: every access to
// one answers ENODEV, as the kernel answers ifenslave.c's ioctls for them,
// and touches no file (a name with '/' would otherwise be a path out of the
// class directory). The first component of every path must be a valid name
// too.
type namedSysfs struct {
	sysfs
	bad []string // the command line's invalid names
}

// newNamedSysfs wraps s for the operands names.
func newNamedSysfs(s sysfs, names []string) namedSysfs {
	n := namedSysfs{sysfs: s}
	for _, name := range names {
		if !validDevName(name) {
			n.bad = append(n.bad, name)
		}
	}
	return n
}

// ok reports whether path is under a device that may exist.
func (n namedSysfs) ok(path string) bool {
	for _, b := range n.bad {
		if path == b || strings.HasPrefix(path, b+"/") {
			return false
		}
	}
	dev, _, _ := strings.Cut(path, "/")
	return validDevName(dev)
}

func (n namedSysfs) read(path string) (string, error) {
	if !n.ok(path) {
		return "", syscall.ENODEV
	}
	return n.sysfs.read(path)
}

func (n namedSysfs) write(path, value string) error {
	if !n.ok(path) {
		return syscall.ENODEV
	}
	return n.sysfs.write(path, value)
}

func (n namedSysfs) isDir(path string) bool { return n.ok(path) && n.sysfs.isDir(path) }

// errnoOf unwraps a file error to its errno, so messages read as strerror().
func errnoOf(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// strerror is the C library's text for an error ("No such device").
func strerror(err error) string {
	var en syscall.Errno
	if errors.As(err, &en) {
		s := en.Error()
		if s != "" {
			return strings.ToUpper(s[:1]) + s[1:]
		}
	}
	return err.Error()
}

// devInfo is what ifenslave.c reads with SIOCGIFMTU, SIOCGIFFLAGS and
// SIOCGIFHWADDR, read from the mtu, flags, type and address attributes.
type devInfo struct {
	mtu    int
	flags  uint64
	family int
	hwaddr string
}

// readFlags reads <dev>/flags (hex, "0x1003"). A missing device is ENODEV,
// as SIOCGIFFLAGS reports it.
func readFlags(s sysfs, dev string) (uint64, error) {
	if !s.isDir(dev) {
		return 0, syscall.ENODEV
	}
	v, err := s.read(dev + "/flags")
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(strings.TrimPrefix(v, "0x"), 16, 32)
}

// readInfo reads mtu, flags, type and address of dev in the order
// get_if_settings issues its ioctls.
func readInfo(s sysfs, dev string) (devInfo, error) {
	var d devInfo
	if !s.isDir(dev) {
		return d, syscall.ENODEV
	}
	v, err := s.read(dev + "/mtu")
	if err != nil {
		return d, err
	}
	if d.mtu, err = strconv.Atoi(v); err != nil {
		return d, syscall.EINVAL
	}
	if d.flags, err = readFlags(s, dev); err != nil {
		return d, err
	}
	if v, err = s.read(dev + "/type"); err != nil {
		return d, err
	}
	if d.family, err = strconv.Atoi(v); err != nil {
		return d, syscall.EINVAL
	}
	if d.hwaddr, err = s.read(dev + "/address"); err != nil {
		return d, err
	}
	return d, nil
}

// hwaddrSet reports whether a colon-separated address has a non-zero byte
// among its first six, as ifenslave.c's hwaddr_set test.
func hwaddrSet(a string) bool {
	for i, p := range strings.Split(a, ":") {
		if i >= 6 {
			break
		}
		if v, err := strconv.ParseUint(p, 16, 8); err == nil && v != 0 {
			return true
		}
	}
	return false
}
