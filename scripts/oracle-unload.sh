#!/bin/sh
# Oracle unload hook (run-host.sh -u): the emulation's `rmmod bonding`.
#   -u 'sh scripts/oracle-unload.sh'
# Sends SIGTERM to the daemon whose pid oracle-load.sh recorded in $BFS_PIDFILE,
# waits until it has exited (SIGKILL after 15 s) and its mount at $BFS_ROOT is gone
# (lazy unmount after 5 more s, which should never be needed).  Silent unless
# something goes wrong: what it prints lands in the transcript.  When no daemon
# runs because the load failed (no pid file), it prints what rmmod prints for a
# module that is not loaded, as the kernel's transcript has it.
: "${BFS_ROOT:?}" "${BFS_PIDFILE:?}"
alive() {
    st=$(sed -n 's/^.*) \(.\) .*/\1/p' "/proc/$1/stat" 2>/dev/null)
    [ -n "$st" ] && [ "$st" != Z ]
}
mounted() { awk -v d="$BFS_ROOT" '$5 == d { f = 1 } END { exit !f }' /proc/self/mountinfo; }

pid=$(cat "$BFS_PIDFILE" 2>/dev/null)
rm -f "$BFS_PIDFILE"
if [ -z "$pid" ]; then
    echo "| rmmod: can't unload module 'bonding': No such file or directory"
    echo "=> rmmod failed"
    exit 0
fi
if ! alive "$pid"; then
    echo "# bondingfs (pid $pid) had exited before the unload"
else
    kill -TERM "$pid" 2>/dev/null
    i=0
    while alive "$pid"; do
        i=$((i + 1))
        if [ "$i" -eq 300 ]; then
            echo "# bondingfs (pid $pid) ignored SIGTERM for 15 s: SIGKILL"
            kill -KILL "$pid" 2>/dev/null
        fi
        sleep 0.05
    done
fi
i=0
while mounted; do
    i=$((i + 1))
    if [ "$i" -ge 100 ]; then
        echo "# bondingfs left its mount behind: umount -l $BFS_ROOT"
        umount -l "$BFS_ROOT"
        break
    fi
    sleep 0.05
done
exit 0
