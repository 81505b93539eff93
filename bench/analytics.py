#!/usr/bin/env python3
"""Throughput of the clustering and projection functions (README "Clustering
and projection"): kmeans(), pca(), vector_nearest() and vector_project() over
one table of random vectors, 100,000 x 768 by default.

Run by `bash bench/run.sh --analytics` (`make bench ANALYTICS=1`) against its
throwaway cluster; it reuses bench.py's loader and machine record rather than
growing bench.py, whose subject is nearest-neighbour search.  Each query runs
--repeat times in one backend; the report gives the median wall time, rows/s
and the backend's CPU seconds (user + system, from /proc: on a shared machine
wall time also counts waiting for a core) with rows per CPU second.  One JSON line per query goes to
bench/results/analytics/ (a folder of its own, so plot.py does not read it).
"""
import argparse
import datetime
import json
import os
import statistics
import sys
import time

import numpy as np
import psycopg

import bench

QUERIES = [
    # (name, SQL; {t} is the table, {k} the cluster count)
    ("read the rows: count(*)", "SELECT count(*) FROM {t}"),
    ("pca(v, 2)", "SELECT pca(embedding, 2) FROM {t}"),
    ("kmeans(v, {k})", "SELECT kmeans(embedding, {k}) FROM {t}"),
    ("kmeans(v, {k}, 'cosine')", "SELECT kmeans(embedding, {k}, 'cosine') FROM {t}"),
    ("vector_nearest(v, {k} centroids)",
     "SELECT count(DISTINCT vector_nearest(b.embedding, c.c)) FROM {t} b, {t}_centroids c"),
    ("vector_project(v, pca(v, 2))",
     "SELECT sum((vector_project(b.embedding, p.p)::real[])[1]) FROM {t} b, {t}_projection p"),
]


class Uniform:
    """Rows uniform in [0, 1), generated in blocks from a seed (as bench.py's
    copy_rows wants a data set: dim and iter_base)."""

    def __init__(self, rows, dim, seed):
        self.rows, self.dim, self.seed = rows, dim, seed

    def iter_base(self, chunk):
        rng = np.random.default_rng(self.seed)
        for first in range(0, self.rows, chunk):
            m = min(chunk, self.rows - first)
            yield first, rng.random((m, self.dim), dtype=np.float32)


def cpu_seconds(pid):
    """utime + stime of a local backend, or None when /proc cannot tell."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=100000)
    p.add_argument("--dims", type=int, default=768)
    p.add_argument("--k", type=int, default=100, help="k-means clusters (default 100)")
    p.add_argument("--repeat", type=int, default=3, help="runs per query; the median counts (default 3)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--table", default="analytics_bench")
    p.add_argument("--out", default=os.path.join(bench.HERE, "results", "analytics"))
    a = p.parse_args()
    t = a.table

    with psycopg.connect("", autocommit=True) as c:
        c.execute("CREATE EXTENSION IF NOT EXISTS embed")
    conn = bench.connect()  # registers the binary vector dumper copy_rows uses
    machine = bench.machine_info(conn)
    print(f"analytics: {a.rows:,} x {a.dims} random vectors (uniform in [0, 1), seed {a.seed}), "
          f"k = {a.k}, median of {a.repeat}")
    print(f"machine    {machine['cpu']}, {machine['cores']} cores, load {machine['loadavg_at_start'][0]:.1f}; "
          f"PostgreSQL {machine['pg_version']}; git {machine.get('git_commit') or '?'}"
          f"{' + uncommitted changes' if machine.get('git_dirty') else ''}")

    conn.execute(f"DROP TABLE IF EXISTS {t}, {t}_centroids, {t}_projection")
    t0 = time.perf_counter()
    with conn.transaction():
        conn.execute(f"CREATE TABLE {t} (id int4 NOT NULL, embedding vector({a.dims}) NOT NULL)")
        bench.copy_rows(conn, t, Uniform(a.rows, a.dims, a.seed), 10000)
    conn.execute(f"VACUUM (ANALYZE) {t}")
    print(f"load       {time.perf_counter() - t0:.1f} s")
    # what the labelling queries label against, kept in tables as a user would
    conn.execute(f"CREATE TABLE {t}_centroids AS SELECT kmeans(embedding, {a.k}) AS c FROM {t}")
    conn.execute(f"CREATE TABLE {t}_projection AS SELECT pca(embedding, 2) AS p FROM {t}")
    pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    conn.execute("SET max_parallel_workers_per_gather = 0")

    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H%M%SZ")
    os.makedirs(a.out, exist_ok=True)
    path = os.path.join(a.out, f"{stamp}.jsonl")
    print(f"\n{'query':<36} {'wall s':>8} {'rows/s':>10} {'CPU s':>8} {'rows/CPU s':>11}")
    with open(path, "w") as out:
        for name, sql in QUERIES:
            name, sql = name.format(k=a.k), sql.format(t=t, k=a.k)
            walls, cpus = [], []
            for _ in range(a.repeat):
                c0 = cpu_seconds(pid)
                w0 = time.perf_counter()
                conn.execute(sql).fetchall()
                walls.append(time.perf_counter() - w0)
                c1 = cpu_seconds(pid)
                if c0 is not None and c1 is not None:
                    cpus.append(c1 - c0)
            wall = statistics.median(walls)
            cpu = statistics.median(cpus) if cpus else None
            per_cpu = a.rows / cpu if cpu else None
            print(f"{name:<36} {wall:>8.2f} {a.rows / wall:>10,.0f} "
                  f"{cpu if cpu is not None else float('nan'):>8.2f} "
                  f"{format(per_cpu, ',.0f') if per_cpu else '-':>11}")
            out.write(json.dumps({
                "kind": "analytics", "query": name, "sql": sql, "rows": a.rows, "dims": a.dims,
                "k": a.k, "repeat": a.repeat, "wall_s": walls, "cpu_s": cpus or None,
                "rows_per_s": a.rows / wall,
                "rows_per_cpu_s": per_cpu, "timestamp": stamp, "machine": machine}) + "\n")
    conn.execute(f"DROP TABLE {t}, {t}_centroids, {t}_projection")
    print(f"\nwrote {os.path.relpath(path)}")


if __name__ == "__main__":
    sys.exit(main())
