package integration

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"bondingfs/internal/nettest"
)

// adRepeatScenario is the oracle scenario of issue 19 (item 17): three
// 802.3ad bonds in one namespace, bond0's three ports facing a partner bond
// of one port and one of two, then ad_actor_sys_prio and ad_user_port_key
// changes and two ports enslaved again. The kernel puts every port in the
// same aggregator on every run (make-golden.sh recorded it twice, identical).
const adRepeatScenario = "60-8023ad-agg-ids"

// TestOracleADRepeat replays adRepeatScenario BONDINGFS_ORACLE_REPEAT times
// (2 by default, which `make test` runs; `make test-ad-repeat` runs 10).
// Every run must match the kernel's golden (core, ip and klog records, as
// TestOracle checks them), and every run's sysfs/procfs and ip records must
// be identical to the first run's: the aggregator each port lands in is a
// function of the slave order, the LACPDUs and the ticks, never of
// goroutine timing. About 80 s per run.
func TestOracleADRepeat(t *testing.T) {
	nettest.SkipUnlessRoot(t)
	needTools(t, "ip", "busybox")
	bin := bondingfsBin(t)
	od := oracleDir(t)
	n := 2
	if s := os.Getenv("BONDINGFS_ORACLE_REPEAT"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			t.Fatalf("BONDINGFS_ORACLE_REPEAT=%q: want a positive number", s)
		}
		n = v
	}
	sc := oracleScenario{name: adRepeatScenario, issue: 19, extra: true}
	var first []string
	for i := 1; i <= n; i++ {
		dir := t.TempDir()
		t.Setenv("BONDINGFS_ORACLE_ARTIFACTS", dir) // replayOnce copies the transcript there
		res, fail, _ := replayOnce(t, bin, od, sc)
		if fail != "" {
			t.Fatalf("run %d/%d differs from the kernel:\n%s", i, n, fail)
		}
		b, err := os.ReadFile(filepath.Join(dir, sc.name+".transcript.txt"))
		if err != nil {
			t.Fatal(err)
		}
		recs := stateRecords(string(b))
		if i == 1 {
			first = recs
		} else if k, ok := firstDifference(first, recs); !ok {
			t.Fatalf("run %d/%d differs from run 1 at record %d:\n  run 1: %s\n  run %d: %s",
				i, n, k+1, at(first, k), i, at(recs, k))
		}
		t.Logf("run %d/%d: %s", i, n, res)
	}
}

// stateRecords is a transcript without its klog: records (their order within
// a step may vary; TestOracle compares them per step as a multiset).
func stateRecords(transcript string) []string {
	var out []string
	for _, l := range strings.Split(transcript, "\n") {
		if !strings.HasPrefix(l, "klog: ") {
			out = append(out, l)
		}
	}
	return out
}

// firstDifference returns the index of the first record where a and b
// differ, and false; true when they are identical.
func firstDifference(a, b []string) (int, bool) {
	for i := 0; i < len(a) || i < len(b); i++ {
		if i >= len(a) || i >= len(b) || a[i] != b[i] {
			return i, false
		}
	}
	return 0, true
}

func at(recs []string, i int) string {
	if i < len(recs) {
		return recs[i]
	}
	return "(end of transcript)"
}
