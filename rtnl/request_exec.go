package rtnl

import (
	"context"
	"errors"
	"syscall"

	"golang.org/x/sys/unix"

	"bondingfs/bond"
)

// Engine is the bonding engine as the request path uses it: a
// *bond.Registry.
type Engine interface {
	Snapshot() *bond.Snapshot
	NewLink(ctx context.Context, name string, opts []bond.LinkOption) (string, error)
	ChangeLink(ctx context.Context, bond string, opts []bond.LinkOption) error
	SetMaster(ctx context.Context, port, bond string) error
	DelLink(ctx context.Context, bond string) error
}

// Kernel is the caller's network namespace as the supervisor reaches it
// through a socket of its own there.
type Kernel interface {
	Links
	// IndexOf returns the ifindex of the interface named name.
	IndexOf(name string) (int32, bool)
	// Do sends one request (NLM_F_ACK set) and returns nil on its ACK, or
	// the kernel's error as a *bond.LinkError (errno and extack message).
	Do(msg []byte) error
}

// Classify reports whether the netlink message msg (header included) is a
// request the supervisor answers itself: RTM_NEWLINK, RTM_SETLINK or
// RTM_DELLINK that creates, changes or deletes a bond, enslaves or releases
// one of its ports, or sets a port's bond_slave options. Everything else,
// malformed messages included, is the kernel's.
func Classify(msg []byte, snap *bond.Snapshot) bool {
	if len(msg) < unix.SizeofNlMsghdr {
		return false
	}
	switch t := nativeUint16(msg[4:6]); t {
	case unix.RTM_NEWLINK, unix.RTM_SETLINK, unix.RTM_DELLINK:
	default:
		return false
	}
	r, err := DecodeLink(msg)
	if err != nil {
		return false
	}
	tb, tp := r.target(snap)
	switch r.Header.Type {
	case unix.RTM_DELLINK:
		return tb != nil
	case unix.RTM_NEWLINK:
		if r.Kind == "bond" || r.SlaveKind == "bond" || tb != nil {
			return true
		}
		if r.HasSlaveData && tp != nil {
			return true
		}
	}
	if r.HasMaster && (tp != nil || bondByIndex(snap, r.Master) != nil) {
		return true
	}
	return false
}

func nativeUint16(b []byte) uint16 { return uint16(b[0]) | uint16(b[1])<<8 }

// target returns the bond, or the port (with its bond), the request names
// by ifindex, or by IFLA_IFNAME when the index is 0.
func (r *LinkRequest) target(snap *bond.Snapshot) (*bond.BondStatus, *bond.BondStatus) {
	if snap == nil {
		return nil, nil
	}
	for _, b := range snap.Bonds {
		if (r.Info.Index != 0 && int32(b.Index) == r.Info.Index) || (r.Info.Index == 0 && r.Name != "" && b.Name == r.Name) {
			return b, nil
		}
	}
	for _, b := range snap.Bonds {
		for _, s := range b.Slaves {
			if (r.Info.Index != 0 && int32(s.Index) == r.Info.Index) || (r.Info.Index == 0 && r.Name != "" && s.Name == r.Name) {
				return nil, b
			}
		}
	}
	return nil, nil
}

// portOf reports whether the interface name is a port of a bond in snap.
func portOf(snap *bond.Snapshot, name string) bool {
	if snap == nil {
		return false
	}
	b, _ := snap.Slave(name)
	return b != nil
}

func bondByIndex(snap *bond.Snapshot, index int32) *bond.BondStatus {
	if snap == nil || index == 0 {
		return nil
	}
	for _, b := range snap.Bonds {
		if int32(b.Index) == index {
			return b
		}
	}
	return nil
}

// Execute carries out a request Classify gave the supervisor, as
// rtnl_newlink, rtnl_setlink and rtnl_dellink would on a kernel with
// bonding.ko: bond data first (bond_changelink), then slave data, then what
// do_setlink does for the device (the kernel's part, through k), then
// IFLA_MASTER. It returns nil, a *bond.LinkError, or another error (an
// engine failure, reported as EIO … by Errno).
func Execute(ctx context.Context, r *LinkRequest, eng Engine, k Kernel) error {
	snap := eng.Snapshot()
	tb, tp := r.target(snap)
	if r.Header.Type == unix.RTM_DELLINK {
		if tb == nil {
			return &bond.LinkError{Errno: syscall.ENODEV}
		}
		return eng.DelLink(ctx, tb.Name)
	}
	if tb == nil && tp == nil {
		// a new device, or an interface no bond knows
		if r.Info.Index != 0 || (r.Name != "" && exists(k, r.Name)) || r.Header.Type != unix.RTM_NEWLINK || r.Kind != "bond" {
			return r.port(ctx, eng, k, snap, nil)
		}
		if r.Header.Flags&unix.NLM_F_CREATE == 0 {
			return &bond.LinkError{Errno: syscall.ENODEV}
		}
		return r.create(ctx, eng, k)
	}
	if tb != nil {
		if r.Header.Type == unix.RTM_NEWLINK {
			if r.Header.Flags&unix.NLM_F_EXCL != 0 {
				return &bond.LinkError{Errno: syscall.EEXIST}
			}
			if r.Header.Flags&unix.NLM_F_REPLACE != 0 {
				return &bond.LinkError{Errno: syscall.EOPNOTSUPP}
			}
			if r.Kind != "" && r.Kind != "bond" && r.HasData {
				return &bond.LinkError{Errno: syscall.EOPNOTSUPP}
			}
			if r.HasData {
				opts, lerr := BondOptions(r.Data, k)
				if lerr != nil {
					return lerr
				}
				if err := eng.ChangeLink(ctx, tb.Name, opts); err != nil {
					return err
				}
			}
		}
		toBond := r.HasMaster && bondByIndex(snap, r.Master) != nil
		// IFLA_MASTER naming no bond (a bridge, or 0) is the kernel's: the
		// bond's TAP joins or leaves that master as a bond device would;
		// a bond that is a port of another bond leaves that one first
		keepMaster := r.HasMaster && !toBond
		if keepMaster && portOf(snap, tb.Name) {
			if err := eng.SetMaster(ctx, tb.Name, ""); err != nil {
				return err
			}
		}
		if rest := r.Rest(int32(tb.Index), r.Info.Index != 0, keepMaster); rest != nil {
			if err := k.Do(rest); err != nil {
				return err
			}
		}
		if toBond {
			return r.setMaster(ctx, eng, k, snap, tb.Name, nil)
		}
		return nil
	}
	return r.port(ctx, eng, k, snap, tp)
}

