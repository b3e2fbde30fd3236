#!/bin/sh
# 802.3ad actor settings: ad_actor_sys_prio, ad_actor_system and
# ad_user_port_key change what the partner sees (bond1's /proc shows them as
# partner details). bond0 (eth0, eth1) <-> bond1 (p0, p1), lacp_rate fast.
. "${ORACLE_LIB:-$(dirname "$0")/lib.sh}"
# boot noise that can arrive after the first klog_reset on a loaded host
_KLOG_DROP="$_KLOG_DROP|^tsc: |^clocksource: "
load_bonding
mkveth 0 1
S=$SYS/bond0/bonding/slaves
ad() {
    rb ad_actor_sys_prio ad_actor_system ad_user_port_key ad_actor_key ad_aggregator ad_num_ports ad_partner_key ad_partner_mac
    r "$SYS/bond1/bonding/ad_partner_key" "$SYS/bond1/bonding/ad_partner_mac" "$SYS/bond1/bonding/ad_num_ports"
}
cycle() { # bond0 down, apply option writes, up, settle
    xs ip link set bond0 down
    settle_bybond 1
    while [ $# -gt 1 ]; do wb "$1" "$2"; shift 2; done
    xs ip link set bond0 up
    settle_bybond 6
    ad
    proc
    r "$PROC/bond1"
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

step "writes while up"
try ad_actor_sys_prio 100
try ad_actor_system 02:00:00:00:ad:01
try ad_user_port_key 5

step "ad_actor_sys_prio limits"
xs ip link set bond0 down
settle_bybond 1
try ad_actor_sys_prio 0 1 65535 65536 -1 bogus
try ad_user_port_key 1023 1024 -1
step "ad_actor_sys_prio 100"
cycle ad_actor_sys_prio 100
step "ad_actor_system 02:00:00:00:ad:01"
cycle ad_actor_system 02:00:00:00:ad:01
step "ad_user_port_key 5"
cycle ad_user_port_key 5
step "back to the defaults"
cycle ad_actor_sys_prio 65535 ad_actor_system 00:00:00:00:00:00 ad_user_port_key 0
finish
