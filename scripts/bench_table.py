#!/usr/bin/env python3
"""Markdown table of ours and the peers from one results.jsonl (scripts/bench.sh).

  bench_table.py RESULTS.jsonl [--bench SHARED/bench] [--label TEXT]

One row per peer and mode; with repeats, each figure is the median over the
runs (a later record for the same peer/mode/repeat replaces an earlier one).
words/s = corpus words x epochs / training seconds (run.sh's words_per_sec).
"vs fastest peer" = words/s / words/s of the fastest peer in the same mode,
ours (ophicleide) left out of "fastest", so ours reads as a multiple of the
best other tool.  Failed runs (rc != 0) and skipped peers are listed below
the table.  Display names and order come from make_table.py when --bench
gives its folder.  "syntactic %" is the analogy accuracy on the syntactic
("gram") sections; "RW rho" the Stanford Rare Words Spearman rho that
bench.sh writes to each run's rw.json (absent: "-").  Standard library only.
"""
import argparse
import json
import os
import statistics
import sys

OURS = "ophicleide"


def med(xs):
    xs = [x for x in xs if x is not None and x == x]
    return statistics.median(xs) if xs else None


def fmt(x, spec):
    return "-" if x is None else spec % x


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("--bench", help="folder of make_table.py (peer names and order)")
    ap.add_argument("--label", default="")
    a = ap.parse_args()

    names, order = {}, []
    if a.bench:
        sys.path.insert(0, a.bench)
        try:
            import make_table
            names, order = dict(make_table.PEER_NAME), list(make_table.PEER_ORDER)
        except Exception:
            pass
    names[OURS] = "**ophicleide (ours)**"
    order = [OURS] + order

    runs, notes = {}, []
    with open(a.results) as f:
        for line in f:
            if not line.strip():
                continue
            r = json.loads(line)
            if "skipped" in r:
                notes.append("skipped: %s %s: %s" % (r["peer"], r["mode"], r["skipped"]))
            elif r.get("rc", 0) != 0 or not r.get("words_per_sec"):
                notes.append("FAILED: %s %s r%s rc=%s (%s)" % (
                    r["peer"], r["mode"], r.get("rep"), r.get("rc"), r.get("outdir", "")))
            else:
                runs[(r["peer"], r["mode"], r["rep"])] = r

    rows = {}
    for (peer, mode, _), r in sorted(runs.items()):
        rows.setdefault((peer, mode), []).append(r)

    def ev(r, *path):
        x = r.get("eval", {})
        for k in path:
            x = x.get(k) if isinstance(x, dict) else None
        return x

    def rw(r):
        try:
            with open(os.path.join(r.get("outdir", ""), "rw.json")) as f:
                return json.load(f).get("spearman")
        except (OSError, ValueError):
            return None

    table = {}
    for key, rs in rows.items():
        acc = med([ev(r, "analogy", "total", "accuracy") for r in rs])
        cov = med([ev(r, "analogy", "coverage") for r in rs])
        table[key] = {
            "wps": med([r["words_per_sec"] for r in rs]),
            "wall": med([r.get("wall_seconds") for r in rs]),
            "rss": med([r.get("peak_rss_kib", 0) / 1024.0 if r.get("peak_rss_kib") else None for r in rs]),
            "acc": acc * 100 if acc is not None else None,
            "cov": cov * 100 if cov is not None else None,
            "syn": med([ev(r, "analogy", "syntactic", "accuracy") for r in rs]),
            "rw": med([rw(r) for r in rs]),
            "ws": med([ev(r, "ws353", "spearman") for r in rs]),
            "sl": med([ev(r, "simlex", "spearman") for r in rs]),
            "n": len(rs),
        }
    fastest = {}
    for (peer, mode), t in table.items():
        if peer != OURS:
            fastest[mode] = max(fastest.get(mode, 0), t["wps"])

    modes = sorted({m for _, m in table}, key=lambda m: (m != "sg", m))
    out = []
    if a.label:
        out += ["Corpus: %s" % a.label, ""]
    out.append("| peer | mode | words/s | vs fastest peer | wall s | peak RSS MiB | analogy % | syntactic % | analogy coverage | WS353 rho | SimLex rho | RW rho | runs |")
    out.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for mode in modes:
        peers = sorted((p for p, m in table if m == mode),
                       key=lambda p: (order.index(p) if p in order else len(order), p))
        for peer in peers:
            t = table[(peer, mode)]
            ratio = t["wps"] / fastest[mode] if fastest.get(mode) else None
            syn = t["syn"] * 100 if t["syn"] is not None else None
            out.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %d |" % (
                names.get(peer, peer), mode, "{:,.0f}".format(t["wps"]), fmt(ratio, "%.2fx"),
                fmt(t["wall"], "%.1f"), fmt(t["rss"], "%.0f"), fmt(t["acc"], "%.1f"), fmt(syn, "%.1f"),
                fmt(t["cov"], "%.1f%%"), fmt(t["ws"], "%.3f"), fmt(t["sl"], "%.3f"), fmt(t["rw"], "%.3f"), t["n"]))
    if notes:
        out.append("")
        out += ["- " + n for n in notes]
    print("\n".join(out))


if __name__ == "__main__":
    main()
