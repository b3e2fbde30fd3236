#!/usr/bin/env bash
# scripts/bench.sh — the data path of bondingfs against a direct veth, the
# control path through the mount, and an active-backup failover, in one run,
# as root, inside two network namespaces it creates and removes.
#
#   namespace A (bfsbench-a-PID)                      namespace B (bfsbench-b-PID)
#   vA 198.51.100.1 ──────── direct veth ──────────── vB 198.51.100.2
#   bond0 203.0.113.1/28   active-backup  eth0 ──── p0 ─ br0 203.0.113.2
#   bond1 203.0.113.17/28  balance-rr     eth1,eth2 ─ p1,p2 ─ br1 203.0.113.18
#   bond2 203.0.113.33/28  balance-xor    eth3,eth4 ─ p3,p4 ─ br2 203.0.113.34
#                          layer3+4
#   bond3 203.0.113.49/28  active-backup  eth5,eth6 ─ p5,p6 ─ br3 203.0.113.50
#   eth9 203.0.113.65/28   plain veth (brref) ──── p9 ─ br0 203.0.113.66
#   (all bonds: one bondingfs daemon, --netns A, miimon=100,
#    --datapath=BENCH_DATAPATH: auto (default), ebpf or userspace)
#
# brref is the bridged reference: a plain veth into the same far-side bridge
# as bond0, so that the ratio to it (ratio_bridged) shows the bond's own
# cost; the bridge alone costs 64 B UDP about 0.8 of a direct veth.
# `make bench` runs this script once per data path (bench/userspace,
# bench/ebpf), each with its own table and chart.
#
# 1. Throughput, for each path (direct veth, bond0 = one slave, bond1 = two
#    slaves balance-rr, bond2 = two slaves balance-xor layer3+4), both
#    directions (A→B: iperf3 client in A; B→A: iperf3 -R), TCP with 1 and 4
#    streams (Gbit/s at the receiver) and 64-byte UDP (-l 64 -b 0; datagrams
#    delivered at the receiver, kpps), BENCH_TIME seconds each (default 3),
#    BENCH_REPS repetitions (default 3); within one, the 5 paths run back to
#    back for each test and direction, in reverse order every other
#    repetition. Each figure is also a
#    ratio to the direct veth of the same repetition; min/median/max over the
#    repetitions. CPU seconds per GB moved: the daemon's (utime+stime from
#    /proc/PID/stat) and the whole machine's (/proc/stat, all but idle and
#    iowait).
# 2. echo+read round trip through the mount (bash builtins, no fork):
#    BENCH_RTT_N (default 2000) writes of bond0/bonding/miimon each followed
#    by a read of it; median and p99. Every accepted write is journaled
#    (write, fsync, rename) before it returns: the journal goes to
#    BENCH_STATE (default a directory in /dev/shm, tmpfs, as /run is on a
#    systemd machine; on this container's ext4 /run each fsync adds ~0.5 ms).
# 3. 1000 bonds (BENCH_BONDS): time to create them through bonding_masters,
#    the daemon's RSS then, time to delete them.
# 5. Reads that scale, on a second daemon in its own namespace
#    (bfsbench-r-PID) with bond0 (active-backup, miimon=100, two slaves):
#    BENCH_READ_N (default 501) reads of /proc/net/bonding/bond0 with 1 bond
#    and with BENCH_READ_BONDS (default 500) bonds, median and p99; then
#    every one of those bonds' proc files read in turn, 5 passes, min /
#    median / max. Reads are open+read-to-EOF+close by scripts/readbench, as
#    cat does them without cat's fork and exec (about 1 ms here).
# 4. Failover: BENCH_FO_RATE (default 10000) 64-byte UDP datagrams per second
#    A→B through bond3 (active-backup, miimon=100) while the active slave's
#    peer loses carrier (ip link set pN down); datagrams lost, BENCH_REPS times.
#
# Output: the table on stdout, and in BENCH_OUT (default REPO/bench):
# results.csv (one row per measurement), summary.csv (min/median/max),
# table.txt (the table) and ratios.png (gnuplot chart of the ratios).
set -eu
set -o pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BONDINGFS_BIN:-$REPO/bin/bondingfs}
T=${BENCH_TIME:-3}
REPS=${BENCH_REPS:-3}
RTT_N=${BENCH_RTT_N:-2000}
NBONDS=${BENCH_BONDS:-1000}
FO_RATE=${BENCH_FO_RATE:-10000}
OUT=${BENCH_OUT:-$REPO/bench}
DATAPATH=${BENCH_DATAPATH:-auto}
NICE=${BENCH_NICE:-0} # the daemon's nice value
READ_N=${BENCH_READ_N:-501}
READ_BONDS=${BENCH_READ_BONDS:-500}
PARTS=${BENCH_PARTS:-throughput rtt failover bonds reads} # any subset, for a partial run
part() { case " $PARTS " in *" $1 "*) return 0 ;; esac; return 1; }
NSA=bfsbench-a-$$
NSB=bfsbench-b-$$
NSR=bfsbench-r-$$
STATE=${BENCH_STATE:-/dev/shm/bfsbench-state-$$}
TMP=
DPID=
SPID=
RPID=

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'FAILED: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "needs root: sudo make bench"
for c in ip iperf3 awk sort; do command -v "$c" >/dev/null || die "$c not found (run scripts/deps.sh)"; done

