#!/usr/bin/env bash
# scripts/bench-lacp.sh — 802.3ad figures, as root: two bondingfs
# daemons back to back (two namespaces, two veth pairs, lacp_rate fast,
# miimon 100; integration/lacp_test.go TestLACPBackToBack). Prints
#   - the time from enslaving the second end to both links
#     Collecting_Distributing on both ends (goal ≤ 3 s, what two kernels take),
#   - iperf3 TCP across the LAG,
#   - the pings a 10 ms ping loses when the link carrying it is pulled
#     (goal ≤ 2).
# BENCH_LACP_RUNS (default 3) runs are made; each prints its RESULT lines.
set -eu
set -o pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${BENCH_LACP_RUNS:-3}
export PATH=$PATH:/usr/local/go/bin
[ "$(id -u)" -eq 0 ] || { echo "FAILED: needs root: sudo make bench" >&2; exit 1; }
printf '==> 802.3ad back to back (%s runs)\n' "$RUNS"
for i in $(seq "$RUNS"); do
    out=$(cd "$REPO" && go test -count=1 -run '^TestLACPBackToBack$' -v ./integration/ 2>&1) || {
        echo "$out" | tail -40; echo "FAILED: TestLACPBackToBack" >&2; exit 1; }
    echo "$out" | sed -n 's/.*RESULT lacp /run '"$i"': /p'
done
