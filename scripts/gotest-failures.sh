#!/usr/bin/env bash
# scripts/gotest-failures.sh — run a `go test -v` command, and when it fails,
# repeat each failing test's last lines at the very end of the output.
#
#   scripts/gotest-failures.sh go test -v ./integration/...
#
# The integration suite prints ~100,000 lines; a CI log that keeps only its
# head and tail would otherwise lose the assertion that failed. For every
# "--- FAIL: Name" line, the summary shows up to FAIL_LINES (default 60) of
# the lines the test printed before it (from its "=== RUN   Name" on), which
# hold testify's Error Trace and diff. The exit status is the command's.
set -u
set -o pipefail

LOG=$(mktemp "${TMPDIR:-/tmp}/gotest.XXXXXX")
trap 'rm -f "$LOG"' EXIT
"$@" 2>&1 | tee "$LOG"
rc=$?
if [ "$rc" -ne 0 ]; then
    echo
    echo "==> summary of the failures (the last ${FAIL_LINES:-60} lines of each failing test)"
    awk -v max="${FAIL_LINES:-60}" '
        /^=== (RUN|CONT) / { name = $3 }
        name != "" && !(name in done) { n[name]++; buf[name, n[name]] = $0 }
        /^ *--- (FAIL|PASS|SKIP): / { done[$3] = 1 }
        /^ *--- FAIL: / { failed[++nf] = $3 }
        /^FAIL[ \t]/ { pkgs = pkgs $0 "\n" }
        END {
            for (k = 1; k <= nf; k++) {
                f = failed[k]; parent = 0
                for (j = 1; j <= nf; j++) if (index(failed[j], f "/") == 1) parent = 1
                if (parent) { print "--- " f ": see its subtests"; continue }
                print "--- " f
                from = n[f] - max + 1; if (from < 1) from = 1
                for (i = from; i <= n[f]; i++) print buf[f, i]
            }
            printf "%s", pkgs
        }
' "$LOG"
fi
exit "$rc"
