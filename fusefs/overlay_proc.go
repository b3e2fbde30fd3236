package fusefs

import (
	"context"
	"os"
	"path"
	"strconv"
	"strings"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"bondingfs/bond"
)

// The per-caller /proc/net (Options.ProcNet). /proc/net is a symlink to
// self/net: every process sees the network namespace of its own thread. A
// mount over it must keep that, so proc/net here serves, to each request,
// the entries of /proc/<tid>/net of the thread that made it (the pid of the
// FUSE request; the kernel reports the thread's id), plus bonding/.
//
// Two views: proc/net/bonding lists the bonds to every caller (the mount's
// own interface, read from anywhere), while proc/self/net/bonding — the
// target of the real /proc/net — lists them only to callers in the
// engine's network namespace and is empty for the others, as the kernel
// gives each namespace its own /proc/net/bonding.

// strict reports whether n is in the proc/self/net view.
func (n *node) strict() bool { return strings.HasPrefix(n.path, "proc/self/") }

// callerNet returns the /proc/<tid>/net directory of the caller behind ctx.
// A request without a caller (pid 0: the caller's pid namespace is not the
// daemon's) gets the daemon's own.
func callerNet(ctx context.Context) string {
	if c, ok := fuse.FromContext(ctx); ok && c.Pid != 0 {
		return "/proc/" + strconv.FormatUint(uint64(c.Pid), 10) + "/net"
	}
	return "/proc/thread-self/net"
}

// callerNetns returns the inode of the caller's network namespace, 0 when
// unknown.
func callerNetns(ctx context.Context) uint64 {
	c, ok := fuse.FromContext(ctx)
	if !ok || c.Pid == 0 {
		return 0
	}
	var st syscall.Stat_t
	if syscall.Stat("/proc/"+strconv.FormatUint(uint64(c.Pid), 10)+"/ns/net", &st) != nil {
		return 0
	}
	return st.Ino
}

// seesBonding reports whether the caller behind ctx sees the bonds in
// proc/self/net/bonding: every caller when the engine's namespace is not
// known, else only callers in it; nobody while the module is unloaded
// (Loader).
func (f *filesystem) seesBonding(ctx context.Context) bool {
	return f.loaded() && (f.engineNetns == 0 || callerNetns(ctx) == f.engineNetns)
}

// lookupProcNet looks name up in the caller's /proc/<tid>/net.
func (n *node) lookupProcNet(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	child := &procNode{fsys: n.fsys, rel: name}
	return child.stable(ctx, n.EmbeddedInode(), out)
}

// readdirProcNet lists the caller's /proc/<tid>/net, plus bonding while
// the module is loaded.
func (n *node) readdirProcNet(ctx context.Context) (fs.DirStream, syscall.Errno) {
	list, errno := listProc(callerNet(ctx))
	if errno != 0 {
		return nil, errno
	}
	if n.fsys.loaded() { // no bonding/ while the module is unloaded (Loader)
		list = append(list, fuse.DirEntry{Name: "bonding", Mode: syscall.S_IFDIR, Ino: inoOf(n.path + "/bonding")})
	}
	return fs.NewListDirStream(list), 0
}

func listProc(dir string) ([]fuse.DirEntry, syscall.Errno) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, fs.ToErrno(err)
	}
	list := make([]fuse.DirEntry, 0, len(des))
	for _, d := range des {
		mode := direntMode(d)
		list = append(list, fuse.DirEntry{Name: d.Name(), Mode: mode, Ino: inoOf("proc/net/" + d.Name())})
	}
	return list, 0
}

// procNode is a file or directory below proc/net, passed through to the
// same path below the caller's /proc/<tid>/net at every request.
type procNode struct {
	fs.Inode
	fsys *filesystem
	rel  string // path below net/
}

var (
	_ fs.NodeLookuper   = (*procNode)(nil)
	_ fs.NodeReaddirer  = (*procNode)(nil)
	_ fs.NodeGetattrer  = (*procNode)(nil)
	_ fs.NodeSetattrer  = (*procNode)(nil)
	_ fs.NodeOpener     = (*procNode)(nil)
	_ fs.NodeReadlinker = (*procNode)(nil)
)

func (n *procNode) real(ctx context.Context) string { return callerNet(ctx) + "/" + n.rel }

