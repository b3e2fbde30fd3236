#!/bin/sh
# The rtnetlink view of a bond, for every mode (issue 17): `ip -d link show`,
# `ip -d -j link show` of the bond and a port, `ip monitor link` around an
# enslave, `ip link show master bond0`, and the raw link messages (nldump,
# rtnl/nltext's text form: attribute order, types, sizes and bytes of
# IFLA_LINKINFO) of the bond and both ports, as Linux 6.1 sends them.
#
# Not runnable as is: testdata/rtnl/record.sh prepends the statically linked
# nldump (testdata/rtnl/nldump) and records it with the oracle's
# make-golden.sh.
. "${ORACLE_LIB:-$(dirname "$0")/lib.sh}"
_KLOG_DROP="$_KLOG_DROP|^tsc: |^clocksource: "
NLDUMP=${NLDUMP:-/tmp/nldump}

# MAC addresses the scenario did not set print as <random> (lib.sh _normmac)
normmac() {
    sed -E -e 's/02:00:00:([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2})/02=00=00=\1=\2=\3/g' \
        -e 's/ff:ff:ff:ff:ff:ff/ff=ff=ff=ff=ff=ff/g' -e 's/00:00:00:00:00:00/00=00=00=00=00=00/g' \
        -e 's/[0-9a-f]{2}(:[0-9a-f]{2}){5}/<random>/g' \
        -e 's/([0-9a-f]{2})=([0-9a-f]{2})=([0-9a-f]{2})=([0-9a-f]{2})=([0-9a-f]{2})=([0-9a-f]{2})/\1:\2:\3:\4:\5:\6/g'
}
xn() { # xn CMD ARGS... : like x, with MACs normalised
    echo "\$ $*"
    "$@" >"$_T/x" 2>&1
    rc=$?
    [ -s "$_T/x" ] && normmac <"$_T/x" | sed 's/^/| /'
    [ $rc -eq 0 ] || echo "=> rc=$rc"
    _klog
    return 0
}
nld() { # nld ARGS... : nldump, recorded
    echo "\$ nldump $*"
    "$NLDUMP" "$@" >"$_T/x" 2>&1
    rc=$?
    sed 's/^/| /' "$_T/x"
    [ $rc -eq 0 ] || echo "=> rc=$rc"
    return 0
}

load_bonding
mkveth 0 1
for m in balance-rr active-backup balance-xor broadcast 802.3ad balance-tlb balance-alb; do
    step "$m: options, eth0 enslaved, bond up"
    [ -d "$SYS/bond0" ] || w "$SYS/bonding_masters" "+bond0"
    wb mode "$m"
    wb miimon 100
    case $m in
        active-backup)
            wb updelay 200
            wb primary eth0
            wb arp_ip_target "+192.0.2.1"
            wb arp_ip_target "+192.0.2.9"
            ;;
        balance-xor)
            wb xmit_hash_policy layer2+3
            wb min_links 1
            ;;
        802.3ad)
            wb lacp_rate fast
            wb xmit_hash_policy layer3+4
            wb ad_actor_sys_prio 100
            wb ad_user_port_key 5
            ;;
        balance-alb)
            wb tlb_dynamic_lb 1
            ;;
    esac
    ws "+eth0"
    xs ip link set bond0 up
    if [ "$m" = 802.3ad ]; then settle 5; else settle 2; fi
    step "$m: eth1 enslaved under ip monitor link"
    "$ORACLE_IP" monitor link >"$_T/mon" 2>&1 &
    monpid=$!
    "$NLDUMP" -monitor 10 >"$_T/nlmon" 2>&1 &
    nlpid=$!
    # both listeners subscribed before the enslave (slow under TCG)
    i=0
    while ! grep -q "monitor ready" "$_T/nlmon" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.2; i=$((i + 1)); done
    sleep 2
    ws "+eth1"
    if [ "$m" = 802.3ad ]; then settle 5; else settle 3; fi
    kill "$monpid"
    wait "$monpid" 2>/dev/null
    wait "$nlpid"
    echo "\$ ip monitor link"
    normmac <"$_T/mon" | sed 's/^/| /'
    # the events without their bond data: whether a port's 802.3ad
    # aggregator is already chosen when its event is sent varies
    echo "\$ nldump -monitor 10 | grep -v '^   '"
    grep -v '^   ' "$_T/nlmon" | sed 's/^/| /'
    step "$m: the bond and its ports through netlink"
    rb mode active_slave primary
    nld bond0 eth0 eth1
    nld -master bond0
    xn ip -d link show bond0
    xn ip -d link show eth0
    xn ip -d -j link show bond0
    xn ip -d -j link show eth1
    xn ip -o link show master bond0
    step "$m: teardown"
    xs ip link set bond0 down
    ws "-eth0"
    ws "-eth1"
    w "$SYS/bonding_masters" "-bond0"
    settle 1
done
finish
