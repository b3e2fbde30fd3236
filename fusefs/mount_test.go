package fusefs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"bondingfs/bond"
	"bondingfs/internal/nettest"
)

// mountFake mounts be on a fresh directory, readable by every user, and
// unmounts it (lazily if need be) when the test ends.
func mountFake(t *testing.T, be Backend) string {
	t.Helper()
	return mountFakeOpts(t, be, Options{})
}

// mountFakeOpts is mountFake with the mount's options.
func mountFakeOpts(t *testing.T, be Backend, opts Options) string {
	t.Helper()
	nettest.SkipUnlessRoot(t)
	dir := t.TempDir()
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	srv, err := Mount(dir, be, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Unmount(); err != nil {
			t.Errorf("unmount: %v", err)
			_ = syscall.Unmount(dir, syscall.MNT_DETACH)
		}
	})
	return dir
}

// haveBusybox reports whether busybox is there for the sendfile checks
// (busybox cat); with CI=true a missing busybox fails the test, since
// .ci/run installs it (busybox-static).
func haveBusybox(t *testing.T) bool {
	t.Helper()
	if _, err := exec.LookPath("busybox"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("busybox not found: .ci/run installs it (busybox-static)")
		}
		t.Log("busybox not found: the sendfile (busybox cat) checks are left out")
		return false
	}
	return true
}

type shResult struct {
	out, err string
	rc       int
}

// sh runs a bash script with $D set to the mount point, as uid (root when 0).
func sh(t *testing.T, dir string, uid uint32, script string) shResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script)
	cmd.Env = append(os.Environ(), "D="+dir, "S="+dir+"/sys/class/net", "P="+dir+"/proc/net/bonding", "LC_ALL=C")
	if uid != 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	rc := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		rc = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("bash: %v", err)
	}
	return shResult{out.String(), errb.String(), rc}
}

func wantOut(t *testing.T, r shResult, want string) {
	t.Helper()
	if r.out != want || r.rc != 0 {
		t.Errorf("got stdout %q rc %d stderr %q; want stdout %q", r.out, r.rc, r.err, want)
	}
}

func wantErr(t *testing.T, r shResult, msg string) {
	t.Helper()
	if r.rc == 0 || !strings.Contains(r.err, msg) {
		t.Errorf("got rc %d stderr %q; want failure with %q", r.rc, r.err, msg)
	}
}

// links lists the bonding entries of a device as oracle/scenarios/lib.sh does.
const linksFn = `links() { for f in "$S/$1"/master "$S/$1"/upper_* "$S/$1"/lower_* "$S/$1"/bonding "$S/$1"/bonding_slave; do
  [ -e "$f" ] || [ -L "$f" ] || continue
  if [ -L "$f" ]; then echo "${f##*/} -> $(readlink "$f")"; else echo "${f##*/} ($(stat -c '%F' "$f"))"; fi
done; }
`

// bond0 (balance-rr, slaves eth0 and bond1) and bond1 (no slaves).
func twoBonds() (*bond.BondStatus, *bond.BondStatus) {
	b1 := &bond.BondStatus{Name: "bond1", Params: bond.DefaultParams()}
	b0 := &bond.BondStatus{Name: "bond0", Params: bond.DefaultParams(), Up: true, Carrier: true,
		Slaves: []bond.SlaveStatus{upSlave("eth0"), {Name: "bond1", Speed: bond.SpeedUnknown, Duplex: bond.DuplexUnknown}}}
	return b0, b1
}

