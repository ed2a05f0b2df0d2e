#!/usr/bin/env bash
# The native engine against the Spark engine (Spark MLlib Word2Vec through
# Spark Connect) on one corpus, with the settings Spark supports: skip-gram,
# hierarchical softmax, dim 100, window 5, min count 5, alpha 0.025, no
# subsampling.  For each epoch count it trains (a) native with THREADS
# threads (--loss hs --sample 0), then Spark on local[2] with (b) one
# partition and (c) two (PARTITIONS), on a Spark Connect server this script
# starts in a temporary folder and stops at the end, whatever the outcome.
# Every model's vectors (word2vec text) are scored with the shared eval.py.
# Prints one markdown table (also OUT/table.md).  `make spark-bench` runs this.
#
#   scripts/spark-bench.sh
#   EPOCHS="1 5" scripts/spark-bench.sh
#
# Environment (all optional):
#   SHARED        the shared folder (default: <repo>/../shared); needs bench/eval.py
#                 and data/
#   BENCH_CORPUS  the corpus file, plain or .gz (default
#                 $SHARED/data/corpus/small.txt.gz, 1.03M words); e.g. the 5M-token
#                 slice scripts/bench.sh leaves in /tmp/ophicleide-bench/medium5m/corpus.txt
#   BENCH_OUT     output folder (default /tmp/ophicleide-spark-bench/<corpus label>);
#                 an old results.jsonl is moved aside to results.<time>.jsonl
#   EPOCHS        epoch counts to run, "1" (default, Spark's default maxIter) or "1 5"
#   PARTITIONS    Spark partition counts (default "1 2")
#   THREADS       native training threads (default 2)
#   TOKENIZER     tokenizer for both engines (default unicode; both tokenise here:
#                 the Spark engine uploads our sentences)
#   SEED          random seed for both (default 1)
#   EVAL_DIR      evaluation sets (default $SHARED/data/eval; empty: no scoring)
#   PYTHON        the python for eval.py and the table (default /usr/bin/python3,
#                 which must import numpy: Debian's python3-gensim brings it)
#   BENCH_INSTALL=1  apt-get install what is missing: python3-gensim (numpy) and
#                 /usr/bin/time (package time)
#   BENCH_BIN     an ophicleide binary to run instead of building OUT/ophicleide
#   SPARK_MASTER  the server's master (default local[2])
#   SPARK_DRIVER_MEMORY  the server's driver heap (default 2g)
#   SPARK_CONF    extra server confs "k=v k=v", after the benchmark's own:
#                 spark.connect.execute.reattachable.senderMaxStreamDuration=2m
#                 (Spark's default; scripts/spark-connect.sh sets 1s for the tests)
#   SPARK_IDLE_WAIT  seconds between the server's start and its idle RSS reading (5)
#   KEEP_VECTORS  0: delete each vectors file once scored (default 1: keep)
#
# Measured: the server's start time (the start command to its URL, Spark
# already installed), its JVM's RSS idle after start and VmHWM after the fits
# (/proc/PID/status of the java process running SparkConnectServer in the
# temporary folder), and per Spark run the JVM's RSS peak sampled every 0.5 s.
# Per run: wall seconds (the whole command: reading, tokenising, for Spark the
# upload and the vectors' download), training seconds (the trainer's
# --stats-json: native = the training passes; Spark = fit, counts and reading
# the vectors back), words/s = corpus words x epochs / training seconds, the
# ophicleide process's peak RSS (/usr/bin/time -v), and eval.py's analogy total,
# WS353 and SimLex Spearman rho.
#
# Output: OUT/ophicleide (built once), OUT/<run>-e<epochs>/ (train.log,
# time.txt, stats.json, vectors.txt, eval.json, eval.txt, run.json),
# OUT/results.jsonl, OUT/server.json, OUT/spark-server.log, OUT/table.md.
# Exits non-zero when a run failed.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SHARED=${SHARED:-$ROOT/../shared}
EPOCHS=${EPOCHS:-1}
PARTITIONS=${PARTITIONS:-"1 2"}
THREADS=${THREADS:-2}
TOKENIZER=${TOKENIZER:-unicode}
SEED=${SEED:-1}
PY=${PYTHON:-/usr/bin/python3}
SPARK_MASTER=${SPARK_MASTER:-local[2]}
SPARK_DRIVER_MEMORY=${SPARK_DRIVER_MEMORY:-2g}
SPARK_IDLE_WAIT=${SPARK_IDLE_WAIT:-5}
KEEP_VECTORS=${KEEP_VECTORS:-1}
CONNECT=$ROOT/scripts/spark-connect.sh

