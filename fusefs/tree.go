package fusefs

import (
	"context"
	"hash/fnv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"bondingfs/bond"
)

// The tree of kinds. Every file, directory and symlink of the bonding tree
// is a node of one kind, and everything a request needs to know about a
// kind is its row in kinds: what it is, its mode, which snapshot it syncs,
// its entries, its text and its writes. The handlers (dir.go, file.go,
// link.go) ask the row and never switch on the kind, so a new file kind is
// one constant and one row.

// kind is what a node is; its place in the tree follows from it.
type kind uint8

const (
	kindRoot        kind = iota // the mount point: sys, proc
	kindSys                     // sys: class, devices
	kindClass                   // sys/class: net
	kindNet                     // sys/class/net: bonding_masters and a link per device
	kindDevTree                 // sys/devices and the directories below it on the way to a net directory (devices.go)
	kindNetDir                  // sys/devices/<parent>: the devices' directories (virtual/net, a NIC's net)
	kindDev                     // sys/devices/<parent>/<dev> (a bond, a slave, both or neither)
	kindBonding                 // <dev>/bonding of a bond
	kindSlaveDir                // <dev>/bonding_slave of a slave
	kindProc                    // proc: net, self (with Options.ProcNet)
	kindProcSelf                // proc/self: net, the view for the real /proc/net (overlay_proc.go)
	kindProcNet                 // proc/net: bonding
	kindProcBonding             // proc/net/bonding: one file per bond
	kindMasters                 // file sys/class/net/bonding_masters
	kindOption                  // file <bond>/bonding/<option>
	kindSlaveAttr               // file <slave>/bonding_slave/<attr>
	kindProcFile                // file proc/net/bonding/<bond>
	kindDevAttr                 // file <dev>/<attr> rendered over the real one (overlay_sys.go)
	kindDevLink                 // link sys/class/net/<dev> -> ../../devices/<parent>/<dev>
	kindLower                   // link <bond>/lower_<slave> -> ../<slave>
	kindMaster                  // link <slave>/master -> ../<bond>
	kindUpper                   // link <slave>/upper_<bond> -> ../<bond>
	kindReal                    // a real entry of a device directory (entry only; served by sysNode)
	kindCount
)

// syncScope is how much of the backend a read of a node brings up to date
// with the host first (filesystem.syncedFor).
type syncScope uint8

const (
	syncAll       syncScope = iota // every bond (Syncer)
	syncBond                       // the bond named by node.dev (BondSyncer)
	syncDevOrAll                   // the bond node.dev is or is a slave of; every bond when neither
	syncDevOrNone                  // as syncDevOrAll, but nothing when neither (a plain real device)
)

