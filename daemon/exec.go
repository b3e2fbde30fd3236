package daemon

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"bondingfs/netdev"
	"bondingfs/rtnl/supervisor"
)

// ExecNSCmd is the hidden subcommand that runs inside the new mount
// namespace: bondingfs __exec-ns DIR NETNS-PATH CTL -- CMD ARGS... (ExecNS).
const ExecNSCmd = "__exec-ns"

// readyTimeout bounds the wait for a started daemon's mount.
const readyTimeout = 20 * time.Second

// ExecConfig is one `bondingfs exec` (its flags, parsed by main).
type ExecConfig struct {
	Root  string // the tree to use, or to mount when no daemon serves it
	Netns string // run Cmd (and a started daemon's engine) in this network namespace
	Log   string // kernel log of a started daemon ("" for stderr)
	State string // crash journal of a started daemon (serve --state; "" for serve's default)
	// Ctl is the control socket of the daemon serving Root, to which the
	// rtnetlink supervisor hands CMD's filter ("" for CtlPath(Root)); a
	// started daemon listens there (serve --ctl).
	Ctl     string
	ModOpts []string // module options of a started daemon
	Cmd     []string // the command and its arguments
}

// Exec is `bondingfs exec`: it runs c.Cmd in a new private mount namespace
// where /sys/class/net and /proc/net are the emulation's, with a daemon of
// its own for Cmd's lifetime unless one serves c.Root already. It returns
// Cmd's exit status (128+N when a signal N ended it), or 1 (and the
// daemon's status) when it could not run it.
func Exec(c ExecConfig, stdout, stderr io.Writer) int {
	modOpts, cmdArgs := c.ModOpts, c.Cmd
	dir, err := filepath.Abs(c.Root)
	if err != nil {
		fmt.Fprintf(stderr, "bondingfs exec: %v\n", err)
		return 1
	}
	nsPath := netdev.NetnsPath(c.Netns)
	if c.Netns != "" {
		if _, err := os.Stat(nsPath); err != nil {
			fmt.Fprintf(stderr, "bondingfs exec: netns %s: %v\n", c.Netns, err)
			return 1
		}
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "bondingfs exec: %v\n", err)
		return 1
	}

	var daemon *exec.Cmd
	if !servedBy(dir) {
		sargs := []string{"serve", "--root", dir}
		if c.Netns != "" {
			sargs = append(sargs, "--netns", nsPath)
		}
		if c.Log != "" {
			sargs = append(sargs, "--log", c.Log)
		}
		if c.State != "" {
			sargs = append(sargs, "--state", c.State)
		}
		if c.Ctl != "" {
			sargs = append(sargs, "--ctl", c.Ctl)
		}
		sargs = append(sargs, modOpts...)
		daemon = exec.Command(self, sargs...)
		daemon.Stdout, daemon.Stderr = stderr, stderr
		// its own process group: a terminal's ^C reaches CMD, and the
		// daemon is stopped after CMD, in order
		// and SIGTERM (a clean stop) should exec itself be killed
		daemon.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
		if err := daemon.Start(); err != nil {
			fmt.Fprintf(stderr, "bondingfs exec: start serve: %v\n", err)
			return 1
		}
		exited := make(chan error, 1)
		go func() { exited <- daemon.Wait() }()
		if rc := waitReady(dir, exited); rc != 0 {
			fmt.Fprintf(stderr, "bondingfs exec: bondingfs serve failed (exit status %d)\n", rc)
			if rc < 0 {
				_ = daemon.Process.Signal(syscall.SIGTERM)
				<-exited
				return 1
			}
			return rc
		}
		defer stopDaemon(daemon, exited, stderr)
	} else if len(modOpts) > 0 {
		fmt.Fprintf(stderr, "bondingfs exec: %s is already served; module options %s ignored\n", dir, strings.Join(modOpts, " "))
	}

	ctl := c.Ctl
	if ctl == "" {
		ctl = CtlPath(dir)
	}
	inner := exec.Command(self, append([]string{ExecNSCmd, dir, nsPath, ctl, "--"}, cmdArgs...)...)
	inner.Stdin, inner.Stdout, inner.Stderr = os.Stdin, stdout, stderr
	inner.ExtraFiles, inner.Env = listenFiles()
	if f, ok := stdout.(*os.File); ok {
		inner.Stdout = f
	}
	if f, ok := stderr.(*os.File); ok {
		inner.Stderr = f
	}
	// a new mount namespace; Go makes every mount in it private first
	inner.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	return runForwarding(inner, stderr)
}

