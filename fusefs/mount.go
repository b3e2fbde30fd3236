package fusefs

import (
	"context"
	"fmt"
	"log"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"bondingfs/bond"
)

// Backend is what the filesystem serves: *bond.Registry implements it; tests
// use a fake.
type Backend interface {
	// Snapshot returns the latest state; it must never block (every read
	// and lookup uses it).
	Snapshot() *bond.Snapshot
	// WriteMasters applies one write(2) on bonding_masters. It returns a
	// syscall.Errno on failure and logs the kernel lines itself.
	WriteMasters(ctx context.Context, data string) error
	// WriteOption applies one write(2) on <bond>/bonding/<option> by caller
	// c. It returns a syscall.Errno on failure and logs the kernel lines
	// itself.
	WriteOption(ctx context.Context, bond, option, data string, c bond.Caller) error
}

var _ Backend = (*bond.Registry)(nil)

// Options tune Mount.
type Options struct {
	// Debug logs every FUSE request and reply (go-fuse's debug output).
	Debug bool
	// DebugLog, with Debug, receives that output; nil means the standard
	// logger. (The tests count the requests an operation costs in it.)
	DebugLog *log.Logger
	// Logf receives diagnostics (a panicking request); nil means log.Printf.
	Logf func(format string, args ...any)
	// AllowFusermount lets go-fuse fall back to the fusermount binary when
	// mount(2) fails (not root); by default only mount(2) is tried.
	AllowFusermount bool
	// Sysfs is the root of a sysfs of the engine's network namespace that
	// no mount of ours covers (PrivateSysfs.Path). When set, sys/class/net
	// lists every device of that namespace, and each device directory
	// passes its real entries through (go-fuse's LoopbackNode) under the
	// bonding entries; a bond's directory reads as a bonding device's
	// (overlay_sys.go). "" serves the bonding entries alone.
	Sysfs string
	// ProcNet makes proc/net a passthrough of the caller's own
	// /proc/<tid>/net plus bonding/ (overlay_proc.go), and adds proc/self/net,
	// the same whose bonding/ is empty for callers outside the engine's
	// network namespace: the view that stands in for /proc/net. Off,
	// proc/net holds bonding/ alone.
	ProcNet bool
	// EngineNetns is the inode number of the engine's network namespace
	// (stat of /proc/self/ns/net or /var/run/netns/NAME). With ProcNet,
	// proc/self/net/bonding lists the bonds only to callers in it; 0
	// lists them to every caller.
	EngineNetns uint64
	// NoPassthrough opens the real attribute files through the daemon
	// (direct I/O) even where the kernel offers FUSE passthrough; each
	// path walk to one then costs a LOOKUP (Server.probePassthrough).
	NoPassthrough bool
}

// Server is one mounted bondingfs.
type Server struct {
	srv  *fuse.Server
	dir  string
	root *node
	// watchDone is closed when the link watch ends (linkwatch.go); nil
	// without one.
	watchDone chan struct{}
	// syncDone is closed when the entry sync ends (entrysync.go); nil
	// without one.
	syncDone chan struct{}
}

// LoadedChanged tells the kernel that proc/net's bonding entry appeared or
// vanished (the Loader's answer changed): the cached lookups of
// proc/net/bonding and proc/self/net/bonding are dropped
// (FUSE_NOTIFY_INVAL_ENTRY), so that the next access asks again. Call it
// after the change, never from a FUSE request.
func (s *Server) LoadedChanged() {
	for _, path := range [][]string{{"proc", "net"}, {"proc", "self", "net"}} {
		in := s.root.EmbeddedInode()
		for _, name := range path {
			if in = in.GetChild(name); in == nil {
				break
			}
		}
		if in != nil {
			in.NotifyEntry("bonding")
		}
	}
}

// Dir returns the mount point.
func (s *Server) Dir() string { return s.dir }

// Unmount unmounts the filesystem and waits for the request loops to end.
// It is idempotent.
func (s *Server) Unmount() error {
	err := s.srv.Unmount()
	if s.watchDone != nil && err == nil {
		<-s.watchDone
	}
	if s.syncDone != nil && err == nil {
		<-s.syncDone
	}
	return err
}

// Wait blocks until the filesystem is unmounted (by Unmount or umount(8)).
func (s *Server) Wait() { s.srv.Wait() }

