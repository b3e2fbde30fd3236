package daemon

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"bondingfs/bond"
	"bondingfs/bond/bondtest"
	"bondingfs/internal/state"
)

// The scenario in memory: a journal written in one instance of a
// namespace (eth0 ifindex 2, eth1 ifindex 3) meets a new instance where
// lan0 and lan1 have those ifindexes, and eth1 exists again with another
// MAC. Nothing is touched; each skip is logged. In the same instance the
// ifindex finds a slave renamed meanwhile.
func TestRestoreSkipsOtherInterfaces(t *testing.T) {
	defer bondtest.VerifyNone(t)
	old := state.Netns{Inode: 4026532909, Cookie: 7}
	prev := &state.State{Netns: &old, Bonds: []state.Bond{{Name: "bond0", Slaves: []state.Slave{
		{Name: "eth0", IfIndex: 2, PermMAC: "02:00:00:00:00:10", MTU: 1500},
		{Name: "eth1", IfIndex: 3, PermMAC: "02:00:00:00:00:11", MTU: 1500},
	}}}}
	h := &restoreHost{Host: bondtest.NewHost(), addrs: map[int][]string{}}
	i0 := h.AddVeth("lan0", 0x20)
	i1 := h.AddVeth("lan1", 0x21)
	h.AddVeth("eth1", 0x99) // the old name, another MAC
	if i0 != 2 || i1 != 3 {
		t.Fatalf("fake host gave lan0, lan1 ifindexes %d, %d", i0, i1)
	}
	h.Modify("lan0", func(li *bond.LinkInfo) { li.Up = true })
	before := map[string]bond.LinkInfo{}
	for _, n := range []string{"lan0", "lan1", "eth1"} {
		before[n], _ = h.LinkByName(n)
	}
	var logs []string
	found := restoreSlaves(h, prev, state.Netns{Inode: old.Inode, Cookie: 8}, func(s string) { logs = append(logs, s) })
	if len(found["bond0"]) != 0 {
		t.Errorf("slaves found in a new namespace instance: %v", found)
	}
	for n, want := range before {
		if got, _ := h.LinkByName(n); got.Up != want.Up || got.HWAddr.String() != want.HWAddr.String() || got.MTU != want.MTU {
			t.Errorf("%s touched: %+v, was %+v", n, got, want)
		}
	}
	if len(h.unisolated) != 0 {
		t.Errorf("isolation removed from %v", h.unisolated)
	}
	want := []string{
		"bondingfs: restore: bond0: slave eth0 is gone (the namespace is not the one the journal was written in: its ifindex 2 is not looked up), skipped",
		"bondingfs: restore: bond0: slave eth1: eth1 (ifindex 4) has MAC 02:00:00:00:00:99: not the interface the journal lists, skipped",
	}
	if !slices.Equal(logs, want) {
		t.Errorf("log:\n%s\nwant:\n%s", strings.Join(logs, "\n"), strings.Join(want, "\n"))
	}

	// the same instance: the ifindex identifies the slave, renamed or not;
	// eth1's MAC is the bond's (eth0's) as active-backup left it
	h2 := &restoreHost{Host: bondtest.NewHost(), addrs: map[int][]string{}}
	h2.AddVeth("wan0", 0x10) // eth0 renamed, ifindex 2
	h2.AddVeth("eth1", 0x10) // ifindex 3, the bond's MAC
	logs = nil
	found = restoreSlaves(h2, prev, old, func(s string) { logs = append(logs, s) })
	if found["bond0"]["eth0"] != "wan0" || found["bond0"]["eth1"] != "eth1" || len(logs) != 0 {
		t.Errorf("same instance: found %v, log %q", found, logs)
	}
	if li, _ := h2.LinkByName("eth1"); li.HWAddr.String() != "02:00:00:00:00:11" {
		t.Errorf("eth1 got back MAC %s, want its own", li.HWAddr)
	}
	// an unknown instance (an old journal): the name and a MAC the slave
	// can have
	prev.Netns = nil
	logs = nil
	found = restoreSlaves(h2, prev, old, func(s string) { logs = append(logs, s) })
	if found["bond0"]["eth1"] != "eth1" || found["bond0"]["eth0"] != "" || len(logs) != 1 {
		t.Errorf("unknown instance: found %v, log %q", found, logs)
	}
}

// The loopback is never restored, whatever the journal says.
func TestRestoreNeverTouchesLoopback(t *testing.T) {
	h := &restoreHost{Host: bondtest.NewHost(), addrs: map[int][]string{}}
	idx := 1 // bondtest's lo
	id := state.Netns{Inode: 1, Cookie: 1}
	prev := &state.State{Netns: &id, Bonds: []state.Bond{{Name: "bond0", Slaves: []state.Slave{
		{Name: "lo", IfIndex: idx, PermMAC: "00:00:00:00:00:00"}, {Name: "x", IfIndex: idx},
	}}}}
	var logs []string
	found := restoreSlaves(h, prev, id, func(s string) { logs = append(logs, s) })
	if li, _ := h.LinkByName("lo"); !li.Up || len(found["bond0"]) != 0 || len(logs) != 2 {
		t.Errorf("lo: %+v, found %v, log %q", li, found, logs)
	}
}