func TestMountLayout(t *testing.T) {
	b0, b1 := twoBonds()
	be := newFake(b0, b1)
	d := mountFake(t, be)

	wantOut(t, sh(t, d, 0, `cat $S/bonding_masters`), "bond0 bond1\n")
	wantOut(t, sh(t, d, 0, `cd $P && stat -c '%A %s %n' *`), "-r--r--r-- 4096 bond0\n-r--r--r-- 4096 bond1\n")
	// busybox cat reads through sendfile, which stops at i_size on FUSE
	if haveBusybox(t) {
		wantOut(t, sh(t, d, 0, `busybox cat $P/bond0 | head -n 1`), "Ethernet Channel Bonding Driver: v"+DriverVersion+"\n")
	}
	wantOut(t, sh(t, d, 0, `cd $S && stat -c '%A %s %n' bonding_masters bond0/bonding/mode bond0/bonding/mii_status`),
		"-rw-r--r-- 4096 bonding_masters\n-rw-r--r-- 4096 bond0/bonding/mode\n-r--r--r-- 4096 bond0/bonding/mii_status\n")
	wantOut(t, sh(t, d, 0, `cat $S/bond0/bonding/mode $S/bond0/bonding/mii_status $S/bond0/bonding/slaves`),
		"balance-rr 0\nup\neth0 bond1\n")
	// an empty attribute is 0 bytes
	wantOut(t, sh(t, d, 0, `wc -c < $S/bond1/bonding/slaves`), "0\n")
	wantOut(t, sh(t, d, 0, `cat $P/bond0`), renderProc(b0))

	wantOut(t, sh(t, d, 0, linksFn+`links bond0; echo; links eth0; echo; links bond1`),
		"lower_bond1 -> ../bond1\nlower_eth0 -> ../eth0\nbonding (directory)\n\n"+
			"master -> ../bond0\nupper_bond0 -> ../bond0\nbonding_slave (directory)\n\n"+
			"master -> ../bond0\nupper_bond0 -> ../bond0\nbonding (directory)\nbonding_slave (directory)\n")
	wantOut(t, sh(t, d, 0, `cd $S/eth0/bonding_slave && for f in *; do echo "$(stat -c %A $f) $f $(cat $f)"; done`),
		"-r--r--r-- ad_actor_oper_port_state N/A\n-r--r--r-- ad_aggregator_id N/A\n-r--r--r-- ad_partner_oper_port_state N/A\n"+
			"-r--r--r-- link_failure_count 0\n-r--r--r-- mii_status up\n-r--r--r-- perm_hwaddr 02:00:00:00:00:01\n"+
			"-r--r--r-- queue_id 0\n-r--r--r-- state backup\n")
	// node_exporter's walk: through the lower_ link into the slave's directory
	wantOut(t, sh(t, d, 0, `cat $S/bond0/lower_eth0/bonding_slave/mii_status $S/eth0/master/bonding/mode`), "up\nbalance-rr 0\n")
	var names []string
	for _, o := range bond.Options {
		names = append(names, o.Name)
	}
	sort.Strings(names)
	wantOut(t, sh(t, d, 0, `ls $S/bond0/bonding`), strings.Join(names, "\n")+"\n")

	// one render per open: a reader that straddles a change sees the old text
	f, err := os.Open(filepath.Join(d, "sys/class/net/bond0/bonding/slaves"))
	if err != nil {
		t.Fatal(err)
	}
	head := make([]byte, 4)
	if _, err := io.ReadFull(f, head); err != nil {
		t.Fatal(err)
	}
	be.set(&bond.BondStatus{Name: "bond0", Params: bond.DefaultParams()})
	rest, err := io.ReadAll(f)
	f.Close()
	if got := string(head) + string(rest); err != nil || got != "eth0 bond1\n" {
		t.Errorf("straddling read = %q, %v", got, err)
	}
	// and the next open sees the new state at once (no page cache)
	wantOut(t, sh(t, d, 0, `wc -c < $S/bond0/bonding/slaves; cat $S/bonding_masters`), "0\nbond0\n")
}

func TestMountEntriesFollowSnapshot(t *testing.T) {
	be := newFake()
	d := mountFake(t, be)
	mode := filepath.Join(d, "sys/class/net/bond0/bonding/mode")
	proc := filepath.Join(d, "proc/net/bonding/bond0")
	lower := filepath.Join(d, "sys/class/net/bond0/lower_eth0")

	wantOut(t, sh(t, d, 0, `wc -c < $S/bonding_masters; ls $S; ls $P`), "0\nbonding_masters\n")
	for i := 0; i < 3; i++ {
		be.set(&bond.BondStatus{Name: "bond0", Params: bond.DefaultParams(), Slaves: []bond.SlaveStatus{upSlave("eth0")}})
		for _, p := range []string{mode, proc, lower} {
			if _, err := os.Lstat(p); err != nil {
				t.Fatalf("round %d: %v", i, err)
			}
		}
		if b, err := os.ReadFile(mode); err != nil || string(b) != "balance-rr 0\n" {
			t.Fatalf("round %d: read mode: %q, %v", i, b, err)
		}
		be.set()
		for _, p := range []string{mode, proc, lower, filepath.Join(d, "sys/class/net/eth0")} {
			if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("round %d: %s after removal: %v", i, p, err)
			}
		}
	}
	wantOut(t, sh(t, d, 0, `ls $S; ls $P`), "bonding_masters\n")
	wantErr(t, sh(t, d, 0, `cat $P/bond0`), "No such file or directory")

	// the slave moves to another bond: master follows
	be.set(&bond.BondStatus{Name: "bond0", Params: bond.DefaultParams(), Slaves: []bond.SlaveStatus{upSlave("eth0")}})
	wantOut(t, sh(t, d, 0, `readlink $S/eth0/master`), "../bond0\n")
	be.set(&bond.BondStatus{Name: "bond0", Params: bond.DefaultParams()},
		&bond.BondStatus{Name: "bond2", Params: bond.DefaultParams(), Slaves: []bond.SlaveStatus{upSlave("eth0")}})
	wantOut(t, sh(t, d, 0, linksFn+`readlink $S/eth0/master; links eth0; ls $S`),
		"../bond2\nmaster -> ../bond2\nupper_bond2 -> ../bond2\nbonding_slave (directory)\nbond0\nbond2\nbonding_masters\neth0\n")
}

