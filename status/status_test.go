package status

import (
	"bytes"
	"encoding/json"
	"flag"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"bondingfs/bond"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func mac(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

// testSnapshot is an active-backup bond with two slaves (eth1 failed once)
// and an 802.3ad bond with one port in an aggregator.
func testSnapshot() *bond.Snapshot {
	ab := bond.DefaultParams()
	ab.Mode, ab.Miimon, ab.UpDelay, ab.Primary = bond.ModeActiveBackup, 100, 2, "eth0"
	ad := bond.DefaultParams()
	ad.Mode, ad.Miimon, ad.LACPRate = bond.Mode8023AD, 100, 1
	return &bond.Snapshot{Bonds: []*bond.BondStatus{
		{
			Name: "bond0", Index: 7, Params: ab, Up: true, Carrier: true,
			HWAddr: mac("02:00:00:00:00:01"), MTU: 1500, ActiveSlave: "eth0", PrimarySlave: "eth0", Failovers: 3,
			Slaves: []bond.SlaveStatus{
				{Name: "eth0", Index: 3, Link: bond.LinkUp, Active: true, PermHWAddr: mac("02:00:00:00:00:01"), Speed: 10000, Duplex: bond.DuplexFull},
				{Name: "eth1", Index: 4, Link: bond.LinkDown, LinkFailureCount: 1, PermHWAddr: mac("02:00:00:00:00:02"), Speed: bond.SpeedUnknown, Duplex: bond.DuplexUnknown},
			},
		},
		{
			Name: "bond1", Index: 8, Params: ad, Up: true, Carrier: true,
			HWAddr: mac("02:00:00:00:00:03"), MTU: 9000,
			AD: &bond.ADStatus{SystemPriority: 65535, SystemMAC: mac("02:00:00:00:00:03"),
				ActiveAggregator: &bond.ADAggregator{ID: 1, NumPorts: 1, ActorKey: 15, PartnerKey: 15, PartnerMAC: mac("02:00:00:00:01:03")}},
			Slaves: []bond.SlaveStatus{
				{Name: "eth2", Index: 5, Link: bond.LinkUp, Active: true, PermHWAddr: mac("02:00:00:00:00:03"), Speed: 10000, Duplex: bond.DuplexFull,
					AD: &bond.ADSlaveStatus{AggregatorID: 1, ActorOperState: 63, PartnerOperState: 63,
						ActorChurnState: "none", PartnerChurnState: "none", ActorChurnCount: 1,
						Actor:   bond.ADPortInfo{SystemPriority: 65535, System: mac("02:00:00:00:00:03"), Key: 15, PortPriority: 255, PortNumber: 1, PortState: 63},
						Partner: bond.ADPortInfo{SystemPriority: 65535, System: mac("02:00:00:00:01:03"), Key: 15, PortPriority: 255, PortNumber: 1, PortState: 63}},
					ADStats: &bond.ADStats{LACPDURx: 12, LACPDUTx: 13, MarkerRx: 1, MarkerRespTx: 1}},
			},
		},
	}}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./status -update to create it")
	require.Equal(t, string(want), string(got))
}

func TestJSONGolden(t *testing.T) {
	r, missing := FromSnapshot(testSnapshot(), bond.Caller{NetAdmin: true})
	require.Empty(t, missing)
	out, err := json.MarshalIndent(r, "", "  ")
	require.NoError(t, err)
	golden(t, "report.json", append(out, '\n'))

	// The document parses back into the same report.
	var back Report
	require.NoError(t, json.Unmarshal(out, &back))
	require.Equal(t, r, back)
	require.Equal(t, SchemaVersion, back.Schema)
	require.Equal(t, "active-backup", back.Bonds[0].Mode)
	require.Equal(t, "100", back.Bonds[0].Options["miimon"])
	require.Equal(t, "200", back.Bonds[0].Options["updelay"])
	require.Equal(t, "eth0 eth1", back.Bonds[0].Options["slaves"])
	require.Equal(t, -1, back.Bonds[0].Slaves[1].SpeedMbps)
	require.Nil(t, back.Bonds[0].AD)
	require.Equal(t, 1, back.Bonds[1].AD.ActiveAggregator.ID)
	require.Equal(t, "02:00:00:00:01:03", back.Bonds[1].Options["ad_partner_mac"])
}

func TestSelectBonds(t *testing.T) {
	r, missing := FromSnapshot(testSnapshot(), bond.Caller{}, "bond1", "bond9")
	require.Equal(t, []string{"bond9"}, missing)
	require.Len(t, r.Bonds, 1)
	require.Equal(t, "bond1", r.Bonds[0].Name)
	require.Equal(t, "", r.Bonds[0].Options["ad_partner_mac"], "hidden without CAP_NET_ADMIN, as in sysfs")

	r, missing = FromSnapshot(nil, bond.Caller{})
	require.Empty(t, missing)
	require.NotNil(t, r.Bonds, "an empty report lists no bonds, not null")
	out, _ := json.Marshal(r)
	require.Contains(t, string(out), `"bonds":[]`)
}

func TestTextGolden(t *testing.T) {
	r, _ := FromSnapshot(testSnapshot(), bond.Caller{NetAdmin: true})
	var buf bytes.Buffer
	require.NoError(t, WriteText(&buf, r))
	golden(t, "report.txt", buf.Bytes())
}

// A failing crash journal is shown after the bonds; a healthy one is not.
func TestTextJournal(t *testing.T) {
	r := Report{Journal: &Journal{Dir: "/run/bondingfs-state/x", OK: true}}
	var buf bytes.Buffer
	require.NoError(t, WriteText(&buf, r))
	require.Empty(t, buf.String())
	r.Journal = &Journal{Dir: "/run/bondingfs-state/x", Error: "state: no space left on device"}
	require.NoError(t, WriteText(&buf, r))
	require.Equal(t, "crash journal /run/bondingfs-state/x failing: state: no space left on device (writes to the mount are refused)\n", buf.String())
}

// TestMetricsScrape serves the collector over HTTP as serve --metrics does
// and parses the scrape with Prometheus' own text parser.
func TestMetricsScrape(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(NewCollector(testSnapshot)))
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)

	value := func(fam string, labels map[string]string) (float64, bool) {
		f := fams[fam]
		if f == nil {
			return 0, false
		}
	next:
		for _, m := range f.Metric {
			for _, l := range m.Label {
				if want, ok := labels[l.GetName()]; ok && want != l.GetValue() {
					continue next
				}
			}
			if m.Gauge != nil {
				return m.Gauge.GetValue(), true
			}
			return m.Counter.GetValue(), true
		}
		return 0, false
	}
	v, ok := value("bondingfs_bond_info", map[string]string{"bond": "bond0", "mode": "active-backup"})
	require.True(t, ok)
	require.Equal(t, 1.0, v)
	v, _ = value("bondingfs_bond_slaves", map[string]string{"bond": "bond0"})
	require.Equal(t, 2.0, v)
	v, ok = value("bondingfs_bond_active_slave", map[string]string{"bond": "bond0", "slave": "eth0"})
	require.True(t, ok)
	require.Equal(t, 1.0, v)
	v, _ = value("bondingfs_slave_mii_status", map[string]string{"bond": "bond0", "slave": "eth1", "status": "down"})
	require.Equal(t, 1.0, v)
	v, _ = value("bondingfs_slave_mii_status", map[string]string{"bond": "bond0", "slave": "eth1", "status": "up"})
	require.Equal(t, 0.0, v)
	v, _ = value("bondingfs_slave_link_failures_total", map[string]string{"bond": "bond0", "slave": "eth1"})
	require.Equal(t, 1.0, v)
	_, ok = value("bondingfs_slave_speed_mbps", map[string]string{"bond": "bond0", "slave": "eth1"})
	require.False(t, ok, "an unknown speed is not exported")
	v, _ = value("bondingfs_ad_port_state", map[string]string{"bond": "bond1", "slave": "eth2", "side": "partner"})
	require.Equal(t, 63.0, v)
	v, _ = value("bondingfs_ad_aggregator_ports", map[string]string{"bond": "bond1"})
	require.Equal(t, 1.0, v)
	require.Equal(t, "counter", strings.ToLower(fams["bondingfs_slave_link_failures_total"].GetType().String()))
	v, _ = value("bondingfs_bond_failovers_total", map[string]string{"bond": "bond0"})
	require.Equal(t, 3.0, v)
	v, _ = value("bondingfs_ad_lacpdus_total", map[string]string{"bond": "bond1", "slave": "eth2", "direction": "tx"})
	require.Equal(t, 13.0, v)
	v, _ = value("bondingfs_ad_markers_total", map[string]string{"bond": "bond1", "slave": "eth2", "direction": "tx", "type": "response"})
	require.Equal(t, 1.0, v)
	_, ok = value("bondingfs_slave_rx_frames_total", map[string]string{"bond": "bond0", "slave": "eth0"})
	require.True(t, ok)
}
