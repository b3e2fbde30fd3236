# bondingfs — the Linux bonding driver's sysfs/procfs interface over FUSE, driving a userspace
# bonding engine.  `make test` needs root (network namespaces, TAP, FUSE); see README.md.

GO        ?= go
BIN       := bin/bondingfs
IFENSLAVE := bin/ifenslave
# make install: PREFIX for the programs and the unit, SYSCONFDIR for the
# modprobe.d rule, DESTDIR for staged installs (packages).
PREFIX        ?= /usr/local
SBINDIR       ?= $(PREFIX)/sbin
SYSCONFDIR    ?= /etc
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
DESTDIR       ?=
# The version embedded in the programs and the packages (scripts/version.sh:
# git describe, else ./VERSION, else 0.0.0+unknown) and the commit.
VERSION := $(shell scripts/version.sh)
COMMIT  := $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT)
# Unit tests: every package except the root-only integration tests.
UNIT_PKGS  = $$($(GO) list ./... | grep -v '/integration$$')
# Integration tests replay the kernel oracle and move real traffic; they take minutes.
ITEST_TIMEOUT ?= 60m
ITEST_FLAGS   ?= -count=1 -p 1 -v
FUZZTIME      ?= 10s
# make soak: how long the soak runs (make test runs TestSoak for 60 s).
SOAKTIME      ?= 10m

export PATH := $(PATH):/usr/local/go/bin

.PHONY: all deps build install uninstall test unit-test integration-test test-lacp-kernel test-ad-repeat vet lint demo bench fuzz soak clean

all: build

# Installs what a fresh Debian machine lacks (as root; a no-op when all is there).
deps:
	@scripts/deps.sh

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/bondingfs
	$(GO) build -o $(IFENSLAVE) ./cmd/ifenslave

# Installs bondingfs and ifenslave in SBINDIR, the modprobe.d rule that makes
# `modprobe bonding` load bondingfs, and bondingfs.service (see README.md,
# "Use it on a machine"). Does not enable or start the service.
install: build
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(SYSCONFDIR)/modprobe.d $(DESTDIR)$(SYSTEMDUNITDIR)
	install -m 0755 $(BIN) $(DESTDIR)$(SBINDIR)/bondingfs
	install -m 0755 $(IFENSLAVE) $(DESTDIR)$(SBINDIR)/ifenslave
	sed 's|@SBINDIR@|$(SBINDIR)|g' dist/modprobe.d/bondingfs.conf.in >$(DESTDIR)$(SYSCONFDIR)/modprobe.d/bondingfs.conf
	sed 's|@SBINDIR@|$(SBINDIR)|g' dist/systemd/bondingfs.service.in >$(DESTDIR)$(SYSTEMDUNITDIR)/bondingfs.service
	chmod 0644 $(DESTDIR)$(SYSCONFDIR)/modprobe.d/bondingfs.conf $(DESTDIR)$(SYSTEMDUNITDIR)/bondingfs.service

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/bondingfs $(DESTDIR)$(SBINDIR)/ifenslave \
	      $(DESTDIR)$(SYSCONFDIR)/modprobe.d/bondingfs.conf $(DESTDIR)$(SYSTEMDUNITDIR)/bondingfs.service

vet:
	$(GO) vet ./...

unit-test:
	$(GO) test -race $(UNIT_PKGS)

# The integration package builds bin/bondingfs itself (BONDINGFS_BIN overrides it).
integration-test: build
	$(GO) test $(ITEST_FLAGS) -timeout $(ITEST_TIMEOUT) ./integration/...

# Every fuzz target runs for FUZZTIME (10 s each, ~17 targets) before the
# integration tests, which include the 60 s soak.
test: deps vet unit-test fuzz integration-test

# 802.3ad against the real kernel in the oracle VM, the longer run (iperf3,
# a pulled link); `make test` has the one short negotiation. ORACLE_CACHE
# and LACP_PEER are passed through.
test-lacp-kernel: build
	BONDINGFS_LACP_KERNEL_LONG=1 $(GO) test $(ITEST_FLAGS) -timeout 10m -run 'TestLACPKernelPeer' ./integration/

# 802.3ad aggregator IDs deterministic (issue 19): the oracle scenario
# 60-8023ad-agg-ids replayed 10 times, every run identical to the first and
# to the kernel's golden (~15 min); `make test` replays it twice.
test-ad-repeat: build
	BONDINGFS_ORACLE_REPEAT=10 $(GO) test $(ITEST_FLAGS) -timeout 30m -run '^TestOracleADRepeat$$' ./integration/

lint:
	@out=$$(gofmt -l .); \
	if [ -n "$$out" ]; then echo "gofmt -l reports unformatted files:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

demo: deps build
	scripts/demo.sh

bench: deps build
	$(GO) test -run '^$$' -bench . -benchmem ./bond ./modes ./internal/frame
	GO=$(GO) scripts/bench.sh
	scripts/bench-failover.sh
	GO=$(GO) scripts/bench-lb.sh
	scripts/bench-lacp.sh
	GO=$(GO) scripts/bench-reaper.sh

fuzz:
	FUZZTIME=$(FUZZTIME) scripts/fuzz.sh

# Links flapping every 100 ms with traffic, 500 bonds created and deleted in a
# loop and 8 concurrent writers for SOAKTIME; fails if the daemon's
# goroutines, descriptors, RSS or heap grow beyond noise (integration/soak_test.go).
soak: deps build
	BONDINGFS_SOAK=$(SOAKTIME) $(GO) test -count=1 -v -run '^TestSoak$$' -timeout 60m ./integration/

clean:
	rm -rf bin
	$(GO) clean -testcache
