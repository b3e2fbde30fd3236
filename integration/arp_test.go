package integration

// The ARP monitor, peer notification and fail_over_mac through real
// namespaces: the topology of datapath.md §3 (bond0 over eth0/eth1
// in A, their peers p0/p1 in bridge br0 with 192.0.2.2 in B).

import (
	"bufio"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"bondingfs/internal/nettest"
)

// waitFile polls path until it reads want, at most timeout.
func waitFile(t *testing.T, path, want string, timeout time.Duration) bool {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for readTrim(t, path) != want {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// TestARPFailover: active-backup with the ARP monitor (arp_interval 100,
// arp_missed_max 2) against 192.0.2.2 on the peer's bridge. The active
// slave's path dies while its carrier stays up (its peer port leaves the
// bridge); the bond must fail over within arp_interval × (arp_missed_max +
// 1) plus one and a half intervals of tick alignment, and a 10 ms ping goes
// on (the loss is reported).
func TestARPFailover(t *testing.T) {
	nettest.SkipUnlessRoot(t)
	needTools(t, "ip", "ping")
	bondingfsBin(t)
	const interval, missed = 100, 2
	tp := newTopo(t, 2)
	// only br0 answers for its address (a port out of the bridge must not:
	// the path through it is dead), and no IPv6 (a port leaving the bridge
	// would send router solicitations and MLD reports through the dead
	// path, which arp_validate none counts), as the oracle's mkpeer
	tp.B.Run(t, "sysctl", "-qw", "net.ipv4.conf.all.arp_ignore=1",
		"net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
	tp.bond(t, "mode", "active-backup", "arp_interval", strconv.Itoa(interval),
		"arp_ip_target", "+"+peerAddr, "arp_missed_max", strconv.Itoa(missed))
	tp.A.SetUp(t, "bond0")
	tp.A.AddAddr(t, "bond0", bondAddr+"/24")
	tp.bond(t, "slaves", "+eth0", "slaves", "+eth1")
	tp.waitPing(t, 10*time.Second)
	for _, s := range []string{"eth0", "eth1"} {
		if !waitFile(t, fmt.Sprintf("%s/%s/bonding_slave/mii_status", tp.d.sys, s), "up", 5*time.Second) {
			t.Fatalf("%s not up under the ARP monitor", s)
		}
	}
	time.Sleep(time.Second) // stable: no flapping
	if n := readTrim(t, tp.d.sys+"/eth1/bonding_slave/link_failure_count"); n != "0" {
		t.Errorf("eth1 link_failure_count %s before the failover, want 0 (the backup flapped)", n)
	}
	victim := readTrim(t, tp.d.sys+"/bond0/bonding/active_slave")
	if !strings.HasPrefix(victim, "eth") {
		t.Fatalf("active_slave reads %q", victim)
	}
	peer := "p" + strings.TrimPrefix(victim, "eth")

	ping := startBg(t, "ip", "netns", "exec", tp.A.Name(), "ping", "-n", "-i", "0.01", "-c", "300", "-W", "1", peerAddr)
	time.Sleep(time.Second)
	tp.B.Run(t, "ip", "link", "set", peer, "nomaster")
	cut := time.Now()
	active := victim
	for active == victim && time.Since(cut) < 3*time.Second {
		time.Sleep(5 * time.Millisecond)
		active = readTrim(t, tp.d.sys+"/bond0/bonding/active_slave")
	}
	took := time.Since(cut)
	// With arp_validate none the backup hears only the probes the bridge
	// floods back, up to one interval before the cut, while the active
	// slave heard the pings' replies until the cut: at the tick that takes
	// the active slave down (missed_max intervals and a half), the backup
	// can be past missed_max+1 too, and bond_ab_arp_inspect takes both
	// down; the probes then go round-robin (current_arp_slave) and the
	// backup comes back one or two intervals later. A kernel bond does the
	// same, in about half of the cuts.
	viaNone := active == ""
	for active == "" && time.Since(cut) < 3*time.Second {
		time.Sleep(5 * time.Millisecond)
		active = readTrim(t, tp.d.sys+"/bond0/bonding/active_slave")
	}
	if viaNone {
		t.Logf("both slaves were down at one tick after %v; %q active after %v", took.Round(time.Millisecond), active, time.Since(cut).Round(time.Millisecond))
	}
	out, err := ping.wait(t, 30*time.Second)
	sent, recv, ok := pingStats(out)
	if !ok {
		t.Fatalf("ping produced no summary (%v):\n%s", err, out)
	}
	t.Logf("RESULT arp failover: active %s → %s after %v; %d of %d pings lost at a 10 ms interval (arp_interval=%d, arp_missed_max=%d)",
		victim, active, took.Round(time.Millisecond), sent-recv, sent, interval, missed)
	if active == victim || active == "" {
		t.Fatalf("no failover 3 s after %s's path died (active_slave %q)", victim, active)
	}
	// the last reply can be up to one interval before the cut, and the
	// slave is down at the first tick after arp_missed_max intervals and a
	// half (bond_time_in_interval)
	if limit := time.Duration(interval*(missed+1)+interval+interval/2) * time.Millisecond; took > limit {
		t.Errorf("failover took %v, want ≤ %v (arp_interval × (arp_missed_max + 1), plus one and a half intervals of tick alignment)", took, limit)
	}
	if mii := readTrim(t, fmt.Sprintf("%s/%s/bonding_slave/mii_status", tp.d.sys, victim)); mii != "down" {
		t.Errorf("%s mii_status after its path died: %q, want down", victim, mii)
	}
	// the path comes back: the old active slave is up again as a backup
	tp.B.Run(t, "ip", "link", "set", peer, "master", "br0")
	if !waitFile(t, fmt.Sprintf("%s/%s/bonding_slave/mii_status", tp.d.sys, victim), "up", 5*time.Second) {
		t.Errorf("%s not up 5 s after its path came back", victim)
	}
	if out, err := tp.A.Exec("ping", "-n", "-c", "5", "-i", "0.1", "-W", "1", peerAddr); err != nil {
		t.Errorf("ping after the path came back: %v\n%s", err, out)
	}
	if t.Failed() {
		b, _ := runErr("cat", tp.d.proc+"/bond0")
		t.Logf("/proc/net/bonding/bond0:\n%s", b)
		tp.d.dumpLogs(t)
	}
}

// TestPeerNotify: after an active-backup failover (miimon 100) a tcpdump on
// the peer's bridge sees exactly num_grat_arp gratuitous ARPs for the bond's
// IPv4 address and num_unsol_na unsolicited NAs for its IPv6 address, one
// round per miimon tick (peer_notif_delay 0).
func TestPeerNotify(t *testing.T) {
	nettest.SkipUnlessRoot(t)
	needTools(t, "ip", "ping", "tcpdump")
	bondingfsBin(t)
	const count = 3
	tp := newTopo(t, 2)
	tp.bond(t, "mode", "active-backup", "miimon", "100", "num_grat_arp", strconv.Itoa(count),
		"slaves", "+eth0", "slaves", "+eth1")
	tp.up(t)
	tp.A.Run(t, "ip", "addr", "add", "2001:db8::1/64", "dev", "bond0", "nodad")
	time.Sleep(2 * time.Second) // the stack's own DAD and MLD reports are over
	victim := readTrim(t, tp.d.sys+"/bond0/bonding/active_slave")
	peer := "p" + strings.TrimPrefix(victim, "eth")

	cmd := exec.Command("ip", "netns", "exec", tp.B.Name(), "tcpdump", "-l", "-n", "-e", "-i", "br0",
		"-Q", "in", "arp or icmp6")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1024)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	time.Sleep(time.Second) // tcpdump listening
	tp.B.SetDown(t, peer)
	if !waitFile(t, tp.d.sys+"/bond0/bonding/active_slave", map[string]string{"eth0": "eth1", "eth1": "eth0"}[victim], 3*time.Second) {
		t.Fatal("no failover")
	}
	time.Sleep(2 * time.Second)
	_ = cmd.Process.Signal(syscall.SIGINT)
	garp := regexp.MustCompile(`Request who-has ` + regexp.QuoteMeta(bondAddr) + ` tell ` + regexp.QuoteMeta(bondAddr) + `\b`)
	na := regexp.MustCompile(`neighbor advertisement, tgt is 2001:db8::1\b`)
	var nGARP, nNA int
	var all []string
	timeout := time.After(5 * time.Second)
collect:
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				break collect
			}
			all = append(all, l)
			if garp.MatchString(l) {
				nGARP++
			}
			if na.MatchString(l) {
				nNA++
			}
		case <-timeout:
			break collect
		}
	}
	t.Logf("RESULT peer notification: %d gratuitous ARPs, %d unsolicited NAs for 2001:db8::1 after the failover (num_grat_arp=num_unsol_na=%d)", nGARP, nNA, count)
	if nGARP != count || nNA != count {
		t.Errorf("tcpdump on the peer saw %d gratuitous ARPs and %d NAs, want %d each:\n%s", nGARP, nNA, count, strings.Join(all, "\n"))
	}
}

