#!/usr/bin/env bash
# The approximate index's table row for one set, and gensim's most_similar
# on the same file, in one command: BenchmarkTable (internal/ann: build
# time, index bytes, recall@10 against the exact scan, p50/p99 of the exact
# scan and of the index over 1,000 random rows), then
# scripts/nearest_peer.py (gensim's most_similar, topn=10, over rows
# j*7919 mod the vocabulary size).
#
#   scripts/ann-bench.sh 1000000x300 [GENSIM_QUERIES]   a synthetic clustered set,
#                                      written to OUT/synthetic-1000000x300.txt
#   scripts/ann-bench.sh VECTORS.txt [GENSIM_QUERIES]   a real model's file
#
# GENSIM_QUERIES: 2000 by default; gensim takes ~0.25 s a query at 1M x 300
# and ~5 minutes to load that file, so give 200 there. Environment: OUT
# (default /tmp/ophicleide-ann; a synthetic file already there is reused),
# ANN_BENCH_EXACT (exact queries scored) and ANN_BENCH_INDEX (a directory
# of saved indexes; see BenchmarkTable), PYTHON. Needs Debian's python3-gensim.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ARG=${1:?usage: scripts/ann-bench.sh ROWSxDIM|VECTORS.txt [GENSIM_QUERIES]}
NQ=${2:-2000}
PY=${PYTHON:-/usr/bin/python3}
OUT=${OUT:-/tmp/ophicleide-ann}
mkdir -p "$OUT"
"$PY" -c 'import gensim' 2>/dev/null || { echo "ann-bench.sh: gensim missing (apt-get install python3-gensim)" >&2; exit 1; }
cd "$ROOT"
if [[ "$ARG" =~ ^[0-9]+x[0-9]+$ ]]; then
  FILE=$OUT/synthetic-$ARG.txt
  WRITE=$OUT
  [ -s "$FILE" ] && WRITE= # the generator is deterministic: an earlier file is this set
  ANN_BENCH_SIZES=$ARG ANN_BENCH_WRITE=$WRITE go test -run '^$' -bench Table -benchtime 1x -timeout 3h -v ./internal/ann/ | grep -E 'Benchmark|recall|built|generated'
else
  FILE=$ARG
  ANN_BENCH_VECTORS=$FILE go test -run '^$' -bench Table -benchtime 1x -timeout 3h -v ./internal/ann/ | grep -E 'Benchmark|recall|built'
fi
"$PY" scripts/nearest_peer.py "$FILE" "$NQ"
