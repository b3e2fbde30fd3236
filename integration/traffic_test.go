package integration

// Real traffic across bond0 in each data-path mode: two veth slaves to a peer
// namespace whose bridge holds 192.0.2.2; the bond is configured only through
// the mount; ping and a short iperf3 TCP run must work.

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"bondingfs/internal/nettest"
)

var iperfReceiver = regexp.MustCompile(`([0-9.]+) Mbits/sec.*receiver`)

func TestTraffic(t *testing.T) {
	nettest.SkipUnlessRoot(t)
	needTools(t, "ip", "ping", "iperf3", "ss")
	bondingfsBin(t)
	for _, mode := range []string{"balance-rr", "active-backup", "balance-xor", "broadcast"} {
		t.Run(mode, func(t *testing.T) {
			tp := newTopo(t, 2)
			tp.bond(t, "mode", mode, "miimon", "100", "slaves", "+eth0", "slaves", "+eth1")
			if got := readTrim(t, tp.d.sys+"/bond0/bonding/mode"); !strings.HasPrefix(got, mode+" ") {
				t.Fatalf("bonding/mode reads %q after echo %s", got, mode)
			}
			if got := readTrim(t, tp.d.sys+"/bond0/bonding/slaves"); got != "eth0 eth1" {
				t.Fatalf("bonding/slaves reads %q, want \"eth0 eth1\"", got)
			}
			tp.up(t)

			out, err := tp.A.Exec("ping", "-n", "-c", "5", "-i", "0.2", "-W", "1", peerAddr)
			sent, recv, ok := pingStats(out)
			if err != nil || !ok || recv != sent {
				t.Errorf("ping across the bond (%s): %v\n%s", mode, err, out)
			}
			t.Logf("RESULT traffic %s: ping %d/%d replies", mode, recv, sent)

			mbit := iperfTCP(t, tp, 3)
			t.Logf("RESULT traffic %s: iperf3 TCP A→B %.0f Mbit/s", mode, mbit)
			if mbit <= 0 {
				t.Errorf("iperf3 TCP across the bond (%s) moved nothing", mode)
			}
			if t.Failed() {
				b, _ := runErr("cat", tp.d.proc+"/bond0")
				t.Logf("/proc/net/bonding/bond0:\n%s", b)
			}
		})
	}
}

// iperfTCP runs an iperf3 server in B and a TCP client in A for secs seconds and
// returns the receiver's throughput in Mbit/s.
func iperfTCP(t *testing.T, tp *topo, secs int) float64 {
	t.Helper()
	srv := startBg(t, "ip", "netns", "exec", tp.B.Name(), "iperf3", "-s", "-1", "-B", peerAddr)
	deadline := time.Now().Add(5 * time.Second)
	for {
		out, _ := tp.B.Exec("ss", "-Hltn")
		if strings.Contains(out, ":5201 ") {
			break
		}
		if time.Now().After(deadline) {
			o, _ := srv.wait(t, time.Second)
			t.Fatalf("iperf3 server did not start:\n%s", o)
		}
		time.Sleep(50 * time.Millisecond)
	}
	out, err := tp.A.Exec("iperf3", "-c", peerAddr, "-t", strconv.Itoa(secs),
		"-f", "m", "--connect-timeout", "3000")
	if err != nil {
		t.Errorf("iperf3 -c %s: %v\n%s", peerAddr, err, out)
		return 0
	}
	m := iperfReceiver.FindStringSubmatch(out)
	if m == nil {
		t.Errorf("cannot parse iperf3 output:\n%s", out)
		return 0
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	_, _ = srv.wait(t, 10*time.Second)
	return v
}