is_mounted() { awk -v d="$1" '$5 == d { f = 1 } END { exit !f }' /proc/self/mountinfo; }
alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }

wait_mount() { # wait_mount PID FILE: until FILE exists (the mount is ready), 15 s at most
    for _ in $(seq 150); do
        [ -e "$2" ] && return 0
        alive "$1" || die "bondingfs (pid $1) exited before $2 appeared"
        sleep 0.1
    done
    die "$2 did not appear within 15 s"
}

stop_daemon() { # stop_daemon PID: SIGTERM (bonds deleted as by rmmod), SIGKILL after 30 s
    alive "$1" || return 0
    kill -TERM "$1"
    for _ in $(seq 300); do alive "$1" || break; sleep 0.1; done
    alive "$1" && kill -KILL "$1"
    wait "$1" 2>/dev/null
}

cleanup() {
    rc=$?
    set +e
    trap - EXIT INT TERM
    say "cleaning up"
    if alive "$SPID"; then kill "$SPID"; wait "$SPID" 2>/dev/null; fi
    stop_daemon "$DPID"
    stop_daemon "$RPID"
    [ -n "$TMP" ] && is_mounted "$TMP/mnt" && umount -l "$TMP/mnt"
    [ -n "$TMP" ] && is_mounted "$TMP/rmnt" && umount -l "$TMP/rmnt"
    for ns in "$NSA" "$NSB" "$NSR"; do [ -e "/run/netns/$ns" ] && ip netns del "$ns"; done
    [ -z "${BENCH_STATE:-}" ] && rm -rf "$STATE"
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

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
TMP=$(mktemp -d /tmp/bfsbench.XXXXXX)
MNT=$TMP/mnt
mkdir -p "$MNT" "$OUT"
SYS=$MNT/sys/class/net

say "namespaces $NSA / $NSB"
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
for i in 0 1 2 3 4 5 6 9; do ip -n "$NSA" link add "eth$i" type veth peer name "p$i" netns "$NSB"; done
bridge() { # bridge N PORTS...: brN in B with the ports, address 203.0.113.(16N+2)/28
    local n=$1
    shift
    ip -n "$NSB" link add "br$n" type bridge
    for p in "$@"; do ip -n "$NSB" link set "$p" master "br$n"; ip -n "$NSB" link set "$p" up; done
    ip -n "$NSB" link set "br$n" up
    ip -n "$NSB" addr add "203.0.113.$((16 * n + 2))/28" dev "br$n"
}
bridge 0 p0
bridge 1 p1 p2
bridge 2 p3 p4
bridge 3 p5 p6
# the bridged reference: eth9 → p9 in br0, bond0's far-side bridge
ip -n "$NSB" link set p9 master br0
ip -n "$NSB" link set p9 up
ip -n "$NSB" addr add 203.0.113.66/28 dev br0
ip -n "$NSA" addr add 203.0.113.65/28 dev eth9
ip -n "$NSA" link set eth9 up

say "bondingfs serve --netns $NSA --datapath=$DATAPATH max_bonds=4 miimon=100"
nice -n "$NICE" "$BIN" serve --root "$MNT" --netns "$NSA" --log "$TMP/kernel.log" --state "$STATE" --datapath="$DATAPATH" max_bonds=4 miimon=100 >"$TMP/bondingfs.out" 2>&1 &
DPID=$!
wait_mount "$DPID" "$SYS/bonding_masters"
setup_bond() { # setup_bond N MODE POLICY SLAVES...
    local n=$1 mode=$2 pol=$3
    shift 3
    echo "$mode" >"$SYS/bond$n/bonding/mode" || die "bond$n: mode $mode"
    [ -z "$pol" ] || echo "$pol" >"$SYS/bond$n/bonding/xmit_hash_policy" || die "bond$n: xmit_hash_policy $pol"
    for s in "$@"; do echo "+$s" >"$SYS/bond$n/bonding/slaves" || die "bond$n: +$s"; done
    ip -n "$NSA" link set "bond$n" up
    ip -n "$NSA" addr add "203.0.113.$((16 * n + 1))/28" dev "bond$n"
}
setup_bond 0 active-backup "" eth0
setup_bond 1 balance-rr "" eth1 eth2
setup_bond 2 balance-xor layer3+4 eth3 eth4
setup_bond 3 active-backup "" eth5 eth6

ip netns exec "$NSB" iperf3 -s >"$TMP/iperf3-server.out" 2>&1 &
SPID=$!
for _ in $(seq 50); do
    ip netns exec "$NSB" ss -Hltn 2>/dev/null | grep -q ':5201 ' && break
    sleep 0.1
done

reach() { # reach ADDR: wait until ADDR answers ping
    for _ in $(seq 20); do ip netns exec "$NSA" ping -c 1 -W 1 "$1" >/dev/null 2>&1 && return 0; done
    die "$1 not reachable from $NSA"
}

PATHS="direct brref bond1slave rr2 xor34"
declare -A ADDR=([direct]=198.51.100.2 [brref]=203.0.113.66 [bond1slave]=203.0.113.2 [rr2]=203.0.113.18 [xor34]=203.0.113.34)
declare -A LABEL=([direct]="direct veth" [brref]="veth into the bond's bridge" [bond1slave]="bond, 1 slave (active-backup)" [rr2]="bond, 2 slaves balance-rr" [xor34]="bond, 2 slaves balance-xor layer3+4")
RUNPATH=$(sed -n 's/^bondingfs: data path: //p' "$TMP/bondingfs.out" | head -n 1 | sed 's/;.*/)/')
[ -n "$RUNPATH" ] || RUNPATH=$DATAPATH
for p in $PATHS; do reach "${ADDR[$p]}"; done

# CPU counters: daemon ticks (utime+stime) and machine ticks (not idle/iowait).
dticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$DPID/stat"; }
mticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }
HZ=$(getconf CLK_TCK)

