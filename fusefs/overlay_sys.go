package fusefs

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"bondingfs/bond"
)

// The passthrough of the real /sys/class/net (Options.Sysfs): every device
// directory of the engine's namespace is served from a private sysfs
// (PrivateSysfs) by go-fuse's LoopbackNode, with the synthetic bonding
// entries added on top and, for a bond, the few attributes where a TAP
// differs from a bonding device (net-sysfs.c, tun.c's tun_attr_group,
// bond_main.c) replaced.

// Flag bits of dev->flags that only the bonding driver sets
// (include/uapi/linux/if.h).
const (
	iffUp     = 0x1
	iffMaster = 0x400
	iffSlave  = 0x800
)

// tapOnly are files of a TAP's directory (tun.c's tun_attr_group) that a
// bonding device does not have.
var tapOnly = map[string]bool{"tun_flags": true, "owner": true, "group": true}

// bondAttrs are the net-sysfs attributes rendered for a bond rather than
// passed through from its TAP; slaveAttrsOver those rendered for a slave.
var (
	bondAttrs = map[string]bool{"operstate": true, "uevent": true, "flags": true, "speed": true, "duplex": true,
		"name_assign_type": true, "addr_assign_type": true}
	slaveAttrsOver = map[string]bool{"flags": true}
)

// realNet returns the real class/net directory, or "" without passthrough.
func (f *filesystem) realNet() string {
	if f.sysfs == "" {
		return ""
	}
	return f.sysfs + "/class/net"
}

// realDev returns the real directory of device dev.
func (f *filesystem) realDev(dev string) string { return f.realNet() + "/" + dev }

// realDevs lists the devices of the real class/net directory (without a
// real bonding_masters, which a kernel with the module would have).
func (f *filesystem) realDevs() []string {
	es, err := os.ReadDir(f.realNet())
	if err != nil {
		return nil
	}
	names := make([]string, 0, len(es))
	for _, e := range es {
		if e.Name() != "bonding_masters" {
			names = append(names, e.Name())
		}
	}
	return names
}

// devExists reports whether the real sysfs has device dev.
func (f *filesystem) devExists(dev string) bool {
	if f.sysfs == "" || !validName(dev) {
		return false
	}
	var st syscall.Stat_t
	return syscall.Stat(f.realDev(dev), &st) == nil
}

// realEntries returns the real entries of device dev's directory dir as
// the emulation shows them in snap: TAP-only files of a bond and the
// entries the emulation makes itself (emulated) are left out, and
// overridden attributes become kindDevAttr.
func (f *filesystem) realEntries(dir, dev string, snap *bond.Snapshot) []entry {
	des, err := readDirents(dir)
	if err != nil {
		return nil
	}
	sort.Slice(des, func(i, j int) bool { return des[i].name < des[j].name })
	es := make([]entry, 0, len(des))
	for _, d := range des {
		if hidden(snap, dev, d.name) {
			continue
		}
		if overridden(snap, dev, d.name) {
			es = append(es, entry{name: d.name, kind: kindDevAttr, dev: dev})
			continue
		}
		mode := d.mode
		if mode != syscall.S_IFDIR && mode != syscall.S_IFLNK {
			mode = syscall.S_IFREG
		}
		es = append(es, entry{name: d.name, kind: kindReal, dev: dev, mode: mode, ino: d.ino})
	}
	return es
}

// overridden reports whether name in device dev's directory is rendered
// rather than passed through, in snap.
func overridden(snap *bond.Snapshot, dev, name string) bool {
	if snap.Bond(dev) != nil && bondAttrs[name] {
		return true
	}
	if b, _ := snap.Slave(dev); b != nil && slaveAttrsOver[name] {
		return true
	}
	return false
}

// hidden reports whether the real name in dev's directory is not shown:
// the emulation makes an entry of that name, or it is a TAP's own file on
// a bond.
func hidden(snap *bond.Snapshot, dev, name string) bool {
	if _, ok := emulated(snap, dev, name); ok {
		return true
	}
	return snap.Bond(dev) != nil && tapOnly[name]
}