// waitReady waits until dir is served. It returns 0 then, the daemon's
// exit status if it ended first, or -1 after readyTimeout.
func waitReady(dir string, exited chan error) int {
	deadline := time.Now().Add(readyTimeout)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			exited <- err // for stopDaemon
			var ee *exec.ExitError
			if errors.As(err, &ee) && ee.ExitCode() > 0 {
				return ee.ExitCode()
			}
			return 1
		case <-time.After(20 * time.Millisecond):
		}
		if servedBy(dir) {
			return 0
		}
	}
	return -1
}

// stopDaemon ends a daemon exec started: SIGTERM, then wait (SIGKILL after
// 30 s, whose mounts the reaper removes).
func stopDaemon(d *exec.Cmd, exited chan error, stderr io.Writer) {
	_ = d.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		fmt.Fprintf(stderr, "bondingfs exec: serve (pid %d) did not stop; killing it\n", d.Process.Pid)
		_ = d.Process.Kill()
		<-exited
	}
}

// runForwarding runs c, passing SIGINT, SIGTERM, SIGHUP and SIGQUIT on to it,
// and returns its exit status (128+N for a signal N).
func runForwarding(c *exec.Cmd, stderr io.Writer) int {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	defer signal.Stop(sigs)
	if err := c.Start(); err != nil {
		fmt.Fprintf(stderr, "bondingfs exec: %v\n", err)
		return 127
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				_ = c.Process.Signal(s)
			case <-done:
				return
			}
		}
	}()
	err := c.Wait()
	close(done)
	return exitStatus(err)
}

func exitStatus(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	return 1
}

// ExecNS runs inside the private mount namespace exec made: it enters
// the network namespace (if any) on this locked thread, remounts /sys for
// it, puts the real paths in place, runs CMD from this thread (so CMD
// inherits the namespace) and returns its status. If the daemon behind dir
// dies meanwhile, the real paths and dir are unmounted in this namespace,
// so CMD never sees a dead mount.
func ExecNS(args []string, stderr io.Writer) int {
	if len(args) < 5 || args[3] != "--" {
		fmt.Fprintf(stderr, "bondingfs %s: bad arguments\n", ExecNSCmd)
		return 2
	}
	dir, nsPath, ctl, cmdArgs := args[0], args[1], args[2], args[4:]
	runtime.LockOSThread() // never unlocked: the thread's namespace changes
	if nsPath != "" {
		fd, err := unix.Open(nsPath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			fmt.Fprintf(stderr, "bondingfs exec: open netns %s: %v\n", nsPath, err)
			return 1
		}
		err = unix.Setns(fd, unix.CLONE_NEWNET)
		unix.Close(fd)
		if err != nil {
			fmt.Fprintf(stderr, "bondingfs exec: enter netns %s: %v\n", nsPath, err)
			return 1
		}
		// as ip netns exec: a sysfs of the new namespace on /sys
		if err := unix.Unmount("/sys", unix.MNT_DETACH); err != nil {
			fmt.Fprintf(stderr, "bondingfs exec: umount /sys: %v\n", err)
			return 1
		}
		if err := unix.Mount(nsPath, "/sys", "sysfs", 0, ""); err != nil {
			fmt.Fprintf(stderr, "bondingfs exec: mount sysfs: %v\n", err)
			return 1
		}
	}
	if err := installRealPaths(dir); err != nil {
		fmt.Fprintf(stderr, "bondingfs exec: %v\n", err)
		return 1
	}
	stop := make(chan struct{})
	defer close(stop)
	go watchDaemon(dir, stop)
	c := exec.Command(cmdArgs[0], cmdArgs[1:]...)
	if supervisor.Supported {
		self, err := os.Executable()
		if err != nil {
			fmt.Fprintf(stderr, "bondingfs exec: %v\n", err)
			return 1
		}
		c = exec.Command(self, append([]string{SeccompCmd, ctl, "--"}, cmdArgs...)...)
		c.ExtraFiles, c.Env = listenFiles()
	} else {
		fmt.Fprintf(stderr, "bondingfs exec: rtnetlink supervision is not available on %s: %s runs unsupervised (ip link shows bonds as tun devices)\n", runtime.GOARCH, cmdArgs[0])
	}
	c.Stdin, c.Stdout, c.Stderr = os.Stdin, os.Stdout, os.Stderr
	return runForwarding(c, stderr)
}

