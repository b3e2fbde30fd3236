#!/bin/sh
# 802.3ad lacp_active: two passive bonds back to back never negotiate (no
# LACPDUs); an active one facing a passive one does. lacp_rate fast.
. "${ORACLE_LIB:-$(dirname "$0")/lib.sh}"
# boot noise that can arrive after the first klog_reset on a loaded host
_KLOG_DROP="$_KLOG_DROP|^tsc: |^clocksource: "
load_bonding
mkveth 0 1
S=$SYS/bond0/bonding/slaves
ad() {
    rb lacp_active ad_aggregator ad_num_ports ad_partner_key ad_partner_mac
    for d in "$@"; do
        r "$SYS/$d/bonding_slave/ad_aggregator_id" "$SYS/$d/bonding_slave/ad_actor_oper_port_state" \
          "$SYS/$d/bonding_slave/ad_partner_oper_port_state"
    done
}
pair() { # pair ACTIVE0 ACTIVE1 : bond0 (eth0, eth1) and bond1 (p0, p1) with lacp_active as given
    xs ip link set bond0 down
    xs ip link set bond1 down
    settle_bybond 1
    wb lacp_active "$1"
    w "$SYS/bond1/bonding/lacp_active" "$2"
    xs ip link set bond1 up
    xs ip link set bond0 up
    settle_bybond 6
    ad eth0 eth1
    proc
    r "$PROC/bond1"
}

step "setup: bond0 (eth0, eth1) and bond1 (p0, p1), 802.3ad, lacp_rate fast, both passive"
w "$SYS/bonding_masters" "+bond1"
q ip link set bond1 address 02:00:00:00:b1:00
note "bond1 MAC set to 02:00:00:00:b1:00"
for b in bond0 bond1; do
    w "$SYS/$b/bonding/mode" "802.3ad"
    w "$SYS/$b/bonding/lacp_rate" "fast"
    w "$SYS/$b/bonding/miimon" "100"
    w "$SYS/$b/bonding/lacp_active" "off"
done
xs ip link set p0 down
xs ip link set p1 down
w "$SYS/bond1/bonding/slaves" "+p0"
w "$SYS/bond1/bonding/slaves" "+p1"
ws "+eth0"
ws "+eth1"
step "lacp_active while up"
xs ip link set bond0 up
wb lacp_active on
rb lacp_active
xs ip link set bond0 down
settle 0.5

step "passive <-> passive"
pair off off
step "passive bond0 <-> active bond1"
pair off on
step "active bond0 <-> passive bond1"
pair on off
step "active <-> active"
pair on on
finish
