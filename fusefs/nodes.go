package fusefs

import (
	"context"
	"errors"
	"hash/fnv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"bondingfs/bond"
)

// filesystem is the state shared by every node of one mount.
type filesystem struct {
	be    Backend
	logf  func(format string, args ...any)
	mtime time.Time // the time stamps of every entry
	// sysfs is the root of the engine namespace's sysfs (Options.Sysfs);
	// "" serves the bonding entries only.
	sysfs string
	// procNet makes proc/net a per-caller passthrough (Options.ProcNet).
	procNet bool
	// engineNetns is the inode of the engine's network namespace; 0 shows
	// proc/net/bonding to every caller.
	engineNetns uint64
}

// snapshot returns the backend's latest snapshot (an empty one if it has
// none yet).
// syncTimeout bounds how long a read waits for the backend to catch up
// with the host (Syncer).
const syncTimeout = 200 * time.Millisecond

// Syncer is implemented by backends that can apply pending host changes
// before a read (bond.Registry.Sync), so that `ip link del eth2; cat slaves`
// never shows the deleted slave.
type Syncer interface {
	Sync(ctx context.Context) error
}

// syncedSnapshot is snapshot after the backend caught up with the host.
func (f *filesystem) syncedSnapshot(ctx context.Context) *bond.Snapshot {
	if sy, ok := f.be.(Syncer); ok {
		c, cancel := context.WithTimeout(ctx, syncTimeout)
		_ = sy.Sync(c)
		cancel()
	}
	return f.snapshot()
}

// BondSyncer is implemented by backends that can bring one bond and its
// slaves up to date with the host (bond.Registry.SyncBond): what a read of
// one bond's files needs, at a cost that does not grow with the number of
// bonds.
type BondSyncer interface {
	SyncBond(ctx context.Context, name string) error
}

// syncedFor is syncedSnapshot for what node n shows: the files and
// directories of one bond or slave bring only that bond and its slaves up
// to date; bonding_masters and the listings of every bond bring all.
func (f *filesystem) syncedFor(ctx context.Context, n *node) *bond.Snapshot {
	bs, ok := f.be.(BondSyncer)
	if !ok {
		return f.syncedSnapshot(ctx)
	}
	name := ""
	switch n.kind {
	case kindOption, kindBonding, kindProcFile:
		name = n.dev
	case kindSlaveAttr, kindSlaveDir, kindDev, kindDevAttr:
		snap := f.snapshot()
		if snap.Bond(n.dev) != nil {
			name = n.dev
		} else if b, _ := snap.Slave(n.dev); b != nil {
			name = b.Name
		} else if n.kind == kindDev || n.kind == kindDevAttr {
			return snap // a device that is neither: nothing to sync
		}
	}
	if name == "" {
		return f.syncedSnapshot(ctx)
	}
	c, cancel := context.WithTimeout(ctx, syncTimeout)
	_ = bs.SyncBond(c, name)
	cancel()
	return f.snapshot()
}

// Loader is implemented by backends that can be "unloaded", as a kernel
// without the bonding module: then sys/class/net has no bonding_masters and
// proc/net has no bonding directory. A backend without it is always loaded.
type Loader interface {
	Loaded() bool
}

func (f *filesystem) loaded() bool {
	l, ok := f.be.(Loader)
	return !ok || l.Loaded()
}

func (f *filesystem) snapshot() *bond.Snapshot {
	if s := f.be.Snapshot(); s != nil {
		return s
	}
	return &bond.Snapshot{}
}

// kind is what a node is; its place in the tree follows from it.
type kind uint8

const (
	kindRoot        kind = iota // the mount point: sys, proc
	kindSys                     // sys: class
	kindClass                   // sys/class: net
	kindNet                     // sys/class/net: bonding_masters and the devices
	kindDev                     // sys/class/net/<dev> (a bond, a slave or both)
	kindBonding                 // sys/class/net/<bond>/bonding
	kindSlaveDir                // sys/class/net/<slave>/bonding_slave
	kindProc                    // proc: net, self (with Options.ProcNet)
	kindProcSelf                // proc/self: net, the view for the real /proc/net (procnet.go)
	kindProcNet                 // proc/net: bonding
	kindProcBonding             // proc/net/bonding: one file per bond
	kindMasters                 // file sys/class/net/bonding_masters
	kindOption                  // file sys/class/net/<bond>/bonding/<option>
	kindSlaveAttr               // file sys/class/net/<slave>/bonding_slave/<attr>
	kindProcFile                // file proc/net/bonding/<bond>
	kindDevAttr                 // file sys/class/net/<dev>/<attr> rendered over the real one (netsys.go)
	kindLower                   // link sys/class/net/<bond>/lower_<slave> -> ../<slave>
	kindMaster                  // link sys/class/net/<slave>/master -> ../<bond>
	kindUpper                   // link sys/class/net/<slave>/upper_<bond> -> ../<bond>
	kindReal                    // a real entry of a device directory (entry only; served by sysNode)
)

