#!/usr/bin/env bash
# Install what a fresh Debian machine lacks to build bondingfs and run its demo,
# benchmark and tests: apt packages, the kernel modules they use, and Go (the
# version go.mod names, from go.dev, only when no go is found).  Idempotent: does
# nothing when everything is present.  Needs root to install; without root it
# only reports what is missing.  Used by `make demo|test|bench` and .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
export PATH="$PATH:/usr/local/go/bin"

pkgs=(iproute2 iperf3 busybox-static nftables iputils-ping ethtool tcpdump kmod procps make
      util-linux ca-certificates curl git gcc libc6-dev   # gcc/libc6-dev: go test -race needs cgo
      ifupdown ifenslave prometheus-node-exporter net-tools   # integration: distribution tools at the real paths
      gnuplot-nox   # make bench: the PNG chart
      scdoc man-db groff-base lintian rpmlint rpm bash-completion zsh   # make package and its test: man pages, lints, completion
      clang llvm libbpf-dev   # issue 18, eBPF fast path: make generate (bpf2go)
      systemd network-manager dbus)   # rtnetlink under exec (issue 17): networkd and NetworkManager tests
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
gover=$(sed -n 's/^go \([0-9.]*\).*/\1/p' go.mod)
needgo=
command -v go >/dev/null 2>&1 || needgo=1

if [ "$(id -u)" -ne 0 ]; then
    [ ${#missing[@]} -eq 0 ] || echo "deps: missing packages (install as root): ${missing[*]}" >&2
    [ -z "$needgo" ] || echo "deps: no go on PATH; install Go $gover into /usr/local/go" >&2
    exit 0
fi

if [ ${#missing[@]} -gt 0 ]; then
    echo "==> apt-get install ${missing[*]}"
    apt-get update -q
    # Packages that ship a service (prometheus-node-exporter, ifupdown's
    # networking) must not start it on this machine: the tests run their own
    # copies inside namespaces.  policy-rc.d forbids starts during the install.
    norc=
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 0755 /usr/sbin/policy-rc.d && norc=1
    fi
    rc=0
    apt-get install -y -q --no-install-recommends "${missing[@]}" || rc=$?
    [ -z "$norc" ] || rm -f /usr/sbin/policy-rc.d
    [ "$rc" -eq 0 ] || exit "$rc"
fi

# Kernel modules (best effort: built-in ones need nothing).
for m in fuse tun veth bridge nf_tables af_packet; do modprobe -q "$m" 2>/dev/null || true; done
[ -e /dev/fuse ] || mknod -m 0666 /dev/fuse c 10 229 || true
[ -e /dev/net/tun ] || { mkdir -p /dev/net && mknod -m 0666 /dev/net/tun c 10 200; } || true

if [ -n "$needgo" ]; then
    arch=$(dpkg --print-architecture)
    echo "==> installing go$gover ($arch) into /usr/local/go"
    curl -fsSL "https://go.dev/dl/go$gover.linux-$arch.tar.gz" -o /tmp/go$$.tgz
    rm -rf /usr/local/go && tar -C /usr/local -xzf /tmp/go$$.tgz && rm -f /tmp/go$$.tgz
fi
exit 0
