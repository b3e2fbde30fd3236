package integration

// The shape of the real paths as the kernel has it: /sys/class/net/<dev>
// links into /sys/devices, a bridge's links beside the bond's, kernfs's
// answers to chmod, chown, mknod and O_DIRECT, and no stacked mounts after
// a daemon and its reaper were killed together.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"bondingfs/internal/nettest"
)

// linkIdioms is the script of what scripts ask /sys/class/net about a
// device's place, run on the kernel's sysfs and through the real paths.
const linkIdioms = `
readlink /sys/class/net/eth0; readlink -f /sys/class/net/eth0
ls -l /sys/class/net | grep -v virtual | grep -c -- '->'
readlink /sys/class/net/eth0 | grep -c virtual
(cd /sys/class/net/eth0 && pwd -P); [ -L /sys/class/net/eth0 ] && echo link
readlink /sys/class/net/eth2/master; basename "$(readlink /sys/class/net/eth2/master)"
(cd /sys/class/net && ls -d eth2/upper_* br0/lower_*)
readlink /sys/class/net/eth0/subsystem; ls /sys/class/net/eth0/subsystem/ | grep -c eth0
`

func TestRealPathsLinks(t *testing.T) {
	a, b := realPathsTopo(t)
	// a bridge beside the bond, with a port of its own
	nettest.Veth(t, a, "eth2", b, "p2")
	a.Run(t, "ip", "link", "add", "br0", "type", "bridge")
	a.Run(t, "ip", "link", "set", "eth2", "master", "br0")
	kernel := a.Run(t, "bash", "-c", linkIdioms)
	root := filepath.Join(t.TempDir(), "mnt")
	out, errOut, rc := bfsExec(t, []string{"--root", root, "--netns", a.Name(), "--log", root + ".log", "miimon=100"}, `
echo "== idioms"`+linkIdioms+`
echo "== bond"
readlink /sys/class/net/bond0; readlink -f /sys/class/net/bond0
echo +eth1 > /sys/class/net/bond0/bonding/slaves
readlink /sys/class/net/eth1/master; readlink -f /sys/class/net/eth1/master
cat /sys/class/net/eth1/master/bonding/mode /sys/devices/virtual/net/eth1/bonding_slave/state
readlink -f /sys/class/net/bond0/lower_eth1; ls /sys/devices/virtual/net/bond0/bonding | grep -c -x miimon
echo "== bridge"
ip link set bond0 master br0
readlink /sys/class/net/bond0/master; (cd /sys/class/net/bond0 && ls -d master upper_* lower_*)
(cd /sys/class/net/br0 && ls -d lower_*); readlink /sys/class/net/eth1/master
ip link set bond0 nomaster; ip link set eth2 nomaster
(cd /sys/class/net && ls -d br0/lower_* eth2/master 2>&1 | grep -c 'No such')
cat /sys/class/net/bonding_masters
`)
	if rc != 0 {
		t.Fatalf("exit status %d\nstdout:\n%s\nstderr:\n%s", rc, out, errOut)
	}
	if got := section(out, "idioms"); got != kernel || !strings.Contains(kernel, "../../devices/virtual/net/eth0\n") {
		t.Errorf("the idioms differ from the kernel's sysfs:\n%s", lineDiff(kernel, got))
	}
	want := map[string]string{
		"bond": "../../devices/virtual/net/bond0\n/sys/devices/virtual/net/bond0\n../bond0\n/sys/devices/virtual/net/bond0\n" +
			"balance-rr 0\nactive\n/sys/devices/virtual/net/eth1\n1\n",
		"bridge": "../br0\nlower_eth1\nmaster\nupper_br0\nlower_bond0\nlower_eth2\n../bond0\n2\nbond0\n",
	}
	for name, w := range want {
		if got := section(out, name); got != w {
			t.Errorf("section %s:\ngot  %q\nwant %q", name, got, w)
		}
	}
	hostPathsUntouched(t)
}

// TestRealPathsEnslavementEntries: the kernel caches the entries of
// enslavement under the real paths (a slave's master, upper_ and
// bonding_slave/, a bond's lower_, the device directories' listings), and
// a stat, readlink or ls right after each change shows it: enslave and
// release through sysfs and through ip link (rtnetlink), a bond deleted
// with its slave, the slave's device deleted by the host.
func TestRealPathsEnslavementEntries(t *testing.T) {
	a, _ := realPathsTopo(t)
	root := filepath.Join(t.TempDir(), "mnt")
	out, errOut, rc := bfsExec(t, []string{"--root", root, "--netns", a.Name(), "--log", root + ".log", "max_bonds=0"}, `
S=/sys/class/net
look() {
  for p in eth1/master eth1/upper_bond0 eth1/bonding_slave bond0/lower_eth1; do
    if [ -L $S/$p ]; then echo "$p -> $(readlink $S/$p)"; elif [ -d $S/$p ]; then echo "$p/ $(ls $S/$p | wc -l)"; elif stat $S/$p >/dev/null 2>&1; then echo "$p ?"; fi
  done
  echo "ls: $(ls $S/eth1 | grep -E '^(master|upper_|bonding_slave)' | tr '\n' ' ')/ $(ls $S/bond0 2>/dev/null | grep -E '^lower_' | tr '\n' ' ')"
  printf 'flags %x\n' $(( $(cat $S/eth1/flags) & 0x800 ))
}
echo +bond0 > $S/bonding_masters
for i in 1 2; do
  echo "== sysfs"; echo +eth1 > $S/bond0/bonding/slaves; look; look >/dev/null
  echo -eth1 > $S/bond0/bonding/slaves; look
  echo "== ip"; ip link set eth1 master bond0; look; look >/dev/null
  ip link set eth1 nomaster; look
done
echo "== delete"; echo +eth1 > $S/bond0/bonding/slaves; look >/dev/null
echo -bond0 > $S/bonding_masters; look
echo "== host"; echo +bond0 > $S/bonding_masters; echo +eth1 > $S/bond0/bonding/slaves; look >/dev/null
ip link del eth1; cat $S/bond0/bonding/slaves; [ -e $S/bond0/lower_eth1 ] || echo gone
`)
	if rc != 0 {
		t.Fatalf("exit status %d\nstdout:\n%s\nstderr:\n%s", rc, out, errOut)
	}
	enslaved := "eth1/master -> ../bond0\neth1/upper_bond0 -> ../bond0\neth1/bonding_slave/ 8\nbond0/lower_eth1 -> ../eth1\n" +
		"ls: bonding_slave master upper_bond0 / lower_eth1 \nflags 800\n"
	released := "ls: / \nflags 0\n"
	want := "== sysfs\n" + enslaved + released + "== ip\n" + enslaved + released
	want = want + want + "== delete\n" + released + "== host\ngone\n"
	if out != want {
		t.Errorf("got  %q\nwant %q", out, want)
	}
}

