#!/usr/bin/env bash
# scripts/bench-reaper.sh — how soon the reaper detaches the mount of a
# daemon killed with SIGKILL, with 81 and 1000 bonds (issue 19): the time from
# the kill until the mount is gone from mountinfo. It runs the integration
# test that measures it (TestReaperDetachesManyBonds, as root, in namespaces
# it creates and removes) and prints its figures; the target is 100 ms.
#
# Output: the lines on stdout, and BENCH_OUT/reaper.txt (default REPO/bench).
set -eu
set -o pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
GO=${GO:-go}
OUT=${BENCH_OUT:-$REPO/bench}
[ "$(id -u)" = 0 ] || { echo "bench-reaper.sh: needs root" >&2; exit 1; }
mkdir -p "$OUT"
cd "$REPO"
log=$(mktemp /tmp/bfsreaper.XXXXXX)
trap 'rm -f "$log"' EXIT
"$GO" test -count=1 -p 1 -v -run '^TestReaperDetachesManyBonds$' ./integration/ >"$log" 2>&1 || {
    tail -40 "$log" >&2
    exit 1
}
{
    echo "reaper: kill -9 to mount detached (target 100 ms)"
    sed -n 's/.*BENCH reaper-detach bonds=\([0-9]*\) ms=\([0-9.]*\).*/  \1 bonds: \2 ms/p' "$log" |
        while read -r line; do
            ms=${line##* bonds: }
            ms=${ms% ms}
            if awk -v m="$ms" 'BEGIN { exit !(m < 100) }'; then echo "  MET  $line"; else echo "  MISS $line"; fi
        done
} | tee "$OUT/reaper.txt"