// loopRoot returns the LoopbackRoot that serves the real entries below
// device directory n, creating it at first use.
func (n *node) loopRoot() *fs.LoopbackRoot {
	n.loopOnce.Do(func() {
		dir := n.realDir()
		var st syscall.Stat_t
		_ = syscall.Stat(dir, &st)
		fsys, dev := n.fsys, n.dev
		n.loop = &fs.LoopbackRoot{
			Path: dir,
			// LoopbackRoot numbers a node swap(st_dev) ^ swap(Dev) ^ st_ino;
			// this Dev makes it realSalt(n) ^ st_ino, so that the nodes
			// below each device directory are distinct even where a
			// renamed device keeps its sysfs inodes.
			Dev:      uint64(st.Dev) ^ swap32(n.realSalt()),
			RootNode: n,
			NewNode: func(rd *fs.LoopbackRoot, parent *fs.Inode, name string, st *syscall.Stat_t) fs.InodeEmbedder {
				return &sysNode{LoopbackNode: fs.LoopbackNode{RootData: rd}, fsys: fsys, dev: dev}
			},
		}
	})
	return n.loop
}

// swap32 swaps the halves of x, as LoopbackRoot does to device numbers.
func swap32(x uint64) uint64 { return x<<32 | x>>32 }

// realSalt is mixed into the inode numbers of the real entries below device
// directory n: a hash of its path below bit 63.
func (n *node) realSalt() uint64 { return inoOf("real:"+n.path) &^ (1<<63 | 1<<31) }

// lookupReal looks name up in device directory n's real directory and
// returns a passthrough node for it.
func (n *node) lookupReal(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	rd := n.loopRoot()
	var st syscall.Stat_t
	if err := syscall.Lstat(filepath.Join(rd.Path, name), &st); err != nil {
		return nil, fs.ToErrno(err)
	}
	out.Attr.FromStat(&st)
	realTimeouts(name, true, &out.Attr, out, n.fsys.passthroughFile(n.dev, name))
	child := rd.NewNode(rd, n.EmbeddedInode(), name, &st)
	ino := swap32(uint64(st.Dev)) ^ swap32(rd.Dev) ^ st.Ino
	return n.NewInode(ctx, child, fs.StableAttr{Mode: st.Mode & syscall.S_IFMT, Ino: ino, Gen: 1}), 0
}

// sysNode is a real file, directory or symlink below a device directory,
// served by go-fuse's LoopbackNode with one change: attribute files are
// opened with FUSE passthrough where the kernel and our privileges allow
// it and the file can never be rendered instead (passthroughFile), else
// with direct I/O (their text changes while the size stays 4096).
// Links keep the real text: the device directory is at its real place
// below sys/devices, so a relative target leads where it does in sysfs.
type sysNode struct {
	fs.LoopbackNode
	fsys *filesystem
	dev  string
}

var _ fs.NodeOpener = (*sysNode)(nil)

// Open opens the real file (never following a symlink); reads and writes go
// straight to it. The daemon writes as root, so a caller without
// CAP_NET_ADMIN (who got past the mode bits with CAP_DAC_OVERRIDE) gets
// EPERM on write, as the kernel's net-sysfs stores (netdev_store) give it.
func (n *sysNode) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	rel := n.Path(n.RootData.RootNode.EmbeddedInode())
	if fh, ff, ok := n.openFastStats(rel, flags); ok { // fastpath_stats.go
		return fh, ff, 0
	}
	if flags&syscall.O_ACCMODE != syscall.O_RDONLY && !readerOf(ctx).NetAdmin {
		fh, ff, errno := openFd(filepath.Join(n.RootData.Path, rel), flags&^(syscall.O_ACCMODE|syscall.O_TRUNC))
		if errno != 0 {
			return nil, 0, errno
		}
		return noWrite{fh}, ff, 0
	}
	fh, ff, errno := openFd(filepath.Join(n.RootData.Path, rel), flags)
	if errno == 0 && n.fsys.passthroughFile(n.dev, rel) {
		return &passthroughHandle{fdHandle: fh.(*fdHandle), fsys: n.fsys}, ff &^ fuse.FOPEN_DIRECT_IO, 0
	}
	return fh, ff, errno
}

var (
	_ fs.NodeLookuper  = (*sysNode)(nil)
	_ fs.NodeGetattrer = (*sysNode)(nil)
)

// Lookup is LoopbackNode's, with realTimeouts.
func (n *sysNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	in, errno := n.LoopbackNode.Lookup(ctx, name, out)
	if errno == 0 {
		rel := n.Path(n.RootData.RootNode.EmbeddedInode()) + "/" + name
		realTimeouts(name, false, &out.Attr, out, n.fsys.passthroughFile(n.dev, rel))
	}
	return in, errno
}

// Getattr is LoopbackNode's, with realTimeouts' attribute timeouts.
func (n *sysNode) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	errno := n.LoopbackNode.Getattr(ctx, f, out)
	if errno != 0 {
		return errno
	}
	switch out.Mode & syscall.S_IFMT {
	case syscall.S_IFREG:
		out.SetTimeout(staticTimeout)
	case syscall.S_IFDIR:
		if stableRealDirs[n.name()] {
			out.SetTimeout(staticTimeout)
		}
	case syscall.S_IFLNK:
		if _, top := n.parentNode().(*node); top && stableRealLinks[n.name()] {
			out.SetTimeout(staticTimeout)
		}
	}
	return 0
}