// port handles a request on an interface that is no bond: tp is its bond
// when it is a port.
func (r *LinkRequest) port(ctx context.Context, eng Engine, k Kernel, snap *bond.Snapshot, tp *bond.BondStatus) error {
	if r.Header.Type == unix.RTM_NEWLINK {
		if r.Header.Flags&unix.NLM_F_EXCL != 0 {
			return &bond.LinkError{Errno: syscall.EEXIST}
		}
		if r.Kind == "bond" && r.HasData {
			return &bond.LinkError{Errno: syscall.EOPNOTSUPP}
		}
	}
	index := r.Info.Index
	name := r.Name
	if index != 0 {
		n, ok := k.NameOf(index)
		if !ok {
			return &bond.LinkError{Errno: syscall.ENODEV}
		}
		name = n
	} else {
		i, ok := k.IndexOf(name)
		if !ok {
			return &bond.LinkError{Errno: syscall.ENODEV}
		}
		index = i
	}
	if r.Header.Type == unix.RTM_NEWLINK && r.HasSlaveData {
		if tp == nil {
			return &bond.LinkError{Errno: syscall.EOPNOTSUPP}
		}
		opts, lerr := SlaveOptions(name, r.SlaveData)
		if lerr != nil {
			return lerr
		}
		if err := eng.ChangeLink(ctx, tp.Name, opts); err != nil {
			return err
		}
	}
	toBond := r.HasMaster && bondByIndex(snap, r.Master) != nil
	// IFLA_MASTER naming no bond (0, or another kind of master) goes to the
	// kernel, after the port left its bond
	keepMaster := r.HasMaster && !toBond && r.Master != 0
	if r.HasMaster && !toBond && tp != nil {
		if err := eng.SetMaster(ctx, name, ""); err != nil {
			return err
		}
	}
	if rest := r.Rest(index, r.Info.Index != 0, keepMaster); rest != nil {
		if err := k.Do(rest); err != nil {
			return err
		}
	}
	if toBond {
		return r.setMaster(ctx, eng, k, snap, name, tp)
	}
	return nil
}

// setMaster enslaves the interface name to the bond IFLA_MASTER names.
func (r *LinkRequest) setMaster(ctx context.Context, eng Engine, k Kernel, snap *bond.Snapshot, name string, tp *bond.BondStatus) error {
	b := bondByIndex(snap, r.Master)
	if b == nil {
		if r.Master == 0 {
			if tp != nil {
				return eng.SetMaster(ctx, name, "")
			}
			return nil
		}
		if _, ok := k.NameOf(r.Master); !ok {
			return &bond.LinkError{Errno: syscall.EINVAL}
		}
		return &bond.LinkError{Errno: syscall.EOPNOTSUPP}
	}
	return eng.SetMaster(ctx, name, b.Name)
}

// create makes a new bond (rtnl_newlink with NLM_F_CREATE and kind bond).
func (r *LinkRequest) create(ctx context.Context, eng Engine, k Kernel) error {
	var opts []bond.LinkOption
	if r.HasData {
		var lerr *bond.LinkError
		if opts, lerr = BondOptions(r.Data, k); lerr != nil {
			return lerr
		}
	}
	name := r.Name
	if name == "" {
		name = "bond%d"
	}
	created, err := eng.NewLink(ctx, name, opts)
	if err != nil {
		return err
	}
	if r.HasMaster || len(r.rest) > 0 || r.Info.Flags != 0 || r.Info.Change != 0 {
		index, ok := k.IndexOf(created)
		if !ok {
			return &bond.LinkError{Errno: syscall.ENODEV}
		}
		if rest := r.Rest(index, false, false); rest != nil {
			if err := k.Do(rest); err != nil {
				_ = eng.DelLink(ctx, created)
				return err
			}
		}
		if r.HasMaster {
			return r.setMaster(ctx, eng, k, eng.Snapshot(), created, nil)
		}
	}
	return nil
}

func exists(k Kernel, name string) bool {
	_, ok := k.IndexOf(name)
	return ok
}

// Errno is the errno of an Execute error: a *bond.LinkError's, a
// syscall.Errno, or EIO.
func Errno(err error) (syscall.Errno, string) {
	var le *bond.LinkError
	if errors.As(err, &le) {
		return le.Errno, le.Msg
	}
	var en syscall.Errno
	if errors.As(err, &en) {
		return en, ""
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return syscall.ETIMEDOUT, ""
	}
	return syscall.EIO, ""
}
