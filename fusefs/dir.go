package fusefs

import (
	"context"
	"encoding/binary"
	"hash/fnv"
	"strings"
	"syscall"
	"time"

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
		if ttl := n.entryTTL(e); ttl != 0 {
			out.SetEntryTimeout(ttl)
		}
		if child.info().staticAttr {
			out.SetAttrTimeout(staticTimeout)
		}
		ino := e.inode(path)
		if tf := child.info().target; tf != nil {
			t, _ := tf(child, snap)
			ino = linkIno(path, t)
		}
		in := n.NewInode(ctx, child, fs.StableAttr{Mode: e.kind.fileType(), Ino: ino})
		if e.kind == kindNet || e.kind == kindNetDir {
			// the inode the kernel knows (NewInode may return an existing one)
			n.fsys.devDirs.Store(path, in)
		}
		return in, 0
	}
	return nil, syscall.ENOENT
}

// entryTTL returns how long the kernel may cache entry e of directory n:
// the directory kind's childTTL; else staticTimeout for the entries that
// exist as long as their directory does (stableEntry), for the class/net
// links and the device directories while the link events keep them fresh
// (linkwatch.go), and for the links and bonding_slave of enslavement while
// the backend's changes do (entrysync.go); else 0, asked again at every
// walk.
func (n *node) entryTTL(e entry) time.Duration {
	if ttl := n.info().childTTL; ttl != 0 {
		return ttl
	}
	if (e.kind == kindDevLink || e.kind == kindDev) && n.fsys.watch.Load() {
		return staticTimeout
	}
	switch e.kind {
	case kindMaster, kindUpper, kindLower, kindSlaveDir:
		if n.fsys.entrySync.Load() {
			return staticTimeout
		}
	}
	if stableEntry(e.kind, e.name) {
		return staticTimeout
	}
	return 0
}

// stableEntry reports whether an entry of kind k exists exactly as long as
// the directory that holds it, so that its cached lookup can never outlive
// it: every bond has bonding/. A device directory's number changes with the
// device (devIno), so the kernel drops what it cached below when a device
// of the same name replaces it. The files the daemon serves are not cached
// (their LOOKUP puts back the size a splice read shrank, see
// staticTimeout); the links and bonding_slave/ that come and go with
// enslavement are while the backend reports its changes (entryTTL).
func stableEntry(k kind, name string) bool {
	return k == kindBonding
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
// backend caught up with the host for what it shows (syncedFor). For a
// directory whose listing the kernel may cache (kindInfo.cacheDir), it
// records what it listed (listedFP) for OpendirHandle.
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
	// a READDIR holds the directory's lock: a change its sync publishes
	// is passed on to the entry sync without waiting for it
	list, errno := n.listing(noWait(ctx))
	if errno != 0 {
		return nil, errno
	}
	if in.cacheDir {
		n.listedFP.Store(listFP(list))
	}
	return fs.NewListDirStream(list), 0
}

// listing returns directory n's entries as the latest snapshot has them,
// after the backend caught up with the host for what it shows
// (syncedFor); ENOENT when the directory is gone.
func (n *node) listing(ctx context.Context) ([]fuse.DirEntry, syscall.Errno) {
	es, ok := n.info().children(n, n.fsys.syncedFor(ctx, n))
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
	return list, 0
}

// listFP is a fingerprint of a listing: its names, types and numbers in
// order (FNV-1a, never 0, which stands for no listing).
func listFP(list []fuse.DirEntry) uint64 {
	h := fnv.New64a()
	var b [12]byte
	for _, e := range list {
		h.Write([]byte(e.Name))
		binary.LittleEndian.PutUint32(b[0:4], e.Mode)
		binary.LittleEndian.PutUint64(b[4:12], e.Ino)
		h.Write(b[:])
	}
	return h.Sum64() | 1
}

var _ fs.NodeOpendirHandler = (*node)(nil)

