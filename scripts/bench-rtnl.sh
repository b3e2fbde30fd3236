#!/usr/bin/env bash
# scripts/bench-rtnl.sh — the cost of the rtnetlink supervisor of
# `bondingfs exec`, as root, in a network namespace it creates and removes:
# 1000 links (500 veth pairs) and an 802.3ad bond of two more ports, then
#   dump   `ip -d link show` of all of them, BENCH_DUMPS times (default 20)
#   set    `ip link set vN up`, one ip process each, BENCH_SETS times
#          (default 200)
# supervised (under exec: every dump reply passes the supervisor, the bond's
# and its ports' are rewritten) and unsupervised (ip netns exec, the same
# namespace and bond). Prints ms per dump, µs per `ip link set` and the
# ratios (target: within 2×).
set -eu
set -o pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BONDINGFS_BIN:-$REPO/bin/bondingfs}
DUMPS=${BENCH_DUMPS:-20}
SETS=${BENCH_SETS:-200}
PAIRS=500
NS=bfsrtnl-$$
TMP=$(mktemp -d /tmp/bench-rtnl.XXXXXX)
EPID=

die() { printf 'FAILED: %s\n' "$*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root: sudo make bench"

cleanup() {
    rc=$?
    set +e
    trap - EXIT INT TERM
    touch "$TMP/finish"
    if [ -n "$EPID" ] && kill -0 "$EPID" 2>/dev/null; then
        for _ in $(seq 100); do kill -0 "$EPID" 2>/dev/null || break; sleep 0.1; done
        kill -TERM "$EPID" 2>/dev/null; wait "$EPID" 2>/dev/null
    fi
    [ -e "/run/netns/$NS" ] && ip netns del "$NS"
    [ $rc -ne 0 ] && [ -s "$TMP/exec.out" ] && tail -n 20 "$TMP/exec.out"
    rm -rf "$TMP"
    exit $rc
}
trap cleanup EXIT INT TERM

ip netns add "$NS"
{
    for i in $(seq 0 $((PAIRS - 1))); do echo "link add v$i type veth peer name w$i"; done
    echo "link add eth0 type veth peer name p0"
    echo "link add eth1 type veth peer name p1"
} >"$TMP/batch"
ip -n "$NS" -batch "$TMP/batch"

# one measurement: $1 = label; prints "label dump_ms set_us"
measure() {
    local t0 t1 t2 i
    t0=$(date +%s%N)
    for i in $(seq "$DUMPS"); do ip -d link show >/dev/null; done
    t1=$(date +%s%N)
    for i in $(seq 0 $((SETS - 1))); do ip link set "v$((i % PAIRS))" up; done
    t2=$(date +%s%N)
    echo "$1 $(( (t1 - t0) / DUMPS / 1000000 )) $(( (t2 - t1) / SETS / 1000 ))"
}
export -f measure
export DUMPS PAIRS SETS

"$BIN" exec --netns "$NS" --root "$TMP/mnt" --log "$TMP/klog" max_bonds=0 -- bash -c "
set -e
ip link add bond0 type bond mode 802.3ad miimon 100 lacp_rate fast
ip link set eth0 master bond0
ip link set eth1 master bond0
ip link set bond0 up
[ \$(ip -o link show | wc -l) -ge $((2 * PAIRS + 3)) ]
ip -d link show eth0 | grep -q 'master bond0'
measure supervised > $TMP/sup
for i in \$(seq 0 $((PAIRS - 1))); do echo link set v\$i down; done > $TMP/down
ip -batch $TMP/down
touch $TMP/ready
while [ ! -e $TMP/finish ]; do sleep 0.1; done
" >"$TMP/exec.out" 2>&1 &
EPID=$!
for _ in $(seq 6000); do [ -e "$TMP/ready" ] && break; kill -0 "$EPID" 2>/dev/null || die "exec ended"; sleep 0.1; done
[ -e "$TMP/ready" ] || die "supervised run did not finish"
ip netns exec "$NS" bash -c 'measure unsupervised' >"$TMP/unsup"

read -r _ sd ss <"$TMP/sup"
read -r _ ud us <"$TMP/unsup"
printf 'rtnetlink supervisor (%d links + bond0 with 2 ports)\n' $((2 * PAIRS))
printf '%-28s %12s %12s %8s\n' "" supervised unsupervised ratio
printf '%-28s %12s %12s %8s\n' "ip -d link show (ms/dump)" "$sd" "$ud" "$(awk -v a="$sd" -v b="$ud" 'BEGIN{printf "%.2f", (b>0)?a/b:0}')"
printf '%-28s %12s %12s %8s\n' "ip link set … up (µs/call)" "$ss" "$us" "$(awk -v a="$ss" -v b="$us" 'BEGIN{printf "%.2f", (b>0)?a/b:0}')"