// parentNode returns the node of n's directory.
func (n *sysNode) parentNode() fs.InodeEmbedder {
	_, p := n.EmbeddedInode().Parent()
	if p == nil {
		return nil
	}
	return p.Operations()
}

var _ fs.NodeOpendirHandler = (*sysNode)(nil)

// OpendirHandle is LoopbackNode's; a device's statistics/ (netstat_group:
// the same files for the device's whole life) is listed once and its
// listing kept in the kernel's cache (FOPEN_CACHE_DIR, FOPEN_KEEP_CACHE).
func (n *sysNode) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	fh, ff, errno := n.LoopbackNode.OpendirHandle(ctx, flags)
	if errno == 0 && n.name() == "statistics" {
		if _, top := n.parentNode().(*node); top {
			ff |= fuse.FOPEN_CACHE_DIR | fuse.FOPEN_KEEP_CACHE
		}
	}
	return fh, ff, errno
}

// name returns n's entry name.
func (n *sysNode) name() string {
	name, _ := n.EmbeddedInode().Parent()
	return name
}

// stableRealDirs are the directories every net device has for its whole
// life (net-sysfs.c: netdev_queue_update_kobjects' queues, the statistics
// group, the device core's power).
var stableRealDirs = map[string]bool{"statistics": true, "queues": true, "power": true}

// realTimeouts sets the timeouts of the lookup of a real entry. A regular
// file's attributes (its mode, and a page as its size) are cached. Its
// entry is cached too when the file is opened with FUSE passthrough
// (passthrough true, passthroughFile): then no read goes through the page
// cache of our inode. Otherwise it is asked again at every walk: a read
// through the page cache (the splice read of sendfile, busybox cat)
// shrinks the size the kernel keeps to the text's length
// (fuse_short_read), and it is the walk's LOOKUP that puts the page back
// before the next such read, which would otherwise stop at the old length.
// The directories every device has (stableRealDirs) exist as long as their
// device directory, whose number changes with the device (devIno):
// cached, and so are the links of a device directory (top) that every
// device has (stableRealLinks). Other directories and links (brport/, a
// bridge's master and lower_ links) come and go: asked again.
func realTimeouts(name string, top bool, a *fuse.Attr, out *fuse.EntryOut, passthrough bool) {
	switch a.Mode & syscall.S_IFMT {
	case syscall.S_IFREG:
		out.SetAttrTimeout(staticTimeout)
		if passthrough {
			out.SetEntryTimeout(staticTimeout)
		}
	case syscall.S_IFDIR:
		if stableRealDirs[name] {
			out.SetEntryTimeout(staticTimeout)
			out.SetAttrTimeout(staticTimeout)
		}
	case syscall.S_IFLNK:
		if top && stableRealLinks[name] {
			out.SetEntryTimeout(staticTimeout)
			out.SetAttrTimeout(staticTimeout)
		}
	}
}

// stableRealLinks are the links a net device's directory has for the
// device's whole life, with a text that depends only on the directory's
// place (device_add's subsystem link, and device for a device with a
// parent): cached like stableRealDirs.
var stableRealLinks = map[string]bool{"subsystem": true, "device": true}

// fastStatsFiles are the statistics files of a bond that fastStatsRead may
// serve (fastpath_stats.go).
var fastStatsFiles = map[string]bool{"rx_packets": true, "tx_packets": true, "rx_bytes": true,
	"tx_bytes": true, "rx_dropped": true, "tx_dropped": true}

// passthroughFile reports whether the real file rel (its path below the
// directory of device dev) is opened with FUSE passthrough, reads and
// writes going from the kernel straight to the real sysfs file: when the
// mount has it (Server.passthrough) and the file is always the real one
// whatever the device becomes, or its cached entry is dropped when that
// changes (a device's flags, rendered once it is enslaved, while the
// backend reports its changes: entrysync.go). A name the emulation may
// render or hide in a device's directory (slaveAttrsOver without that
// report; bondAttrs and tapOnly in a TAP's, which may be a bond's) and the
// statistics of a TAP that the eBPF fast path may add to (fastStatsFiles)
// are opened by the daemon and looked up at every walk: every open of an
// inode open for passthrough must be one too (fuse_file_io_open), and
// only a passthrough file's size is safe from a splice read. A TAP is
// decided by the real sysfs, never by the snapshot, since the engine
// publishes a bond after it created its TAP.
func (f *filesystem) passthroughFile(dev, rel string) bool {
	if !f.passthrough.Load() {
		return false
	}
	dir, name := path.Split(rel)
	switch dir {
	case "":
		if slaveAttrsOver[name] && !f.entrySync.Load() {
			return false
		}
		// only a TAP can be (or become) an emulated bond
		return !bondAttrs[name] && !tapOnly[name] || !f.isTAP(dev)
	case "statistics/":
		return !fastStatsFiles[name] || !f.isTAP(dev)
	}
	return true
}