die() { echo "spark-bench.sh: $*" >&2; exit 1; }
say() { echo "spark-bench.sh: $*" >&2; }

[ -d "$SHARED" ] || die "no shared folder at $SHARED (set SHARED=/path/to/shared)"
SHARED=$(cd "$SHARED" && pwd)
EVAL_DIR=${EVAL_DIR-$SHARED/data/eval}
EVAL_PY=$SHARED/bench/eval.py
SRC=${BENCH_CORPUS:-$SHARED/data/corpus/small.txt.gz}
[ -s "$SRC" ] || die "corpus not found: $SRC"
SRC=$(cd "$(dirname "$SRC")" && pwd)/$(basename "$SRC")
LABEL=$(basename "$SRC"); LABEL=${LABEL%.gz}; LABEL=${LABEL%.txt}
if [ -n "$EVAL_DIR" ]; then
  [ -d "$EVAL_DIR" ] || die "no evaluation folder at $EVAL_DIR (EVAL_DIR= to skip scoring)"
  [ -f "$EVAL_PY" ] || die "missing $EVAL_PY (the shared evaluator)"
fi
for e in $EPOCHS; do [[ $e =~ ^[1-9][0-9]*$ ]] || die "EPOCHS: \"$e\" is not a positive integer"; done
for p in $PARTITIONS; do [[ $p =~ ^[1-9][0-9]*$ ]] || die "PARTITIONS: \"$p\" is not a positive integer"; done

# Tools: /usr/bin/time for every run, numpy for eval.py.
need_pkgs() {
  [ -x /usr/bin/time ] || echo time
  if [ -n "$EVAL_DIR" ]; then "$PY" -c 'import numpy' 2>/dev/null || echo python3-gensim; fi
}
missing=$(need_pkgs | xargs)
if [ -n "$missing" ] && [ "${BENCH_INSTALL:-0}" = 1 ]; then
  sudo=(); if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null; then sudo=(sudo); fi
  say "installing $missing"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  read -r -a pkgs <<<"$missing"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" >/dev/null
  missing=$(need_pkgs | xargs)
fi
for p in $missing; do
  case $p in
    time) die "/usr/bin/time is missing (apt-get install time, or BENCH_INSTALL=1)" ;;
    python3-gensim) die "$PY cannot import numpy, so eval.py cannot score (apt-get install python3-gensim, or BENCH_INSTALL=1; EVAL_DIR= to skip scoring)" ;;
  esac
done

OUT=${BENCH_OUT:-/tmp/ophicleide-spark-bench/$LABEL}
mkdir -p "$OUT"; OUT=$(cd "$OUT" && pwd)
RESULTS=$OUT/results.jsonl
if [ -s "$RESULTS" ]; then mv "$RESULTS" "$OUT/results.$(date -u +%Y%m%dT%H%M%SZ).jsonl"; fi
rm -f "$OUT/server.json" "$OUT/table.md"

BIN=${BENCH_BIN:-$OUT/ophicleide}
if [ -z "${BENCH_BIN:-}" ]; then
  say "building $BIN"
  (cd "$ROOT" && go build -o "$BIN" ./cmd/ophicleide) || die "go build ./cmd/ophicleide failed"
fi
[ -x "$BIN" ] || die "no ophicleide binary at $BIN"
{
  echo "ophicleide: $(cd "$ROOT" && git describe --always --dirty 2>/dev/null || echo '?'), $(go version 2>/dev/null || echo 'go ?')"
  echo "machine: $(nproc) CPUs, $(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
  echo "java: $(java -version 2>&1 | head -n 1)"
} > "$OUT/versions.txt"