// stable stats n for the caller and registers it below parent.
func (n *procNode) stable(ctx context.Context, parent *fs.Inode, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	var st syscall.Stat_t
	if err := syscall.Lstat(n.real(ctx), &st); err != nil {
		return nil, fs.ToErrno(err)
	}
	fillProcAttr(&st, &out.Attr)
	return parent.NewInode(ctx, n, fs.StableAttr{Mode: st.Mode & syscall.S_IFMT, Ino: inoOf("proc/net/" + n.rel)}), 0
}

// fillProcAttr copies st, but reports a page as the size of a regular file
// (procfs says 0; on FUSE a 0 size makes sendfile readers stop at once).
func fillProcAttr(st *syscall.Stat_t, a *fuse.Attr) {
	a.FromStat(st)
	a.Ino = 0
	if st.Mode&syscall.S_IFMT == syscall.S_IFREG {
		a.Size = bond.PageSize
	}
}

// Lookup finds name in the caller's directory.
func (n *procNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	child := &procNode{fsys: n.fsys, rel: path.Join(n.rel, name)}
	return child.stable(ctx, n.EmbeddedInode(), out)
}

// Readdir lists the caller's directory.
func (n *procNode) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	list, errno := listProc(n.real(ctx))
	if errno != 0 {
		return nil, errno
	}
	for i := range list {
		list[i].Ino = inoOf("proc/net/" + path.Join(n.rel, list[i].Name))
	}
	return fs.NewListDirStream(list), 0
}

// Getattr stats the caller's file.
func (n *procNode) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	var st syscall.Stat_t
	if err := syscall.Lstat(n.real(ctx), &st); err != nil {
		return fs.ToErrno(err)
	}
	fillProcAttr(&st, &out.Attr)
	return 0
}

// Setattr accepts the truncation of `echo x > file` (procfs ignores it)
// and changes nothing else.
func (n *procNode) Setattr(ctx context.Context, f fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if in.Valid&^(fuse.FATTR_SIZE|fuse.FATTR_FH|fuse.FATTR_LOCKOWNER) != 0 {
		return syscall.EPERM
	}
	return n.Getattr(ctx, f, out)
}

// Open opens the caller's file with direct I/O (its text is made at read
// time, its size is unknown).
func (n *procNode) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	return openFd(n.real(ctx), flags)
}

// fdHandle is an open real sysfs or procfs file. Reads copy through a
// buffer (pread) rather than splice, which neither sysfs nor seq_file
// offers.
type fdHandle struct {
	fd int
}

var (
	_ fs.FileReader   = (*fdHandle)(nil)
	_ fs.FileWriter   = (*fdHandle)(nil)
	_ fs.FileReleaser = (*fdHandle)(nil)
	_ fs.FileFlusher  = (*fdHandle)(nil)
)

// openFd opens p with the flags of a FUSE open (without creating,
// truncating or following a final symlink) for direct I/O: the text of
// these files is made at read time while their size stays fixed.
func openFd(p string, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	flags &^= syscall.O_APPEND | syscall.O_CREAT | syscall.O_EXCL | syscall.O_TRUNC | fuse.FMODE_EXEC
	fd, err := syscall.Open(p, int(flags)|syscall.O_CLOEXEC|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, 0, fs.ToErrno(err)
	}
	return &fdHandle{fd: fd}, fuse.FOPEN_DIRECT_IO, 0
}

func (h *fdHandle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	n, err := syscall.Pread(h.fd, dest, off)
	if err != nil {
		return nil, fs.ToErrno(err)
	}
	return fuse.ReadResultData(dest[:n]), 0
}

func (h *fdHandle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	n, err := syscall.Pwrite(h.fd, data, off)
	if err != nil {
		return 0, fs.ToErrno(err)
	}
	return uint32(n), 0
}

func (h *fdHandle) Flush(ctx context.Context) syscall.Errno { return 0 }

func (h *fdHandle) Release(ctx context.Context) syscall.Errno {
	if h.fd >= 0 {
		syscall.Close(h.fd)
		h.fd = -1
	}
	return 0
}

// Readlink returns the caller's link target.
func (n *procNode) Readlink(ctx context.Context) ([]byte, syscall.Errno) {
	t, err := os.Readlink(n.real(ctx))
	if err != nil {
		return nil, fs.ToErrno(err)
	}
	return []byte(t), 0
}

// direntMode is the file type bits (S_IFDIR, S_IFLNK or S_IFREG) of a
// directory entry read from a real directory, for a FUSE listing.
func direntMode(d os.DirEntry) uint32 {
	switch {
	case d.IsDir():
		return syscall.S_IFDIR
	case d.Type()&os.ModeSymlink != 0:
		return syscall.S_IFLNK
	}
	return syscall.S_IFREG
}
