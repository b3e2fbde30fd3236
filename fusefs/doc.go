// Package fusefs serves the bonding driver's user interface as a FUSE
// filesystem over a Backend (*bond.Registry): bonding_masters,
// <bond>/bonding/<option>, <slave>/bonding_slave/<attr>, the master,
// upper_ and lower_ links and /proc/net/bonding/<bond>. Its second job is a
// passthrough of the real /sys/class/net (Options.Sysfs) and of the
// caller's own /proc/net (Options.ProcNet), so that one mount can stand in
// for both paths.
//
// # The two trees
//
// The mount holds sys/class/net and the sys/devices directories its links
// lead to, the bonding driver's sysfs (bond_sysfs.c, bond_sysfs_slave.c, and
// the links of netdev_adjacent), and proc/net/bonding (bond_procfs.c). As lxcfs routes /proc and /sys once, each into its own
// file, this tree decides by kind in one place: everything below the root
// is a node of one kind, and the kind table (kinds in tree.go) is the one place that says what each kind is —
// its mode, its entries, its text, its writes, and how much of the backend
// a read brings up to date first. Adding a file kind is one constant and one
// row. The handlers read the row: dir.go (LOOKUP, READDIR), file.go (OPEN,
// READ, WRITE, SETATTR), link.go (READLINK). Texts are rendered by sysfs.go
// and procfs.go, and by the options' Show functions in package bond.
//
// # Name-only nodes, resolved per snapshot
//
// A node holds names (its kind, its path, the device and the file name),
// never state. Every request resolves those names in the backend's latest
// bond.Snapshot, so a node whose bond or slave is gone answers ENOENT, and
// a bond exists in the tree exactly while the snapshot has it. Inode numbers
// are hashes of the path (inoOf), so that the kernel's revalidating lookups
// find the node they cached.
//
// # Render at open
//
// OPEN renders a file's whole text once (as sysfs fills its page buffer at
// the first read) into the handle, and READ slices it, so the reads of one
// open see one consistent text. The files are opened with direct I/O, as
// their text changes while their size stays a page. A WRITE hands one
// write(2), at most a page, to the backend and returns only once it was
// applied; its errno is the backend's.
//
// # Timeouts
//
// Entry, negative and attribute timeouts are 0 by default (Mount's
// fs.Options), so every path walk asks again: a bond or slave appears and
// vanishes with the engine, and each file's LOOKUP refreshes its size,
// which the kernel otherwise changes itself after an O_TRUNC or a short
// sendfile read. Exceptions (staticTimeout, entryTTL): the real attribute
// files opened with FUSE passthrough (passthroughFile: Linux 6.9 and
// later, probed at Mount), whose reads never go through our inode's page
// cache, so their size never shrinks; the fixed skeleton
// and sys/devices' way to the net directories cache their entries,
// proc/net's bonding for bondingDirTimeout (Server.LoadedChanged drops
// it), a bond's bonding/ and every device's statistics/, queues/ and power/
// as long as their device directory (whose inode number changes with the
// device), the class/net links and the device directories while the link
// watch drops them on each RTNLGRP_LINK event (linkwatch.go), a slave's
// master, upper_ and bonding_slave/ and a bond's lower_ links (and a
// device's flags with the passthrough) while the backend reports the
// snapshots it publishes and the entries each one made stale are dropped
// before the change's caller returns (entrysync.go, bond.Registry.AfterDo),
// the links' text (a link's inode number changes with it), the subsystem
// and device links of a device directory, the listing of statistics/, of
// class/net and of the device directories (FOPEN_CACHE_DIR; every OPENDIR
// compares the listing with the last one given and drops the kernel's when
// it changed, node.OpendirHandle), and the attributes of the kinds that
// never change or are looked up at every walk (kindInfo.staticAttr) and of
// the real files.
//
// # The passthrough
//
// With Options.Sysfs, sys/class/net lists every device of the engine's
// network namespace, read from a private sysfs mount (PrivateSysfs,
// overlay_sys_private.go) that no mount of ours covers, as the kernel's
// links into sys/devices (devices.go), where each device's directory serves
// the real entries through go-fuse's LoopbackNode (sysNode), with their
// real link texts, under the bonding entries; for a bond, the few net-sysfs
// attributes where its TAP differs from a bonding device are rendered
// instead (overlay_sys.go). A real master, upper_ or lower_ link passes
// through unless the bond's own link of that name replaces it. chmod, chown
// and utimes of the emulation's files are stored and shown (kernfs.go).
// With Options.ProcNet, proc/net serves each request the entries of the
// calling thread's own /proc/<tid>/net plus bonding/, and proc/self/net —
// the view bound over the real /proc/net — shows bonding/ empty to callers
// outside the engine's namespace (overlay_proc.go).
//
// # Goroutines
//
// go-fuse serves each request on a goroutine of its own, many at once;
// nodes share no mutable state but a device directory's LoopbackRoot,
// created once (sync.Once), and the stored attributes and the net
// directories' inodes (sync.Map). The link watch and the entry sync run
// on goroutines of their own and drop cached entries from there, never from
// a request; a write waits for the entry sync (at most entrySyncWait), and
// an OPENDIR drops its directory's cached listing itself
// (FUSE_NOTIFY_INVAL_INODE takes no lock a request may hold).
// Backend.Snapshot must never block. A write
// blocks its request's goroutine until the backend has applied it. What a
// caller may see is decided from its pid's /proc entries (readerOf), at
// open. Server.LoadedChanged may be called from any goroutine but a FUSE
// request's. OpenPrivateSysfs mounts from a goroutine locked to a thread
// that enters the engine's namespace and dies with it.
package fusefs
