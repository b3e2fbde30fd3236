package bond

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"syscall"

	"bondingfs/internal/ktext"
)

// ErrClosed is returned by Registry calls after Close.
var ErrClosed = errors.New("bond: registry closed")

// ifNameSize is IFNAMSIZ: interface names have at most ifNameSize-1 bytes.
const ifNameSize = ktext.IFNAMSIZ

// WriteMasters handles a write to /sys/class/net/bonding_masters
// (bond_sysfs.c bonding_store_bonds): "+name" creates a bond, "-name" deletes
// one. Only the first word counts, cut to 16 bytes. Errors (syscall.Errno,
// each with the kernel's log line): EPERM for a malformed command or invalid
// name, EEXIST when the name is taken, ENODEV when deleting something that is
// not a bond, EINVAL when a "%d" name cannot be expanded; EIO or ENOSPC,
// before anything changes, when the crash journal cannot take the change
// (JournalReserver).
func (r *Registry) WriteMasters(ctx context.Context, data string) error {
	done, err := r.reserveJournal()
	if err != nil {
		return err
	}
	return endJournal(done, r.Do(ctx, func() error {
		cmd := ktext.FirstWord(data, ifNameSize)
		if len(cmd) <= 1 || (cmd[0] != '+' && cmd[0] != '-') || !ktext.ValidIfName(cmd[1:]) {
			r.logf("bonding: no command found in bonding_masters - use +ifname or -ifname")
			return syscall.EPERM
		}
		name := cmd[1:]
		if cmd[0] == '+' {
			r.logf("bonding: %s is being created...", name)
			err := r.createBond(name)
			if err != nil {
				if errors.Is(err, syscall.EEXIST) {
					r.logf("bonding: %s already exists", name)
				} else {
					r.logf("bonding: %s creation failed", name)
				}
			}
			return err
		}
		b := r.Bond(name)
		if b == nil {
			r.logf("bonding: unable to delete non-existent %s", name)
			return syscall.ENODEV
		}
		r.logf("bonding: %s is being deleted...", name)
		r.deleteBond(b)
		return nil
	}))
}

// CreateBond creates a bond without the sysfs log lines, as module load does
// for max_bonds (bonding_init).
func (r *Registry) CreateBond(ctx context.Context, name string) error {
	return r.Do(ctx, func() error { return r.createBond(name) })
}

// nameTaken reports whether an interface called name exists in the namespace.
func (r *Registry) nameTaken(name string) bool {
	if r.Bond(name) != nil {
		return true
	}
	_, err := r.cfg.Host.LinkByName(name)
	return err == nil
}

// expandName resolves a "%d" pattern to the first free name
// (net/core/dev.c dev_alloc_name): EINVAL unless the only '%' is one "%d".
func (r *Registry) expandName(name string) (string, error) {
	i := strings.IndexByte(name, '%')
	if i < 0 {
		return name, nil
	}
	if i+1 >= len(name) || name[i+1] != 'd' || strings.IndexByte(name[i+2:], '%') >= 0 {
		return "", syscall.EINVAL
	}
	for n := 0; n < 32768; n++ {
		cand := name[:i] + fmt.Sprint(n) + name[i+2:]
		if len(cand) >= ifNameSize {
			return "", syscall.EINVAL
		}
		if !r.nameTaken(cand) {
			return cand, nil
		}
	}
	return "", syscall.ENFILE
}

// createBond makes a new bond device (bond_create): a TAP with a random MAC,
// carrier off, the registry's default parameters.
func (r *Registry) createBond(name string) error {
	name, err := r.expandName(name)
	if err != nil {
		return err
	}
	if r.nameTaken(name) {
		return syscall.EEXIST
	}
	if !r.modeConfigured(r.cfg.Defaults.Mode) {
		return syscall.EINVAL // Config.Modes lacks the default mode
	}
	m, li, err := r.cfg.Host.CreateMaster(name)
	if err != nil {
		return errnoOr(err, syscall.ENOMEM)
	}
	b := r.newBond(name, li.Index, m, li.HWAddr, li.MTU)
	r.bonds = append(r.bonds, b)
	if li.Up {
		b.open()
	}
	b.startTAPReader()
	b.changed()
	r.journal(Change{Kind: ChangeCreate, Bond: b.name})
	if b.up {
		r.journal(Change{Kind: ChangeUp, Bond: b.name, Up: true})
	}
	return nil
}

// newBond makes the Bond of a new master device with the registry's
// default parameters, its mode instance and its works, not yet in r.bonds.
func (r *Registry) newBond(name string, index int, m Master, hwaddr net.HardwareAddr, mtu int) *Bond {
	b := &Bond{
		reg:    r,
		name:   name,
		index:  index,
		params: r.cfg.Defaults.Clone(),
		master: m,
		hwaddr: append(net.HardwareAddr(nil), hwaddr...),
		mtu:    mtu,
	}
	if b.mtu == 0 {
		b.mtu = 1500
	}
	b.miiWork = b.newEngineWork(b.miiTick)
	b.tickWork = b.newEngineWork(b.modeTick)
	b.modeID = b.params.Mode
	b.mode = r.newMode(b.modeID, b)
	b.rebuildTx()
	return b
}

// deleteBond releases every slave and removes the device (bond_uninit).
func (r *Registry) deleteBond(b *Bond) {
	r.removeBond(b, true)
}

// removeBond tears b down; deleteDev is false when the device is already
// gone (ip link del).
func (r *Registry) removeBond(b *Bond, deleteDev bool) {
	if b.up {
		b.close()
	}
	b.unregistering = true
	for len(b.slaves) > 0 {
		b.release(b.slaves[0], true)
	}
	b.Logf("Released all slaves")
	// a bond enslaved to another bond leaves it too
	for _, o := range r.bonds {
		if s := o.slaveByIndex(b.index); s != nil && o != b {
			o.release(s, false)
		}
	}
	b.cancelAll()
	b.fpClose()
	b.deleted = true
	if deleteDev {
		_ = r.cfg.Host.DeleteMaster(b.master, b.index)
	} else {
		_ = b.master.Close()
	}
	b.waitReaders()
	// slices.Delete clears the vacated tail slot: a plain append would
	// leave the last bond's pointer in the backing array, keeping a deleted
	// bond (its slaves, mode and buffers) reachable; an emptied list starts
	// afresh (issue 19: memory returns once the bonds are deleted)
	if i := slices.Index(r.bonds, b); i >= 0 {
		r.bonds = slices.Delete(r.bonds, i, i+1)
	}
	if len(r.bonds) == 0 {
		r.bonds = nil
	}
	r.dirty = true
	r.journal(Change{Kind: ChangeDelete, Bond: b.name})
}
