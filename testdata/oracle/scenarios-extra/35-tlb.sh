#!/bin/sh
# balance-tlb, miimon 100, three slaves: slave states and MACs (each slave
# keeps its own MAC, the bond takes the first slave's), the active (receiving)
# slave failing and coming back (the MAC swap), manual active_slave, primary,
# tlb_dynamic_lb, releasing the active slave and every slave.
. "${ORACLE_LIB:-$(dirname "$0")/lib.sh}"
# boot noise that can arrive after the first klog_reset on a loaded host
_KLOG_DROP="$_KLOG_DROP|^tsc: |^clocksource: "
load_bonding
mkveth 0 1 2
S=$SYS/bond0/bonding/slaves
st() {
    rb active_slave mii_status
    for d in "$@"; do r "$SYS/$d/bonding_slave/state" "$SYS/$d/bonding_slave/mii_status" "$SYS/$d/bonding_slave/perm_hwaddr"; done
    mac bond0 "$@"
}

step "balance-tlb, miimon 100, slaves added while down"
wb mode balance-tlb
wb miimon 100
rb mode tlb_dynamic_lb lp_interval xmit_hash_policy
ws "+eth0"
ws "+eth1"
st eth0 eth1
proc
step "bond up, third slave added while up"
xs ip link set bond0 up
settle 2
ws "+eth2"
settle 2
st eth0 eth1 eth2
proc
step "the active slave's link fails"
xs ip link set p0 down
settle 2
st eth0 eth1 eth2
proc
step "it comes back"
xs ip link set p0 up
settle 2
st eth0 eth1 eth2
step "active_slave eth2, then primary eth0"
wb active_slave eth2
settle 1
st eth0 eth1 eth2
wb primary eth0
settle 1
st eth0 eth1 eth2
proc
wb primary ""
step "tlb_dynamic_lb and lp_interval"
try lp_interval 5 0 2147483647 bogus
wb lp_interval 1
wb tlb_dynamic_lb 0
xs ip link set bond0 down
settle 1
try tlb_dynamic_lb 0 1 2 bogus
wb tlb_dynamic_lb 0
xs ip link set bond0 up
settle 2
rb tlb_dynamic_lb xmit_hash_policy
proc
step "releasing the active slave"
A=$(cat "$SYS/bond0/bonding/active_slave")
ws "-$A"
settle 1
st eth0 eth1 eth2
proc
step "releasing every slave"
ws "-eth0"
ws "-eth1"
ws "-eth2"
settle 1
rb slaves active_slave mii_status
mac bond0 eth0 eth1 eth2
proc
finish