func (k kind) isDir() bool  { return k <= kindProcBonding }
func (k kind) isLink() bool { return k >= kindLower && k <= kindUpper }

// staticTimeout is how long the kernel may cache what never changes while
// the filesystem is mounted (staticChildren, staticAttr).
const staticTimeout = time.Hour

// staticChildren reports whether directories of kind k always hold the
// same entries, so that the kernel may cache their lookups (entry timeout
// staticTimeout): the fixed skeleton root, sys, sys/class, proc and
// proc/self, which hold directories only. Every other directory answers
// each lookup anew (timeout 0), so that a bond or slave exists exactly
// while the engine has it, proc/net's bonding while the module is loaded
// (bondingDirTimeout), and every file's LOOKUP refreshes its size (see
// staticAttr).
func (k kind) staticChildren() bool {
	switch k {
	case kindRoot, kindSys, kindClass, kindProc, kindProcSelf:
		return true
	}
	return false
}

// bondingDirTimeout is how long the kernel may cache proc/net's bonding
// entry. It exists while the module is loaded, and Server.LoadedChanged
// drops the cached entry when that changes; the timeout bounds how long a
// lookup that raced with the change can keep a stale one.
const bondingDirTimeout = time.Second

// staticAttr reports whether the attributes of nodes of kind k never change
// (fillAttr: a fixed mode, size and time), so that the kernel may cache them
// (attribute timeout staticTimeout) instead of asking with FUSE_GETATTR at
// every permission check of a path walk and every fstat. The master link's
// size follows its target, and the rendered device attributes' modes are
// the real sysfs's, so those are asked each time.
//
// The kernel changes its own idea of a file's size: an open with O_TRUNC
// sets it to 0 and a write to its length (FUSE_ATOMIC_O_TRUNC), and a short
// page-cache read — the splice read of sendfile (busybox cat) — to the
// text's length, and readers that copy by that size would copy "10" of
// "100\n". The LOOKUP of every path walk puts the page back: no file's
// entry is cached (staticChildren), so cached attributes never outlive a
// walk (TestReadAfterWriteSendfile).
func (k kind) staticAttr() bool {
	switch k {
	case kindMaster, kindDevAttr, kindReal:
		return false
	}
	return true
}

// node is every file, directory and symlink of the tree. Nodes hold names
// only, never state: everything is resolved in the latest snapshot.
type node struct {
	fs.Inode
	fsys *filesystem
	kind kind
	path string // relative to the mount point, "" for the root
	dev  string // the device of kindDev and everything below it; the bond of kindProcFile
	name string // the entry name of files and links

	loopOnce sync.Once        // creates loop
	loop     *fs.LoopbackRoot // kindDev with Sysfs: serves the real entries
}

// entry is one directory entry as a snapshot has it.
type entry struct {
	name string
	kind kind
	dev  string
	mode uint32 // file type of a kindReal entry
	ino  uint64 // inode number of a kindReal entry
}

