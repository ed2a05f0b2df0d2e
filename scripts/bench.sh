#!/usr/bin/env bash
# Ours and the peers side by side: train ophicleide and the peers of
# $SHARED/bench/run.sh on one corpus with the same settings (dim 100, window 5,
# negative sampling with 5 negatives, sample 1e-3, min count 5, 5 epochs,
# alpha 0.025, THREADS threads), score every model with the shared eval.py,
# and print one table (also saved as OUT/table.md).  `make bench` runs this.
#
#   scripts/bench.sh
#
# Environment (all optional):
#   SHARED        the shared folder (default: <repo>/../shared); needs bench/ and data/
#   BENCH_CORPUS  "5m" (default): the first 5,000,000 tokens of
#                 data/corpus/medium-text8style.txt.gz; "full": all of it
#                 (21.2M tokens); or a path to any corpus file (plain or .gz)
#   BENCH_OUT     output folder (default /tmp/ophicleide-bench/<corpus label>);
#                 the corpus copies in it are reused by later runs, and an old
#                 results.jsonl is moved aside to results.<time>.jsonl
#   PEERS         peers for run.sh (default "gensim fasttext-nosub", plus
#                 "w2vc" when W2V_C_BIN is set; see run.sh for the others)
#   MODES         "sg cbow" (default)
#   SUBWORD=1     the subword row: ours trains with --minn 3 --maxn 6 (bucket
#                 2,000,000, fastText's defaults) against peer "fasttext" (which
#                 run.sh trains with fastText's default -minn 3 -maxn 6); PEERS
#                 defaults to "fasttext" and OUT to <corpus label>-sub
#   REPEATS       runs of each configuration (default 1)
#   THREADS       2 (default)
#   EVAL_DIR      evaluation sets (default $SHARED/data/eval; empty: no scoring)
#   W2V_C_BIN, W2V_C_ALT_BIN, WEGO_BIN, FASTTEXT_BIN, PYTHON, KEEP_VECTORS:
#                 passed through to run.sh (see its header)
#   BENCH_SKIP_OURS=1  run the peers only (no build of ophicleide)
#   BENCH_BIN     an ophicleide binary to run instead of building OUT/ophicleide
#   BENCH_INSTALL=1    apt-get install the missing peers (python3-gensim,
#                 fasttext) and /usr/bin/time (package time)
#
# Order: for each repeat and each mode, ours then the peers, so that load
# changes on a shared machine hit both alike.  Output: OUT/results.jsonl (one
# record per run, run.sh's layout; ours as peer "ophicleide"),
# OUT/<peer>-<mode>-r<k>/, OUT/table.md, and make_table.py's wider table in
# OUT/table-full.md.  Exits non-zero when a run of ours failed.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SHARED=${SHARED:-$ROOT/../shared}
BENCH=$SHARED/bench
BENCH_CORPUS=${BENCH_CORPUS:-5m}
MODES=${MODES:-"sg cbow"}
REPEATS=${REPEATS:-1}
THREADS=${THREADS:-2}
PY=${PYTHON:-/usr/bin/python3}
export PYTHON=$PY THREADS
SUBWORD=${SUBWORD:-0}
if [ "$SUBWORD" = 1 ]; then
  export PEERS=${PEERS:-fasttext}
  OURS_SUBWORD=(--minn 3 --maxn 6 --bucket 2000000)
else
  export PEERS=${PEERS:-"gensim fasttext-nosub${W2V_C_BIN:+ w2vc}"}
  OURS_SUBWORD=()
fi
export EVAL_DIR=${EVAL_DIR-$SHARED/data/eval}
KEEP_VECTORS=${KEEP_VECTORS:-1}
SLICE_WORDS=5000000
EPOCHS=5

die() { echo "bench.sh: $*" >&2; exit 1; }
say() { echo "bench.sh: $*" >&2; }

[ -d "$SHARED" ] || die "no shared folder at $SHARED (set SHARED=/path/to/shared)"
SHARED=$(cd "$SHARED" && pwd); BENCH=$SHARED/bench
for f in run.sh timed_run.py eval.py make_table.py; do
  [ -f "$BENCH/$f" ] || die "missing $BENCH/$f (the peers' bench harness)"
done
MEDIUM=$SHARED/data/corpus/medium-text8style.txt.gz
case "$BENCH_CORPUS" in
  5m|full) SRC=$MEDIUM; LABEL=medium; [ "$BENCH_CORPUS" = 5m ] && LABEL=medium5m ;;
  *) SRC=$BENCH_CORPUS; LABEL=$(basename "$SRC"); LABEL=${LABEL%.gz}; LABEL=${LABEL%.txt} ;;
