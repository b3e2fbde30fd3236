package fusefs

import (
	"context"
	"strings"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"bondingfs/bond"
)

// Directories: LOOKUP and READDIR, and the entries of each directory kind
// (kindInfo.children, .lookup, .lookupFirst, .readdirFirst).

var (
	_ fs.NodeLookuper  = (*node)(nil)
	_ fs.NodeReaddirer = (*node)(nil)
	_ fs.NodeGetattrer = (*node)(nil)
)

// Lookup finds name in the latest snapshot. The entry is cached for the
// parent kind's childTTL and its attributes, when they never change
// (staticAttr), for staticTimeout; everything else is asked again.
func (n *node) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	in := n.info()
	if in.mode != syscall.S_IFDIR {
		return nil, syscall.ENOTDIR
	}
	snap := n.fsys.snapshot()
	if in.lookupFirst != nil {
		if ino, errno, done := in.lookupFirst(n, ctx, name, out); done {
			return ino, errno
		}
	}
	es, ok := n.lookupCandidates(snap, name)
	if !ok {
		return nil, syscall.ENOENT
	}
	for _, e := range es {
		if e.name != name {
			continue
		}
		if e.kind.info().loopback {
			return n.lookupReal(ctx, name, out)
		}
		path := name
		if n.path != "" {
			path = n.path + "/" + name
		}
		child := &node{fsys: n.fsys, kind: e.kind, path: path, dev: e.dev, name: name}
		child.fillAttr(snap, &out.Attr)
		if in.childTTL != 0 {
			out.SetEntryTimeout(in.childTTL)
		}
		if child.info().staticAttr {
			out.SetAttrTimeout(staticTimeout)
		}
		ino := n.NewInode(ctx, child, fs.StableAttr{Mode: e.kind.fileType(), Ino: inoOf(path)})
		return ino, 0
	}
	return nil, syscall.ENOENT
}

// lookupCandidates returns the entries of directory n that may be name:
// the kind's lookup where it has one, else all its children.
func (n *node) lookupCandidates(snap *bond.Snapshot, name string) ([]entry, bool) {
	if lk := n.info().lookup; lk != nil {
		return lk(n, snap, name)
	}
	return n.info().children(n, snap)
}

// Readdir lists the directory as the latest snapshot has it, after the
// backend caught up with the host for what it shows (syncedFor).
func (n *node) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	in := n.info()
	if in.mode != syscall.S_IFDIR {
		return nil, syscall.ENOTDIR
	}
	if in.readdirFirst != nil {
		if ds, errno, done := in.readdirFirst(n, ctx); done {
			return ds, errno
		}
	}
	es, ok := in.children(n, n.fsys.syncedFor(ctx, n))
	if !ok {
		return nil, syscall.ENOENT
	}
	list := make([]fuse.DirEntry, 0, len(es))
	for _, e := range es {
		path := e.name
		if n.path != "" {
			path = n.path + "/" + e.name
		}
		list = append(list, fuse.DirEntry{Name: e.name, Mode: e.fileType(), Ino: e.inode(path)})
	}
	return fs.NewListDirStream(list), 0
}

// Getattr reports n's mode and size (a page for every bonding file, see
// kindInfo.size).
func (n *node) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	n.fillAttr(n.fsys.snapshot(), &out.Attr)
	if n.info().staticAttr {
		out.SetTimeout(staticTimeout)
	}
	return 0
}

// fixed returns the children function of a directory that always holds es.
func fixed(es ...entry) func(*node, *bond.Snapshot) ([]entry, bool) {
	return func(*node, *bond.Snapshot) ([]entry, bool) { return es, true }
}

// procChildren: proc holds net, and self with the per-caller passthrough.
func procChildren(n *node, _ *bond.Snapshot) ([]entry, bool) {
	if n.fsys.procNet {
		return []entry{{name: "net", kind: kindProcNet}, {name: "self", kind: kindProcSelf}}, true
	}
	return []entry{{name: "net", kind: kindProcNet}}, true
}

