#!/usr/bin/python3
"""Compare two builds of embed on the same data: before/after a change.

Why: `make bench` measures one installed build against its peers; a
refactoring or an optimisation needs the same query load on the old and the
new code, alternated in rounds so the machine's drift (and other work on it)
hits both alike, plus a figure that does not depend on the load at all.

Each side is a PostgreSQL installation of its own (a pg_config), into which
bench/ab.sh installed one git revision.  This script starts one throwaway
cluster per side, loads the same vectors into both, then

  * builds the index on each side in turn (--build-rounds times, alternating),
  * runs the same queries on each side in turn for every ef_search value
    (--rounds times), recording queries/s and the backend's CPU ms per query,
    and recall@k against an exact numpy scan,
  * with --callgrind, counts the instructions per query of each side under
    valgrind --tool=callgrind in a single-user backend: (W + Q queries) minus
    (W queries), so start-up and cache warming cancel out.  Instruction
    counts do not move with the machine's load.

Prints one table; medians over rounds.
"""
import argparse
import os
import pwd
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import psycopg


def read_fvecs(path, limit=None):
    raw = np.fromfile(path, dtype=np.int32)
    dim = int(raw[0])
    rows = raw.reshape(-1, dim + 1)[:, 1:].view(np.float32)
    if limit:
        rows = rows[:limit]
    return np.ascontiguousarray(rows)


def vec_text(v):
    return "[" + ",".join("%.7g" % x for x in v) + "]"


class Side:
    def __init__(self, label, pg_config, root, port, user):
        self.label = label
        self.bindir = subprocess.check_output([pg_config, "--bindir"], text=True).strip()
        self.dir = os.path.join(root, label)
        self.data = os.path.join(self.dir, "data")
        self.sock = self.dir
        self.port = port
        self.user = user

    def run(self, args, **kw):
        if self.user:
            args = ["runuser", "-u", self.user, "--"] + args
        return subprocess.run(args, check=True, **kw)

    def start(self, conf):
        os.makedirs(self.dir, exist_ok=True)
        if self.user:
            shutil.chown(self.dir, self.user)
        self.run([os.path.join(self.bindir, "initdb"), "-D", self.data, "-A", "trust",
                  "-U", "postgres", "--no-sync"], stdout=subprocess.DEVNULL)
        with open(os.path.join(self.data, "postgresql.auto.conf"), "a") as f:
            f.write(conf)
            f.write("unix_socket_directories = '%s'\nlisten_addresses = ''\nport = %d\n"
                    % (self.sock, self.port))
        self.run([os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-w", "-l",
                  os.path.join(self.dir, "log"), "start"], stdout=subprocess.DEVNULL)

    def stop(self):
        self.run([os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-w", "-m", "fast",
                  "stop"], stdout=subprocess.DEVNULL)

    def connect(self):
        return psycopg.connect(host=self.sock, port=self.port, user="postgres",
                               dbname="postgres", autocommit=True)


def single_user_instructions(side, body):
    """Instructions callgrind counts for a single-user backend running body."""
    script = os.path.join(side.dir, "q.sql")
    with open(script, "w") as f:
        f.write(body)
    out = os.path.join(side.dir, "cg.out")
    with open(script) as fin:
        side.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out,
                  os.path.join(side.bindir, "postgres"), "--single", "-D", side.data,
                  "-c", "shared_buffers=1GB", "-c", "maintenance_work_mem=1GB",
                  "-c", "max_parallel_maintenance_workers=0", "postgres"],
                 stdin=fin, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(out) as f:
        m = re.search(r"^(?:summary|totals):\s+(\d+)", f.read(), re.M)
    os.unlink(out)
    return int(m.group(1))