// TestFailOverMAC: fail_over_mac active and follow in active-backup
// (bonding.txt §2): which MAC the bond and each slave hold before and after
// a failover.
func TestFailOverMAC(t *testing.T) {
	nettest.SkipUnlessRoot(t)
	needTools(t, "ip")
	bondingfsBin(t)
	for _, fom := range []string{"active", "follow"} {
		t.Run(fom, func(t *testing.T) {
			tp := newTopo(t, 2)
			tp.A.SetMAC(t, "eth0", "02:00:00:00:00:01")
			tp.A.SetMAC(t, "eth1", "02:00:00:00:00:02")
			tp.bond(t, "mode", "active-backup", "miimon", "100", "fail_over_mac", fom,
				"slaves", "+eth0", "slaves", "+eth1")
			tp.up(t)
			mac := func(dev string) string { return readTrim(t, fmt.Sprintf("%s/%s/address", tp.d.sys, dev)) }
			bond0 := mac("bond0")
			if got := readTrim(t, tp.d.sys+"/bond0/bonding/active_slave"); got != "eth0" {
				t.Fatalf("active_slave %q, want eth0", got)
			}
			before := [3]string{mac("bond0"), mac("eth0"), mac("eth1")}
			tp.B.SetDown(t, "p0")
			if !waitFile(t, tp.d.sys+"/bond0/bonding/active_slave", "eth1", 3*time.Second) {
				t.Fatal("no failover to eth1")
			}
			time.Sleep(200 * time.Millisecond)
			after := [3]string{mac("bond0"), mac("eth0"), mac("eth1")}
			var want [2][3]string
			switch fom {
			case "active": // the bond takes the active slave's MAC; slaves keep their own
				want = [2][3]string{
					{"02:00:00:00:00:01", "02:00:00:00:00:01", "02:00:00:00:00:02"},
					{"02:00:00:00:00:02", "02:00:00:00:00:01", "02:00:00:00:00:02"},
				}
			case "follow": // the active slave takes the bond's MAC, the old one the new one's
				want = [2][3]string{
					{bond0, bond0, "02:00:00:00:00:02"},
					{bond0, "02:00:00:00:00:02", bond0},
				}
			}
			t.Logf("RESULT fail_over_mac %s: bond0/eth0/eth1 before %v, after %v", fom, before, after)
			if before != want[0] || after != want[1] {
				t.Errorf("MACs bond0/eth0/eth1: before %v after %v, want %v and %v", before, after, want[0], want[1])
			}
			tp.B.SetUp(t, "p0")
			tp.waitPing(t, 5*time.Second)
		})
	}
}
