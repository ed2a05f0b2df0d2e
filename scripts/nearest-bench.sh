#!/usr/bin/env bash
# Nearest 10 words on a real model, ours against gensim's most_similar, in
# one command: BenchmarkNearestFile (the quantized search every query
# takes, and the exact scan) and scripts/nearest_peer.py on the same file
# and the same 2,000 words (row j*7919 mod the vocabulary size, mostly rare
# words), alternated ROUNDS times so that a shared machine's load hits both
# alike. Prints one line per run and the ratios of medians and p99s.
#
#   scripts/nearest-bench.sh VECTORS.txt [ROUNDS]     (ROUNDS: 2)
#
# VECTORS.txt: word2vec text (gensim reads it too), e.g. the one
# `BENCH_CORPUS=full make bench` leaves in
# /tmp/ophicleide-bench/medium/ophicleide-sg-r1/vectors.txt.
# Needs Debian's python3-gensim.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VEC=${1:?usage: scripts/nearest-bench.sh VECTORS.txt [ROUNDS]}
ROUNDS=${2:-2}
PY=${PYTHON:-/usr/bin/python3}
[ -s "$VEC" ] || { echo "nearest-bench.sh: no vectors file $VEC" >&2; exit 1; }
"$PY" -c 'import gensim' 2>/dev/null || { echo "nearest-bench.sh: gensim missing (apt-get install python3-gensim)" >&2; exit 1; }
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
(cd "$ROOT" && go test -c -o "$TMP/vectors.test" ./internal/vectors)
: > "$TMP/ours"; : > "$TMP/peer"
for r in $(seq "$ROUNDS"); do
  OPH_BENCH_VECTORS=$VEC "$TMP/vectors.test" -test.run '^$' -test.bench NearestFile \
    -test.benchtime 2000x | tee -a "$TMP/ours" | grep '^Benchmark'
  "$PY" "$ROOT/scripts/nearest_peer.py" "$VEC" | tee -a "$TMP/peer"
done
"$PY" - "$TMP/ours" "$TMP/peer" <<'PYEOF'
import re, statistics, sys
ours = {"quantized": [], "exact": []}
for line in open(sys.argv[1]):
    m = re.match(r"BenchmarkNearestFile/(\w+)\S*\s+\d+\s+[\d.]+ ns/op\s+([\d.]+) p50-ms\s+([\d.]+) p99-ms", line)
    if m:
        ours[m.group(1)].append((float(m.group(2)), float(m.group(3))))
peer = [(float(a), float(b)) for a, b in re.findall(r"median ([\d.]+) ms, p99 ([\d.]+) ms", open(sys.argv[2]).read())]
med = lambda xs, i: statistics.median(x[i] for x in xs)
g50, g99 = med(peer, 0), med(peer, 1)
print("\n| search | p50 ms | p99 ms | gensim p50 / ours | gensim p99 / ours |")
print("|---|---:|---:|---:|---:|")
for name, rows in ours.items():
    p50, p99 = med(rows, 0), med(rows, 1)
    print("| ours, %s | %.3f | %.3f | %.1fx | %.1fx |" % (name, p50, p99, g50 / p50, g99 / p99))
print("| gensim most_similar | %.3f | %.3f | 1.0x | 1.0x |" % (g50, g99))
print("(medians over %d rounds of 2,000 queries each)" % len(peer))
PYEOF
