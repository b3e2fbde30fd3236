#!/usr/bin/env bash
# scripts/bench.sh — throughput through bondingfs compared with a direct veth,
# in one run, as root, inside two network namespaces it creates and removes.
# Topology (datapath.md §3):
#
#   namespace A (bfsbench-a-PID)                     namespace B (bfsbench-b-PID)
#   vA 198.51.100.1 ─────── direct veth ──────────── vB 198.51.100.2
#   bond0 192.0.2.1 (TAP, bondingfs --netns A)
#     ├─ eth0 ───────────── veth ─────────────────── p0 ─┐
#     └─ eth1 ───────────── veth ─────────────────── p1 ─┴─ br0 192.0.2.2
#
# Measured A→B with iperf3 (client in A, server in B): TCP for BENCH_TIME
# seconds (default 5) and 64-byte UDP (-u -l 64 -b 0), through
#   (a) the direct veth, (b) bond0 with one slave (eth0), (c) bond0 with two
#   slaves (eth0 + eth1), in BENCH_MODE (default balance-rr).
# Prints a table with ratios to the direct veth and the target
#   bond TCP ≥ 0.45 × direct veth with one slave.
set -eu
set -o pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BONDINGFS_BIN:-$REPO/bin/bondingfs}
T=${BENCH_TIME:-5}
MODE=${BENCH_MODE:-balance-rr}
TARGET=0.45
NSA=bfsbench-a-$$
NSB=bfsbench-b-$$
TMP=
DPID=
SPID=

say() { printf '==> %s\n' "$*"; }
die() { printf 'FAILED: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "needs root: sudo make bench"
for c in ip iperf3 awk; do command -v "$c" >/dev/null || die "$c not found (run .ci/run to install dependencies)"; done

is_mounted() { awk -v d="$1" '$5 == d { f = 1 } END { exit !f }' /proc/self/mountinfo; }
alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }

