#!/bin/sh
# rtnl-config: bonds configured over rtnetlink with iproute2's ip (create with
# options, enslave, option change, release, delete) with the sysfs and procfs
# views after each step, and the error texts and exit statuses of bad requests.
. "${ORACLE_LIB:-$(dirname "$0")/lib.sh}"
load_bonding max_bonds=0
mkveth 0 1

step "ip link add bond1 type bond mode 802.3ad miimon 100 lacp_rate fast"
x ip link add bond1 type bond mode 802.3ad miimon 100 lacp_rate fast
r "$SYS/bonding_masters"
r "$SYS/bond1/bonding/mode" "$SYS/bond1/bonding/miimon" "$SYS/bond1/bonding/lacp_rate" "$SYS/bond1/bonding/slaves"
proc bond1

step "ip link set eth0 master bond1"
x ip link set eth0 master bond1
r "$SYS/bond1/bonding/slaves" "$SYS/eth0/bonding_slave/state"
proc bond1

step "ip link set bond1 type bond miimon 200"
x ip link set bond1 type bond miimon 200
r "$SYS/bond1/bonding/miimon"

step "ip link set eth0 nomaster"
x ip link set eth0 nomaster
r "$SYS/bond1/bonding/slaves"

step "errors"
x ip link add bond1 type bond
x ip link add bond2 type bond mode balance-rr lacp_rate fast
r "$SYS/bonding_masters"
x ip link add bond3 type bond mode 802.3ad ad_actor_system 01:00:00:00:00:01
r "$SYS/bonding_masters"
x ip link add bond4 type bond arp_interval 100 miimon 100
x ip link add bond5 type bond mode active-backup arp_validate active miimon 100
x ip link add bond6 type bond num_grat_arp 300
x ip link add bond7 type bond tlb_dynamic_lb 0
x ip link add bond8 type bond xmit_hash_policy layer9
x ip link set bond1 type bond mode balance-rr
x ip link set eth0 master bond1
x ip link set bond1 type bond mode balance-rr
x ip link set eth1 master eth0
x ip link set bond1 master bond1
x ip link set eth0 type bond_slave queue_id 3
r "$SYS/eth0/bonding_slave/queue_id"
x ip link set eth0 type bond_slave queue_id 70000
x ip link set eth0 nomaster
r "$SYS/bonding_masters"

step "ip link del bond1"
x ip link del bond1
r "$SYS/bonding_masters"
x ip link del bond1
x ip link add bond%d type bond
r "$SYS/bonding_masters"

step "NLM_F_ECHO (ip -echo): 6.1's rtnl_newlink sends no echo"
x ip -echo link add bond1 type bond mode 1
x ip -echo link set bond1 type bond miimon 100
r "$SYS/bond1/bonding/miimon"
x ip link del bond1