// children returns the entries of directory n in snap, and false when n no
// longer exists.
func (n *node) children(snap *bond.Snapshot) ([]entry, bool) {
	switch n.kind {
	case kindRoot:
		return []entry{{name: "proc", kind: kindProc}, {name: "sys", kind: kindSys}}, true
	case kindSys:
		return []entry{{name: "class", kind: kindClass}}, true
	case kindClass:
		return []entry{{name: "net", kind: kindNet}}, true
	case kindProc:
		if n.fsys.procNet {
			return []entry{{name: "net", kind: kindProcNet}, {name: "self", kind: kindProcSelf}}, true
		}
		return []entry{{name: "net", kind: kindProcNet}}, true
	case kindProcSelf:
		return []entry{{name: "net", kind: kindProcNet}}, true
	case kindProcNet:
		if !n.fsys.loaded() {
			return nil, true
		}
		return []entry{{name: "bonding", kind: kindProcBonding}}, true
	case kindProcBonding:
		es := make([]entry, 0, len(snap.Bonds))
		for _, b := range snap.Bonds {
			es = append(es, entry{name: b.Name, kind: kindProcFile, dev: b.Name})
		}
		return es, true
	case kindNet:
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
	case kindDev:
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
	case kindBonding:
		if snap.Bond(n.dev) == nil {
			return nil, false
		}
		es := make([]entry, 0, len(bond.Options))
		for _, o := range bond.Options {
			es = append(es, entry{name: o.Name, kind: kindOption, dev: n.dev})
		}
		return es, true
	case kindSlaveDir:
		if _, s := snap.Slave(n.dev); s == nil {
			return nil, false
		}
		es := make([]entry, 0, len(slaveAttrs))
		for _, a := range slaveAttrs {
			es = append(es, entry{name: a, kind: kindSlaveAttr, dev: n.dev})
		}
		return es, true
	}
	return nil, false
}

