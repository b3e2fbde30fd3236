#!/bin/sh
# 802.3ad aggregator IDs (issue 19, item 17): three 802.3ad bonds in one
# namespace. bond0 (eth0, eth1, eth2) faces two partner systems, bond1 (p0)
# and bond2 (p1, p2), lacp_rate fast, miimon 100. The aggregator each port
# lands in, on all three bonds: after the LAGs form, after ad_actor_sys_prio
# changes while up, after ad_user_port_key changes (bond down and up), and
# after two ports are released and enslaved again (the slave order changes
# and the new ports get new aggregator numbers). The kernel's choice is a
# function of slave order, LACPDU contents and the tick: repeatable.
. "${ORACLE_LIB:-$(dirname "$0")/lib.sh}"
# boot noise that can arrive after the first klog_reset on a loaded host
_KLOG_DROP="$_KLOG_DROP|^tsc: |^clocksource: "
# a state machine run that falls inside a release on the kernel (rare, a
# race of bond_3ad_state_machine_handler with __bond_release_one)
_KLOG_DROP="$_KLOG_DROP|: Warning: Found an uninitialized port$"
load_bonding
mkveth 0 1 2
S=$SYS/bond0/bonding/slaves
agg() { # aggregator of every bond and port
    for b in bond0 bond1 bond2; do
        r "$SYS/$b/bonding/ad_aggregator" "$SYS/$b/bonding/ad_num_ports" "$SYS/$b/bonding/ad_partner_mac"
    done
    for d in eth0 eth1 eth2 p0 p1 p2; do
        r "$SYS/$d/bonding_slave/ad_aggregator_id" "$SYS/$d/bonding_slave/ad_actor_oper_port_state" \
          "$SYS/$d/bonding_slave/state"
    done
}

procnc() { # /proc/net/bonding/bond0 without the churn lines (the churn
    # machine's 60 s timer runs in wall-clock time, which varies from run to run)
    grep -v Churn "$PROC/bond0" >"$_T/pnc" 2>&1
    _show "r $(_disp "$PROC/bond0") (churn lines left out)" "$_T/pnc"
    _klog
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

step "bond0 (eth0, eth1, eth2) ad_select count: the link to bond1 first, then the two to bond2"
wb mode 802.3ad
wb lacp_rate fast
wb miimon 100
wb ad_select count
ws "+eth0"
ws "+eth1"
ws "+eth2"
xs ip link set bond1 up
xs ip link set bond2 up
xs ip link set bond0 up
xs ip link set p0 up
settle_bybond 6
agg
xs ip link set p1 up
settle_bybond 2
xs ip link set p2 up
settle_bybond 6
agg
procnc

step "ad_actor_sys_prio 100 on bond0 while up"
wb ad_actor_sys_prio 100
settle_bybond 6
agg

step "ad_actor_sys_prio 200 on bond2 while up"
w "$SYS/bond2/bonding/ad_actor_sys_prio" "200"
settle_bybond 6
agg

step "ad_user_port_key 5 on bond0 (down, write, up)"
xs ip link set bond0 down
settle_bybond 2
wb ad_user_port_key 5
xs ip link set bond0 up
settle_bybond 8
agg

step "ad_user_port_key 3 on bond2 (down, write, up)"
xs ip link set bond2 down
settle_bybond 2
w "$SYS/bond2/bonding/ad_user_port_key" "3"
xs ip link set bond2 up
settle_bybond 8
agg
procnc

step "re-enslave eth1 and eth2 (links to bond2 down meanwhile): the slave order becomes eth0, eth2, eth1"
xs ip link set p1 down
settle_bybond 1
xs ip link set p2 down
settle_bybond 2
wa "$S" "-eth1"
wa "$S" "-eth2"
settle_bybond 1
wa "$S" "+eth2"
wa "$S" "+eth1"
settle_bybond 2
agg
xs ip link set p1 up
settle_bybond 2
xs ip link set p2 up
settle_bybond 8
agg
procnc
finish