// procNetChildren: proc/net holds bonding while the module is loaded.
func procNetChildren(n *node, _ *bond.Snapshot) ([]entry, bool) {
	if !n.fsys.loaded() {
		return nil, true
	}
	return []entry{{name: "bonding", kind: kindProcBonding}}, true
}

// procNetLookup hands every name of proc/net but bonding to the caller's
// own /proc/<tid>/net (Options.ProcNet).
func procNetLookup(n *node, ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno, bool) {
	if !n.fsys.procNet || name == "bonding" {
		return nil, 0, false
	}
	ino, errno := n.lookupProcNet(ctx, name, out)
	return ino, errno, true
}

// procNetReaddir lists the caller's own /proc/<tid>/net and bonding
// (Options.ProcNet).
func procNetReaddir(n *node, ctx context.Context) (fs.DirStream, syscall.Errno, bool) {
	if !n.fsys.procNet {
		return nil, 0, false
	}
	ds, errno := n.readdirProcNet(ctx)
	return ds, errno, true
}

// procBondingChildren: one file per bond.
func procBondingChildren(n *node, snap *bond.Snapshot) ([]entry, bool) {
	es := make([]entry, 0, len(snap.Bonds))
	for _, b := range snap.Bonds {
		es = append(es, entry{name: b.Name, kind: kindProcFile, dev: b.Name})
	}
	return es, true
}

// procBondingLookup finds one bond, rather than listing all of them.
func procBondingLookup(n *node, snap *bond.Snapshot, name string) ([]entry, bool) {
	if snap.Bond(name) == nil {
		return nil, true
	}
	return []entry{{name: name, kind: kindProcFile, dev: name}}, true
}

// procBondingHiddenLookup finds nothing in proc/self/net/bonding for a
// caller outside the engine's network namespace (seesBonding).
func procBondingHiddenLookup(n *node, ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno, bool) {
	if !n.strict() || n.fsys.seesBonding(ctx) {
		return nil, 0, false
	}
	return nil, syscall.ENOENT, true
}

// procBondingHiddenReaddir lists proc/self/net/bonding empty for a caller
// outside the engine's network namespace (seesBonding).
func procBondingHiddenReaddir(n *node, ctx context.Context) (fs.DirStream, syscall.Errno, bool) {
	if !n.strict() || n.fsys.seesBonding(ctx) {
		return nil, 0, false
	}
	return fs.NewListDirStream(nil), 0, true
}

// netChildren: class/net holds bonding_masters while the module is loaded,
// the real devices (with the passthrough), then every bond and slave the
// real sysfs does not have.
func netChildren(n *node, snap *bond.Snapshot) ([]entry, bool) {
	es := []entry{{name: "bonding_masters", kind: kindMasters}}
	if !n.fsys.loaded() {
		es = es[:0]
	}
	seen := map[string]bool{}
	if n.fsys.sysfs != "" {
		for _, d := range n.fsys.realDevs() {
			seen[d] = true
			es = append(es, entry{name: d, kind: kindDev, dev: d})
		}
	}
	for _, b := range snap.Bonds {
		if !seen[b.Name] {
			seen[b.Name] = true
			es = append(es, entry{name: b.Name, kind: kindDev, dev: b.Name})
		}
	}
	for _, b := range snap.Bonds {
		for i := range b.Slaves {
			s := b.Slaves[i].Name
			if !seen[s] {
				seen[s] = true
				es = append(es, entry{name: s, kind: kindDev, dev: s})
			}
		}
	}
	return es, true
}

// netLookup: with the passthrough, the real sysfs is asked about name
// alone rather than listed.
func netLookup(n *node, snap *bond.Snapshot, name string) ([]entry, bool) {
	if n.fsys.sysfs == "" {
		return netChildren(n, snap)
	}
	if name == "bonding_masters" {
		if !n.fsys.loaded() {
			return nil, true
		}
		return []entry{{name: name, kind: kindMasters}}, true
	}
	b := snap.Bond(name)
	m, _ := snap.Slave(name)
	if b != nil || m != nil || n.fsys.devExists(name) {
		return []entry{{name: name, kind: kindDev, dev: name}}, true
	}
	return nil, true
}

