#!/bin/sh
# 802.3ad aggregator selection: bond0 (eth0, eth1, eth2) faces two partner
# systems, bond1 (p0) and bond2 (p1, p2), so its ports form two aggregators.
# ad_select stable keeps the aggregator that came up first; count and
# bandwidth move to the one with more ports when it comes up. lacp_rate fast.
. "${ORACLE_LIB:-$(dirname "$0")/lib.sh}"
# boot noise that can arrive after the first klog_reset on a loaded host
_KLOG_DROP="$_KLOG_DROP|^tsc: |^clocksource: "
load_bonding
mkveth 0 1 2
S=$SYS/bond0/bonding/slaves
ad() {
    rb ad_select ad_aggregator ad_num_ports ad_actor_key ad_partner_key ad_partner_mac
    for d in "$@"; do
        r "$SYS/$d/bonding_slave/ad_aggregator_id" "$SYS/$d/bonding_slave/ad_actor_oper_port_state" \
          "$SYS/$d/bonding_slave/ad_partner_oper_port_state" "$SYS/$d/bonding_slave/state"
    done
}

step "partners: bond1 (p0) and bond2 (p1, p2), 802.3ad, lacp_rate fast"
w "$SYS/bonding_masters" "+bond1"
w "$SYS/bonding_masters" "+bond2"
q ip link set bond1 address 02:00:00:00:b1:00
q ip link set bond2 address 02:00:00:00:b2:00
note "bond1 MAC 02:00:00:00:b1:00, bond2 MAC 02:00:00:00:b2:00"
for b in bond1 bond2; do
    w "$SYS/$b/bonding/mode" "802.3ad"
    w "$SYS/$b/bonding/lacp_rate" "fast"
    w "$SYS/$b/bonding/miimon" "100"
done
xs ip link set p0 down
xs ip link set p1 down
xs ip link set p2 down
w "$SYS/bond1/bonding/slaves" "+p0"
w "$SYS/bond2/bonding/slaves" "+p1"
w "$SYS/bond2/bonding/slaves" "+p2"

step "bond0 ad_select stable: only the link to bond1 comes up first"
wb mode 802.3ad
wb lacp_rate fast
wb miimon 100
wb ad_select stable
ws "+eth0"
ws "+eth1"
ws "+eth2"
xs ip link set bond1 up
xs ip link set bond2 up
xs ip link set bond0 up
xs ip link set p0 up
settle_bybond 6
ad eth0 eth1 eth2
proc
step "stable: the two links to bond2 come up; the active aggregator stays"
xs ip link set p1 up
settle_bybond 2
xs ip link set p2 up
settle_bybond 6
ad eth0 eth1 eth2
proc
r "$PROC/bond2"

step "ad_select count needs the bond down"
wb ad_select count
rb ad_select
step "count: bond0 down and up again with only p0 up, then p1 and p2"
xs ip link set bond0 down
xs ip link set p1 down
settle_bybond 1
xs ip link set p2 down
settle_bybond 1
wb ad_select count
xs ip link set bond0 up
settle_bybond 6
ad eth0 eth1 eth2
xs ip link set p1 up
settle_bybond 2
xs ip link set p2 up
settle_bybond 6
ad eth0 eth1 eth2
proc

step "bandwidth: the same with ad_select bandwidth"
xs ip link set bond0 down
xs ip link set p1 down
settle_bybond 1
xs ip link set p2 down
settle_bybond 1
wb ad_select bandwidth
xs ip link set bond0 up
settle_bybond 6
ad eth0 eth1 eth2
xs ip link set p1 up
settle_bybond 2
xs ip link set p2 up
settle_bybond 6
ad eth0 eth1 eth2
proc

step "bandwidth: a port of the active aggregator fails, then both"
xs ip link set p1 down
settle_bybond 6
ad eth0 eth1 eth2
xs ip link set p2 down
settle_bybond 6
ad eth0 eth1 eth2
proc
finish