// lookupCandidates returns the entries of directory n that may be name:
// all of them, except in the passthrough's class/net and device
// directories, where the real sysfs is asked about name alone rather than
// listed.
func (n *node) lookupCandidates(snap *bond.Snapshot, name string) ([]entry, bool) {
	if n.kind == kindProcBonding {
		// one bond, not a listing of all of them
		if snap.Bond(name) == nil {
			return nil, true
		}
		return []entry{{name: name, kind: kindProcFile, dev: name}}, true
	}
	if n.fsys.sysfs == "" || (n.kind != kindNet && n.kind != kindDev) {
		return n.children(snap)
	}
	if n.kind == kindNet {
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
	// a device directory: the synthetic entries first
	b := snap.Bond(n.dev)
	m, _ := snap.Slave(n.dev)
	real := n.fsys.devExists(n.dev)
	if !real {
		return n.children(snap)
	}
	if synthetic(name) {
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
		return es, true
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

// inoOf derives a stable inode number from a path, so that the kernel's
// revalidating lookups find the node they cached.
func inoOf(path string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(path))
	ino := h.Sum64() &^ (1 << 63) // below go-fuse's automatic numbers
	if ino < 2 {
		ino += 2 // 1 is the root
	}
	return ino
}

func (e entry) fileType() uint32 {
	if e.kind == kindReal {
		return e.mode
	}
	return e.kind.fileType()
}

func (e entry) inode(path string) uint64 {
	if e.kind == kindReal && e.ino != 0 {
		return e.ino
	}
	return inoOf(path)
}

func (k kind) fileType() uint32 {
	switch {
	case k.isDir():
		return syscall.S_IFDIR
	case k.isLink():
		return syscall.S_IFLNK
	}
	return syscall.S_IFREG
}

// perm returns n's permission bits.
func (n *node) perm() uint32 {
	switch n.kind {
	case kindProc, kindProcSelf, kindProcNet, kindProcBonding:
		return 0o555
	case kindMasters:
		return 0o644
	case kindOption:
		if o := bond.OptionByName(n.name); o != nil && optionReadOnly(o) {
			return 0o444
		}
		return 0o644
	case kindSlaveAttr, kindProcFile:
		return 0o444
	case kindDevAttr:
		return n.fsys.realPerm(n.dev, n.name)
	}
	if n.kind.isLink() {
		return 0o777
	}
	return 0o755
}

// writable reports whether n accepts writes at all (0444 files do not, even
// for root: kernfs refuses the open).
func (n *node) writable() bool {
	return n.kind == kindMasters || ((n.kind == kindOption || n.kind == kindDevAttr) && n.perm()&0o200 != 0)
}

// procFileSize is the size a proc file of textLen bytes reports: whole
// pages, at least one.
func procFileSize(textLen int) uint64 {
	return uint64(max(1, (textLen+pageSize-1)/pageSize)) * pageSize
}

// fillAttr fills out with n's attributes.
func (n *node) fillAttr(snap *bond.Snapshot, out *fuse.Attr) {
	out.Mode = n.kind.fileType() | n.perm()
	out.Nlink = 1
	if n.kind.isDir() {
		out.Nlink = 2
	}
	switch n.kind {
	case kindMasters, kindOption, kindSlaveAttr, kindDevAttr:
		// a page, as sysfs reports for its attributes (their text never
		// exceeds one)
		out.Size = pageSize
	case kindProcFile:
		// procfs reports 0 for /proc/net/bonding/<bond>, but on FUSE the
		// splice read of sendfile (busybox cat) copies no further than the
		// size, so a proc file reports the pages its longest text (the one
		// a CAP_NET_ADMIN reader gets) fills: an 802.3ad bond with five
		// slaves and their LACPDU details takes more than one
		out.Size = pageSize
		if b := snap.Bond(n.dev); b != nil {
			out.Size = procFileSize(len(RenderProcAs(b, bond.Caller{NetAdmin: true})))
		}
	case kindLower, kindMaster, kindUpper:
		t, _ := n.target(snap)
		out.Size = uint64(len(t))
	}
	out.Blksize = pageSize
	out.SetTimes(&n.fsys.mtime, &n.fsys.mtime, &n.fsys.mtime)
}

// target returns a link's target, and false when the link is gone.
func (n *node) target(snap *bond.Snapshot) (string, bool) {
	switch n.kind {
	case kindLower:
		s := strings.TrimPrefix(n.name, "lower_")
		if b, _ := snap.Slave(s); b == nil || b.Name != n.dev {
			return "", false
		}
		return "../" + s, true
	case kindUpper:
		m := strings.TrimPrefix(n.name, "upper_")
		if b, _ := snap.Slave(n.dev); b == nil || b.Name != m {
			return "", false
		}
		return "../" + m, true
	case kindMaster:
		if b, _ := snap.Slave(n.dev); b != nil {
			return "../" + b.Name, true
		}
	}
	return "", false
}

// content renders file n for caller c, or fails with ENOENT when it is gone.
func (n *node) content(snap *bond.Snapshot, c bond.Caller) (string, syscall.Errno) {
	switch n.kind {
	case kindMasters:
		return RenderMasters(snap), 0
	case kindOption:
		b := snap.Bond(n.dev)
		o := bond.OptionByName(n.name)
		if b == nil || o == nil {
			return "", syscall.ENOENT
		}
		return RenderOption(o, b, c), 0
	case kindSlaveAttr:
		_, s := snap.Slave(n.dev)
		if s == nil {
			return "", syscall.ENOENT
		}
		v, ok := RenderSlaveAttr(s, n.name)
		if !ok {
			return "", syscall.ENOENT
		}
		return v, 0
	case kindProcFile:
		b := snap.Bond(n.dev)
		if b == nil {
			return "", syscall.ENOENT
		}
		return RenderProcAs(b, c), 0
	case kindDevAttr:
		return n.fsys.renderDevAttr(snap, n.dev, n.name)
	}
	return "", syscall.EISDIR
}

// callerMatters reports whether what file n shows depends on the reader's
// CAP_NET_ADMIN (readerOf, which reads the caller's /proc entries): only a
// bond in 802.3ad mode hides anything (its proc file's and ad_* options'
// actor and partner details).
func (n *node) callerMatters(snap *bond.Snapshot) bool {
	if n.kind != kindOption && n.kind != kindProcFile {
		return false
	}
	b := snap.Bond(n.dev)
	return b != nil && b.Params.Mode == bond.Mode8023AD
}

// exists reports whether writable file n is still in snap.
func (n *node) exists(snap *bond.Snapshot) bool {
	switch n.kind {
	case kindMasters:
		return n.fsys.loaded()
	case kindOption:
		return snap.Bond(n.dev) != nil && bond.OptionByName(n.name) != nil
	case kindDevAttr:
		return n.fsys.devExists(n.dev)
	}
	_, errno := n.content(snap, bond.Caller{})
	return errno == 0
}

var (
	_ fs.NodeLookuper   = (*node)(nil)
	_ fs.NodeReaddirer  = (*node)(nil)
	_ fs.NodeGetattrer  = (*node)(nil)
	_ fs.NodeSetattrer  = (*node)(nil)
	_ fs.NodeReadlinker = (*node)(nil)
	_ fs.NodeOpener     = (*node)(nil)
	_ fs.NodeReader     = (*node)(nil)
	_ fs.NodeWriter     = (*node)(nil)
	_ fs.NodeWritever   = (*node)(nil)
	_ fs.NodeCreater    = (*node)(nil)
	_ fs.NodeMknoder    = (*node)(nil)
	_ fs.NodeMkdirer    = (*node)(nil)
	_ fs.NodeUnlinker   = (*node)(nil)
	_ fs.NodeRmdirer    = (*node)(nil)
	_ fs.NodeSymlinker  = (*node)(nil)
	_ fs.NodeLinker     = (*node)(nil)
	_ fs.NodeRenamer    = (*node)(nil)
	_ fs.NodeFlusher    = (*node)(nil)
)

// Lookup finds name in the latest snapshot.
func (n *node) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if !n.kind.isDir() {
		return nil, syscall.ENOTDIR
	}
	snap := n.fsys.snapshot()
	if n.kind == kindProcNet && n.fsys.procNet && name != "bonding" {
		return n.lookupProcNet(ctx, name, out)
	}
	if n.kind == kindProcBonding && n.strict() && !n.fsys.seesBonding(ctx) {
		return nil, syscall.ENOENT // another namespace's bonding/ is empty
	}
	es, ok := n.lookupCandidates(snap, name)
	if !ok {
		return nil, syscall.ENOENT
	}
	for _, e := range es {
		if e.kind == kindReal && e.name == name {
			return n.lookupReal(ctx, name, out)
		}
		if e.name != name {
			continue
		}
		path := name
		if n.path != "" {
			path = n.path + "/" + name
		}
		child := &node{fsys: n.fsys, kind: e.kind, path: path, dev: e.dev, name: name}
		child.fillAttr(snap, &out.Attr)
		if n.kind.staticChildren() {
			out.SetEntryTimeout(staticTimeout)
		} else if n.kind == kindProcNet {
			out.SetEntryTimeout(bondingDirTimeout)
		}
		if child.kind.staticAttr() {
			out.SetAttrTimeout(staticTimeout)
		}
		ino := n.NewInode(ctx, child, fs.StableAttr{Mode: e.kind.fileType(), Ino: inoOf(path)})
		return ino, 0
	}
	return nil, syscall.ENOENT
}

// Readdir lists the directory as the latest snapshot has it.
func (n *node) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	if !n.kind.isDir() {
		return nil, syscall.ENOTDIR
	}
	if n.kind == kindProcNet && n.fsys.procNet {
		return n.readdirProcNet(ctx)
	}
	if n.kind == kindProcBonding && n.strict() && !n.fsys.seesBonding(ctx) {
		return fs.NewListDirStream(nil), 0
	}
	es, ok := n.children(n.fsys.syncedFor(ctx, n))
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

// Getattr reports n's mode and size (4096 for every file, see fillAttr).
func (n *node) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	n.fillAttr(n.fsys.snapshot(), &out.Attr)
	if n.kind.staticAttr() {
		out.SetTimeout(staticTimeout)
	}
	return 0
}