// A write that cannot be journaled fails (EIO here: the directory is gone;
// ENOSPC for a full file system) and changes nothing; the journal's health
// says so until a write succeeds again.
func TestUnjournaledWriteChangesNothing(t *testing.T) {
	defer bondtest.VerifyNone(t)
	dir := filepath.Join(t.TempDir(), "state")
	h := newRestoreHost()
	var logs []string
	j, _ := openJournal(dir, func(s string) { t.Log(s) })
	rec := newRecorder(j, func(s string) { logs = append(logs, s) })
	reg := bond.NewRegistry(bond.Config{Host: h, Journal: rec, Defaults: bond.DefaultParams()})
	if err := reg.Start(); err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	ctx := context.Background()
	admin := bond.Caller{NetAdmin: true}
	if err := reg.WriteMasters(ctx, "+bond0"); err != nil {
		t.Fatal(err)
	}
	write(t, reg, "bond0", "miimon", "100")
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := reg.WriteOption(ctx, "bond0", "miimon", "222\n", admin); !errors.Is(err, syscall.EIO) {
		t.Errorf("miimon 222 with the journal gone: %v, want EIO", err)
	}
	if err := reg.WriteMasters(ctx, "+bond1"); !errors.Is(err, syscall.EIO) {
		t.Errorf("+bond1 with the journal gone: %v, want EIO", err)
	}
	if err := reg.WriteOption(ctx, "bond0", "slaves", "+eth0\n", admin); !errors.Is(err, syscall.EIO) {
		t.Errorf("+eth0 with the journal gone: %v, want EIO", err)
	}
	snap := reg.Snapshot()
	if b := snap.Bond("bond0"); b.Params.Miimon != 100 || len(b.Slaves) != 0 || snap.Bond("bond1") != nil {
		t.Errorf("refused writes changed the bonds: miimon %d, slaves %v, bond1 %v", b.Params.Miimon, b.Slaves, snap.Bond("bond1") != nil)
	}
	if js := journalStatus(j); js.OK || js.Failures != 3 || js.Error == "" {
		t.Errorf("journal status %+v", js)
	}
	if len(logs) != 3 || !strings.Contains(logs[0], "the write is refused") {
		t.Errorf("log %q", logs)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	write(t, reg, "bond0", "miimon", "300")
	if js := journalStatus(j); !js.OK || js.LastWrite == "" {
		t.Errorf("journal status after a good write %+v", js)
	}
	_, prev, err := state.Open(dir)
	if err != nil || prev == nil {
		t.Fatalf("journal: %v", err)
	}
	if v, _ := prev.Bond("bond0").Option("miimon"); v != "300" || len(prev.Bonds) != 1 {
		t.Errorf("journal after the good write: %+v", prev.Bonds)
	}
	if journalErrno(syscall.EDQUOT) != syscall.ENOSPC || journalErrno(syscall.EROFS) != syscall.EIO {
		t.Error("journalErrno")
	}
}

// The state directory must be a directory of the daemon's user, writable
// by no one else.
func TestCheckStateDir(t *testing.T) {
	dir := t.TempDir()
	ok := filepath.Join(dir, "ok")
	if err := os.Mkdir(ok, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := checkStateDir(ok, false); err != nil {
		t.Errorf("a 0700 directory: %v", err)
	}
	if err := checkStateDir(filepath.Join(dir, "missing"), true); err != nil {
		t.Errorf("a missing directory to create: %v", err)
	}
	if err := checkStateDir(filepath.Join(dir, "missing"), false); err == nil {
		t.Error("a missing directory accepted")
	}
	open := filepath.Join(dir, "open")
	if err := os.Mkdir(open, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := checkStateDir(open, true); err == nil || !strings.Contains(err.Error(), "mode 0777 is writable by group or others") {
		t.Errorf("a 0777 directory: %v", err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(ok, link); err != nil {
		t.Fatal(err)
	}
	if err := checkStateDir(link, true); err == nil {
		t.Error("a symlink accepted")
	}
	if os.Geteuid() == 0 {
		other := filepath.Join(dir, "other")
		if err := os.Mkdir(other, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(other, 1000, 1000); err != nil {
			t.Fatal(err)
		}
		if err := checkStateDir(other, true); err == nil || !strings.Contains(err.Error(), "owned by uid 1000") {
			t.Errorf("a directory of uid 1000: %v", err)
		}
	}
}

// The sweep removes the journal directories of daemons that stopped
// cleanly, and keeps a crashed daemon's, a locked one and the caller's.
func TestSweepStateDirs(t *testing.T) {
	defer bondtest.VerifyNone(t)
	parent := t.TempDir()
	mk := func(name, journal string) string {
		d := filepath.Join(parent, name)
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if journal != "" {
			if err := os.WriteFile(filepath.Join(d, state.FileName), []byte(journal), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return d
	}
	clean := mk("clean", `{"version":1,"clean":true,"bonds":null}`)
	empty := mk("empty", "")
	crashed := mk("crashed", `{"version":1,"clean":false,"bonds":[{"name":"bond0"}]}`)
	damaged := mk("damaged", `{`)
	held := mk("held", `{"version":1,"clean":true}`)
	mine := mk("mine", `{"version":1,"clean":true}`)
	lock, err := lockJournal(held, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	sweepStateDirs(parent, mine)
	for d, keep := range map[string]bool{clean: false, empty: false, crashed: true, damaged: true, held: true, mine: true} {
		if _, err := os.Stat(d); (err == nil) != keep {
			t.Errorf("%s: kept %v, want %v", filepath.Base(d), err == nil, keep)
		}
	}
	// a lock taken on a directory the sweep removed meanwhile is taken again
	// on the new one
	l2, err := lockJournal(clean, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if !sameFile(l2, filepath.Join(clean, lockName)) {
		t.Error("lock not on the lock file")
	}
}

// A root client that connects to the control socket and sends nothing is
// disconnected after the idle deadline, and close (the daemon's shutdown)
// does not wait for one: every connection is closed.
func TestCtlIdleClients(t *testing.T) {
	defer bondtest.VerifyNone(t)
	m, _, _ := newModule(t)
	path := filepath.Join(t.TempDir(), "ctl")
	s, err := listenCtl(path, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.idle = 50 * time.Millisecond
	s.start()
	c1, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	// the deadline: the server closes the idle connection (EOF), not the
	// client's own read deadline, which is a minute away
	_ = c1.SetReadDeadline(time.Now().Add(time.Minute))
	if _, err := c1.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("idle connection: read %v, want EOF", err)
	}
	s.close()
	// a request within the deadline is answered, and the connection stays
	// for the next one
	s, err = listenCtl(path, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.start()
	c2, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if _, err := c2.Write([]byte(`{"op":"status"}` + "\n")); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(c2)
	if !sc.Scan() {
		t.Fatal("no reply")
	}
	var rep ctlReply
	if err := json.Unmarshal(sc.Bytes(), &rep); err != nil || rep.Errno != 0 {
		t.Errorf("reply %s: %v", sc.Bytes(), err)
	}
	// close returns with c2 idle and connected (ctlIdle away)
	s.close()
	_ = c2.SetReadDeadline(time.Now().Add(time.Minute))
	if _, err := c2.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("after close: read %v, want EOF", err)
	}
	s.close() // a second close does nothing
}

// The metrics listener serves at most metricsMaxConns connections at once;
// one more is closed at once, and a slot freed is reused.
func TestMetricsConnLimit(t *testing.T) {
	defer bondtest.VerifyNone(t)
	ln, err := listenMetrics("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, metricsMaxConns+2)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	var clients []net.Conn
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	dial := func() net.Conn {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
		return c
	}
	var served []net.Conn
	for range metricsMaxConns {
		dial()
		served = append(served, <-accepted)
	}
	extra := dial()
	_ = extra.SetReadDeadline(time.Now().Add(time.Minute))
	if _, err := extra.Read(make([]byte, 1)); err == nil {
		t.Error("a connection over the limit was kept")
	}
	served[0].Close()
	dial()
	c := <-accepted
	c.Close()
	for _, s := range served[1:] {
		s.Close()
	}
	if _, err := listenMetrics("127.0.0.1:notaport"); err == nil {
		t.Error("an invalid address was bound")
	}
}

// The reaper reads the daemon's messages without blocking: mounted, quit,
// and EOF once the daemon's end is closed.
func TestReaperMessages(t *testing.T) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	mounted := false
	if q, eof := readReaperMessages(p[0], &mounted); q || eof || mounted {
		t.Errorf("nothing written: quit %v eof %v mounted %v", q, eof, mounted)
	}
	r := &reaper{w: p[1]}
	r.mounted()
	if q, eof := readReaperMessages(p[0], &mounted); q || eof || !mounted {
		t.Errorf("mounted: quit %v eof %v mounted %v", q, eof, mounted)
	}
	r.quit()
	if q, _ := readReaperMessages(p[0], &mounted); !q {
		t.Error("quit not read")
	}
	if q, eof := readReaperMessages(p[0], &mounted); q || !eof {
		t.Errorf("after quit: quit %v eof %v", q, eof)
	}
	r.quit() // once closed, nothing
}

// The engine namespace's identity: the nsfs inode of /proc/self/ns/net and
// a cookie (Linux 5.14 and later), stable across calls.
func TestNetnsIdentity(t *testing.T) {
	a, err := netnsIdentity("")
	if err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/ns/net", &st); err != nil {
		t.Fatal(err)
	}
	if a.Inode != st.Ino || a.Cookie == 0 {
		t.Errorf("identity %+v, inode %d", a, st.Ino)
	}
	// by path the cookie needs setns (CAP_SYS_ADMIN); without it, 0
	b, err := netnsIdentity("/proc/self/ns/net")
	if err != nil || !a.Same(&b) || (os.Geteuid() == 0 && b.Cookie != a.Cookie) {
		t.Errorf("by path: %+v (%v), want %+v", b, err, a)
	}
	if _, err := netnsIdentity("/nonexistent"); err == nil {
		t.Error("a missing namespace has an identity")
	}
}