// devChildren: a device directory holds its real entries (with the
// passthrough), a slave's master and upper_ links, a bond's lower_ links
// and bonding, and a slave's bonding_slave. It is gone when the device is
// neither a bond, a slave nor real.
func devChildren(n *node, snap *bond.Snapshot) ([]entry, bool) {
	b := snap.Bond(n.dev)
	m, _ := snap.Slave(n.dev)
	real := n.fsys.devExists(n.dev)
	if b == nil && m == nil && !real {
		return nil, false
	}
	var es []entry
	if real {
		es = n.fsys.realEntries(n.dev, b != nil, m != nil)
	}
	if m != nil {
		es = append(es,
			entry{name: "master", kind: kindMaster, dev: n.dev},
			entry{name: "upper_" + m.Name, kind: kindUpper, dev: n.dev})
	}
	if b != nil {
		for i := range b.Slaves {
			es = append(es, entry{name: "lower_" + b.Slaves[i].Name, kind: kindLower, dev: n.dev})
		}
		es = append(es, entry{name: "bonding", kind: kindBonding, dev: n.dev})
	}
	if m != nil {
		es = append(es, entry{name: "bonding_slave", kind: kindSlaveDir, dev: n.dev})
	}
	return es, true
}

// devLookup: in a real device's directory, the bonding entries are looked
// up in snap and every other name in the real sysfs alone; without the
// passthrough, or for a device the real sysfs lacks, all children.
func devLookup(n *node, snap *bond.Snapshot, name string) ([]entry, bool) {
	if n.fsys.sysfs == "" || !n.fsys.devExists(n.dev) {
		return devChildren(n, snap)
	}
	if synthetic(name) {
		return syntheticEntry(n, snap, name), true
	}
	if hidden(snap, n.dev, name) || name == "." || name == ".." || strings.Contains(name, "/") {
		return nil, true
	}
	if overridden(snap, n.dev, name) {
		var st syscall.Stat_t
		if syscall.Lstat(n.fsys.realDev(n.dev)+"/"+name, &st) != nil {
			return nil, true
		}
		return []entry{{name: name, kind: kindDevAttr, dev: n.dev}}, true
	}
	return []entry{{name: name, kind: kindReal, dev: n.dev}}, true
}

// syntheticEntry returns the bonding entry name of device directory n in
// snap (master, upper_, bonding_slave of a slave; bonding, lower_ of a
// bond), if it has one.
func syntheticEntry(n *node, snap *bond.Snapshot, name string) []entry {
	b := snap.Bond(n.dev)
	m, _ := snap.Slave(n.dev)
	var es []entry
	if m != nil && (name == "master" || name == "upper_"+m.Name || name == "bonding_slave") {
		k := kindMaster
		switch {
		case name == "bonding_slave":
			k = kindSlaveDir
		case strings.HasPrefix(name, "upper_"):
			k = kindUpper
		}
		es = append(es, entry{name: name, kind: k, dev: n.dev})
	}
	if b != nil {
		if name == "bonding" {
			es = append(es, entry{name: name, kind: kindBonding, dev: n.dev})
		}
		for i := range b.Slaves {
			if name == "lower_"+b.Slaves[i].Name {
				es = append(es, entry{name: name, kind: kindLower, dev: n.dev})
			}
		}
	}
	return es
}

// bondingChildren: a bond's bonding directory holds one file per option.
func bondingChildren(n *node, snap *bond.Snapshot) ([]entry, bool) {
	if snap.Bond(n.dev) == nil {
		return nil, false
	}
	es := make([]entry, 0, len(bond.Options))
	for _, o := range bond.Options {
		es = append(es, entry{name: o.Name, kind: kindOption, dev: n.dev})
	}
	return es, true
}

// slaveDirChildren: a slave's bonding_slave directory holds slaveAttrs.
func slaveDirChildren(n *node, snap *bond.Snapshot) ([]entry, bool) {
	if _, s := snap.Slave(n.dev); s == nil {
		return nil, false
	}
	es := make([]entry, 0, len(slaveAttrs))
	for _, a := range slaveAttrs {
		es = append(es, entry{name: a, kind: kindSlaveAttr, dev: n.dev})
	}
	return es, true
}
