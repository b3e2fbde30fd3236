package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeKernel is a /sys/class/net tree in a temporary directory that reacts
// to writes as the bonding driver's sysfs does (bond_option_slaves_set,
// bond_enslave, bond_release, bond_option_active_slave_set): enslaving
// creates <slave>/bonding_slave, opens the slave, gives it the bond's MTU
// and gives a bond without slaves the first slave's MAC address. Every
// write is recorded.
type fakeKernel struct {
	dirSysfs
	t      *testing.T
	writes []string
	// noOpen: enslaving leaves the slave down (a driver that does not
	// dev_open its slaves).
	noOpen bool
}

func newFakeKernel(t *testing.T) *fakeKernel {
	k := &fakeKernel{dirSysfs: dirSysfs(t.TempDir()), t: t}
	k.file("bonding_masters", "bond0")
	return k
}

func (k *fakeKernel) file(path, content string) {
	p := filepath.Join(string(k.dirSysfs), path)
	require.NoError(k.t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(k.t, os.WriteFile(p, []byte(content+"\n"), 0o644))
}

// dev adds a network device; flags are hex as the kernel prints them.
func (k *fakeKernel) dev(name, mac, flags string) {
	k.file(name+"/address", mac)
	k.file(name+"/flags", flags)
	k.file(name+"/mtu", "1500")
	k.file(name+"/type", "1")
}

// bond adds a bonding master: a device with bonding/ files.
func (k *fakeKernel) bond(name, mac, flags string) {
	k.dev(name, mac, flags)
	k.file(name+"/bonding/slaves", "")
	k.file(name+"/bonding/active_slave", "")
	k.file(name+"/bonding/mode", "balance-rr 0")
}

func (k *fakeKernel) get(path string) string {
	v, err := k.read(path)
	require.NoError(k.t, err)
	return v
}

func (k *fakeKernel) write(path, value string) error {
	k.writes = append(k.writes, path+" < "+value)
	dir, attr := filepath.Split(path)
	dev := strings.Split(dir, "/")[0]
	switch {
	case attr == "slaves":
		slaves := strings.Fields(k.get(path))
		name := value[1:]
		switch value[0] {
		case '+':
			if !k.isDir(name) {
				return syscall.ENODEV
			}
			if k.isDir(name + "/bonding_slave") {
				return syscall.EBUSY
			}
			if len(slaves) == 0 {
				k.file(dev+"/address", k.get(name+"/address"))
			}
			k.file(name+"/bonding_slave/state", "active")
			k.file(name+"/mtu", k.get(dev+"/mtu"))
			if !k.noOpen {
				flags, _ := readFlags(k, name)
				k.file(name+"/flags", fmt.Sprintf("0x%x", flags|iffUp))
			}
			slaves = append(slaves, name)
		case '-':
			i := indexOf(slaves, name)
			if i < 0 {
				return syscall.EINVAL
			}
			slaves = append(slaves[:i], slaves[i+1:]...)
			require.NoError(k.t, os.RemoveAll(filepath.Join(string(k.dirSysfs), name, "bonding_slave")))
		}
		k.file(path, strings.Join(slaves, " "))
		return nil
	case attr == "active_slave":
		if indexOf(strings.Fields(k.get(dev+"/bonding/slaves")), value) < 0 {
			return syscall.EINVAL
		}
	}
	return k.dirSysfs.write(path, value)
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

func runCmd(k sysfs, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	rc := run(args, k, &out, &errb)
	return rc, out.String(), errb.String()
}

// seedMachine is the machine of the seeds' examples: bond0 configured
// with an address and up ("ifconfig bond0 192.168.0.1 netmask
// 255.255.0.0 up"), eth0 and eth1 present.
func seedMachine(t *testing.T) *fakeKernel {
	k := newFakeKernel(t)
	k.bond("bond0", "00:00:00:00:00:00", "0x1403")
	k.dev("eth0", "00:c0:f0:1f:37:b4", "0x1002")
	k.dev("eth1", "00:c0:f0:1f:37:b5", "0x1003")
	k.dev("lo", "00:00:00:00:00:00", "0x9")
	k.file("lo/type", "772")
	return k
}

// bonding.txt (2007) §3.4 and seed 001: "ifenslave bond0 eth0 eth1".
func TestEnslaveTwo(t *testing.T) {
	k := seedMachine(t)
	rc, out, errs := runCmd(k, "bond0", "eth0", "eth1")
	assert.Equal(t, 0, rc, errs)
	assert.Empty(t, out)
	assert.Empty(t, errs)
	assert.Equal(t, "eth0 eth1", k.get("bond0/bonding/slaves"))
	assert.Equal(t, "00:c0:f0:1f:37:b4", k.get("bond0/address"), "the bond takes the first slave's MAC")
	for _, s := range []string{"eth0", "eth1"} {
		f, err := readFlags(k, s)
		require.NoError(t, err)
		assert.NotZero(t, f&iffUp, "%s is up", s)
		assert.True(t, k.isDir(s+"/bonding_slave"))
	}
	// eth1 was up: ifenslave sets it down before enslaving, as ifenslave.c.
	assert.Equal(t, []string{
		"bond0/bonding/slaves < +eth0",
		"eth1/flags < 0x1002",
		"bond0/bonding/slaves < +eth1",
	}, k.writes)
}

// Seed 001: one slave at a time, then -d and -c.
func TestEnslaveDetachChangeActive(t *testing.T) {
	k := seedMachine(t)
	for _, s := range []string{"eth0", "eth1"} {
		rc, _, errs := runCmd(k, "bond0", s)
		require.Equal(t, 0, rc, errs)
	}
	rc, _, errs := runCmd(k, "-c", "bond0", "eth1")
	assert.Equal(t, 0, rc, errs)
	assert.Equal(t, "eth1", k.get("bond0/bonding/active_slave"))

	rc, _, errs = runCmd(k, "--detach", "bond0", "eth0")
	assert.Equal(t, 0, rc, errs)
	assert.Equal(t, "eth1", k.get("bond0/bonding/slaves"))
	assert.False(t, k.isDir("eth0/bonding_slave"))
	assert.Equal(t, "1500", k.get("eth0/mtu"))

	// Seed 004's "down ifenslave -d bond0 eth0 eth1": eth0 is no slave any
	// more, eth1 is still released.
	rc, _, errs = runCmd(k, "-d", "bond0", "eth0", "eth1")
	assert.Equal(t, 1, rc)
	assert.Equal(t, "Illegal operation: The specified slave interface 'eth0' is not a slave\n"+
		"Master 'bond0', Slave 'eth0': Error: Release failed\n", errs)
	assert.Equal(t, "", k.get("bond0/bonding/slaves"))
}

func TestSlaveTakesMasterMTU(t *testing.T) {
	k := seedMachine(t)
	k.file("bond0/mtu", "9000")
	rc, _, errs := runCmd(k, "-v", "bond0", "eth0")
	assert.Equal(t, 0, rc, errs)
	assert.Equal(t, "9000", k.get("eth0/mtu"))
	assert.Contains(t, errs, "Slave 'eth0': MTU set to 9000.\n")
	assert.Contains(t, errs, "Master 'bond0': hardware address set to 00:c0:f0:1f:37:b4.\n")
}

func TestErrors(t *testing.T) {
	k := seedMachine(t)
	k.bond("bond1", "00:00:00:00:00:00", "0x1402")
	for _, tc := range []struct {
		args []string
		rc   int
		err  string
	}{
		{[]string{"bond9", "eth0"}, 1, "Master 'bond9': Error: handshake with driver failed. Aborting\n"},
		{[]string{"eth1", "eth0"}, 1, "Illegal operation; the specified interface 'eth1' is not a master. Aborting\n"},
		{[]string{"bond1", "eth0"}, 1, "Illegal operation; the specified master interface 'bond1' is not up.\n"},
		{[]string{"bond0", "eth7"}, int(syscall.ENODEV), "Slave 'eth7': Error: get settings failed: No such device. Skipping\n"},
		{[]string{"-c", "bond0", "eth0"}, 1, "Illegal operation: The specified slave interface 'eth0' is not a slave\n" +
			"Master 'bond0', Slave 'eth0': Error: Change active failed\n"},
		{[]string{"-c", "bond0", "eth7"}, 1, "Slave 'eth7': Error: get flags failed. Aborting\n"},
		{[]string{"-d", "bond0", "eth7"}, 1, "Slave 'eth7': Error: get flags failed. Skipping\n"},
		{[]string{"-c", "bond0"}, 2, usageMsg},
		{[]string{"-c", "bond0", "eth0", "eth1"}, 2, usageMsg},
		{[]string{"-d", "-c", "bond0", "eth0"}, 2, usageMsg},
		{[]string{"-a", "bond0"}, 2, usageMsg},
		{[]string{}, 2, usageMsg},
		{[]string{"-x", "bond0"}, 2, "ifenslave: invalid option -- 'x'\n" + usageMsg},
		{[]string{"--bogus"}, 2, "ifenslave: unrecognized option '--bogus'\n" + usageMsg},
		{[]string{"--ver"}, 2, "ifenslave: option '--ver' is ambiguous\n" + usageMsg},
	} {
		rc, _, errs := runCmd(k, tc.args...)
		assert.Equal(t, tc.rc, rc, "%v", tc.args)
		assert.Equal(t, tc.err, errs, "%v", tc.args)
	}
	assert.Empty(t, k.writes, "no failed command writes anything")

	// Enslaving a slave twice.
	rc, _, _ := runCmd(k, "bond0", "eth0")
	require.Equal(t, 0, rc)
	rc, _, errs := runCmd(k, "bond0", "eth0")
	assert.Equal(t, 1, rc)
	assert.Equal(t, "Illegal operation: The specified slave interface 'eth0' is already a slave\n"+
		"Master 'bond0', Slave 'eth0': Error: Enslave failed\n", errs)

	// A master that is not ethernet-like needs -f.
	k.file("bond0/type", "772")
	rc, _, errs = runCmd(k, "bond0", "eth1")
	assert.Equal(t, 1, rc)
	assert.Contains(t, errs, "is not ethernet-like.\n This program is designed")
	rc, _, errs = runCmd(k, "--force", "bond0", "eth1")
	assert.Equal(t, 0, rc, errs)
}

// A name no interface can have (dev_valid_name) is a device that does not
// exist, ENODEV as ifenslave.c's ioctls get, and no file is read or written:
// "../x" would otherwise be a path out of the class directory.
func TestInvalidNames(t *testing.T) {
	k := seedMachine(t)
	outside := filepath.Join(filepath.Dir(string(k.dirSysfs)), "outside")
	require.NoError(t, os.MkdirAll(outside, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(outside, "flags"), []byte("0x1002\n"), 0o644))
	rel := "../" + filepath.Base(outside)
	for _, tc := range []struct {
		args []string
		rc   int
		err  string
	}{
		{[]string{"bond0", rel}, int(syscall.ENODEV), "Slave '" + rel + "': Error: get settings failed: No such device. Skipping\n"},
		{[]string{"bond0", "eth0/../eth1"}, int(syscall.ENODEV), "Slave 'eth0/../eth1': Error: get settings failed: No such device. Skipping\n"},
		{[]string{"bond0", strings.Repeat("e", 16)}, int(syscall.ENODEV), "Slave '" + strings.Repeat("e", 16) + "': Error: get settings failed: No such device. Skipping\n"},
		{[]string{"-d", "bond0", rel}, 1, "Slave '" + rel + "': Error: get flags failed. Skipping\n"},
		{[]string{"-c", "bond0", "eth 0"}, 1, "Slave 'eth 0': Error: get flags failed. Aborting\n"},
		{[]string{rel, "eth0"}, 1, "Master '" + rel + "': Error: handshake with driver failed. Aborting\n"},
	} {
		rc, _, errs := runCmd(k, tc.args...)
		assert.Equal(t, tc.rc, rc, "%v", tc.args)
		assert.Equal(t, tc.err, errs, "%v", tc.args)
	}
	assert.Empty(t, k.writes, "nothing written")
	b, err := os.ReadFile(filepath.Join(outside, "flags"))
	require.NoError(t, err)
	assert.Equal(t, "0x1002\n", string(b), "the file outside the class directory is untouched")
	rc, out, errs := runCmd(k, rel)
	assert.Equal(t, 1, rc)
	assert.Empty(t, out)
	assert.Equal(t, "Master '"+rel+"': Error: handshake with driver failed. Aborting\n", errs)
}

func TestInfoOptions(t *testing.T) {
	k := seedMachine(t)
	rc, out, _ := runCmd(k, "-V")
	assert.Equal(t, 0, rc)
	assert.Equal(t, versionMsg, out)
	rc, out, _ = runCmd(k, "--usage")
	assert.Equal(t, 0, rc)
	assert.Equal(t, usageMsg, out)
	rc, out, _ = runCmd(k, "-h")
	assert.Equal(t, 0, rc)
	assert.Equal(t, usageMsg+helpMsg, out)
	assert.Contains(t, out, "# ifenslave {-c|--change-active} bond0 eth0\n")
	rc, out, _ = runCmd(k, "--he")
	assert.Equal(t, 0, rc, "a unique prefix of a long option is accepted")
	assert.Equal(t, usageMsg+helpMsg, out)

	rc, out, _ = runCmd(k, "bond0")
	assert.Equal(t, 0, rc)
	assert.Equal(t, "The result of SIOCGIFFLAGS on bond0 is 1403.\n"+
		"The result of SIOCGIFHWADDR is type 1  00:00:00:00:00:00.\n", out)

	rc, out, _ = runCmd(k, "--all-interfaces")
	assert.Equal(t, 0, rc)
	assert.Equal(t, 4, strings.Count(out, "SIOCGIFFLAGS"), out)
	assert.Contains(t, out, "The result of SIOCGIFHWADDR is type 772  00:00:00:00:00:00.\n")
	assert.NotContains(t, out, "bonding_masters")

	rc, out, errs := runCmd(k, "-v", "bond0", "eth0")
	assert.Equal(t, 0, rc)
	assert.Equal(t, versionMsg, out)
	assert.Contains(t, errs, "ABI ver is 2\n")
}

func TestParseArgsPermutes(t *testing.T) {
	o, ops, err := parseArgs([]string{"bond0", "-vd", "eth0", "--", "-eth1"})
	require.NoError(t, err)
	assert.True(t, o.verbose)
	assert.True(t, o.detach)
	assert.Equal(t, 1, o.exclusive)
	assert.Equal(t, []string{"bond0", "eth0", "-eth1"}, ops)
	_, _, err = parseArgs([]string{"--detach=x"})
	assert.EqualError(t, err, "option '--detach' doesn't allow an argument")
}

// FuzzArgs runs arbitrary command lines (NUL-separated) against the seeds'
// machine: ifenslave never panics and exits 0, 1, 2 or an errno.
func FuzzArgs(f *testing.F) {
	for _, s := range []string{"bond0\x00eth0\x00eth1", "-d\x00bond0\x00eth0", "-c\x00bond0\x00eth1", "-a", "-vV",
		"--he", "--detach=x", "-x", "bond0", "--\x00-eth0", "-f\x00bond0\x00lo"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k := seedMachine(t)
		var args []string
		if s != "" {
			args = strings.Split(s, "\x00")
		}
		rc, _, _ := runCmd(k, args...)
		if rc < 0 || rc > 2 && rc != int(syscall.ENODEV) && rc != int(syscall.ENOENT) && rc != int(syscall.EINVAL) {
			t.Errorf("%q: exit status %d", args, rc)
		}
	})
}

// If the driver leaves a new slave down, ifenslave brings it up itself.
func TestEnslaveBringsSlavesUp(t *testing.T) {
	k := seedMachine(t)
	k.noOpen = true
	rc, _, errs := runCmd(k, "bond0", "eth0", "eth1")
	require.Equal(t, 0, rc, errs)
	for _, s := range []string{"eth0", "eth1"} {
		f, err := readFlags(k, s)
		require.NoError(t, err)
		assert.NotZero(t, f&iffUp, "%s is up", s)
	}
	assert.Equal(t, []string{
		"bond0/bonding/slaves < +eth0",
		"eth0/flags < 0x1003",
		"eth1/flags < 0x1002",
		"bond0/bonding/slaves < +eth1",
		"eth1/flags < 0x1003",
	}, k.writes)
}