# run PATH DIR TEST REP: one iperf3 run; appends a row to results.csv
CSV=$OUT/results.csv
echo "path,direction,test,rep,value,unit,ratio,daemon_cpu_s_per_gb,machine_cpu_s_per_gb,ratio_bridged" >"$CSV"
declare -A VAL
run() {
    local path=$1 dir=$2 test=$3 rep=$4 addr=${ADDR[$1]} args out v unit d0 m0 d1 m1 gb ratio
    args=(-c "$addr" -t "$T" -f m)
    [ "$dir" = "B-A" ] && args+=(-R)
    case $test in
    tcp1) ;;
    tcp4) args+=(-P 4) ;;
    udp64) args+=(-u -l 64 -b 0) ;;
    esac
    out=$TMP/$path-$dir-$test-$rep.txt
    d0=$(dticks) m0=$(mticks)
    ip netns exec "$NSA" iperf3 "${args[@]}" >"$out" 2>&1 || { cat "$out" >&2; die "iperf3 ${args[*]} failed"; }
    d1=$(dticks) m1=$(mticks)
    if [ "$test" = udp64 ]; then
        unit=kpps
        # receiver line: ... lost/total (pct) receiver; delivered = total - lost
        read -r v gb < <(awk '/receiver/ {
                split($3, iv, "-"); secs = iv[2] - iv[1]
                for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+\/[0-9]+$/) { split($i, lt, "/"); got = lt[2] - lt[1] }
              } END { if (secs <= 0 || got == "") exit 1; printf "%.1f %.6f\n", got / secs / 1000, got * 64 / 1e9 }' "$out") ||
            { cat "$out" >&2; die "cannot parse iperf3 UDP output"; }
    else
        unit=Gbit/s
        read -r v gb < <(awk -v t="$T" '/receiver/ { for (i = 1; i < NF; i++) if ($(i + 1) == "Mbits/sec") r = $i / 1000 }
              END { if (r == "") exit 1; printf "%.2f %.6f\n", r, r * t / 8 }' "$out") ||
            { cat "$out" >&2; die "cannot parse iperf3 TCP output"; }
    fi
    VAL[$path,$dir,$test,$rep]=$v
    UNIT[$test]=$unit
    local dcpu mcpu
    dcpu=$(awk -v d=$((d1 - d0)) -v hz="$HZ" -v gb="$gb" 'BEGIN { if (gb > 0) printf "%.2f", d / hz / gb }')
    mcpu=$(awk -v d=$((m1 - m0)) -v hz="$HZ" -v gb="$gb" 'BEGIN { if (gb > 0) printf "%.2f", d / hz / gb }')
    case $path in direct | brref) dcpu= ;; esac
    DCPU[$path,$dir,$test,$rep]=$dcpu
    MCPU[$path,$dir,$test,$rep]=$mcpu
    printf '    rep %d %-11s %-4s %-6s %9s %-6s daemon %6s s/GB machine %6s s/GB\n' \
        "$rep" "$path" "$dir" "$test" "$v" "$unit" "${dcpu:--}" "$mcpu" >&2
}
declare -A UNIT DCPU MCPU

