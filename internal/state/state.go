// Package state is the daemon's crash journal: what must be rebuilt after an
// unclean exit (bonds in creation order, their options as written, slaves in
// enslave order, the active slave) and what each slave must get back on
// release (permanent MAC, MTU, up state, disable_ipv6, its nftables chain).
//
// The journal is one JSON file, written atomically (write to a temporary
// file, fsync, rename over the old one, fsync the directory), so a crash at
// any moment leaves either the old or the new state, never a torn one. The
// kernel has nothing like it: a kernel driver cannot crash and come back.
package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"bondingfs/internal/ktext"
)

// FileName is the journal's name inside its directory.
const FileName = "state.json"

// Version is the journal format's version; a journal of another version is
// ignored (and reported) rather than misread.
const Version = 1

// State is the journal's content.
type State struct {
	Version int `json:"version"`
	// Clean is true after a clean stop (SIGTERM, modprobe -r): the bonds
	// were deleted as rmmod deletes them and nothing is to be restored.
	Clean bool `json:"clean"`
	// Loaded is true while bonding is "loaded" (bonding_masters exists);
	// ModuleOptions are the module options it was loaded with.
	Loaded        bool     `json:"loaded"`
	ModuleOptions []string `json:"module_options,omitempty"`
	// Bonds are in creation order (the order of bonding_masters).
	Bonds []Bond `json:"bonds"`
	// Netns identifies the instance of the engine's network namespace the
	// slaves' ifindexes belong to (nil in journals written before it
	// existed): a namespace deleted and created again under the same name
	// numbers its interfaces afresh, so an ifindex means nothing there.
	Netns *Netns `json:"netns,omitempty"`
	// Pid is the daemon that owns the journal (0 when unknown). Its reaper
	// restores the slaves only of a journal it still owns: a new daemon
	// that took the journal over first owns the slaves now.
	Pid int `json:"pid,omitempty"`
}

// Netns identifies one instance of a network namespace.
type Netns struct {
	// Inode is the namespace's nsfs inode number (stat of
	// /proc/PID/ns/net). The kernel reuses it for a namespace created after
	// this one is gone, so it identifies an instance only together with
	// Cookie, when Cookie is known.
	Inode uint64 `json:"inode"`
	// Cookie is the namespace's cookie (SO_NETNS_COOKIE, Linux 5.14): a
	// 64-bit number never reused while the machine runs; 0 when unknown.
	Cookie uint64 `json:"cookie,omitempty"`
}

// Same reports whether n and o are the same namespace instance: equal
// cookies when both are known, else equal inodes. A nil one is never the
// same.
func (n *Netns) Same(o *Netns) bool {
	if n == nil || o == nil || n.Inode == 0 || n.Inode != o.Inode {
		return false
	}
	if n.Cookie != 0 && o.Cookie != 0 {
		return n.Cookie == o.Cookie
	}
	return true
}

// Bond is one bond to rebuild.
type Bond struct {
	Name string `json:"name"`
	// MAC is the bond's MAC address ("" while it never had one of its own).
	MAC string `json:"mac,omitempty"`
	// Up is the bond device's IFF_UP.
	Up bool `json:"up"`
	// Options are the accepted writes to bonding/<option>, compacted to the
	// last value of each option, in the order of those last writes. Slaves
	// and active_slave are kept apart (Slaves, ActiveSlave); arp_ip_target
	// holds the resulting list (Option.Value is the file's text).
	Options []Option `json:"options,omitempty"`
	// Slaves are in enslave order.
	Slaves []Slave `json:"slaves,omitempty"`
	// ActiveSlave is curr_active_slave ("" when none).
	ActiveSlave string `json:"active_slave,omitempty"`
	// Addrs are the addresses configured on the bond device, as CIDR
	// strings ("192.0.2.1/24"; IPv6 link-local ones left out): the bond's
	// TAP device, and with it its addresses, vanishes with the daemon.
	Addrs []string `json:"addrs,omitempty"`
}

// Option is one option as last written.
type Option struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Slave is one enslaved interface and what it gets back on release.
type Slave struct {
	Name string `json:"name"`
	// IfIndex identifies the interface across renames.
	IfIndex int `json:"ifindex"`
	// PermMAC is the MAC the slave had before it was enslaved (what it gets
	// back on release); MTU and Up likewise.
	PermMAC string `json:"perm_mac"`
	MTU     int    `json:"mtu"`
	Up      bool   `json:"up"`
	// DisableIPv6 is the slave's net.ipv6.conf.<dev>.disable_ipv6 before
	// enslaving ("" when the sysctl did not exist).
	DisableIPv6 string `json:"disable_ipv6,omitempty"`
	// NftChain names the nftables netdev ingress chain isolating the slave.
	NftChain string `json:"nft_chain,omitempty"`
}

