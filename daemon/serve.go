package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"bondingfs/bond"
	"bondingfs/bond/modparams"
	"bondingfs/compat"
	"bondingfs/fusefs"
	"bondingfs/internal/osmem"
	"bondingfs/internal/state"
	"bondingfs/modes"
	"bondingfs/netdev"
	"bondingfs/status"
)

// kernelLog writes kernel-style log lines, one per line, to a file or stderr.
type kernelLog struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *kernelLog) line(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintln(l.w, s)
}

// ServeConfig is what `bondingfs serve` runs: its flags, parsed by main.
type ServeConfig struct {
	Root      string   // mount point of the sysfs/procfs tree
	Netns     string   // the engine's network namespace (ip netns name or path; "" for the caller's)
	LogPath   string   // kernel log file, appended to ("" for Stderr)
	Configs   []string // legacy configuration files or directories applied at start
	RealPaths bool     // also serve the tree at /sys/class/net and /proc/net
	Unloaded  bool     // start with the module unloaded (ModuleArgs and Configs empty)
	// Ctl is the control socket ("" for CtlPath(Root)).
	Ctl string
	// State is the crash journal's directory ("" for StateDir(Root,
	// Netns), "none" for no journal).
	State      string
	FuseDebug  bool     // log every FUSE request and reply
	Metrics    string   // serve Prometheus metrics at this address ("" for none)
	DataPath   string   // "userspace" (or ""), "auto" or "ebpf" (datapath.go)
	ModuleArgs []string // module options (modprobe syntax)
	Stderr     io.Writer
}

// server is one running `bondingfs serve`: what setup acquired, which run
// serves and teardown and release give back.
type server struct {
	c       ServeConfig
	stderr  io.Writer
	klog    *kernelLog
	modArgs []string // the module options, the configuration's first
	plan    *compat.Plan
	mc      modparams.Config

	nsPath      string
	sysfsPath   string // the engine namespace's private sysfs ("" without one)
	engineNetns uint64
	host        *netdev.Host
	stateDir    string
	rec         *recorder
	prev        *state.State                 // what a daemon that died left, or nil
	found       map[string]map[string]string // restoreSlaves': the slaves to enslave again

	ctx       context.Context
	reg       *bond.Registry
	module    *moduleState
	dir       string // the mount point, absolute
	srv       *fusefs.Server
	reaper    *reaper
	realPaths bool         // the real paths are installed
	netnsID   state.Netns  // the engine namespace's instance
	metricsLn net.Listener // bound by checkFlags, served once mounted
	derived   bool         // stateDir is StateDir's, of a root not DefaultRoot: removed on a clean stop

	sigs chan os.Signal // SIGINT, SIGTERM, SIGHUP, caught from the start
	ctl  *ctlServer

	// release closes these in reverse order
	closers []func()
}

// Serve runs `bondingfs serve`: it mounts the tree at c.Root, runs the
// engine behind it and its control socket until SIGINT, SIGTERM or SIGHUP
// (or an unmount from outside), then stops cleanly. It returns the exit
// status: 0 after a clean stop, 1 when the daemon could not start.
func Serve(c ServeConfig) int {
	s := &server{c: c, stderr: c.Stderr, klog: &kernelLog{w: c.Stderr}}
	// A stop signal during setup waits for setup to end and is handled by
	// run like any other: the signal's default action would end the
	// process with its mount half set up (a dead mount if one of its own
	// files is open then, as go-fuse's poll probe is while it mounts).
	s.sigs = make(chan os.Signal, 1)
	signal.Notify(s.sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(s.sigs)
	defer s.release()
	if err := s.setup(); err != nil {
		fmt.Fprintf(s.stderr, "bondingfs: %v\n", err)
		return 1
	}
	// What setup allocated and dropped goes back to the system now (a GC
	// and a scavenge, a few ms, once): an idle daemon may not run a GC for
	// two minutes, and a fresh daemon (bench-idle.sh, --datapath=auto)
	// held 5.7 MB of heap, 8.8 MB of anonymous RSS, until then (issue 19).
	osmem.Release()
	s.run()
	s.teardown()
	return 0
}

// onRelease adds fn to what release runs.
func (s *server) onRelease(fn func()) { s.closers = append(s.closers, fn) }

// release closes what setup opened, last first (on every exit).
func (s *server) release() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
}

