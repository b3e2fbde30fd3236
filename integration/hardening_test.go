package integration

// Hardening (issue 19): a restart never touches an interface that is not a
// journaled slave, the reaper detaches the mount as the daemon dies whatever
// the number of bonds, a write that cannot be journaled fails, the servers
// are bounded, and the journal's inputs are checked.

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"bondingfs/internal/nettest"
)

// makeBonds creates bond0 … bond<n-1> through bonding_masters (bond0 may
// exist already).
func makeBonds(t *testing.T, d *daemon, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if err := echo(filepath.Join(d.sys, "bonding_masters"), fmt.Sprintf("+bond%d", i)); err != nil && !strings.Contains(err.Error(), "file exists") {
			t.Fatalf("+bond%d: %v", i, err)
		}
	}
}

// timeToDetach SIGKILLs the daemon and waits until its mount is gone from
// this mount namespace; it returns the time from the kill to then (polled
// every 200 µs in /proc/self/mountinfo, which never touches the mount).
func timeToDetach(t *testing.T, d *daemon) time.Duration {
	t.Helper()
	start := time.Now()
	_ = d.cmd.Process.Kill()
	for isMounted(d.root) {
		if time.Since(start) > 2*time.Minute {
			t.Fatalf("%s still mounted 2 min after the daemon was killed", d.root)
		}
		time.Sleep(200 * time.Microsecond)
	}
	took := time.Since(start)
	<-d.done
	d.stopped = true
	return took
}

// After kill -9 the reaper detaches the mount; with many bonds the dying
// daemon takes seconds to close its TAP devices, and the reaper must not wait
// for them. The time from the kill to the detach is logged (the figure of
// docs/benchmarks.md); what is asserted is that the mount is gone and that
// what was under it answers again, never a time.
func TestReaperDetachesManyBonds(t *testing.T) {
	nettest.SkipUnlessRoot(t)
	for _, n := range []int{81, 1000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			A := nettest.NewNetns(t, "bfs-rp-")
			d := launchDaemon(t, A.Name(), nil, []string{"max_bonds=0"}, func(d *daemon) (bool, string) {
				_, err := os.Stat(filepath.Join(d.sys, "bonding_masters"))
				return err == nil, "bonding_masters did not appear"
			})
			makeBonds(t, d, n)
			reaper := d.reaperPid(t)
			took := timeToDetach(t, d)
			// the reaper goes on restoring after the detach; the test's
			// namespace and directories go only once it is done
			defer waitReaperGone(t, reaper)
			t.Logf("BENCH reaper-detach bonds=%d ms=%.1f", n, float64(took.Microseconds())/1000)
			var st unix.Statfs_t
			if err := unix.Statfs(d.root, &st); err != nil {
				t.Fatalf("statfs %s after the detach: %v", d.root, err)
			}
			if st.Type == unix.FUSE_SUPER_MAGIC {
				t.Errorf("%s is still a FUSE mount after the detach", d.root)
			}
		})
	}
}

