package integration

// Failover timing: miimon=100, a 10 ms ping across bond0 while the active
// slave's peer (pN in namespace B) goes down for 1.5 s and comes back.
// active-backup must lose at most 2 pings; balance-rr losses are reported.

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"bondingfs/internal/nettest"
)

const maxABLoss = 2

func TestFailover(t *testing.T) {
	nettest.SkipUnlessRoot(t)
	needTools(t, "ip", "ping")
	bondingfsBin(t)
	for _, mode := range []string{"active-backup", "balance-rr"} {
		t.Run(mode, func(t *testing.T) {
			tp := newTopo(t, 2)
			tp.bond(t, "mode", mode, "miimon", "100", "slaves", "+eth0", "slaves", "+eth1")
			tp.up(t)
			if out, err := tp.A.Exec("ping", "-n", "-c", "3", "-i", "0.1", "-W", "1", peerAddr); err != nil {
				t.Fatalf("warm-up ping: %v\n%s", err, out)
			}

			victim := "eth0"
			if mode == "active-backup" {
				victim = readTrim(t, tp.d.sys+"/bond0/bonding/active_slave")
				if !strings.HasPrefix(victim, "eth") {
					t.Fatalf("active_slave reads %q", victim)
				}
			}
			peer := "p" + strings.TrimPrefix(victim, "eth")

			ping := startBg(t, "ip", "netns", "exec", tp.A.Name(), "ping", "-n", "-i", "0.01", "-c", "400", "-W", "1", peerAddr)
			time.Sleep(time.Second)
			tp.B.SetDown(t, peer)
			time.Sleep(1500 * time.Millisecond)
			mii := readTrim(t, fmt.Sprintf("%s/%s/bonding_slave/mii_status", tp.d.sys, victim))
			active := ""
			if mode == "active-backup" {
				active = readTrim(t, tp.d.sys+"/bond0/bonding/active_slave")
			}
			tp.B.SetUp(t, peer)
			out, err := ping.wait(t, 30*time.Second)
			sent, recv, ok := pingStats(out)
			if !ok {
				t.Fatalf("ping produced no summary (%v):\n%s", err, out)
			}
			lost := sent - recv
			t.Logf("RESULT failover %s: %d of %d pings lost at a 10 ms interval (%s's peer %s down for 1.5 s, miimon=100)",
				mode, lost, sent, victim, peer)

			if mii != "down" {
				t.Errorf("%s mii_status while its peer is down: %q, want down", victim, mii)
			}
			if mode == "active-backup" {
				if active == victim || active == "" {
					t.Errorf("no failover: active_slave was %q while %s was down", active, victim)
				}
				if lost > maxABLoss {
					t.Errorf("active-backup failover lost %d pings, want ≤ %d", lost, maxABLoss)
				}
			} else if recv == 0 {
				t.Errorf("balance-rr: no ping reply at all during the failover")
			}

			// The slave comes back and traffic still flows.
			deadline := time.Now().Add(5 * time.Second)
			for readTrim(t, fmt.Sprintf("%s/%s/bonding_slave/mii_status", tp.d.sys, victim)) != "up" {
				if time.Now().After(deadline) {
					t.Errorf("%s mii_status not up 5 s after its peer came back", victim)
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if out, err := tp.A.Exec("ping", "-n", "-c", "5", "-i", "0.1", "-W", "1", peerAddr); err != nil {
				t.Errorf("ping after the link came back: %v\n%s", err, out)
			}
			if t.Failed() {
				b, _ := runErr("cat", tp.d.proc+"/bond0")
				t.Logf("/proc/net/bonding/bond0:\n%s", b)
			}
		})
	}
}
