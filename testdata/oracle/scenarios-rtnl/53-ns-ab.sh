#!/bin/sh
# NS monitor in active-backup: the bond's only monitor is the NS monitor
# (arp_interval 1000, ns_ip6_target 2001:db8::9 on a bridge in the peer
# namespace, no arp_ip_target, arp_validate none); the active slave's path
# dies (its peer port leaves the bridge, carrier stays up) and the bond
# fails over; the path comes back.
. "${ORACLE_LIB:-$(dirname "$0")/lib.sh}"
_KLOG_DROP="$_KLOG_DROP|^tsc: |^clocksource: "
load_bonding max_bonds=0
mkveth 0 1
mkpeer 0 1
# IPv6 on br0 only (p0 and p1 stay silent when they leave the bridge)
q ip netns exec "$_PEERNS" sh -c 'echo 0 >/proc/sys/net/ipv6/conf/br0/disable_ipv6'
pxs -6 addr add 2001:db8::9/64 dev br0 nodad
st() {
    rb active_slave mii_status
    for d in eth0 eth1; do r "$SYS/$d/bonding_slave/state" "$SYS/$d/bonding_slave/mii_status"; done
}

step "NS monitor: active-backup, arp_interval 1000, ns_ip6_target 2001:db8::9"
x ip link add bond0 type bond mode active-backup arp_interval 1000 ns_ip6_target 2001:db8::9
q ip -6 addr add 2001:db8::1/64 dev bond0 nodad
xs ip link set bond0 up
settle 1
ws "+eth0"
ws "+eth1"
settle 8
st
proc bond0

step "the active slave's path dies (p0 leaves br0)"
pxs link set p0 nomaster
settle 8
st

step "the path comes back"
pxs link set p0 master br0
settle 8
st
finish
