package bond

import "errors"

// ErrClosed is returned by Registry calls after Close.
var ErrClosed = errors.New("bond: registry closed")

// Enslave adds the interface named name as a slave (bond_enslave). It logs
// the kernel's lines and returns a syscall.Errno on failure.
func (b *Bond) Enslave(name string) error { return errors.New("TODO") }

// Release removes the slave named name (bond_release); EINVAL if it is not
// a slave of b.
func (b *Bond) Release(name string) error { return errors.New("TODO") }

// SetActiveSlave makes the named slave curr_active_slave
// (bond_option_active_slave_set); "" clears it and reselects.
func (b *Bond) SetActiveSlave(name string) error { return errors.New("TODO") }

// SetPrimary records the primary option and reselects (bond_option_primary_set).
func (b *Bond) SetPrimary(name string) {}

// Reselect reruns the active slave selection (bond_select_active_slave).
func (b *Bond) Reselect() {}

// ParamsChanged applies a parameter change to the running bond: monitors,
// carrier (min_links), inactive flags (all_slaves_active), the TX table
// (mode, xmit_hash_policy, packets_per_slave).
func (b *Bond) ParamsChanged() { b.changed() }

func (b *Bond) status() *BondStatus { return &BondStatus{Name: b.name} }
