package integration

// 802.3ad against the real kernel: the oracle's lacp-peer.sh boots
// Linux 6.1's bonding driver in a VM (bond0, 802.3ad, lacp_rate fast,
// miimon 100, 192.0.2.2/24) whose two NICs are taps in a namespace of this
// test; bondingfs enslaves the taps into its own 802.3ad bond0. Under
// software emulation the VM is slow, so the test in `make test` is one
// negotiation: both links Collecting_Distributing on both sides, the
// kernel's /proc showing our ports' details, a ping across. With
// BONDINGFS_LACP_KERNEL_LONG=1 (make test-lacp-kernel) it also runs iperf3
// TCP and pulls one link.
//
// Environment: LACP_PEER (path of lacp-peer.sh; default the vendored
// testdata/oracle/lacp-peer.sh, then ../shared/oracle),
// ORACLE_CACHE (the VM cache setup.sh built; lacp-peer.sh's default
// otherwise).

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"bondingfs/internal/nettest"
)

func lacpPeerScript(t *testing.T) string {
	t.Helper()
	cands := []string{os.Getenv("LACP_PEER"), filepath.Join(repoRoot, "testdata/oracle/lacp-peer.sh"), filepath.Join(repoRoot, "../shared/oracle/lacp-peer.sh")}
	for _, c := range cands {
		if c == "" {
			continue
		}
		if _, err := os.Stat(c); err == nil {
			return c
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("lacp-peer.sh not found (LACP_PEER)")
	}
	t.Skip("lacp-peer.sh not found: set LACP_PEER to the oracle's lacp-peer.sh")
	return ""
}

var procPartnerMAC = regexp.MustCompile(`Partner Mac Address: ([0-9a-f:]{17})`)

func TestLACPKernelPeer(t *testing.T) {
	nettest.SkipUnlessRoot(t)
	needTools(t, "ip", "ping") // lacp-peer.sh installs QEMU itself (setup.sh)
	script := lacpPeerScript(t)
	bondingfsBin(t)
	long := os.Getenv("BONDINGFS_LACP_KERNEL_LONG") == "1"

	ns := nettest.NewNetns(t, "bfs-lk-")
	peer := func(args ...string) (string, error) {
		out, err := exec.Command(script, append([]string{args[0], ns.Name()}, args[1:]...)...).CombinedOutput()
		return string(out), err
	}
	if out, err := peer("start", "--name", "kpeer", "--taps", "kt0 kt1"); err != nil {
		t.Fatalf("lacp-peer.sh start: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := peer("log", "--name", "kpeer")
			t.Logf("VM serial log (tail):\n%s", tail(out, 40))
		}
		if out, err := peer("stop", "--name", "kpeer"); err != nil {
			t.Errorf("lacp-peer.sh stop: %v\n%s", err, out)
		}
	})
	slaves := []string{"kt0", "kt1"}
	for _, s := range slaves {
		ns.SetDown(t, s)
	}
	e := &lacpEnd{ns: ns, slaves: slaves}
	e.d = startDaemon(t, ns.Name())
	e.write(t, "mode", "802.3ad")
	e.write(t, "lacp_rate", "fast")
	e.write(t, "miimon", "100")
	for _, s := range slaves {
		e.write(t, "slaves", "+"+s)
	}
	ns.SetUp(t, "bond0")
	ns.AddAddr(t, "bond0", bondAddr+"/24")
	ourMAC := strings.TrimSpace(ns.Run(t, "cat", "/sys/class/net/bond0/address"))

	// the VM boots (~10 s under TCG) and negotiates
	start := time.Now()
	var kproc string
	for {
		kproc, _ = peer("status", "--name", "kpeer")
		m := procPartnerMAC.FindStringSubmatch(kproc)
		if e.distributing(t) && m != nil && m[1] == ourMAC && strings.Contains(kproc, "Number of ports: 2") &&
			strings.Count(kproc, "port state: 63") == 4 {
			break
		}
		if time.Since(start) > 90*time.Second {
			t.Fatalf("no aggregation with the kernel within 90 s\nours:\n%s\nkernel's:\n%s",
				readTrim(t, e.d.proc+"/bond0"), kproc)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("RESULT lacp kernel peer: both links Collecting_Distributing on both sides %.1f s after start (VM boot included)", time.Since(start).Seconds())
	// the kernel sees our ports as its partners: each of its slaves lists
	// our system MAC (and, above, actor and partner port states 63)
	if n := strings.Count(kproc, "system mac address: "+ourMAC); n != 2 {
		t.Errorf("kernel's /proc names our MAC as partner system on %d ports, want 2:\n%s", n, kproc)
	}
	t.Logf("kernel's /proc/net/bonding/bond0:\n%s", kproc)

	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := ns.Exec("ping", "-n", "-c", "1", "-W", "2", peerAddr)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the kernel's bond0 %s does not answer across the LAG: %v\n%s", peerAddr, err, out)
		}
	}
	out, err := ns.Exec("ping", "-n", "-c", "5", "-i", "0.2", "-W", "2", peerAddr)
	sent, recv, ok := pingStats(out)
	t.Logf("RESULT lacp kernel peer: ping %d/%d replies", recv, sent)
	if err != nil || !ok || recv != sent {
		t.Errorf("ping across the LAG to the kernel: %v\n%s", err, out)
	}
	if !long {
		return
	}

	// longer: iperf3 TCP (the VM runs an iperf3 server) and a pulled link
	out, err = ns.Exec("iperf3", "-c", peerAddr, "-t", "5", "-f", "m", "--connect-timeout", "5000")
	if m := iperfReceiver.FindStringSubmatch(out); err != nil || m == nil {
		t.Errorf("iperf3 -c %s: %v\n%s", peerAddr, err, out)
	} else {
		t.Logf("RESULT lacp kernel peer: iperf3 TCP to the VM %s Mbit/s (TCG-emulated guest)", m[1])
	}
	// pull the link that carries the ping flow
	tx0, tx1 := txPackets(t, ns, "kt0"), txPackets(t, ns, "kt1")
	if out, err := ns.Exec("ping", "-n", "-c", "30", "-i", "0.01", "-W", "1", peerAddr); err != nil {
		t.Fatalf("ping: %v\n%s", err, out)
	}
	victim := "kt0"
	if txPackets(t, ns, "kt1")-tx1 > txPackets(t, ns, "kt0")-tx0 {
		victim = "kt1"
	}
	ping := startBg(t, "ip", "netns", "exec", ns.Name(), "ping", "-n", "-i", "0.01", "-c", "500", "-W", "1", peerAddr)
	time.Sleep(time.Second)
	// A tap going down does not take the guest NIC's carrier with it, so
	// the cable is "pulled" at both ends: the VM's NIC first (its command
	// queue is polled every 0.2 s), then our tap.
	vmDev := "eth" + strings.TrimPrefix(victim, "kt")
	vmDown := make(chan string, 1)
	go func() { o, _ := peer("cmd", "--name", "kpeer", "ip link set "+vmDev+" down"); vmDown <- o }()
	time.Sleep(300 * time.Millisecond)
	ns.SetDown(t, victim)
	time.Sleep(2 * time.Second)
	out, _ = ping.wait(t, 60*time.Second)
	<-vmDown
	sent, recv, _ = pingStats(out)
	t.Logf("RESULT lacp kernel peer: %d of %d pings lost at a 10 ms interval when %s (carrying the flow) is pulled at both ends", sent-recv, sent, victim)
	if recv == 0 {
		t.Errorf("no ping reply with one link left:\n%s", out)
	}
	time.Sleep(4 * time.Second)
	kproc, _ = peer("status", "--name", "kpeer")
	if !strings.Contains(kproc, "Number of ports: 1") {
		t.Errorf("kernel's aggregator should have 1 port with %s down:\n%s", victim, kproc)
	}
}
