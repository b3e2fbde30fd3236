package fastpath

import (
	"errors"
	"fmt"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// Reap removes every clsact filter named FilterName from the interfaces of
// the network namespace at nsPath ("" for the caller's): what a daemon that
// died left attached on kernels without tcx (tcx links die with their
// file descriptors). The reaper runs it after the daemon's death; it is
// harmless when there is nothing to remove.
func Reap(nsPath string) error {
	var h *netlink.Handle
	var err error
	if nsPath == "" {
		h, err = netlink.NewHandle()
	} else {
		var ns netns.NsHandle
		if ns, err = netns.GetFromPath(nsPath); err != nil {
			return fmt.Errorf("fastpath: reap: %w", err)
		}
		defer ns.Close()
		h, err = netlink.NewHandleAt(ns)
	}
	if err != nil {
		return fmt.Errorf("fastpath: reap: %w", err)
	}
	defer h.Close()
	links, err := h.LinkList()
	if err != nil {
		return fmt.Errorf("fastpath: reap: %w", err)
	}
	var errs []error
	for _, l := range links {
		for _, parent := range []uint32{netlink.HANDLE_MIN_INGRESS, netlink.HANDLE_MIN_EGRESS} {
			fs, err := h.FilterList(l, parent)
			if err != nil {
				continue // no clsact qdisc
			}
			for _, f := range fs {
				if bf, ok := f.(*netlink.BpfFilter); ok && bf.Name == FilterName {
					if err := h.FilterDel(f); err != nil {
						errs = append(errs, fmt.Errorf("%s: %w", l.Attrs().Name, err))
					}
				}
			}
		}
	}
	return errors.Join(errs...)
}
