# Ophicleide: build, test, fuzz and benchmark.
#
#   make test      go vet, then the whole test suite with the race detector
#                  (what .ci/run runs), its packages sharing one Spark Connect
#                  server (scripts/with-spark.sh); test-deps first
#   make test-deps what the tests need besides Go: Chromium, Java 17, and
#                  Spark 4.3.0 (scripts/spark-connect.sh install: 456 MB from
#                  PyPI once, by default into ~/.cache/ophicleide/spark)
#   make build     bin/ophicleide
#   make fuzz      every Fuzz* target in the module, FUZZTIME (30s) each
#   make bench     scripts/bench.sh: ours and the peers (gensim, fastText, ...)
#                  on one corpus, one table (see the script's header for its
#                  variables: SHARED, BENCH_CORPUS, BENCH_OUT, PEERS, MODES, ...)
#   make spark-bench  scripts/spark-bench.sh: the native engine against Spark
#                  MLlib Word2Vec (local[2], 1 and 2 partitions) on one corpus,
#                  on a Spark Connect server it starts and stops; one table
#                  (variables in the script's header: BENCH_CORPUS, EPOCHS, ...)
#   make gobench   the Go benchmarks (go test -bench)
#   make deploy-check  render the kustomize overlays, the Helm chart and the
#                  OpenShift template and validate them offline (deploy/check);
#                  make test runs it too
#   make spark-start  a Spark Connect server for trying the Spark engine:
#                  prints its URL (sc://127.0.0.1:PORT, also in SPARK_DIR/url);
#                  SPARK_DIR (.spark) holds its log; make spark-stop ends it
#   make clean

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := test

GO       ?= go
FUZZTIME ?= 30s
BIN      := bin/ophicleide
SPARK_DIR ?= .spark

.PHONY: test test-deps vet build fuzz bench gobench clean deploy-check spark-start spark-stop

# with-spark.sh starts one Spark Connect server for the whole go test run
# and stops it afterwards, whatever the outcome; it exports its URL as
# OPH_TEST_SPARK_URL and OPH_SPARK_REQUIRED=1 (the Spark tests then fail
# rather than skip without it).
test: test-deps
	$(GO) vet ./...
	OPH_BROWSER_REQUIRED=1 OPH_FASTTEXT_REQUIRED=1 bash scripts/with-spark.sh $(GO) test -race -count=1 -timeout 20m ./...
	# Multi-goroutine (Hogwild) training races by design: it runs without -race.
	$(GO) test -count=1 -run 'Hogwild' ./internal/word2vec/
	$(MAKE) --no-print-directory deploy-check

# deploy/check is a module of its own (Helm, kustomize, kubeconform stay
# out of the product's dependencies); it downloads k8s.io/kubernetes for
# the OpenAPI schemas from the Go module proxy.
deploy-check:
	CGO_ENABLED=0 $(GO) build -o /dev/null ./cmd/ophicleide   # the Dockerfile's static build
	cd deploy/check && $(GO) vet ./... && $(GO) test -count=1 ./... && $(GO) run . -root ../..

# What the tests need besides Go: Debian's Chromium for the browser tests,
# Debian's fasttext (and python3-gensim) for the fastText file tests,
# and for the Spark tests Java 17 and pip (to fetch pyspark's sdist from
# PyPI), each installed when missing (the tests then require them, see
# browser_test.go and internal/sparkconnect/sparktest); then the pinned
# Spark, installed once outside the repository (scripts/spark-connect.sh).
test-deps:
	@pkgs=""; \
	command -v chromium >/dev/null 2>&1 || pkgs="$$pkgs chromium"; \
	command -v fasttext >/dev/null 2>&1 || pkgs="$$pkgs fasttext"; \
	/usr/bin/python3 -c 'import gensim' >/dev/null 2>&1 || pkgs="$$pkgs python3-gensim"; \
	[ -n "$${JAVA_HOME:-}" ] || command -v java >/dev/null 2>&1 || pkgs="$$pkgs openjdk-17-jre-headless"; \
	command -v pip3 >/dev/null 2>&1 || python3 -m pip --version >/dev/null 2>&1 || pkgs="$$pkgs python3-pip"; \
	if [ -n "$$pkgs" ]; then \
	  echo "make: installing$$pkgs (browser and Spark tests)" >&2; \
	  sudo=""; if [ "$$(id -u)" -ne 0 ]; then sudo=sudo; fi; \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $$pkgs >/dev/null; \
	fi
	@bash scripts/spark-connect.sh install

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

.PHONY: spark-bench
spark-bench:
	bash scripts/spark-bench.sh

gobench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# A Spark Connect server on 127.0.0.1 for trying the Spark engine by hand
# (scripts/spark-connect.sh: OPH_SPARK_MASTER, OPH_SPARK_DRIVER_MEMORY,
# OPH_SPARK_CONF). Like the tests' server it ends response streams after 1 s
# (clients reattach); OPH_SPARK_CONF=spark.connect.execute.reattachable.senderMaxStreamDuration=2m
# restores Spark's default.
spark-start:
	@bash scripts/spark-connect.sh start $(SPARK_DIR)

spark-stop:
	@bash scripts/spark-connect.sh stop $(SPARK_DIR)

clean:
	rm -rf bin
