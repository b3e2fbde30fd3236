#!/usr/bin/env bash
# scripts/bench-failover.sh — active-backup failover with the MII monitor
# (miimon=100) and with the ARP monitor (arp_interval=100, arp_missed_max=2,
# arp_ip_target=192.0.2.2), side by side, as root, inside two network
# namespaces it creates and removes (datapath.md §3 topology: bond0 over
# eth0/eth1 in A, their peers p0/p1 in bridge br0 with 192.0.2.2 in B; only
# br0 answers ARP for its address, arp_ignore=1; no IPv6 in B).
#
# Two faults on the active slave's path, each while a 10 ms ping runs from A
# to 192.0.2.2 (BENCH_PINGS pings, default 400):
#   carrier  the active slave's peer port goes down (the slave loses carrier)
#   path     the peer port leaves the bridge (carrier stays up: only the ARP
#            monitor can see it)
# Prints, per monitor and fault, the time from the fault until active_slave
# changes (polled every 5 ms; "—" when it did not within 3 s) and the pings
# lost.
set -eu
set -o pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BONDINGFS_BIN:-$REPO/bin/bondingfs}
PINGS=${BENCH_PINGS:-400}
NSA=bfsfail-a-$$
NSB=bfsfail-b-$$
TMP=
DPID=

say() { printf '==> %s\n' "$*"; }
die() { printf 'FAILED: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "needs root: sudo make bench"
for c in ip ping awk date; do command -v "$c" >/dev/null || die "$c not found"; done

is_mounted() { awk -v d="$1" '$5 == d { f = 1 } END { exit !f }' /proc/self/mountinfo; }
alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }

stop_daemon() {
    if alive "$DPID"; then
        kill -TERM "$DPID"
        for _ in $(seq 100); do alive "$DPID" || break; sleep 0.1; done
        alive "$DPID" && kill -KILL "$DPID"
        wait "$DPID" 2>/dev/null || true
    fi
    DPID=
    [ -n "$TMP" ] && is_mounted "$TMP/mnt" && umount -l "$TMP/mnt"
    for ns in "$NSA" "$NSB"; do [ -e "/run/netns/$ns" ] && ip netns del "$ns"; done
    return 0
}

cleanup() {
    rc=$?
    set +e
    trap - EXIT INT TERM
    stop_daemon
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
TMP=$(mktemp -d /tmp/bfsfail.XXXXXX)
SYS=$TMP/mnt/sys/class/net

# setup MONITOR: namespaces, bondingfs, bond0 (active-backup) with MONITOR's options, up, pinging
setup() {
    ip netns add "$NSA"
    ip netns add "$NSB"
    for ns in "$NSA" "$NSB"; do ip -n "$ns" link set lo up; done
    ip netns exec "$NSB" sysctl -qw net.ipv4.conf.all.arp_ignore=1 \
        net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    ip -n "$NSA" link add eth0 type veth peer name p0 netns "$NSB"
    ip -n "$NSA" link add eth1 type veth peer name p1 netns "$NSB"
    ip -n "$NSB" link add br0 type bridge forward_delay 0 stp_state 0
    for p in p0 p1; do ip -n "$NSB" link set "$p" master br0; ip -n "$NSB" link set "$p" up; done
    ip -n "$NSB" link set br0 up
    ip -n "$NSB" addr add 192.0.2.2/24 dev br0
    mkdir -p "$TMP/mnt"
    "$BIN" serve --root "$TMP/mnt" --netns "$NSA" --log "$TMP/kernel.log" >"$TMP/bondingfs.out" 2>&1 &
    DPID=$!
    for _ in $(seq 150); do
        [ -e "$SYS/bonding_masters" ] && break
        alive "$DPID" || { DPID=; die "bondingfs exited before the mount was ready"; }
        sleep 0.1
    done
    local B=$SYS/bond0/bonding
    echo active-backup >"$B/mode"
    case $1 in
    miimon) echo 100 >"$B/miimon" ;;
    arp)
        echo 100 >"$B/arp_interval"
        echo +192.0.2.2 >"$B/arp_ip_target"
        echo 2 >"$B/arp_missed_max"
        ;;
    esac
    ip -n "$NSA" link set bond0 up
    ip -n "$NSA" addr add 192.0.2.1/24 dev bond0
    echo +eth0 >"$B/slaves"
    echo +eth1 >"$B/slaves"
    for _ in $(seq 50); do ip netns exec "$NSA" ping -c 1 -W 1 192.0.2.2 >/dev/null 2>&1 && break; sleep 0.1; done
    sleep 2
}

ms() { echo $(($(date +%s%N) / 1000000)); }

# run MONITOR FAULT: prints "MONITOR FAULT TIME_MS LOST SENT"
run() {
    setup "$1"
    local active peer t0 t1 took out sent recv
    active=$(cat "$SYS/bond0/bonding/active_slave")
    peer=p${active#eth}
    ip netns exec "$NSA" ping -n -i 0.01 -c "$PINGS" -W 1 192.0.2.2 >"$TMP/ping.out" 2>&1 &
    local ppid=$!
    sleep 1
    case $2 in
    carrier) ip -n "$NSB" link set "$peer" down ;;
    path) ip -n "$NSB" link set "$peer" nomaster ;;
    esac
    t0=$(ms)
    took="—"
    while [ $(($(ms) - t0)) -lt 3000 ]; do
        if [ "$(cat "$SYS/bond0/bonding/active_slave")" != "$active" ]; then
            t1=$(ms)
            took=$((t1 - t0))
            break
        fi
        sleep 0.005
    done
    wait "$ppid" || true
    out=$(cat "$TMP/ping.out")
    sent=$(echo "$out" | awk '/packets transmitted/ { print $1 }')
    recv=$(echo "$out" | awk '/packets transmitted/ { print $4 }')
    stop_daemon
    printf '%s %s %s %s %s\n' "$1" "$2" "$took" "$((sent - recv))" "$sent"
}

say "active-backup failover, 10 ms ping, $PINGS pings per run"
results=()
for mon in miimon arp; do
    for fault in carrier path; do
        say "$mon, fault: $fault"
        results+=("$(run "$mon" "$fault")")
    done
done
echo
echo "bondingfs failover: active-backup, two slaves, 10 ms ping A→B, $(nproc) CPUs"
printf '%-46s %-34s %14s %12s\n' "monitor" "fault" "failover ms" "pings lost"
for r in "${results[@]}"; do
    set -- $r
    case $1 in
    miimon) mon="miimon=100" ;;
    arp) mon="arp_interval=100 arp_missed_max=2" ;;
    esac
    case $2 in
    carrier) f="peer port down (carrier lost)" ;;
    path) f="peer port leaves bridge (carrier up)" ;;
    esac
    printf '%-46s %-34s %14s %12s\n' "$mon" "$f" "$3" "$4 of $5"
done