// OpendirHandle opens directory n for reading. The listing of a device
// directory and of class/net (kindInfo.cacheDir) is kept in the kernel's
// directory cache (FOPEN_CACHE_DIR, FOPEN_KEEP_CACHE), so that a listing
// that did not change costs the OPENDIR alone. Every opendir(3) reaches
// the daemon, which lists the directory as Readdir would now (the backend
// caught up with the host first) and, when that listing differs from the
// last one a READDIR gave (listedFP, what the kernel may have cached),
// moves the directory's modification time on (touchDir: kernfs too
// stamps a directory when an entry is added or removed) and drops the
// kernel's cached listing and attributes (FUSE_NOTIFY_INVAL_INODE): the
// kernel asks for the attributes again before it reads its cache from the
// start, finds another time than the one it cached the listing under
// (fuse_readdir_cached; an empty listing has no page to drop), and asks
// for the listing again. A listing therefore never shows less or more than one taken at
// its opendir(3), whatever changed it (the engine, the module's load
// state, a device of the host). Any other directory is listed anew at
// every READDIR, as before.
func (n *node) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	in := n.info()
	if in.mode != syscall.S_IFDIR {
		return nil, 0, syscall.ENOTDIR
	}
	h := &dirHandle{n: n}
	if !in.cacheDir {
		return h, 0, 0
	}
	list, errno := n.listing(ctx)
	if errno != 0 {
		return nil, 0, errno
	}
	if prev := n.listedFP.Load(); prev != 0 && prev != listFP(list) {
		n.listedFP.Store(0)
		n.fsys.touchDir(n.path)
		n.NotifyContent(0, 0)
	}
	return h, fuse.FOPEN_CACHE_DIR | fuse.FOPEN_KEEP_CACHE, 0
}

// dirHandle is an open directory of the bonding tree: its listing is
// taken (Readdir) at the first READDIR that reaches the daemon, as
// go-fuse's own directory handles do.
type dirHandle struct {
	n  *node
	ds fs.DirStream
}

var (
	_ fs.FileReaddirenter = (*dirHandle)(nil)
	_ fs.FileSeekdirer    = (*dirHandle)(nil)
	_ fs.FileReleasedirer = (*dirHandle)(nil)
)

// stream returns the handle's listing, taken at the first call.
func (h *dirHandle) stream(ctx context.Context) (fs.DirStream, syscall.Errno) {
	if h.ds == nil {
		ds, errno := h.n.Readdir(ctx)
		if errno != 0 {
			return nil, errno
		}
		h.ds = ds
	}
	return h.ds, 0
}

// Readdirent returns the next entry, nil at the end.
func (h *dirHandle) Readdirent(ctx context.Context) (*fuse.DirEntry, syscall.Errno) {
	ds, errno := h.stream(ctx)
	if errno != 0 {
		return nil, errno
	}
	if !ds.HasNext() {
		return nil, 0
	}
	e, errno := ds.Next()
	return &e, errno
}

// Seekdir moves to entry off of the listing (the kernel re-reads after an
// interrupted READDIR, and rewinddir(3)).
func (h *dirHandle) Seekdir(ctx context.Context, off uint64) syscall.Errno {
	ds, errno := h.stream(ctx)
	if errno != 0 {
		return errno
	}
	if sd, ok := ds.(fs.FileSeekdirer); ok {
		return sd.Seekdir(ctx, off)
	}
	return syscall.ENOTSUP
}

