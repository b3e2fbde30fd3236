package daemon

import (
	"context"
	"errors"
	"syscall"

	"bondingfs/bond"
)

// registryApplier writes a configuration plan through the same paths as
// sysfs writes (bonding_masters and bonding/<option>).
type registryApplier struct{ reg *bond.Registry }

func (a registryApplier) CreateBond(ctx context.Context, name string) error {
	err := a.reg.WriteMasters(ctx, "+"+name)
	if errors.Is(err, syscall.EEXIST) {
		return nil
	}
	return err
}

func (a registryApplier) WriteOption(ctx context.Context, bondName, option, value string) error {
	return a.reg.WriteOption(ctx, bondName, option, value+"\n", bond.Caller{NetAdmin: true})
}
