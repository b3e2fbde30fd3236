#!/bin/sh
# 802.3ad min_links: the bond's carrier follows the number of ports in the
# active aggregator (bond_3ad_set_carrier). bond0 (eth0, eth1) <-> bond1
# (p0, p1), lacp_rate fast.
. "${ORACLE_LIB:-$(dirname "$0")/lib.sh}"
# boot noise that can arrive after the first klog_reset on a loaded host
_KLOG_DROP="$_KLOG_DROP|^tsc: |^clocksource: "
load_bonding
mkveth 0 1
S=$SYS/bond0/bonding/slaves
st() {
    rb min_links mii_status ad_num_ports
    link bond0
}

step "setup: bond0 (eth0, eth1) <-> bond1 (p0, p1), min_links 2 on bond0"
w "$SYS/bonding_masters" "+bond1"
q ip link set bond1 address 02:00:00:00:b1:00
note "bond1 MAC set to 02:00:00:00:b1:00"
for b in bond0 bond1; do
    w "$SYS/$b/bonding/mode" "802.3ad"
    w "$SYS/$b/bonding/lacp_rate" "fast"
    w "$SYS/$b/bonding/miimon" "100"
done
try min_links 2 -1 65536 bogus
xs ip link set p0 down
xs ip link set p1 down
w "$SYS/bond1/bonding/slaves" "+p0"
w "$SYS/bond1/bonding/slaves" "+p1"
ws "+eth0"
ws "+eth1"
xs ip link set bond1 up
xs ip link set bond0 up
settle_bybond 6
st
proc

step "one link fails: fewer ports than min_links"
xs ip link set p1 down
settle_bybond 6
st
proc
step "min_links 1 while up"
wb min_links 1
settle_bybond 2
st
step "min_links 2 again, the link comes back"
wb min_links 2
settle_bybond 2
st
xs ip link set p1 up
settle_bybond 6
st
proc
step "min_links 3: never enough"
wb min_links 3
settle_bybond 2
st
wb min_links 0
settle_bybond 2
st
finish
