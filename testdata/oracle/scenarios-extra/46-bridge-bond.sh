#!/bin/sh
# A bridge and a bond side by side: the class/net entries are links into
# devices/virtual/net; a bridge's ports have master -> ../br0 and upper_br0,
# br0 has lower_<port>; a bond's slaves have the bond's links; a bond that is
# itself a port of the bridge carries both kinds.
. "${ORACLE_LIB:-$(dirname "$0")/lib.sh}"
# the bridge's own log lines (port states, promiscuous mode) are not the
# bonding driver's; boot noise that can arrive after the first klog_reset
_KLOG_DROP="$_KLOG_DROP|^br0: |^bridge: |promiscuous mode|^tsc: |^clocksource: "
load_bonding
[ "$ORACLE_ENV" = kernel ] && q modprobe bridge
mkveth 0 1 2 3
q ip link add br0 type bridge forward_delay 0 stp_state 0
note "bridge br0 (no STP, forward_delay 0), down"
rl() { echo "readlink $(_disp "$1") => $(readlink "$1" 2>&1)"; } # rl PATH : a link's text

step "class/net entries are links into devices/"
rl "$SYS/bond0"
rl "$SYS/br0"
rl "$SYS/eth2"
links bond0
links br0

step "two ports in the bridge"
x ip link set eth2 master br0
x ip link set eth3 master br0
links br0
links eth2
links eth3
rl "$SYS/eth2/master"

step "two slaves in the bond beside it"
wb mode active-backup
ws +eth0
ws +eth1
links bond0
links eth0
links eth1
links br0
rl "$SYS/eth0/master"

step "the bond as a port of the bridge"
x ip link set bond0 master br0
links bond0
links br0
rl "$SYS/bond0/master"
links eth0

step "ports leave the bridge and the bond"
x ip link set bond0 nomaster
x ip link set eth2 nomaster
links bond0
links br0
links eth2
ws -eth1
links bond0
links eth1
links eth3
finish