esac
[ -s "$SRC" ] || die "corpus not found: $SRC"
SRC=$(cd "$(dirname "$SRC")" && pwd)/$(basename "$SRC")
if [ -n "$EVAL_DIR" ] && [ ! -d "$EVAL_DIR" ]; then die "no evaluation folder at $EVAL_DIR (EVAL_DIR= to skip scoring)"; fi

# Tools: /usr/bin/time is needed by every run; a missing peer is only skipped.
need_pkgs() {
  [ -x /usr/bin/time ] || echo time
  case " $PEERS " in *" gensim"*) "$PY" -c 'import gensim' 2>/dev/null || echo python3-gensim ;; esac
  case " $PEERS " in *" fasttext"*) [ -n "${FASTTEXT_BIN:-}" ] || command -v fasttext >/dev/null || echo fasttext ;; esac
}
missing=$(need_pkgs | xargs)
if [ -n "$missing" ] && [ "${BENCH_INSTALL:-0}" = 1 ]; then
  sudo=(); if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null; then sudo=(sudo); fi
  say "installing $missing"
  "${sudo[@]}" apt-get update -qq && "${sudo[@]}" apt-get install -y -qq $missing >/dev/null
  missing=$(need_pkgs | xargs)
fi
for p in $missing; do
  case $p in
    time) die "/usr/bin/time is missing (apt-get install time, or BENCH_INSTALL=1)" ;;
    python3-gensim) say "PEER MISSING: gensim is not importable by $PY (apt-get install python3-gensim, or BENCH_INSTALL=1); skipped" ;;
    fasttext) say "PEER MISSING: fasttext is not on PATH (apt-get install fasttext, or BENCH_INSTALL=1); skipped" ;;
  esac
done
"$PY" -c 'import numpy' 2>/dev/null || say "WARNING: $PY has no numpy: eval.py cannot score (apt-get install python3-numpy)"

[ "$SUBWORD" = 1 ] && LABEL=$LABEL-sub
OUT=${BENCH_OUT:-/tmp/ophicleide-bench/$LABEL}
mkdir -p "$OUT"; OUT=$(cd "$OUT" && pwd)
RESULTS=$OUT/results.jsonl
if [ -s "$RESULTS" ]; then mv "$RESULTS" "$OUT/results.$(date -u +%Y%m%dT%H%M%SZ).jsonl"; fi

# The plain-text corpus: OUT/corpus.txt (the 5M slice, or the unpacked .gz
# exactly where run.sh unpacks it, so it reuses it), else the file itself.
# run.sh gets CORPUS_ARG; the "corpus" field of every record is CORPUS_ARG.
CORPUS=$OUT/corpus.txt CORPUS_ARG=$SRC
stamp="$BENCH_CORPUS $SRC $(stat -c %Y "$SRC")"
fresh() { [ -s "$CORPUS" ] && [ "$(cat "$OUT/corpus.src" 2>/dev/null)" = "$stamp" ]; }
if [ "$BENCH_CORPUS" = 5m ]; then
  CORPUS_ARG=$CORPUS
  if ! fresh; then
    say "cutting the first $SLICE_WORDS tokens of $SRC into $CORPUS"
    # head stops the pipe early, so zcat and tr die of SIGPIPE: not an error here.
    (set +o pipefail; zcat "$SRC" | tr -s ' \n' '\n' | head -n "$SLICE_WORDS" | paste -sd' ') > "$CORPUS.tmp"
    [ "$(wc -w < "$CORPUS.tmp")" -gt 0 ] || die "could not read $SRC"
    mv "$CORPUS.tmp" "$CORPUS"; echo "$stamp" > "$OUT/corpus.src"
  fi
elif [[ $SRC == *.gz ]]; then
  if ! fresh; then
    say "unpacking $SRC into $CORPUS"
    zcat "$SRC" > "$CORPUS.tmp" && mv "$CORPUS.tmp" "$CORPUS"; echo "$stamp" > "$OUT/corpus.src"
  fi
else
  CORPUS=$SRC
fi
CORPUS_WORDS=$(wc -w < "$CORPUS")
say "corpus $CORPUS_ARG: $CORPUS_WORDS words; output in $OUT"

