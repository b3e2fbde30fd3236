package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

const modprobeUsage = `usage: bondingfs modprobe [-r] [--ctl PATH] [--root DIR] [--log FILE] [module options...]

The emulation's "modprobe bonding": what the install/remove rules of
/etc/modprobe.d/bondingfs.conf run, with modprobe's $CMDLINE_OPTS (the
"options bonding ..." lines of modprobe.d followed by the command line's).

Without -r it loads the module in the daemon serving the control socket, as a
first load of bonding.ko does (bond_check_params, max_bonds bonds, defaults
for later bonds). When the module is loaded already it does nothing and
succeeds, as modprobe does for a live module. When no daemon answers, it
starts one in the background, in the caller's mount and network namespace:
  bondingfs serve --real-paths --unloaded --ctl PATH --root DIR --log FILE
Invalid options change nothing and exit with status 1; modprobe then reports
"could not insert 'bonding': Invalid argument".

With -r it deletes every bond, as rmmod does, and leaves the daemon running
with the module unloaded. When the module is not loaded it fails (status 1)
with "Module bonding is not in kernel.".

Run by modprobe (MODPROBE_MODULE set) it prints nothing on failure: modprobe
reports it. Run by hand it prints modprobe's message.

flags (defaults from the environment, then built in):
  --ctl PATH   control socket ($BONDINGFS_CTL, /run/bondingfs.ctl)
  --root DIR   mount point for a daemon it starts ($BONDINGFS_ROOT, /run/bondingfs)
  --log FILE   kernel log of a daemon it starts ($BONDINGFS_LOG, /var/log/bondingfs.log)
`

// modprobeSysfs is where a loaded bonding driver shows bonding_masters
// (tests point it elsewhere).
var modprobeSysfs = "/sys/class/net"

// daemonReadyTimeout bounds how long modprobe waits for a daemon it started.
const daemonReadyTimeout = 20 * time.Second

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// runModprobe implements `bondingfs modprobe`. Exit status: 0 on success,
// 1 when the load or unload fails, 2 for a usage error.
func runModprobe(args []string, stdout, stderr io.Writer) int {
	remove := false
	ctl := envOr("BONDINGFS_CTL", DefaultCtl)
	root := envOr("BONDINGFS_ROOT", "/run/bondingfs")
	logPath := envOr("BONDINGFS_LOG", "/var/log/bondingfs.log")
	var opts []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		val := func() (string, bool) {
			if k := strings.IndexByte(a, '='); k >= 0 {
				return a[k+1:], true
			}
			if i+1 < len(args) {
				i++
				return args[i], true
			}
			return "", false
		}
		name := a
		if k := strings.IndexByte(a, '='); k >= 0 && strings.HasPrefix(a, "-") {
			name = a[:k]
		}
		switch name {
		case "-r", "--remove":
			remove = true
		case "-h", "--help", "-help":
			fmt.Fprint(stdout, modprobeUsage)
			return 0
		case "--ctl", "-ctl", "--root", "-root", "--log", "-log":
			v, ok := val()
			if !ok || v == "" {
				fmt.Fprintf(stderr, "bondingfs modprobe: %s needs a value\n%s", name, modprobeUsage)
				return 2
			}
			switch strings.TrimLeft(name, "-") {
			case "ctl":
				ctl = v
			case "root":
				root = v
			case "log":
				logPath = v
			}
		case "--":
			opts = append(opts, args[i+1:]...)
			i = len(args)
		default:
			if strings.HasPrefix(a, "-") {
				fmt.Fprintf(stderr, "bondingfs modprobe: unknown flag %s\n%s", a, modprobeUsage)
				return 2
			}
			opts = append(opts, a)
		}
	}
	underModprobe := os.Getenv("MODPROBE_MODULE") != ""

	if remove {
		if len(opts) > 0 {
			fmt.Fprintf(stderr, "bondingfs modprobe: -r takes no module options\n")
			return 2
		}
		rep, err := ctlCall(ctl, ctlRequest{Op: "unload"})
		if err == nil && rep.Errno == 0 {
			return 0
		}
		if err == nil && rep.Errno != int(syscall.ENOENT) {
			fmt.Fprintf(stderr, "bondingfs modprobe: unload: %s\n", rep.Error)
			return 1
		}
		if _, serr := os.Stat(filepath.Join(modprobeSysfs, "bonding_masters")); err != nil && serr == nil {
			fmt.Fprintf(stderr, "bondingfs modprobe: no daemon answers on %s: the bonding driver at %s cannot be unloaded from here\n", ctl, modprobeSysfs)
			return 1
		}
		if !underModprobe {
			fmt.Fprintln(stderr, "modprobe: FATAL: Module bonding is not in kernel.")
		}
		return 1
	}

	rep, err := ctlCall(ctl, ctlRequest{Op: "load", Args: opts})
	if err != nil && isNoDaemon(err) {
		if _, serr := os.Stat(filepath.Join(modprobeSysfs, "bonding_masters")); serr == nil {
			// A bonding driver is there already (the kernel's, or a
			// bondingfs daemon without a control socket, such as one
			// `bondingfs exec` started): loaded, nothing to do.
			return 0
		}
		if serr := startDaemon(ctl, root, logPath); serr != nil {
			fmt.Fprintf(stderr, "bondingfs modprobe: %v\n", serr)
			return 1
		}
		rep, err = ctlCall(ctl, ctlRequest{Op: "load", Args: opts})
	}
	if err != nil {
		fmt.Fprintf(stderr, "bondingfs modprobe: %s: %v\n", ctl, err)
		return 1
	}
	if rep.Errno != 0 {
		if !underModprobe {
			fmt.Fprintf(stderr, "modprobe: ERROR: could not insert 'bonding': %s\n", strerror(syscall.Errno(rep.Errno)))
		}
		return 1
	}
	return 0
}

// strerror is the C library's text for an errno ("Invalid argument").
func strerror(en syscall.Errno) string {
	s := en.Error()
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// isNoDaemon reports whether dialing the control socket failed because no
// daemon listens on it.
func isNoDaemon(err error) bool {
	return errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED)
}

// startDaemon starts `bondingfs serve --real-paths --unloaded` detached
// (its own session, stdio on /dev/null, kernel log in logPath) and waits
// until it answers on ctl.
func startDaemon(ctl, root, logPath string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer null.Close()
	args := []string{"serve", "--real-paths", "--unloaded", "--ctl", ctl, "--root", root, "--log", logPath}
	cmd := exec.Command(self, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = null, null, null
	// The daemon's own errors (a failed mount) go to its log file too.
	if f, err := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644); err == nil {
		defer f.Close()
		cmd.Stderr = f
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start daemon: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.After(daemonReadyTimeout)
	for {
		if _, err := ctlCall(ctl, ctlRequest{Op: "status"}); err == nil {
			return nil
		}
		select {
		case err := <-exited:
			return fmt.Errorf("bondingfs %s exited before serving %s (%v); see %s",
				strings.Join(args, " "), ctl, err, logPath)
		case <-deadline:
			return fmt.Errorf("bondingfs %s: %s not served after %v", strings.Join(args, " "), ctl, daemonReadyTimeout)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
