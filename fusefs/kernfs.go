package fusefs

import (
	"context"
	"strconv"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"bondingfs/bond"
)

// kernfs's answers to the calls that are not reads and writes: chmod,
// chown and utimes are stored with the node and shown by stat (kernfs_iattrs,
// __kernfs_setattr), and the mode then decides opens as kernfs_fop_open
// does for sysfs (KERNFS_ROOT_EXTRA_OPEN_PERM_CHECK): no write bit for
// anyone, or no store, and an open for writing fails with EACCES even for
// root; no read bit, and an open for reading. What is stored lives as long
// as the device the node belongs to: a bond created again under the same
// name starts from the defaults, as its new kernfs nodes do.

// stored is what a SETATTR changed on one node.
type stored struct {
	mode                uint32 // permission bits, with hasMode
	uid, gid            uint32
	hasMode             bool
	hasUID, hasGID      bool
	atime, mtime, ctime time.Time // zero: the mount's time
}

// attrKey names node n's stored attributes: its path and the ifindex of the
// device it belongs to in snap, so that a device of the same name made
// again does not inherit them.
func (n *node) attrKey(snap *bond.Snapshot) string {
	id := -1
	if b := snap.Bond(n.dev); b != nil {
		id = b.Index
	} else if _, s := snap.Slave(n.dev); s != nil {
		id = s.Index
	}
	return n.path + "\x00" + strconv.Itoa(id)
}

// storedAttr returns what SETATTR stored for n, if anything.
func (n *node) storedAttr(snap *bond.Snapshot) (stored, bool) {
	v, ok := n.fsys.stored.Load(n.attrKey(snap))
	if !ok {
		return stored{}, false
	}
	return v.(stored), true
}

// applyStored puts what SETATTR stored for n over out.
func (n *node) applyStored(snap *bond.Snapshot, out *fuse.Attr) {
	st, ok := n.storedAttr(snap)
	if !ok {
		return
	}
	if st.hasMode {
		out.Mode = out.Mode&syscall.S_IFMT | st.mode
	}
	if st.hasUID {
		out.Owner.Uid = st.uid
	}
	if st.hasGID {
		out.Owner.Gid = st.gid
	}
	a, m, c := n.fsys.mtime, n.fsys.mtime, n.fsys.mtime
	if !st.atime.IsZero() {
		a = st.atime
	}
	if !st.mtime.IsZero() {
		m = st.mtime
	}
	if !st.ctime.IsZero() {
		c = st.ctime
	}
	out.SetTimes(&a, &m, &c)
}

// curPerm returns n's permission bits as stat shows them: stored by chmod,
// else the kind's.
func (n *node) curPerm(snap *bond.Snapshot) uint32 {
	if st, ok := n.storedAttr(snap); ok && st.hasMode {
		return st.mode & 0o777
	}
	return n.perm()
}

// setattr stores a chmod, chown or utimes of n (kernfs_iop_setattr); a
// size change (O_TRUNC) changes nothing. A rendered real attribute
// (kindDevAttr) passes the change to the real file instead, whose mode and
// owner stat shows.
func (n *node) setattr(ctx context.Context, in *fuse.SetAttrIn) syscall.Errno {
	if in.Valid&(fuse.FATTR_MODE|fuse.FATTR_UID|fuse.FATTR_GID|fuse.FATTR_ATIME|fuse.FATTR_MTIME) == 0 {
		return 0
	}
	if n.kind == kindDevAttr {
		p := n.fsys.realDev(n.dev) + "/" + n.name
		if m, ok := in.GetMode(); ok {
			if err := syscall.Chmod(p, m&0o7777); err != nil {
				return fs.ToErrno(err)
			}
		}
		uid, okU := in.GetUID()
		gid, okG := in.GetGID()
		if okU || okG {
			u, g := -1, -1
			if okU {
				u = int(uid)
			}
			if okG {
				g = int(gid)
			}
			if err := syscall.Chown(p, u, g); err != nil {
				return fs.ToErrno(err)
			}
		}
		return 0
	}
	snap := n.fsys.snapshot()
	key := n.attrKey(snap)
	n.fsys.storedMu.Lock()
	defer n.fsys.storedMu.Unlock()
	var st stored
	if v, ok := n.fsys.stored.Load(key); ok {
		st = v.(stored)
	}
	now := time.Now()
	if m, ok := in.GetMode(); ok {
		st.mode, st.hasMode = m&0o7777, true
	}
	if u, ok := in.GetUID(); ok {
		st.uid, st.hasUID = u, true
	}
	if g, ok := in.GetGID(); ok {
		st.gid, st.hasGID = g, true
	}
	if t, ok := in.GetATime(); ok {
		st.atime = t
	}
	if t, ok := in.GetMTime(); ok {
		st.mtime = t
	}
	st.ctime = now
	n.fsys.stored.Store(key, st)
	return 0
}

// openAllowed is kernfs_fop_open's check for sysfs: a file opened for
// writing needs a write bit for someone and a store, one opened for
// reading a read bit, whoever opens it (root too); EACCES otherwise.
func (n *node) openAllowed(snap *bond.Snapshot, flags uint32) syscall.Errno {
	perm := n.curPerm(snap)
	acc := flags & syscall.O_ACCMODE
	if acc != syscall.O_RDONLY && (perm&0o222 == 0 || !n.hasStore()) {
		return syscall.EACCES
	}
	if acc != syscall.O_WRONLY && perm&0o444 == 0 {
		return syscall.EACCES
	}
	return 0
}

// hasStore reports whether n takes writes at all: a write function and,
// for the kind's own mode, a write bit (a read-only option has no store).
func (n *node) hasStore() bool {
	return n.info().write != nil && n.perm()&0o200 != 0
}

// oDirect is O_DIRECT, which kernfs files refuse (EINVAL at open: they
// have no direct_IO).
const oDirect = unix.O_DIRECT
