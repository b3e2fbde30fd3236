#!/bin/sh
# Oracle load hook (run-host.sh -l): the emulation's `modprobe bonding [params]`.
# run-host.sh evals the hook inside the scenario's network namespace with the
# module parameters appended, so use it as:  -l 'sh scripts/oracle-load.sh'
#
# Starts `bondingfs serve --root $BFS_ROOT --log $BFS_KLOG PARAMS...` in the
# background (in the scenario's netns), records its pid in $BFS_PIDFILE and waits
# until $BFS_ROOT/sys/class/net/bonding_masters exists.  If the daemon exits
# first (invalid module parameters: the kernel's bond_check_params refuses to
# load), it prints what modprobe prints when the module's init fails with EINVAL,
# so the transcript records the failed load exactly as the kernel's does.
# Everything this hook prints lands in the transcript: the daemon's own output
# goes to $BFS_DAEMON_LOG.
#
# Environment: BFS_BIN, BFS_ROOT, BFS_KLOG, BFS_PIDFILE (required), BFS_DAEMON_LOG,
# BFS_READY_TIMEOUT (tenths of a second, default 300).
: "${BFS_BIN:?}" "${BFS_ROOT:?}" "${BFS_KLOG:?}" "${BFS_PIDFILE:?}"
mkdir -p "$BFS_ROOT"
"$BFS_BIN" serve --root "$BFS_ROOT" --log "$BFS_KLOG" "$@" >>"${BFS_DAEMON_LOG:-/dev/null}" 2>&1 &
pid=$!
echo "$pid" >"$BFS_PIDFILE"

alive() { # alive PID: the process exists and is not a zombie
    st=$(sed -n 's/^.*) \(.\) .*/\1/p' "/proc/$1/stat" 2>/dev/null)
    [ -n "$st" ] && [ "$st" != Z ]
}

i=0
while [ ! -e "$BFS_ROOT/sys/class/net/bonding_masters" ]; do
    if ! alive "$pid"; then
        wait "$pid"
        rc=$?
        rm -f "$BFS_PIDFILE"
        echo "# bondingfs serve $* exited with status $rc before mounting" >>"${BFS_DAEMON_LOG:-/dev/null}"
        echo "| modprobe: can't load module bonding (kernel/drivers/net/bonding/bonding.ko): Invalid argument"
        echo "=> modprobe failed"
        exit 0
    fi
    i=$((i + 1))
    if [ "$i" -ge "${BFS_READY_TIMEOUT:-300}" ]; then
        echo "# bondingfs: mount not ready after $((i / 10)) s"
        exit 0
    fi
    sleep 0.1
done
exit 0