// Mount mounts the filesystem on dir (which must exist) with mount(2), as
// root, and serves it until Unmount. Layout under dir:
//
//	sys/class/net/bonding_masters                      0644
//	sys/class/net/<dev>                                -> ../../devices/virtual/net/<dev>
//	sys/devices/virtual/net/<bond>/bonding/<option>    0644, 0444 if read-only (bond.Options)
//	sys/devices/virtual/net/<bond>/lower_<slave>       -> ../<slave>
//	sys/devices/virtual/net/<slave>/bonding_slave/<attr> 0444
//	sys/devices/virtual/net/<slave>/master, upper_<bond> -> ../<bond>
//	proc/net/bonding/<bond>                            0444
//
// (a NIC's directory is at its real place, sys/devices/pci…/net/<dev>).
//
// Entries are looked up in the backend's latest Snapshot on each access,
// with the timeouts the package doc explains.
func Mount(dir string, be Backend, opts Options) (*Server, error) {
	logf := opts.Logf
	if logf == nil {
		logf = log.Printf
	}
	fsys := &filesystem{be: be, logf: logf, mtime: time.Now(),
		sysfs: opts.Sysfs, procNet: opts.ProcNet, engineNetns: opts.EngineNetns}
	root := &node{fsys: fsys, kind: kindRoot}
	zero := time.Duration(0)
	fo := &fs.Options{
		MountOptions: fuse.MountOptions{
			AllowOther:        true,
			FsName:            "bondingfs",
			Name:              "bondingfs",
			DirectMount:       true,
			DirectMountStrict: !opts.AllowFusermount,
			// the kernel checks mode bits for callers other than root
			Options:       []string{"default_permissions"},
			DisableXAttrs: true,
			// every link's number changes with its text (linkIno)
			EnableSymlinkCaching: true,
			// READDIRPLUS would look up every entry of every listing:
			// the entries the kernel may cache stay cached without it,
			// and the others are asked again at each walk anyway
			DisableReadDirPlus: true,
			Debug:              opts.Debug,
			Logger:             opts.DebugLog,
			PanicHandler: func(v any) fuse.Status {
				logf("fusefs: request panicked: %v", v)
				return fuse.EIO
			},
		},
		EntryTimeout:    &zero,
		AttrTimeout:     &zero,
		NegativeTimeout: &zero,
		RootStableAttr:  &fs.StableAttr{Ino: 1},
	}
	if os.Getenv("GOMAXPROCS") == "" && runtime.GOMAXPROCS(0) < minProcs {
		runtime.GOMAXPROCS(minProcs)
	}
	srv, err := fs.Mount(dir, root, fo)
	if err != nil {
		return nil, fmt.Errorf("fusefs: mount %s: %w", dir, err)
	}
	s := &Server{srv: srv, dir: dir, root: root}
	if opts.Sysfs != "" && !opts.NoPassthrough {
		if err := s.probePassthrough(opts.Sysfs); err != nil {
			logf("fusefs: FUSE passthrough unavailable (%v): the real attribute files are read through the daemon", err)
		} else {
			fsys.passthrough.Store(true)
		}
	}
	if cf, ok := be.(changeFeed); ok {
		es := newEntrySync(fsys)
		watch, stopWatch := cf.Watch()
		stopAfter := cf.AfterDo(es.afterDo)
		fsys.entrySync.Store(true)
		stop := make(chan struct{})
		s.syncDone = make(chan struct{})
		go func() {
			defer close(s.syncDone)
			es.run(watch, stop)
		}()
		go func() {
			srv.Wait()
			stopAfter()
			stopWatch()
			close(stop)
		}()
	}
	if v, ok := privates.Load(opts.Sysfs); ok {
		if nl := v.(*PrivateSysfs).takeLinkSocket(); nl >= 0 {
			f := os.NewFile(uintptr(nl), "rtnetlink")
			s.watchDone = make(chan struct{})
			fsys.watch.Store(true)
			go s.watchLinks(f)
			go func() { srv.Wait(); f.Close() }()
		}
	}
	return s, nil
}