// Flush answers ENOSYS, which tells the kernel that this filesystem needs
// no FUSE_FLUSH at all (fc->no_flush): a close(2) then costs no round trip.
// Nothing here acts at close: writes are applied by write(2), as sysfs
// does, and the passthrough's files are closed by FUSE_RELEASE.
func (n *node) Flush(ctx context.Context, f fs.FileHandle) syscall.Errno {
	return syscall.ENOSYS
}

// Setattr accepts and ignores every change: `echo x > f` truncates (O_TRUNC
// arrives as a size change) before it writes. Its reply's attributes are
// not cached, so the fstat(2) bash makes next costs a GETATTR (~20 µs).
func (n *node) Setattr(ctx context.Context, f fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	n.fillAttr(n.fsys.snapshot(), &out.Attr)
	return 0
}

// Readlink returns "../<dev>" for the master, upper_ and lower_ links.
func (n *node) Readlink(ctx context.Context) ([]byte, syscall.Errno) {
	if !n.kind.isLink() {
		return nil, syscall.EINVAL
	}
	t, ok := n.target(n.fsys.snapshot())
	if !ok {
		return nil, syscall.ENOENT
	}
	return []byte(t), 0
}

// handle is an open file: its text, rendered once at open (like sysfs's
// buffer), so that every read of one open sees one consistent text.
type handle struct {
	data []byte
}