// waitReaperGone waits until the killed daemon's reaper has exited (it has
// restored the slaves then).
func waitReaperGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for pid != 0 && syscall.Kill(pid, 0) == nil {
		if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil && strings.Contains(string(st), ") Z ") {
			return // a zombie: done, its parent is gone
		}
		if time.Now().After(deadline) {
			t.Fatalf("reaper %d still running after 3 min", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// journalOf reads the crash journal in dir.
func journalOf(t *testing.T, dir string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	var j map[string]any
	if err := json.Unmarshal(b, &j); err != nil {
		t.Fatalf("journal: %v\n%s", err, b)
	}
	return j
}

// linkOf is `ip -j link show dev` in ns: MAC, operstate flags, ifindex.
type linkOf struct {
	Index int      `json:"ifindex"`
	Name  string   `json:"ifname"`
	MAC   string   `json:"address"`
	Flags []string `json:"flags"`
	MTU   int      `json:"mtu"`
}

func showLink(t *testing.T, ns *nettest.Netns, dev string) linkOf {
	t.Helper()
	var ls []linkOf
	if err := json.Unmarshal([]byte(ns.Run(t, "ip", "-j", "link", "show", "dev", dev)), &ls); err != nil || len(ls) != 1 {
		t.Fatalf("ip -j link show %s: %v", dev, err)
	}
	return ls[0]
}

// The scenario: an active-backup bond of eth0 and eth1 in namespace
// A, kill -9, A deleted and made again, and in it lan0 (up, addressed,
// pinging its peer) and lan1 with the old slaves' ifindexes. A restart with
// the old journal must leave them alone (name and MAC do not match, and an
// ifindex means nothing in another instance of the namespace), before and
// after a clean stop.
func TestRestartSkipsOtherInterfaces(t *testing.T) {
	nettest.SkipUnlessRoot(t)
	needTools(t, "ip", "ping")
	stateDir := filepath.Join(t.TempDir(), "state")
	tp := newTopo(t, 2, "--state", stateDir)
	tp.bond(t, "mode", "active-backup", "miimon", "100", "slaves", "+eth0", "slaves", "+eth1")
	tp.up(t)
	idx := map[string]int{"eth0": showLink(t, tp.A, "eth0").Index, "eth1": showLink(t, tp.A, "eth1").Index}
	reaper := tp.d.reaperPid(t)
	tp.d.kill9(t)
	waitReaperGone(t, reaper)
	if j := journalOf(t, stateDir); j["clean"] != false || j["netns"] == nil {
		t.Fatalf("journal after kill -9: %v", j)
	}

	// A made again: lan0, lan1 take the old slaves' ifindexes
	name := tp.A.Name()
	run(t, "ip", "netns", "del", name)
	run(t, "ip", "netns", "add", name)
	tp.A.Run(t, "ip", "link", "set", "lo", "up")
	for i, dev := range []string{"lan0", "lan1"} {
		old := idx[fmt.Sprintf("eth%d", i)]
		tp.A.Run(t, "ip", "link", "add", dev, "index", strconv.Itoa(old), "type", "veth", "peer", "name", fmt.Sprintf("q%d", i), "netns", tp.B.Name())
		tp.B.SetUp(t, fmt.Sprintf("q%d", i))
	}
	tp.A.SetUp(t, "lan0")
	tp.A.AddAddr(t, "lan0", "198.51.100.1/24")
	tp.B.AddAddr(t, "q0", "198.51.100.2/24")
	tp.A.Run(t, "ping", "-n", "-c", "1", "-W", "2", "198.51.100.2")
	before := map[string]linkOf{"lan0": showLink(t, tp.A, "lan0"), "lan1": showLink(t, tp.A, "lan1")}
	if before["lan0"].Index != idx["eth0"] || before["lan1"].Index != idx["eth1"] {
		t.Fatalf("lan0, lan1 have ifindexes %d, %d, want the old %v", before["lan0"].Index, before["lan1"].Index, idx)
	}

	d := startDaemon(t, name, "--state", stateDir)
	tp.d = d
	check := func(when string) {
		t.Helper()
		for dev, want := range before {
			got := showLink(t, tp.A, dev)
			if got.MAC != want.MAC || strings.Join(got.Flags, ",") != strings.Join(want.Flags, ",") || got.MTU != want.MTU {
				t.Errorf("%s %s: %+v, was %+v", when, dev, got, want)
			}
		}
		if out, err := tp.A.Exec("ping", "-n", "-c", "1", "-W", "2", "198.51.100.2"); err != nil {
			t.Errorf("%s lan0 no longer reaches its peer:\n%s", when, out)
		}
	}
	check("after the restart")
	if got := readTrim(t, filepath.Join(d.sys, "bond0/bonding/slaves")); got != "" {
		t.Errorf("bond0 restored with slaves %q", got)
	}
	klog, _ := os.ReadFile(d.klog)
	for _, sl := range []string{"eth0", "eth1"} {
		want := fmt.Sprintf("bondingfs: restore: bond0: slave %s is gone (the namespace is not the one the journal was written in: its ifindex %d is not looked up), skipped", sl, idx[sl])
		if !strings.Contains(string(klog), want) {
			t.Errorf("log lacks %q:\n%s", want, klog)
		}
	}
	if err := d.stop(); err != nil {
		t.Fatal(err)
	}
	check("after a clean stop")
}

// A journal on a full file system: writes to the mount fail with ENOSPC and
// change nothing, status --json and the metrics say the journal is failing,
// and after kill -9 a restart restores exactly what was acknowledged.
func TestJournalFullFilesystem(t *testing.T) {
	nettest.SkipUnlessRoot(t)
	needTools(t, "ip")
	fsDir := t.TempDir()
	if err := unix.Mount("tmpfs", fsDir, "tmpfs", 0, "size=512k,mode=0700"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(fsDir, unix.MNT_DETACH) })
	stateDir := filepath.Join(fsDir, "state")
	ctl := filepath.Join(t.TempDir(), "ctl")
	port := freePort(t)
	A := nettest.NewNetns(t, "bfs-jf-")
	d := startDaemon(t, A.Name(), "--state", stateDir, "--ctl", ctl, "--metrics", "127.0.0.1:"+port, "max_bonds=0")
	masters := filepath.Join(d.sys, "bonding_masters")
	mustEcho(t, masters, "+bond0")
	mustEcho(t, filepath.Join(d.sys, "bond0/bonding/miimon"), "100")
	// fill the file system
	fill, err := os.Create(filepath.Join(fsDir, "fill"))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	for {
		if _, err := fill.Write(buf); err != nil {
			break
		}
	}
	fill.Close()
	if err := echo(filepath.Join(d.sys, "bond0/bonding/miimon"), "222"); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("miimon 222 on a full journal: %v, want ENOSPC", err)
	}
	if err := echo(masters, "+bond1"); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("+bond1 on a full journal: %v, want ENOSPC", err)
	}
	if got := readTrim(t, filepath.Join(d.sys, "bond0/bonding/miimon")); got != "100" {
		t.Errorf("miimon after a refused write = %s, want 100", got)
	}
	if got := readTrim(t, masters); got != "bond0" {
		t.Errorf("bonding_masters after a refused write = %q", got)
	}
	out, err := exec.Command(bondingfsBin(t), "status", "--json", "--ctl", ctl).Output()
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Journal *struct {
			Dir      string `json:"dir"`
			OK       bool   `json:"ok"`
			Error    string `json:"error"`
			Failures int    `json:"failures"`
		} `json:"journal"`
	}
	if err := json.Unmarshal(out, &rep); err != nil || rep.Journal == nil || rep.Journal.OK || rep.Journal.Dir != stateDir ||
		!strings.Contains(rep.Journal.Error, "no space left on device") || rep.Journal.Failures < 2 {
		t.Errorf("status --json journal: %s (%v)", out, err)
	}
	if body := scrape(t, "http://127.0.0.1:"+port+"/metrics"); !strings.Contains(body, "\nbondingfs_journal_ok 0\n") {
		t.Errorf("metrics do not say the journal fails:\n%s", grepLines(body, "bondingfs_journal"))
	}
	d.kill9(t)
	if err := os.Remove(filepath.Join(fsDir, "fill")); err != nil {
		t.Fatal(err)
	}
	d2 := startDaemon(t, A.Name(), "--state", stateDir, "max_bonds=0")
	if got := readTrim(t, filepath.Join(d2.sys, "bonding_masters")); got != "bond0" {
		t.Errorf("restored bonds %q, want bond0", got)
	}
	if got := readTrim(t, filepath.Join(d2.sys, "bond0/bonding/miimon")); got != "100" {
		t.Errorf("restored miimon %s, want the acknowledged 100", got)
	}
}

