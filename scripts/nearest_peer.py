#!/usr/bin/python3
"""The peer of BenchmarkNearestFile: gensim's most_similar (topn=10) on the
same vectors file and the same words (every 7,919th row), median and p99
over 2,000 queries (or QUERIES). Needs Debian's python3-gensim (make bench
installs it with BENCH_INSTALL=1).
Usage: scripts/nearest_peer.py VECTORS.txt [QUERIES]"""
import sys
import time

from gensim.models import KeyedVectors

kv = KeyedVectors.load_word2vec_format(sys.argv[1], binary=not sys.argv[1].endswith(".txt"))
kv.fill_norms()
n = len(kv.index_to_key)
ts = []
queries = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
for j in range(queries):
    word = kv.index_to_key[(j * 7919) % n]
    t = time.perf_counter()
    kv.most_similar(word, topn=10)
    ts.append(time.perf_counter() - t)
ts.sort()
print("gensim most_similar, %d words of dimension %d: median %.3f ms, p99 %.3f ms over %d queries"
      % (n, kv.vector_size, ts[len(ts) // 2] * 1e3, ts[int(len(ts) * 0.99)] * 1e3, len(ts)))
