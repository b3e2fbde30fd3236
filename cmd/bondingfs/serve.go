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
	"bondingfs/internal/netdev"
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
	var configs multiFlag
	fs.Var(&configs, "config", "legacy configuration file or directory to apply at start (repeatable)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: bondingfs serve --root DIR [--netns NAME] [--log FILE] [--config PATH]... [module options...]\n\nflags:\n")
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
	mc, err := modparams.Parse(modArgs, klog.line)
	if err != nil {
		fmt.Fprintf(stderr, "bondingfs: %v\n", err)
		return 1
	}

	nsPath := ""
	if *nsName != "" {
		nsPath = *nsName
		if !strings.Contains(nsPath, "/") {
			nsPath = netdev.NetnsPath(nsPath)
		}
	}
	host, err := netdev.NewHost(nsPath)
	if err != nil {
		fmt.Fprintf(stderr, "bondingfs: %v\n", err)
		return 1
	}
	defer host.Close()
	// chains a crashed daemon left would keep dropping the slaves' traffic
	_ = host.ResetIsolation()

	reg := bond.NewRegistry(bond.Config{Host: host, Log: klog.line, Defaults: mc.Params})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := reg.Start(); err != nil {
		fmt.Fprintf(stderr, "bondingfs: %v\n", err)
		return 1
	}
	defer reg.Close()
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

	dir, err := filepath.Abs(*root)
	if err != nil {
		fmt.Fprintf(stderr, "bondingfs: %v\n", err)
		return 1
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintf(stderr, "bondingfs: %v\n", err)
		return 1
	}
	srv, err := fusefs.Mount(dir, reg, fusefs.Options{})
	if err != nil {
		fmt.Fprintf(stderr, "bondingfs: mount %s: %v\n", dir, err)
		return 1
	}
	// A reaper process unmounts dir if this process dies without doing so
	// (a crash, SIGKILL), so no dead mount is left behind.
	stopReaper := startReaper(dir, stderr)

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	served := make(chan struct{})
	go func() { srv.Wait(); close(served) }()
	select {
	case <-sigs:
	case <-served: // unmounted from outside
	}
	signal.Stop(sigs)
	unmount(srv, dir)
	stopReaper()
	return 0
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
