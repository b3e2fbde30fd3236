#!/bin/sh
# The extended statistics of a bond and a port over RTM_GETSTATS (issue
# 17): the shape (attribute types, nesting, sizes) of IFLA_STATS_LINK_XSTATS
# and IFLA_STATS_LINK_XSTATS_SLAVE, as bond_fill_linkxstats fills them in
# 802.3ad and in active-backup. Prepended with nldump by
# testdata/rtnl/record.sh.
. "${ORACLE_LIB:-$(dirname "$0")/lib.sh}"
_KLOG_DROP="$_KLOG_DROP|^tsc: |^clocksource: "
NLDUMP=${NLDUMP:-/tmp/nldump}
nld() { echo "\$ nldump $*"; "$NLDUMP" "$@" 2>&1 | sed 's/^/| /'; }
load_bonding
mkveth 0 1
for m in 802.3ad active-backup; do
    step "$m"
    [ -d "$SYS/bond0" ] || w "$SYS/bonding_masters" "+bond0"
    wb mode "$m"
    wb miimon 100
    ws "+eth0"
    xs ip link set bond0 up
    settle 2
    nld -stats bond0
    nld -stats eth0
    nld -stats eth1
    xs ip link set bond0 down
    ws "-eth0"
    w "$SYS/bonding_masters" "-bond0"
    settle 1
done
finish
