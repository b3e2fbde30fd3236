#!/usr/bin/env bash
# scripts/demo.sh — bondingfs end to end, as root, entirely inside two network
# namespaces it creates (and removes again, whatever happens):
#
#   namespace A (bfsdemo-a-PID)                 namespace B (bfsdemo-b-PID)
#   bond0 192.0.2.1/24 (TAP, bondingfs engine)
#     ├─ eth0 ───────── veth ───────────────────── p0 ─┐
#     └─ eth1 ───────── veth ───────────────────── p1 ─┴─ br0 192.0.2.2/24
#
# bondingfs serves its mount in a temporary directory; bond0 is configured only
# by `echo … > …/bonding/…`, as bonding.txt §3.4 does.  The active slave's peer
# is then taken down while a 10 ms ping runs, and the failover is shown.
# Exit status: 0 if every step worked.
set -eu
set -o pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BONDINGFS_BIN:-$REPO/bin/bondingfs}
NSA=bfsdemo-a-$$
NSB=bfsdemo-b-$$
TMP=
DPID=
PINGPID=

say() { printf '\n==> %s\n' "$*"; }
info() { printf '    %s\n' "$*"; }
die() { printf '\nFAILED: %s\n' "$*" >&2; exit 1; }
show() { sed 's/^/    | /' "$@"; }

[ "$(id -u)" -eq 0 ] || die "the demo needs root (network namespaces, TAP, FUSE): sudo make demo"
for c in ip ping; do command -v "$c" >/dev/null || die "$c not found (apt-get install iproute2 iputils-ping, or run .ci/run)"; done

is_mounted() { # is_mounted DIR: DIR is a mount point in our mount namespace
    awk -v d="$1" '$5 == d { found = 1 } END { exit !found }' /proc/self/mountinfo
}

cleanup() {
    rc=$?
    set +e
    trap - EXIT INT TERM
    printf '\n==> cleaning up\n'
    if [ -n "$PINGPID" ] && kill -0 "$PINGPID" 2>/dev/null; then kill "$PINGPID"; wait "$PINGPID" 2>/dev/null; fi
    if [ -n "$DPID" ] && kill -0 "$DPID" 2>/dev/null; then
        info "stopping bondingfs (pid $DPID)"
        kill -TERM "$DPID"
        for _ in $(seq 100); do kill -0 "$DPID" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$DPID" 2>/dev/null; then info "bondingfs did not stop in 10 s: SIGKILL"; kill -KILL "$DPID"; fi
        wait "$DPID" 2>/dev/null
    fi
    if [ -n "$TMP" ] && is_mounted "$TMP/mnt"; then
        info "mount still present: lazy unmount"
        umount -l "$TMP/mnt"
    fi
    for ns in "$NSA" "$NSB"; do
        if [ -e "/run/netns/$ns" ]; then ip netns del "$ns" && info "deleted namespace $ns"; fi
    done
    if [ -n "$TMP" ]; then
        if [ $rc -ne 0 ] && [ -s "$TMP/bondingfs.out" ]; then
            echo "    bondingfs output (last 20 lines):"; tail -n 20 "$TMP/bondingfs.out" | show
        fi
        rm -rf "$TMP"
    fi
    if [ $rc -eq 0 ]; then echo "==> demo finished: all steps passed"; else echo "==> demo FAILED (exit $rc)"; fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ ! -x "$BIN" ]; then
    say "building $BIN"
    make -C "$REPO" build
fi

TMP=$(mktemp -d /tmp/bfsdemo.XXXXXX)
MNT=$TMP/mnt
KLOG=$TMP/kernel.log
mkdir -p "$MNT"
SYS=$MNT/sys/class/net
PROC=$MNT/proc/net/bonding

say "creating namespaces $NSA (bond side) and $NSB (far side)"
ip netns add "$NSA"
ip netns add "$NSB"
ip -n "$NSA" link set lo up
ip -n "$NSB" link set lo up
ip netns exec "$NSB" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 || true

say "two veth pairs: eth0/eth1 in A, their peers p0/p1 in B bridged in br0 (192.0.2.2/24)"
ip -n "$NSA" link add eth0 type veth peer name p0 netns "$NSB"
ip -n "$NSA" link add eth1 type veth peer name p1 netns "$NSB"
ip -n "$NSB" link add br0 type bridge
ip -n "$NSB" link set p0 master br0
ip -n "$NSB" link set p1 master br0
for d in p0 p1 br0; do ip -n "$NSB" link set "$d" up; done
ip -n "$NSB" addr add 192.0.2.2/24 dev br0
ip -n "$NSA" -br link show | show
ip -n "$NSB" -br addr show | show

