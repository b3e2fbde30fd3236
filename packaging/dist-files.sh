#!/bin/sh
# Prints "SOURCE DESTINATION" for every file under dist/, one a line: where
# `make install` (and so every package, which is a staged `make install`)
# puts it. .in files are templates (@SBINDIR@, @SYSCONFDIR@,
# @SYSTEMDUNITDIR@ are substituted) installed without the suffix.
#   dist/modprobe.d/REL  ->  $SYSCONFDIR/modprobe.d/REL
#   dist/systemd/REL     ->  $SYSTEMDUNITDIR/REL   (units, and drop-in
#                            directories such as NAME.service.d/FILE.conf)
# A file anywhere else under dist/ is an error, so that a new kind of file
# gets a place here instead of being left out of the packages silently.
# Usage: packaging/dist-files.sh SYSCONFDIR SYSTEMDUNITDIR
set -eu
sysconfdir=$1 unitdir=$2
cd "$(dirname "$0")/.."
find dist -type f | LC_ALL=C sort | while IFS= read -r f; do
    rel=${f#dist/}
    case $rel in
        modprobe.d/*) d=$sysconfdir/$rel ;;
        systemd/*) d=$unitdir/${rel#systemd/} ;;
        *) echo "packaging/dist-files.sh: $f: no install location; add one here" >&2; exit 1 ;;
    esac
    printf '%s %s\n' "$f" "${d%.in}"
done