// Open renders the file for reading into the handle; opening a 0444 file for
// writing fails with EACCES, even for root.
func (n *node) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if n.kind.isDir() {
		return nil, 0, syscall.EISDIR
	}
	if n.kind.isLink() {
		return nil, 0, syscall.ELOOP
	}
	acc := flags & syscall.O_ACCMODE
	// procfs (unlike kernfs) lets root open its 0444 files for writing
	// (the kernel has checked the mode bits: default_permissions); the
	// write itself then fails with EIO (proc_reg_write without a write op).
	if acc != syscall.O_RDONLY && !n.writable() && n.kind != kindProcFile {
		return nil, 0, syscall.EACCES
	}
	snap := n.fsys.syncedFor(ctx, n)
	h := &handle{}
	if acc == syscall.O_WRONLY {
		// nothing to render; the file must still exist
		if !n.exists(snap) {
			return nil, 0, syscall.ENOENT
		}
		return h, fuse.FOPEN_DIRECT_IO, 0
	}
	var c bond.Caller
	if n.callerMatters(snap) {
		c = readerOf(ctx)
	}
	text, errno := n.content(snap, c)
	if errno != 0 {
		return nil, 0, errno
	}
	h.data = []byte(text)
	return h, fuse.FOPEN_DIRECT_IO, 0
}

// Read returns the text rendered at open.
func (n *node) Read(ctx context.Context, f fs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	h, ok := f.(*handle)
	if !ok {
		return nil, syscall.EBADF
	}
	if off >= int64(len(h.data)) || off < 0 {
		return fuse.ReadResultData(nil), 0
	}
	end := min(off+int64(len(dest)), int64(len(h.data)))
	return fuse.ReadResultData(h.data[off:end]), 0
}

// Write hands one write(2) to the backend. Like sysfs, at most one page is
// taken per call and the offset is ignored; the backend's errno is returned
// as is, an interrupted write as EINTR.
func (n *node) Write(ctx context.Context, f fs.FileHandle, data []byte, off int64) (uint32, syscall.Errno) {
	return n.write(ctx, data)
}

// Writev is Write for data that arrives in pieces.
func (n *node) Writev(ctx context.Context, f fs.FileHandle, data [][]byte, off int64) (uint32, syscall.Errno) {
	var all []byte
	for _, d := range data {
		all = append(all, d...)
	}
	return n.write(ctx, all)
}

func (n *node) write(ctx context.Context, data []byte) (written uint32, errno syscall.Errno) {
	if n.kind == kindProcFile {
		return 0, syscall.EIO
	}
	if !n.writable() {
		return 0, syscall.EACCES
	}
	if len(data) > pageSize {
		data = data[:pageSize]
	}
	defer func() {
		if r := recover(); r != nil {
			n.fsys.logf("fusefs: write %q to %s panicked: %v", data, n.path, r)
			written, errno = 0, syscall.EIO
		}
	}()
	var err error
	switch n.kind {
	case kindMasters:
		err = n.fsys.be.WriteMasters(ctx, string(data))
	case kindOption:
		err = n.fsys.be.WriteOption(ctx, n.dev, n.name, string(data), writerOf(ctx))
	case kindDevAttr:
		// net-sysfs stores need CAP_NET_ADMIN (netdev_store); the daemon
		// writes as root
		if !readerOf(ctx).NetAdmin {
			return 0, syscall.EPERM
		}
		if errno := n.fsys.writeDevAttr(n.dev, n.name, data); errno != 0 {
			return 0, errno
		}
	}
	if err != nil {
		return 0, errnoOf(err)
	}
	return uint32(len(data)), 0
}

// errnoOf maps a backend error to the errno write(2) returns.
func errnoOf(err error) syscall.Errno {
	var e syscall.Errno
	switch {
	case errors.As(err, &e) && e != 0:
		return e
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return syscall.EINTR
	}
	return bond.ErrnoOf(err)
}

// Create fails with EACCES, as creating a file in sysfs does.
func (n *node) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	return nil, nil, 0, syscall.EACCES
}

// Mknod fails with EACCES, as Create.
func (n *node) Mknod(ctx context.Context, name string, mode uint32, dev uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return nil, syscall.EACCES
}

// Mkdir fails with EPERM, as in sysfs.
func (n *node) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return nil, syscall.EPERM
}

// Unlink fails with EPERM, as in sysfs.
func (n *node) Unlink(ctx context.Context, name string) syscall.Errno { return syscall.EPERM }

// Rmdir fails with EPERM, as in sysfs.
func (n *node) Rmdir(ctx context.Context, name string) syscall.Errno { return syscall.EPERM }

// Symlink fails with EPERM, as in sysfs.
func (n *node) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return nil, syscall.EPERM
}

// Link fails with EPERM, as in sysfs.
func (n *node) Link(ctx context.Context, target fs.InodeEmbedder, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return nil, syscall.EPERM
}

// Rename fails with EPERM, as in sysfs.
func (n *node) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	return syscall.EPERM
}
