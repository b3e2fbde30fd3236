#!/bin/sh
# ARP monitor in balance-rr (bond_loadbalance_arp_mon), arp_interval 250, two
# targets behind a bridge in the peer namespace: arp_all_targets any/all, one
# target silent, both silent (the bond loses carrier), the targets back.
. "${ORACLE_LIB:-$(dirname "$0")/lib.sh}"
# boot noise that can arrive after the first klog_reset on a loaded host
_KLOG_DROP="$_KLOG_DROP|^tsc: |^clocksource: "
load_bonding
mkveth 0 1
mkpeer 0 1
pxs addr add 192.0.2.9/24 dev br0
pxs addr add 192.0.2.10/24 dev br0
S=$SYS/bond0/bonding/slaves
st() {
    rb mii_status
    for d in eth0 eth1; do r "$SYS/$d/bonding_slave/state" "$SYS/$d/bonding_slave/mii_status"; done
}

step "setup: balance-rr, arp_interval 250, two targets, slaves enslaved into the running bond"
wb arp_interval 250
wb arp_ip_target +192.0.2.9
wb arp_ip_target +192.0.2.10
xs ip link set bond0 up
q ip addr replace 192.0.2.1/24 dev bond0
ws "+eth0"
ws "+eth1"
settle 3
st
proc
step "one target silent (arp_all_targets any)"
pxs addr del 192.0.2.10/24 dev br0
settle 3
st
step "arp_all_targets all (only matters in active-backup with arp_validate)"
wb arp_all_targets all
rb arp_all_targets
settle 2
st
wb arp_all_targets any
step "both targets silent"
pxs addr del 192.0.2.9/24 dev br0
settle 3
st
proc
step "targets back"
pxs addr add 192.0.2.9/24 dev br0
pxs addr add 192.0.2.10/24 dev br0
settle 3
st
proc
step "arp_interval 0 stops the monitor"
wb arp_interval 0
settle 1
st
finish