// Writes through the kernel, with bash's builtin echo and /bin/echo.
func TestMountWrite(t *testing.T) {
	be := newFake(&bond.BondStatus{Name: "bond0", Params: bond.DefaultParams()})
	d := mountFake(t, be)

	wantOut(t, sh(t, d, 0, `echo +bond1 > $S/bonding_masters && cat $S/bonding_masters && ls $P`), "bond0 bond1\nbond0\nbond1\n")
	wantOut(t, sh(t, d, 0, `/bin/echo +eth0 > $S/bond1/bonding/slaves && cat $S/bond1/lower_eth0/bonding_slave/mii_status`), "up\n")
	wantOut(t, sh(t, d, 0, `printf %s -bond1 >> $S/bonding_masters; cat $S/bonding_masters; ls $S`), "bond0\nbond0\nbonding_masters\n")
	wantOut(t, sh(t, d, 0, `exec 3>$S/bond0/bonding/mode; echo 1 >&3; echo active-backup >&3`), "")

	want := []fakeWrite{
		{Data: "+bond1\n"},
		{Bond: "bond1", Option: "slaves", Data: "+eth0\n"},
		{Data: "-bond1"},
		{Bond: "bond0", Option: "mode", Data: "1\n"},
		{Bond: "bond0", Option: "mode", Data: "active-backup\n"},
	}
	got := be.recorded()
	if len(got) != len(want) {
		t.Fatalf("writes %+v, want %+v", got, want)
	}
	for i := range want {
		want[i].Caller = bond.Caller{NetAdmin: true}
		if got[i] != want[i] {
			t.Errorf("write %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestMountErrno(t *testing.T) {
	be := newFake(&bond.BondStatus{Name: "bond0", Params: bond.DefaultParams()})
	d := mountFake(t, be)

	be.setErr("bond0/mode", syscall.EBUSY)
	wantErr(t, sh(t, d, 0, `echo 1 > $S/bond0/bonding/mode`), "write error: Device or resource busy")
	wantErr(t, sh(t, d, 0, `/bin/echo 1 > $S/bond0/bonding/mode`), "write error: Device or resource busy")
	be.setErr("masters", syscall.ENODEV)
	wantErr(t, sh(t, d, 0, `echo -bond9 > $S/bonding_masters`), "write error: No such device")
	be.setErr("bond0/slaves", fmt.Errorf("wrapped: %w", syscall.EPERM))
	wantErr(t, sh(t, d, 0, `echo +eth9 > $S/bond0/bonding/slaves`), "write error: Operation not permitted")
	be.setErr("bond0/slaves", errors.New("no errno"))
	wantErr(t, sh(t, d, 0, `echo +eth9 > $S/bond0/bonding/slaves`), "write error: Invalid argument")
	// a panicking backend costs one EIO, not the daemon
	be.setErr("bond0/slaves", nil)
	be.setHook(func(context.Context, fakeWrite) error { panic("boom") })
	wantErr(t, sh(t, d, 0, `echo +eth9 > $S/bond0/bonding/slaves`), "write error: Input/output error")
	be.setHook(nil)
	wantOut(t, sh(t, d, 0, `cat $S/bonding_masters`), "bond0\n")
}

func TestMountPermissions(t *testing.T) {
	b := &bond.BondStatus{Name: "bond0", Params: bond.DefaultParams(), AD: &bond.ADStatus{SystemPriority: 65535},
		Slaves: []bond.SlaveStatus{upSlave("eth0")}}
	b.Params.Mode = bond.Mode8023AD
	be := newFake(b)
	d := mountFake(t, be)

	for _, f := range []string{"$S/bond0/bonding/mii_status", "$S/eth0/bonding_slave/state"} {
		wantErr(t, sh(t, d, 0, `echo x > `+f), "Permission denied")
		wantErr(t, sh(t, d, 0, `echo x >> `+f), "Permission denied")
	}
	// procfs: root may open the file for writing; the write fails with EIO
	wantErr(t, sh(t, d, 0, `echo x > $P/bond0`), "Input/output error")
	wantErr(t, sh(t, d, 65534, `echo x > $P/bond0`), "Permission denied")
	// sysfs refuses to create names (Debian's ifenslave writes a missing iface_queue_id)
	wantErr(t, sh(t, d, 0, `echo 1 > $S/bond0/bonding/iface_queue_id`), "Permission denied")
	wantErr(t, sh(t, d, 0, `echo 1 > $S/newfile`), "Permission denied")
	wantErr(t, sh(t, d, 0, `mkdir $S/bond0/x`), "Operation not permitted")
	wantErr(t, sh(t, d, 0, `rm -f $S/bonding_masters`), "Operation not permitted")
	if w := be.recorded(); len(w) != 0 {
		t.Errorf("refused writes reached the backend: %+v", w)
	}

	// another user reads everything but writes nothing, and sees no 802.3ad details
	const nobody = 65534
	wantErr(t, sh(t, d, nobody, `echo 1 > $S/bond0/bonding/mode`), "Permission denied")
	r := sh(t, d, nobody, `cat $P/bond0`)
	wantOut(t, r, RenderProcAs(b, bond.Caller{}))
	if strings.Contains(r.out, "System priority") {
		t.Errorf("unprivileged proc read shows system priority")
	}
	wantOut(t, sh(t, d, 0, `grep -c 'System priority: 65535' $P/bond0`), "1\n")
	// sysfs files get the caller too: ad_actor_sys_prio is root-only
	wantOut(t, sh(t, d, nobody, `wc -c < $S/bond0/bonding/ad_actor_sys_prio`), "0\n")
	wantOut(t, sh(t, d, 0, `cat $S/bond0/bonding/ad_actor_sys_prio`), "65535\n")
}

// Reads never wait for the engine: with one P, a write blocked in the backend
// and many concurrent readers, every read completes.
func TestMountReadsDoNotBlock(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	be := newFake(&bond.BondStatus{Name: "bond0", Params: bond.DefaultParams()})
	d := mountFake(t, be)

	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	be.setHook(func(ctx context.Context, w fakeWrite) error {
		once.Do(func() { close(entered) })
		<-release
		return nil
	})
	done := make(chan shResult, 1)
	go func() { done <- sh(t, d, 0, `echo 1 > $S/bond0/bonding/mode`) }()
	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		t.Fatal("write never reached the backend")
	}

	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, p := range []string{"proc/net/bonding/bond0", "sys/class/net/bonding_masters", "sys/class/net/bond0/bonding/mode"} {
				if _, err := os.ReadFile(filepath.Join(d, p)); err != nil {
					errs <- err
				}
			}
		}()
	}
	readers := make(chan struct{})
	go func() { wg.Wait(); close(readers) }()
	select {
	case <-readers:
	case <-time.After(10 * time.Second):
		t.Fatal("reads blocked behind a pending write")
	}
	wantOut(t, sh(t, d, 0, `cat $S/bonding_masters`), "bond0\n")
	close(release)
	if r := <-done; r.rc != 0 {
		t.Errorf("blocked write: rc %d %q", r.rc, r.err)
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// A signal to a writer waiting on the engine interrupts the FUSE request,
// which cancels the context the backend got.
func TestMountInterrupt(t *testing.T) {
	be := newFake(&bond.BondStatus{Name: "bond0", Params: bond.DefaultParams()})
	d := mountFake(t, be)

	entered, canceled := make(chan struct{}), make(chan struct{})
	be.setHook(func(ctx context.Context, w fakeWrite) error {
		close(entered)
		select {
		case <-ctx.Done():
			close(canceled)
			return ctx.Err()
		case <-time.After(10 * time.Second):
			return nil
		}
	})
	cmd := exec.Command("bash", "-c", `echo 1 > "$1"`, "bash", filepath.Join(d, "sys/class/net/bond0/bonding/mode"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		t.Fatal("write never reached the backend")
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-canceled:
	case <-time.After(5 * time.Second):
		t.Error("the backend's context was not canceled")
	}
	cmd.Wait()
}

func TestMountUnmountClean(t *testing.T) {
	nettest.SkipUnlessRoot(t)
	before := runtime.NumGoroutine()
	dir := t.TempDir()
	be := newFake(&bond.BondStatus{Name: "bond0", Params: bond.DefaultParams()})
	srv, err := Mount(dir, be, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "proc/net/bonding/bond0")); err != nil || len(b) == 0 {
		t.Errorf("read: %v", err)
	}
	if err := srv.Unmount(); err != nil {
		_ = syscall.Unmount(dir, syscall.MNT_DETACH)
		t.Fatal(err)
	}
	srv.Wait()
	if err := srv.Unmount(); err != nil {
		t.Errorf("second Unmount: %v", err)
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mi), " "+dir+" ") {
		t.Errorf("%s still mounted", dir)
	}
	deadline := time.Now().Add(3 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines after Unmount, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}

// TestMountProcFileLongerThanAPage: /proc/net/bonding/<bond> of an 802.3ad
// bond with eight ports and their LACPDU details is longer than a page; its
// size is the pages it fills, so that sendfile readers (busybox cat, whose
// splice read stops at the size) get all of it, as read(2) readers do.
func TestMountProcFileLongerThanAPage(t *testing.T) {
	b := &bond.BondStatus{Name: "bond0", Up: true, Carrier: true,
		AD: &bond.ADStatus{SystemPriority: 65535, SystemMAC: mac("02:00:00:00:00:01"),
			ActiveAggregator: &bond.ADAggregator{ID: 1, NumPorts: 8, ActorKey: 15, PartnerKey: 1}},
		Params: params(func(p *bond.Params) { p.Mode, p.Miimon = bond.Mode8023AD, 100 }),
	}
	for i := 0; i < 8; i++ {
		b.Slaves = append(b.Slaves, adPort(veth(i, bond.LinkUp, 0), 1, i+1, 61))
	}
	text := RenderProcAs(b, bond.Caller{NetAdmin: true})
	if len(text) <= bond.PageSize {
		t.Fatalf("the text is %d bytes, not longer than a page: the test proves nothing", len(text))
	}
	d := mountFake(t, newFake(b))
	wantOut(t, sh(t, d, 0, `stat -c %s $P/bond0`), fmt.Sprintf("%d\n", procFileSize(len(text))))
	wantOut(t, sh(t, d, 0, `cat $P/bond0`), text)
	if haveBusybox(t) {
		wantOut(t, sh(t, d, 0, `busybox cat $P/bond0`), text)
	}
}

// lockedBuffer is a bytes.Buffer for go-fuse's debug logger, which writes
// from every request goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// take returns what was written so far and empties the buffer.
func (l *lockedBuffer) take() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.b.String()
	l.b.Reset()
	return s
}

var fuseRequest = regexp.MustCompile(`rx \d+: ([A-Z_]+) (n\d+)`)

// TestMountRequestsPerEchoRead counts the FUSE requests of a bash
// `echo 100 > miimon; read -r _ < miimon` (the "echo+read" of make bench):
// close(2) sends no FLUSH (Flush answers ENOSYS once), the skeleton's
// entries are cached (three LOOKUPs a walk: bond0, bonding, miimon), and
// each file is opened once.
func TestMountRequestsPerEchoRead(t *testing.T) {
	be := newFake(&bond.BondStatus{Name: "bond0", Params: bond.DefaultParams()})
	var dbg lockedBuffer
	d := mountFakeOpts(t, be, Options{Debug: true, DebugLog: log.New(&dbg, "", 0)})
	// the fake records writes and applies none: miimon reads 0
	const echoRead = `F=$S/bond0/bonding/miimon; echo 0 > $F && read -r v < $F && echo $v`
	// a first round: FLUSH's ENOSYS, the skeleton's entries
	wantOut(t, sh(t, d, 0, echoRead), "0\n")
	dbg.take()
	wantOut(t, sh(t, d, 0, echoRead), "0\n")
	var ops []string
	count := map[string]int{}
	for _, m := range fuseRequest.FindAllStringSubmatch(dbg.take(), -1) {
		op, node := m[1], m[2]
		if op == "RELEASE" || op == "FORGET" || op == "BATCH_FORGET" {
			continue // asynchronous: not part of the round trip
		}
		ops = append(ops, op+" "+node)
		count[op]++
	}
	t.Logf("echo+read: %d requests (RELEASE aside): %v", len(ops), ops)
	if count["FLUSH"] != 0 {
		t.Errorf("%d FLUSH requests: close(2) should send none after the first ENOSYS", count["FLUSH"])
	}
	if count["SETATTR"] != 1 || count["WRITE"] != 1 || count["READ"] != 1 || count["OPEN"] != 2 {
		t.Errorf("requests %v, want 1 SETATTR, 1 WRITE, 1 READ and 2 OPEN", count)
	}
	if count["LOOKUP"] > 6 {
		t.Errorf("%d LOOKUP requests, want at most 6 (bond0, bonding, miimon per walk; the skeleton is cached)", count["LOOKUP"])
	}
}