// kindInfo is one row of the kind table: all that the request handlers
// decide by a node's kind. A nil function means the kind has no such part
// (no entries, no text, no target, no writes).
type kindInfo struct {
	// mode is the file type: S_IFDIR, S_IFLNK or S_IFREG.
	mode uint32
	// perm is the permission bits; permOf, when set, decides them per node.
	perm   uint32
	permOf func(n *node) uint32
	// childTTL is how long the kernel may cache the lookups of a
	// directory's entries: staticTimeout for the fixed skeleton,
	// bondingDirTimeout for proc/net, 0 (ask again each time) for the rest.
	childTTL time.Duration
	// staticAttr: the kind's attributes never change (fillAttr: a fixed
	// mode, size and time), so the kernel may cache them for
	// staticTimeout instead of asking with FUSE_GETATTR at every
	// permission check of a path walk and every fstat.
	staticAttr bool
	// sync is what a read brings up to date first.
	sync syncScope
	// children lists a directory's entries in a snapshot, false when the
	// directory no longer exists there.
	children func(n *node, snap *bond.Snapshot) ([]entry, bool)
	// lookup, when set, returns the entries that may be name instead of
	// all children (the passthrough asks the real sysfs about one name).
	lookup func(n *node, snap *bond.Snapshot, name string) ([]entry, bool)
	// lookupFirst and readdirFirst, when set, answer a LOOKUP or READDIR
	// before the entries are consulted (the per-caller proc/net, the
	// per-namespace proc/self/net/bonding); done false lets them answer.
	lookupFirst  func(n *node, ctx context.Context, name string, out *fuse.EntryOut) (in *fs.Inode, errno syscall.Errno, done bool)
	readdirFirst func(n *node, ctx context.Context) (ds fs.DirStream, errno syscall.Errno, done bool)
	// cacheDir: the kernel may keep the directory's listing, which every
	// opendir(3) checks (node.OpendirHandle).
	cacheDir bool
	// loopback: the entry is the real sysfs's, served by a sysNode.
	loopback bool
	// size is st_size in a snapshot; nil means 0.
	size func(n *node, snap *bond.Snapshot) uint64
	// target is a symlink's target, false when the link is gone.
	target func(n *node, snap *bond.Snapshot) (string, bool)
	// content renders a file for caller c (ENOENT when it is gone).
	content func(n *node, snap *bond.Snapshot, c bond.Caller) (string, syscall.Errno)
	// byCaller: the text may depend on the reader's CAP_NET_ADMIN
	// (callerMatters).
	byCaller bool
	// exists reports whether a writable file is still there, for an
	// O_WRONLY open that renders nothing; nil asks content.
	exists func(n *node, snap *bond.Snapshot) bool
	// write applies one write(2) of at most a page.
	write func(n *node, ctx context.Context, data []byte) syscall.Errno
	// procfs: procfs's rules rather than kernfs's: root may open the 0444
	// file for writing (the kernel checked the mode bits,
	// default_permissions) and the write fails with EIO (proc_reg_write
	// without a write op).
	procfs bool
}

// kinds is the kind table, indexed by kind. It is filled by init because
// its functions refer back to it (a device directory's lookup to its
// children, a link's size to its target).
var kinds [kindCount]kindInfo

func init() {
	const dir, file, link = syscall.S_IFDIR, syscall.S_IFREG, syscall.S_IFLNK
	kinds = [kindCount]kindInfo{
		kindRoot: {mode: dir, perm: 0o755, childTTL: staticTimeout, staticAttr: true,
			children: fixed(entry{name: "proc", kind: kindProc}, entry{name: "sys", kind: kindSys})},
		kindSys: {mode: dir, perm: 0o755, childTTL: staticTimeout, staticAttr: true,
			children: fixed(entry{name: "class", kind: kindClass}, entry{name: "devices", kind: kindDevTree})},
		kindClass: {mode: dir, perm: 0o755, childTTL: staticTimeout, staticAttr: true,
			children: fixed(entry{name: "net", kind: kindNet})},
		kindNet: {mode: dir, perm: 0o755, staticAttr: true, cacheDir: true,
			children: netChildren, lookup: netLookup},
		kindDevTree: {mode: dir, perm: 0o755, childTTL: staticTimeout, staticAttr: true,
			children: devTreeChildren},
		kindNetDir: {mode: dir, perm: 0o755, staticAttr: true,
			children: netDirChildren, lookup: netDirLookup},
		kindDev: {mode: dir, perm: 0o755, staticAttr: true, sync: syncDevOrNone, cacheDir: true,
			children: devChildren, lookup: devLookup},
		kindBonding: {mode: dir, perm: 0o755, staticAttr: true, sync: syncBond,
			children: bondingChildren},
		kindSlaveDir: {mode: dir, perm: 0o755, staticAttr: true, sync: syncDevOrAll,
			children: slaveDirChildren},
		kindProc: {mode: dir, perm: 0o555, childTTL: staticTimeout, staticAttr: true,
			children: procChildren},
		kindProcSelf: {mode: dir, perm: 0o555, childTTL: staticTimeout, staticAttr: true,
			children: fixed(entry{name: "net", kind: kindProcNet})},
		kindProcNet: {mode: dir, perm: 0o555, childTTL: bondingDirTimeout, staticAttr: true,
			children: procNetChildren, lookupFirst: procNetLookup, readdirFirst: procNetReaddir},
		kindProcBonding: {mode: dir, perm: 0o555, staticAttr: true,
			children: procBondingChildren, lookup: procBondingLookup,
			lookupFirst: procBondingHiddenLookup, readdirFirst: procBondingHiddenReaddir},
		kindMasters: {mode: file, perm: 0o644, staticAttr: true, size: pageSized,
			content: mastersContent, exists: mastersExists, write: mastersWrite},
		kindOption: {mode: file, permOf: optionPerm, staticAttr: true, sync: syncBond, size: pageSized,
			content: optionContent, byCaller: true, exists: optionExists, write: optionWrite},
		kindSlaveAttr: {mode: file, perm: 0o444, staticAttr: true, sync: syncDevOrAll, size: pageSized,
			content: slaveAttrContent},
		kindProcFile: {mode: file, perm: 0o444, staticAttr: true, sync: syncBond, size: procFileAttrSize,
			content: procFileContent, byCaller: true, procfs: true},
		// modes and owners are the real files' (or what chmod and chown
		// stored); the entry is looked up at every walk (timeout 0),
		// whose reply carries them anew, so they are cached in between
		kindDevAttr: {mode: file, permOf: devAttrPerm, staticAttr: true, sync: syncDevOrNone, size: pageSized,
			content: devAttrContent, exists: devAttrExists, write: devAttrWrite},

		// a link's number changes with its text (linkIno), so its size never does
		kindDevLink: {mode: link, perm: 0o777, staticAttr: true, size: linkSize, target: devLinkTargetOf},
		kindLower:   {mode: link, perm: 0o777, staticAttr: true, size: linkSize, target: lowerTarget},
		kindMaster:  {mode: link, perm: 0o777, staticAttr: true, size: linkSize, target: masterTarget},
		kindUpper:   {mode: link, perm: 0o777, staticAttr: true, size: linkSize, target: upperTarget},
		kindReal:    {mode: file, perm: 0o755, loopback: true}, // its entry carries the real type
	}
}

