# Ophicleide: build, test, fuzz and benchmark.
#
#   make test      go vet, then the whole test suite with the race detector
#                  (what .ci/run runs); test-deps first
#   make build     bin/ophicleide
#   make fuzz      every Fuzz* target in the module, FUZZTIME (30s) each
#   make bench     scripts/bench.sh: ours and the peers (gensim, fastText, ...)
#                  on one corpus, one table (see the script's header for its
#                  variables: SHARED, BENCH_CORPUS, BENCH_OUT, PEERS, MODES, ...)
#   make gobench   the Go benchmarks (go test -bench)
#   make deploy-check  render the kustomize overlays, the Helm chart and the
#                  OpenShift template and validate them offline (deploy/check);
#                  make test runs it too
#   make clean

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := test

GO       ?= go
FUZZTIME ?= 30s
BIN      := bin/ophicleide

.PHONY: test test-deps vet build fuzz bench gobench clean deploy-check

test: test-deps
	$(GO) vet ./...
	OPH_BROWSER_REQUIRED=1 $(GO) test -race -count=1 -timeout 20m ./...
	# Multi-goroutine (Hogwild) training races by design: it runs without -race.
	$(GO) test -count=1 -run 'Hogwild' ./internal/word2vec/
	$(MAKE) --no-print-directory deploy-check

# deploy/check is a module of its own (Helm, kustomize, kubeconform stay
# out of the product's dependencies); it downloads k8s.io/kubernetes for
# the OpenAPI schemas from the Go module proxy.
deploy-check:
	CGO_ENABLED=0 $(GO) build -o /dev/null ./cmd/ophicleide   # the Dockerfile's static build
	cd deploy/check && $(GO) vet ./... && $(GO) test -count=1 ./... && $(GO) run . -root ../..

# What the tests need besides Go: Debian's Chromium for the browser tests
# (installed when missing; the tests then require it, see browser_test.go).
test-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "make: installing chromium (browser tests)" >&2; \
	  sudo=""; if [ "$$(id -u)" -ne 0 ]; then sudo=sudo; fi; \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq chromium >/dev/null; }

vet:
	$(GO) vet ./...

build:
	$(GO) build -o $(BIN) ./cmd/ophicleide

# `go test -list` prints a package's Fuzz* names, then its "ok <pkg>" line.
fuzz:
	@targets=$$($(GO) test -list '^Fuzz' ./... | \
	  awk '/^Fuzz/ { f[n++] = $$1 } /^ok[ \t]/ { for (i = 0; i < n; i++) print $$2 "," f[i]; n = 0 }'); \
	if [ -z "$$targets" ]; then echo "fuzz: no Fuzz targets in the module"; exit 0; fi; \
	for t in $$targets; do \
	  echo "== $${t%,*} $${t#*,} ($(FUZZTIME))"; \
	  $(GO) test -run '^$$' -fuzz "^$${t#*,}\$$" -fuzztime $(FUZZTIME) "$${t%,*}"; \
	done

bench:
	bash scripts/bench.sh

gobench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

clean:
	rm -rf bin
