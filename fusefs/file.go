package fusefs

import (
	"context"
	"errors"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"bondingfs/bond"
)

// Files: OPEN renders the text once (kindInfo.content), READ slices it,
// WRITE hands one write(2) to the backend (kindInfo.write); SETATTR and
// FLUSH are answered without effect, and nothing can be created, linked,
// renamed or removed.

var (
	_ fs.NodeSetattrer = (*node)(nil)
	_ fs.NodeOpener    = (*node)(nil)
	_ fs.NodeReader    = (*node)(nil)
	_ fs.NodeWriter    = (*node)(nil)
	_ fs.NodeWritever  = (*node)(nil)
	_ fs.NodeCreater   = (*node)(nil)
	_ fs.NodeMknoder   = (*node)(nil)
	_ fs.NodeMkdirer   = (*node)(nil)
	_ fs.NodeUnlinker  = (*node)(nil)
	_ fs.NodeRmdirer   = (*node)(nil)
	_ fs.NodeSymlinker = (*node)(nil)
	_ fs.NodeLinker    = (*node)(nil)
	_ fs.NodeRenamer   = (*node)(nil)
	_ fs.NodeFlusher   = (*node)(nil)
)

// content renders file n for caller c, or fails with ENOENT when it is
// gone; EISDIR for a node without text.
func (n *node) content(snap *bond.Snapshot, c bond.Caller) (string, syscall.Errno) {
	if f := n.info().content; f != nil {
		return f(n, snap, c)
	}
	return "", syscall.EISDIR
}

func mastersContent(n *node, snap *bond.Snapshot, c bond.Caller) (string, syscall.Errno) {
	return RenderMasters(snap), 0
}

func optionContent(n *node, snap *bond.Snapshot, c bond.Caller) (string, syscall.Errno) {
	b := snap.Bond(n.dev)
	o := bond.OptionByName(n.name)
	if b == nil || o == nil {
		return "", syscall.ENOENT
	}
	return RenderOption(o, b, c), 0
}

func slaveAttrContent(n *node, snap *bond.Snapshot, c bond.Caller) (string, syscall.Errno) {
	_, s := snap.Slave(n.dev)
	if s == nil {
		return "", syscall.ENOENT
	}
	v, ok := RenderSlaveAttr(s, n.name)
	if !ok {
		return "", syscall.ENOENT
	}
	return v, 0
}

func procFileContent(n *node, snap *bond.Snapshot, c bond.Caller) (string, syscall.Errno) {
	b := snap.Bond(n.dev)
	if b == nil {
		return "", syscall.ENOENT
	}
	return RenderProcAs(b, c), 0
}

func devAttrContent(n *node, snap *bond.Snapshot, c bond.Caller) (string, syscall.Errno) {
	return n.fsys.renderDevAttr(snap, n.dev, n.name)
}

// callerMatters reports whether what file n shows depends on the reader's
// CAP_NET_ADMIN (readerOf, which reads the caller's /proc entries): only a
// bond in 802.3ad mode hides anything (its proc file's and ad_* options'
// actor and partner details).
func (n *node) callerMatters(snap *bond.Snapshot) bool {
	if !n.info().byCaller {
		return false
	}
	b := snap.Bond(n.dev)
	return b != nil && b.Params.Mode == bond.Mode8023AD
}

// exists reports whether writable file n is still in snap.
func (n *node) exists(snap *bond.Snapshot) bool {
	if f := n.info().exists; f != nil {
		return f(n, snap)
	}
	_, errno := n.content(snap, bond.Caller{})
	return errno == 0
}

func mastersExists(n *node, snap *bond.Snapshot) bool { return n.fsys.loaded() }

func optionExists(n *node, snap *bond.Snapshot) bool {
	return snap.Bond(n.dev) != nil && bond.OptionByName(n.name) != nil
}

func devAttrExists(n *node, snap *bond.Snapshot) bool { return n.fsys.devExists(n.dev) }

// handle is an open file: its text, rendered once at open (like sysfs's
// buffer), so that every read of one open sees one consistent text.
type handle struct {
	data []byte
}

