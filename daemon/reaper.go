package daemon

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"bondingfs/fastpath"
	"bondingfs/internal/state"
	"bondingfs/netdev"
)

// ReaperCmd is the hidden subcommand of the reaper child (Reaper).
const ReaperCmd = "__reaper"

// The reaper learns of the daemon's death from a robust futex, not from the
// end of a pipe. A process killed with SIGKILL closes its files, then
// releases them one by one, the last closed first (the TAP devices: one
// unregister_netdevice each, about 20 ms): a pipe's reader sees EOF only
// once its turn comes, after every TAP opened later (20 s with 1000 bonds),
// and a pidfd becomes readable only once all are released (exit_notify
// follows exit_task_work). A robust futex is handled as each thread's
// memory is let go, the first step of the exit (exit_mm →
// exit_robust_list): the kernel marks the lock word FUTEX_OWNER_DIED and
// wakes its waiter at once.
//
// The word lives in a shared memfd page the daemon maps and passes to the
// reaper: at offset 0 the robust list entry (its next pointer points back at
// the daemon's list head: a list of one), at offset deathFutexOffset the lock
// word, which holds the TID of a daemon thread locked for the process's
// lifetime (armDeathFutex). The pipe remains the reaper's channel for
// messages (reaperMounted, reaperQuit) and the fallback when the futex could
// not be armed.
const (
	deathFutexOffset = 8
	futexWait        = 0          // FUTEX_WAIT (shared: no FUTEX_PRIVATE_FLAG)
	futexWaiters     = 0x80000000 // FUTEX_WAITERS
	futexOwnerDied   = 0x40000000 // FUTEX_OWNER_DIED
	futexTIDMask     = 0x3fffffff // FUTEX_TID_MASK
)

// Messages on the pipe from the daemon to its reaper, one byte each.
const (
	reaperMounted = 'm' // the tree is mounted: detach it if the daemon dies
	reaperQuit    = 'q' // a clean stop: exit without doing anything
)

// robustListHead is the kernel's struct robust_list_head (64-bit).
type robustListHead struct {
	next          uintptr // struct robust_list *: the first entry
	futexOffset   int64   // from an entry to its lock word
	listOpPending uintptr
}

// deathHead is the robust list head of the daemon's death-futex thread; a
// global, so that it never moves and is never collected.
var deathHead robustListHead

// armDeathFutex creates the shared page of the death futex and locks it
// from a thread that never ends before the process does (its goroutine is
// locked to it and parks forever). It returns the memfd to pass to the
// reaper.
func armDeathFutex() (*os.File, error) {
	fd, err := unix.MemfdCreate("bondingfs-death", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), "bondingfs-death")
	if err := f.Truncate(int64(os.Getpagesize())); err != nil {
		f.Close()
		return nil, err
	}
	mem, err := unix.Mmap(fd, 0, os.Getpagesize(), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("mmap: %w", err)
	}
	armed := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread holds the lock until the process ends
		entry := unsafe.Pointer(&mem[0])
		*(*uintptr)(entry) = uintptr(unsafe.Pointer(&deathHead))
		atomic.StoreUint32((*uint32)(unsafe.Pointer(&mem[deathFutexOffset])), uint32(unix.Gettid()))
		deathHead = robustListHead{next: uintptr(entry), futexOffset: deathFutexOffset}
		_, _, e := unix.RawSyscall(unix.SYS_SET_ROBUST_LIST, uintptr(unsafe.Pointer(&deathHead)), unsafe.Sizeof(deathHead), 0)
		if e != 0 {
			armed <- fmt.Errorf("set_robust_list: %w", e)
			return // the thread ends with the goroutine: nothing is held
		}
		armed <- nil
		select {}
	}()
	if err := <-armed; err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// reaperArgs is what the reaper must clean up after the daemon.
type reaperArgs struct {
	dir       string // the mount point
	realPaths bool   // the real-path mounts too
	stateDir  string // the crash journal ("" for none)
	netns     string // the engine's network namespace path ("" for the reaper's own)
}

// reaper is the daemon's handle on its reaper child.
type reaper struct {
	w int // the pipe's write end (-1 once closed)
}

