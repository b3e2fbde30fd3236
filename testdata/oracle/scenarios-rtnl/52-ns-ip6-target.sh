#!/bin/sh
# ns_ip6_target (netlink only in 6.1) set with iproute2's ip: the option's
# errors and log lines, the procfs "NS IPv6 target/s" line and the absent
# sysfs file. 53-ns-ab runs the NS monitor itself.
. "${ORACLE_LIB:-$(dirname "$0")/lib.sh}"
_KLOG_DROP="$_KLOG_DROP|^tsc: |^clocksource: "
load_bonding max_bonds=0
mkveth 0 1

step "ip link add bond0 with two NS targets"
x ip link add bond0 type bond mode active-backup arp_interval 250 ns_ip6_target 2001:db8::9,2001:db8::5efe:c000:201
r "$SYS/bonding_masters" "$SYS/bond0/bonding/ns_ip6_target"
proc bond0

step "invalid targets"
x ip link set bond0 type bond ns_ip6_target ::
proc bond0
x ip link set bond0 type bond ns_ip6_target ::1
x ip link set bond0 type bond ns_ip6_target ff02::1
x ip link set bond0 type bond ns_ip6_target 2001:db8::9,2001:db8::9
proc bond0
x ip link set bond0 type bond ns_ip6_target 2001:db8::9,::ffff:192.0.2.1,fe80::1
proc bond0
x ip link set bond0 type bond ns_ip6_target 192.0.2.1
x ip link set bond0 type bond ns_ip6_target 2001:db8::1,2001:db8::2,2001:db8::3,2001:db8::4,2001:db8::5,2001:db8::6,2001:db8::7,2001:db8::8,2001:db8::a,2001:db8::b,2001:db8::c,2001:db8::d,2001:db8::e,2001:db8::f,2001:db8::10,2001:db8::11,2001:db8::12
proc bond0

step "clearing the targets"
x ip link set bond0 type bond ns_ip6_target ""
proc bond0
x ip link set bond0 type bond arp_interval 0 ns_ip6_target ""
proc bond0

step "ns_ip6_target in every mode"
x ip link add bond2 type bond mode 802.3ad ns_ip6_target 2001:db8::5
proc bond2
x ip link del bond2

finish