# The Spark Connect server: installed first (once, outside the timing), then
# started in a temporary folder; the EXIT trap stops it and removes the
# folder.  OPH_SPARK_WATCH_PID makes it stop itself should this script be
# killed before the trap can run.
SPARK_VERSION=$(sed -n 's/^readonly SPARK_VERSION=//p' "$CONNECT")
SPARK_DIR="" SAMPLER=""
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
  local rc=$?
  if [ -n "$SAMPLER" ]; then kill "$SAMPLER" 2>/dev/null || true; fi
  if [ -n "$SPARK_DIR" ]; then
    cp -f "$SPARK_DIR/log" "$OUT/spark-server.log" 2>/dev/null || true
    bash "$CONNECT" stop "$SPARK_DIR" || true
    rm -rf -- "$SPARK_DIR"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

bash "$CONNECT" install >&2 || die "could not install Spark (scripts/spark-connect.sh install)"
SPARK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/ophicleide-spark-bench.XXXXXX")
export OPH_SPARK_MASTER=$SPARK_MASTER OPH_SPARK_DRIVER_MEMORY=$SPARK_DRIVER_MEMORY
export OPH_SPARK_CONF="spark.connect.execute.reattachable.senderMaxStreamDuration=2m${SPARK_CONF:+ $SPARK_CONF}"
export OPH_SPARK_WATCH_PID=$$ OPH_SPARK_WATCH_RMDIR=1
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
say "starting Spark Connect $SPARK_VERSION ($SPARK_MASTER, driver memory $SPARK_DRIVER_MEMORY) in $SPARK_DIR"
t0=$(now)
URL=$(bash "$CONNECT" start "$SPARK_DIR") || die "the Spark Connect server did not start (see above)"
START_S=$(secs "$t0" "$(now)")
say "server at $URL after $START_S s"

# The java process of this server: SparkConnectServer with SPARK_DIR in its
# command line (its -Djava.io.tmpdir and --name name the folder).
jvm_pid() {
  local p
  for p in $(pgrep -f SparkConnectServer || true); do
    [ "$(cat "/proc/$p/comm" 2>/dev/null)" = java ] || continue
    if tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null | grep -qF -- "$SPARK_DIR"; then echo "$p"; return 0; fi
  done
  return 1
}
status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null || true; } # pid field
JVM=$(jvm_pid) || die "cannot find the server's java process (SparkConnectServer under $SPARK_DIR)"
sleep "$SPARK_IDLE_WAIT"
IDLE_RSS=$(status_kb "$JVM" VmRSS) IDLE_HWM=$(status_kb "$JVM" VmHWM)
say "JVM pid $JVM: RSS $((IDLE_RSS / 1024)) MB idle ${SPARK_IDLE_WAIT}s after start (VmHWM $((IDLE_HWM / 1024)) MB)"

# sample_jvm PID FILE: FILE holds the largest VmRSS (kB) seen, every 0.5 s.
sample_jvm() {
  local max=0 r
  trap - EXIT INT TERM
  while r=$(status_kb "$1" VmRSS) && [ -n "$r" ]; do
    if [ "$r" -gt "$max" ]; then max=$r; echo "$max" > "$2"; fi
    sleep 0.5
  done
}

