#!/usr/bin/env python3
"""Sharded ANN search with postgres_fdw against one table, on the same data.

Starts a coordinator and --shards shard clusters on this machine (throwaway,
Unix sockets only), loads the vectors once into a local table `big` on the
coordinator and, through a hash-partitioned table `docs` whose partitions are
postgres_fdw foreign tables, into the shards; builds an hnsw index on `big`
and on every shard (the shards in parallel), then measures recall@k against
exact neighbours and single-client queries per second for:

  one table         SELECT id FROM big ORDER BY embedding <=> $1 LIMIT k
  partitioned       the same on docs: Merge Append over the shards' ordered
                    scans, LIMIT on the coordinator (fetch_size 100 and 10)
  UNION ALL         one ORDER BY ... LIMIT k subquery per shard (LIMIT sent to
                    the shard), Async Foreign Scans, merged on the coordinator

The shards get hnsw.ef_search through the server's `options`.  All clusters
share this machine's cores, so the comparison shows what sharding costs or
gains per query here, not what separate machines would give.  See the README
section "Scaling out".

    /usr/bin/python3 bench/shards.py [--rows 50000] [--ef 20,40,80]
"""

import argparse
import datetime
import glob
import json
import os
import shutil
import subprocess
import threading
import time

import numpy as np
import psycopg

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "..", "shared", "data", "wordvec-fasttext-100")


def read_fvecs(path):
    raw = np.fromfile(path, dtype="<i4")
    dim = int(raw[0])
    return raw.reshape(-1, dim + 1)[:, 1:].view("<f4").copy()


def vec_text(v):
    return "[" + ",".join("%.7g" % x for x in v) + "]"


