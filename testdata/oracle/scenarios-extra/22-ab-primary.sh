#!/bin/sh
# active-backup, miimon 100, three slaves: primary recorded before enslaving,
# primary_reselect always/better/failure while the primary fails and comes back,
# active_slave writes (backup, down slave, non-slave, nonexistent, empty),
# primary changed/cleared, the active and the primary slave released.
# One link change at a time, each followed by a settle.
. "${ORACLE_LIB:-$(dirname "$0")/lib.sh}"
load_bonding
mkveth 0 1 2
S=$SYS/bond0/bonding/slaves
state() {
    proc
    rb primary primary_reselect active_slave slaves
    for d in eth0 eth1 eth2; do
        r "$SYS/$d/bonding_slave/state" "$SYS/$d/bonding_slave/mii_status"
    done
}
linkchg() { # linkchg DEV up|down: one carrier change, then wait for miimon
    xs ip link set "$1" "$2"
    settle 1.5
}

step "primary / active_slave in balance-rr"
try primary eth1
try active_slave eth1
rb primary_reselect

step "primary recorded before enslaving (active-backup, miimon 100)"
wb mode active-backup
wb miimon 100
try primary nosuchdev
try primary eth1
proc

step "enslave eth0, eth1 (the recorded primary), eth2 with the bond down"
w "$S" "+eth0"
rb primary active_slave
w "$S" "+eth1"
rb primary active_slave
w "$S" "+eth2"
state

step "bond up"
linkchg bond0 up
state
link bond0 eth0 eth1 eth2

step "primary_reselect always: the primary fails"
try primary_reselect always
linkchg p1 down
state
step "primary_reselect always: the primary comes back"
linkchg p1 up
state

step "primary_reselect better: the primary fails"
try primary_reselect better
linkchg p1 down
state
step "primary_reselect better: the primary comes back (same speed: no switch)"
linkchg p1 up
state
step "switching to always reselects at once"
try primary_reselect always
state

step "primary_reselect failure: the primary fails"
try primary_reselect failure
linkchg p1 down
state
step "primary_reselect failure: the primary comes back (no switch)"
linkchg p1 up
state
step "primary_reselect failure: the active slave fails, the primary takes over"
linkchg p0 down
state
linkchg p0 up
state

step "active_slave: to a backup"
try primary_reselect always
try active_slave eth2
try active_slave eth2
state
step "active_slave: to a slave whose link is down"
linkchg p0 down
try active_slave eth0
step "active_slave: to a non-slave, a nonexistent device, the bond"
try active_slave p0 nosuchdev bond0 "eth2 " " eth2"
state
step "active_slave: empty write clears it (reselection picks the primary)"
try active_slave ""
state
linkchg p0 up
state

step "primary changed to eth2, then odd names"
try primary eth2
state
try primary "eth1 " " eth0" averyveryverylongname
proc
try primary eth2
state

step "primary cleared with an empty write"
try primary ""
state
step "no primary: the active slave fails, then comes back"
linkchg p2 down
state
linkchg p2 up
state

step "primary eth1 again, then release the active slave"
try primary eth1
state
w "$S" "-eth1"
state
step "release the new active slave (eth0, whose MAC the bond uses)"
w "$S" "-eth0"
state
link bond0 eth0 eth2
step "re-enslave eth1: the recorded primary takes over"
w "$S" "+eth1"
settle 1.5
state
step "release everything"
w "$S" "-eth2"
w "$S" "-eth1"
state
xs ip link set bond0 down
settle 1
proc
finish
