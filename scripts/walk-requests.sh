#!/usr/bin/env bash
# scripts/walk-requests.sh — the FUSE requests one pass of
# scripts/bench-walk.sh costs, by opcode, as root: the count that tells a
# change to the path walks apart from the machine's noise
# (docs/benchmarks.md, Path walks).
#
# Namespace bfsreq-PID holds lo and eth0, eth1 (veths whose peers p0, p1
# stay in it); `bondingfs serve --root DIR --fuse-debug` (mode
# active-backup, miimon 100) runs in a private mount namespace, bond0
# enslaves eth0 and eth1, and the pass (`ls -la DIR/sys/class/net/*/` and
# one `stat` of every entry of every device and of its statistics/) runs
# twice in the network namespace; the second pass's requests are counted
# (the first fills the kernel's caches). The walk resolves the class/net
# links inside DIR, so it takes the requests of the real paths.
#
# Output: one line per opcode ("count OPCODE"), then "all: N".
set -eu
set -o pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BONDINGFS_BIN:-$REPO/bin/bondingfs}
NS=bfsreq-$$
TMP=
PID=

die() { printf 'FAILED: %s\n' "$*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root"
[ -x "$BIN" ] || make -C "$REPO" build

cleanup() {
    rc=$?
    set +e
    if [ -n "$PID" ]; then kill "$PID"; wait "$PID"; fi
    [ -e "/run/netns/$NS" ] && ip netns del "$NS"
    [ -n "$TMP" ] && rm -rf "$TMP"
    exit $rc
}
trap cleanup EXIT
TMP=$(mktemp -d /tmp/bfsreq.XXXXXX)
mkdir "$TMP/mnt"

ip netns add "$NS"
ip -n "$NS" link set lo up
for i in 0 1; do
    ip -n "$NS" link add "eth$i" type veth peer name "p$i"
    ip -n "$NS" link set "p$i" up
done

unshare -m --propagation private "$BIN" serve --root "$TMP/mnt" --netns "$NS" --log "$TMP/kernel.log" \
    --ctl "$TMP/ctl" --state none --fuse-debug mode=active-backup miimon=100 2>"$TMP/debug.log" &
PID=$!
M="nsenter -t $PID -m"
for _ in $(seq 100); do
    $M test -e "$TMP/mnt/sys/class/net/bonding_masters" 2>/dev/null && break
    sleep 0.1
done
$M test -e "$TMP/mnt/sys/class/net/bonding_masters" || die "the daemon did not mount $TMP/mnt"
S=$TMP/mnt/sys/class/net
$M sh -c "echo +eth0 > $S/bond0/bonding/slaves && echo +eth1 > $S/bond0/bonding/slaves" || die "enslave"
PASS="ls -la $S/*/ > /dev/null; stat $S/*/* $S/*/statistics/* > /dev/null"
$M ip netns exec "$NS" bash -c "$PASS"
sleep 0.5 # the asynchronous requests of the first pass (RELEASEDIR, FORGET)
n0=$(wc -l < "$TMP/debug.log")
$M ip netns exec "$NS" bash -c "$PASS"
sleep 0.5
tail -n +$((n0 + 1)) "$TMP/debug.log" | grep -o 'rx [0-9]*: [A-Z_]*' | awk '{ print $3 }' | sort | uniq -c | sort -rn
echo "all: $(tail -n +$((n0 + 1)) "$TMP/debug.log" | grep -c 'rx [0-9]*:')"