// Bond returns the bond named name, or nil.
func (s *State) Bond(name string) *Bond {
	for i := range s.Bonds {
		if s.Bonds[i].Name == name {
			return &s.Bonds[i]
		}
	}
	return nil
}

// AddBond appends a bond with no options or slaves (a no-op if it exists).
func (s *State) AddBond(name string) *Bond {
	if b := s.Bond(name); b != nil {
		return b
	}
	s.Bonds = append(s.Bonds, Bond{Name: name})
	return &s.Bonds[len(s.Bonds)-1]
}

// DelBond removes the bond named name.
func (s *State) DelBond(name string) {
	s.Bonds = slices.DeleteFunc(s.Bonds, func(b Bond) bool { return b.Name == name })
}

// SetOption records an accepted write of value to option name: an earlier
// value of the same option is dropped and the new one goes last.
func (b *Bond) SetOption(name, value string) {
	b.Options = slices.DeleteFunc(b.Options, func(o Option) bool { return o.Name == name })
	b.Options = append(b.Options, Option{Name: name, Value: value})
}

// Option returns the recorded value of option name.
func (b *Bond) Option(name string) (string, bool) {
	for _, o := range b.Options {
		if o.Name == name {
			return o.Value, true
		}
	}
	return "", false
}

// AddSlave records an enslaved interface at the end of the enslave order
// (replacing an earlier record of the same name).
func (b *Bond) AddSlave(sl Slave) {
	b.Slaves = slices.DeleteFunc(b.Slaves, func(s Slave) bool { return s.Name == sl.Name })
	b.Slaves = append(b.Slaves, sl)
}

// DelSlave forgets the slave named name.
func (b *Bond) DelSlave(name string) {
	b.Slaves = slices.DeleteFunc(b.Slaves, func(s Slave) bool { return s.Name == name })
	if b.ActiveSlave == name {
		b.ActiveSlave = ""
	}
}

// RenameSlave follows a slave renamed from old to new.
func (b *Bond) RenameSlave(old, new string) {
	for i := range b.Slaves {
		if b.Slaves[i].Name == old {
			b.Slaves[i].Name = new
		}
	}
	if b.ActiveSlave == old {
		b.ActiveSlave = new
	}
}

// Clone returns a deep copy of s.
func (s *State) Clone() State {
	c := *s
	c.ModuleOptions = slices.Clone(s.ModuleOptions)
	if s.Netns != nil {
		n := *s.Netns
		c.Netns = &n
	}
	c.Bonds = make([]Bond, len(s.Bonds))
	for i, b := range s.Bonds {
		b.Options = slices.Clone(b.Options)
		b.Slaves = slices.Clone(b.Slaves)
		b.Addrs = slices.Clone(b.Addrs)
		c.Bonds[i] = b
	}
	return c
}

// Journal is the journal file in one directory. Its methods are safe for
// concurrent use; Update and Flush serialise writers.
//
// Apply changes the state in memory only (cheap: it may be called where
// blocking is not allowed, such as the engine's control goroutine), Flush
// writes what Apply changed; writers that come together share one write.
// A writer that must not apply a change it cannot write takes a
// Reservation first (Reserve) and writes with it (FlushReserved).
type Journal struct {
	dir string

	wmu     sync.Mutex // serialises file writes
	mu      sync.Mutex // guards cur, gen and health
	cur     State
	gen     uint64 // bumped by every Apply
	written uint64 // the gen last written (under wmu)
	lastLen int64  // bytes of the last write (under wmu)
	health  Health
}

// Health is how the journal's writes went.
type Health struct {
	// OK is false from a failed write (or reservation) until the next
	// successful write.
	OK bool `json:"ok"`
	// Error is the last failure's text ("" while OK).
	Error string `json:"error,omitempty"`
	// Writes and Failures count the writes that reached the disk and those
	// (reservations included) that failed.
	Writes   uint64 `json:"writes"`
	Failures uint64 `json:"failures"`
	// LastWrite is when the last write reached the disk (zero before).
	LastWrite time.Time `json:"last_write,omitempty"`
}

// ErrVersion is returned by Open (wrapped) for a journal of another format
// version; the journal is then treated as empty.
var ErrVersion = errors.New("state: journal of another version")

