package daemon

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"

	"bondingfs/internal/state"
	"bondingfs/netdev"
)

// ReaperCmd is the hidden subcommand of the reaper child (Reaper).
const ReaperCmd = "__reaper"

// reaperArgs is what the reaper must clean up after the daemon.
type reaperArgs struct {
	dir       string // the mount point
	realPaths bool   // the real-path mounts too
	stateDir  string // the crash journal ("" for none)
	netns     string // the engine's network namespace path ("" for the reaper's own)
}

// startReaper starts a child process that waits for this process to end
// (EOF on a pipe whose write end only we hold) and then gives the slaves
// the journal in stateDir lists back what they had before (MAC, MTU, up
// state, disable_ipv6, no isolation chain; the journal itself stays, so
// that the next daemon restores the bonds), lazily unmounts dir if it is
// still mounted and, with realPaths, the real-path mounts over
// /sys/class/net and /proc/net first (removeRealPaths). The child shares
// this process's mount namespace. The returned func tells it to exit
// quietly.
func startReaper(a reaperArgs, stderr io.Writer) func() {
	self, err := os.Executable()
	if err != nil {
		return func() {}
	}
	r, w, err := os.Pipe()
	if err != nil {
		return func() {}
	}
	args := []string{ReaperCmd, "--state", a.stateDir, "--netns", a.netns}
	if a.realPaths {
		args = append(args, "--real-paths")
	}
	args = append(args, a.dir)
	cmd := exec.Command(self, args...)
	cmd.ExtraFiles = []*os.File{r}
	cmd.Stderr = stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		return func() {}
	}
	r.Close()
	go func() { _ = cmd.Wait() }()
	return func() {
		_, _ = w.Write([]byte{'q'})
		w.Close()
	}
}

// Reaper is the reaper child startReaper starts, with the arguments it
// gives: fd 3 is the pipe from the daemon. It returns the exit status.
func Reaper(args []string) int {
	fs := flag.NewFlagSet(ReaperCmd, flag.ContinueOnError)
	realPaths := fs.Bool("real-paths", false, "")
	stateDir := fs.String("state", "", "")
	nsPath := fs.String("netns", "", "")
	if fs.Parse(args) != nil || fs.NArg() != 1 {
		return 2
	}
	dir := fs.Arg(0)
	signal := os.NewFile(3, "reaper")
	var b [1]byte
	n, _ := signal.Read(b[:])
	if n == 1 && b[0] == 'q' {
		return 0 // the daemon unmounted cleanly
	}
	if *realPaths {
		removeRealPaths(dir)
	}
	_ = syscall.Unmount(dir, syscall.MNT_DETACH)
	reapSlaves(*stateDir, *nsPath)
	return 0
}

// reapSlaves restores the slaves the journal in stateDir lists.
func reapSlaves(stateDir, nsPath string) {
	if stateDir == "" {
		return
	}
	lock, err := lockJournal(stateDir, lockWait)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bondingfs: reaper: %v\n", err)
		return
	}
	defer lock.Close()
	_, prev, err := state.Open(stateDir)
	if err != nil || prev == nil || prev.Clean {
		return
	}
	h, err := netdev.NewHost(nsPath)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bondingfs: reaper: %v\n", err)
		return
	}
	defer h.Close()
	restoreSlaves(h, prev, func(s string) { fmt.Fprintln(os.Stderr, s) })
}