# Ours, recorded like run.sh's run_one records a peer.  Its record-writing
# snippet (the python here-document of run_one) is taken from run.sh itself.
RECORD_PY=$(sed -n "/<<'EOF'\$/,/^EOF\$/p" "$BENCH/run.sh" | sed '1d;$d')
case "$RECORD_PY" in *results*words_per_sec*) ;; *) die "cannot find the results snippet in $BENCH/run.sh" ;; esac
meta() { # peer mode rep: the same fields as run.sh's meta()
  printf '{"peer":"%s","mode":"%s","rep":%d,"corpus":"%s","corpus_words":%d,"epochs":%d,"threads":%d}' \
    "$1" "$2" "$3" "$CORPUS_ARG" "$CORPUS_WORDS" "$EPOCHS" "$THREADS"
}
OURS_FAILED=0
run_ours() { # mode rep
  local mode=$1 rep=$2 model=skipgram rc=0
  [ "$mode" = cbow ] && model=cbow
  local d=$OUT/ophicleide-$mode-r$rep
  rm -rf "$d"; mkdir -p "$d"
  "$PY" "$BENCH/timed_run.py" --out-json "$d/run.json" --log "$d/train.log" \
    --meta "$(meta ophicleide "$mode" "$rep")" --train-json "$d/train_stats.json" -- \
    "$OURS_BIN" train --input "$CORPUS" --output "$d/vectors.txt" --format text \
    --model "$model" --loss ns --dim 100 --window 5 --negative 5 --min-count 5 \
    --sample 1e-3 --epochs "$EPOCHS" --alpha 0.025 --threads "$THREADS" \
    --tokenizer whitespace ${OURS_SUBWORD[@]+"${OURS_SUBWORD[@]}"} --stats-json "$d/train_stats.json" || rc=$?
  if [ $rc -ne 0 ] || [ ! -s "$d/vectors.txt" ]; then
    say "FAIL ophicleide $mode r$rep rc=$rc (see $d/train.log)"; OURS_FAILED=1
  fi
  if [ -n "$EVAL_DIR" ] && [ -s "$d/vectors.txt" ]; then
    "$PY" "$BENCH/eval.py" "$d/vectors.txt" "$EVAL_DIR" --json "$d/eval.json" > "$d/eval.txt" 2>&1 || true
  fi
  "$PY" -c "$RECORD_PY" "$d" "$RESULTS" "$d/vectors.txt" || { say "could not record ophicleide $mode r$rep"; OURS_FAILED=1; }
  if [ "$KEEP_VECTORS" = 0 ]; then rm -f "$d/vectors.txt"; fi
}

OURS_BIN=${BENCH_BIN:-$OUT/ophicleide}
if [ "${BENCH_SKIP_OURS:-0}" != 1 ] && [ -z "${BENCH_BIN:-}" ]; then
  say "building $OURS_BIN"
  (cd "$ROOT" && go build -o "$OURS_BIN" ./cmd/ophicleide) || die "go build ./cmd/ophicleide failed"
  echo "ophicleide: $(cd "$ROOT" && git describe --always --dirty 2>/dev/null || echo '?'), $(go version)" > "$OUT/versions-ophicleide.txt"
fi
for rep in $(seq 1 "$REPEATS"); do
  for mode in $MODES; do
    if [ "${BENCH_SKIP_OURS:-0}" != 1 ]; then run_ours "$mode" "$rep"; fi
    MODES=$mode REPEATS=1 REP_START=$rep KEEP_VECTORS=$KEEP_VECTORS \
      bash "$BENCH/run.sh" "$CORPUS_ARG" "$OUT"
  done
done

# Stanford Rare Words (eval.py does not score it): its Spearman rho over
# the pairs both of whose words have vectors, as OUT/<run>/rw.json, read by
# bench_table.py.  Vectors of words outside the vocabulary (subwords) are
# not used: fastText's .vec holds the vocabulary only, like ours.
RW=${EVAL_DIR:+$EVAL_DIR/wordvectors-org/EN-RW-STANFORD.txt}
if [ -n "$RW" ] && [ -s "$RW" ]; then
  for v in "$OUT"/*-r*/vectors.txt; do
    [ -s "$v" ] || continue
    "$PY" - "$BENCH" "$v" "$RW" "$(dirname "$v")/rw.json" <<'EOF' || say "could not score RW on $v"
import json, sys
sys.path.insert(0, sys.argv[1])
import eval as ev
words, m = ev.load_vectors(sys.argv[2])
r = ev.eval_pairs(words, ev.unit_rows(m), sys.argv[3], 300000)
json.dump(r, open(sys.argv[4], "w"))
EOF
  done
fi

"$PY" "$BENCH/make_table.py" --name ophicleide=ophicleide "$LABEL=$OUT" > "$OUT/table-full.md" || true
"$PY" "$ROOT/scripts/bench_table.py" "$RESULTS" --bench "$BENCH" --label "$LABEL ($CORPUS_WORDS words, $THREADS threads)" | tee "$OUT/table.md"
say "tables: $OUT/table.md, $OUT/table-full.md (make_table.py)"
exit $OURS_FAILED
