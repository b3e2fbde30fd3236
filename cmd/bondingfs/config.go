package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"

	"bondingfs/bond"
	"bondingfs/compat"
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

// applyConfigs loads legacy configuration files and applies them in the
// order initscripts would.
func applyConfigs(ctx context.Context, reg *bond.Registry, paths []string, stderr io.Writer) error {
	plan, err := compat.Load(paths...)
	if err != nil {
		return err
	}
	for _, e := range plan.Errors {
		fmt.Fprintf(stderr, "bondingfs: %v\n", e)
	}
	return plan.Apply(ctx, registryApplier{reg})
}
