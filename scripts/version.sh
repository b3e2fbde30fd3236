#!/bin/sh
# Prints the version of this source tree, for `go build -ldflags -X
# main.version=…` and the packages (make build, make package):
#   - at a tag vX.Y.Z:                       X.Y.Z
#   - N commits after it, at commit HASH:   X.Y.Z+gitN.gHASH
#   - no tag in the history:                 0.0.0+gitN.gHASH (N: commits in all)
#   - with uncommitted changes:              … and ".dirty" (or "+dirty" after X.Y.Z)
#   - no git (a source tarball):             the first line of ./VERSION, else 0.0.0+unknown
# Every form is a valid Debian upstream version and RPM version, and later
# commits sort later.
set -eu
cd "$(dirname "$0")/.."
if command -v git >/dev/null 2>&1 && git rev-parse --git-dir >/dev/null 2>&1; then
    dirty=
    git diff --quiet HEAD -- 2>/dev/null || dirty=1
    if d=$(git describe --tags --match 'v[0-9]*' --abbrev=12 2>/dev/null); then
        v=$(printf '%s\n' "$d" | sed -E 's/^v//; s/-([0-9]+)-g([0-9a-f]+)$/+git\1.g\2/')
    else
        v="0.0.0+git$(git rev-list --count HEAD).g$(git rev-parse --short=12 HEAD)"
    fi
    if [ -n "$dirty" ]; then
        case $v in *+*) v="$v.dirty" ;; *) v="$v+dirty" ;; esac
    fi
    printf '%s\n' "$v"
elif [ -s VERSION ]; then
    head -n 1 VERSION
else
    echo 0.0.0+unknown
fi
