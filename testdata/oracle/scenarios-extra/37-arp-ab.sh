#!/bin/sh
# ARP monitor in active-backup (arp_interval 250, one target behind a bridge
# in the peer namespace): both slaves up while the target answers; the active
# slave's path dies (its peer port leaves the bridge, carrier stays up) and
# the bond fails over; the path comes back. Once with arp_validate none,
# once with arp_validate all; then arp_missed_max 1 and 3.
. "${ORACLE_LIB:-$(dirname "$0")/lib.sh}"
# boot noise that can arrive after the first klog_reset on a loaded host
_KLOG_DROP="$_KLOG_DROP|^tsc: |^clocksource: "
load_bonding
mkveth 0 1
mkpeer 0 1
pxs addr add 192.0.2.9/24 dev br0
S=$SYS/bond0/bonding/slaves
st() {
    rb active_slave mii_status
    for d in eth0 eth1; do r "$SYS/$d/bonding_slave/state" "$SYS/$d/bonding_slave/mii_status"; done
}
run() { # run VALIDATE MISSED
    step "arp_validate $1, arp_missed_max $2: slaves enslaved into the running bond"
    xs ip link set bond0 down
    settle 1
    wb arp_validate "$1"
    wb arp_missed_max "$2"
    xs ip link set bond0 up
    q ip addr replace 192.0.2.1/24 dev bond0
    ws "+eth0"
    ws "+eth1"
    settle 3
    st
    proc
    step "arp_validate $1: the active slave's path dies (p0 leaves br0)"
    pxs link set p0 nomaster
    settle 4
    st
    step "arp_validate $1: the path comes back"
    pxs link set p0 master br0
    settle 4
    st
    ws "-eth0"
    ws "-eth1"
    settle 1
}

step "setup: active-backup, arp_interval 250, arp_ip_target 192.0.2.9"
wb mode active-backup
wb arp_interval 250
wb arp_ip_target +192.0.2.9
rb arp_interval arp_ip_target arp_validate arp_all_targets arp_missed_max miimon
run none 2
run all 2
run all 1
run all 3
finish
