#!/usr/bin/env bash
# scripts/bench-lb.sh — balance-tlb and balance-alb with real traffic, as
# root, in namespaces the integration tests create and remove
# (integration/alb_test.go): bond0 with eth0/eth1 on a bridge and four
# client namespaces. Prints
#   - balance-tlb: each slave's share of 4 flows out of the bond (frames
#     counted on the bridge ports), and the active slave's share of the
#     traffic in;
#   - balance-alb: each slave's share of the traffic from 4 clients;
#   - both: pings lost (4 clients, 10 ms interval) when the active slave's
#     port goes down.
# The goal for the shares is within 60/40; the tests fail otherwise.
set -eu
set -o pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
GO=${GO:-go}
[ "$(id -u)" -eq 0 ] || { echo "FAILED: needs root: sudo make bench" >&2; exit 1; }
out=$(mktemp /tmp/bfsbench-lb.XXXXXX)
trap 'rm -f "$out"' EXIT
cd "$REPO"
echo "==> per-frame cost of the balance-tlb/alb transmit path (go test -bench Xmit ./modes/alb)"
"$GO" test -run '^$' -bench Xmit -benchmem ./modes/alb | sed -n 's/^Benchmark/  Benchmark/p'
rc=0
"$GO" test -count=1 -p 1 -run '^(TestTLBTraffic|TestALBTraffic)$' -v ./integration/ >"$out" 2>&1 || rc=$?
echo "==> balance-tlb / balance-alb (4 flows, 2 slaves)"
sed -n 's/^.*RESULT /  /p' "$out"
if [ $rc -ne 0 ]; then
    echo "FAILED (go test exit $rc):" >&2
    grep -E -- '--- FAIL|alb_test.go' "$out" | tail -n 30 >&2
fi
exit $rc