// setup does everything before the daemon is ready, in order: the kernel
// log, the module options, the other flags (the metrics address bound, the
// journal directory checked), the host, the reaper, the crash journal (the
// slaves a dead daemon left given back), the engine with its bonds
// (restored from the journal), the control socket (bound, not yet
// answering), the mount with its real paths, then the control socket's
// answers and the metrics. So every flag is checked before anything is
// mounted, a reaper watches from before the restore, once the tree is
// mounted the socket exists, and once the socket answers the tree is
// mounted. On failure what was mounted is unmounted again, and release
// closes the rest.
func (s *server) setup() error {
	for _, step := range []func() error{s.openLog, s.parseModule, s.checkFlags, s.openHost, s.startReaper, s.openJournal, s.startEngine, s.listen, s.mount} {
		if err := step(); err != nil {
			return err
		}
	}
	s.ctl.start()
	if err := s.serveMetrics(); err != nil {
		s.unmountAll()
		return err
	}
	sdNotify("READY=1")
	return nil
}

// openLog opens the kernel log file, if any.
func (s *server) openLog() error {
	if s.c.LogPath == "" {
		return nil
	}
	f, err := os.OpenFile(s.c.LogPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	s.onRelease(func() { f.Close() })
	s.klog.w = f
	return nil
}

// parseModule loads the legacy configuration, whose module-wide options
// (options bonding …) come before the command line's, which win, and
// checks the module options as bond_check_params does.
func (s *server) parseModule() error {
	s.modArgs = s.c.ModuleArgs
	if len(s.c.Configs) > 0 {
		p, err := compat.Load(s.c.Configs...)
		if err != nil {
			return err
		}
		for _, e := range p.Errors {
			fmt.Fprintf(s.stderr, "bondingfs: %v\n", e)
		}
		var pre []string
		for _, o := range p.Module {
			pre = append(pre, o.Key+"="+o.Value)
		}
		s.modArgs = append(pre, s.modArgs...)
		s.plan = p
	}
	if s.c.Unloaded {
		return nil
	}
	var err error
	s.mc, err = modparams.Parse(s.modArgs, s.klog.line)
	return err
}

// checkFlags checks what the flags name before anything is mounted: the
// mount point's path, the journal's directory (checkStateDir), and the
// metrics address, which it binds (served once the tree is mounted).
func (s *server) checkFlags() error {
	dir, err := filepath.Abs(s.c.Root)
	if err != nil {
		return err
	}
	s.dir = dir
	switch s.c.State {
	case "":
		s.stateDir = StateDir(s.c.Root, s.c.Netns)
		s.derived = rootName(dir) != rootName(DefaultRoot)
		if err := checkStateDir(DefaultStateDir, true); err != nil {
			return err
		}
	case "none":
	default:
		s.stateDir = s.c.State
	}
	if s.stateDir != "" {
		if err := checkStateDir(s.stateDir, true); err != nil {
			return err
		}
	}
	if s.c.Metrics != "" {
		ln, err := listenMetrics(s.c.Metrics)
		if err != nil {
			return fmt.Errorf("--metrics: %w", err)
		}
		s.metricsLn = ln
		s.onRelease(func() { ln.Close() })
	}
	return nil
}

// startReaper starts the reaper child (reaper.go), before the journal's
// restore.
func (s *server) startReaper() error {
	r, err := startReaper(reaperArgs{dir: s.dir, realPaths: s.c.RealPaths, stateDir: s.stateDir, netns: s.nsPath}, s.stderr)
	if err != nil {
		return fmt.Errorf("reaper: %w", err)
	}
	s.reaper = r
	// release runs after teardown's quit on a clean stop; after a failed
	// setup it tells the reaper there is nothing to reap
	s.onRelease(r.quit)
	return nil
}

// openHost opens the engine namespace's private sysfs and its host.
func (s *server) openHost() error {
	s.nsPath = netdev.NetnsPath(s.c.Netns)
	// The real sysfs of the engine's namespace, mounted privately before
	// anything is mounted over /sys/class/net: the daemon reads the real
	// device attributes only through it, never through its own mount.
	// Without the new mount API (kernels before 5.2) the tree holds the
	// bonding entries alone, and the real paths cannot be served.
	if sysfs, err := fusefs.OpenPrivateSysfs(s.nsPath); err != nil {
		if s.c.RealPaths {
			return fmt.Errorf("--real-paths needs a private sysfs: %v", err)
		}
		fmt.Fprintf(s.stderr, "bondingfs: %v; serving the bonding entries without the real devices\n", err)
	} else {
		s.onRelease(func() { sysfs.Close() })
		s.sysfsPath = sysfs.Path()
	}
	var err error
	if s.netnsID, err = netnsIdentity(s.nsPath); err != nil {
		return err
	}
	s.engineNetns = s.netnsID.Inode
	if s.host, err = netdev.NewHost(s.nsPath); err != nil {
		return err
	}
	s.onRelease(func() { s.host.Close() })
	return nil
}

// openJournal locks and opens the crash journal, makes it this daemon's
// (so that the dead daemon's reaper, should it get the lock later, leaves
// the slaves alone), gives the slaves a dead daemon left back what they
// had, and removes its isolation chains. Journal directories of earlier
// daemons that stopped cleanly are removed first (sweepStateDirs).
func (s *server) openJournal() error {
	if s.stateDir != "" {
		if filepath.Dir(s.stateDir) == DefaultStateDir {
			sweepStateDirs(DefaultStateDir, s.stateDir)
		}
		lock, err := lockJournal(s.stateDir, lockWait)
		if err != nil {
			return err
		}
		s.onRelease(func() { lock.Close() })
		var j *state.Journal
		if j, s.prev = openJournal(s.stateDir, s.klog.line); j != nil {
			s.rec = newRecorder(j, s.klog.line)
			s.rec.own(s.prev, s.netnsID)
		}
	}
	if s.prev != nil {
		// the slaves first: the stale isolation goes with ResetIsolation,
		// their disable_ipv6 values only with the journal
		s.found = restoreSlaves(s.host, s.prev, s.netnsID, s.klog.line)
	}
	// chains a crashed daemon left would keep dropping the slaves' traffic
	_ = s.host.ResetIsolation()
	return nil
}

// startEngine starts the registry and loads the module: its bonds, the
// legacy configuration's plan, then what the journal restores.
func (s *server) startEngine() error {
	restoreStart := time.Now()
	cfg := bond.Config{Host: s.host, Log: s.klog.line, Defaults: s.mc.Params, Modes: modes.Factories()}
	if s.rec != nil {
		cfg.Journal = s.rec
	}
	if err := s.openFastPath(&cfg); err != nil {
		return err
	}
	s.reg = bond.NewRegistry(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	s.ctx = ctx
	s.onRelease(cancel)
	if err := s.reg.Start(); err != nil {
		return err
	}
	s.onRelease(s.reg.Close)
	s.module = &moduleState{reg: s.reg, log: s.klog.line, rec: s.rec}
	s.module.loaded.Store(!s.c.Unloaded)
	if s.c.Unloaded && s.prev != nil && s.prev.Loaded {
		if err := s.module.reload(ctx, s.prev.ModuleOptions); err != nil {
			s.klog.line(fmt.Sprintf("bondingfs: restore: module options %q: %v", s.prev.ModuleOptions, err))
		}
	}
	for i := 0; i < s.mc.MaxBonds; i++ {
		if err := s.reg.CreateBond(ctx, fmt.Sprintf("bond%d", i)); err != nil {
			s.klog.line(fmt.Sprintf("bonding: Error: couldn't create bond%d: %v", i, err))
		}
	}
	if s.plan != nil {
		if err := s.plan.Apply(ctx, registryApplier{s.reg}); err != nil {
			fmt.Fprintf(s.stderr, "bondingfs: %v\n", err)
		}
	}
	if s.prev != nil {
		rctx, rcancel := context.WithTimeout(ctx, restoreTimeout)
		restore(rctx, s.reg, s.host, s.prev, s.found, s.klog.line)
		rcancel()
		s.klog.line(fmt.Sprintf("bondingfs: restored %d bonds from %s in %d ms", len(s.reg.Snapshot().Bonds), s.stateDir, time.Since(restoreStart).Milliseconds()))
	}
	if s.rec != nil {
		s.startJournal()
	}
	return nil
}

// startJournal records the daemon as running (an unclean exit from now on
// is restored), starts the journal's writer and its address watch, and
// records the addresses of the bonds that exist now.
func (s *server) startJournal() {
	rec, reg, host := s.rec, s.reg, s.host
	rec.hold.Store(false)
	rec.j.Apply(func(st *state.State) {
		st.Clean = false
		st.Pid = os.Getpid()
		st.Netns = &s.netnsID
		st.Loaded = s.module.Loaded()
		if !s.c.Unloaded {
			st.ModuleOptions = s.modArgs
		}
	})
	rec.flush()
	go rec.run()
	rec.watchAddrs(host, reg)
	for _, b := range reg.Snapshot().Bonds {
		if as, err := host.Addrs(b.Index); err == nil {
			name := b.Name
			rec.j.Apply(func(st *state.State) {
				if sb := st.Bond(name); sb != nil {
					sb.Addrs = as
				}
			})
		}
	}
	rec.flush()
}

// mount mounts the tree, tells the reaper and installs the real paths.
func (s *server) mount() error {
	dir := s.dir
	removeStaleMount(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var err error
	s.srv, err = fusefs.Mount(dir, moduleBackend{s.reg, s.module}, fusefs.Options{Sysfs: s.sysfsPath, ProcNet: true, EngineNetns: s.engineNetns, Debug: s.c.FuseDebug})
	if err != nil {
		return fmt.Errorf("mount %s: %w", dir, err)
	}
	s.module.onChange(s.srv.LoadedChanged)
	// The reaper unmounts dir (and the real paths) if this process dies
	// without doing so (a crash, SIGKILL), so no dead mount is left.
	s.reaper.mounted()
	if s.c.RealPaths {
		if err := installRealPaths(dir); err != nil {
			s.unmountAll()
			return fmt.Errorf("--real-paths: %w", err)
		}
		s.realPaths = true
	}
	return nil
}

// listen binds the control socket (Ctl, else the one derived from Root);
// setup starts answering on it once the tree is mounted.
func (s *server) listen() error {
	path := s.c.Ctl
	if path == "" {
		path = CtlPath(s.c.Root)
	}
	if filepath.Dir(path) == DefaultCtlDir {
		if err := os.MkdirAll(DefaultCtlDir, 0o755); err != nil {
			return fmt.Errorf("control socket: %w", err)
		}
	}
	ctl, err := listenCtl(path, s.module, s.reg.Snapshot)
	if err != nil {
		return err
	}
	if s.rec != nil {
		j := s.rec.j
		ctl.journal = func() *status.Journal { return journalStatus(j) }
	}
	s.ctl = ctl
	s.onRelease(ctl.close)
	return nil
}

// serveMetrics serves the metrics endpoint checkFlags bound, if any.
func (s *server) serveMetrics() error {
	if s.metricsLn == nil {
		return nil
	}
	ms := serveMetrics(s.metricsLn, s.reg, s.sysfsPath, s.rec)
	s.onRelease(func() { ms.Close() })
	return nil
}

// run serves until SIGINT, SIGTERM or SIGHUP, or until the tree is
// unmounted from outside.
func (s *server) run() {
	served := make(chan struct{})
	go func() { s.srv.Wait(); close(served) }()
	select {
	case <-s.sigs:
	case <-served: // unmounted from outside
	}
}

// teardown is a clean stop: the mounts go, the bonds vanish as with rmmod,
// and the journal says so; then the reaper is told to exit quietly.
func (s *server) teardown() {
	if s.realPaths {
		removeRealPaths(s.dir)
	}
	unmount(s.srv, s.dir)
	s.ctl.close()
	s.reg.Close()
	if s.rec != nil {
		s.rec.close()
		s.rec.markClean()
	}
	s.reaper.quit()
	if s.derived && s.rec != nil && s.rec.j.Health().OK {
		removeStateDir(s.stateDir)
	}
}

// unmountAll undoes mount after a later step failed: the real paths, the
// tree, the reaper.
func (s *server) unmountAll() {
	if s.realPaths {
		removeRealPaths(s.dir)
	}
	unmount(s.srv, s.dir)
	s.reaper.quit()
}

// moduleBackend is the registry as fusefs sees it, with the module's
// loaded state (fusefs.Loader). The crash journal is synced by the
// Registry's own writes (bond.Journal).
type moduleBackend struct {
	*bond.Registry
	*moduleState
}

// removeStaleMount lazily detaches dead FUSE mounts at dir (a daemon and its
// reaper both killed: the connection is gone, every access fails with
// ENOTCONN), so that the new mount does not fail on them.
func removeStaleMount(dir string) {
	for range 16 {
		var st syscall.Statfs_t
		err := syscall.Statfs(dir, &st)
		if err == nil || !errors.Is(err, syscall.ENOTCONN) {
			return
		}
		if syscall.Unmount(dir, syscall.MNT_DETACH) != nil {
			return
		}
	}
}

// netnsInode returns the inode number of the network namespace at nsPath
// ("" for this process's), which identifies it (nsfs).
func netnsInode(nsPath string) (uint64, error) {
	if nsPath == "" {
		nsPath = "/proc/self/ns/net"
	}
	var st syscall.Stat_t
	if err := syscall.Stat(nsPath, &st); err != nil {
		return 0, fmt.Errorf("stat netns %s: %w", nsPath, err)
	}
	return st.Ino, nil
}

// unmount detaches the FUSE mount, lazily if it is busy.
func unmount(srv *fusefs.Server, dir string) {
	done := make(chan error, 1)
	go func() { done <- srv.Unmount() }()
	select {
	case err := <-done:
		if err == nil {
			return
		}
	case <-time.After(2 * time.Second):
	}
	_ = syscall.Unmount(dir, syscall.MNT_DETACH)
}

// journalStatus is the journal's health as status --json shows it.
func journalStatus(j *state.Journal) *status.Journal {
	h := j.Health()
	js := &status.Journal{Dir: j.Dir(), OK: h.OK, Error: h.Error, Writes: h.Writes, Failures: h.Failures}
	if !h.LastWrite.IsZero() {
		js.LastWrite = h.LastWrite.UTC().Format(time.RFC3339Nano)
	}
	return js
}
