#!/bin/sh
# ARP monitor in active-backup with arp_validate all (arp_interval 250, one
# target behind a bridge in the peer namespace): the target falls silent
# (its address is removed, the bridge stays up) and the bond loses its
# carrier; the target answers again and the bond and both slaves come back.
# While no slave is up the monitor probes through the slaves in turn, so
# which slave comes back first, and becomes active, varies from run to run:
# after the first step only the bond's and the slaves' MII status are read,
# and the log lines naming the slaves that change state are not compared.
. "${ORACLE_LIB:-$(dirname "$0")/lib.sh}"
# boot noise that can arrive after the first klog_reset on a loaded host
_KLOG_DROP="$_KLOG_DROP|^tsc: |^clocksource: "
load_bonding
mkveth 0 1
mkpeer 0 1
pxs addr add 192.0.2.9/24 dev br0
S=$SYS/bond0/bonding/slaves

step "setup: active-backup, arp_interval 250, arp_ip_target 192.0.2.9, arp_validate all, slaves enslaved into the running bond"
wb mode active-backup
wb arp_interval 250
wb arp_ip_target +192.0.2.9
wb arp_validate all
xs ip link set bond0 up
q ip addr replace 192.0.2.1/24 dev bond0
ws "+eth0"
ws "+eth1"
settle 3
rb active_slave mii_status
for d in eth0 eth1; do r "$SYS/$d/bonding_slave/state" "$SYS/$d/bonding_slave/mii_status"; done
_KLOG_DROP="$_KLOG_DROP|: link status definitely|making interface the new active one|: backup interface is now down"
step "the target falls silent"
pxs addr del 192.0.2.9/24 dev br0
settle 6
rb mii_status
step "the target answers again"
pxs addr add 192.0.2.9/24 dev br0
settle 6
rb mii_status
for d in eth0 eth1; do r "$SYS/$d/bonding_slave/mii_status"; done
finish
