package integration

// 802.3ad interoperability: two bondingfs daemons back to back,
// each in its own namespace, joined by two veth pairs (A eth0–B p0, A eth1–B
// p1), lacp_rate fast, miimon 100. Both ends must reach
// Collecting_Distributing on both links; ping and iperf3 TCP cross the LAG;
// pulling one link moves the traffic to the other. The time from enslaving
// the second end to both links distributing on both ends, and the pings a
// 10 ms ping loses when the link carrying it fails, are logged as RESULT
// lines (scripts/bench.sh prints them).

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"bondingfs/internal/nettest"
)

// maxLAGLoss is the bound for a link failing inside the LAG.
const maxLAGLoss = 2

// lacpEnd is one daemon's bond0 and its slaves.
type lacpEnd struct {
	ns     *nettest.Netns
	d      *daemon
	slaves []string
}

func (e *lacpEnd) write(t *testing.T, opt, val string) {
	t.Helper()
	mustEcho(t, filepath.Join(e.d.sys, "bond0/bonding", opt), val)
}

// distributing reports whether every slave's actor and partner states have
// Collecting and Distributing set (bonding_slave/ad_*_oper_port_state).
func (e *lacpEnd) distributing(t *testing.T) bool {
	for _, s := range e.slaves {
		for _, f := range []string{"ad_actor_oper_port_state", "ad_partner_oper_port_state"} {
			var v int
			b, err := readFile(filepath.Join(e.d.sys, s, "bonding_slave", f))
			if err != nil {
				return false
			}
			if _, err := fmt.Sscan(b, &v); err != nil || v&0x30 != 0x30 {
				return false
			}
		}
	}
	return true
}

func readFile(path string) (string, error) {
	out, err := runErr("cat", path)
	return strings.TrimSpace(out), err
}

// txPackets returns a link's transmitted packets in ns.
func txPackets(t *testing.T, ns *nettest.Netns, dev string) uint64 {
	t.Helper()
	out := ns.Run(t, "ip", "-s", "-j", "link", "show", dev)
	var l []struct {
		Stats64 struct {
			TX struct {
				Packets uint64 `json:"packets"`
			} `json:"tx"`
		} `json:"stats64"`
	}
	if err := json.Unmarshal([]byte(out), &l); err != nil || len(l) != 1 {
		t.Fatalf("ip -s -j link show %s: %v\n%s", dev, err, out)
	}
	return l[0].Stats64.TX.Packets
}