// tmpPattern names the temporary files of a write (os.CreateTemp).
const tmpPattern = FileName + ".tmp*"

// Open opens (creating dir with mode 0700 if needed) the journal in dir and
// returns it with the state the previous daemon left. prev is nil when there
// is no journal, or the journal is unreadable (err says why; the caller logs
// it and starts empty: a damaged journal is never fatal). Temporary files a
// killed writer left are removed: the caller holds the journal's lock.
func Open(dir string) (j *Journal, prev *State, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("state: %w", err)
	}
	j = &Journal{dir: dir, cur: State{Version: Version}, health: Health{OK: true}}
	if old, _ := filepath.Glob(filepath.Join(dir, tmpPattern)); len(old) > 0 {
		for _, f := range old {
			_ = os.Remove(f)
		}
	}
	data, rerr := os.ReadFile(j.Path())
	switch {
	case errors.Is(rerr, fs.ErrNotExist):
		return j, nil, nil
	case rerr != nil:
		return j, nil, fmt.Errorf("state: %w", rerr)
	}
	j.lastLen = int64(len(data))
	var s State
	if uerr := json.Unmarshal(data, &s); uerr != nil {
		return j, nil, fmt.Errorf("state: %s: %w", j.Path(), uerr)
	}
	if s.Version != Version {
		return j, nil, fmt.Errorf("%w: %s has version %d, want %d", ErrVersion, j.Path(), s.Version, Version)
	}
	return j, &s, nil
}

// Path returns the journal file's path.
func (j *Journal) Path() string { return filepath.Join(j.dir, FileName) }

// Dir returns the journal's directory.
func (j *Journal) Dir() string { return j.dir }

// State returns a copy of the current state.
func (j *Journal) State() State {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.cur.Clone()
}

// Health returns how the writes went so far.
func (j *Journal) Health() Health {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.health
}

// Update applies fn to the current state and writes the result atomically
// before returning. If the write fails, the in-memory state keeps fn's
// change (the next successful write carries it) and the error is returned.
func (j *Journal) Update(fn func(s *State)) error {
	j.Apply(fn)
	return j.Flush()
}

// Apply applies fn to the in-memory state without writing it; fn must not
// block. The next Flush writes it.
func (j *Journal) Apply(fn func(s *State)) {
	j.mu.Lock()
	fn(&j.cur)
	j.gen++
	j.mu.Unlock()
}

// Flush writes the state atomically if Apply changed it since the last
// write, and returns once every change applied before the call is on disk.
func (j *Journal) Flush() error { return j.FlushReserved(nil) }

// ReserveMargin is what a Reservation holds beyond the last write's size:
// room for the changes of the writes under way (one write to a bonding
// file is at most a page).
const ReserveMargin = 64 << 10

// Reservation is the room for one write of the journal, taken before a
// change is applied: a temporary file in the journal's directory with the
// disk space the write needs (fallocate). Writing the change afterwards
// then fails neither for want of space nor because the file system was
// made read-only meanwhile (a file open for writing keeps a remount
// read-only from succeeding: EBUSY).
type Reservation struct {
	f    *os.File
	size int64
}

// Reserve takes a Reservation, or fails as the write would (ENOSPC, EDQUOT,
// EROFS, EIO, wrapped), recording the failure in Health. A Reservation is
// given back by FlushReserved or Release.
func (j *Journal) Reserve() (*Reservation, error) {
	j.wmu.Lock()
	size := j.lastLen + ReserveMargin
	j.wmu.Unlock()
	f, err := os.CreateTemp(j.dir, tmpPattern)
	if err == nil {
		err = allocate(f, size)
		if err != nil {
			f.Close()
			_ = os.Remove(f.Name())
		}
	}
	if err != nil {
		err = fmt.Errorf("state: %w", err)
		j.failed(err)
		return nil, err
	}
	return &Reservation{f: f, size: size}, nil
}

// allocate gives f size bytes of disk (fallocate; written zeros where the
// file system has no fallocate).
func allocate(f *os.File, size int64) error {
	err := syscall.Fallocate(int(f.Fd()), 0, 0, size)
	if !errors.Is(err, syscall.EOPNOTSUPP) {
		return err
	}
	zero := make([]byte, 64<<10)
	for off := int64(0); off < size; off += int64(len(zero)) {
		n := min(int64(len(zero)), size-off)
		if _, err := f.WriteAt(zero[:n], off); err != nil {
			return err
		}
	}
	return nil
}

