package integration

// Crash safety: the daemon's crash journal, the reaper's restore
// of the slaves, and a restart that brings every bond, option and slave
// back with the same MACs.

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"bondingfs/internal/nettest"
)

// kill9 SIGKILLs the daemon only (its reaper child lives on) and waits
// until the mount is gone.
func (d *daemon) kill9(t *testing.T) {
	t.Helper()
	_ = d.cmd.Process.Kill()
	<-d.done
	d.stopped = true
}

// reaperPid returns the pid of the daemon's reaper child (0 if none).
func (d *daemon) reaperPid(t *testing.T) int {
	t.Helper()
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(st)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) > 2 && f[1] == strconv.Itoa(d.cmd.Process.Pid) {
			cmd, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
			if strings.Contains(string(cmd), "__reaper") {
				return pid
			}
		}
	}
	return 0
}

func TestCrashRestore(t *testing.T) {
	nettest.SkipUnlessRoot(t)
	needTools(t, "ip", "ping", "nft")
	stateDir := filepath.Join(t.TempDir(), "state")
	tp := newTopo(t, 2, "--state", stateDir)
	tp.A.Run(t, "ip", "link", "set", "eth1", "mtu", "1400")
	before := map[string]linkState{"eth0": slaveState(t, tp.A, "eth0"), "eth1": slaveState(t, tp.A, "eth1")}
	tp.bond(t, "mode", "active-backup", "miimon", "100", "updelay", "200", "primary", "eth1",
		"slaves", "+eth0", "slaves", "+eth1")
	tp.up(t)
	opts := map[string]string{}
	for _, o := range []string{"mode", "miimon", "updelay", "primary", "slaves", "active_slave"} {
		opts[o] = readTrim(t, filepath.Join(tp.d.sys, "bond0/bonding", o))
	}
	macs := map[string]string{}
	for _, dev := range []string{"bond0", "eth0", "eth1"} {
		macs[dev] = slaveState(t, tp.A, dev).mac
	}
	t.Logf("before the crash: %v %v", opts, macs)

	tp.d.kill9(t)
	// the reaper outlives the daemon: the slaves get back what they had
	deadline := time.Now().Add(5 * time.Second)
	for {
		ok := true
		for dev, want := range before {
			if got := slaveState(t, tp.A, dev); got != want {
				ok = false
				if time.Now().After(deadline) {
					t.Errorf("%s after the daemon was killed: %+v, want %+v (the reaper restores it)", dev, got, want)
				}
			}
		}
		if ok || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if out, _ := tp.A.Exec("nft", "list", "ruleset"); strings.Contains(out, "bondingfs") {
		t.Errorf("isolation left after the reaper ran:\n%s", out)
	}
	var js map[string]any
	b, err := os.ReadFile(filepath.Join(stateDir, "state.json"))
	if err != nil || json.Unmarshal(b, &js) != nil || js["clean"] != false {
		t.Fatalf("journal after SIGKILL: %v\n%s", err, b)
	}

	// a restart restores everything before the mount appears
	start := time.Now()
	d := startDaemon(t, tp.A.Name(), "--state", stateDir)
	mounted := time.Since(start)
	tp.d = d
	// every option at once; the active slave within 1 s (a slave restored
	// with updelay becomes active when its link is up again, as after an
	// enslave)
	for o, want := range opts {
		got := readTrim(t, filepath.Join(d.sys, "bond0/bonding", o))
		for o == "active_slave" && got != want && time.Since(start) < time.Second {
			time.Sleep(20 * time.Millisecond)
			got = readTrim(t, filepath.Join(d.sys, "bond0/bonding", o))
		}
		if got != want {
			t.Errorf("after the restart %s = %q, want %q (%v after the start)", o, got, want, time.Since(start))
		}
	}
	for dev, want := range macs {
		if got := slaveState(t, tp.A, dev).mac; got != want {
			t.Errorf("after the restart %s has MAC %s, want %s", dev, got, want)
		}
	}
	tp.waitPing(t, 5*time.Second)
	flowing := time.Since(start)
	t.Logf("restart: mount ready after %v, ping through bond0 after %v (mount ready includes the restore)", mounted, flowing)
	if mounted > time.Second {
		t.Errorf("restore took %v, want < 1 s", mounted)
	}
	klog, _ := os.ReadFile(d.klog)
	t.Logf("log of the restart:\n%s", tail(string(klog), 20))

	// a clean stop leaves a clean journal: the next start restores nothing
	if err := d.stop(); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(filepath.Join(stateDir, "state.json"))
	if err := json.Unmarshal(b, &js); err != nil || js["clean"] != true {
		t.Errorf("journal after SIGTERM is not clean:\n%s", b)
	}
	for dev, want := range before {
		if got := slaveState(t, tp.A, dev); got != want {
			t.Errorf("%s after SIGTERM: %+v, want %+v", dev, got, want)
		}
	}
	d2 := startDaemon(t, tp.A.Name(), "--state", stateDir)
	if got := readTrim(t, filepath.Join(d2.sys, "bond0/bonding/slaves")); got != "" {
		t.Errorf("after a clean stop the next daemon has slaves %q", got)
	}
	tp.d = d2
}

func TestCrashDaemonAndReaperKilled(t *testing.T) {
	nettest.SkipUnlessRoot(t)
	needTools(t, "ip", "ping")
	stateDir := filepath.Join(t.TempDir(), "state")
	tp := newTopo(t, 1, "--state", stateDir)
	tp.bond(t, "mode", "active-backup", "miimon", "100", "slaves", "+eth0")
	tp.up(t)
	mac := slaveState(t, tp.A, "bond0").mac
	reaper := tp.d.reaperPid(t)
	if reaper == 0 {
		t.Fatal("no reaper child found")
	}
	// systemd kills the whole cgroup: both at once
	_ = syscall.Kill(reaper, syscall.SIGKILL)
	tp.d.kill9(t)
	time.Sleep(100 * time.Millisecond)
	var st syscall.Statfs_t
	if err := syscall.Statfs(tp.d.root, &st); err == nil {
		t.Logf("mount at %s was removed anyway", tp.d.root)
	}
	root := tp.d.root
	d := startDaemonAt(t, tp.A.Name(), root, "--state", stateDir)
	tp.d = d
	if got := readTrim(t, filepath.Join(d.sys, "bond0/bonding/slaves")); got != "eth0" {
		t.Errorf("slaves after the restart = %q, want eth0", got)
	}
	if got := slaveState(t, tp.A, "bond0").mac; got != mac {
		t.Errorf("bond0 MAC after the restart %s, want %s", got, mac)
	}
	tp.waitPing(t, 5*time.Second)
}

func TestStatusAndMetrics(t *testing.T) {
	nettest.SkipUnlessRoot(t)
	needTools(t, "ip", "ping")
	ctl := filepath.Join(t.TempDir(), "ctl")
	port := freePort(t)
	tp := newTopo(t, 2, "--ctl", ctl, "--metrics", "127.0.0.1:"+port)
	tp.bond(t, "mode", "active-backup", "miimon", "100", "slaves", "+eth0", "slaves", "+eth1")
	tp.up(t)
	bin := bondingfsBin(t)
	out, err := exec.Command(bin, "status", "--json", "--ctl", ctl).Output()
	if err != nil {
		t.Fatalf("status --json: %v", err)
	}
	var rep struct {
		Schema int `json:"schema"`
		Bonds  []struct {
			Name        string `json:"name"`
			Mode        string `json:"mode"`
			ActiveSlave string `json:"active_slave"`
			Slaves      []struct {
				Name      string `json:"name"`
				MIIStatus string `json:"mii_status"`
			} `json:"slaves"`
		} `json:"bonds"`
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("status --json is not JSON: %v\n%s", err, out)
	}
	if rep.Schema != 1 || len(rep.Bonds) != 1 || rep.Bonds[0].Mode != "active-backup" || len(rep.Bonds[0].Slaves) != 2 || rep.Bonds[0].ActiveSlave == "" {
		t.Errorf("status --json: %+v", rep)
	}
	text, err := exec.Command(bin, "status", "--ctl", ctl, "bond0").CombinedOutput()
	if err != nil || !strings.Contains(string(text), "bond0") || !strings.Contains(string(text), "eth1") {
		t.Errorf("status bond0: %v\n%s", err, text)
	}
	if out, err := exec.Command(bin, "status", "--ctl", ctl, "bond9").CombinedOutput(); err == nil {
		t.Errorf("status bond9 succeeded:\n%s", out)
	}
	body := scrape(t, "http://127.0.0.1:"+port+"/metrics")
	for _, want := range []string{
		`bondingfs_bond_info{bond="bond0",mode="active-backup"} 1`,
		`bondingfs_bond_slaves{bond="bond0"} 2`,
		`bondingfs_slave_mii_status{bond="bond0",slave="eth0",status="up"} 1`,
		`bondingfs_control_loop_run_seconds_count`,
		`bondingfs_bond_failovers_total{bond="bond0"} 0`,
		`bondingfs_slave_rx_dropped_total{bond="bond0",slave="eth1"}`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	fams := checkMetricsText(t, body)
	// the pings went out and came back through the active slave eth0
	for _, name := range []string{"bondingfs_slave_rx_frames_total", "bondingfs_slave_rx_bytes_total", "bondingfs_slave_tx_frames_total"} {
		if v := metricValue(fams, name, "eth0"); v <= 0 {
			t.Errorf("%s{slave=eth0} = %v after pings, want > 0", name, v)
		}
	}
}

// metricValue returns the value of the family's sample with label
// slave=slave (-1 when there is none).
func metricValue(fams map[string]*dto.MetricFamily, name, slave string) float64 {
	f := fams[name]
	if f == nil {
		return -1
	}
	for _, m := range f.GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "slave" && l.GetValue() == slave {
				if c := m.GetCounter(); c != nil {
					return c.GetValue()
				}
				return m.GetGauge().GetValue()
			}
		}
	}
	return -1
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("scrape %s: %v %s", url, err, resp.Status)
	}
	return string(b)
}

// checkMetricsText parses a scrape with Prometheus' own text parser.
func checkMetricsText(t *testing.T, body string) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("metrics do not parse: %v", err)
	}
	if fams["bondingfs_control_loop_wait_seconds"] == nil {
		t.Errorf("no control-loop wait histogram")
	}
	return fams
}