// info returns k's row of the kind table.
func (k kind) info() *kindInfo { return &kinds[k] }

// fileType returns k's file type bits (kindInfo.mode).
func (k kind) fileType() uint32 { return kinds[k].mode }

// staticTimeout is how long the kernel may cache what never changes while
// the filesystem is mounted: the entries of the fixed skeleton root, sys,
// sys/class, sys/devices' way to the net directories, proc and proc/self,
// which hold directories only, the entries that live exactly as long as
// their directory (stableEntry), the class/net links and device directories
// while the link watch drops them on every link event, the links and
// bonding_slave/ of enslavement while the backend's reported changes drop
// them (entryTTL, entrysync.go), and the attributes of the kinds with
// staticAttr. Every other entry is looked up
// anew (timeout 0), so that a bond or slave's files exist exactly while the
// engine has it, proc/net's bonding while the module is loaded
// (bondingDirTimeout), and every file's LOOKUP refreshes its size (but the
// real files opened with FUSE passthrough, realTimeouts).
//
// The kernel changes its own idea of a file's size: an open with O_TRUNC
// sets it to 0 and a write to its length (FUSE_ATOMIC_O_TRUNC), and a short
// page-cache read — the splice read of sendfile (busybox cat) — to the
// text's length, and readers that copy by that size would copy "10" of
// "100\n". The LOOKUP of every path walk puts the page back: no entry of a
// file the daemon serves is cached, so cached attributes never outlive a
// walk (TestReadAfterWriteSendfile). A real file opened with FUSE
// passthrough is read by the kernel from the real sysfs file, past our
// inode's page cache and size, so its entry is cached
// (TestSysfsCachedFilesFollowChanges). A link's number changes with its text
// (linkIno), so its size is static too; the rendered device attributes'
// modes are the real sysfs's, so those are asked each time.
const staticTimeout = time.Hour

// bondingDirTimeout is how long the kernel may cache proc/net's bonding
// entry. It exists while the module is loaded, and Server.LoadedChanged
// drops the cached entry when that changes; the timeout bounds how long a
// lookup that raced with the change can keep a stale one.
const bondingDirTimeout = time.Second

