#!/bin/sh
# Numeric options not probed in depth by the shared scenarios: min_links,
# packets_per_slave, lp_interval, resend_igmp, num_grat_arp/num_unsol_na (one
# value behind two files), peer_notif_delay (miimon 0 and 100), arp_missed_max,
# ad_actor_sys_prio/ad_user_port_key (outside and inside 802.3ad, bond up),
# use_carrier, all_slaves_active: numbers, value names (default, maxval,
# minval, off), one past the maximum, negative, hex, "+5", trailing garbage,
# empty, writes without a newline, each read back.
. "${ORACLE_LIB:-$(dirname "$0")/lib.sh}"
load_bonding

malformed() { # malformed OPTION: the common malformed values, each read back
    try "$1" -1 0x10 +5 5abc "5 6" "" " " " 7" "07" bogus
}
wnr() { # wnr OPTION VALUE: write without a newline, read back
    wn "$SYS/$B/bonding/$1" "$2"
    rb "$1"
}

step "min_links: numbers and names"
try min_links 3 default 2147483647 maxval 0 minval 2147483648 4294967297 off 1
step "min_links: malformed values"
malformed min_links
wnr min_links 4
wnr min_links 4x

step "packets_per_slave (balance-rr): numbers and names"
try packets_per_slave 0 7 65535 maxval default 65536 minval off 1 -0
step "packets_per_slave: malformed values"
malformed packets_per_slave
wnr packets_per_slave 9
step "packets_per_slave outside balance-rr"
for m in 1 2 4 6; do wb mode $m; try packets_per_slave 3; done
wb mode 0
rb packets_per_slave

step "lp_interval: numbers and names"
try lp_interval 5 0 1 2147483647 2147483648 default minval maxval off 10
step "lp_interval: malformed values"
malformed lp_interval
wnr lp_interval 20

step "resend_igmp: numbers and names"
try resend_igmp 0 255 256 default maxval minval off 3 1000
step "resend_igmp: malformed values"
malformed resend_igmp
wnr resend_igmp 6

step "num_grat_arp / num_unsol_na: one value behind both files"
for v in 3 255 256 default maxval minval off 0 9; do
    wb num_grat_arp "$v"; rb num_grat_arp num_unsol_na
done
step "num_unsol_na written, num_grat_arp read"
for v in 7 256 default 0 -1 0x10 +5 5abc "5 6" ""; do
    wb num_unsol_na "$v"; rb num_unsol_na num_grat_arp
done
wn "$SYS/$B/bonding/num_unsol_na" "12"
rb num_grat_arp num_unsol_na

step "peer_notif_delay with miimon 0"
rb miimon
try peer_notif_delay 0 100 200 default maxval 300000 300001 off -1 minval
proc
step "peer_notif_delay with miimon 100"
try miimon 100
try peer_notif_delay 150 250 default maxval minval 300000 0x10 "5 6" 5abc ""
wnr peer_notif_delay 400
proc
try miimon 0
rb peer_notif_delay

step "arp_missed_max: numbers and names"
try arp_missed_max 1 0 255 256 default maxval minval off 3 2
step "arp_missed_max: malformed values"
malformed arp_missed_max
wnr arp_missed_max 4
step "arp_missed_max in active-backup, 802.3ad, balance-tlb, balance-alb"
for m in 1 4 5 6; do wb mode $m; try arp_missed_max 5; done
wb mode 0

step "ad_actor_sys_prio / ad_user_port_key outside 802.3ad"
for m in 0 1 2; do
    wb mode $m
    try ad_actor_sys_prio 100 bogus
    try ad_user_port_key 5
done
wb mode 0

step "ad_actor_sys_prio (802.3ad): numbers and names"
wb mode 802.3ad
try ad_actor_sys_prio 1 0 65535 65536 default maxval minval 100 off
step "ad_actor_sys_prio: malformed values"
malformed ad_actor_sys_prio
wnr ad_actor_sys_prio 200

step "ad_user_port_key (802.3ad): numbers and names"
try ad_user_port_key 0 1023 1024 default maxval minval 7 off 65535
step "ad_user_port_key: malformed values"
malformed ad_user_port_key
wnr ad_user_port_key 11

step "ad_actor_sys_prio / ad_user_port_key while the bond is up"
x ip link set bond0 up
try ad_actor_sys_prio 300 bogus
try ad_user_port_key 12 2000
x ip link set bond0 down
try ad_actor_sys_prio 300
try ad_user_port_key 12
wb mode 0
rb ad_actor_sys_prio ad_user_port_key

step "use_carrier: numbers and names"
try use_carrier 0 1 2 on off default maxval minval 0
step "use_carrier: malformed values"
try use_carrier -1 0x1 +1 1abc "1 0" "" " " " 1" "01" ON
wnr use_carrier 0
wnr use_carrier on

step "all_slaves_active: numbers and names"
try all_slaves_active 1 0 2 on off default maxval minval 1
step "all_slaves_active: malformed values"
try all_slaves_active -1 0x1 +0 0abc "0 1" "" " " " 0" "00" OFF
wnr all_slaves_active 0
wnr all_slaves_active on
finish
