#!/usr/bin/env bash
# Refresh the vendored copy of the kernel oracle (its scripts, scenarios/, golden/)
# in testdata/oracle/ from ../shared/oracle (or $1), so a fresh clone can replay it.
set -euo pipefail
cd "$(dirname "$0")/.."
src=${1:-../shared/oracle}
[ -f "$src/run-host.sh" ] || { echo "no oracle at $src" >&2; exit 1; }
mkdir -p testdata/oracle
chmod -R u+w testdata/oracle
# run-host.sh replays scenarios; lacp-peer.sh (with setup.sh, which builds its VM
# cache in testdata/oracle/cache/, git-ignored) runs the kernel as an LACP partner;
# run-kernel.sh and make-golden.sh record new goldens
for f in run-host.sh run-kernel.sh make-golden.sh setup.sh lacp-peer.sh lacp-validate.sh README.md; do
    cp -p "$src/$f" testdata/oracle/
done
rm -rf testdata/oracle/scenarios testdata/oracle/golden
cp -rp "$src/scenarios" "$src/golden" testdata/oracle/
chmod -R u+w testdata/oracle
echo "testdata/oracle refreshed from $src"