// kernfs's answers through the real paths: chmod and chown are stored and
// shown and decide later opens, mkfifo and mknod give EPERM, an O_DIRECT
// open EINVAL.
func TestRealPathsKernfsAnswers(t *testing.T) {
	a, _ := realPathsTopo(t)
	needTools(t, "dd", "mkfifo", "stat")
	root := filepath.Join(t.TempDir(), "mnt")
	out, errOut, rc := bfsExec(t, []string{"--root", root, "--netns", a.Name(), "--log", root + ".log"}, `
cd /sys/class/net/bond0/bonding
chmod 600 miimon; chown 65534:65534 miimon; stat -c '%a %u %g' miimon
chmod 444 miimon; echo 100 > miimon 2>/dev/null || echo EACCES write
chmod 200 miimon; cat miimon 2>/dev/null || echo EACCES read
chmod 644 miimon; echo 100 > miimon && cat miimon
chmod 700 .; stat -c %a .
mkfifo x 2>&1 | grep -c 'Operation not permitted'; mknod y c 1 3 2>&1 | grep -c 'Operation not permitted'
dd if=mode iflag=direct of=/dev/null 2>&1 | grep -c 'Invalid argument'
dd if=/sys/class/net/eth0/mtu iflag=direct of=/dev/null 2>&1 | grep -c 'Invalid argument'
echo -bond0 > /sys/class/net/bonding_masters; echo +bond0 > /sys/class/net/bonding_masters
stat -c '%a %u' /sys/class/net/bond0/bonding/miimon
`)
	want := "600 65534 65534\nEACCES write\nEACCES read\n100\n700\n1\n1\n1\n1\n644 0\n"
	if rc != 0 || out != want {
		t.Errorf("got rc %d stdout %q, want %q\nstderr:\n%s", rc, out, want, errOut)
	}
	hostPathsUntouched(t)
}

// A daemon and its reaper killed together leave their real paths; the next
// daemon for the same root removes them before it mounts its own, so that
// nothing stacks, and its SIGTERM leaves the kernel's paths.
func TestRealPathsNoStackedMounts(t *testing.T) {
	a, _ := realPathsTopo(t)
	bin := bondingfsBin(t)
	root := filepath.Join(t.TempDir(), "mnt")
	script := `
start() { ` + bin + ` serve --root ` + root + ` --real-paths 2>>` + root + `.log & P=$!
  for i in $(seq 300); do [ -e /sys/class/net/bonding_masters ] && [ -e ` + root + `/sys/class/net/bonding_masters ] && return; sleep 0.05; done; echo not ready; }
count() { for p in /proc/net /sys/class/net /sys/devices/virtual/net; do printf '%s ' "$(grep -c " $p " /proc/self/mountinfo)"; done; echo; }
start; count
for p in /proc/[0-9]*; do
  [ "$(awk '{print $4}' $p/stat 2>/dev/null)" = "$P" ] && [ "$(tr '\0' '\n' < $p/cmdline | sed -n 2p)" = __reaper ] && R=${p#/proc/}
done
kill -KILL ${R:?no reaper} $P; wait $P 2>/dev/null
ls /sys/class/net > /dev/null 2>&1 || echo dead mount
start; count
readlink /proc/net; readlink /sys/class/net/bond0; cat /sys/devices/virtual/net/bond0/bonding/mode
kill -TERM $P; wait $P; echo "rc $?"; count
readlink /proc/net; ls /sys/class/net | tr '\n' ' '
`
	out, err := a.Exec("bash", "-c", script)
	want := "1 1 1 \ndead mount\n1 1 1 \n" + root + "/proc/self/net\n../../devices/virtual/net/bond0\nbalance-rr 0\nrc 0\n0 0 0 \nself/net\neth0 eth1 lo "
	if err != nil || out != want {
		log, _ := os.ReadFile(root + ".log")
		t.Errorf("got %q (%v), want %q\ndaemon log:\n%s", out, err, want, log)
	}
	hostPathsUntouched(t)
}