// probePassthrough reports why the real attribute files below sysfs cannot
// be opened with FUSE passthrough, or nil when they can: the kernel must
// offer it (FUSE_PASSTHROUGH, Linux 6.9 and later, CONFIG_FUSE_PASSTHROUGH;
// go-fuse asks for it at INIT) and let us register a sysfs file as a
// backing file (FUSE_DEV_IOC_BACKING_OPEN needs CAP_SYS_ADMIN and a
// backing filesystem below the mount's stacking depth). The probe
// registers loopback's mtu and unregisters it at once.
func (s *Server) probePassthrough(sysfs string) error {
	if s.srv.KernelSettings().Flags64()&fuse.CAP_PASSTHROUGH == 0 {
		return fmt.Errorf("the kernel does not offer FUSE_PASSTHROUGH")
	}
	f, err := os.Open(sysfs + "/class/net/lo/mtu")
	if err != nil {
		return err
	}
	defer f.Close()
	id, errno := s.srv.RegisterBackingFd(&fuse.BackingMap{Fd: int32(f.Fd())})
	if errno != 0 {
		return fmt.Errorf("FUSE_DEV_IOC_BACKING_OPEN: %w", errno)
	}
	if errno := s.srv.UnregisterBackingFd(id); errno != 0 {
		return fmt.Errorf("FUSE_DEV_IOC_BACKING_CLOSE: %w", errno)
	}
	return nil
}

// minProcs is the GOMAXPROCS Mount raises the process to, unless the
// GOMAXPROCS environment variable set it (TestOracleGOMAXPROCS1 serves on
// one P: the daemon must never block on itself). Each of
// go-fuse's readers (as many as GOMAXPROCS, at least 2) sits in a blocking
// read(2) of /dev/fuse holding a P; with as many Ps as CPUs on a small
// machine (2), the reader a request wakes finds no idle P and waits for
// one, and a FUSE round trip took 145 µs against 80 µs with 4 Ps (a LOOKUP
// of a rendered attribute, 2 vCPUs, Linux 6.18; docs/benchmarks.md).
const minProcs = 4

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
	// passthrough is set while the real attribute files are opened with
	// FUSE passthrough (Server.probePassthrough, passthroughFile).
	passthrough atomic.Bool
	// watch is set while the link events of the engine's namespace
	// invalidate the cached device entries (linkwatch.go).
	watch atomic.Bool
	// entrySync is set when the backend reports its changes and the
	// entries of enslavement are cached (entrysync.go).
	entrySync atomic.Bool
	// devDirs holds the inodes (*fs.Inode) of class/net and of the net
	// directories below sys/devices the kernel has looked up, by path: the
	// directories whose device entries the link watch drops.
	devDirs sync.Map
	// dirTimes holds the modification times (int64 nanoseconds since
	// 1970) of the directories whose listing the kernel may cache, by
	// path, once their listing was seen to change (touchDir).
	dirTimes sync.Map
	// stored holds what chmod, chown and utimes set on the nodes
	// (kernfs.go), by attrKey; storedMu serialises the changes.
	stored   sync.Map
	storedMu sync.Mutex
}

// syncTimeout bounds how long a read waits for the backend to catch up
// with the host (Syncer, BondSyncer).
const syncTimeout = 200 * time.Millisecond

// Syncer is implemented by backends that can apply pending host changes
// before a read (bond.Registry.Sync), so that `ip link del eth2; cat slaves`
// never shows the deleted slave.
type Syncer interface {
	Sync(ctx context.Context) error
}

// BondSyncer is implemented by backends that can bring one bond and its
// slaves up to date with the host (bond.Registry.SyncBond): what a read of
// one bond's files needs, at a cost that does not grow with the number of
// bonds.
type BondSyncer interface {
	SyncBond(ctx context.Context, name string) error
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

// snapshot returns the backend's latest snapshot (an empty one if it has
// none yet).
func (f *filesystem) snapshot() *bond.Snapshot {
	if s := f.be.Snapshot(); s != nil {
		return s
	}
	return &bond.Snapshot{}
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

// syncedFor is syncedSnapshot for what node n shows (kindInfo.sync): the
// files and directories of one bond or slave bring only that bond and its
// slaves up to date; bonding_masters and the listings of every bond bring
// all.
func (f *filesystem) syncedFor(ctx context.Context, n *node) *bond.Snapshot {
	bs, ok := f.be.(BondSyncer)
	if !ok {
		return f.syncedSnapshot(ctx)
	}
	name := ""
	switch scope := n.info().sync; scope {
	case syncBond:
		name = n.dev
	case syncDevOrAll, syncDevOrNone:
		snap := f.snapshot()
		if snap.Bond(n.dev) != nil {
			name = n.dev
		} else if b, _ := snap.Slave(n.dev); b != nil {
			name = b.Name
		} else if scope == syncDevOrNone {
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