// isTAP reports whether device dev is a TAP (its real directory has
// tun.c's tun_flags): what every emulated bond's device is, from its
// creation on, before the engine publishes the bond.
func (f *filesystem) isTAP(dev string) bool {
	var st syscall.Stat_t
	return syscall.Lstat(f.realDev(dev)+"/tun_flags", &st) == nil
}

// passthroughHandle is a real file opened for FUSE passthrough: go-fuse
// registers its descriptor as the inode's backing file
// (FUSE_DEV_IOC_BACKING_OPEN) and the kernel opens the real file itself
// with the caller's open flags and our credentials, so that reads, splice
// reads and writes never reach the daemon. A READ that does reach it means
// the registration failed after the mount's probe (Server.probePassthrough):
// passthrough is then turned off for every later open and lookup, every
// cached device entry is dropped (with the file entries cached below), and
// the read is served as a direct-I/O one.
type passthroughHandle struct {
	*fdHandle
	fsys *filesystem
}

var _ fs.FilePassthroughFder = (*passthroughHandle)(nil)

// PassthroughFd returns the descriptor to register as the backing file.
func (h *passthroughHandle) PassthroughFd() (int, bool) { return h.fd, h.fd >= 0 }

func (h *passthroughHandle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if h.fsys.passthrough.CompareAndSwap(true, false) {
		h.fsys.logf("fusefs: a passthrough file was read through the daemon: FUSE passthrough is off from now on")
		go h.fsys.forgetDevices(nil) // not from this request
	}
	return h.fdHandle.Read(ctx, dest, off)
}

// noWrite is a real file opened for a caller that may not write it: reads
// pass through, writes fail with EPERM.
type noWrite struct{ fs.FileHandle }

var (
	_ fs.FileReader   = noWrite{}
	_ fs.FileWriter   = noWrite{}
	_ fs.FileReleaser = noWrite{}
)

func (h noWrite) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if r, ok := h.FileHandle.(fs.FileReader); ok {
		return r.Read(ctx, dest, off)
	}
	return nil, syscall.EBADF
}

func (h noWrite) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	return 0, syscall.EPERM
}

func (h noWrite) Release(ctx context.Context) syscall.Errno {
	if r, ok := h.FileHandle.(fs.FileReleaser); ok {
		return r.Release(ctx)
	}
	return 0
}

// readReal reads one real attribute of device dev.
func (f *filesystem) readReal(dev, name string) (string, syscall.Errno) {
	b, err := os.ReadFile(filepath.Join(f.realDev(dev), name))
	if err != nil {
		return "", fs.ToErrno(err)
	}
	return string(b), 0
}

// realFlags returns dev->flags as the real flags file has it.
func (f *filesystem) realFlags(dev string) (uint64, syscall.Errno) {
	s, errno := f.readReal(dev, "flags")
	if errno != 0 {
		return 0, errno
	}
	v, err := strconv.ParseUint(strings.TrimSpace(s), 0, 64)
	if err != nil {
		return 0, syscall.EIO
	}
	return v, 0
}

