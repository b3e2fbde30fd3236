package bond

import "context"

// SetDefaults replaces the parameters every bond created from now on
// starts with, as loading bonding.ko with new module options does
// (bond_check_params fills bonding_defaults). Bonds that exist keep their
// parameters. It runs on the control goroutine.
func (r *Registry) SetDefaults(ctx context.Context, p Params) error {
	p = p.Clone()
	return r.Do(ctx, func() error {
		r.cfg.Defaults = p
		return nil
	})
}

// DeleteAllBonds deletes every bond as unloading bonding.ko does
// (bonding_exit → bond_netlink_fini/unregister_netdevice for each bond):
// every slave is released ("<bond> (unregistering): Released all slaves")
// and the bond's device is deleted.
func (r *Registry) DeleteAllBonds(ctx context.Context) error {
	return r.Do(ctx, func() error {
		for len(r.bonds) > 0 {
			r.deleteBond(r.bonds[0])
		}
		return nil
	})
}
