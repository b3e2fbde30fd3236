#!/bin/sh
# fail_over_mac none/active/follow in active-backup (miimon 100, two slaves):
# the MACs of the bond and of each slave after enslaving, after a failover,
# after the old active comes back, and after release.
. "${ORACLE_LIB:-$(dirname "$0")/lib.sh}"
# boot noise that can arrive after the first klog_reset on a loaded host
_KLOG_DROP="$_KLOG_DROP|^tsc: |^clocksource: "
load_bonding
mkveth 0 1
S=$SYS/bond0/bonding/slaves
run() { # run FOM
    step "fail_over_mac $1: enslave eth0 and eth1"
    wb fail_over_mac "$1"
    rb fail_over_mac
    ws "+eth0"
    ws "+eth1"
    xs ip link set bond0 up
    settle 2
    rb active_slave
    mac bond0 eth0 eth1
    step "fail_over_mac $1: the active slave fails"
    xs ip link set p0 down
    settle 2
    rb active_slave
    mac bond0 eth0 eth1
    step "fail_over_mac $1: it comes back; active_slave eth0"
    xs ip link set p0 up
    settle 2
    wb active_slave eth0
    settle 1
    rb active_slave
    mac bond0 eth0 eth1
    proc
    step "fail_over_mac $1: release"
    xs ip link set bond0 down
    settle 1
    ws "-eth1"
    mac bond0 eth0 eth1
    ws "-eth0"
    mac bond0 eth0 eth1
    q ip link set eth0 address 02:00:00:00:00:01
    q ip link set eth1 address 02:00:00:00:00:02
    q ip link set bond0 address 02:00:00:00:b0:00
    note "eth0, eth1 MACs reset; bond0 MAC 02:00:00:00:b0:00"
}

step "setup: active-backup, miimon 100"
wb mode active-backup
wb miimon 100
step "fail_over_mac with slaves"
ws "+eth0"
try fail_over_mac active follow none
ws "-eth0"
q ip link set eth0 address 02:00:00:00:00:01
run none
run active
run follow
finish