// renderDevAttr returns the text of overridden attribute name of device dev
// (a bond or a slave in snap), as the kernel's net-sysfs.c shows it for a
// bonding device or an enslaved one:
//
//   - flags: the real flags plus IFF_MASTER on a bond, IFF_SLAVE on a slave
//     (bond_enslave, bond_setup);
//   - operstate: a bond is "up" when it is up and has carrier, else "down"
//     (a TAP can report "unknown");
//   - uevent: DEVTYPE=bond first, as bond_type adds it;
//   - speed, duplex: bond_ethtool_get_link_ksettings over the slaves that
//     can transmit (link up and active): the sum of their speeds, the
//     slowest in broadcast mode, -1 when unknown; the first known duplex;
//     EINVAL while the bond is down (netif_running);
//   - name_assign_type: EINVAL, as for every bond bond_create makes
//     (NET_NAME_UNKNOWN; a TAP named at TUNSETIFF says 3, NET_NAME_USER);
//   - addr_assign_type: 2 (NET_ADDR_STOLEN, bond_set_dev_addr) while the
//     bond carries the permanent address of one of its slaves; the engine
//     sets the TAP's address through netlink, which makes it 3.
func (f *filesystem) renderDevAttr(snap *bond.Snapshot, dev, name string) (string, syscall.Errno) {
	b := snap.Bond(dev)
	switch name {
	case "flags":
		v, errno := f.realFlags(dev)
		if errno != 0 {
			return "", errno
		}
		if b != nil {
			v |= iffMaster
		}
		if m, _ := snap.Slave(dev); m != nil {
			v |= iffSlave
		}
		return fmt.Sprintf("%#x\n", v), 0
	}
	if b == nil {
		return f.readReal(dev, name)
	}
	switch name {
	case "operstate":
		s, errno := f.readReal(dev, name)
		if errno != 0 {
			return "", errno
		}
		if strings.TrimSpace(s) != "unknown" {
			return s, 0
		}
		if v, _ := f.realFlags(dev); v&iffUp != 0 && b.Carrier {
			return "up\n", 0
		}
		return "down\n", 0
	case "name_assign_type":
		return "", syscall.EINVAL
	case "addr_assign_type":
		s, errno := f.readReal(dev, name)
		if errno != 0 || strings.TrimSpace(s) != "3" {
			return s, errno
		}
		for i := range b.Slaves {
			if len(b.HWAddr) > 0 && bytes.Equal(b.HWAddr, b.Slaves[i].PermHWAddr) {
				return "2\n", 0
			}
		}
		return s, 0
	case "uevent":
		s, errno := f.readReal(dev, name)
		if errno != 0 {
			return "", errno
		}
		return "DEVTYPE=bond\n" + s, 0
	case "speed", "duplex":
		if v, errno := f.realFlags(dev); errno != 0 {
			return "", errno
		} else if v&iffUp == 0 {
			return "", syscall.EINVAL
		}
		return bondLinkSettings(b, name), 0
	}
	return f.readReal(dev, name)
}

// bondLinkSettings returns the text of a running bond's speed or duplex
// (name), as bond_ethtool_get_link_ksettings finds them over the slaves
// that can transmit (link up and active): the sum of their speeds in Mb/s,
// the slowest in broadcast mode, -1 when none is known; the first known
// duplex, else "unknown".
func bondLinkSettings(b *bond.BondStatus, name string) string {
	speed, duplex := 0, bond.DuplexUnknown
	for i := range b.Slaves {
		s := &b.Slaves[i]
		if s.Link != bond.LinkUp || !s.Active {
			continue
		}
		if s.Speed != bond.SpeedUnknown && s.Speed > 0 {
			if b.Params.Mode == bond.ModeBroadcast {
				if speed == 0 || s.Speed < speed {
					speed = s.Speed
				}
			} else {
				speed += s.Speed
			}
		}
		if duplex == bond.DuplexUnknown && s.Duplex != bond.DuplexUnknown {
			duplex = s.Duplex
		}
	}
	if name == "speed" {
		if speed == 0 {
			speed = -1
		}
		return strconv.Itoa(speed) + "\n"
	}
	switch duplex {
	case bond.DuplexHalf:
		return "half\n"
	case bond.DuplexFull:
		return "full\n"
	}
	return "unknown\n"
}

// writeDevAttr passes one write(2) on an overridden attribute to the real
// file; on flags the bonding bits, which the real device cannot take, are
// cleared first.
func (f *filesystem) writeDevAttr(dev, name string, data []byte) syscall.Errno {
	if name == "flags" {
		if v, err := strconv.ParseUint(strings.TrimSpace(string(data)), 0, 64); err == nil {
			data = []byte(fmt.Sprintf("%#x\n", v&^(iffMaster|iffSlave)))
		}
	}
	fd, err := syscall.Open(filepath.Join(f.realDev(dev), name), syscall.O_WRONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return fs.ToErrno(err)
	}
	defer syscall.Close(fd)
	if _, err := syscall.Write(fd, data); err != nil {
		return fs.ToErrno(err)
	}
	return 0
}

// realOwner puts the owner of the real attribute name of dev into out.
func (f *filesystem) realOwner(dev, name string, out *fuse.Attr) {
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(f.realDev(dev), name), &st); err == nil {
		out.Owner.Uid, out.Owner.Gid = st.Uid, st.Gid
	}
}

// realPerm returns the permission bits of a real attribute of dev.
func (f *filesystem) realPerm(dev, name string) uint32 {
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(f.realDev(dev), name), &st); err != nil {
		return 0o444
	}
	return st.Mode & 0o777
}
