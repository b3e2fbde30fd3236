#!/bin/sh
# testdata/rtnl/record.sh [-c] [SCENARIO...]
#
# Records the rtnetlink goldens of issue 17 from the real 6.1 kernel: builds
# testdata/rtnl/nldump statically, prepends it (gzip + base64, unpacked to
# /tmp/nldump in the VM) to each scenario of testdata/rtnl/scenarios, and runs
# testdata/oracle/make-golden.sh -d testdata/rtnl/golden on the result.
# -c only checks fresh runs against the goldens. Needs ORACLE_CACHE (see
# testdata/oracle/README.md); scenarios take a few minutes each under TCG.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CHECK=
[ "${1:-}" = -c ] && { CHECK=-c; shift; }
[ $# -gt 0 ] || set -- "$HERE"/scenarios/[0-9]*.sh
tmp=$(mktemp -d /tmp/rtnl-record.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
(cd "$ROOT" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$tmp/nldump" ./testdata/rtnl/nldump)
gzip -9 "$tmp/nldump"
gen=
for s in "$@"; do
    out=$tmp/$(basename "$s")
    {
        echo '#!/bin/sh'
        echo "base64 -d <<'NLDUMP_EOF' | gunzip >/tmp/nldump"
        base64 "$tmp/nldump.gz"
        echo 'NLDUMP_EOF'
        echo 'chmod +x /tmp/nldump'
        sed 1d "$s"
    } >"$out"
    gen="$gen $out"
done
# shellcheck disable=SC2086
ORACLE_TIMEOUT=${ORACLE_TIMEOUT:-900} "$ROOT/testdata/oracle/make-golden.sh" $CHECK -d "$HERE/golden" $gen