cleanup() {
    rc=$?
    set +e
    trap - EXIT INT TERM
    say "cleaning up"
    if alive "$SPID"; then kill "$SPID"; wait "$SPID" 2>/dev/null; fi
    if alive "$DPID"; then
        kill -TERM "$DPID"
        for _ in $(seq 100); do alive "$DPID" || break; sleep 0.1; done
        alive "$DPID" && kill -KILL "$DPID"
        wait "$DPID" 2>/dev/null
    fi
    [ -n "$TMP" ] && is_mounted "$TMP/mnt" && umount -l "$TMP/mnt"
    for ns in "$NSA" "$NSB"; do [ -e "/run/netns/$ns" ] && ip netns del "$ns"; done
    if [ -n "$TMP" ]; then
        [ $rc -ne 0 ] && [ -s "$TMP/bondingfs.out" ] && { echo "bondingfs output (last 20 lines):"; tail -n 20 "$TMP/bondingfs.out"; }
        rm -rf "$TMP"
    fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

[ -x "$BIN" ] || make -C "$REPO" build

TMP=$(mktemp -d /tmp/bfsbench.XXXXXX)
MNT=$TMP/mnt
mkdir -p "$MNT"
SYS=$MNT/sys/class/net

say "namespaces $NSA / $NSB, direct veth vA-vB, slaves eth0/eth1 to br0 in B"
ip netns add "$NSA"
ip netns add "$NSB"
for ns in "$NSA" "$NSB"; do
    ip -n "$ns" link set lo up
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 || true
done
ip -n "$NSA" link add vA type veth peer name vB netns "$NSB"
ip -n "$NSA" addr add 198.51.100.1/24 dev vA
ip -n "$NSB" addr add 198.51.100.2/24 dev vB
ip -n "$NSA" link set vA up
ip -n "$NSB" link set vB up
ip -n "$NSA" link add eth0 type veth peer name p0 netns "$NSB"
ip -n "$NSA" link add eth1 type veth peer name p1 netns "$NSB"
ip -n "$NSB" link add br0 type bridge
ip -n "$NSB" link set p0 master br0
ip -n "$NSB" link set p1 master br0
for d in p0 p1 br0; do ip -n "$NSB" link set "$d" up; done
ip -n "$NSB" addr add 192.0.2.2/24 dev br0

say "bondingfs serve --netns $NSA mode=$MODE miimon=100"
"$BIN" serve --root "$MNT" --netns "$NSA" --log "$TMP/kernel.log" "mode=$MODE" miimon=100 >"$TMP/bondingfs.out" 2>&1 &
DPID=$!
for _ in $(seq 150); do
    [ -e "$SYS/bonding_masters" ] && break
    alive "$DPID" || { DPID=; die "bondingfs exited before the mount was ready"; }
    sleep 0.1
done
[ -e "$SYS/bonding_masters" ] || die "mount not ready within 15 s"
echo +eth0 >"$SYS/bond0/bonding/slaves" || die "echo +eth0 > slaves failed"
ip -n "$NSA" link set bond0 up
ip -n "$NSA" addr add 192.0.2.1/24 dev bond0

say "iperf3 server in $NSB"
ip netns exec "$NSB" iperf3 -s >"$TMP/iperf3-server.out" 2>&1 &
SPID=$!
for _ in $(seq 50); do
    ip netns exec "$NSB" ss -Hltn 2>/dev/null | grep -q ':5201 ' && break
    sleep 0.1
done

reach() { # reach ADDR: wait until ADDR answers ping
    for _ in $(seq 10); do ip netns exec "$NSA" ping -c 1 -W 1 "$1" >/dev/null 2>&1 && return 0; done
    die "$1 not reachable from $NSA"
}

# measure NAME ADDR: sets TCP_<NAME> (Gbit/s, receiver) and UDP_<NAME> (delivered kpps)
measure() {
    local name=$1 addr=$2 out tcp udp
    reach "$addr"
    out=$TMP/tcp-$name.txt
    ip netns exec "$NSA" iperf3 -c "$addr" -t "$T" -f m >"$out" 2>&1 || { cat "$out"; die "iperf3 TCP to $addr failed"; }
    tcp=$(awk '/receiver/ { for (i = 1; i < NF; i++) if ($(i + 1) == "Mbits/sec") v = $i / 1000 } END { if (v == "") exit 1; printf "%.2f", v }' "$out") ||
        { cat "$out"; die "cannot parse iperf3 TCP output"; }
    out=$TMP/udp-$name.txt
    ip netns exec "$NSA" iperf3 -c "$addr" -t "$T" -u -l 64 -b 0 -f m >"$out" 2>&1 || { cat "$out"; die "iperf3 UDP to $addr failed"; }
    # receiver line: [ ID] 0.00-5.00 sec ... Mbits/sec  jitter ms  lost/total (pct)  receiver
    udp=$(awk '/receiver/ {
            split($3, iv, "-"); secs = iv[2] - iv[1]
            for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+\/[0-9]+$/) { split($i, lt, "/"); got = lt[2] - lt[1] }
          } END { if (secs <= 0 || got == "") exit 1; printf "%.0f", got / secs / 1000 }' "$out") ||
        { cat "$out"; die "cannot parse iperf3 UDP output"; }
    printf -v "TCP_$name" '%s' "$tcp"
    printf -v "UDP_$name" '%s' "$udp"
    printf '    %-22s TCP %8s Gbit/s   UDP 64 B %6s kpps delivered\n' "$name" "$tcp" "$udp"
}

say "measuring (TCP ${T}s, UDP 64 B ${T}s per configuration, A→B)"
measure direct 198.51.100.2
measure bond1 192.0.2.2
echo +eth1 >"$SYS/bond0/bonding/slaves" || die "echo +eth1 > slaves failed"
sleep 1
measure bond2 192.0.2.2

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
echo
echo "bondingfs benchmark: iperf3 A→B, TCP ${T}s, UDP -l 64 -b 0 ${T}s, bond mode $MODE, $(nproc) CPUs"
printf '%-28s %12s %8s %16s %8s\n' "path" "TCP Gbit/s" "ratio" "UDP64 kpps" "ratio"
printf '%-28s %12s %8s %16s %8s\n' "direct veth" "$TCP_direct" "1.00" "$UDP_direct" "1.00"
printf '%-28s %12s %8s %16s %8s\n' "bond0, 1 slave" "$TCP_bond1" "$(ratio "$TCP_bond1" "$TCP_direct")" "$UDP_bond1" "$(ratio "$UDP_bond1" "$UDP_direct")"
printf '%-28s %12s %8s %16s %8s\n' "bond0, 2 slaves ($MODE)" "$TCP_bond2" "$(ratio "$TCP_bond2" "$TCP_direct")" "$UDP_bond2" "$(ratio "$UDP_bond2" "$UDP_direct")"
r1=$(ratio "$TCP_bond1" "$TCP_direct")
if awk -v r="$r1" -v t="$TARGET" 'BEGIN { exit !(r >= t) }'; then met=MET; else met="NOT MET"; fi
echo "target: bond TCP ≥ $TARGET × direct veth with one slave: $r1 → $met"