# csvrows: one row per run, with its ratios to the direct veth and to the
# bridged veth of the same repetition, direction and test
csvrows() {
    local rep test dir p v ratio rbr
    for rep in $(seq "$REPS"); do
        for p in $PATHS; do
            for dir in A-B B-A; do
                for test in tcp1 tcp4 udp64; do
                    v=${VAL[$p,$dir,$test,$rep]:-}
                    [ -n "$v" ] || continue
                    ratio=$(awk -v a="$v" -v b="${VAL[direct,$dir,$test,$rep]:-0}" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "" }')
                    rbr=$(awk -v a="$v" -v b="${VAL[brref,$dir,$test,$rep]:-0}" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "" }')
                    echo "$p,$dir,$test,$rep,$v,${UNIT[$test]},$ratio,${DCPU[$p,$dir,$test,$rep]},${MCPU[$p,$dir,$test,$rep]},$rbr" >>"$CSV"
                done
            done
        done
    done
}

part throughput && say "throughput ($RUNPATH): $REPS repetitions × 5 paths × 2 directions × (TCP 1, TCP 4, UDP 64 B), ${T}s each"
# The paths compared run back to back for each test and direction (a window
# of 5 runs, not a whole repetition apart), and every other repetition runs
# them in the reverse order, so that neither the reference nor a bond always
# runs first after a change of test.
part throughput && for rep in $(seq "$REPS"); do
    order=$PATHS
    [ $((rep % 2)) -eq 0 ] && order=$(echo "$PATHS" | tr ' ' '\n' | tac | tr '\n' ' ')
    for test in tcp1 tcp4 udp64; do
        for dir in A-B B-A; do
            for p in $order; do run "$p" "$dir" "$test" "$rep"; done
        done
    done
done
part throughput && csvrows

RTT_MED=- RTT_P99=- CREATE_S=- DELETE_S=- RSS0=- RSS1=-
FO_LOST=()
FO_TOTAL=()
if part rtt; then
    say "echo+read round trip through the mount ($RTT_N times)"
    F=$SYS/bond0/bonding/miimon
    rtts=$TMP/rtt.txt
    : >"$rtts"
    for ((i = 0; i < RTT_N; i++)); do
        t0=$EPOCHREALTIME
        echo 100 >"$F"
        read -r _ <"$F"
        t1=$EPOCHREALTIME
        echo "${t0/./} ${t1/./}" >>"$rtts"
    done
    read -r RTT_MED RTT_P99 < <(awk '{ print ($2 - $1) / 1000 }' "$rtts" | sort -g |
        awk '{ v[NR] = $1 } END { printf "%.3f %.3f\n", v[int((NR + 1) / 2)], v[int(NR * 0.99 + 0.999)] }')
