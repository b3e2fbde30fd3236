package daemon

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"bondingfs/bond"
)

// fakeModuleRegistry records what a load or unload asks of the registry.
type fakeModuleRegistry struct {
	mu       sync.Mutex
	defaults *bond.Params
	bonds    []string
	deleted  int
}

func (f *fakeModuleRegistry) SetDefaults(_ context.Context, p bond.Params) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.defaults = &p
	return nil
}

func (f *fakeModuleRegistry) CreateBond(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bonds = append(f.bonds, name)
	return nil
}

func (f *fakeModuleRegistry) DeleteAllBonds(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deleted += len(f.bonds)
	f.bonds = nil
	return nil
}

func (f *fakeModuleRegistry) state() ([]string, *bond.Params, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.bonds...), f.defaults, f.deleted
}

func newModule(t *testing.T) (*moduleState, *fakeModuleRegistry, *[]string) {
	reg := &fakeModuleRegistry{}
	var mu sync.Mutex
	var logs []string
	m := &moduleState{reg: reg, log: func(s string) { mu.Lock(); logs = append(logs, s); mu.Unlock() }}
	return m, reg, &logs
}

func TestModuleLoadUnload(t *testing.T) {
	ctx := context.Background()
	m, reg, logs := newModule(t)
	if m.Loaded() {
		t.Fatal("a new module state is loaded")
	}
	if err := m.unload(ctx); err != syscall.ENOENT {
		t.Errorf("unload while unloaded: %v, want ENOENT", err)
	}
	// Invalid options: EINVAL, nothing loaded, the kernel's log line.
	if _, err := m.load(ctx, []string{"mode=9"}); err != syscall.EINVAL {
		t.Errorf("load mode=9: %v, want EINVAL", err)
	}
	if bonds, d, _ := reg.state(); m.Loaded() || d != nil || len(bonds) != 0 {
		t.Errorf("a refused load changed the state: loaded %v, defaults %v, bonds %v", m.Loaded(), d, bonds)
	}
	if !strings.Contains(strings.Join(*logs, "\n"), `Invalid bonding mode "9"`) {
		t.Errorf("log %q lacks the kernel's error", *logs)
	}
	// The first load: bond_check_params, defaults, max_bonds bonds.
	r, err := m.load(ctx, []string{"mode=4", "miimon=100", "max_bonds=2"})
	if err != nil || r != loadDone {
		t.Fatalf("load: %v, %v", r, err)
	}
	bonds, d, _ := reg.state()
	if !reflect.DeepEqual(bonds, []string{"bond0", "bond1"}) {
		t.Errorf("bonds %v, want bond0 bond1", bonds)
	}
	if d == nil || d.Mode != bond.Mode8023AD || d.Miimon != 100 {
		t.Errorf("defaults %+v, want 802.3ad with miimon 100", d)
	}
	// A second load is a no-op whatever its options.
	if r, err := m.load(ctx, []string{"mode=9", "max_bonds=5"}); err != nil || r != loadAlready {
		t.Errorf("second load: %v, %v, want already", r, err)
	}
	if bonds, _, _ := reg.state(); len(bonds) != 2 {
		t.Errorf("second load created bonds: %v", bonds)
	}
	if err := m.unload(ctx); err != nil || m.Loaded() {
		t.Errorf("unload: %v, loaded %v", err, m.Loaded())
	}
	if bonds, _, deleted := reg.state(); len(bonds) != 0 || deleted != 2 {
		t.Errorf("after unload: bonds %v, %d deleted", bonds, deleted)
	}
	// max_bonds=0 (SUSE): loaded, no bond.
	if _, err := m.load(ctx, []string{"max_bonds=0"}); err != nil || !m.Loaded() {
		t.Errorf("load max_bonds=0: %v, loaded %v", err, m.Loaded())
	}
	if bonds, _, _ := reg.state(); len(bonds) != 0 {
		t.Errorf("max_bonds=0 created %v", bonds)
	}
}