// startReaper starts a child process that waits for this process to end
// (the death futex, else EOF on a pipe whose write end only we hold) and
// then, once told the tree is mounted (mounted), removes the real-path
// mounts over /sys/class/net and /proc/net (removeRealPaths) and lazily
// detaches dir, aborting its FUSE connection; then gives the slaves the
// journal in stateDir lists back what they had before (MAC, MTU, up state,
// disable_ipv6, no isolation chain; the journal itself stays, so that the
// next daemon restores the bonds). The child shares this process's mount
// namespace. It is started before the journal's restore, so that a daemon
// killed while it restores leaves no slave half restored. quit tells it to
// exit quietly.
func startReaper(a reaperArgs, stderr io.Writer) (*reaper, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return nil, fmt.Errorf("pipe: %w", err)
	}
	r := os.NewFile(uintptr(p[0]), "reaper")
	defer r.Close()
	args := []string{ReaperCmd, "--state", a.stateDir, "--netns", a.netns, "--pid", strconv.Itoa(os.Getpid())}
	if a.realPaths {
		args = append(args, "--real-paths")
	}
	files := []*os.File{r}
	if mf, err := armDeathFutex(); err != nil {
		fmt.Fprintf(stderr, "bondingfs: reaper: %v; it learns of a crash only once every file of the daemon is closed\n", err)
	} else {
		defer mf.Close()
		files = append(files, mf)
		args = append(args, "--futex")
	}
	args = append(args, a.dir)
	cmd := exec.Command(self, args...)
	cmd.ExtraFiles = files
	cmd.Stderr = stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		unix.Close(p[1])
		return nil, err
	}
	go func() { _ = cmd.Wait() }()
	return &reaper{w: p[1]}, nil
}

// send writes one message to the reaper.
func (r *reaper) send(b byte) {
	if r != nil && r.w >= 0 {
		_, _ = unix.Write(r.w, []byte{b})
	}
}

// mounted tells the reaper the tree is mounted.
func (r *reaper) mounted() { r.send(reaperMounted) }

// quit tells the reaper to exit without doing anything (a clean stop).
func (r *reaper) quit() {
	if r == nil || r.w < 0 {
		return
	}
	r.send(reaperQuit)
	unix.Close(r.w)
	r.w = -1
}

// Reaper is the reaper child startReaper starts, with the arguments it
// gives: fd 3 is the pipe from the daemon, fd 4 (with --futex) the death
// futex's page. It returns the exit status.
func Reaper(args []string) int {
	fs := flag.NewFlagSet(ReaperCmd, flag.ContinueOnError)
	realPaths := fs.Bool("real-paths", false, "")
	stateDir := fs.String("state", "", "")
	nsPath := fs.String("netns", "", "")
	futex := fs.Bool("futex", false, "")
	daemonPid := fs.Int("pid", 0, "")
	if fs.Parse(args) != nil || fs.NArg() != 1 {
		return 2
	}
	dir := fs.Arg(0)
	logf := func(format string, args ...any) { fmt.Fprintf(os.Stderr, "bondingfs: reaper: "+format+"\n", args...) }
	// died is written to once the futex says the daemon's thread is gone
	var died [2]int
	if err := unix.Pipe2(died[:], unix.O_CLOEXEC); err != nil {
		logf("%v", err)
		return 1
	}
	if *futex {
		if err := watchDeathFutex(4, died[1]); err != nil {
			logf("%v", err)
		}
	}
	mounted := false
	for {
		fds := []unix.PollFd{{Fd: 3, Events: unix.POLLIN}, {Fd: int32(died[0]), Events: unix.POLLIN}}
		if _, err := unix.Poll(fds, -1); err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			logf("poll: %v", err)
			return 1
		}
		// the pipe first: a quit written before the exit wins over the
		// death it precedes
		quit, eof := readReaperMessages(3, &mounted)
		if quit {
			return 0
		}
		if eof || fds[1].Revents != 0 {
			break
		}
	}
	if mounted {
		detachDead(dir, *realPaths)
	}
	reapSlaves(*stateDir, *nsPath, *daemonPid, logf)
	_ = fastpath.Reap(*nsPath) // clsact filters (kernels without tcx) outlive the daemon
	return 0
}

