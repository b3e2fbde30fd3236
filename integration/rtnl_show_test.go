package integration

// The rtnetlink view of bonds under `bondingfs exec` (issue 17, replies and
// events): `ip -d -j link show` against the 6.1 kernel's goldens
// (testdata/rtnl/golden/50-rtnl-show.txt, recorded by testdata/rtnl/record.sh
// with the same steps), `ip link show master bond0`, and a static Go program
// on vishvananda/netlink reading the bond and its ports back.

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"bondingfs/internal/nettest"
)

// rtnlModes are the modes of 50-rtnl-show.sh, in its order.
var rtnlModes = []string{"balance-rr", "active-backup", "balance-xor", "broadcast", "802.3ad", "balance-tlb", "balance-alb"}

// rtnlShowScript does what 50-rtnl-show.sh does to bond0 in each mode,
// through the sysfs files, and prints the same commands' output between
// "== MODE CMD" markers.
const rtnlShowScript = `
for m in ` + "balance-rr active-backup balance-xor broadcast 802.3ad balance-tlb balance-alb" + `; do
  [ -d /sys/class/net/bond0 ] || echo +bond0 > /sys/class/net/bonding_masters
  b=/sys/class/net/bond0/bonding
  echo $m > $b/mode; echo 100 > $b/miimon
  case $m in
    active-backup) echo 200 > $b/updelay; echo eth0 > $b/primary
      echo +192.0.2.1 > $b/arp_ip_target; echo +192.0.2.9 > $b/arp_ip_target ;;
    balance-xor) echo layer2+3 > $b/xmit_hash_policy; echo 1 > $b/min_links ;;
    802.3ad) echo fast > $b/lacp_rate; echo layer3+4 > $b/xmit_hash_policy
      echo 100 > $b/ad_actor_sys_prio; echo 5 > $b/ad_user_port_key ;;
    balance-alb) echo 1 > $b/tlb_dynamic_lb ;;
  esac
  echo +eth0 > $b/slaves
  ip link set bond0 up
  if [ $m = 802.3ad ]; then sleep 5; else sleep 2; fi
  echo +eth1 > $b/slaves
  if [ $m = 802.3ad ]; then sleep 5; else sleep 3; fi
  echo "== $m ip -d -j link show bond0"; ip -d -j link show bond0
  echo "== $m ip -d -j link show eth1"; ip -d -j link show eth1
  echo "== $m ip -o link show master bond0"; ip -o link show master bond0 | awk '{print $2}'
  echo "== $m nlbond"; "$NLBOND" bond0 eth0 eth1
  echo "== $m types"; ip -o link show type bond | awk '{print $2}'; ip -o link show type bond_slave | awk '{print $2}'
  ip link set bond0 down
  echo -eth0 > $b/slaves; echo -eth1 > $b/slaves
  echo -bond0 > /sys/class/net/bonding_masters
  sleep 1
done
echo "== create"
"$NLBOND" -create active-backup bond1 eth0 eth1
echo "== end"
`

// nlbondBin builds testdata/rtnl/nlbond statically (CGO_ENABLED=0).
func nlbondBin(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "nlbond")
	gobin, err := exec.LookPath("go")
	if err != nil { // root's PATH under sudo may lack it: the toolchain that built this test
		gobin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	cmd := exec.Command(gobin, "build", "-o", out, "./testdata/rtnl/nlbond")
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build nlbond: %v\n%s", err, b)
	}
	return out
}

// goldenRecords returns the records of the golden transcript: for each
// "$ CMD" line inside the step "MODE: the bond and its ports through
// netlink", the "| " lines that follow, keyed "MODE CMD".
func goldenRecords(t *testing.T) map[string][]string {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot, "testdata/rtnl/golden/50-rtnl-show.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs := map[string][]string{}
	mode, key := "", ""
	step := regexp.MustCompile(`^== \[\d+\] (.*): the bond and its ports through netlink$`)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "== "):
			mode, key = "", ""
			if m := step.FindStringSubmatch(l); m != nil {
				mode = m[1]
			}
		case mode != "" && strings.HasPrefix(l, "$ "):
			key = mode + " " + strings.TrimPrefix(l, "$ ")
		case key != "" && strings.HasPrefix(l, "| "):
			recs[key] = append(recs[key], strings.TrimPrefix(l, "| "))
		}
	}
	return recs
}

var randomMAC = regexp.MustCompile(`^[0-9a-f]{2}(:[0-9a-f]{2}){5}$`)

