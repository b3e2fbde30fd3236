#!/bin/sh
# 802.3ad: a port loses its LACP partner while its link stays up (the peer
# releases the port, so no more LACPDUs arrive): current_while expires, the
# port goes defaulted and leaves the aggregator; the churn machines report it
# after the churn detection time. bond0 (eth0, eth1) <-> bond1 (p0, p1), fast.
. "${ORACLE_LIB:-$(dirname "$0")/lib.sh}"
# boot noise that can arrive after the first klog_reset on a loaded host
_KLOG_DROP="$_KLOG_DROP|^tsc: |^clocksource: "
load_bonding
mkveth 0 1
S=$SYS/bond0/bonding/slaves
ad() {
    rb ad_aggregator ad_num_ports ad_partner_key ad_partner_mac
    for d in eth0 eth1; do
        r "$SYS/$d/bonding_slave/ad_aggregator_id" "$SYS/$d/bonding_slave/ad_actor_oper_port_state" \
          "$SYS/$d/bonding_slave/ad_partner_oper_port_state" "$SYS/$d/bonding_slave/state"
    done
}

step "setup: bond0 (eth0, eth1) <-> bond1 (p0, p1)"
w "$SYS/bonding_masters" "+bond1"
q ip link set bond1 address 02:00:00:00:b1:00
note "bond1 MAC set to 02:00:00:00:b1:00"
for b in bond0 bond1; do
    w "$SYS/$b/bonding/mode" "802.3ad"
    w "$SYS/$b/bonding/lacp_rate" "fast"
    w "$SYS/$b/bonding/miimon" "100"
done
xs ip link set p0 down
xs ip link set p1 down
w "$SYS/bond1/bonding/slaves" "+p0"
w "$SYS/bond1/bonding/slaves" "+p1"
ws "+eth0"
ws "+eth1"
xs ip link set bond1 up
xs ip link set bond0 up
settle_bybond 6
ad
proc

step "bond1 releases p1; p1 stays up and silent"
w "$SYS/bond1/bonding/slaves" "-p1"
xs ip link set p1 up
settle_bybond 6
ad
proc
step "after the churn detection time"
settle_bybond 62
ad
proc
step "p1 enslaved to bond1 again"
xs ip link set p1 down
w "$SYS/bond1/bonding/slaves" "+p1"
settle_bybond 6
ad
proc
finish
