package daemon

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"

	"bondingfs/bond"
	"bondingfs/bond/modparams"
)

// moduleState is whether the emulated bonding.ko is loaded. A daemon started
// with --unloaded serves the real paths as a kernel without the module does
// (no bonding_masters, no /proc/net/bonding) until `bondingfs modprobe`
// loads it through the control socket.
type moduleState struct {
	reg    moduleRegistry
	log    func(string)
	mu     sync.Mutex // serialises load and unload
	loaded atomic.Bool
	rec    *recorder // the crash journal, or nil
	// changed runs (under mu) after loaded changed: the mount drops its
	// cached proc/net/bonding entry (fusefs.Server.LoadedChanged).
	changed func()
}

// setLoaded stores the loaded state and reports a change (mu held).
func (m *moduleState) setLoaded(v bool) {
	if m.loaded.Swap(v) != v && m.changed != nil {
		m.changed()
	}
}

// onChange sets the function run after each change of the loaded state.
func (m *moduleState) onChange(fn func()) {
	m.mu.Lock()
	m.changed = fn
	m.mu.Unlock()
}

// moduleRegistry is what loading and unloading needs of *bond.Registry.
type moduleRegistry interface {
	SetDefaults(ctx context.Context, p bond.Params) error
	CreateBond(ctx context.Context, name string) error
	DeleteAllBonds(ctx context.Context) error
}

// Loaded implements fusefs.Loader.
func (m *moduleState) Loaded() bool { return m.loaded.Load() }

// loadResult is the outcome of a load request.
type loadResult int

const (
	loadDone    loadResult = iota // the module was loaded with the options
	loadAlready                   // it was loaded before: a no-op, as for a live module
)

// load loads the module with modprobe-style options as bonding_init does:
// bond_check_params (ParseModuleOptions, with the kernel's log lines), the
// defaults for every later bond, then bond0 … bond<max_bonds-1>. Invalid
// options are EINVAL (the kernel refuses to load) and change nothing.
func (m *moduleState) load(ctx context.Context, args []string) (loadResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.loaded.Load() {
		return loadAlready, nil
	}
	mc, err := modparams.Parse(args, m.log)
	if err != nil {
		return 0, syscall.EINVAL
	}
	err = m.journaled(func() error {
		if err := m.reg.SetDefaults(ctx, mc.Params); err != nil {
			return err
		}
		m.setLoaded(true)
		for i := 0; i < mc.MaxBonds; i++ {
			if err := m.reg.CreateBond(ctx, fmt.Sprintf("bond%d", i)); err != nil {
				m.log(fmt.Sprintf("bonding: Error: couldn't create bond%d: %v", i, err))
			}
		}
		if m.rec != nil {
			m.rec.setModule(true, args)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return loadDone, nil
}

// journaled runs fn once room for its journal write is reserved, and
// returns once its changes are on disk (recorder.reserveFor); without a
// journal it just runs fn. A journal that cannot be written fails the
// request (EIO, ENOSPC) before fn changes anything.
func (m *moduleState) journaled(fn func() error) error {
	if m.rec == nil {
		return fn()
	}
	return m.rec.reserveFor(fn)
}

// reload loads the module again with the options a daemon that died had
// loaded it with, without creating bonds (the journal restores those).
func (m *moduleState) reload(ctx context.Context, args []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	mc, err := modparams.Parse(args, func(string) {})
	if err != nil {
		return syscall.EINVAL
	}
	if err := m.reg.SetDefaults(ctx, mc.Params); err != nil {
		return err
	}
	m.setLoaded(true)
	return nil
}

// unload deletes every bond as rmmod does and leaves the module unloaded.
// Unloading a module that is not loaded is ENOENT.
func (m *moduleState) unload(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.loaded.Load() {
		return syscall.ENOENT
	}
	return m.journaled(func() error {
		m.setLoaded(false)
		err := m.reg.DeleteAllBonds(ctx)
		if m.rec != nil {
			m.rec.setModule(false, nil)
		}
		return err
	})
}
