package integration

// balance-tlb and balance-alb with real traffic: bond0 in namespace A with
// slaves eth0, eth1 whose veth peers p0, p1 are ports of bridge br0 in
// namespace B, and four client namespaces C1..C4 (192.0.2.11-14, MACs
// 02:00:00:00:0c:01-04) on ports q1..q4 of the same bridge. Frames are
// counted per slave on the bridge ports p0/p1 (rx_packets: sent by the
// slave; tx_packets: sent to it). The RESULT lines are what `make bench`
// prints.

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"bondingfs/internal/nettest"
)

type lbTopo struct {
	topo
	peers []*nettest.Netns
}

func peerIP(i int) string { return fmt.Sprintf("192.0.2.%d", 11+i) }

func newLBTopo(t *testing.T, mode string) *lbTopo {
	t.Helper()
	tp := &lbTopo{topo: topo{A: nettest.NewNetns(t, "bfs-a-"), B: nettest.NewNetns(t, "bfs-b-"), n: 2}}
	ports := []string{"p0", "p1"}
	for i := 0; i < 2; i++ {
		eth := fmt.Sprintf("eth%d", i)
		nettest.Veth(t, tp.A, eth, tp.B, ports[i])
		tp.A.SetDown(t, eth)
	}
	for i := 0; i < 4; i++ {
		c := nettest.NewNetns(t, "bfs-c-")
		q := fmt.Sprintf("q%d", i+1)
		nettest.Veth(t, c, "eth0", tp.B, q)
		c.SetMAC(t, "eth0", fmt.Sprintf("02:00:00:00:0c:%02x", i+1))
		c.AddAddr(t, "eth0", peerIP(i)+"/24")
		ports = append(ports, q)
		tp.peers = append(tp.peers, c)
	}
	nettest.Bridge(t, tp.B, "br0", "", ports...)
	tp.d = startDaemon(t, tp.A.Name())
	tp.bond(t, "mode", mode, "miimon", "100", "slaves", "+eth0", "slaves", "+eth1")
	tp.A.SetUp(t, "bond0")
	tp.A.AddAddr(t, "bond0", bondAddr+"/24")
	return tp
}

// counter reads a statistics counter of a bridge port in B.
func (tp *lbTopo) counter(t *testing.T, dev, name string) int {
	t.Helper()
	out := tp.B.Run(t, "cat", "/sys/class/net/"+dev+"/statistics/"+name)
	n, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		t.Fatalf("%s %s: %q", dev, name, out)
	}
	return n
}

// counters returns name of p0 and p1.
func (tp *lbTopo) counters(t *testing.T, name string) [2]int {
	return [2]int{tp.counter(t, "p0", name), tp.counter(t, "p1", name)}
}

