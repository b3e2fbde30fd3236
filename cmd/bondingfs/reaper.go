package main

import (
	"io"
	"os"
	"os/exec"
	"syscall"
)

const reaperCmd = "__reaper"

// startReaper starts a child process that waits for this process to end
// (EOF on a pipe whose write end only we hold) and then lazily unmounts dir
// if it is still mounted and, with realPaths, the real-path mounts over
// /sys/class/net and /proc/net first (removeRealPaths). The child shares
// this process's mount namespace. The returned func tells it to exit
// quietly.
func startReaper(dir string, realPaths bool, stderr io.Writer) func() {
	self, err := os.Executable()
	if err != nil {
		return func() {}
	}
	r, w, err := os.Pipe()
	if err != nil {
		return func() {}
	}
	args := []string{reaperCmd, dir}
	if realPaths {
		args = append(args, "--real-paths")
	}
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

// runReaper is the reaper child: fd 3 is the pipe from the daemon.
func runReaper(args []string) int {
	if len(args) != 1 && !(len(args) == 2 && args[1] == "--real-paths") {
		return 2
	}
	signal := os.NewFile(3, "reaper")
	var b [1]byte
	n, _ := signal.Read(b[:])
	if n == 1 && b[0] == 'q' {
		return 0 // the daemon unmounted cleanly
	}
	if len(args) == 2 {
		removeRealPaths(args[0])
	}
	_ = syscall.Unmount(args[0], syscall.MNT_DETACH)
	return 0
}
