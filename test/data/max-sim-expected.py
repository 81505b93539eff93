#!/usr/bin/env python3
"""The expected values stored in sql/retrieval.sql (multi-vector part).

Rebuilds the test's 200 documents (3 to 7 token vectors of 16 dimensions) and
its 4-vector query from the same integer hash the SQL uses, rounds every
component to float32 as the vector type does, and computes MaxSim in double
precision:  max_sim(q, d) = sum over q's vectors of the max inner product
with any of d's vectors.  Prints the values the test compares with, the
exact top 5, and what the index recipe (candidates = the documents of the k
nearest token vectors of each query vector, reranked) finds for k = 5, 10,
20 with an exact token search.  Standard library only.
"""
import struct

DIM = 16


def f32(x):
    return struct.unpack('f', struct.pack('f', x))[0]


def rnd(h):
    """mv_rnd() of the test: a 32-bit integer hash mapped to [-0.5, 0.5)."""
    for _ in range(2):
        h = ((h ^ (h >> 16)) * 73244475) % 4294967296
    h = h ^ (h >> 16)
    return f32(h / 4294967296 - 0.5)


def token(d, t):
    return [rnd(d * 10007 + t * 101 + c) for c in range(1, DIM + 1)]


def dot(a, b):
    return sum(x * y for x, y in zip(a, b))


def max_sim(q, d):
    return sum(max(dot(a, b) for b in d) for a in q)


docs = {d: [token(d, t) for t in range(1, 3 + d % 5 + 1)] for d in range(1, 201)}
query = [token(0, t) for t in range(1, 5)]

for d in (1, 2, 3, 200):
    print('doc %d: %r' % (d, max_sim(query, docs[d])))
ranked = sorted(((max_sim(query, v), d) for d, v in docs.items()), reverse=True)
print('exact top 5:', ', '.join('(%d, %r)' % (d, s) for s, d in ranked[:5]))

exact = {d for _, d in ranked[:5]}
tokens = [(d, v) for d, vs in docs.items() for v in vs]
for k in (5, 10, 20):
    cand = set()
    for q in query:
        cand |= {d for _, d in sorted((-dot(q, v), d) for d, v in tokens)[:k]}
    top = sorted(((max_sim(query, docs[d]), d) for d in cand), reverse=True)[:5]
    print('k = %d: %d candidates, %d of the exact top 5, top %s'
          % (k, len(cand), len(exact & {d for _, d in top}), [d for _, d in top]))
