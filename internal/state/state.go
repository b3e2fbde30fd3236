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
	"sync"
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
type Journal struct {
	dir string

	wmu     sync.Mutex // serialises file writes
	mu      sync.Mutex // guards cur and gen
	cur     State
	gen     uint64 // bumped by every Apply
	written uint64 // the gen last written (under wmu)
}

// ErrVersion is returned by Open (wrapped) for a journal of another format
// version; the journal is then treated as empty.
var ErrVersion = errors.New("state: journal of another version")

// Open opens (creating dir with mode 0700 if needed) the journal in dir and
// returns it with the state the previous daemon left. prev is nil when there
// is no journal, or the journal is unreadable (err says why; the caller logs
// it and starts empty: a damaged journal is never fatal).
func Open(dir string) (j *Journal, prev *State, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("state: %w", err)
	}
	j = &Journal{dir: dir, cur: State{Version: Version}}
	data, rerr := os.ReadFile(j.Path())
	switch {
	case errors.Is(rerr, fs.ErrNotExist):
		return j, nil, nil
	case rerr != nil:
		return j, nil, fmt.Errorf("state: %w", rerr)
	}
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

// State returns a copy of the current state.
func (j *Journal) State() State {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.cur.Clone()
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
func (j *Journal) Flush() error {
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
	if err := j.write(&s); err != nil {
		return err
	}
	j.written = g
	return nil
}

// write stores s atomically: temporary file, fsync, rename, fsync of the
// directory.
func (j *Journal) write(s *State) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	tmp, err := os.CreateTemp(j.dir, FileName+".tmp*")
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	name := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			_ = os.Remove(name)
		}
	}()
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("state: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	if err := os.Rename(name, j.Path()); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	ok = true
	if d, err := os.Open(j.dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
