#!/bin/sh
# The ARP monitor's first run comes when the bond opens (issue 19, item
# 18): bond_open queues the ARP work with no delay. Active-backup,
# arp_interval 10000, arp_validate active, a target without a route (the
# namespace has none): "no route to arp_ip_target ... and arp_validate is
# set" is logged at once, not 10 s later, and only once (pr_warn_once).
. "${ORACLE_LIB:-$(dirname "$0")/lib.sh}"
# boot noise that can arrive after the first klog_reset on a loaded host
_KLOG_DROP="$_KLOG_DROP|^tsc: |^clocksource: "
load_bonding
mkveth 0 1
S=$SYS/bond0/bonding/slaves

step "active-backup, arp_interval 10000, arp_validate active, arp_ip_target 198.51.100.9 (no route)"
wb mode active-backup
wb arp_interval 10000
wb arp_validate active
wb arp_ip_target +198.51.100.9
ws "+eth0"
ws "+eth1"
step "bond0 up: the first probe at once"
xs ip link set bond0 up
settle 2
rb active_slave arp_interval arp_validate arp_ip_target
step "down and up again: no second warning"
xs ip link set bond0 down
settle 1
xs ip link set bond0 up
settle 2
rb active_slave
ws "-eth0"
ws "-eth1"
finish
