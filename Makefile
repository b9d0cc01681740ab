# Kusanagi. Two commands on a fresh Debian machine with Go:
#   make run    the all-in-one `kusanagi run` on embedded defaults
#   make test   every test (installs the real programs tests need)

GO        ?= go
BIN       := bin/kusanagi
PKG       := github.com/kusanagi-dev/kusanagi
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REVISION  := $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
BRANCH    := $(shell git rev-parse --abbrev-ref HEAD 2>/dev/null || echo unknown)
VPKG      := github.com/prometheus/common/version
LDFLAGS   := -X $(VPKG).Version=$(VERSION) -X $(VPKG).Revision=$(REVISION) \
             -X $(VPKG).Branch=$(BRANCH) -X $(VPKG).BuildUser=$(shell id -un)@$(shell hostname) \
             -X $(VPKG).BuildDate=$(shell date -u +%Y%m%d-%H:%M:%S)
FUZZTIME  ?= 30s
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: build run test test-deps bench chaos fuzz lint clean

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/kusanagi

run: build
	$(BIN) run

# Debian packages the end-to-end tests run against: net-snmp's snmptrap and
# snmpinform (snmp), rsyslog (a relay forwarding over TCP, and over TLS
# with the gtls driver of rsyslog-gnutls; the tests run their own
# instance). util-linux logger is on every Debian system.
# apt-get update runs once, and only when something is missing.
TEST_PACKAGES := snmp rsyslog rsyslog-gnutls
AM_VERSION    := v0.35.0
AMTOOL        := bin/amtool
$(AMTOOL):
	GOBIN=$(CURDIR)/bin $(GO) install github.com/prometheus/alertmanager/cmd/amtool@$(AM_VERSION)

test-deps: $(AMTOOL)
	@missing=""; for p in $(TEST_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then apt-get update && apt-get install -y $$missing; fi

test: test-deps
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 20m ./...

bench: build
	./bench/run.sh

# The chaos harness's long runs (five 60 s seeds, one etcd and three, and
# upstream beside them); writes bench/CHAOS.md. make test runs a short seed.
chaos: build
	./test/chaos/run.sh

# Runs every fuzz target for FUZZTIME each (go test -fuzz takes one at a time).
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f"; $(GO) test -run='^$$' -fuzz="^$$f$$" -fuzztime=$(FUZZTIME) $$pkg; \
	  done; \
	done

lint:
	@test -z "$$(gofmt -l .)" || { gofmt -l .; echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

clean:
	rm -rf bin
