package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"bondingfs/bond"
	"bondingfs/bond/modparams"
	"bondingfs/compat"
	"bondingfs/fusefs"
	"bondingfs/internal/state"
	"bondingfs/modes"
	"bondingfs/netdev"
)

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

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

func runServe(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	root := fs.String("root", "/run/bondingfs", "mount point of the sysfs/procfs tree")
	nsName := fs.String("netns", "", "run the engine in this network namespace (ip netns name or path)")
	logPath := fs.String("log", "", "append kernel log lines to this file (default stderr)")
	realPaths := fs.Bool("real-paths", false, "also serve the tree at /sys/class/net and /proc/net of this mount namespace until exit")
	unloaded := fs.Bool("unloaded", false, "start with the module unloaded (no bonding_masters) until `bondingfs modprobe` loads it")
	ctlPath := fs.String("ctl", "", "serve the control socket of `bondingfs modprobe` and `bondingfs status` at this path (e.g. "+DefaultCtl+")")
	stateDir := fs.String("state", "", "keep the crash journal in this directory (default "+DefaultStateDir+"/<root>[@<netns>]; \"none\" for none): after an unclean exit the next start restores every bond")
	fuseDebug := fs.Bool("fuse-debug", false, "log every FUSE request and reply to stderr (go-fuse's debug output)")
	metricsAddr := fs.String("metrics", "", "serve Prometheus metrics at http://ADDR/metrics (ADDR: host:port or :port, loopback when no host is given)")
	var configs multiFlag
	fs.Var(&configs, "config", "legacy configuration file or directory to apply at start (repeatable)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: bondingfs serve --root DIR [--netns NAME] [--log FILE] [--config PATH]... [--real-paths] [--ctl PATH] [--unloaded] [module options...]\n\nflags:\n")
		fs.PrintDefaults()
		fmt.Fprintf(stderr, "\nmodule options (modinfo bonding):\n%s", modparams.Help())
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}

	klog := &kernelLog{w: stderr}
	if *logPath != "" {
		f, err := os.OpenFile(*logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			fmt.Fprintf(stderr, "bondingfs: %v\n", err)
			return 1
		}
		defer f.Close()
		klog.w = f
	}

	// Legacy configuration: its module-wide options (options bonding …)
	// come before the command line's, which win.
	var plan *compat.Plan
	modArgs := fs.Args()
	if len(configs) > 0 {
		p, err := compat.Load(configs...)
		if err != nil {
			fmt.Fprintf(stderr, "bondingfs: %v\n", err)
			return 1
		}
		for _, e := range p.Errors {
			fmt.Fprintf(stderr, "bondingfs: %v\n", e)
		}
		var pre []string
		for _, s := range p.Module {
			pre = append(pre, s.Key+"="+s.Value)
		}
		modArgs = append(pre, modArgs...)
		plan = p
	}
	if *unloaded && *ctlPath == "" {
		fmt.Fprintf(stderr, "bondingfs: --unloaded needs --ctl: only `bondingfs modprobe` can load the module\n")
		return 2
	}
	if *unloaded && (len(modArgs) > 0 || len(configs) > 0) {
		fmt.Fprintf(stderr, "bondingfs: --unloaded takes neither module options nor --config: `bondingfs modprobe` gives the options\n")
		return 2
	}
	var mc modparams.Config
	if !*unloaded {
		var err error
		if mc, err = modparams.Parse(modArgs, klog.line); err != nil {
			fmt.Fprintf(stderr, "bondingfs: %v\n", err)
			return 1
		}
	}

	nsPath := netdev.NetnsPath(*nsName)
	// The real sysfs of the engine's namespace, mounted privately before
	// anything is mounted over /sys/class/net: the daemon reads the real
	// device attributes only through it, never through its own mount.
	// Without the new mount API (kernels before 5.2) the tree holds the
	// bonding entries alone, and the real paths cannot be served.
	sysfsPath := ""
	if sysfs, err := fusefs.OpenPrivateSysfs(nsPath); err != nil {
		if *realPaths {
			fmt.Fprintf(stderr, "bondingfs: --real-paths needs a private sysfs: %v\n", err)
			return 1
		}
		fmt.Fprintf(stderr, "bondingfs: %v; serving the bonding entries without the real devices\n", err)
	} else {
		defer sysfs.Close()
		sysfsPath = sysfs.Path()
	}
	engineNetns, err := netnsInode(nsPath)
	if err != nil {
		fmt.Fprintf(stderr, "bondingfs: %v\n", err)
		return 1
	}
	host, err := netdev.NewHost(nsPath)
	if err != nil {
		fmt.Fprintf(stderr, "bondingfs: %v\n", err)
		return 1
	}
	defer host.Close()
	// The crash journal: what a daemon that died left is restored below.
	if *stateDir == "" {
		*stateDir = defaultStateDir(*root, *nsName)
	} else if *stateDir == "none" {
		*stateDir = ""
	}
	var rec *recorder
	var prev *state.State
	if *stateDir != "" {
		lock, err := lockJournal(*stateDir, lockWait)
		if err != nil {
			fmt.Fprintf(stderr, "bondingfs: %v\n", err)
			return 1
		}
		defer lock.Close()
		var j *state.Journal
		if j, prev = openJournal(*stateDir, klog.line); j != nil {
			rec = newRecorder(j, klog.line)
		}
	}
	restoreStart := time.Now()
	if prev != nil {
		// the slaves first: the stale isolation goes with ResetIsolation,
		// their disable_ipv6 values only with the journal
		restoreSlaves(host, prev, klog.line)
	}
	// chains a crashed daemon left would keep dropping the slaves' traffic
	_ = host.ResetIsolation()

	cfg := bond.Config{Host: host, Log: klog.line, Defaults: mc.Params, Modes: modes.Factories()}
	if rec != nil {
		cfg.Journal = rec
	}
	reg := bond.NewRegistry(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := reg.Start(); err != nil {
		fmt.Fprintf(stderr, "bondingfs: %v\n", err)
		return 1
	}
	defer reg.Close()
	module := &moduleState{reg: reg, log: klog.line, rec: rec}
	module.loaded.Store(!*unloaded)
	if *unloaded && prev != nil && prev.Loaded {
		if err := module.reload(ctx, prev.ModuleOptions); err != nil {
			klog.line(fmt.Sprintf("bondingfs: restore: module options %q: %v", prev.ModuleOptions, err))
		}
	}
	for i := 0; i < mc.MaxBonds; i++ {
		if err := reg.CreateBond(ctx, fmt.Sprintf("bond%d", i)); err != nil {
			klog.line(fmt.Sprintf("bonding: Error: couldn't create bond%d: %v", i, err))
		}
	}
	if plan != nil {
		if err := plan.Apply(ctx, registryApplier{reg}); err != nil {
			fmt.Fprintf(stderr, "bondingfs: %v\n", err)
		}
	}
	if prev != nil {
		rctx, rcancel := context.WithTimeout(ctx, restoreTimeout)
		restore(rctx, reg, host, prev, klog.line)
		rcancel()
		klog.line(fmt.Sprintf("bondingfs: restored %d bonds from %s in %d ms", len(reg.Snapshot().Bonds), *stateDir, time.Since(restoreStart).Milliseconds()))
	}
	if rec != nil {
		rec.j.Apply(func(s *state.State) {
			s.Clean = false
			s.Loaded = module.Loaded()
			if !*unloaded {
				s.ModuleOptions = modArgs
			}
		})
		rec.flush()
		go rec.run()
		rec.watchAddrs(host, reg)
		// the addresses of bonds that exist now
		for _, b := range reg.Snapshot().Bonds {
			if as, err := host.Addrs(b.Index); err == nil {
				name := b.Name
				rec.j.Apply(func(s *state.State) {
					if sb := s.Bond(name); sb != nil {
						sb.Addrs = as
					}
				})
			}
		}
		rec.flush()
	}

	dir, err := filepath.Abs(*root)
	if err != nil {
		fmt.Fprintf(stderr, "bondingfs: %v\n", err)
		return 1
	}
	removeStaleMount(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintf(stderr, "bondingfs: %v\n", err)
		return 1
	}
	srv, err := fusefs.Mount(dir, moduleBackend{reg, module}, fusefs.Options{Sysfs: sysfsPath, ProcNet: true, EngineNetns: engineNetns, Debug: *fuseDebug})
	if err != nil {
		fmt.Fprintf(stderr, "bondingfs: mount %s: %v\n", dir, err)
		return 1
	}
	module.onChange(srv.LoadedChanged)
	// A reaper process unmounts dir (and the real paths) if this process
	// dies without doing so (a crash, SIGKILL), so no dead mount is left.
	stopReaper := startReaper(reaperArgs{dir: dir, realPaths: *realPaths, stateDir: *stateDir, netns: nsPath}, stderr)
	if *realPaths {
		if err := installRealPaths(dir); err != nil {
			fmt.Fprintf(stderr, "bondingfs: --real-paths: %v\n", err)
			unmount(srv, dir)
			stopReaper()
			return 1
		}
	}
	if *ctlPath != "" {
		ctl, err := listenCtl(*ctlPath, module, reg.Snapshot)
		if err != nil {
			fmt.Fprintf(stderr, "bondingfs: %v\n", err)
			if *realPaths {
				removeRealPaths(dir)
			}
			unmount(srv, dir)
			stopReaper()
			return 1
		}
		defer ctl.close()
	}
	if *metricsAddr != "" {
		ms, err := serveMetrics(*metricsAddr, reg, sysfsPath)
		if err != nil {
			fmt.Fprintf(stderr, "bondingfs: --metrics: %v\n", err)
			if *realPaths {
				removeRealPaths(dir)
			}
			unmount(srv, dir)
			stopReaper()
			return 1
		}
		defer ms.Close()
	}
	sdNotify("READY=1")

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	served := make(chan struct{})
	go func() { srv.Wait(); close(served) }()
	select {
	case <-sigs:
	case <-served: // unmounted from outside
	}
	signal.Stop(sigs)
	if *realPaths {
		removeRealPaths(dir)
	}
	unmount(srv, dir)
	// a clean stop: the bonds vanish as with rmmod, and the journal says so
	reg.Close()
	if rec != nil {
		rec.close()
		rec.markClean()
	}
	stopReaper()
	return 0
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