// waitSlavesUp waits (at most 5 s) until both slaves' mii_status is up.
func (tp *lbTopo) waitSlavesUp(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		a := readTrim(t, tp.d.sys+"/eth0/bonding_slave/mii_status")
		b := readTrim(t, tp.d.sys+"/eth1/bonding_slave/mii_status")
		if a == "up" && b == "up" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("slaves' mii_status %s/%s 5 s after the bond came up", a, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stopPing ends a ping started with startBg (SIGINT, as ^C) and waits.
func stopPing(t *testing.T, p *bgCmd) {
	t.Helper()
	_ = p.cmd.Process.Signal(os.Interrupt)
	_, _ = p.wait(t, 5*time.Second)
}

// reach waits until ns reaches addr.
func reach(t *testing.T, ns *nettest.Netns, addr string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		out, err := ns.Exec("ping", "-n", "-c", "1", "-W", "1", addr)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not reach %s within %v:\n%s", ns.Name(), addr, timeout, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// shares returns the two slaves' shares of the frames counted between a
// and b, in percent.
func shares(a, b [2]int) (s0, s1 float64, n int) {
	d0, d1 := b[0]-a[0], b[1]-a[1]
	n = d0 + d1
	if n == 0 {
		return 0, 0, 0
	}
	return 100 * float64(d0) / float64(n), 100 * float64(d1) / float64(n), n
}

// flowCounter counts, on the bridge ports p0 and p1, the IPv4 frames of
// each client's flow: toward the clients (sent by the slaves: received by the
// port, matched by destination MAC) or from them (sent out of the port to
// the slave, matched by source MAC). The clients' MACs are
// 02:00:00:00:0c:01-04.
type flowCounter struct {
	fds    [2]int
	toward bool
}

func newFlowCounter(t *testing.T, tp *lbTopo, toward bool) *flowCounter {
	fc := &flowCounter{toward: toward}
	for i, p := range []string{"p0", "p1"} {
		fc.fds[i] = rawSockDir(t, tp.B, p, toward)
	}
	fc.drain()
	return fc
}

// drain discards the frames queued so far (the sockets keep receiving
// between counts).
func (fc *flowCounter) drain() {
	buf := make([]byte, 64)
	for _, fd := range fc.fds {
		for {
			if _, _, err := unix.Recvfrom(fd, buf, unix.MSG_DONTWAIT|unix.MSG_TRUNC); err != nil {
				break
			}
		}
	}
}

// count reads for d and returns frames per slave and client.
func (fc *flowCounter) count(d time.Duration) (n [2][4]int) {
	deadline := time.Now().Add(d)
	buf := make([]byte, 128)
	for time.Now().Before(deadline) {
		for k, fd := range fc.fds {
			for {
				m, _, _, from, err := unix.Recvmsg(fd, buf, nil, unix.MSG_DONTWAIT|unix.MSG_TRUNC)
				if err != nil || m < 14 {
					break
				}
				if buf[12] != 0x08 || buf[13] != 0x00 {
					continue // IPv4 only: not the ARP around the flows
				}
				ll, _ := from.(*unix.SockaddrLinklayer)
				out := ll != nil && ll.Pkttype == unix.PACKET_OUTGOING
				mac := buf[0:6]
				if !fc.toward {
					if !out {
						continue
					}
					mac = buf[6:12]
				}
				if mac[0] == 2 && mac[1] == 0 && mac[2] == 0 && mac[3] == 0 && mac[4] == 0x0c && mac[5] >= 1 && mac[5] <= 4 {
					n[k][mac[5]-1]++
				}
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	return n
}

// flowShares returns each slave's share of the frames, in percent, raw and
// with every flow weighted equally (a flow's frames split over the slaves
// that carried them), and how many flows each slave carried most of.
func flowShares(n [2][4]int) (raw, perFlow [2]float64, flows [2]int, total int) {
	var tot [2]int
	for f := 0; f < 4; f++ {
		ft := n[0][f] + n[1][f]
		total += ft
		for k := 0; k < 2; k++ {
			tot[k] += n[k][f]
			if ft > 0 {
				perFlow[k] += 100 * float64(n[k][f]) / float64(ft) / 4
			}
		}
		if ft > 0 {
			if n[0][f] >= n[1][f] {
				flows[0]++
			} else {
				flows[1]++
			}
		}
	}
	if total > 0 {
		for k := 0; k < 2; k++ {
			raw[k] = 100 * float64(tot[k]) / float64(total)
		}
	}
	return raw, perFlow, flows, total
}

// within6040 reports whether both shares are at least 40 %.
func within6040(s0, s1 float64) bool { return s0 >= 40 && s1 >= 40 }

func (tp *lbTopo) dumpOnFail(t *testing.T) {
	t.Helper()
	if t.Failed() {
		b, _ := runErr("cat", tp.d.proc+"/bond0")
		t.Logf("/proc/net/bonding/bond0:\n%s", b)
		t.Logf("bridge fdb:\n%s", tp.B.Run(t, "bridge", "fdb", "show", "br", "br0"))
		tp.d.dumpLogs(t)
	}
}

func TestTLBTraffic(t *testing.T) {
	nettest.SkipUnlessRoot(t)
	needTools(t, "ip", "ping", "bridge")
	bondingfsBin(t)
	tp := newLBTopo(t, "balance-tlb")
	defer tp.dumpOnFail(t)
	for i := range tp.peers {
		reach(t, tp.A, peerIP(i), 10*time.Second)
	}
	active := readTrim(t, tp.d.sys+"/bond0/bonding/active_slave")
	ai := map[string]int{"eth0": 0, "eth1": 1}[active]

	// four equal flows out of the bond; once a rebalance (every 10 s) has
	// seen them they are spread by their load
	var pings []*bgCmd
	for i := range tp.peers {
		pings = append(pings, startBg(t, "ip", "netns", "exec", tp.A.Name(),
			"ping", "-n", "-q", "-i", "0.02", "-s", "1000", "-w", "45", peerIP(i)))
	}
	fc := newFlowCounter(t, tp, true)
	// until a rebalance has seen the flows they all share the first slave;
	// alb_work counts 100 ticks, which take longer than 10 s on a loaded
	// machine: wait (at most 30 s) for a second in which each flow stays
	// on one slave and both slaves are used
	settled := time.Now().Add(30 * time.Second)
	for {
		n := fc.count(time.Second)
		_, _, flows, _ := flowShares(n)
		split := flows[0] > 0 && flows[1] > 0
		for f := 0; f < 4; f++ {
			split = split && (n[0][f] == 0 || n[1][f] == 0)
		}
		if split {
			break
		}
		if time.Now().After(settled) {
			t.Errorf("balance-tlb: 30 s after 4 flows started they are not split over both slaves: %v", n)
			break
		}
	}
	in0 := tp.counters(t, "tx_packets")
	n := fc.count(5 * time.Second)
	in1 := tp.counters(t, "tx_packets")
	for _, p := range pings {
		stopPing(t, p)
	}
	raw, pf, flows, total := flowShares(n)
	t.Logf("RESULT balance-tlb transmit share of 4 flows: eth0 %.0f%% eth1 %.0f%% (flows %d/%d; frames %.0f%%/%.0f%% of %d in 5 s)",
		pf[0], pf[1], flows[0], flows[1], raw[0], raw[1], total)
	t.Logf("frames per slave and flow: %v", n)
	if !within6040(pf[0], pf[1]) {
		t.Errorf("balance-tlb: 4 flows out of the bond are not spread within 60/40: eth0 %.1f%%, eth1 %.1f%% (frames per slave and flow %v)", pf[0], pf[1], n)
	}
	r0, r1, rn := shares(in0, in1)
	rin := []float64{r0, r1}[ai]
	t.Logf("RESULT balance-tlb receive share of the active slave %s: %.0f%% (%d frames)", active, rin, rn)
	if rin < 95 {
		t.Errorf("balance-tlb: traffic in should arrive on the active slave %s only: %.1f%%", active, rin)
	}
	lbFailover(t, tp, "balance-tlb", false)

	// tlb_dynamic_lb=0 (set while the bond is down): the same four flows
	// are spread by xmit_hash_policy (layer2: the clients' MACs end in
	// 01..04), from the first frame on
	tp.A.SetDown(t, "bond0")
	mustEcho(t, tp.d.sys+"/bond0/bonding/tlb_dynamic_lb", "0")
	tp.A.SetUp(t, "bond0")
	tp.waitSlavesUp(t)
	for i := range tp.peers {
		reach(t, tp.A, peerIP(i), 10*time.Second)
	}
	pings = pings[:0]
	for i := range tp.peers {
		pings = append(pings, startBg(t, "ip", "netns", "exec", tp.A.Name(),
			"ping", "-n", "-q", "-i", "0.02", "-s", "1000", "-w", "30", peerIP(i)))
	}
	time.Sleep(time.Second)
	fc.count(500 * time.Millisecond) // let the start-up frames pass
	n = fc.count(3 * time.Second)
	for _, p := range pings {
		stopPing(t, p)
	}
	raw, pf, flows, total = flowShares(n)
	t.Logf("RESULT balance-tlb tlb_dynamic_lb=0 (layer2) transmit share of 4 flows: eth0 %.0f%% eth1 %.0f%% (flows %d/%d; frames %.0f%%/%.0f%% of %d in 3 s)",
		pf[0], pf[1], flows[0], flows[1], raw[0], raw[1], total)
	t.Logf("frames per slave and flow: %v", n)
	if !within6040(pf[0], pf[1]) {
		t.Errorf("balance-tlb, tlb_dynamic_lb=0: 4 flows are not spread within 60/40: eth0 %.1f%%, eth1 %.1f%% (%v)", pf[0], pf[1], n)
	}
}

func TestALBTraffic(t *testing.T) {
	nettest.SkipUnlessRoot(t)
	needTools(t, "ip", "ping", "bridge")
	bondingfsBin(t)
	tp := newLBTopo(t, "balance-alb")
	defer tp.dumpOnFail(t)
	// the clients resolve the bond's address; the bond's replies give each
	// a slave's MAC in turn
	for _, c := range tp.peers {
		reach(t, c, bondAddr, 10*time.Second)
	}
	if macs := tp.clientMACs(t); len(macs) != 2 || macs[""] != 0 {
		t.Errorf("balance-alb: the four clients' ARP caches should show two slave MACs, 2 each: %v", macs)
	}

	// traffic from the clients arrives on both slaves
	fc := newFlowCounter(t, tp, false)
	var pings []*bgCmd
	for _, c := range tp.peers {
		pings = append(pings, startBg(t, "ip", "netns", "exec", c.Name(),
			"ping", "-n", "-q", "-i", "0.02", "-s", "1000", "-c", "150", bondAddr))
	}
	time.Sleep(200 * time.Millisecond)
	fc.drain()
	n := fc.count(2500 * time.Millisecond)
	for _, p := range pings {
		out, _ := p.wait(t, 20*time.Second)
		if sent, recv, ok := pingStats(out); !ok || recv != sent {
			t.Errorf("client ping to the bond: %s", out)
		}
	}
	raw, pf, flows, total := flowShares(n)
	t.Logf("RESULT balance-alb receive share of 4 clients: eth0 %.0f%% eth1 %.0f%% (flows %d/%d; frames %.0f%%/%.0f%% of %d in 2.5 s)",
		pf[0], pf[1], flows[0], flows[1], raw[0], raw[1], total)
	if !within6040(pf[0], pf[1]) {
		t.Errorf("balance-alb: traffic from 4 clients is not spread within 60/40: eth0 %.1f%%, eth1 %.1f%% (%v)", pf[0], pf[1], n)
	}
	lbFailover(t, tp, "balance-alb", true)

	// the failed slave is back: the clients are rebalanced over both
	// slaves and told so by ARP replies (rlb_rebalance, then
	// rlb_update_rx_clients after the update delay)
	deadline := time.Now().Add(8 * time.Second)
	for {
		macs := tp.clientMACs(t)
		if len(macs) == 2 && macs[""] == 0 {
			t.Logf("after the slave came back the clients use %v", macs)
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("balance-alb: 8 s after the failed slave came back the clients' caches show %v, want two slave MACs", macs)
			break
		}
		// keep the entries alive: a ping from each client
		for _, c := range tp.peers {
			_, _ = c.Exec("ping", "-n", "-c", "1", "-W", "1", bondAddr)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// clientMACs returns how many clients have each MAC for the bond's address
// in their ARP cache ("" when none).
func (tp *lbTopo) clientMACs(t *testing.T) map[string]int {
	t.Helper()
	macs := map[string]int{}
	for i, c := range tp.peers {
		f := strings.Fields(c.Run(t, "ip", "neigh", "show", bondAddr))
		mac := ""
		for j := range f {
			if f[j] == "lladdr" && j+1 < len(f) {
				mac = f[j+1]
			}
		}
		t.Logf("client %s: %s is at %s", peerIP(i), bondAddr, mac)
		macs[mac]++
	}
	return macs
}

// lbFailover takes the active slave's bridge port down while the four
// clients (fromPeers) or the bond (to each client) ping every 10 ms,
// counts the pings lost, and checks every client is reachable after.
func lbFailover(t *testing.T, tp *lbTopo, mode string, fromPeers bool) {
	t.Helper()
	victim := readTrim(t, tp.d.sys+"/bond0/bonding/active_slave")
	if !strings.HasPrefix(victim, "eth") {
		t.Fatalf("active_slave reads %q", victim)
	}
	port := "p" + strings.TrimPrefix(victim, "eth")
	var pings []*bgCmd
	for i, c := range tp.peers {
		if fromPeers {
			pings = append(pings, startBg(t, "ip", "netns", "exec", c.Name(),
				"ping", "-n", "-q", "-i", "0.01", "-c", "700", "-W", "1", bondAddr))
		} else {
			pings = append(pings, startBg(t, "ip", "netns", "exec", tp.A.Name(),
				"ping", "-n", "-q", "-i", "0.01", "-c", "700", "-W", "1", peerIP(i)))
		}
	}
	time.Sleep(time.Second)
	tp.B.SetDown(t, port)
	lost, total := 0, 0
	for i, p := range pings {
		out, err := p.wait(t, 30*time.Second)
		sent, recv, ok := pingStats(out)
		if !ok {
			t.Fatalf("ping %s produced no summary (%v):\n%s", peerIP(i), err, out)
		}
		lost += sent - recv
		total += sent
	}
	now := readTrim(t, tp.d.sys+"/bond0/bonding/active_slave")
	t.Logf("RESULT %s failover: %d of %d pings lost (4 clients, 10 ms interval, %s's port down, miimon=100); active slave now %s",
		mode, lost, total, victim, now)
	if now == victim || now == "" {
		t.Errorf("%s: no failover: active_slave %q after %s's port went down", mode, now, victim)
	}
	for i, c := range tp.peers {
		if fromPeers {
			reach(t, c, bondAddr, 5*time.Second)
		} else {
			reach(t, tp.A, peerIP(i), 5*time.Second)
		}
	}
	tp.B.SetUp(t, port)
}
