package fusefs

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"bondingfs/bond"
)

// fakeSysfs writes a sysfs-like devices/virtual/net/<dev>/<attr> tree into a
// temp dir, with class/net/<dev> links to each device as sysfs has them.
func fakeSysfs(t *testing.T, attrs map[string]string) *filesystem {
	t.Helper()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "class/net"), 0o755); err != nil {
		t.Fatal(err)
	}
	for p, v := range attrs {
		f := filepath.Join(root, "devices/virtual/net", p)
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
		dev, _, _ := strings.Cut(p, "/")
		_ = os.Symlink("../../devices/virtual/net/"+dev, filepath.Join(root, "class/net", dev))
	}
	return &filesystem{sysfs: root}
}

// The attributes a bond's directory renders instead of its TAP's
// (bond_ethtool_get_link_ksettings, bond_set_dev_addr, bond_create,
// bond_setup), from a fake sysfs; no mount, no root.
func TestRenderDevAttr(t *testing.T) {
	slave := func(name string, link bond.LinkState, active bool, speed, duplex int, mac string) bond.SlaveStatus {
		hw, _ := net.ParseMAC(mac)
		return bond.SlaveStatus{Name: name, Link: link, Active: active, Speed: speed, Duplex: duplex, PermHWAddr: hw}
	}
	rr := bond.DefaultParams()
	bc := bond.DefaultParams()
	bc.Mode = bond.ModeBroadcast
	mac0 := "02:00:00:00:00:10"
	hw0, _ := net.ParseMAC(mac0)
	up := &bond.BondStatus{Name: "bond0", Params: rr, Carrier: true, HWAddr: hw0, Slaves: []bond.SlaveStatus{
		slave("eth0", bond.LinkUp, true, 10000, bond.DuplexFull, mac0),
		slave("eth1", bond.LinkUp, true, 1000, bond.DuplexFull, "02:00:00:00:00:11"),
		slave("eth2", bond.LinkDown, false, 100, bond.DuplexHalf, "02:00:00:00:00:12"),
	}}
	bcast := &bond.BondStatus{Name: "bond1", Params: bc, Slaves: up.Slaves}
	empty := &bond.BondStatus{Name: "bond2", Params: rr}
	snap := &bond.Snapshot{Bonds: []*bond.BondStatus{up, bcast, empty}}
	f := fakeSysfs(t, map[string]string{
		"bond0/flags": "0x1003\n", "bond0/operstate": "unknown\n", "bond0/uevent": "INTERFACE=bond0\nIFINDEX=7\n",
		"bond0/addr_assign_type": "3\n", "bond0/speed": "10\n", "bond0/duplex": "full\n",
		"bond1/flags": "0x1003\n", "bond1/operstate": "up\n", "bond1/addr_assign_type": "1\n",
		"bond2/flags": "0x1002\n", "bond2/operstate": "unknown\n", "bond2/addr_assign_type": "3\n",
		"eth0/flags": "0x1003\n", "eth0/operstate": "up\n",
		"eth9/flags": "0x1003\n",
	})
	for _, c := range []struct {
		dev, attr, want string
		errno           syscall.Errno
	}{
		{"bond0", "flags", "0x1403\n", 0},
		{"bond0", "operstate", "up\n", 0}, // unknown, up with carrier
		{"bond2", "operstate", "down\n", 0},
		{"bond1", "operstate", "up\n", 0}, // the TAP's own answer stands
		{"bond0", "uevent", "DEVTYPE=bond\nINTERFACE=bond0\nIFINDEX=7\n", 0},
		{"bond0", "speed", "11000\n", 0}, // the slaves that can transmit
		{"bond0", "duplex", "full\n", 0},
		{"bond1", "speed", "1000\n", 0}, // broadcast: the slowest
		{"bond2", "speed", "", syscall.EINVAL},
		{"bond2", "duplex", "", syscall.EINVAL},
		{"bond0", "name_assign_type", "", syscall.EINVAL},
		{"bond0", "addr_assign_type", "2\n", 0}, // eth0's permanent address
		{"bond1", "addr_assign_type", "1\n", 0},
		{"bond2", "addr_assign_type", "3\n", 0},
		{"eth0", "flags", "0x1803\n", 0},
		{"eth0", "operstate", "up\n", 0},
		{"eth9", "flags", "0x1003\n", 0},
		{"bond0", "carrier", "", syscall.ENOENT},
	} {
		got, errno := f.renderDevAttr(snap, c.dev, c.attr)
		if got != c.want || errno != c.errno {
			t.Errorf("%s/%s = %q, %v; want %q, %v", c.dev, c.attr, got, errno, c.want, c.errno)
		}
	}
	// a bond that is up without usable slaves: speed unknown
	f2 := fakeSysfs(t, map[string]string{"bond2/flags": "0x1003\n"})
	if got, _ := f2.renderDevAttr(snap, "bond2", "speed"); got != "-1\n" {
		t.Errorf("speed of an up bond without slaves = %q, want -1", got)
	}
	if got, _ := f2.renderDevAttr(snap, "bond2", "duplex"); got != "unknown\n" {
		t.Errorf("duplex of an up bond without slaves = %q, want unknown", got)
	}
}