class Cluster:
    def __init__(self, name, bindir, root, port, user):
        self.name, self.bindir, self.port, self.user = name, bindir, port, user
        self.dir = os.path.join(root, name)
        self.data = os.path.join(self.dir, "data")

    def run(self, args):
        if self.user:
            args = ["runuser", "-u", self.user, "--"] + args
        subprocess.run(args, check=True, stdout=subprocess.DEVNULL)

    def start(self, conf):
        os.makedirs(self.dir, exist_ok=True)
        if self.user:
            shutil.chown(self.dir, self.user)
        self.run([os.path.join(self.bindir, "initdb"), "-D", self.data, "-A", "trust",
                  "-U", "postgres", "--no-sync"])
        with open(os.path.join(self.data, "postgresql.auto.conf"), "a") as f:
            f.write(conf + "unix_socket_directories = '%s'\nlisten_addresses = ''\nport = %d\n"
                    % (self.dir, self.port))
        self.run([os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-w", "-l",
                  os.path.join(self.dir, "log"), "start"])

    def stop(self):
        if os.path.exists(os.path.join(self.data, "postmaster.pid")):
            self.run([os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-w", "-m", "fast", "stop"])

    def connect(self):
        return psycopg.connect(host=self.dir, port=self.port, user="postgres", dbname="postgres",
                               autocommit=True)


def cpu_ms(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000.0 / os.sysconf("SC_CLK_TCK")


def measure(conn, sql, queries, truth, k, shards):
    """Each query twice (the first pass warms caches and opens the shard
    connections); the second is timed.  Returns recall@k, qps, p50 and p99
    latency in ms, and the CPU ms per query of the coordinator's backend and
    of the shards' postgres_fdw backends together (from /proc)."""
    lat, hits = [], 0
    for timed in (False, True):
        if timed:
            pids = [conn.info.backend_pid]
            for s in shards:
                with s.connect() as sc:
                    pids += [r[0] for r in sc.execute(
                        "SELECT pid FROM pg_stat_activity WHERE application_name = 'postgres_fdw'")]
            cpu0 = sum(cpu_ms(p) for p in pids)
        for i, q in enumerate(queries):
            t0 = time.perf_counter()
            ids = [r[0] for r in conn.execute(sql, q, prepare=True).fetchall()]
            dt = time.perf_counter() - t0
            if timed:
                lat.append(dt)
                hits += len(set(ids[:k]) & set(truth[i].tolist()))
    cpu = (sum(cpu_ms(p) for p in pids) - cpu0) / len(queries)
    lat = np.array(lat)
    return {"recall": hits / (k * len(queries)), "qps": len(lat) / lat.sum(),
            "p50_ms": float(np.percentile(lat, 50) * 1000), "p99_ms": float(np.percentile(lat, 99) * 1000),
            "cpu_ms_per_query": cpu, "backends": len(pids)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pg-config", default=os.environ.get("PG_CONFIG", "/usr/lib/postgresql/15/bin/pg_config"))
    ap.add_argument("--base", default=None, help="*_base.fvecs (default: the shared word vectors)")
    ap.add_argument("--rows", type=int, default=None, help="use the first ROWS base rows")
    ap.add_argument("--queries", type=int, default=200, help="the last QUERIES rows, held out")
    ap.add_argument("--shards", type=int, default=3)
    ap.add_argument("--ef", default="20,40,80")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--index", default="m = 16, ef_construction = 64")
    ap.add_argument("--tmp", default="/tmp/embed-shards")
    ap.add_argument("--port", type=int, default=56400)
    args = ap.parse_args()

    base_path = args.base or glob.glob(os.path.join(DATA, "*_base.fvecs"))[0]
    base = read_fvecs(base_path)
    queries, base = base[-args.queries:], base[:-args.queries]
    if args.rows:
        base = base[:args.rows]
    n, dim = base.shape
    b = base / np.linalg.norm(base, axis=1, keepdims=True)
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    truth = np.argsort(-(q.astype(np.float64) @ b.T.astype(np.float64)), axis=1)[:, :args.k]
    qtext = [vec_text(v) for v in queries]

    bindir = subprocess.check_output([args.pg_config, "--bindir"], text=True).strip()
    user = "postgres" if os.geteuid() == 0 else None
    shutil.rmtree(args.tmp, ignore_errors=True)
    os.makedirs(args.tmp)
    if user:
        shutil.chown(args.tmp, user)
    conf = ("shared_buffers = 256MB\nmaintenance_work_mem = 512MB\nmax_parallel_maintenance_workers = 0\n"
            "max_parallel_workers_per_gather = 0\nfsync = off\nsynchronous_commit = off\n")
    co = Cluster("coordinator", bindir, args.tmp, args.port, user)
    shards = [Cluster("shard%d" % i, bindir, args.tmp, args.port + 1 + i, user) for i in range(args.shards)]
    out = {"when": datetime.datetime.now().isoformat(timespec="seconds"), "base": base_path,
           "rows": n, "dim": dim, "queries": len(queries), "k": args.k, "shards": args.shards,
           "index": args.index, "commit": subprocess.run(["git", "-C", HERE, "rev-parse", "--short", "HEAD"],
                                                         capture_output=True, text=True).stdout.strip(),
           "results": []}
    try:
        for c in [co] + shards:
            c.start(conf)
        cols = "id int NOT NULL, embedding vector(%d) NOT NULL" % dim
        conn = co.connect()
        conn.execute("CREATE EXTENSION embed")
        conn.execute("CREATE EXTENSION postgres_fdw")
        conn.execute("CREATE TABLE big (%s)" % cols)
        t0 = time.perf_counter()
        with conn.cursor().copy("COPY big (id, embedding) FROM STDIN") as cp:
            for i in range(n):
                cp.write_row((i, vec_text(base[i])))
        print("loaded %d x %d into big in %.1fs" % (n, dim, time.perf_counter() - t0), flush=True)
        conn.execute("CREATE TABLE docs (%s) PARTITION BY HASH (id)" % cols)
        for i, s in enumerate(shards):
            sc = s.connect()
            sc.execute("CREATE EXTENSION embed")
            sc.execute("CREATE TABLE docs (%s)" % cols)
            sc.close()
            conn.execute(
                "CREATE SERVER shard{i} FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '{h}', port '{p}', "
                "dbname 'postgres', extensions 'embed', async_capable 'true', batch_size '1000')".format(
                    i=i, h=s.dir, p=s.port))
            conn.execute("CREATE USER MAPPING FOR CURRENT_USER SERVER shard%d OPTIONS (user 'postgres')" % i)
            conn.execute("CREATE FOREIGN TABLE docs_{i} PARTITION OF docs FOR VALUES WITH (MODULUS {n}, "
                         "REMAINDER {i}) SERVER shard{i} OPTIONS (table_name 'docs')".format(i=i, n=args.shards))
        t0 = time.perf_counter()
        conn.execute("INSERT INTO docs SELECT id, embedding FROM big")
        print("routed the rows to %d shards through the coordinator in %.1fs"
              % (args.shards, time.perf_counter() - t0), flush=True)
        conn.execute("VACUUM ANALYZE big")

        idx = "CREATE INDEX ON %s USING hnsw (embedding vector_cosine_ops) WITH (%s)"
        t0 = time.perf_counter()
        conn.execute(idx % ("big", args.index))
        out["build_one_table_s"] = time.perf_counter() - t0
        times = {}

        def build(i):
            sc = shards[i].connect()
            t = time.perf_counter()
            sc.execute(idx % ("docs", args.index))
            times[i] = time.perf_counter() - t
            sc.execute("VACUUM ANALYZE docs")
            sc.close()
        t0 = time.perf_counter()
        threads = [threading.Thread(target=build, args=(i,)) for i in range(args.shards)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        out["build_shards_wall_s"] = time.perf_counter() - t0
        out["build_shard_s"] = [times[i] for i in range(args.shards)]
        print("hnsw build: one table %.1fs; %d shards at once %.1fs wall (each %s)"
              % (out["build_one_table_s"], args.shards, out["build_shards_wall_s"],
                 ", ".join("%.1fs" % times[i] for i in range(args.shards))), flush=True)
        conn.close()

        k = args.k
        union = " UNION ALL ".join(
            "(SELECT id, embedding <=> %%(q)s::vector AS d FROM docs_%d ORDER BY embedding <=> %%(q)s::vector "
            "LIMIT %d)" % (i, k) for i in range(args.shards))
        modes = [
            ("one table", None, "SELECT id FROM big ORDER BY embedding <=> %%(q)s::vector LIMIT %d" % k),
            ("%d shards, partitioned, fetch_size 100" % args.shards, "100",
             "SELECT id FROM docs ORDER BY embedding <=> %%(q)s::vector LIMIT %d" % k),
            ("%d shards, partitioned, fetch_size %d" % (args.shards, k), str(k),
             "SELECT id FROM docs ORDER BY embedding <=> %%(q)s::vector LIMIT %d" % k),
            ("%d shards, UNION ALL (async)" % args.shards, "100",
             "SELECT id FROM (%s) s ORDER BY d LIMIT %d" % (union, k)),
        ]
        print("\n| ef_search | query | recall@%d | QPS | p50 ms | p99 ms | CPU ms/query |" % k)
        print("|---|---|---|---|---|---|---|")
        for ef in [int(x) for x in args.ef.split(",")]:
            for label, fetch, sql in modes:
                admin = co.connect()
                for i in range(args.shards):
                    admin.execute("ALTER SERVER shard%d OPTIONS (%s)" % (i, ", ".join(server_opts(admin, i, ef, fetch))))
                admin.close()
                c = co.connect()
                c.execute("SET hnsw.ef_search = %d" % ef)
                r = measure(c, sql, [{"q": t} for t in qtext], truth, k, shards)
                c.close()
                r.update({"ef_search": ef, "query": label})
                out["results"].append(r)
                print("| %d | %s | %.3f | %.0f | %.2f | %.2f | %.2f |"
                      % (ef, label, r["recall"], r["qps"], r["p50_ms"], r["p99_ms"], r["cpu_ms_per_query"]),
                      flush=True)
    finally:
        for c in [co] + shards:
            try:
                c.stop()
            except Exception as e:  # keep stopping the others
                print("stopping %s: %s" % (c.name, e))
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    path = os.path.join(HERE, "results", "shards-%s.json" % out["when"].replace(":", ""))
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
    print("\nwrote %s" % os.path.relpath(path))
    shutil.rmtree(args.tmp, ignore_errors=True)


def server_opts(conn, i, ef, fetch):
    """ADD or SET for the two options we vary, depending on what is there."""
    have = conn.execute("SELECT coalesce(srvoptions, '{}') FROM pg_foreign_server WHERE srvname = %s",
                        ("shard%d" % i,)).fetchone()[0]
    names = {o.split("=", 1)[0] for o in have}
    opts = []
    for name, value in (("options", "-c hnsw.ef_search=%d" % ef), ("fetch_size", fetch or "100")):
        opts.append("%s %s '%s'" % ("SET" if name in names else "ADD", name, value))
    return opts


if __name__ == "__main__":
    main()
