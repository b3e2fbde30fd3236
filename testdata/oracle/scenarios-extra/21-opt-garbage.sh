#!/bin/sh
# A garbage/edge write to every file under bonding/ (read-only ones included),
# to the bonding_slave/ files of a slave, to a file name that does not exist,
# to the directory itself and to /proc/net/bonding/<bond>; the state dumped
# afterwards shows nothing changed.  Then the same with the bond up, with a
# slave (down and up) and in active-backup, to show which error wins
# (EACCES for the mode, ENOTEMPTY for slaves, EBUSY for up, EINVAL for the value).
. "${ORACLE_LIB:-$(dirname "$0")/lib.sh}"
load_bonding
D=$SYS/bond0/bonding
LONG=0123456789abcdef0123456789abcdef0123456789

all() { # all VALUE: write VALUE to every file under bonding/
    for f in "$D"/*; do w "$f" "$1"; done
}
extra() { # writes outside the option files
    w "$D/nosuchoption" "1"
    w "$D" "1"
    w "$PROC/bond0" "garbage"
    w "$SYS/bond0/bonding_slave" "1"
}

step "initial state (balance-rr, down, no slaves)"
ls_bond
dump_bond
step "\"garbage\" to every file (down, no slaves)"
all garbage
step "empty write to every file (down, no slaves)"
all ""
step "\"-1\" to every file (down, no slaves)"
all -1
step "\" \" to every file (down, no slaves)"
all " "
step "42-character value to every file (down, no slaves)"
all "$LONG"
step "writes without a newline (down, no slaves)"
for f in "$D"/*; do wn "$f" "garbage"; done
step "writes outside the option files"
extra
step "nothing changed"
ls_bond
dump_bond
proc

step "\"garbage\" to every file (up, no slaves)"
x ip link set bond0 up
all garbage
step "empty write to every file (up, no slaves)"
all ""
step "nothing changed (up, no slaves)"
dump_bond
proc
x ip link set bond0 down

step "with a slave, bond down"
mkveth 0
ws +eth0
ls_slave eth0
dump_slave eth0
step "\"garbage\" to every file (down, one slave)"
all garbage
step "writes to the slave's bonding_slave/ files"
for f in "$SYS/eth0/bonding_slave"/*; do w "$f" "garbage"; done
for f in "$SYS/eth0/bonding_slave"/*; do w "$f" ""; done
w "$SYS/eth0/bonding_slave/nosuchfile" "1"
w "$SYS/eth0/bonding_slave" "1"
step "nothing changed (down, one slave)"
dump_bond
dump_slave eth0
proc

step "\"garbage\" to every file (up, one slave)"
xs ip link set bond0 up
settle 1
all garbage
step "empty write to every file (up, one slave)"
all ""
step "writes outside the option files (up, one slave)"
extra
for f in "$SYS/eth0/bonding_slave"/*; do w "$f" "garbage"; done
step "nothing changed (up, one slave)"
dump_bond
dump_slave eth0
proc
xs ip link set bond0 down
settle 1

step "active-backup, miimon 100, up, one slave"
ws -eth0
wb mode active-backup
wb miimon 100
ws +eth0
xs ip link set bond0 up
settle 1
dump_bond
step "\"garbage\" to every file (active-backup, up, one slave)"
all garbage
step "empty write to every file (active-backup, up, one slave)"
all ""
step "nothing changed (active-backup, up, one slave)"
dump_bond
dump_slave eth0
proc
finish
