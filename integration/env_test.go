package integration

// Test environment: root check, the bondingfs binary, network namespaces,
// veth pairs, and the daemon's lifecycle. Everything a test creates is removed
// in t.Cleanup, also when the test fails; only processes the test started are
// signalled, by pid.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"bondingfs/internal/nettest"
)

// repoRoot is the module root (go test runs in the package directory).
var repoRoot = func() string {
	d, err := filepath.Abs("..")
	if err != nil {
		panic(err)
	}
	return d
}()

// needTools fails (CI) or skips the test when a command it runs is missing.
func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s not found: .ci/run installs it", tool)
			}
			t.Skipf("%s not found (apt-get install iproute2 iperf3 busybox-static iputils-ping, or run .ci/run)", tool)
		}
	}
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// bondingfsBin returns the daemon binary: $BONDINGFS_BIN, or bin/bondingfs built
// from this checkout (once per test process).
func bondingfsBin(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		if p := os.Getenv("BONDINGFS_BIN"); p != "" {
			binPath, buildErr = filepath.Abs(p)
			return
		}
		gobin, err := exec.LookPath("go")
		if err != nil {
			gobin = "/usr/local/go/bin/go"
		}
		binPath = filepath.Join(repoRoot, "bin", "bondingfs")
		cmd := exec.Command(gobin, "build", "-o", binPath, "./cmd/bondingfs")
		cmd.Dir = repoRoot
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/bondingfs: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// run runs a command and returns its combined output; the test fails on error.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := runErr(name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// runErr runs a command (at most 60 s) and returns its combined output and error.
func runErr(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	return string(out), err
}

// isMounted reports whether dir is a mount point in this mount namespace.
func isMounted(dir string) bool {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && fields[4] == dir {
			return true
		}
	}
	return false
}

// daemon is one `bondingfs serve` started by a test.
type daemon struct {
	cmd        *exec.Cmd
	root       string // --root
	sys, proc  string // root/sys/class/net, root/proc/net/bonding
	klog       string // --log
	out        string // stdout+stderr
	done       chan struct{}
	waitErr    error
	stopped    bool
	stopResult error
}

// startDaemon starts `bondingfs serve --root <tmp> [--netns NS] --log <tmp> opts...`
// and waits until the mount is ready. It is stopped (SIGTERM, then SIGKILL) and
// its mount removed when the test ends.
func startDaemon(t *testing.T, netns string, opts ...string) *daemon {
	t.Helper()
	return launchDaemon(t, netns, nil, opts, func(d *daemon) (bool, string) {
		m := filepath.Join(d.sys, "bonding_masters")
		_, err := os.Stat(m)
		return err == nil, m + " did not appear"
	})
}

// launchDaemon starts `bondingfs serve --root <tmp> --log <tmp> [--netns NS]
// flags... opts...` in a fresh temporary directory and polls ready every
// 50 ms until it reports true (its text says what it waits for), for up to
// 15 s. The daemon is stopped when the test ends.
func launchDaemon(t *testing.T, netns string, flags func(dir string) []string, opts []string, ready func(*daemon) (bool, string)) *daemon {
	t.Helper()
	return launchDaemonAt(t, netns, "", flags, opts, ready)
}

// startDaemonAt is startDaemon with the mount at root (which may be a dead
// mount the daemon must detach).
func startDaemonAt(t *testing.T, netns, root string, opts ...string) *daemon {
	t.Helper()
	return launchDaemonAt(t, netns, root, nil, opts, func(d *daemon) (bool, string) {
		m := filepath.Join(d.sys, "bonding_masters")
		_, err := os.Stat(m)
		return err == nil, m + " did not appear"
	})
}