func TestLACPBackToBack(t *testing.T) {
	nettest.SkipUnlessRoot(t)
	needTools(t, "ip", "ping", "iperf3", "ss")
	bondingfsBin(t)
	A, B := nettest.NewNetns(t, "bfs-la-"), nettest.NewNetns(t, "bfs-lb-")
	for i := 0; i < 2; i++ {
		a, b := fmt.Sprintf("eth%d", i), fmt.Sprintf("p%d", i)
		nettest.Veth(t, A, a, B, b)
		A.SetDown(t, a)
		B.SetDown(t, b)
	}
	a := &lacpEnd{ns: A, slaves: []string{"eth0", "eth1"}}
	b := &lacpEnd{ns: B, slaves: []string{"p0", "p1"}}
	a.d = startDaemon(t, A.Name())
	b.d = startDaemon(t, B.Name())
	for _, e := range []*lacpEnd{a, b} {
		e.write(t, "mode", "802.3ad")
		e.write(t, "lacp_rate", "fast")
		e.write(t, "miimon", "100")
		e.write(t, "xmit_hash_policy", "layer3+4")
	}
	// the first end: enslaved, up, addressed, alone
	for _, s := range b.slaves {
		b.write(t, "slaves", "+"+s)
	}
	B.SetUp(t, "bond0")
	B.AddAddr(t, "bond0", peerAddr+"/24")
	// the second end
	start := time.Now()
	for _, s := range a.slaves {
		a.write(t, "slaves", "+"+s)
	}
	A.SetUp(t, "bond0")
	upAt := time.Since(start)
	for !(a.distributing(t) && b.distributing(t)) {
		if time.Since(start) > 20*time.Second {
			pa, _ := readFile(a.d.proc + "/bond0")
			pb, _ := readFile(b.d.proc + "/bond0")
			t.Fatalf("not both links distributing on both ends after 20 s\nA:\n%s\nB:\n%s", pa, pb)
		}
		time.Sleep(10 * time.Millisecond)
	}
	ttd := time.Since(start)
	t.Logf("RESULT lacp time-to-distributing: %.2f s from enslaving the second end to both links Collecting_Distributing on both ends (lacp_rate fast; enslaving and setting bond0 up took %.2f s of it)", ttd.Seconds(), upAt.Seconds())
	// the goal is ≤ 3 s, what two kernels take (2 s of it is the Mux
	// machine's AGGREGATE_WAIT); the test allows more for a loaded host
	if ttd > 5*time.Second {
		t.Errorf("time to distributing %v, want ≤ 3 s (what two kernels take; 5 s allowed under load)", ttd)
	}
	A.AddAddr(t, "bond0", bondAddr+"/24")

	// /proc shows the partner: B's system MAC is p0's MAC
	pa := readTrim(t, a.d.proc+"/bond0")
	pmac := strings.TrimSpace(B.Run(t, "cat", "/sys/class/net/p0/address"))
	if !strings.Contains(pa, "Partner Mac Address: "+pmac) {
		t.Errorf("A's /proc does not show B's system MAC %s:\n%s", pmac, pa)
	}
	if !strings.Contains(pa, "Number of ports: 2") {
		t.Errorf("A's active aggregator has not 2 ports:\n%s", pa)
	}

	tp := &topo{A: A, B: B, d: a.d, n: 2}
	tp.waitPing(t, 10*time.Second)
	out, err := A.Exec("ping", "-n", "-c", "5", "-i", "0.2", "-W", "1", peerAddr)
	if sent, recv, ok := pingStats(out); err != nil || !ok || recv != sent {
		t.Errorf("ping across the LAG: %v\n%s", err, out)
	}
	mbit := iperfTCP(t, tp, 3)
	t.Logf("RESULT lacp iperf3 TCP A→B across the LAG: %.0f Mbit/s", mbit)
	if mbit <= 0 {
		t.Errorf("iperf3 TCP across the LAG moved nothing")
	}

	// which link carries the ping flow (one ICMP id: one link)
	tx0, tx1 := txPackets(t, A, "eth0"), txPackets(t, A, "eth1")
	if out, err := A.Exec("ping", "-n", "-c", "50", "-i", "0.01", "-W", "1", peerAddr); err != nil {
		t.Fatalf("ping: %v\n%s", err, out)
	}
	d0, d1 := txPackets(t, A, "eth0")-tx0, txPackets(t, A, "eth1")-tx1
	victim := 0
	if d1 > d0 {
		victim = 1
	}
	t.Logf("ping flow: eth0 sent %d, eth1 sent %d: pulling link %d", d0, d1, victim)

	ping := startBg(t, "ip", "netns", "exec", A.Name(), "ping", "-n", "-i", "0.01", "-c", "400", "-W", "1", peerAddr)
	time.Sleep(time.Second)
	B.SetDown(t, fmt.Sprintf("p%d", victim)) // the cable is pulled at B's end
	time.Sleep(1500 * time.Millisecond)
	out, err = ping.wait(t, 30*time.Second)
	sent, recv, ok := pingStats(out)
	if !ok {
		t.Fatalf("ping produced no summary (%v):\n%s", err, out)
	}
	lost := sent - recv
	t.Logf("RESULT lacp link failure: %d of %d pings lost at a 10 ms interval (link %d of the LAG pulled, miimon=100)", lost, sent, victim)
	if lost > maxLAGLoss {
		t.Errorf("a failed link inside the LAG lost %d pings, want ≤ %d", lost, maxLAGLoss)
	}
	pa = readTrim(t, a.d.proc+"/bond0")
	if !strings.Contains(pa, "Number of ports: 1") {
		t.Errorf("A's aggregator should have 1 port with a link down:\n%s", pa)
	}

	// the link comes back and rejoins the aggregator
	B.SetUp(t, fmt.Sprintf("p%d", victim))
	deadline := time.Now().Add(10 * time.Second)
	for !(a.distributing(t) && b.distributing(t)) {
		if time.Now().After(deadline) {
			t.Fatalf("link %d did not rejoin within 10 s:\n%s", victim, readTrim(t, a.d.proc+"/bond0"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if out, err := A.Exec("ping", "-n", "-c", "3", "-i", "0.2", "-W", "1", peerAddr); err != nil {
		t.Errorf("ping after the link came back: %v\n%s", err, out)
	}
	if t.Failed() {
		t.Logf("A /proc:\n%s", readTrim(t, a.d.proc+"/bond0"))
	}
}