def backend_cpu_ms(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    return ticks * 1000.0 / os.sysconf("SC_CLK_TCK")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pg-a", required=True)
    ap.add_argument("--pg-b", required=True)
    ap.add_argument("--label-a", default="a")
    ap.add_argument("--label-b", default="b")
    ap.add_argument("--base", required=True, help="*_base.fvecs")
    ap.add_argument("--query", help="*_query.fvecs (default: the last --queries base rows, held out)")
    ap.add_argument("--rows", type=int, default=None)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--metric", choices=["l2", "cosine", "ip"], default="cosine")
    ap.add_argument("--index", default="m=16, ef_construction=64")
    ap.add_argument("--ef", default="20,40,80")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--build-rounds", type=int, default=2)
    ap.add_argument("--callgrind", type=int, default=0, metavar="Q",
                    help="also count instructions per query over Q queries (0: skip)")
    ap.add_argument("--callgrind-build", action="store_true",
                    help="also count the instructions of one CREATE INDEX (serial) per side")
    args = ap.parse_args()

    base = read_fvecs(args.base)
    if args.query:
        queries = read_fvecs(args.query, args.queries)
    else:
        queries = base[-args.queries:]
        base = base[:-args.queries]
    if args.rows:
        base = base[:args.rows]
    n, dim = base.shape
    op = {"l2": "<->", "cosine": "<=>", "ip": "<#>"}[args.metric]
    opclass = {"l2": "vector_l2_ops", "cosine": "vector_cosine_ops", "ip": "vector_ip_ops"}[args.metric]

    # exact neighbours, float64
    b64 = base.astype(np.float64)
    q64 = queries.astype(np.float64)
    if args.metric == "cosine":
        b64 /= np.linalg.norm(b64, axis=1, keepdims=True)
        q64 /= np.linalg.norm(q64, axis=1, keepdims=True)
    if args.metric == "l2":
        d = (q64 ** 2).sum(1)[:, None] - 2 * q64 @ b64.T + (b64 ** 2).sum(1)[None, :]
    else:
        d = -(q64 @ b64.T)
    truth = np.argsort(d, axis=1)[:, :args.k]

    user = "postgres" if os.geteuid() == 0 else None
    root = tempfile.mkdtemp(prefix="embed-ab-")
    if user:
        shutil.chown(root, user)
    conf = ("shared_buffers = 1GB\nmaintenance_work_mem = 1GB\nfsync = off\n"
            "synchronous_commit = off\nfull_page_writes = off\nautovacuum = off\njit = off\n"
            "max_parallel_workers_per_gather = 0\nmax_parallel_maintenance_workers = 0\n")
    sides = [Side(args.label_a, args.pg_a, root, 55433, user),
             Side(args.label_b, args.pg_b, root, 55434, user)]
    qtexts = [vec_text(q) for q in queries]
    results = {s.label: {"build_s": [], "size": None, "qps": {}, "cpu": {}, "recall": {},
                         "instr": {}} for s in sides}
    running = True
    try:
        for s in sides:
            s.start(conf)
            with s.connect() as c:
                c.execute("CREATE EXTENSION embed")
                c.execute("CREATE TABLE items (id int4, embedding vector(%d))" % dim)
                with c.cursor().copy("COPY items FROM STDIN") as cp:
                    for i, v in enumerate(base):
                        cp.write("%d\t%s\n" % (i, vec_text(v)))
                c.execute("VACUUM ANALYZE items")
        sql_index = ("CREATE INDEX items_idx ON items USING hnsw (embedding %s) WITH (%s)"
                     % (opclass, args.index))
        for r in range(args.build_rounds):
            for s in sides:
                with s.connect() as c:
                    c.execute("DROP INDEX IF EXISTS items_idx")
                    t0 = time.perf_counter()
                    c.execute(sql_index)
                    results[s.label]["build_s"].append(time.perf_counter() - t0)
                    results[s.label]["size"] = c.execute(
                        "SELECT pg_relation_size('items_idx')").fetchone()[0]
        efs = [int(x) for x in args.ef.split(",")]
        q = "SELECT id FROM items ORDER BY embedding " + op + " %s::vector LIMIT " + str(args.k)
        for ef in efs:
            for r in range(args.rounds):
                for s in sides:
                    with s.connect() as c:
                        c.execute("SET enable_seqscan = off")
                        c.execute("SET hnsw.ef_search = %d" % ef)
                        pid = c.info.backend_pid
                        for t in qtexts[:10]:
                            c.execute(q, (t,), prepare=True).fetchall()
                        cpu0 = backend_cpu_ms(pid)
                        t0 = time.perf_counter()
                        hits = 0
                        for i, t in enumerate(qtexts):
                            ids = [row[0] for row in c.execute(q, (t,), prepare=True)]
                            hits += len(set(ids) & set(truth[i].tolist()))
                        wall = time.perf_counter() - t0
                        cpu = backend_cpu_ms(pid) - cpu0
                        res = results[s.label]
                        res["qps"].setdefault(ef, []).append(len(qtexts) / wall)
                        res["cpu"].setdefault(ef, []).append(cpu / len(qtexts))
                        res["recall"][ef] = hits / (len(qtexts) * args.k)
        for s in sides:
            s.stop()
        running = False
        if args.callgrind:
            warm = 5
            nq = min(args.callgrind, len(qtexts))
            for ef in efs:
                for s in sides:
                    counts = []
                    for count in (warm, warm + nq):
                        body = "SET enable_seqscan = off;\nSET hnsw.ef_search = %d;\n" % ef
                        for t in qtexts[:count]:
                            body += ("SELECT id FROM items ORDER BY embedding %s '%s'::vector LIMIT %d;\n"
                                     % (op, t, args.k))
                        counts.append(single_user_instructions(s, body))
                    results[s.label]["instr"][ef] = (counts[1] - counts[0]) / nq
        if args.callgrind_build:
            for s in sides:
                counts = []
                for body in ("SELECT 1;\n", "DROP INDEX items_idx;\n" + sql_index + ";\n"):
                    counts.append(single_user_instructions(s, body))
                results[s.label]["build_instr"] = counts[1] - counts[0]
    finally:
        for s in sides:
            if running and os.path.exists(os.path.join(s.data, "postmaster.pid")):
                s.stop()
        shutil.rmtree(root, ignore_errors=True)

    a, b = (results[s.label] for s in sides)
    la, lb = args.label_a, args.label_b
    print("data: %s, %d x %d, %s, %d queries, k=%d, hnsw (%s); rounds %d, medians"
          % (os.path.basename(args.base), n, dim, args.metric, len(qtexts), args.k,
             args.index, args.rounds))
    print("machine: %s, %d cores, load average %s" % (
        cpu_model(), os.cpu_count(), " ".join(open("/proc/loadavg").read().split()[:3])))
    print("build_s   %s %.2f  %s %.2f  (%s/%s %.3f)   size %s %d kB  %s %d kB"
          % (la, statistics.median(a["build_s"]), lb, statistics.median(b["build_s"]),
             lb, la, statistics.median(b["build_s"]) / statistics.median(a["build_s"]),
             la, a["size"] // 1024, lb, b["size"] // 1024))
    if "build_instr" in a:
        print("build instructions  %s %d  %s %d  (%s/%s %.4f)" % (
            la, a["build_instr"], lb, b["build_instr"], lb, la, b["build_instr"] / a["build_instr"]))
    print("%-9s %-8s %-8s %-9s %-9s %-8s %-9s %-9s %-8s %-12s %-12s %-8s" % (
        "ef_search", "recall_" + la, "recall_" + lb, "qps_" + la, "qps_" + lb, "qps b/a",
        "cpu_ms_" + la, "cpu_ms_" + lb, "cpu b/a", "instr_" + la, "instr_" + lb, "instr b/a"))
    for ef in efs:
        qa, qb = statistics.median(a["qps"][ef]), statistics.median(b["qps"][ef])
        ca, cb = statistics.median(a["cpu"][ef]), statistics.median(b["cpu"][ef])
        ia, ib = a["instr"].get(ef), b["instr"].get(ef)
        print("%-9d %-8.4f %-8.4f %-9.0f %-9.0f %-8.3f %-9.3f %-9.3f %-8.3f %-12s %-12s %-8s" % (
            ef, a["recall"][ef], b["recall"][ef], qa, qb, qb / qa, ca, cb, cb / ca if ca else 0,
            "%.0f" % ia if ia else "-", "%.0f" % ib if ib else "-",
            "%.4f" % (ib / ia) if ia and ib else "-"))


def cpu_model():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "?"


if __name__ == "__main__":
    sys.exit(main())