FAILED=0
run_one() { # name epochs partitions(0: native)
  local name=$1 epochs=$2 parts=$3 rc=0 d t1 t2 wall rss jvm_peak="" jvm_hwm=""
  d=$OUT/$name-e$epochs
  rm -rf "$d"; mkdir -p "$d"
  local args=(train --input "$SRC" --output "$d/vectors.txt" --format text --model skipgram
    --dim 100 --window 5 --min-count 5 --alpha 0.025 --epochs "$epochs" --seed "$SEED"
    --tokenizer "$TOKENIZER" --stats-json "$d/stats.json")
  if [ "$parts" = 0 ]; then
    args+=(--engine native --loss hs --sample 0 --threads "$THREADS")
  else
    args+=(--engine spark --spark "$URL" --loss hs --partitions "$parts")
    sample_jvm "$JVM" "$d/jvm_peak_kb" & SAMPLER=$!
  fi
  say "run $name, $epochs epoch(s): ophicleide ${args[*]}"
  echo "$BIN ${args[*]}" > "$d/command.txt"
  t1=$(now)
  /usr/bin/time -v -o "$d/time.txt" "$BIN" "${args[@]}" > "$d/train.log" 2>&1 || rc=$?
  t2=$(now)
  if [ -n "$SAMPLER" ]; then
    kill "$SAMPLER" 2>/dev/null || true; wait "$SAMPLER" 2>/dev/null || true; SAMPLER=""
    jvm_peak=$(cat "$d/jvm_peak_kb" 2>/dev/null || true)
    jvm_hwm=$(status_kb "$JVM" VmHWM)
  fi
  wall=$(secs "$t1" "$t2")
  rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$d/time.txt" 2>/dev/null || true)
  grep -a '^done' "$d/train.log" >&2 || true
  if [ $rc -ne 0 ] || [ ! -s "$d/vectors.txt" ] || [ ! -s "$d/stats.json" ]; then
    say "FAIL $name e$epochs rc=$rc (see $d/train.log):"; tail -n 5 "$d/train.log" >&2 || true
    FAILED=1; [ $rc -ne 0 ] || rc=1
  elif [ -n "$EVAL_DIR" ]; then
    if "$PY" "$EVAL_PY" "$d/vectors.txt" "$EVAL_DIR" --json "$d/eval.json" > "$d/eval.txt" 2>&1; then
      sed 's/^/  /' "$d/eval.txt" | grep -v '^  vectors:' >&2 || true
    else
      say "eval.py failed on $d/vectors.txt (see $d/eval.txt)"; FAILED=1
    fi
  fi
  printf '{"run":"%s","epochs":%d,"partitions":%d,"rc":%d,"wall_s":%s,"max_rss_kb":%s,"jvm_peak_rss_kb":%s,"jvm_hwm_kb":%s,"dir":"%s"}\n' \
    "$name" "$epochs" "$parts" "$rc" "$wall" "${rss:-null}" "${jvm_peak:-null}" "${jvm_hwm:-null}" "$d" > "$d/run.json"
  # the first 1,000 words (after the header), to compare the engines' orders
  if [ -s "$d/vectors.txt" ]; then sed -n '2,1001p' "$d/vectors.txt" | cut -d' ' -f1 > "$d/head-words.txt"; fi
  if [ "$KEEP_VECTORS" = 0 ]; then rm -f "$d/vectors.txt"; fi
  # one record: run.json + stats.json + the eval figures
  "$PY" - "$d" >> "$RESULTS" <<'EOF' || { say "could not record $name e$epochs"; FAILED=1; }
import json, os, sys
d = sys.argv[1]
def load(name):
    try:
        with open(os.path.join(d, name)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None
r = load("run.json")
st = load("stats.json") or {}
for k in ("corpus_words", "vocab_size", "train_seconds"):
    r[k] = st.get(k)
if r["corpus_words"] and r["train_seconds"]:
    r["words_per_s"] = r["corpus_words"] * r["epochs"] / r["train_seconds"]
ev = load("eval.json")
if ev:
    an = ev.get("analogy", {})
    r["analogy_pct"] = 100 * an["total"]["accuracy"] if an else None
    r["analogy_coverage"] = an.get("coverage")
    r["ws353"] = ev.get("ws353", {}).get("spearman")
    r["simlex"] = ev.get("simlex", {}).get("spearman")
    r["eval_vocab"] = ev.get("vocab_size")
print(json.dumps(r))
EOF
}

for e in $EPOCHS; do
  run_one native "$e" 0
  for p in $PARTITIONS; do run_one "spark-p$p" "$e" "$p"; done
done

FINAL_HWM=$(status_kb "$JVM" VmHWM) FINAL_RSS=$(status_kb "$JVM" VmRSS)
printf '{"spark":"%s","master":"%s","driver_memory":"%s","start_s":%s,"jvm_pid":%d,"idle_wait_s":%s,"idle_rss_kb":%s,"idle_hwm_kb":%s,"final_rss_kb":%s,"final_hwm_kb":%s}\n' \
  "$SPARK_VERSION" "$SPARK_MASTER" "$SPARK_DRIVER_MEMORY" "$START_S" "$JVM" "$SPARK_IDLE_WAIT" \
  "${IDLE_RSS:-null}" "${IDLE_HWM:-null}" "${FINAL_RSS:-null}" "${FINAL_HWM:-null}" > "$OUT/server.json"

"$PY" - "$RESULTS" "$OUT/server.json" "$LABEL" "$THREADS" "$TOKENIZER" <<'EOF' | tee "$OUT/table.md"
import json, sys
results, server, label, threads, tok = sys.argv[1:6]
runs = [json.loads(l) for l in open(results) if l.strip()]
srv = json.load(open(server))
def f(x, spec):
    return "-" if x is None else spec % x
def mb(kb):
    return None if kb is None else kb / 1024
words = next((r["corpus_words"] for r in runs if r.get("corpus_words")), None)
print("Native vs Spark MLlib Word2Vec, %s (%s corpus words, tokenizer %s): skip-gram, hierarchical "
      "softmax, dim 100, window 5, min count 5, alpha 0.025, no subsampling; native %s threads, "
      "Spark %s %s" % (label, "?" if words is None else "{:,}".format(words),
                       tok, threads, srv["spark"], srv["master"]))
print()
print("| run | epochs | wall s | train s | words/s | native/this words/s | peak RSS MB (ophicleide) | peak RSS MB (JVM) | vocab | analogy % | WS353 | SimLex |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
native = {r["epochs"]: r for r in runs if r["partitions"] == 0}
for r in runs:
    name = "native" if r["partitions"] == 0 else "spark p%d" % r["partitions"]
    if r["rc"] != 0:
        name += " (FAILED rc=%d)" % r["rc"]
    n = native.get(r["epochs"], {})
    ratio = None
    if n.get("words_per_s") and r.get("words_per_s"):
        ratio = n["words_per_s"] / r["words_per_s"]
    print("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
        name, r["epochs"], f(r.get("wall_s"), "%.1f"), f(r.get("train_seconds"), "%.1f"),
        "-" if not r.get("words_per_s") else "{:,.0f}".format(r["words_per_s"]),
        f(ratio, "%.1f"), f(mb(r.get("max_rss_kb")), "%.0f"), f(mb(r.get("jvm_peak_rss_kb")), "%.0f"),
        "-" if r.get("vocab_size") is None else "{:,}".format(r["vocab_size"]),
        f(r.get("analogy_pct"), "%.1f"), f(r.get("ws353"), "%.3f"), f(r.get("simlex"), "%.3f")))
print()
print("- Spark Connect server: started in %s s (start command to its URL, Spark installed); "
      "driver memory %s" % (f(srv.get("start_s"), "%.1f"), srv["driver_memory"]))
print("- JVM RSS: %s MB idle %s s after start (VmHWM %s MB); VmHWM %s MB after the fits "
      "(RSS %s MB at the end)" % (f(mb(srv.get("idle_rss_kb")), "%.0f"), srv["idle_wait_s"],
      f(mb(srv.get("idle_hwm_kb")), "%.0f"), f(mb(srv.get("final_hwm_kb")), "%.0f"),
      f(mb(srv.get("final_rss_kb")), "%.0f")))
print("- words/s = corpus words x epochs / train s; train s: native = the training passes, Spark = "
      "fit + counts + vectors read back (wall s adds reading, tokenising and, for Spark, the upload); "
      "peak RSS (JVM) = the server's VmRSS sampled every 0.5 s during the run")
def head(r):
    try:
        return open(r["dir"] + "/head-words.txt").read().split("\n")[:1000]
    except OSError:
        return None
for r in runs:
    n = native.get(r["epochs"])
    if r["partitions"] == 0 or not n:
        continue
    a, b = head(n), head(r)
    if a and b:
        same = sum(x == y for x, y in zip(a, b))
        print("- vector file order, %s e%d: %d of the first %d words at native's positions (first: %s)" % (
            r["run"], r["epochs"], same, min(len(a), len(b)), " ".join(b[:5])))
for r in runs:
    if r.get("analogy_coverage") is not None and r.get("eval_vocab") != r.get("vocab_size"):
        print("- note: %s e%d: eval.py read %s words, the trainer reported %s" % (
            r["run"], r["epochs"], r.get("eval_vocab"), r.get("vocab_size")))
EOF
say "table: $OUT/table.md; records: $RESULTS"
exit $FAILED