// A journal on a file system made read-only while the daemon runs: writes
// fail with EIO and change nothing; once it is writable again they
// succeed.
func TestJournalReadOnlyFilesystem(t *testing.T) {
	nettest.SkipUnlessRoot(t)
	needTools(t, "ip")
	fsDir := t.TempDir()
	if err := unix.Mount("tmpfs", fsDir, "tmpfs", 0, "size=4m,mode=0700"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(fsDir, unix.MNT_DETACH) })
	stateDir := filepath.Join(fsDir, "state")
	A := nettest.NewNetns(t, "bfs-jr-")
	d := startDaemon(t, A.Name(), "--state", stateDir)
	miimon := filepath.Join(d.sys, "bond0/bonding/miimon")
	mustEcho(t, miimon, "100")
	remount := func(flags uintptr) {
		t.Helper()
		var err error
		for i := 0; i < 100; i++ { // EBUSY while a journal write is under way
			if err = unix.Mount("tmpfs", fsDir, "tmpfs", unix.MS_REMOUNT|flags, "size=4m,mode=0700"); !errors.Is(err, unix.EBUSY) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err != nil {
			t.Fatalf("remount: %v", err)
		}
	}
	remount(unix.MS_RDONLY)
	if err := echo(miimon, "222"); !errors.Is(err, syscall.EIO) {
		t.Errorf("miimon 222 on a read-only journal: %v, want EIO", err)
	}
	if err := echo(filepath.Join(d.sys, "bonding_masters"), "+bond1"); !errors.Is(err, syscall.EIO) {
		t.Errorf("+bond1 on a read-only journal: %v, want EIO", err)
	}
	if got := readTrim(t, miimon); got != "100" {
		t.Errorf("miimon after a refused write = %s", got)
	}
	klog, _ := os.ReadFile(d.klog)
	if !strings.Contains(string(klog), "read-only file system; the write is refused") {
		t.Errorf("log:\n%s", klog)
	}
	remount(0)
	mustEcho(t, miimon, "300")
	if got := readTrim(t, miimon); got != "300" {
		t.Errorf("miimon after the remount = %s", got)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// A root client connected to the control socket that sends nothing does not
// keep the daemon from stopping on SIGTERM; idle metrics connections are
// bounded; an invalid --metrics stops the start before anything is mounted.
func TestBoundedServers(t *testing.T) {
	nettest.SkipUnlessRoot(t)
	needTools(t, "ip")
	A := nettest.NewNetns(t, "bfs-bs-")
	ctl := filepath.Join(t.TempDir(), "ctl")
	port := freePort(t)
	d := startDaemon(t, A.Name(), "--ctl", ctl, "--metrics", "127.0.0.1:"+port)
	fds := func() int {
		ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", d.cmd.Process.Pid))
		return len(ents)
	}
	base := fds()
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < 200; i++ {
		c, err := net.Dial("tcp", "127.0.0.1:"+port)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		conns = append(conns, c)
	}
	// each connection over the limit is closed as soon as it is accepted
	for _, c := range conns[len(conns)-5:] {
		_ = c.SetReadDeadline(time.Now().Add(time.Minute))
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Error("a metrics connection over the limit got data")
		}
	}
	if n := fds(); n > base+40 {
		t.Errorf("200 idle metrics connections: the daemon holds %d fds, was %d", n, base)
	}
	t.Logf("200 idle metrics connections: %d fds, was %d", fds(), base)
	idle, err := net.Dial("unix", ctl)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	if err := d.stop(); err != nil {
		t.Errorf("SIGTERM with an idle control client: %v", err)
	}

	// an invalid --metrics: exit 1 before anything is mounted
	root := filepath.Join(t.TempDir(), "mnt")
	out, err := exec.Command(bondingfsBin(t), "serve", "--root", root, "--netns", A.Name(), "--state", "none",
		"--ctl", filepath.Join(t.TempDir(), "ctl2"), "--metrics", "127.0.0.1:notaport").CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), "--metrics:") || strings.Contains(string(out), "bond0") {
		t.Errorf("serve --metrics 127.0.0.1:notaport: %v\n%s", err, out)
	}
	if isMounted(root) {
		t.Errorf("%s mounted before --metrics was checked", root)
	}
}