fi
# counters SLAVE: where datagrams can be dropped: the bond's TAP queue
# (tx_dropped of bond3), the failed slave's driver (its tx_dropped), the
# receiver's socket (UdpRcvbufErrors in B).
counters() {
    local tap sl udp
    tap=$(ip netns exec "$NSA" cat /sys/class/net/bond3/statistics/tx_dropped)
    sl=$(ip netns exec "$NSA" cat "/sys/class/net/$1/statistics/tx_dropped")
    udp=$(ip netns exec "$NSB" awk '/^Udp:/ { if (!h) { for (i = 1; i <= NF; i++) c[$i] = i; h = 1 } else print $c["RcvbufErrors"] }' /proc/net/snmp)
    echo "$tap $sl $udp"
}
diffcounters() { # diffcounters "A" "B"
    awk -v a="$1" -v b="$2" 'BEGIN { split(a, x, " "); split(b, y, " ")
        printf "bond3 TAP queue %d, failed slave tx_dropped %d, receiver UdpRcvbufErrors %d", y[1] - x[1], y[2] - x[2], y[3] - x[3] }'
}
if part failover; then
    say "failover: $FO_RATE pps of 64 B UDP through bond3 (active-backup, miimon=100), active slave's peer loses carrier"
    reach 203.0.113.50
    for rep in $(seq "$REPS"); do
        act=$(awk -F': ' '/^Currently Active Slave/ { print $2 }' "$MNT/proc/net/bonding/bond3")
        [ -n "$act" ] && [ "$act" != None ] || die "bond3 has no active slave"
        peer=p${act#eth}
        out=$TMP/failover-$rep.txt
        # -w 4M: a receive buffer that a receiver descheduled for a while on
        # a loaded machine does not overflow (UdpRcvbufErrors below).
        c0=$(counters "$act")
        ip netns exec "$NSA" iperf3 -c 203.0.113.50 -u -l 64 -w 4M -b "$((FO_RATE * 64 * 8))" -t 4 -f m >"$out" 2>&1 &
        cpid=$!
        sleep 1.5
        ip -n "$NSB" link set "$peer" down
        wait "$cpid" || { cat "$out" >&2; die "iperf3 failover run failed"; }
        ip -n "$NSB" link set "$peer" up
        read -r lost total < <(awk '/receiver/ { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+\/[0-9]+$/) { split($i, lt, "/"); l = lt[1]; t = lt[2] } }
            END { if (t == "") exit 1; print l, t }' "$out") || { cat "$out" >&2; die "cannot parse failover output"; }
        now=$(awk -F': ' '/^Currently Active Slave/ { print $2 }' "$MNT/proc/net/bonding/bond3")
        c1=$(counters "$act")
        printf '    rep %d: %s peer %s down → active %s: lost %s of %s datagrams; drops during the run: %s\n' "$rep" "$act" "$peer" "$now" "$lost" "$total" \
            "$(diffcounters "$c0" "$c1")" >&2
        echo "failover,A-B,udp64-${FO_RATE}pps,$rep,$lost,lost,,,">>"$CSV"
        FO_LOST+=("$lost")
        FO_TOTAL+=("$total")
        sleep 1 # miimon sees the link back
    done
    grep bond3 "$TMP/kernel.log" | tail -n 12 | sed 's/^/    kernel log: /' >&2
fi
if part bonds; then
    say "$NBONDS bonds through bonding_masters"
    rss() { awk '/^VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$DPID/status"; }
    RSS0=$(rss)
    t0=$EPOCHREALTIME
    for ((i = 0; i < NBONDS; i++)); do echo "+bfs$i" >"$SYS/bonding_masters" || die "+bfs$i"; done
    t1=$EPOCHREALTIME
    RSS1=$(rss)
    for ((i = 0; i < NBONDS; i++)); do echo "-bfs$i" >"$SYS/bonding_masters" || die "-bfs$i"; done
    t2=$EPOCHREALTIME
    CREATE_S=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
    DELETE_S=$(awk -v a="$t1" -v b="$t2" 'BEGIN { printf "%.2f", b - a }')
fi

R1_MED=- R1_P99=- RN_MED=- RN_P99=- RA_MIN=- RA_MED=- RA_MAX=-
if part reads; then
    say "reads: /proc/net/bonding/bond0 with 1 and $READ_BONDS bonds, then all $READ_BONDS files (second daemon, namespace $NSR)"
    RB=$TMP/readbench
    "${GO:-go}" build -o "$RB" "$REPO/scripts/readbench" || die "cannot build scripts/readbench"
    ip netns add "$NSR"
    for i in 0 1; do
        ip -n "$NSR" link add "r$i" type veth peer name "rp$i"
        ip -n "$NSR" link set "rp$i" up
    done
    RMNT=$TMP/rmnt
    mkdir -p "$RMNT"
    "$BIN" serve --root "$RMNT" --netns "$NSR" --state none --log "$TMP/rkernel.log" mode=active-backup miimon=100 >"$TMP/rbondingfs.out" 2>&1 &
    RPID=$!
    wait_mount "$RPID" "$RMNT/sys/class/net/bonding_masters"
    for i in 0 1; do echo "+r$i" >"$RMNT/sys/class/net/bond0/bonding/slaves" || die "bond0: +r$i"; done
    ip -n "$NSR" link set bond0 up
    sleep 0.5
    P=$RMNT/proc/net/bonding
    read -r R1_MED R1_P99 < <(GODEBUG=asyncpreemptoff=1 "$RB" -n "$READ_N" "$P/bond0") || die "readbench failed"
    for ((i = 1; i < READ_BONDS; i++)); do echo "+bond$i" >"$RMNT/sys/class/net/bonding_masters" || die "+bond$i"; done
    sleep 2 # the kernel's own work on the new TAP devices settles
    read -r RN_MED RN_P99 < <(GODEBUG=asyncpreemptoff=1 "$RB" -n "$READ_N" "$P/bond0") || die "readbench failed"
    files=()
    for ((i = 0; i < READ_BONDS; i++)); do files+=("$P/bond$i"); done
    read -r RA_MIN RA_MED RA_MAX < <(GODEBUG=asyncpreemptoff=1 "$RB" -reps 5 "${files[@]}") || die "readbench failed"
    printf '    bond0: median %s ms (p99 %s) with 1 bond, %s ms (p99 %s) with %s; all %s: %s/%s/%s ms\n' \
        "$R1_MED" "$R1_P99" "$RN_MED" "$RN_P99" "$READ_BONDS" "$READ_BONDS" "$RA_MIN" "$RA_MED" "$RA_MAX" >&2
    stop_daemon "$RPID"
    RPID=
    ip netns del "$NSR"
fi

echo "rtt,,echo+read,,$RTT_MED,ms median,,," >>"$CSV"
echo "rtt,,echo+read,,$RTT_P99,ms p99,,," >>"$CSV"
echo "bonds,,create $NBONDS,,$CREATE_S,s,,," >>"$CSV"
echo "bonds,,delete $NBONDS,,$DELETE_S,s,,," >>"$CSV"
echo "bonds,,rss after create $NBONDS,,$RSS1,MB,,," >>"$CSV"
echo "reads,,bond0 with 1 bond,,$R1_MED,ms median,,," >>"$CSV"
echo "reads,,bond0 with $READ_BONDS bonds,,$RN_MED,ms median,,," >>"$CSV"
echo "reads,,all $READ_BONDS bonds,,$RA_MED,ms median,,," >>"$CSV"

# Summary: min/median/max per path, direction, test (values and ratios).
SUM=$OUT/summary.csv
awk -F, 'NR > 1 && $1 != "failover" && $1 != "rtt" && $1 != "bonds" && $1 != "reads" {
        k = $1 "," $2 "," $3; n[k]++; v[k, n[k]] = $5; r[k, n[k]] = $7; u[k] = $6; rb[k, n[k]] = ($10 == "" ? 0 : $10)
        dc[k] += $8; mc[k] += $9
        if (!(k in idx)) { idx[k] = ++nk; key[nk] = k } }
    function stats(a, k, c,   i, j, t, x) {
        for (i = 1; i <= c; i++) x[i] = a[k, i]
        for (i = 1; i <= c; i++) for (j = i + 1; j <= c; j++) if (x[j] + 0 < x[i] + 0) { t = x[i]; x[i] = x[j]; x[j] = t }
        return x[1] "," x[int((c + 1) / 2)] "," x[c]
    }
    END {
        print "path,direction,test,unit,min,median,max,ratio_min,ratio_median,ratio_max,daemon_cpu_s_per_gb,machine_cpu_s_per_gb,ratio_bridged_min,ratio_bridged_median,ratio_bridged_max"
        for (i = 1; i <= nk; i++) { k = key[i]; c = n[k]
            printf "%s,%s,%s,%s,%.2f,%.2f,%s\n", k, u[k], stats(v, k, c), (k ~ /^direct/ ? "1,1,1" : stats(r, k, c)), dc[k] / c, mc[k] / c, (k ~ /^direct/ ? ",," : stats(rb, k, c)) }
    }' "$CSV" >"$SUM"

TABLE=$OUT/table.txt
{
    echo "bondingfs make bench — $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, kernel $(uname -r), load average at start $LOAD0"
    echo "data path: $RUNPATH"
    echo "iperf3 ${T}s per run, $REPS repetitions; ratio = path / direct veth, bridged = path / veth into the same bridge (brref), same repetition; min / median / max"
    echo
    printf '%-12s %-4s %-6s %-24s %-17s %-17s %10s %10s\n' "path" "dir" "test" "value min/med/max" "ratio min/med/max" "bridged min/med/max" "daemon s/GB" "machine s/GB"
    awk -F, 'NR > 1 { printf "%-12s %-4s %-6s %-24s %-17s %-17s %10s %10s\n", $1, $2, $3, sprintf("%s/%s/%s %s", $5, $6, $7, $4), sprintf("%.2f/%.2f/%.2f", $8, $9, $10), ($1 == "direct" ? "-" : sprintf("%.2f/%.2f/%.2f", $13, $14, $15)), (($1 == "direct" || $1 == "brref") ? "-" : $11), $12 }' "$SUM"
    echo
    echo "echo+read through the mount: median $RTT_MED ms, p99 $RTT_P99 ms ($RTT_N round trips; crash journal on $(df --output=fstype "$STATE" 2>/dev/null | tail -n 1))"
    echo "$NBONDS bonds: create $CREATE_S s, delete $DELETE_S s, daemon RSS $RSS0 MB before, $RSS1 MB with $NBONDS bonds"
    echo "failover at $FO_RATE pps (active-backup, miimon=100, peer carrier loss): lost ${FO_LOST[*]} datagrams of ${FO_TOTAL[*]}"
    echo "reads of /proc/net/bonding/bond0 (open, read to EOF, close; median/p99): $R1_MED/$R1_P99 ms with 1 bond, $RN_MED/$RN_P99 ms with $READ_BONDS bonds"
    echo "reading all $READ_BONDS /proc/net/bonding files: $RA_MIN/$RA_MED/$RA_MAX ms (min/median/max of 5 passes)"
    echo
    echo "targets:"
    target() { # target TEXT OK [VALUE...]: NOT RUN when a VALUE is missing ("-" or "")
        local text=$1 ok=$2 v
        shift 2
        for v in "$@"; do
            if [ -z "$v" ] || [ "$v" = - ]; then echo "  NOT RUN  $text"; return; fi
        done
        if [ "$ok" = 1 ]; then echo "  MET      $text"; else echo "  NOT MET  $text"; fi
    }
    med() { awk -F, -v p="$1" -v d="$2" -v t="$3" '$1 == p && $2 == d && $3 == t { print $9 }' "$SUM"; }
    medbr() { awk -F, -v p="$1" -v d="$2" -v t="$3" '$1 == p && $2 == d && $3 == t { print $14 }' "$SUM"; }
    # the fast path's targets (issue 18), against the bridged reference
    for d in A-B B-A; do
        r=$(medbr bond1slave "$d" tcp1)
        target "[$RUNPATH] TCP 1 stream, 1 slave, $d ≥ 0.95 × bridged veth: $r" "$(awk -v r="$r" 'BEGIN { print (r >= 0.95) }')" "$r"
    done
    for d in A-B B-A; do
        r=$(medbr bond1slave "$d" udp64)
        target "[$RUNPATH] 64 B UDP, 1 slave, $d ≥ 0.90 × bridged veth: $r" "$(awk -v r="$r" 'BEGIN { print (r >= 0.90) }')" "$r"
    done
    for p in rr2 xor34; do
        for d in A-B B-A; do
            r=$(medbr "$p" "$d" tcp4)
            target "[$RUNPATH] TCP 4 streams, $p, $d ≥ 1.0 × bridged veth: $r" "$(awk -v r="$r" 'BEGIN { print (r >= 1.0) }')" "$r"
        done
    done
    for d in A-B B-A; do
        r=$(med bond1slave "$d" tcp1)
        target "TCP 1 stream, 1 slave, $d ≥ 0.90 × direct: $r" "$(awk -v r="$r" 'BEGIN { print (r >= 0.90) }')" "$r"
    done
    for d in A-B B-A; do
        r=$(med bond1slave "$d" udp64)
        target "64 B UDP, 1 slave, $d ≥ 0.75 × direct: $r" "$(awk -v r="$r" 'BEGIN { print (r >= 0.75) }')" "$r"
    done
    target "echo+read median ≤ 0.2 ms: $RTT_MED ms" "$(awk -v r="$RTT_MED" 'BEGIN { print (r <= 0.2) }')" "$RTT_MED"
    target "$NBONDS bonds ≤ 5 s: create $CREATE_S s, delete $DELETE_S s" "$(awk -v a="$CREATE_S" -v b="$DELETE_S" 'BEGIN { print (a <= 5 && b <= 5) }')" "$CREATE_S"
    target "$NBONDS bonds ≤ 100 MB RSS: $RSS1 MB" "$(awk -v r="$RSS1" 'BEGIN { print (r <= 100) }')" "$RSS1"
    target "bond0 read with $READ_BONDS bonds within 2 × 1 bond: $RN_MED ms vs $R1_MED ms" "$(awk -v a="$RN_MED" -v b="$R1_MED" 'BEGIN { print (a <= 2 * b) }')" "$RN_MED"
    target "all $READ_BONDS proc files < 100 ms: $RA_MED ms" "$(awk -v a="$RA_MED" 'BEGIN { print (a < 100) }')" "$RA_MED"
    lostsum=0
    for l in "${FO_LOST[@]}"; do lostsum=$((lostsum + l)); done
    target "0 datagrams lost on failover: ${FO_LOST[*]}" "$([ "$lostsum" -eq 0 ] && echo 1 || echo 0)" "${FO_LOST[*]}"
} >"$TABLE"

if command -v gnuplot >/dev/null; then
    awk -F, 'NR > 1 && $1 != "direct" { printf "\"%s %s %s\" %s %s %s %s %s %s\n", ($1 == "bond1slave" ? "1 slave" : $1), $2, $3, $9, $8, $10, ($14 == "" ? 0 : $14), ($13 == "" ? 0 : $13), ($15 == "" ? 0 : $15) }' "$SUM" >"$TMP/ratios.dat"
    gnuplot <<EOF || say "gnuplot failed: no chart"
set terminal pngcairo size 1200,600 noenhanced
set output "$OUT/ratios.png"
set title "bondingfs, data path $RUNPATH: ratio to direct veth and to the bridged veth (median, min-max bars), $REPS reps, $(nproc) CPUs"
set style data histograms
set style histogram errorbars gap 1 lw 1
set style fill solid 0.6 border -1
set yrange [0:1.6]
set ylabel "ratio"
set xtics rotate by -45 font ",8"
set grid ytics
set arrow from graph 0, first 0.90 to graph 1, first 0.90 nohead dt 2 lc rgb "red"
set arrow from graph 0, first 0.75 to graph 1, first 0.75 nohead dt 3 lc rgb "orange"
plot "$TMP/ratios.dat" using 2:3:4:xtic(1) title "to direct veth" lc rgb "#4477aa", "" using 5:6:7 title "to bridged veth" lc rgb "#ee7733"
EOF
else
    say "gnuplot not found: no chart (scripts/deps.sh installs gnuplot-nox)"
fi

cat "$TABLE"
echo
echo "CSV: $CSV, $SUM; table: $TABLE; chart: $OUT/ratios.png"