// Release gives the reservation's room back unused (nil: nothing).
func (r *Reservation) Release() {
	if r == nil || r.f == nil {
		return
	}
	r.f.Close()
	_ = os.Remove(r.f.Name())
	r.f = nil
}

// FlushReserved is Flush writing into res's room (res may be nil: a file
// of its own). res is given back in any case.
func (j *Journal) FlushReserved(res *Reservation) error {
	defer res.Release()
	j.wmu.Lock()
	defer j.wmu.Unlock()
	j.mu.Lock()
	if j.gen == j.written && j.written != 0 {
		j.mu.Unlock()
		return nil
	}
	g := j.gen
	s := j.cur.Clone()
	j.mu.Unlock()
	s.Version = Version
	n, err := j.write(&s, res)
	if err != nil {
		j.failed(err)
		return err
	}
	j.written = g
	j.lastLen = n
	j.mu.Lock()
	j.health.OK, j.health.Error = true, ""
	j.health.Writes++
	j.health.LastWrite = time.Now()
	j.mu.Unlock()
	return nil
}

// failed records a failed write in Health.
func (j *Journal) failed(err error) {
	j.mu.Lock()
	j.health.OK, j.health.Error = false, err.Error()
	j.health.Failures++
	j.mu.Unlock()
}

// write stores s atomically: temporary file (res's when it has room),
// fsync, rename, fsync of the directory. It returns the bytes written.
func (j *Journal) write(s *State, res *Reservation) (int64, error) {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return 0, fmt.Errorf("state: %w", err)
	}
	data = append(data, '\n')
	var tmp *os.File
	if res != nil && res.f != nil && int64(len(data)) <= res.size {
		tmp, res.f = res.f, nil
	} else if tmp, err = os.CreateTemp(j.dir, tmpPattern); err != nil {
		return 0, fmt.Errorf("state: %w", err)
	}
	name := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			_ = os.Remove(name)
		}
	}()
	if _, err := tmp.WriteAt(data, 0); err != nil {
		tmp.Close()
		return 0, fmt.Errorf("state: %w", err)
	}
	if err := tmp.Truncate(int64(len(data))); err != nil {
		tmp.Close()
		return 0, fmt.Errorf("state: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return 0, fmt.Errorf("state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return 0, fmt.Errorf("state: %w", err)
	}
	if err := os.Rename(name, j.Path()); err != nil {
		return 0, fmt.Errorf("state: %w", err)
	}
	ok = true
	if d, err := os.Open(j.dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return int64(len(data)), nil
}

// ValidName reports whether name may name a bond or a slave in a journal:
// dev_valid_name's rule (1 to IFNAMSIZ-1 bytes, not "." or "..", no '/',
// ':' or white space) and never "lo", which no bond ever has as a slave.
func ValidName(name string) bool {
	return ktext.ValidIfName(name) && name != "lo"
}

// Quote returns name quoted for a log line, cut to 32 bytes: a journal is
// not trusted, and a name of any length must not flood the log.
func Quote(name string) string {
	const max = 32
	if len(name) > max {
		return strconv.Quote(name[:max]) + "..."
	}
	return strconv.Quote(name)
}

// Sanitize drops what a journal must never make the daemon do: bonds and
// slaves whose names fail ValidName (and an active slave that does), and
// the second of two bonds with one name. It returns one line per thing
// dropped, for the log.
func (s *State) Sanitize() []string {
	var out []string
	seen := map[string]bool{}
	s.Bonds = slices.DeleteFunc(s.Bonds, func(b Bond) bool {
		if !ValidName(b.Name) {
			out = append(out, fmt.Sprintf("bond %s: invalid name, skipped", Quote(b.Name)))
			return true
		}
		if seen[b.Name] {
			out = append(out, fmt.Sprintf("bond %s: listed twice, the second skipped", Quote(b.Name)))
			return true
		}
		seen[b.Name] = true
		return false
	})
	for i := range s.Bonds {
		b := &s.Bonds[i]
		b.Slaves = slices.DeleteFunc(b.Slaves, func(sl Slave) bool {
			if !ValidName(sl.Name) {
				out = append(out, fmt.Sprintf("%s: slave %s: invalid name, skipped", b.Name, Quote(sl.Name)))
				return true
			}
			return false
		})
		if b.ActiveSlave != "" && !ValidName(b.ActiveSlave) {
			out = append(out, fmt.Sprintf("%s: active slave %s: invalid name, skipped", b.Name, Quote(b.ActiveSlave)))
			b.ActiveSlave = ""
		}
	}
	return out
}
