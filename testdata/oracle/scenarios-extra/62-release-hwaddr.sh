#!/bin/sh
# Releasing the slave whose permanent MAC the bond carries (issue 19, item
# 19): when does __bond_release_one warn "the permanent HWaddr of slave -
# ... - is still in use by bond"? The bond takes eth0's MAC at the first
# enslave; eth0 is released while eth1 stays, then eth1. Active-backup with
# fail_over_mac none, active and follow (eth0 active, and eth1 active),
# balance-rr, balance-xor with fail_over_mac follow (no effect outside
# active-backup), 802.3ad, balance-tlb. miimon 100, bond up.
. "${ORACLE_LIB:-$(dirname "$0")/lib.sh}"
# boot noise that can arrive after the first klog_reset on a loaded host
_KLOG_DROP="$_KLOG_DROP|^tsc: |^clocksource: "
load_bonding
mkveth 0 1
S=$SYS/bond0/bonding/slaves
run() { # run MODE FOM [ACTIVE]
    step "$1 fail_over_mac $2${3:+, active_slave $3}: release eth0, then eth1"
    xs ip link set bond0 down
    settle 1
    wb mode "$1"
    wb fail_over_mac "$2"
    wb miimon 100
    xs ip link set bond0 up
    ws "+eth0"
    ws "+eth1"
    settle 2
    [ -n "${3:-}" ] && { wb active_slave "$3"; settle 1; }
    mac bond0 eth0 eth1
    ws "-eth0"
    mac bond0 eth0 eth1
    ws "-eth1"
    mac bond0 eth0 eth1
    settle 1
    q ip link set eth0 address 02:00:00:00:00:01
    q ip link set eth1 address 02:00:00:00:00:02
    note "eth0, eth1 MACs reset"
}

run active-backup none
run active-backup active
run active-backup follow
run active-backup follow eth1
run active-backup none eth1
run balance-rr none
run balance-xor follow
run 802.3ad none
run balance-tlb none
step "active-backup fail_over_mac follow: release eth1 (not the bond's MAC)"
xs ip link set bond0 down
settle 1
wb mode active-backup
wb fail_over_mac follow
xs ip link set bond0 up
ws "+eth0"
ws "+eth1"
settle 2
ws "-eth1"
mac bond0 eth0 eth1
ws "-eth0"
settle 1
finish
