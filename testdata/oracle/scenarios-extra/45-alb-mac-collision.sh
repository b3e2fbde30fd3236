#!/bin/sh
# balance-alb, miimon 100, four slaves: the MAC address rules of bond_alb.c.
# A slave coming back with the bond's address gets the free permanent address
# of another slave, with the kernel's warning
# (alb_handle_addr_collision_on_attach); an interface with the bond's address
# when no address is free is refused with the kernel's error; a slave
# released with another slave's address takes its own back
# (alb_change_hw_addr_on_detach). An enslave reselects the active slave: with
# no primary the first slave with an up link wins (6.0+), and the new active
# slave takes the bond's address (bond_alb_handle_active_change).
. "${ORACLE_LIB:-$(dirname "$0")/lib.sh}"
# boot noise that can arrive after the first klog_reset on a loaded host
_KLOG_DROP="$_KLOG_DROP|^tsc: |^clocksource: "
load_bonding
mkveth 0 1 2 3
st() {
    rb active_slave
    for d in "$@"; do r "$SYS/$d/bonding_slave/state"; done
    mac bond0 "$@"
}

step "balance-alb, three slaves, bond up"
wb mode balance-alb
wb miimon 100
ws "+eth0"
ws "+eth1"
ws "+eth2"
xs ip link set bond0 up
settle 2
st eth0 eth1 eth2
step "eth2 made active: it and eth0 swap addresses"
wb active_slave eth2
settle 1
st eth0 eth1 eth2
step "eth0 released: eth2's own address is now free"
ws "-eth0"
settle 1
st eth1 eth2
mac eth0
step "eth0 enslaved again: its address is the bond's, it is given eth2's"
ws "+eth0"
settle 1
st eth0 eth1 eth2
proc
step "an interface with the bond's address while no address is free"
xs ip link set eth3 address 02:00:00:00:00:01
ws "+eth3"
settle 1
rb slaves
mac eth3
step "eth2 released: it takes its own address back from eth0, eth1 learns eth2's"
ws "-eth2"
settle 1
st eth0 eth1
mac eth2
proc
step "releasing every slave"
ws "-eth0"
ws "-eth1"
settle 1
rb slaves active_slave
mac eth0 eth1 eth2
finish
