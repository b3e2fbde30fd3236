package daemon

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

// modprobeSysfs is where a loaded bonding driver shows bonding_masters
// (tests point it elsewhere).
var modprobeSysfs = "/sys/class/net"

// daemonReadyTimeout bounds how long modprobe waits for a daemon it started.
const daemonReadyTimeout = 20 * time.Second

// ModprobeConfig is one `bondingfs modprobe` (its flags, parsed by main).
type ModprobeConfig struct {
	Remove bool     // -r: unload
	Ctl    string   // the daemon's control socket
	Root   string   // mount point of a daemon it starts
	Log    string   // kernel log of a daemon it starts
	Opts   []string // module options (load only)
}

// Modprobe is `bondingfs modprobe`: it loads the emulated module in the
// daemon at c.Ctl (starting one when none answers) or with c.Remove
// unloads it. It returns the exit status: 0 on success, 1 when the load or
// unload fails. Run by modprobe (MODPROBE_MODULE set) it prints nothing on
// failure: modprobe reports it.
func Modprobe(c ModprobeConfig, stderr io.Writer) int {
	if c.Remove {
		return modprobeRemove(c.Ctl, stderr)
	}
	return modprobeLoad(c, stderr)
}

// underModprobe reports whether modprobe runs us (its install rule).
func underModprobe() bool { return os.Getenv("MODPROBE_MODULE") != "" }

// modprobeRemove unloads the module in the daemon at ctl.
func modprobeRemove(ctl string, stderr io.Writer) int {
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
	if !underModprobe() {
		fmt.Fprintln(stderr, "modprobe: FATAL: Module bonding is not in kernel.")
	}
	return 1
}

// modprobeLoad loads the module with c.Opts in the daemon at c.Ctl,
// starting one when none answers.
func modprobeLoad(c ModprobeConfig, stderr io.Writer) int {
	ctl := c.Ctl
	rep, err := ctlCall(ctl, ctlRequest{Op: "load", Args: c.Opts})
	if err != nil && isNoDaemon(err) {
		if _, serr := os.Stat(filepath.Join(modprobeSysfs, "bonding_masters")); serr == nil {
			// A bonding driver is there already (the kernel's, or a
			// bondingfs daemon serving another control socket): loaded,
			// nothing to do.
			return 0
		}
		if serr := startDaemon(ctl, c.Root, c.Log); serr != nil {
			fmt.Fprintf(stderr, "bondingfs modprobe: %v\n", serr)
			return 1
		}
		rep, err = ctlCall(ctl, ctlRequest{Op: "load", Args: c.Opts})
	}
	if err != nil {
		fmt.Fprintf(stderr, "bondingfs modprobe: %s: %v\n", ctl, err)
		return 1
	}
	if rep.Errno != 0 {
		if !underModprobe() {
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