// node is every file, directory and symlink of the bonding tree. Nodes
// hold names only, never state: everything is resolved in the latest
// snapshot.
type node struct {
	fs.Inode
	fsys *filesystem
	kind kind
	path string // relative to the mount point, "" for the root
	dev  string // the device of kindDev and everything below it; the bond of kindProcFile
	name string // the entry name of files and links

	loopOnce sync.Once        // creates loop
	loop     *fs.LoopbackRoot // kindDev with Sysfs: serves the real entries

	// listedFP is the fingerprint (listFP) of the listing the last READDIR
	// of a directory with cacheDir gave, 0 when the kernel holds none that
	// it may use without asking (a new inode, or one whose cache was
	// dropped).
	listedFP atomic.Uint64
}

// info returns the row of n's kind.
func (n *node) info() *kindInfo { return n.kind.info() }

// entry is one directory entry as a snapshot has it.
type entry struct {
	name string
	kind kind
	dev  string
	mode uint32 // file type of a kindReal entry
	ino  uint64 // inode number of a kindReal entry
}

func (e entry) fileType() uint32 {
	if e.mode != 0 {
		return e.mode
	}
	return e.kind.fileType()
}

func (e entry) inode(path string) uint64 {
	if e.ino != 0 {
		return e.ino
	}
	return inoOf(path)
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

// perm returns n's permission bits.
func (n *node) perm() uint32 {
	if in := n.info(); in.permOf != nil {
		return in.permOf(n)
	}
	return n.info().perm
}

// optionPerm is 0444 for a read-only option (bond.Option.ReadOnly), else
// 0644.
func optionPerm(n *node) uint32 {
	if o := bond.OptionByName(n.name); o != nil && o.ReadOnly() {
		return 0o444
	}
	return 0o644
}

// devAttrPerm is the real attribute's permission bits.
func devAttrPerm(n *node) uint32 { return n.fsys.realPerm(n.dev, n.name) }

// writable reports whether n accepts writes at all (0444 files do not, even
// for root: kernfs refuses the open), with its current mode (chmod).
func (n *node) writable() bool {
	return n.hasStore() && n.curPerm(n.fsys.snapshot())&0o222 != 0
}

// fillAttr fills out with n's attributes.
func (n *node) fillAttr(snap *bond.Snapshot, out *fuse.Attr) {
	in := n.info()
	out.Mode = in.mode | n.perm()
	out.Nlink = 1
	if in.mode == syscall.S_IFDIR {
		out.Nlink = 2
	}
	if in.size != nil {
		out.Size = in.size(n, snap)
	}
	out.Blksize = bond.PageSize
	out.SetTimes(&n.fsys.mtime, &n.fsys.mtime, &n.fsys.mtime)
	if in.cacheDir {
		if t, ok := n.fsys.dirTime(n.path); ok {
			out.SetTimes(nil, &t, &t)
		}
	}
	if n.kind == kindDevAttr {
		n.fsys.realOwner(n.dev, n.name, out)
	}
	n.applyStored(snap, out)
}

// pageSized is a page, as sysfs reports for its attributes (their text
// never exceeds one).
func pageSized(*node, *bond.Snapshot) uint64 { return bond.PageSize }

// procFileAttrSize is the size of proc/net/bonding/<bond>. procfs reports
// 0, but on FUSE the splice read of sendfile (busybox cat) copies no
// further than the size, so a proc file reports the pages its longest text
// (the one a CAP_NET_ADMIN reader gets) fills: an 802.3ad bond with five
// slaves and their LACPDU details takes more than one.
func procFileAttrSize(n *node, snap *bond.Snapshot) uint64 {
	if b := snap.Bond(n.dev); b != nil {
		return procFileSize(len(RenderProcAs(b, bond.Caller{NetAdmin: true})))
	}
	return bond.PageSize
}

// procFileSize is the size a proc file of textLen bytes reports: whole
// pages, at least one.
func procFileSize(textLen int) uint64 {
	return uint64(max(1, (textLen+bond.PageSize-1)/bond.PageSize)) * bond.PageSize
}
