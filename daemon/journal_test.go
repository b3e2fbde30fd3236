package daemon

import (
	"context"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"bondingfs/bond"
	"bondingfs/bond/bondtest"
	"bondingfs/internal/state"
)

// restoreHost is the in-memory host with the restore operations netdev has.
type restoreHost struct {
	*bondtest.Host
	mu         sync.Mutex
	unisolated []string
	addrs      map[int][]string
}

func (h *restoreHost) Unisolate(ifname, disableIPv6, chain string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.unisolated = append(h.unisolated, ifname+":"+disableIPv6+":"+chain)
	return nil
}

func (h *restoreHost) AddAddr(index int, cidr string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.addrs[index] = append(h.addrs[index], cidr)
	return nil
}

func newRestoreHost() *restoreHost {
	h := &restoreHost{Host: bondtest.NewHost(), addrs: map[int][]string{}}
	h.AddVeth("eth0", 0x10)
	h.AddVeth("eth1", 0x11)
	h.AddVeth("eth2", 0x12)
	return h
}

// daemonUnderTest is a registry journaling into dir, as serve runs it.
func daemonUnderTest(t *testing.T, h bond.Host, dir string) (*bond.Registry, *recorder, *state.State) {
	t.Helper()
	j, prev := openJournal(dir, func(s string) { t.Log(s) })
	rec := newRecorder(j, func(s string) { t.Log(s) })
	reg := bond.NewRegistry(bond.Config{Host: h, Journal: rec, Defaults: bond.DefaultParams()})
	if err := reg.Start(); err != nil {
		t.Fatal(err)
	}
	return reg, rec, prev
}

func write(t *testing.T, reg *bond.Registry, b, opt, val string) {
	t.Helper()
	be := reg
	if err := be.WriteOption(context.Background(), b, opt, val+"\n", bond.Caller{NetAdmin: true}); err != nil {
		t.Fatalf("echo %s > %s/bonding/%s: %v", val, b, opt, err)
	}
}