// Releasedir closes the listing.
func (h *dirHandle) Releasedir(ctx context.Context, flags uint32) {
	if h.ds != nil {
		h.ds.Close()
	}
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
// a link for every real device (with the passthrough), then one for every
// bond and slave the real sysfs does not have.
func netChildren(n *node, snap *bond.Snapshot) ([]entry, bool) {
	es := []entry{{name: "bonding_masters", kind: kindMasters}}
	if !n.fsys.loaded() {
		es = es[:0]
	}
	seen := map[string]bool{}
	add := func(d string) {
		if !seen[d] {
			seen[d] = true
			es = append(es, n.devLinkEntry(d))
		}
	}
	if n.fsys.sysfs != "" {
		for _, d := range n.fsys.realDevs() {
			add(d)
		}
	}
	for _, b := range snap.Bonds {
		add(b.Name)
	}
	for _, b := range snap.Bonds {
		for i := range b.Slaves {
			add(b.Slaves[i].Name)
		}
	}
	return es, true
}

// devLinkEntry returns class/net's entry for device d, numbered after its
// text (linkIno).
func (n *node) devLinkEntry(d string) entry {
	return entry{name: d, kind: kindDevLink, dev: d, ino: linkIno(n.path+"/"+d, n.fsys.devLinkTarget(d))}
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
	if b != nil || m != nil || n.fsys.realLink(name) != "" {
		return []entry{n.devLinkEntry(name)}, true
	}
	return nil, true
}

// devChildren: a device directory holds its real entries (with the
// passthrough), a slave's master and upper_ links, a bond's lower_ links
// and bonding, and a slave's bonding_slave. The real entries of those names
// are hidden; every other real link (a bridge's master, upper_ and lower_,
// a VLAN's) passes through. It is gone when the device is neither a bond, a
// slave nor real.
func devChildren(n *node, snap *bond.Snapshot) ([]entry, bool) {
	b := snap.Bond(n.dev)
	m, _ := snap.Slave(n.dev)
	real := n.realExists()
	if b == nil && m == nil && !real {
		return nil, false
	}
	var es []entry
	if real {
		es = n.fsys.realEntries(n.realDir(), n.dev, snap)
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
	if n.fsys.sysfs == "" || !n.realExists() {
		return devChildren(n, snap)
	}
	if es := syntheticEntry(n, snap, name); len(es) > 0 {
		return es, true
	}
	if hidden(snap, n.dev, name) || !validName(name) {
		return nil, true
	}
	if overridden(snap, n.dev, name) {
		var st syscall.Stat_t
		if syscall.Lstat(n.realDir()+"/"+name, &st) != nil {
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
	k, ok := emulated(snap, n.dev, name)
	if !ok {
		return nil
	}
	return []entry{{name: name, kind: k, dev: n.dev}}
}

// emulated returns the kind of entry name of device dev's directory when
// the bonding driver (the emulation) makes it in snap: a slave's master,
// upper_<bond> and bonding_slave, a bond's lower_<slave> and bonding.
func emulated(snap *bond.Snapshot, dev, name string) (kind, bool) {
	if m, _ := snap.Slave(dev); m != nil {
		switch name {
		case "master":
			return kindMaster, true
		case "upper_" + m.Name:
			return kindUpper, true
		case "bonding_slave":
			return kindSlaveDir, true
		}
	}
	if b := snap.Bond(dev); b != nil {
		if name == "bonding" {
			return kindBonding, true
		}
		if s, ok := strings.CutPrefix(name, "lower_"); ok {
			if sb, _ := snap.Slave(s); sb != nil && sb.Name == dev {
				return kindLower, true
			}
		}
	}
	return 0, false
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

// touchDir sets the modification and change times of the directory at
// path (kindInfo.cacheDir) to now, later than any it had (dirTime).
func (f *filesystem) touchDir(path string) {
	now := time.Now().UnixNano()
	for {
		v, loaded := f.dirTimes.LoadOrStore(path, now)
		if !loaded {
			return
		}
		prev := v.(int64)
		t := max(now, prev+1)
		if f.dirTimes.CompareAndSwap(path, prev, t) {
			return
		}
	}
}

// dirTime returns the modification time of the directory at path that
// touchDir set, false when none was.
func (f *filesystem) dirTime(path string) (time.Time, bool) {
	v, ok := f.dirTimes.Load(path)
	if !ok {
		return time.Time{}, false
	}
	return time.Unix(0, v.(int64)), true
}
