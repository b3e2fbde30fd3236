package lacp

import (
	"fmt"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// procADLines renders the 802.3ad lines of /proc/net/bonding/<bond> from a
// Status the way bond_procfs.c prints them (the bond's "Active Aggregator
// Info" block and each slave's block from "Aggregator ID" on), keyed by
// section ("bond" or the slave's name).
func procADLines(st Status) map[string][]string {
	out := map[string][]string{}
	if a := st.Active; a != nil {
		out["bond"] = []string{
			fmt.Sprintf("\tAggregator ID: %d", a.ID),
			fmt.Sprintf("\tNumber of ports: %d", a.NumPorts),
			fmt.Sprintf("\tActor Key: %d", a.ActorKey),
			fmt.Sprintf("\tPartner Key: %d", a.PartnerKey),
			fmt.Sprintf("\tPartner Mac Address: %s", macStr(a.PartnerMAC)),
		}
	}
	for _, p := range st.Ports {
		if !p.HasAggregator {
			out[p.Name] = []string{"Aggregator ID: N/A"}
			continue
		}
		out[p.Name] = []string{
			fmt.Sprintf("Aggregator ID: %d", p.AggregatorID),
			"Actor Churn State: " + p.ActorChurnState.String(),
			"Partner Churn State: " + p.PartnerChurnState.String(),
			fmt.Sprintf("Actor Churned Count: %d", p.ActorChurnCount),
			fmt.Sprintf("Partner Churned Count: %d", p.PartnerChurnCount),
			"details actor lacp pdu:",
			fmt.Sprintf("    system priority: %d", p.Actor.SystemPriority),
			fmt.Sprintf("    system mac address: %s", p.Actor.System),
			fmt.Sprintf("    port key: %d", p.Actor.Key),
			fmt.Sprintf("    port priority: %d", p.Actor.PortPriority),
			fmt.Sprintf("    port number: %d", p.Actor.PortNumber),
			fmt.Sprintf("    port state: %d", p.Actor.PortState),
			"details partner lacp pdu:",
			fmt.Sprintf("    system priority: %d", p.Partner.SystemPriority),
			fmt.Sprintf("    system mac address: %s", p.Partner.System),
			fmt.Sprintf("    oper key: %d", p.Partner.Key),
			fmt.Sprintf("    port priority: %d", p.Partner.PortPriority),
			fmt.Sprintf("    port number: %d", p.Partner.PortNumber),
			fmt.Sprintf("    port state: %d", p.Partner.PortState),
		}
	}
	return out
}

// parseProcAD extracts the same lines from a kernel /proc/net/bonding file.
func parseProcAD(text string) map[string][]string {
	out := map[string][]string{}
	sec := ""
	take := false
	for _, l := range strings.Split(text, "\n") {
		switch {
		case l == "Active Aggregator Info:":
			sec, take = "bond", true
			continue
		case strings.HasPrefix(l, "Slave Interface: "):
			sec, take = strings.TrimPrefix(l, "Slave Interface: "), false
			continue
		case strings.HasPrefix(l, "Aggregator ID: "):
			take = true
		case l == "":
			take = false
		}
		if take && sec != "" {
			out[sec] = append(out[sec], l)
		}
	}
	return out
}

// TestKernelOneWayCut replays two real 6.1.192 bonds of which one (A)
// stops hearing its partner on one link while the partner still hears it:
// A's LACPDUs on that link must be the kernel's (four expired ones at the
// fast rate, then one defaulted every 30 s), and 80 s after the cut A's
// 802.3ad state in /proc must be the kernel's, line for line: the port
// defaulted into an aggregator of its own, both churn machines "churned"
// once. B, which hears A every 30 s only, never settles: its churn
// machines keep monitoring.
func TestKernelOneWayCut(t *testing.T) {
	raw, err := os.ReadFile("testdata/kernel-oneway-cut.txt")
	require.NoError(t, err)
	sections := map[string]string{}
	sec := ""
	for _, l := range strings.SplitAfter(string(raw), "\n") {
		if strings.HasPrefix(l, "#") {
			continue
		}
		if strings.HasPrefix(l, "[") {
			sec = strings.TrimSpace(strings.Trim(strings.TrimSpace(l), "[]"))
			continue
		}
		sections[sec] += l
	}
	var wantPDUs []capturedPDU
	for _, l := range strings.Split(strings.TrimSpace(sections["pdus"]), "\n") {
		var c capturedPDU
		_, err := fmt.Sscanf(l, "%f %x %x", &c.at, &c.actor, &c.partner)
		require.NoError(t, err, l)
		wantPDUs = append(wantPDUs, c)
	}

	// The VMs' MACs: bond A takes its first NIC's, 02:00:00:00:0a:01.
	n := newTestNet(t)
	vm := func(b byte, i int) [6]byte { return [6]byte{2, 0, 0, 0, b, byte(i + 1)} }
	a := n.addSystem("bond0", vm(0xa, 0), fastOpts())
	b := n.addSystem("bond0", vm(0xb, 0), fastOpts())
	for i := 0; i < 2; i++ {
		require.NoError(t, a.AddPort(PortID(i), fmt.Sprint("eth", i), vm(0xa, i), up10G))
		require.NoError(t, b.AddPort(PortID(i), fmt.Sprint("eth", i), vm(0xb, i), up10G))
		n.connect(endpoint{0, PortID(i)}, endpoint{1, PortID(i)})
	}
	var gotPDUs []capturedPDU
	inner := a.transmit
	a.transmit = func(id PortID, f []byte) {
		if id == 0 {
			p, err := DecodeLACPDU(f[HeaderLen:])
			require.NoError(t, err)
			gotPDUs = append(gotPDUs, capturedPDU{float64(n.ticks) / TicksPerSecond, p.Actor.State, p.Partner.State})
		}
		inner(id, f)
	}
	a.Open()
	n.run(2)
	b.Open()
	n.run(250)
	cut := float64(n.ticks) / TicksPerSecond
	n.drop = func(from endpoint, _ []byte) bool { return from == endpoint{1, 0} }
	bChurn := true
	for i := 0; i < 80*TicksPerSecond*100/104; i++ {
		n.step()
		if p, _ := b.Port(0); p.ActorChurnState != ChurnMonitor || p.PartnerChurnState != ChurnMonitor || p.ActorChurnCount != 0 {
			bChurn = false
		}
	}

	// A's LACPDUs from the first expired one on, against the kernel's.
	first := func(l []capturedPDU, from float64) []capturedPDU {
		for i, p := range l {
			if p.at >= from && p.actor&StateExpired != 0 {
				return l[i:]
			}
		}
		return nil
	}
	w, g := first(wantPDUs, 0), first(gotPDUs, cut)
	require.Len(t, g, len(w), "sent %v, kernel %v", g, w)
	for i := range w {
		assert.Equal(t, w[i].actor, g[i].actor, "PDU %d actor", i)
		assert.Equal(t, w[i].partner, g[i].partner, "PDU %d partner", i)
		wt, gt := w[i].at-w[0].at, g[i].at-g[0].at
		assert.LessOrEqual(t, math.Abs(wt-gt), 0.3+0.05*wt, "PDU %d at %.1f s, kernel %.3f s", i, gt, wt)
	}

	wantA := parseProcAD(sections["A"])
	gotA := procADLines(a.Status())
	for _, s := range []string{"bond", "eth0", "eth1"} {
		require.NotEmpty(t, wantA[s], s)
		assert.Equal(t, wantA[s], gotA[s], "A: %s", s)
	}
	// B's eth0 hears A every 30 s: it is Current for 3 s, Expired for
	// 3 s, then Defaulted (alone in aggregator 2) until A's next LACPDU.
	// The kernel's /proc was read in that last phase; compare B there.
	wantB := parseProcAD(sections["B"])
	require.NotEmpty(t, wantB["eth0"])
	require.Equal(t, "Aggregator ID: 2", wantB["eth0"][0])
	require.GreaterOrEqual(t, n.until(30*TicksPerSecond, func() bool { p, _ := b.Port(0); return p.RxState == RxDefaulted }), 0)
	gotB := procADLines(b.Status())
	for _, s := range []string{"bond", "eth0", "eth1"} {
		assert.Equal(t, wantB[s], gotB[s], "B: %s", s)
	}
	assert.True(t, bChurn, "B's eth0 left churn monitoring")
}