func TestWriteDevAttrMasksBondingFlags(t *testing.T) {
	f := fakeSysfs(t, map[string]string{"bond0/flags": "0x1002\n", "bond0/mtu": "1500\n"})
	if errno := f.writeDevAttr("bond0", "flags", []byte("0x1c03\n")); errno != 0 {
		t.Fatal(errno)
	}
	if b, _ := os.ReadFile(filepath.Join(f.sysfs, "class/net/bond0/flags")); string(b) != "0x1003\n" {
		t.Errorf("flags written to the device: %q, want 0x1003 (without IFF_MASTER/IFF_SLAVE)", b)
	}
	if errno := f.writeDevAttr("bond0", "nosuch", []byte("1")); errno != syscall.ENOENT {
		t.Errorf("write to a missing attribute: %v, want ENOENT", errno)
	}
}

func TestRealEntries(t *testing.T) {
	f := fakeSysfs(t, map[string]string{
		"bond0/tun_flags": "0x5002\n", "bond0/owner": "-1\n", "bond0/group": "-1\n", "bond0/mtu": "1500\n",
		"bond0/operstate": "up\n", "bond0/statistics/rx_bytes": "0\n", "bond0/master": "x", "bond0/lower_eth0": "x",
		"bond0/lower_eth9": "x", "eth0/flags": "0x1003\n", "eth0/owner": "x\n", "eth0/mtu": "1500\n", "eth0/master": "x",
	})
	b0 := &bond.BondStatus{Name: "bond0", Params: bond.DefaultParams(), Slaves: []bond.SlaveStatus{upSlave("eth0")}}
	snap := &bond.Snapshot{Bonds: []*bond.BondStatus{b0}}
	dir := func(dev string) string { return filepath.Join(f.sysfs, "devices/virtual/net", dev) }
	got := map[string]kind{}
	for _, e := range f.realEntries(dir("bond0"), "bond0", snap) {
		got[e.name] = e.kind
	}
	// the TAP's own files and the emulation's lower_eth0 are hidden; a real
	// master (of a bridge) and a real lower_ link pass through
	want := map[string]kind{"mtu": kindReal, "operstate": kindDevAttr, "statistics": kindReal, "master": kindReal, "lower_eth9": kindReal}
	if len(got) != len(want) {
		t.Errorf("bond0 entries %v, want %v", got, want)
	}
	for n, k := range want {
		if got[n] != k {
			t.Errorf("bond0/%s: kind %v, want %v", n, got[n], k)
		}
	}
	got = map[string]kind{}
	for _, e := range f.realEntries(dir("eth0"), "eth0", snap) {
		got[e.name] = e.kind
	}
	if len(got) != 3 || got["flags"] != kindDevAttr || got["owner"] != kindReal || got["mtu"] != kindReal {
		t.Errorf("eth0 entries %v", got)
	}
	if names := f.realDevs(); len(names) != 2 {
		t.Errorf("realDevs = %v", names)
	}
}
