#!/usr/bin/env bash
# Refresh the vendored copy of the kernel oracle (run-host.sh, scenarios/, golden/)
# in testdata/oracle/ from ../shared/oracle (or $1), so a fresh clone can replay it.
set -euo pipefail
cd "$(dirname "$0")/.."
src=${1:-../shared/oracle}
[ -f "$src/run-host.sh" ] || { echo "no oracle at $src" >&2; exit 1; }
mkdir -p testdata/oracle
chmod -R u+w testdata/oracle
cp -p "$src/run-host.sh" testdata/oracle/
rm -rf testdata/oracle/scenarios testdata/oracle/golden
cp -rp "$src/scenarios" "$src/golden" testdata/oracle/
chmod -R u+w testdata/oracle
echo "testdata/oracle refreshed from $src"
