#!/bin/bash
# latency.sh: BenchmarkQueriesWhileTraining (cmd/ophicleide/latency_test.go)
# for several server configurations, interleaved, ROUNDS times each, then a
# table of the figures of every run.
#
#   scripts/latency.sh                       # threads 2, 1, default; 2 rounds
#   ROUNDS=3 CONFIGS="t2:2: t2-gmp3:2:3" scripts/latency.sh
#
# A config is LABEL:THREADS:GOMAXPROCS (empty THREADS: the binary's default
# --threads; empty GOMAXPROCS: the server's default). OPH_BENCH_SECONDS,
# OPH_BENCH_RATE etc. pass through to the benchmark. The test binary is
# compiled once; the serve binary is built by the benchmark from the work
# tree once too (OPH_BENCH_BIN), so every run measures the same build.
set -uo pipefail
cd "$(dirname "$0")/../cmd/ophicleide"
ROUNDS=${ROUNDS:-2}
CONFIGS=${CONFIGS:-"threads2:2: threads1:1: default::"}
OUT=${OUT:-$(mktemp /tmp/latency.XXXXXX.log)}
dir=$(mktemp -d)
bin=$dir/ophicleide.test
until go test -c -o "$bin" . && go build -o "$dir/ophicleide" .; do
  echo "build failed (someone's edit in progress?); retrying in 60 s" >&2
  sleep 60
done
export OPH_BENCH_BIN=$dir/ophicleide
echo "log: $OUT" >&2
for r in $(seq "$ROUNDS"); do
  for c in $CONFIGS; do
    IFS=: read -r label threads gmp <<<"$c"
    echo "== round $r $label threads=${threads:-default} server-GOMAXPROCS=${gmp:-default} load=$(cut -d' ' -f1 /proc/loadavg)" | tee -a "$OUT" >&2
    env ${threads:+OPH_BENCH_THREADS=$threads} ${gmp:+OPH_BENCH_GOMAXPROCS=$gmp} \
      "$bin" -test.run '^$' -test.bench QueriesWhileTraining -test.benchtime 1x 2>&1 \
      | sed "s/^BenchmarkQueriesWhileTraining/$label round=$r &/" | tee -a "$OUT" >&2
  done
done
# The table: one row per run.
awk '
  $2 ~ /^round=/ && $3 ~ /^BenchmarkQueriesWhileTraining-[0-9]+$/ {
    delete v
    for (i = 1; i <= NF; i++) v[$(i+1)] = $i
    printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, v["threads"], v["idle-p50-ms"], v["idle-p99-ms"],
      v["train-p50-ms"], v["train-p99-ms"], v["p99-ratio"], v["idle-lag-p99-ms"], v["train-lag-p99-ms"], v["idle-others-cpu"] "/" v["train-others-cpu"], v["train-words/s"]
  }
  BEGIN {
    print "| config | round | threads | idle p50 ms | idle p99 ms | train p50 ms | train p99 ms | p99 ratio | idle send-lag p99 | train send-lag p99 | others cores idle/train | train words/s |"
    print "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  }' "$OUT"