say "starting: bondingfs serve --root $MNT --netns $NSA --log $KLOG"
"$BIN" serve --root "$MNT" --netns "$NSA" --log "$KLOG" >"$TMP/bondingfs.out" 2>&1 &
DPID=$!
for _ in $(seq 150); do
    [ -e "$SYS/bonding_masters" ] && break
    kill -0 "$DPID" 2>/dev/null || { wait "$DPID" || true; DPID=; die "bondingfs exited before the mount was ready"; }
    sleep 0.1
done
[ -e "$SYS/bonding_masters" ] || die "the mount did not appear within 15 s"
info "mounted (pid $DPID); $SYS/bonding_masters: $(cat "$SYS/bonding_masters")"

# sysfs-style configuration, printed as the command a user would type
bset() { # bset VALUE FILE(relative to SYS)
    printf '    # echo %s > /sys/class/net/%s\n' "$1" "$2"
    echo "$1" >"$SYS/$2" || die "echo $1 > /sys/class/net/$2 failed"
}

say "configuring bond0 through the mount (bonding.txt §3.4)"
bset active-backup bond0/bonding/mode
bset 100 bond0/bonding/miimon
bset +eth0 bond0/bonding/slaves
bset +eth1 bond0/bonding/slaves
info "slaves: $(cat "$SYS/bond0/bonding/slaves")   mode: $(cat "$SYS/bond0/bonding/mode")"

say "bond0 up with 192.0.2.1/24 (ip -n $NSA …)"
ip -n "$NSA" link set bond0 up
ip -n "$NSA" addr add 192.0.2.1/24 dev bond0
ip -n "$NSA" -br addr show dev bond0 | show

say "ping the far side (192.0.2.2)"
ok=
for _ in $(seq 10); do
    if ip netns exec "$NSA" ping -c 1 -W 1 192.0.2.2 >/dev/null 2>&1; then ok=1; break; fi
done
[ -n "$ok" ] || die "192.0.2.2 not reachable through bond0 within 10 s"
ip netns exec "$NSA" ping -c 3 -i 0.2 -W 1 192.0.2.2 | show || die "ping through bond0 failed"

say "/proc/net/bonding/bond0 (from the mount)"
show "$PROC/bond0"

active=$(cat "$SYS/bond0/bonding/active_slave")
[ -n "$active" ] || die "bond0 has no active slave"
peer=p${active#eth}
say "failover: ping every 10 ms while the active slave $active loses its link (ip -n $NSB link set $peer down)"
ip netns exec "$NSA" ping -n -i 0.01 -c 400 -W 1 192.0.2.2 >"$TMP/ping.out" 2>&1 &
PINGPID=$!
sleep 1
ip -n "$NSB" link set "$peer" down
sleep 1
now=$(cat "$SYS/bond0/bonding/active_slave")
info "active slave before: $active, after: ${now:-(none)}"
show "$PROC/bond0"
[ -n "$now" ] && [ "$now" != "$active" ] || die "no failover: active slave is still '${now:-(none)}'"
wait "$PINGPID" || true
PINGPID=
summary=$(grep 'packets transmitted' "$TMP/ping.out" || true)
[ -n "$summary" ] || { show "$TMP/ping.out"; die "the failover ping produced no summary"; }
sent=$(echo "$summary" | sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p')
recv=$(echo "$summary" | sed -n 's/.* \([0-9]*\) received.*/\1/p')
lost=$((sent - recv))
info "$summary"
info "lost during failover: $lost of $sent pings (10 ms interval)"
[ "$recv" -gt 0 ] || die "no ping reply at all during the failover"
[ "$lost" -le 2 ] || info "warning: more than 2 pings lost (the goal for active-backup with miimon=100 is ≤ 2)"
ip netns exec "$NSA" ping -c 3 -i 0.2 -W 1 192.0.2.2 | show || die "ping after the failover failed"

say "restoring the link (ip -n $NSB link set $peer up)"
ip -n "$NSB" link set "$peer" up
sleep 1
show "$PROC/bond0"
st=$(cat "$SYS/$active/bonding_slave/mii_status")
info "$active MII status: $st"
[ "$st" = up ] || die "$active did not come back up"
ip netns exec "$NSA" ping -c 3 -i 0.2 -W 1 192.0.2.2 | show || die "ping after restoring the link failed"

say "kernel-style log ($KLOG)"
show "$KLOG"
