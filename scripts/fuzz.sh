#!/usr/bin/env bash
# Run every Fuzz* target in the module for FUZZTIME (default 10s) each.
# Targets are discovered per package with `go test -list 'Fuzz.*'`; new corpus
# entries that fail land in testdata/fuzz/<FuzzName>/ as usual.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
FUZZTIME=${FUZZTIME:-10s}
n=0
for pkg in $(go list ./...); do
    list=$(go test -run '^$' -list '^Fuzz' "$pkg")   # a package that does not build fails here
    targets=$(printf '%s\n' "$list" | grep '^Fuzz' || true)
    for f in $targets; do
        echo "==> $pkg $f ($FUZZTIME)"
        go test -run '^$' -fuzz "^${f}\$" -fuzztime "$FUZZTIME" "$pkg"
        n=$((n + 1))
    done
done
echo "==> $n fuzz target(s) run"