// readReaperMessages reads what the daemon wrote on the pipe fd without
// blocking: quit after reaperQuit, eof once the daemon's end is closed.
func readReaperMessages(fd int, mounted *bool) (quit, eof bool) {
	var b [64]byte
	for {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		if n, _ := unix.Poll(fds, 0); n == 0 {
			return false, false
		}
		n, err := unix.Read(fd, b[:])
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if n <= 0 {
			return false, true
		}
		for _, c := range b[:n] {
			switch c {
			case reaperQuit:
				return true, false
			case reaperMounted:
				*mounted = true
			}
		}
	}
}

// watchDeathFutex maps the death futex's page at fd and, from a thread of
// its own, waits until the lock word's owner is gone (FUTEX_OWNER_DIED, or
// another owner); then it writes a byte to notify.
func watchDeathFutex(fd, notify int) error {
	mem, err := unix.Mmap(fd, 0, os.Getpagesize(), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("mmap death futex: %w", err)
	}
	word := (*uint32)(unsafe.Pointer(&mem[deathFutexOffset]))
	owner := atomic.LoadUint32(word) & futexTIDMask
	if owner == 0 {
		return errors.New("death futex not armed")
	}
	go func() {
		for {
			v := atomic.LoadUint32(word)
			if v&futexTIDMask != owner || v&futexOwnerDied != 0 {
				break
			}
			if v&futexWaiters == 0 {
				if !atomic.CompareAndSwapUint32(word, v, v|futexWaiters) {
					continue
				}
				v |= futexWaiters
			}
			// EAGAIN when the word changed meanwhile, EINTR: look again
			_, _, _ = unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(word)), futexWait, uintptr(v), 0, 0, 0)
		}
		_, _ = unix.Write(notify, []byte{1})
	}()
	return nil
}

// detachDead removes the tree at dir of a daemon that died: the real-path
// mounts first, then the tree (lazily), then its FUSE connection is
// aborted, so that a process that was waiting on it gets ENOTCONN at once
// instead of waiting until the dying daemon's /dev/fuse is closed.
func detachDead(dir string, realPaths bool) {
	conn := fuseConnOf(dir)
	if realPaths {
		removeRealPaths(dir)
	}
	_ = unix.Unmount(dir, unix.MNT_DETACH)
	if conn != "" {
		_ = os.WriteFile(filepath.Join("/sys/fs/fuse/connections", conn, "abort"), []byte("1"), 0)
	}
}

// fuseConnOf returns the fusectl connection name (the device minor) of the
// bondingfs mount at dir, from mountinfo (never touching the mount), or "".
func fuseConnOf(dir string) string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	conn := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// id parent major:minor root point opts ... - fstype source
		fl := strings.Fields(sc.Text())
		if len(fl) < 5 || unescapeMount(fl[4]) != dir {
			continue
		}
		sep := -1
		for i, x := range fl {
			if x == "-" {
				sep = i
				break
			}
		}
		if sep < 0 || sep+1 >= len(fl) || fl[sep+1] != fuseType {
			continue
		}
		if _, minor, ok := strings.Cut(fl[2], ":"); ok {
			conn = minor // the topmost one, listed last
		}
	}
	return conn
}

// reaperLockWait bounds how long the reaper waits for the journal's lock:
// the dead daemon's lock goes only once the kernel has released all of its
// files, TAP devices included (about 20 ms each).
const reaperLockWait = 3 * time.Minute

// reapSlaves restores the slaves the journal in stateDir lists, unless the
// journal is clean or belongs to another daemon than daemonPid (a new
// daemon took the journal over first: its slaves are its own). The journal
// is not trusted (state.State.Sanitize).
func reapSlaves(stateDir, nsPath string, daemonPid int, logf func(string, ...any)) {
	if stateDir == "" {
		return
	}
	lock, err := lockJournal(stateDir, reaperLockWait)
	if err != nil {
		logf("%v", err)
		return
	}
	defer lock.Close()
	_, prev, err := state.Open(stateDir)
	if err != nil || prev == nil || prev.Clean {
		return
	}
	if prev.Pid != 0 && prev.Pid != daemonPid {
		return
	}
	for _, l := range prev.Sanitize() {
		logf("journal: %s", l)
	}
	h, err := netdev.NewHost(nsPath)
	if err != nil {
		logf("%v", err)
		return
	}
	defer h.Close()
	id, _ := netnsIdentity(nsPath)
	restoreSlaves(h, prev, id, func(s string) { fmt.Fprintln(os.Stderr, s) })
}