// SeccompCmd is the hidden subcommand exec's last hop runs:
// bondingfs __seccomp CTL -- CMD ARGS... (Seccomp).
const SeccompCmd = "__seccomp"

// Seccomp is the last hop of `bondingfs exec`: on this locked thread it
// installs the rtnetlink filter (rtnl/supervisor.Install, with the
// NETLINK_ROUTE fds it inherited), hands the listener to the daemon at the
// control socket ctl, which supervises CMD from then on, and execs CMD in
// its place (same pid: signals and the exit status are CMD's). If the
// filter cannot be installed (a kernel before 5.19) CMD runs unsupervised,
// with a warning; if the daemon does not take the listener, CMD does not
// run (its netlink calls would fail with ENOSYS) and the status is 1.
func Seccomp(args []string, stderr io.Writer) int {
	if len(args) < 3 || args[1] != "--" {
		fmt.Fprintf(stderr, "bondingfs %s: bad arguments\n", SeccompCmd)
		return 2
	}
	ctl, cmdArgs := args[0], args[2:]
	path, err := exec.LookPath(cmdArgs[0])
	if err != nil {
		fmt.Fprintf(stderr, "bondingfs exec: %v\n", err)
		return 127
	}
	if passedListenFDs() {
		// CMD will have this pid: sd_listen_fds checks it
		_ = os.Setenv("LISTEN_PID", strconv.Itoa(os.Getpid()))
	}
	runtime.LockOSThread() // never unlocked: the filter is this thread's
	listener, err := supervisor.Install(supervisor.InheritedRtnl())
	if err != nil {
		fmt.Fprintf(stderr, "bondingfs exec: rtnetlink supervision unavailable: %v; %s runs unsupervised (ip link shows bonds as tun devices)\n", err, cmdArgs[0])
	} else {
		err := sendRtnl(ctl, listener)
		unix.Close(listener)
		if err != nil {
			fmt.Fprintf(stderr, "bondingfs exec: rtnetlink supervisor: daemon at %s: %v\n", ctl, err)
			return 1
		}
	}
	err = syscall.Exec(path, cmdArgs, os.Environ())
	fmt.Fprintf(stderr, "bondingfs exec: %s: %v\n", cmdArgs[0], err)
	return 126
}

// watchDaemon polls the tree at dir every 100 ms; once its daemon is gone
// (the FUSE connection aborted, or the tree unmounted) it removes the real
// paths and the copy of dir in this mount namespace.
func watchDaemon(dir string, stop chan struct{}) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		var st unix.Statfs_t
		err := unix.Statfs(dir, &st)
		if err == nil && st.Type == unix.FUSE_SUPER_MAGIC {
			continue
		}
		removeRealPaths(dir)
		_ = unix.Unmount(dir, unix.MNT_DETACH)
		return
	}
}

// listenPIDPassed marks LISTEN_PID while socket-activation fds travel
// through exec's hops; the last hop sets CMD's pid.
const listenPIDPassed = "bondingfs-exec"

// passedListenFDs reports whether this process got socket-activation fds
// (LISTEN_FDS, for its own pid or passed on by an earlier hop of exec).
func passedListenFDs() bool {
	p := os.Getenv("LISTEN_PID")
	return os.Getenv("LISTEN_FDS") != "" && (p == strconv.Itoa(os.Getpid()) || p == listenPIDPassed)
}

// listenFiles returns the socket-activation fds (3 on, LISTEN_FDS of them)
// to pass on to the next hop at the same numbers, and its environment,
// when this process got them (systemd-networkd.socket's rtnl fd, for one):
// the last hop puts the inherited NETLINK_ROUTE ones under the filter and
// gives CMD its pid as LISTEN_PID. Otherwise nil, nil (the environment as
// it is).
func listenFiles() ([]*os.File, []string) {
	if !passedListenFDs() {
		return nil, nil
	}
	n, err := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	if err != nil || n <= 0 || n > 64 {
		return nil, nil
	}
	files := make([]*os.File, n)
	for i := range files {
		files[i] = os.NewFile(uintptr(3+i), "listen-fd")
	}
	env := []string{"LISTEN_PID=" + listenPIDPassed}
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "LISTEN_PID=") {
			env = append(env, e)
		}
	}
	return files, env
}