// launchDaemonAt is launchDaemon with the mount at root ("" for one in the
// temporary directory). Without --state in opts the crash journal goes to
// the temporary directory too, never to the system's.
func launchDaemonAt(t *testing.T, netns, root string, flags func(dir string) []string, opts []string, ready func(*daemon) (bool, string)) *daemon {
	t.Helper()
	bin := bondingfsBin(t)
	dir := t.TempDir()
	given := root != ""
	if !given {
		root = filepath.Join(dir, "mnt")
	}
	d := &daemon{
		root: root,
		klog: filepath.Join(dir, "kernel.log"),
		out:  filepath.Join(dir, "bondingfs.out"),
		done: make(chan struct{}),
	}
	d.sys = filepath.Join(d.root, "sys/class/net")
	d.proc = filepath.Join(d.root, "proc/net/bonding")
	if err := os.MkdirAll(d.root, 0o755); err != nil && !given {
		t.Fatal(err)
	}
	args := []string{"serve", "--root", d.root, "--log", d.klog}
	if flags != nil {
		args = append(args, flags(dir)...)
	}
	if !slices.ContainsFunc(opts, func(o string) bool { return strings.HasPrefix(o, "--state") }) {
		args = append(args, "--state", filepath.Join(dir, "state"))
	}
	if netns != "" {
		args = append(args, "--netns", netns)
	}
	args = append(args, opts...)
	outf, err := os.Create(d.out)
	if err != nil {
		t.Fatal(err)
	}
	d.cmd = exec.Command(bin, args...)
	d.cmd.Stdout, d.cmd.Stderr = outf, outf
	if err := d.cmd.Start(); err != nil {
		outf.Close()
		t.Fatalf("start %s: %v", bin, err)
	}
	go func() {
		d.waitErr = d.cmd.Wait()
		outf.Close()
		close(d.done)
	}()
	t.Cleanup(func() {
		if err := d.stop(); err != nil {
			t.Errorf("stopping bondingfs: %v", err)
		}
		if t.Failed() {
			d.dumpLogs(t)
		}
	})
	t.Logf("started bondingfs (pid %d): %s", d.cmd.Process.Pid, strings.Join(args, " "))
	deadline := time.Now().Add(15 * time.Second)
	for {
		ok, what := ready(d)
		if ok {
			return d
		}
		select {
		case <-d.done:
			t.Fatalf("bondingfs exited before it was ready (%s): %v", what, d.waitErr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("bondingfs: %s within 15 s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop sends SIGTERM, waits up to 15 s (then SIGKILL), and lazily unmounts a
// mount the daemon left behind (an error: it must unmount on SIGTERM).
func (d *daemon) stop() error {
	if d.stopped {
		return d.stopResult
	}
	d.stopped = true
	var errs []error
	select {
	case <-d.done:
		errs = append(errs, fmt.Errorf("bondingfs had already exited: %v", d.waitErr))
	default:
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.done:
			if d.waitErr != nil {
				errs = append(errs, fmt.Errorf("bondingfs exited with %v after SIGTERM", d.waitErr))
			}
		case <-time.After(15 * time.Second):
			_ = d.cmd.Process.Kill()
			<-d.done
			errs = append(errs, errors.New("bondingfs ignored SIGTERM for 15 s; killed"))
		}
	}
	for i := 0; i < 40 && isMounted(d.root); i++ {
		time.Sleep(50 * time.Millisecond)
	}
	if isMounted(d.root) {
		errs = append(errs, fmt.Errorf("mount %s left behind after the daemon exited; lazy unmount", d.root))
		if err := syscall.Unmount(d.root, syscall.MNT_DETACH); err != nil {
			errs = append(errs, fmt.Errorf("umount -l %s: %v", d.root, err))
		}
	}
	d.stopResult = errors.Join(errs...)
	return d.stopResult
}

func (d *daemon) dumpLogs(t *testing.T) {
	t.Helper()
	for _, f := range []string{d.out, d.klog} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		t.Logf("---- %s (last 40 lines)\n%s", filepath.Base(f), tail(string(b), 40))
	}
}

// alive reports whether the daemon is still running.
func (d *daemon) alive() bool {
	select {
	case <-d.done:
		return false
	default:
		return true
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// echo does `echo value > path` (open O_WRONLY|O_CREAT|O_TRUNC, one write).
func echo(path, value string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, werr := f.Write([]byte(value + "\n"))
	cerr := f.Close()
	if werr != nil {
		return werr
	}
	return cerr
}

func mustEcho(t *testing.T, path, value string) {
	t.Helper()
	if err := echo(path, value); err != nil {
		t.Fatalf("echo %s > %s: %v", value, path, err)
	}
}

func readTrim(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("cat %s: %v", path, err)
	}
	return strings.TrimSpace(string(b))
}

// topo is the test topology of datapath.md §3: namespace A holds the daemon's
// bond0 and the slaves eth0..ethN-1; namespace B holds their veth peers p0..pN-1
// in bridge br0 with 192.0.2.2/24.
type topo struct {
	A, B *nettest.Netns
	d    *daemon
	n    int
}

const (
	bondAddr = "192.0.2.1"
	peerAddr = "192.0.2.2"
)

func newTopo(t *testing.T, slaves int, opts ...string) *topo {
	t.Helper()
	tp := &topo{A: nettest.NewNetns(t, "bfs-a-"), B: nettest.NewNetns(t, "bfs-b-"), n: slaves}
	var ports []string
	for i := 0; i < slaves; i++ {
		eth, p := fmt.Sprintf("eth%d", i), fmt.Sprintf("p%d", i)
		nettest.Veth(t, tp.A, eth, tp.B, p)
		tp.A.SetDown(t, eth) // slaves start down, as after boot
		ports = append(ports, p)
	}
	nettest.Bridge(t, tp.B, "br0", peerAddr+"/24", ports...)
	tp.d = startDaemon(t, tp.A.Name(), opts...)
	return tp
}

// bond writes the option files of bond0 in order (name, value pairs) through the mount.
func (tp *topo) bond(t *testing.T, kv ...string) {
	t.Helper()
	for i := 0; i+1 < len(kv); i += 2 {
		mustEcho(t, filepath.Join(tp.d.sys, "bond0/bonding", kv[i]), kv[i+1])
	}
}

// up brings bond0 up with 192.0.2.1/24 and waits until the peer answers.
func (tp *topo) up(t *testing.T) {
	t.Helper()
	tp.A.SetUp(t, "bond0")
	tp.A.AddAddr(t, "bond0", bondAddr+"/24")
	tp.waitPing(t, 10*time.Second)
}

func (tp *topo) waitPing(t *testing.T, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		out, err := tp.A.Exec("ping", "-n", "-c", "1", "-W", "1", peerAddr)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not reachable through bond0 within %v:\n%s\n%s", peerAddr, timeout, out,
				tp.A.Run(t, "ip", "-d", "link", "show"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var pingSummary = regexp.MustCompile(`(\d+) packets transmitted, (\d+) (?:packets )?received`)

// pingStats parses iputils ping's summary line.
func pingStats(out string) (sent, recv int, ok bool) {
	m := pingSummary.FindStringSubmatch(out)
	if m == nil {
		return 0, 0, false
	}
	sent, _ = strconv.Atoi(m[1])
	recv, _ = strconv.Atoi(m[2])
	return sent, recv, true
}

// bgCmd starts a command whose pid the test owns; it is killed at cleanup if still running.
type bgCmd struct {
	cmd  *exec.Cmd
	out  bytes.Buffer
	done chan struct{}
	err  error
}

func startBg(t *testing.T, name string, args ...string) *bgCmd {
	t.Helper()
	b := &bgCmd{cmd: exec.Command(name, args...), done: make(chan struct{})}
	b.cmd.Stdout, b.cmd.Stderr = &b.out, &b.out
	if err := b.cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	go func() { b.err = b.cmd.Wait(); close(b.done) }()
	t.Cleanup(func() {
		select {
		case <-b.done:
		default:
			_ = b.cmd.Process.Kill()
			<-b.done
		}
	})
	return b
}

// wait waits for the command to finish (at most timeout) and returns its output.
func (b *bgCmd) wait(t *testing.T, timeout time.Duration) (string, error) {
	t.Helper()
	select {
	case <-b.done:
	case <-time.After(timeout):
		_ = b.cmd.Process.Kill()
		<-b.done
		t.Fatalf("%s did not finish within %v:\n%s", strings.Join(b.cmd.Args, " "), timeout, b.out.String())
	}
	return b.out.String(), b.err
}