// Open renders the file for reading into the handle; opening a 0444 file for
// writing fails with EACCES, even for root (but see kindInfo.procfs).
// EISDIR for a directory, ELOOP for a link.
func (n *node) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	in := n.info()
	switch in.mode {
	case syscall.S_IFDIR:
		return nil, 0, syscall.EISDIR
	case syscall.S_IFLNK:
		return nil, 0, syscall.ELOOP
	}
	if flags&oDirect != 0 {
		return nil, 0, syscall.EINVAL // kernfs and procfs have no direct I/O
	}
	acc := flags & syscall.O_ACCMODE
	if acc != syscall.O_RDONLY && !n.writable() && !in.procfs {
		return nil, 0, syscall.EACCES
	}
	if errno := n.openAllowed(n.fsys.snapshot(), flags); errno != 0 && !in.procfs {
		return nil, 0, errno
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
	if n.info().procfs {
		return 0, syscall.EIO
	}
	if !n.writable() {
		return 0, syscall.EACCES
	}
	if len(data) > bond.PageSize {
		data = data[:bond.PageSize]
	}
	defer func() {
		if r := recover(); r != nil {
			n.fsys.logf("fusefs: write %q to %s panicked: %v", data, n.path, r)
			written, errno = 0, syscall.EIO
		}
	}()
	if errno := n.info().write(n, ctx, data); errno != 0 {
		return 0, errno
	}
	return uint32(len(data)), 0
}

func mastersWrite(n *node, ctx context.Context, data []byte) syscall.Errno {
	return writeErrno(n.fsys.be.WriteMasters(ctx, string(data)))
}

func optionWrite(n *node, ctx context.Context, data []byte) syscall.Errno {
	return writeErrno(n.fsys.be.WriteOption(ctx, n.dev, n.name, string(data), writerOf(ctx)))
}

// devAttrWrite passes a write to the real attribute. net-sysfs stores need
// CAP_NET_ADMIN (netdev_store), and the daemon writes as root: EPERM for a
// caller without it.
func devAttrWrite(n *node, ctx context.Context, data []byte) syscall.Errno {
	if !readerOf(ctx).NetAdmin {
		return syscall.EPERM
	}
	return n.fsys.writeDevAttr(n.dev, n.name, data)
}

// writeErrno maps a backend error to the errno write(2) returns:
// bond.ErrnoOf (0 for nil, the errno it carries, else EINVAL), except that
// an error without a non-zero errno from a cancelled or expired context (an
// interrupted write) is EINTR.
func writeErrno(err error) syscall.Errno {
	var e syscall.Errno
	if !(errors.As(err, &e) && e != 0) && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return syscall.EINTR
	}
	return bond.ErrnoOf(err)
}

// Flush answers ENOSYS, which tells the kernel that this filesystem needs
// no FUSE_FLUSH at all (fc->no_flush): a close(2) then costs no round trip.
// Nothing here acts at close: writes are applied by write(2), as sysfs
// does, and the passthrough's files are closed by FUSE_RELEASE.
func (n *node) Flush(ctx context.Context, f fs.FileHandle) syscall.Errno {
	return syscall.ENOSYS
}

// Setattr stores a chmod, chown or utimes as kernfs does (setattr,
// kernfs.go) and ignores a size change: `echo x > f` truncates (O_TRUNC
// arrives as a size change) before it writes. Its reply's attributes are
// not cached, so the fstat(2) bash makes next costs a GETATTR (~20 µs).
func (n *node) Setattr(ctx context.Context, f fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if errno := n.setattr(ctx, in); errno != 0 {
		return errno
	}
	n.fillAttr(n.fsys.snapshot(), &out.Attr)
	return 0
}

// Create fails with EACCES, as creating a file in sysfs does.
func (n *node) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	return nil, nil, 0, syscall.EACCES
}

// Mknod fails with EPERM, as mknod(2) and mkfifo(3) in sysfs do (vfs_mknod:
// kernfs directories have no mknod).
func (n *node) Mknod(ctx context.Context, name string, mode uint32, dev uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return nil, syscall.EPERM
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
