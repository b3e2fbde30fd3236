#!/usr/bin/env bash
# Replay kernel-oracle scenarios against bin/bondingfs by hand (root).
#   scripts/oracle.sh [-q] [-v] [SCENARIO...]     e.g. scripts/oracle.sh 09-slaves 11-failover-ab
# Without SCENARIO: every scenario that has a golden transcript.  -q: summary lines
# only.  -v: keep the transcripts, klog and daemon logs (printed at the end).
# ORACLE_DIR selects the oracle (default testdata/oracle, the vendored copy; else
# ../shared/oracle).  The integration tests (go test ./integration -run Oracle) do the
# same and also apply the allowlist of steps that cannot match (see README.md).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BONDINGFS_BIN:-$REPO/bin/bondingfs}
if [ -n "${ORACLE_DIR:-}" ]; then OD=$ORACLE_DIR
elif [ -f "$REPO/testdata/oracle/run-host.sh" ]; then OD=$REPO/testdata/oracle
else OD=$REPO/../shared/oracle; fi
OD=$(cd "$OD" && pwd)
quiet= keep=
while getopts qv o; do case $o in q) quiet=-q ;; v) keep=1 ;; *) sed -n '2,9p' "$0"; exit 2 ;; esac; done
shift $((OPTIND - 1))
[ "$(id -u)" -eq 0 ] || { echo "needs root" >&2; exit 2; }
[ -x "$BIN" ] || make -C "$REPO" build
EXTRA=$REPO/testdata/oracle   # the project's own scenarios: scenarios-extra/ + golden-extra/
if [ $# -eq 0 ]; then
    set --
    for g in "$OD"/golden/*.txt; do n=$(basename "$g" .txt); [ -f "$OD/scenarios/$n.sh" ] && set -- "$@" "$n"; done
    for g in "$EXTRA"/golden-extra/*.txt; do
        [ -f "$g" ] || continue
        n=$(basename "$g" .txt); [ -f "$EXTRA/scenarios-extra/$n.sh" ] && set -- "$@" "$n"
    done
fi
work=$(mktemp -d /tmp/bfs-oracle.XXXXXX)
cleanup() {
    set +e
    pid=$(cat "$work/pid" 2>/dev/null)   # only if a hook left the daemon running
    if [ -n "$pid" ] && grep -qF "$work" "/proc/$pid/cmdline" 2>/dev/null; then kill "$pid"; fi
    if [ -z "$keep" ]; then rm -rf "$work"; else echo "kept $work"; fi
}
trap cleanup EXIT
export BFS_BIN=$BIN BFS_PIDFILE=$work/pid
fail=0
for s in "$@"; do
    s=$(basename "$s" .sh)
    scen=$OD/scenarios/$s.sh gold=$OD/golden/$s.txt
    if [ ! -f "$scen" ] && [ -f "$EXTRA/scenarios-extra/$s.sh" ]; then
        scen=$EXTRA/scenarios-extra/$s.sh gold=$EXTRA/golden-extra/$s.txt
    fi
    mkdir -p "$work/$s/root"
    export BFS_ROOT=$work/$s/root BFS_KLOG=$work/$s/klog BFS_DAEMON_LOG=$work/$s/daemon.log
    : >"$BFS_KLOG"
    sh "$OD/run-host.sh" $quiet -k "$BFS_KLOG" -o "$work/$s/transcript.txt" -g "$gold" \
        -l "sh $REPO/scripts/oracle-load.sh" -u "sh $REPO/scripts/oracle-unload.sh" \
        "$scen" "$BFS_ROOT/sys/class/net" "$BFS_ROOT/proc/net/bonding" || fail=1
done
exit $fail