// normJSON keeps the keys of an `ip -d -j link show` object that describe
// the bond or the port (flags, master, operstate, address, linkinfo, and the
// bond's queue counts and max MTU), with MACs the scenario did not set as
// "<random>"; the rest is the device's own (qdisc, txqlen, GSO limits,
// ifindex, the veth peer), listed in docs/differences.md.
func normJSON(t *testing.T, js string, bond bool) map[string]any {
	t.Helper()
	var l []map[string]any
	if err := json.Unmarshal([]byte(js), &l); err != nil || len(l) != 1 {
		t.Fatalf("ip -j output %q: %v", js, err)
	}
	keep := []string{"ifname", "flags", "mtu", "master", "operstate", "link_type", "address", "linkinfo"}
	if bond {
		keep = append(keep, "num_tx_queues", "num_rx_queues", "max_mtu")
	}
	out := map[string]any{}
	for _, k := range keep {
		if v, ok := l[0][k]; ok {
			out[k] = normMACs(v)
		}
	}
	return out
}

func normMACs(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normMACs(e)
		}
	case []any:
		for i, e := range x {
			x[i] = normMACs(e)
		}
	case string:
		if randomMAC.MatchString(x) && !strings.HasPrefix(x, "02:00:00:") && x != "00:00:00:00:00:00" && x != "ff:ff:ff:ff:ff:ff" {
			return "<random>"
		}
	}
	return v
}

func TestRtnlShowMatchesKernel(t *testing.T) {
	nettest.SkipUnlessRoot(t)
	needTools(t, "ip", "bash", "awk")
	a := nettest.NewNetns(t, "bfs-rs-a-")
	b := nettest.NewNetns(t, "bfs-rs-b-")
	for i, n := range []string{"0", "1"} {
		nettest.Veth(t, a, "eth"+n, b, "p"+n)
		a.SetDown(t, "eth"+n)
		a.SetMAC(t, "eth"+n, "02:00:00:00:00:0"+string(rune('1'+i)))
	}
	golden := goldenRecords(t)
	root := filepath.Join(t.TempDir(), "mnt")
	t.Setenv("NLBOND", nlbondBin(t))
	out, errOut, rc := bfsExec(t, []string{"--root", root, "--netns", a.Name(), "--log", root + ".log", "max_bonds=1"},
		rtnlShowScript)
	t.Logf("exec output:\n%s", out)
	if rc != 0 {
		t.Fatalf("exec: rc %d\nstdout:\n%s\nstderr:\n%s", rc, out, errOut)
	}
	for _, m := range rtnlModes {
		for _, dev := range []string{"bond0", "eth1"} {
			cmd := "ip -d -j link show " + dev
			want := golden[m+" "+cmd]
			if len(want) != 1 {
				t.Fatalf("golden has no %q for %s", cmd, m)
			}
			got := strings.TrimSpace(section(out, m+" "+cmd))
			w, g := normJSON(t, want[0], dev == "bond0"), normJSON(t, got, dev == "bond0")
			if !reflect.DeepEqual(w, g) {
				wj, _ := json.Marshal(w)
				gj, _ := json.Marshal(g)
				t.Errorf("%s: %s differs from the kernel's\nkernel: %s\nours:   %s", m, cmd, wj, gj)
			}
		}
		// `ip link show master bond0` lists both ports (the kernel would
		// list none of a TAP's).
		if got := strings.Fields(section(out, m+" ip -o link show master bond0")); len(got) != 2 ||
			!strings.HasPrefix(got[0], "eth0@") || !strings.HasPrefix(got[1], "eth1@") {
			t.Errorf("%s: ip link show master bond0 lists %q, want eth0 and eth1", m, got)
		}
		// kind filters: the kernel knows no kind "bond" (a TAP is "tun")
		if got := strings.Fields(section(out, m+" types")); len(got) != 3 || got[0] != "bond0:" ||
			!strings.HasPrefix(got[1], "eth0@") || !strings.HasPrefix(got[2], "eth1@") {
			t.Errorf("%s: ip link show type bond, type bond_slave list %q", m, got)
		}
		nl := section(out, m+" nlbond")
		wantBond := "bond bond0 mode=" + m + " miimon=100 "
		if !strings.HasPrefix(nl, wantBond) || !strings.Contains(nl, "master_flag=true") ||
			!strings.Contains(nl, "port eth0 master=bond0 state=") || !strings.Contains(nl, "port eth1 master=bond0 state=") ||
			!strings.Contains(nl, "perm=02:00:00:00:00:02") {
			t.Errorf("%s: nlbond (vishvananda/netlink) read:\n%s", m, nl)
		}
	}
	if got := section(out, "create"); !strings.Contains(got, "bond bond1 mode=active-backup miimon=100") ||
		!strings.Contains(got, "port eth0 master=bond1 state=") || !strings.Contains(got, "port eth1 master=bond1 state=") {
		t.Errorf("nlbond -create (LinkAdd, LinkSetMasterByIndex):\n%s", got)
	}
}