func TestJournalRestore(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	h1 := newRestoreHost()
	h1.Modify("eth1", func(li *bond.LinkInfo) { li.MTU = 1400 })
	reg1, rec1, prev := daemonUnderTest(t, h1, dir)
	if prev != nil {
		t.Fatalf("a new journal has a previous state: %+v", prev)
	}
	be := reg1 // its writes sync the journal (bond.Journal), as the mount's do
	for _, c := range []string{"+bond0", "+bond1", "+bond2", "-bond1"} {
		if err := be.WriteMasters(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	for _, kv := range [][3]string{
		{"bond0", "mode", "active-backup"}, {"bond0", "miimon", "200"}, {"bond0", "miimon", "100"},
		{"bond0", "arp_ip_target", "+192.0.2.9"}, {"bond0", "primary", "eth1"},
		{"bond0", "up", ""}, {"bond0", "slaves", "+eth0"}, {"bond0", "slaves", "+eth1"}, {"bond2", "slaves", "+eth2"},
	} {
		if kv[1] == "up" { // ip link set bond0 up
			h1.Modify(kv[0], func(li *bond.LinkInfo) { li.Up = true })
			h1.WaitEvents()
			continue
		}
		if err := be.WriteOption(ctx, kv[0], kv[1], kv[2]+"\n", bond.Caller{NetAdmin: true}); err != nil {
			t.Fatalf("%v: %v", kv, err)
		}
	}
	got := rec1.j.State()
	b0 := got.Bond("bond0")
	if names := bondNames(got); !slices.Equal(names, []string{"bond0", "bond2"}) || b0 == nil {
		t.Fatalf("journal bonds %v, want [bond0 bond2]", names)
	}
	if v, _ := b0.Option("miimon"); v != "100" {
		t.Errorf("journal miimon %q, want the last write 100", v)
	}
	if v, _ := b0.Option("arp_ip_target"); v != "192.0.2.9" {
		t.Errorf("journal arp_ip_target %q", v)
	}
	var opts []string
	for _, o := range b0.Options {
		opts = append(opts, o.Name)
	}
	if !slices.Equal(opts, []string{"mode", "arp_ip_target", "primary", "miimon"}) && !slices.Equal(opts, []string{"mode", "miimon", "arp_ip_target", "primary"}) {
		t.Errorf("journal options in order %v", opts)
	}
	if len(b0.Slaves) != 2 || b0.Slaves[1].Name != "eth1" || b0.Slaves[1].MTU != 1400 || b0.Slaves[1].PermMAC != "02:00:00:00:00:11" {
		t.Errorf("journal slaves %+v", b0.Slaves)
	}
	if b0.ActiveSlave != "eth1" || !b0.Up {
		t.Errorf("journal: active slave %q (want the primary eth1), up %v", b0.ActiveSlave, b0.Up)
	}
	if sl := got.Bond("bond2").Slaves; len(sl) != 1 || sl[0].Name != "eth2" {
		t.Errorf("bond2's slaves in the journal: %+v", sl)
	}
	bondMAC := reg1.Snapshot().Bond("bond0").HWAddr.String()
	// the daemon dies: nothing is cleaned up, the journal stays as written

	// a new daemon on a host where the slaves are left broken (bond's MAC,
	// up, MTU of the bond) restores everything
	h2 := newRestoreHost()
	for _, n := range []string{"eth0", "eth1"} {
		h2.Modify(n, func(li *bond.LinkInfo) { li.HWAddr, _ = net.ParseMAC(bondMAC); li.Up = true })
	}
	h2.Delete("eth2", false) // gone meanwhile: skipped
	reg2, rec2, prev2 := daemonUnderTest(t, h2, dir)
	defer reg2.Close()
	if prev2 == nil || prev2.Clean {
		t.Fatalf("journal of a killed daemon: %+v", prev2)
	}
	if err := reg2.CreateBond(ctx, "bond0"); err != nil { // as max_bonds=1 would
		t.Fatal(err)
	}
	var logs []string
	logf := func(s string) { logs = append(logs, s) }
	found := restoreSlaves(h2, prev2, state.Netns{}, logf)
	restore(ctx, reg2, h2, prev2, found, logf)
	if !slices.ContainsFunc(logs, func(l string) bool { return strings.HasPrefix(l, "bondingfs: restore: bond2: slave eth2 is gone") }) {
		t.Errorf("no log line for the vanished eth2: %q", logs)
	}
	if b2 := reg2.Snapshot().Bond("bond2"); b2 == nil || len(b2.Slaves) != 0 {
		t.Errorf("bond2 after the restore: %+v", b2)
	}
	snap := reg2.Snapshot()
	if names := snapNames(snap); !slices.Equal(names, []string{"bond0", "bond2"}) {
		t.Errorf("restored bonds %v", names)
	}
	st := snap.Bond("bond0")
	if st == nil {
		t.Fatal("bond0 not restored")
	}
	if st.Params.Mode != bond.ModeActiveBackup || st.Params.Miimon != 100 || st.Params.Primary != "eth1" || len(st.Params.ARPTargets) != 1 {
		t.Errorf("restored params mode %v miimon %d primary %q targets %v", st.Params.Mode, st.Params.Miimon, st.Params.Primary, st.Params.ARPTargets)
	}
	if len(st.Slaves) != 2 || st.Slaves[0].Name != "eth0" || st.Slaves[1].Name != "eth1" {
		t.Fatalf("restored slaves %+v", st.Slaves)
	}
	if !st.Up || st.ActiveSlave != "eth1" {
		t.Errorf("restored bond up %v, active slave %q", st.Up, st.ActiveSlave)
	}
	if st.HWAddr.String() != bondMAC {
		t.Errorf("restored bond MAC %s, want %s", st.HWAddr, bondMAC)
	}
	if st.Slaves[1].PermHWAddr.String() != "02:00:00:00:00:11" {
		t.Errorf("eth1 enslaved with permanent MAC %s, want its own", st.Slaves[1].PermHWAddr)
	}
	if !strings.Contains(strings.Join(h2.unisolated, " "), "eth0") {
		t.Errorf("isolation of eth0 not undone: %v", h2.unisolated)
	}
	rec2.flush()
	s2 := rec2.j.State()
	if b := s2.Bond("bond0"); b == nil || len(b.Slaves) != 2 || b.Slaves[1].MTU != 1400 {
		t.Errorf("journal after the restore: %+v", s2.Bond("bond0"))
	}
}

func bondNames(s state.State) []string {
	var n []string
	for _, b := range s.Bonds {
		n = append(n, b.Name)
	}
	return n
}

func snapNames(s *bond.Snapshot) []string {
	var n []string
	for _, b := range s.Bonds {
		n = append(n, b.Name)
	}
	return n
}

// One journal, one daemon: a second lock waits, then fails; after the
// first is released it succeeds.
func TestLockJournal(t *testing.T) {
	dir := t.TempDir()
	a, err := lockJournal(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := lockJournal(dir, 50*time.Millisecond); err == nil {
		b.Close()
		t.Fatal("a second daemon locked a journal in use")
	} else if !strings.Contains(err.Error(), "in use by another daemon") {
		t.Errorf("error %v", err)
	}
	a.Close()
	b, err := lockJournal(dir, 0)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	b.Close()
}
