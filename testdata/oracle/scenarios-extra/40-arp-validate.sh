#!/bin/sh
# ARP monitor in active-backup with the arp_validate values 37-arp-ab does
# not cover (active, backup, filter, filter_active, filter_backup):
# arp_interval 250, one target behind a bridge in the peer namespace; both
# slaves up while the target answers, the active slave's path dies (its peer
# port leaves the bridge, carrier stays up), the path comes back (not for
# filter_backup: there the kernel's outcome varies from run to run, the
# active slave sometimes going down when the old one rejoins the bridge).
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
run() { # run VALIDATE [noback]
    step "arp_validate $1: slaves enslaved into the running bond"
    xs ip link set bond0 down
    settle 1
    wb arp_validate "$1"
    xs ip link set bond0 up
    q ip addr replace 192.0.2.1/24 dev bond0
    ws "+eth0"
    ws "+eth1"
    settle 3
    st
    step "arp_validate $1: the active slave's path dies (p0 leaves br0)"
    pxs link set p0 nomaster
    settle 4
    st
    if [ -z "${2:-}" ]; then
        step "arp_validate $1: the path comes back"
        pxs link set p0 master br0
        settle 4
        st
    fi
    ws "-eth0"
    ws "-eth1"
    settle 1
    [ -z "${2:-}" ] || q ip -n "$_PEERNS" link set p0 master br0
}

step "setup: active-backup, arp_interval 250, arp_ip_target 192.0.2.9"
wb mode active-backup
wb arp_interval 250
wb arp_ip_target +192.0.2.9
run active
run backup
run filter
run filter_active
run filter_backup noback
step "arp_interval 0 with slaves: the monitor stops, the states stay"
xs ip link set bond0 down
settle 1
wb arp_validate none
xs ip link set bond0 up
q ip addr replace 192.0.2.1/24 dev bond0
ws "+eth0"
ws "+eth1"
settle 3
wb arp_interval 0
settle 2
st
proc
finish