// The journal's inputs: a state directory others can write is refused
// before anything is mounted; a journal naming lo or a 5000-byte name
// changes nothing of them; the journal directory of a non-default root is
// removed on a clean stop and clean ones of earlier runs are swept; exec
// takes --state; ifenslave refuses a name with '/' with ENODEV.
func TestJournalHygiene(t *testing.T) {
	nettest.SkipUnlessRoot(t)
	needTools(t, "ip")
	bin := bondingfsBin(t)
	A := nettest.NewNetns(t, "bfs-jh-")

	open := filepath.Join(t.TempDir(), "open")
	if err := os.Mkdir(open, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(t.TempDir(), "mnt")
	out, err := exec.Command(bin, "serve", "--root", root, "--netns", A.Name(), "--state", open,
		"--ctl", filepath.Join(t.TempDir(), "ctl")).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "is writable by group or others") || isMounted(root) {
		t.Errorf("serve --state on a 0777 directory: %v\n%s", err, out)
	}

	// a journal naming lo, a bond of 5000 bytes and a slave with '/'
	stateDir := filepath.Join(t.TempDir(), "state")
	if err := os.Mkdir(stateDir, 0o700); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", 5000)
	journal := `{"version":1,"clean":false,"loaded":true,"bonds":[` +
		`{"name":"bond0","slaves":[{"name":"lo","ifindex":1,"perm_mac":"02:00:00:00:00:01","mtu":1500},{"name":"../x","ifindex":9}]},` +
		`{"name":"` + long + `"}]}`
	if err := os.WriteFile(filepath.Join(stateDir, "state.json"), []byte(journal), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, A.Name(), "--state", stateDir)
	if lo := showLink(t, A, "lo"); !strings.Contains(strings.Join(lo.Flags, ","), "UP") || lo.MAC != "00:00:00:00:00:00" {
		t.Errorf("lo after the restore: %+v", lo)
	}
	if got := readTrim(t, filepath.Join(d.sys, "bonding_masters")); got != "bond0" {
		t.Errorf("bonds restored: %q", got)
	}
	klog, _ := os.ReadFile(d.klog)
	if strings.Contains(string(klog), long[:100]) || !strings.Contains(string(klog), `bondingfs: journal: bond0: slave "lo": invalid name, skipped`) {
		t.Errorf("log:\n%s", tail(string(klog), 10))
	}
	// ifenslave: a slave name with '/' is ENODEV, before touching a file
	mustEcho(t, filepath.Join(d.sys, "bond0/bonding/mode"), "active-backup")
	A.SetUp(t, "bond0")
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.MkdirAll(victim, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(victim, "flags"), []byte("0x1002\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rel, _ := filepath.Rel(d.sys, victim)
	ifen := exec.Command(filepath.Join(filepath.Dir(bin), "ifenslave"), "bond0", rel)
	ifen.Env = append(os.Environ(), "IFENSLAVE_SYSFS="+d.sys)
	out, err = ifen.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != int(syscall.ENODEV) {
		t.Errorf("ifenslave bond0 %s: %v\n%s", rel, err, out)
	}
	if b, _ := os.ReadFile(filepath.Join(victim, "flags")); string(b) != "0x1002\n" {
		t.Errorf("ifenslave rewrote %s/flags: %q", victim, b)
	}
	if err := d.stop(); err != nil {
		t.Fatal(err)
	}

	// the default journal directory of a throwaway root: gone after a clean
	// stop; a clean one left by an earlier run is swept at the start
	stale := filepath.Join("/run/bondingfs-state", fmt.Sprintf("tmp-bfs-stale-%d", os.Getpid()))
	if err := os.MkdirAll(stale, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(stale) })
	if err := os.WriteFile(filepath.Join(stale, "state.json"), []byte(`{"version":1,"clean":true,"bonds":null}`), 0o600); err != nil {
		t.Fatal(err)
	}
	d = startDaemon(t, A.Name(), "--state=")
	derived := filepath.Join("/run/bondingfs-state", strings.ReplaceAll(strings.Trim(d.root, "/"), "/", "-")+"@"+A.Name())
	t.Cleanup(func() { os.RemoveAll(derived) })
	if _, err := os.Stat(filepath.Join(derived, "state.json")); err != nil {
		t.Errorf("journal of the running daemon: %v", err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("a clean journal directory of an earlier run was kept: %v", err)
	}
	if err := d.stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(derived); !os.IsNotExist(err) {
		t.Errorf("journal directory %s left after a clean stop: %v", derived, err)
	}

	// exec --state
	execState := filepath.Join(t.TempDir(), "exec-state")
	out, err = exec.Command(bin, "exec", "--root", filepath.Join(t.TempDir(), "mnt"), "--netns", A.Name(), "--state", execState,
		"--", "sh", "-c", "echo +bond5 > /sys/class/net/bonding_masters").CombinedOutput()
	if err != nil {
		t.Fatalf("exec: %v\n%s", err, out)
	}
	if j := journalOf(t, execState); j["clean"] != true {
		t.Errorf("exec --state: journal %v", j)
	}
}

// A reaper watches from before the restore: a daemon killed while it
// restores (bond0 and its slave eth0 are back, 300 more bonds are not yet)
// leaves eth0 given back what it had, and the journal whole for the next
// start, which restores every bond.
func TestKillDuringRestore(t *testing.T) {
	nettest.SkipUnlessRoot(t)
	needTools(t, "ip", "ping")
	const more = 300
	stateDir := filepath.Join(t.TempDir(), "state")
	tp := newTopo(t, 1, "--state", stateDir)
	orig := slaveState(t, tp.A, "eth0")
	tp.bond(t, "mode", "active-backup", "miimon", "100", "slaves", "+eth0")
	for i := 1; i <= more; i++ {
		mustEcho(t, filepath.Join(tp.d.sys, "bonding_masters"), fmt.Sprintf("+bond%d", i))
	}
	reaper := tp.d.reaperPid(t)
	tp.d.kill9(t)
	waitReaperGone(t, reaper)

	// the second daemon, killed once eth0 is enslaved again
	bin := bondingfsBin(t)
	dir := t.TempDir()
	klog := filepath.Join(dir, "kernel.log")
	root := filepath.Join(dir, "mnt")
	cmd := exec.Command(bin, "serve", "--root", root, "--log", klog, "--netns", tp.A.Name(), "--state", stateDir, "--ctl", filepath.Join(dir, "ctl"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		if isMounted(root) {
			_ = unix.Unmount(root, unix.MNT_DETACH)
		}
	})
	deadline := time.Now().Add(time.Minute)
	for {
		b, _ := os.ReadFile(klog)
		if strings.Contains(string(b), "(slave eth0): Enslaving as") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("eth0 not enslaved again within a minute:\n%s", tail(string(b), 20))
		}
		time.Sleep(time.Millisecond)
	}
	pid := 0
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if st, err := os.ReadFile("/proc/" + e.Name() + "/stat"); err == nil {
			if i := strings.LastIndexByte(string(st), ')'); i > 0 {
				if f := strings.Fields(string(st)[i+1:]); len(f) > 2 && f[1] == strconv.Itoa(cmd.Process.Pid) {
					if c, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline"); strings.Contains(string(c), "__reaper") {
						pid, _ = strconv.Atoi(e.Name())
					}
				}
			}
		}
	}
	_ = cmd.Process.Kill()
	<-done
	b, _ := os.ReadFile(klog)
	if strings.Contains(string(b), "bondingfs: restored ") {
		t.Logf("the kill came after the restore ended (a slow machine); the reaper's work is checked all the same")
	}
	if pid == 0 {
		t.Fatal("no reaper while the daemon restored")
	}
	waitReaperGone(t, pid)
	if got := slaveState(t, tp.A, "eth0"); got != orig {
		t.Errorf("eth0 after a kill during the restore: %+v, want %+v", got, orig)
	}
	j := journalOf(t, stateDir)
	if bs, _ := j["bonds"].([]any); len(bs) != more+1 {
		t.Errorf("journal after a kill during the restore holds %d bonds, want %d", len(bs), more+1)
	}

	d := startDaemon(t, tp.A.Name(), "--state", stateDir)
	tp.d = d
	if got := strings.Fields(readTrim(t, filepath.Join(d.sys, "bonding_masters"))); len(got) != more+1 {
		t.Errorf("%d bonds restored, want %d", len(got), more+1)
	}
	if got := readTrim(t, filepath.Join(d.sys, "bond0/bonding/slaves")); got != "eth0" {
		t.Errorf("bond0's slaves after the restart: %q", got)
	}
}