// `bondingfs modprobe` against a daemon's control socket, as the modprobe.d
// rule runs it.
func TestModprobeThroughControlSocket(t *testing.T) {
	m, reg, _ := newModule(t)
	ctl := filepath.Join(t.TempDir(), "ctl")
	srv, err := listenCtl(ctl, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.close()
	// bound but not answering yet: already taken for a second daemon
	if _, err := listenCtl(ctl, m, nil); err == nil || !strings.Contains(err.Error(), "another daemon") {
		t.Errorf("a second daemon on a bound control socket: %v", err)
	}
	srv.start()
	if _, err := listenCtl(ctl, m, nil); err == nil || !strings.Contains(err.Error(), "another daemon") {
		t.Errorf("a second listener on a live socket: %v", err)
	}
	modprobe := func(args ...string) (int, string) {
		var errb bytes.Buffer
		c := ModprobeConfig{Ctl: ctl}
		if len(args) == 1 && args[0] == "-r" {
			c.Remove = true
		} else {
			c.Opts = args
		}
		rc := Modprobe(c, &errb)
		return rc, errb.String()
	}
	t.Setenv("MODPROBE_MODULE", "")
	if rc, out := modprobe("-r"); rc != 1 || out != "modprobe: FATAL: Module bonding is not in kernel.\n" {
		t.Errorf("modprobe -r while unloaded: rc %d, %q", rc, out)
	}
	if rc, out := modprobe("miimon=100", "mode=bogus"); rc != 1 || out != "modprobe: ERROR: could not insert 'bonding': Invalid argument\n" {
		t.Errorf("invalid option: rc %d, %q", rc, out)
	}
	if rc, out := modprobe("mode=4", "miimon=100", "max_bonds=2"); rc != 0 || out != "" {
		t.Errorf("load: rc %d, %q", rc, out)
	}
	if rc, out := modprobe(); rc != 0 || out != "" {
		t.Errorf("second load: rc %d, %q", rc, out)
	}
	if bonds, _, _ := reg.state(); len(bonds) != 2 {
		t.Errorf("bonds %v after two loads", bonds)
	}
	if rc, out := modprobe("-r"); rc != 0 || out != "" {
		t.Errorf("modprobe -r: rc %d, %q", rc, out)
	}
	if m.Loaded() {
		t.Error("loaded after modprobe -r")
	}
	// Run by modprobe (MODPROBE_MODULE set) a failure prints nothing:
	// modprobe prints its own message.
	t.Setenv("MODPROBE_MODULE", "bonding")
	if rc, out := modprobe("mode=bogus"); rc != 1 || out != "" {
		t.Errorf("invalid option under modprobe: rc %d, %q", rc, out)
	}
}

// sdNotify sends READY=1 to systemd's notification socket (Type=notify).
func TestSdNotify(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	t.Setenv("NOTIFY_SOCKET", path)
	sdNotify("READY=1")
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	if err != nil || string(buf[:n]) != "READY=1" {
		t.Errorf("notification %q, %v; want READY=1", buf[:n], err)
	}
	t.Setenv("NOTIFY_SOCKET", "")
	sdNotify("READY=1") // no socket: nothing happens
}

// FuzzCtlRequest feeds the control socket's request decoder arbitrary
// lines: it never panics, and a reply's errno is 0 only for a request it
// carried out.
func FuzzCtlRequest(f *testing.F) {
	for _, s := range []string{`{"op":"load","args":["mode=4","max_bonds=2"]}`, `{"op":"unload"}`, `{"op":"status"}`,
		`{"op":"load","args":["mode=bogus"]}`, `{"op":"frob"}`, `not json`, `{"op":"load","args":["arp_ip_target=\"1.2.3.4"]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		m, _, _ := newModule(t)
		rep := m.handle(context.Background(), line)
		if rep.Errno == 0 && rep.Error != "" {
			t.Errorf("errno 0 with error %q", rep.Error)
		}
		if rep.Loaded != m.Loaded() {
			t.Errorf("reply says loaded=%v, state is %v", rep.Loaded, m.Loaded())
		}
	})
}

// With no daemon at the socket but a bonding driver at /sys/class/net (the
// kernel's, or a daemon serving another control socket), modprobe is a no-op and
// modprobe -r refuses.
func TestModprobeDriverPresentWithoutDaemon(t *testing.T) {
	dir := t.TempDir()
	old := modprobeSysfs
	modprobeSysfs = dir
	t.Cleanup(func() { modprobeSysfs = old })
	if err := os.WriteFile(filepath.Join(dir, "bonding_masters"), []byte("bond0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MODPROBE_MODULE", "bonding")
	ctl := filepath.Join(dir, "no-daemon.ctl")
	var errb bytes.Buffer
	if rc := Modprobe(ModprobeConfig{Ctl: ctl, Root: filepath.Join(dir, "root"), Opts: []string{"mode=1"}}, &errb); rc != 0 || errb.Len() != 0 {
		t.Errorf("modprobe with a driver present: rc %d, stderr %q", rc, errb.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "root")); !os.IsNotExist(err) {
		t.Errorf("a daemon was started (its root exists): %v", err)
	}
	errb.Reset()
	if rc := Modprobe(ModprobeConfig{Ctl: ctl, Remove: true}, &errb); rc != 1 || !strings.Contains(errb.String(), "cannot be unloaded from here") {
		t.Errorf("modprobe -r with a driver but no daemon: rc %d, stderr %q", rc, errb.String())
	}
}
