#!/usr/bin/env python3
"""Benchmark embed against exact ground truth, FAISS and (when installed)
pgvector on the same vectors.

Normally started by bench/run.sh (`make bench`), which provides a throwaway
cluster through the PG* environment variables. See bench/README.md.
"""

import argparse
import datetime
import gzip
import hashlib
import json
import os
import platform
import re
import resource
import select
import struct
import subprocess
import threading
import time

import numpy as np
import psycopg
import psycopg.sql
from psycopg.adapt import Dumper
from psycopg.conninfo import make_conninfo
from psycopg.pq import Format

HERE = os.path.dirname(os.path.abspath(__file__))
# ../shared/data beside the repository, as the project's machines lay it out
DATA_DIR = os.environ.get(
    "BENCH_DATA_DIR",
    os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared", "data"))
FMNIST_DIR = "/usr/share/datasets/fashion-mnist"

# Short names for the sets in DATA_DIR (the folder names work too).
ALIASES = {
    "beir-bge-768": "beir-queries-bge-base-768",
    "sap-minilm-384": "sap-fiori-docs-minilm-384",
    "msmarco-ada-1536": "msmarco-dl-queries-ada002-1536",
    "words-100": "wordvec-fasttext-100",
}

OPERATORS = {"l2": "<->", "cosine": "<=>", "ip": "<#>"}
GT_K = 100  # neighbours kept in the ground truth

# Index access methods we know how to sweep and mirror in FAISS.  Any other
# AM the extension ships is still built and measured, with its defaults.
KNOWN_AMS = {
    "hnsw": {"defaults": {"m": 16, "ef_construction": 64},
             "guc": "hnsw.ef_search", "sweep": [10, 20, 40, 80, 160, 320]},
    "ivfflat": {"defaults": {},  # lists: chosen from n, see default_lists()
                "guc": "ivfflat.probes", "sweep": [1, 2, 4, 8, 16, 32]},
    # FAISS 1.7.3 has no RaBitQ: its IVFFlat (same lists) is the reference
    "ivfrabitq": {"defaults": {},
                  "guc": "ivfrabitq.probes", "sweep": [2, 4, 8, 16, 32, 64]},
}
IVF_AMS = ("ivfflat", "ivfrabitq")
ENGINES = ("embed", "pgvector", "faiss")
# First line of embed's own vector.control (make install-as-vector; the
# Makefile's VECTOR_MARK): such a file is embed under pgvector's name.
VECTOR_MARK = "embed-as-vector:"


def log(msg):
    print(f"--- {msg}", flush=True)


# ---------------------------------------------------------------------------
# Datasets.  Each one gives: name, n, dim, metric, queries (float32 array),
# iter_base(chunk) -> (first_id, float32 array) blocks in id order, and a
# description.  Base vectors are streamed so that a 1M-row set never has to
# sit in memory as a whole.

class Dataset:
    synthetic = False

    def iter_base(self, chunk):
        for s in range(0, self.n, chunk):
            yield s, np.ascontiguousarray(self.base[s:min(self.n, s + chunk)], dtype=np.float32)

    def describe(self):
        return self.desc


def read_fvecs(path):
    """Memory-map an .fvecs file: rows of int32 dim + dim float32 (little-endian)."""
    raw = np.memmap(path, dtype="<i4", mode="r")
    dim = int(raw[0])
    rows = raw.reshape(-1, dim + 1)
    if not (rows[:, 0] == dim).all():
        raise SystemExit(f"{path}: rows of differing dimension")
    return rows[:, 1:].view("<f4"), dim


def read_idx_images(path):
    with gzip.open(path, "rb") as f:
        magic, n, r, c = struct.unpack(">IIII", f.read(16))
        if magic != 0x803:
            raise SystemExit(f"{path}: not an IDX image file")
        data = np.frombuffer(f.read(n * r * c), dtype=np.uint8)
    return data.reshape(n, r * c).astype(np.float32)


class FashionMnist(Dataset):
    def __init__(self):
        self.name = "fashion-mnist"
        self.metric = "l2"
        tr = os.path.join(FMNIST_DIR, "train-images-idx3-ubyte.gz")
        te = os.path.join(FMNIST_DIR, "t10k-images-idx3-ubyte.gz")
        if not os.path.exists(tr):
            raise SystemExit(f"{tr} missing: apt-get install dataset-fashion-mnist")
        self.base = read_idx_images(tr)
        self.all_queries = read_idx_images(te)
        self.n, self.dim = self.base.shape
        self.desc = "Fashion-MNIST (Debian dataset-fashion-mnist): train = base, test = queries, raw pixels 0..255"


class FvecsSet(Dataset):
    def __init__(self, name, folder, metric, holdout, seed):
        self.name = name
        self.metric = metric
        d = os.path.join(DATA_DIR, folder)
        bases = [f for f in os.listdir(d) if f.endswith("_base.fvecs")]
        if len(bases) != 1:
            raise SystemExit(f"{d}: expected one *_base.fvecs")
        stem = bases[0][: -len("_base.fvecs")]
        base, self.dim = read_fvecs(os.path.join(d, bases[0]))
        qpath = os.path.join(d, stem + "_query.fvecs")
        if os.path.exists(qpath):
            self.base = base
            self.all_queries = np.array(read_fvecs(qpath)[0], dtype=np.float32)
            self.desc = f"{folder}: {stem}_base.fvecs = base, {stem}_query.fvecs = queries"
        else:
            # No query file: hold out a fixed random sample of rows as queries
            # (removed from the base, so a query never finds itself).
            rng = np.random.default_rng(seed)
            hold = np.sort(rng.choice(base.shape[0], size=min(holdout, base.shape[0] // 2), replace=False))
            keep = np.ones(base.shape[0], dtype=bool)
            keep[hold] = False
            self.all_queries = np.array(base[hold], dtype=np.float32)
            self.base = np.array(base[keep], dtype=np.float32)
            self.desc = (f"{folder}: {stem}_base.fvecs minus {len(hold)} rows held out as queries "
                         f"(random, seed {seed})")
        self.n = self.base.shape[0]


class Synthetic(Dataset):
    """n vectors drawn from a real set: a random base row plus gaussian noise
    scaled by the set's per-dimension std (times `noise`), renormalised for
    cosine sets.  Generated chunk by chunk from a seed, so every pass (COPY,
    ground truth, FAISS) sees the same vectors without storing them."""
    synthetic = True
    BLOCK = 10000  # generation unit; the seed of block b is (seed, b)

    def __init__(self, n, src, noise, seed):
        self.src = src
        self.n = n
        self.dim = src.dim
        self.metric = src.metric
        self.noise = noise
        self.seed = seed
        self.name = f"synthetic-{n}-from-{src.name}"
        self.all_queries = src.all_queries
        self.std = np.asarray(src.base, dtype=np.float32).std(axis=0)
        self.desc = (f"SYNTHETIC: {n} vectors = random rows of {src.name} + N(0, ({noise} x per-dim std)^2)"
                     f"{', renormalised' if self.metric == 'cosine' else ''}, seed {seed}; "
                     f"queries = {src.name}'s real queries")

    def block(self, b):
        s = b * self.BLOCK
        m = min(self.BLOCK, self.n - s)
        rng = np.random.default_rng([self.seed, b])
        idx = rng.integers(0, self.src.n, size=m)
        x = np.asarray(self.src.base[idx], dtype=np.float32)
        noise = rng.standard_normal((m, self.dim), dtype=np.float32)
        noise *= self.std * self.noise
        x += noise
        if self.metric == "cosine":
            x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
        return x

    def iter_base(self, chunk):
        pending, have, first = [], 0, 0
        for b in range((self.n + self.BLOCK - 1) // self.BLOCK):
            pending.append(self.block(b))
            have += pending[-1].shape[0]
            while have >= chunk:
                x = np.concatenate(pending) if len(pending) > 1 else pending[0]
                yield first, x[:chunk]
                first += chunk
                pending, have = [x[chunk:]], x.shape[0] - chunk
        if have:
            yield first, np.concatenate(pending)


class Limited(Dataset):
    """The first `rows` base vectors of another set (--rows)."""

    def __init__(self, inner, rows):
        self.inner = inner
        self.n = min(rows, inner.n)
        self.dim, self.metric, self.all_queries = inner.dim, inner.metric, inner.all_queries
        self.synthetic = inner.synthetic
        self.noise, self.seed = getattr(inner, "noise", None), getattr(inner, "seed", None)
        self.name = f"{inner.name}[:{self.n}]"
        self.desc = f"first {self.n} base rows of: {inner.describe()}"

    def iter_base(self, chunk):
        for s, x in self.inner.iter_base(chunk):
            if s >= self.n:
                return
            yield s, x[: self.n - s]


def parse_count(s):
    m = re.fullmatch(r"(\d+)([kKmM]?)", s)
    if not m:
        raise SystemExit(f"bad count {s!r}")
    return int(m.group(1)) * {"": 1, "k": 1000, "m": 1000000}[m.group(2).lower()]


def list_datasets():
    names = ["fashion-mnist"]
    if os.path.isdir(DATA_DIR):
        rev = {v: k for k, v in ALIASES.items()}
        for f in sorted(os.listdir(DATA_DIR)):
            if os.path.isdir(os.path.join(DATA_DIR, f)):
                names.append(rev.get(f, f))
    return names


def load_dataset(args):
    name = args.dataset
    m = re.fullmatch(r"synthetic-(\d+[kKmM]?)-from-(.+)", name)
    if m:
        src = load_named(m.group(2), args)
        return Synthetic(parse_count(m.group(1)), src, args.noise, args.seed)
    return load_named(name, args)


def load_named(name, args):
    if name == "fashion-mnist":
        ds = FashionMnist()
    else:
        folder = ALIASES.get(name, name)
        if not os.path.isdir(os.path.join(DATA_DIR, folder)):
            raise SystemExit(f"unknown dataset {name!r}; known: {', '.join(list_datasets())}, "
                             "synthetic-N-from-NAME")
        # Every set in the shared data folder is cosine (see its README.md).
        ds = FvecsSet(name, folder, "cosine", args.holdout, args.seed)
    if args.metric:
        ds.metric = args.metric
    return ds


# ---------------------------------------------------------------------------
# Exact ground truth, with numpy, chunked over the base; cached in bench/cache.

def normalise(x):
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-30)


def ground_truth(ds, queries, cache_dir):
    qhash = hashlib.sha1(np.ascontiguousarray(queries).tobytes()).hexdigest()[:12]
    extra = f"-noise{ds.noise}-seed{ds.seed}" if ds.synthetic else ""
    key = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{ds.name}{extra}-{ds.metric}-n{ds.n}-q{len(queries)}-k{GT_K}")
    path = os.path.join(cache_dir, key + ".npz")
    if os.path.exists(path):
        z = np.load(path)
        if str(z["qhash"]) == qhash:
            log(f"ground truth: cached {os.path.relpath(path)}")
            return z["ids"], z["dist"]
    os.makedirs(cache_dir, exist_ok=True)
    t0 = time.perf_counter()
    k = min(GT_K, ds.n)
    # float64 so that ties and near-ties come out right (pixel data has many).
    q = np.asarray(queries, dtype=np.float64)
    if ds.metric == "cosine":
        q = normalise(q)
    qn = (q * q).sum(axis=1)
    nq = len(q)
    best_d = np.full((nq, k), np.inf)
    best_i = np.full((nq, k), -1, dtype=np.int64)
    # per block: <= ~64 MB of float64 distances and <= ~32 MB of float64 base
    # rows, so memory stays bounded whatever n is
    chunk = max(1000, min((8 << 20) // max(1, nq), (4 << 20) // ds.dim))
    done = 0
    for first, x in ds.iter_base(chunk):
        x = x.astype(np.float64)
        if ds.metric == "cosine":
            x = normalise(x)
        dots = q @ x.T
        if ds.metric == "l2":
            d = qn[:, None] + (x * x).sum(axis=1)[None, :] - 2 * dots
            np.maximum(d, 0, out=d)
        elif ds.metric == "cosine":
            d = 1.0 - dots
        else:
            d = -dots
        ids = np.arange(first, first + x.shape[0])
        cd = np.concatenate([best_d, d], axis=1)
        ci = np.concatenate([best_i, np.broadcast_to(ids, d.shape)], axis=1)
        part = np.argpartition(cd, k - 1, axis=1)[:, :k]
        best_d = np.take_along_axis(cd, part, axis=1)
        best_i = np.take_along_axis(ci, part, axis=1)
        prev, done = done, done + x.shape[0]
        if ds.n >= 200000 and done * 10 // ds.n > prev * 10 // ds.n:
            log(f"ground truth: {done}/{ds.n} base rows, {time.perf_counter() - t0:.0f}s")
    order = np.argsort(best_d, axis=1, kind="stable")
    best_d = np.take_along_axis(best_d, order, axis=1)
    best_i = np.take_along_axis(best_i, order, axis=1)
    if ds.metric == "l2":
        best_d = np.sqrt(best_d)
    np.savez(path, ids=best_i.astype(np.int32), dist=best_d, qhash=qhash)
    log(f"ground truth: {nq} queries x {ds.n} rows in {time.perf_counter() - t0:.1f}s, "
        f"cached {os.path.relpath(path)}")
    return best_i.astype(np.int32), best_d


def recall_at_k(results, gt_ids, gt_dist, k):
    """Fraction of returned ids that are true k nearest neighbours.  A result
    tied (within float4 rounding) with the k-th true neighbour counts too, so
    an exact search scores 1.0 whichever of several equal rows it returns."""
    hits = total = 0
    for qi, got in results.items():
        dk = gt_dist[qi, k - 1]
        ok_n = np.searchsorted(gt_dist[qi], dk + 1e-4 * abs(dk) + 1e-6, side="right")
        ok = set(gt_ids[qi, :ok_n].tolist())
        hits += sum(1 for r in got[:k] if r in ok)
        total += k
    return hits / total if total else float("nan")


# ---------------------------------------------------------------------------
# PostgreSQL side

class VecBin(bytes):
    """A vector (or halfvec) already in its binary wire format."""


# Element type of the wire format and of COPY, per column type (--type):
# both are uint16 dim, uint16 0, then dim big-endian floats.
ELEM = {"vector": ">f4", "halfvec": ">f2"}


def vec_binary(v, typ="vector"):
    v = np.asarray(v, dtype=ELEM[typ])
    return VecBin(struct.pack(">HH", v.shape[0], 0) + v.tobytes())


class Engine:
    """A PostgreSQL engine under test: embed, or pgvector in a database of its
    own (both define type vector, so they cannot share one).  `db` None is
    the connection's default database (PGDATABASE)."""

    def __init__(self, name, db, ext):
        self.name, self.db, self.ext = name, db, ext
        self.param_oid = None  # OID of the column type in this database
        self.ams = []

    def conninfo(self):
        return make_conninfo("", dbname=self.db) if self.db else ""

    def env(self):
        """Environment for bench/client.c (it connects from PG*)."""
        e = dict(os.environ)
        if self.db:
            e["PGDATABASE"] = self.db
        return e


def server_sharedir():
    """The server's SHAREDIR (its extension/ folder holds the control files)."""
    try:
        with psycopg.connect("", autocommit=True) as c:
            return c.execute("SELECT setting FROM pg_config WHERE name = 'SHAREDIR'").fetchone()[0]
    except psycopg.Error:
        pg_config = os.environ.get("PG_CONFIG", "pg_config")
        return subprocess.run([pg_config, "--sharedir"], capture_output=True, text=True,
                              check=True).stdout.strip()


def pgvector_control():
    """(path of pgvector's vector.control, None) or (None, why not).  embed's
    own alias (make install-as-vector) is also a vector.control: its first
    line carries VECTOR_MARK, and it is not pgvector."""
    path = os.path.join(server_sharedir(), "extension", "vector.control")
    if not os.path.exists(path):
        return None, (f"pgvector is not installed ({path} missing; "
                      "BENCH_PGVECTOR=1 bash bench/run.sh builds and installs it)")
    with open(path, errors="replace") as f:
        if VECTOR_MARK in f.readline():
            return None, f"{path} is embed's own alias (make install-as-vector), not pgvector"
    return path, None


def choose_engines(args):
    """The engines to measure (--engines, default every available one), and
    why pgvector is left out when it is."""
    explicit = bool(args.engines)
    want = [e.strip() for e in args.engines.split(",") if e.strip()] if explicit else list(ENGINES)
    bad = [e for e in want if e not in ENGINES]
    if bad:
        raise SystemExit(f"--engines: unknown {', '.join(bad)} (known: {', '.join(ENGINES)})")
    if args.no_faiss and "faiss" in want:
        want.remove("faiss")
    note = None
    if "pgvector" in want:
        _, note = pgvector_control()
        if note:
            if explicit:
                raise SystemExit(f"--engines pgvector: {note}")
            log(f"pgvector not measured: {note}")
            want.remove("pgvector")
    return want, note


def setup_pgvector(args):
    """A fresh database with pgvector's extension, for the same table."""
    db = args.pgvector_db
    with psycopg.connect("", autocommit=True) as c:
        c.execute(psycopg.sql.SQL("DROP DATABASE IF EXISTS {}").format(psycopg.sql.Identifier(db)))
        c.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(db)))
    eng = Engine("pgvector", db, "vector")
    with psycopg.connect(eng.conninfo(), autocommit=True) as c:
        c.execute("CREATE EXTENSION vector")
        eng.version = c.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()[0]
        eng.library = c.execute("SELECT probin FROM pg_proc WHERE oid = to_regproc('vector_in')").fetchone()[0]
    if "embed" in (eng.library or ""):  # the control file check should have caught it
        raise SystemExit(f"extension vector in {db} is embed's ({eng.library}), not pgvector")
    log(f"pgvector {eng.version} ({eng.library}) in database {db}")
    return eng


def connect(eng=None, typ="vector"):
    conn = psycopg.connect(eng.conninfo() if eng else "", autocommit=True)
    vec_oid = eng.param_oid if eng else None
    if vec_oid is None:
        vec_oid = conn.execute("SELECT %s::regtype::oid", (typ,)).fetchone()[0]

    class VecDumper(Dumper):
        format = Format.BINARY
        oid = vec_oid

        def dump(self, obj):
            return obj

    conn.adapters.register_dumper(VecBin, VecDumper)
    return conn


def write_flushed(conn, cp, data, piece=1 << 20):
    """Feed COPY data 1 MB at a time and wait until libpq has sent it.  libpq
    grows its output buffer without bound while the server is slower than we
    are, and then shifts the whole buffer after every partial send, which made
    bench.py (not the server) the bottleneck of big loads."""
    pg = conn.pgconn
    for i in range(0, len(data), piece):
        cp.write(data[i:i + piece])
        while pg.flush() == 1:
            select.select([], [pg.socket], [])


def copy_rows(conn, table, ds, chunk, typ="vector"):
    """Binary COPY in blocks: the row layout is a packed numpy record, so a
    block of rows is one tobytes() away from the wire format."""
    d = ds.dim
    esize = np.dtype(ELEM[typ]).itemsize
    rec = np.dtype([("nf", ">i2"), ("l1", ">i4"), ("id", ">i4"), ("l2", ">i4"),
                    ("dim", ">u2"), ("unused", ">u2"), ("v", ELEM[typ], (d,))])
    header = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
    rows = 0
    with conn.cursor() as cur:
        # FREEZE: the table was created in this transaction, so rows are
        # written frozen and the first scans do not rewrite pages for hint bits.
        with cur.copy(f"COPY {table} (id, embedding) FROM STDIN (FORMAT BINARY, FREEZE)") as cp:
            cp.write(header)
            for first, x in ds.iter_base(chunk):
                m = x.shape[0]
                buf = np.empty(m, dtype=rec)
                buf["nf"] = 2
                buf["l1"] = 4
                buf["id"] = np.arange(first, first + m)
                buf["l2"] = 4 + esize * d
                buf["dim"] = d
                buf["unused"] = 0
                buf["v"] = x
                write_flushed(conn, cp, buf.tobytes())
                rows += m
            cp.write(struct.pack(">h", -1))
    return rows


def load_table(args, ds, eng):
    conn = connect(eng)
    t = args.table
    conn.execute(f"DROP TABLE IF EXISTS {t}")
    t0 = time.perf_counter()
    with conn.transaction():
        conn.execute(f"CREATE TABLE {t} (id int4 NOT NULL, embedding {args.type}({ds.dim}) NOT NULL)")
        if args.storage != "default":
            conn.execute(f"ALTER TABLE {t} ALTER COLUMN embedding SET STORAGE {args.storage}")
        if args.compression:
            conn.execute(f"ALTER TABLE {t} ALTER COLUMN embedding SET COMPRESSION {args.compression}")
        if args.toast_tuple_target:
            conn.execute(f"ALTER TABLE {t} SET (toast_tuple_target = {int(args.toast_tuple_target)})")
        rows = copy_rows(conn, t, ds, args.chunk, args.type)
    t_copy = time.perf_counter() - t0
    t1 = time.perf_counter()
    conn.execute(f"VACUUM (ANALYZE) {t}")
    t_vac = time.perf_counter() - t1
    heap, total, toast = conn.execute(
        "SELECT pg_relation_size(c.oid), pg_total_relation_size(c.oid), "
        "coalesce(pg_total_relation_size(nullif(c.reltoastrelid, 0)), 0) "
        "FROM pg_class c WHERE c.oid = %s::regclass", (t,)).fetchone()
    storage, compression = conn.execute(
        "SELECT attstorage, attcompression FROM pg_attribute "
        "WHERE attrelid = %s::regclass AND attname = 'embedding'", (t,)).fetchone()
    # Did the values come out compressed?  (Out of line shows as toast bytes.)
    # A sample is enough, and bounded for big tables.
    sampled, compressed = conn.execute(
        f"SELECT count(*), count(*) FILTER (WHERE pg_column_compression(embedding) IS NOT NULL) "
        f"FROM (SELECT embedding FROM {t} LIMIT 10000) s").fetchone()
    conn.close()
    return {"rows": rows, "copy_s": t_copy, "rows_per_s": rows / t_copy,
            "mb_per_s": rows * (ds.dim * np.dtype(ELEM[args.type]).itemsize + 8) / t_copy / 1e6, "vacuum_analyze_s": t_vac,
            "heap_bytes": heap, "toast_bytes": toast, "total_bytes": total,
            "attstorage": {"p": "plain", "e": "external", "m": "main", "x": "extended"}.get(storage, storage),
            "attcompression": {"p": "pglz", "l": "lz4"}.get(compression, "default"),
            "compressed_fraction": compressed / sampled if sampled else 0.0}


def extension_ams(conn, extname="embed"):
    """Index access methods that belong to an extension (embed, or pgvector's vector)."""
    return [r[0] for r in conn.execute(
        "SELECT a.amname FROM pg_am a "
        "JOIN pg_depend d ON d.classid = 'pg_am'::regclass AND d.objid = a.oid AND d.deptype = 'e' "
        "JOIN pg_extension e ON e.oid = d.refobjid AND d.refclassid = 'pg_extension'::regclass "
        "WHERE e.extname = %s AND a.amtype = 'i' ORDER BY 1", (extname,))]


def find_opclass(conn, am, typ, op):
    """The opclass of `am` for type `typ` whose family orders by operator `op`."""
    r = conn.execute(
        "SELECT oc.opcname FROM pg_opclass oc "
        "JOIN pg_am a ON a.oid = oc.opcmethod "
        "JOIN pg_amop ao ON ao.amopfamily = oc.opcfamily AND ao.amoppurpose = 'o' "
        "JOIN pg_operator o ON o.oid = ao.amopopr "
        "WHERE a.amname = %s AND oc.opcintype = %s::regtype AND o.oprname = %s "
        "ORDER BY oc.opcdefault DESC, 1 LIMIT 1", (am, typ, op)).fetchone()
    return r[0] if r else None


def rss_anon(pid):
    """Private resident memory of a process (RssAnon), bytes; 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def status_field(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def parallel_workers(leader):
    """Pids of the parallel workers serving backend `leader` (found by their
    process title, which PostgreSQL sets to 'parallel worker for PID N')."""
    tag = f"parallel worker for PID {leader}".encode()
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit() or int(p) == leader:
            continue
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                if tag in f.read():
                    out.append(int(p))
        except OSError:
            pass
    return out


class MemPoller(threading.Thread):
    """Samples the summed RssAnon of a backend and its parallel workers every
    `interval` seconds while an index build runs; keeps the peak."""

    def __init__(self, pid, interval=0.02):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak = self.baseline = rss_anon(pid)
        self.max_workers = 0
        self.stop_ev = threading.Event()

    def run(self):
        workers, last_scan = [], 0.0
        while not self.stop_ev.is_set():
            now = time.monotonic()
            if now - last_scan > 0.2:  # a /proc scan costs more than a sample
                workers, last_scan = parallel_workers(self.pid), now
                self.max_workers = max(self.max_workers, len(workers))
            self.peak = max(self.peak, rss_anon(self.pid) + sum(rss_anon(w) for w in workers))
            self.stop_ev.wait(self.interval)

    def stop(self):
        self.stop_ev.set()
        self.join()


def sql_params(sql, v):
    """The query vector once per %b of the statement (the re-ranking query of
    --binary-quantize uses it twice; bench/client.c says $1 for each)."""
    return (v,) * sql.count("%b")


def plan_nodes(conn, sql, param):
    plan = conn.execute("EXPLAIN (FORMAT JSON) " + sql, sql_params(sql, param)).fetchone()[0][0]["Plan"]
    out = []

    def walk(n):
        out.append(n["Node Type"] + (f" using {n['Index Name']}" if "Index Name" in n else ""))
        for c in n.get("Plans", []):
            walk(c)
    walk(plan)
    return out


def proc_cpu_s(pid):
    """user + system CPU seconds of a process (from /proc/PID/stat)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return float("nan")


def pct(lat, p):
    return float(np.percentile(lat, p)) * 1000 if len(lat) else float("nan")


def run_queries_pg(args, sql, setup, qvecs, qids, clients, eng, warmup):
    """Run the queries on `clients` connections (one thread each, queries
    dealt round-robin); returns per-query results and latencies."""
    conns = []
    for _ in range(clients):
        c = connect(eng)
        for s in setup:
            c.execute(s)
        # Prepare and warm up (cache, prepared plan) outside the timing.
        for i in range(warmup):
            c.execute(sql, sql_params(sql, qvecs[qids[i % len(qids)]]), prepare=True).fetchall()
        conns.append(c)
    deadline_box = [None]
    results, lats = {}, [[] for _ in range(clients)]
    spans = [None] * clients
    cpus = [0.0] * clients
    barrier = threading.Barrier(clients)
    errors = []

    def worker(ci):
        try:
            cur = conns[ci].cursor()
            mine = qids[ci::clients]
            barrier.wait()
            if ci == 0:
                deadline_box[0] = time.perf_counter() + args.max_seconds
            cpu0 = proc_cpu_s(conns[ci].info.backend_pid)
            start = time.perf_counter()
            lat = lats[ci]
            for qi in mine:
                t0 = time.perf_counter()
                cur.execute(sql, sql_params(sql, qvecs[qi]), prepare=True)
                rows = cur.fetchall()
                t1 = time.perf_counter()
                lat.append(t1 - t0)
                results[qi] = [r[0] for r in rows]
                dl = deadline_box[0]
                if dl is not None and t1 > dl:
                    break
            spans[ci] = (start, time.perf_counter())
            cpus[ci] = proc_cpu_s(conns[ci].info.backend_pid) - cpu0
        except Exception as e:  # reported by the caller
            errors.append(e)
            barrier.abort()

    if clients == 1:
        worker(0)
    else:
        th = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
        for t in th:
            t.start()
        for t in th:
            t.join()
    for c in conns:
        c.close()
    if errors:
        raise errors[0]
    wall = max(s[1] for s in spans) - min(s[0] for s in spans)
    all_lat = np.array([x for l in lats for x in l])
    return {"results": results, "nq": len(all_lat), "qps": len(all_lat) / wall,
            "p50_ms": pct(all_lat, 50), "p99_ms": pct(all_lat, 99),
            "cpu_ms": 1000 * sum(cpus) / max(1, len(all_lat)),
            "capped": len(all_lat) < len(qids)}


_client_path = {}


def libpq_client(args):
    """bench/client.c built once per source version into the cache folder; None
    (and a note) when it cannot be built."""
    if "path" in _client_path:
        return _client_path["path"]
    src = os.path.join(HERE, "client.c")
    path = None
    try:
        pg_config = os.environ.get("PG_CONFIG", "pg_config")
        inc = subprocess.run([pg_config, "--includedir"], capture_output=True, text=True, check=True).stdout.strip()
        lib = subprocess.run([pg_config, "--libdir"], capture_output=True, text=True, check=True).stdout.strip()
        os.makedirs(args.cache, exist_ok=True)
        path = os.path.join(args.cache, f"client-{file_sha1(src)[:12]}")
        flags = ["-I" + inc, "-L" + lib, "-lpq"]
        if not os.path.exists(os.path.join(inc, "libpq-fe.h")):
            # a PostgreSQL without its libpq headers (a relocated server-only
            # copy): the system's libpq, which speaks the same protocol
            try:
                flags = subprocess.run(["pkg-config", "--cflags", "--libs", "libpq"], capture_output=True,
                                       text=True, check=True).stdout.split()
            except (OSError, subprocess.CalledProcessError):
                pass
        if not os.path.exists(path):
            subprocess.run(["cc", "-O2", src, *flags, "-o", path + ".tmp"],
                           capture_output=True, text=True, check=True)
            os.replace(path + ".tmp", path)
    except (OSError, subprocess.CalledProcessError) as e:
        log(f"note: cannot build the libpq client ({getattr(e, 'stderr', None) or e}): qps_c skipped")
        path = None
    _client_path["path"] = path
    return path


def run_queries_libpq(args, sql, setup, qvecs, qids, warmup, eng):
    """One client, the query loop in C (bench/client.c); same result shape as
    run_queries_pg, or None without the client."""
    client = libpq_client(args)
    if client is None:
        return None
    qfile = os.path.join(args.cache, f"queries-{os.getpid()}.bin")
    with open(qfile, "wb") as f:
        for qi in qids:
            f.write(struct.pack("=I", len(qvecs[qi])) + qvecs[qi])
    try:
        out = subprocess.run([client, sql.replace("%b", "$1"), qfile, str(warmup), str(args.max_seconds), *setup],
                             capture_output=True, text=True, check=True, env=eng.env()).stdout.splitlines()
    finally:
        os.unlink(qfile)
    head = out[0].split()
    cpu, wall = float(head[1]), float(head[3])
    lat = np.array([float(line.split()[0]) for line in out[1:]])
    results = {qi: [int(x) for x in line.split()[1:]] for qi, line in zip(qids, out[1:])}
    return {"results": results, "nq": len(lat), "qps": len(lat) / wall,
            "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99),
            "cpu_ms": 1000 * cpu / max(1, len(lat)) if cpu >= 0 else float("nan"),
            "capped": len(lat) < len(qids)}


def query_sql(args, ds, bq=False):
    """The search query; %b is the query vector.  With `bq`, pgvector's
    re-ranking pattern: the k * --bq-rerank nearest by Hamming distance of the
    binary-quantized vectors (the bit index), re-ordered by the exact distance."""
    op = OPERATORS[ds.metric]
    if not bq:
        return f"SELECT id FROM {args.table} ORDER BY embedding {op} %b LIMIT {args.k}"
    # the casts tell the server the parameter's type (binary_quantize is
    # overloaded, and bench/client.c lets the server infer $1)
    return (f"SELECT id FROM (SELECT id, embedding FROM {args.table} "
            f"ORDER BY binary_quantize(embedding)::bit({ds.dim}) <~> binary_quantize(%b::{args.type}) "
            f"LIMIT {args.k * args.bq_rerank}) s "
            f"ORDER BY embedding {op} %b::{args.type} LIMIT {args.k}")


def progress(r):
    log(f"{r['engine']} {r['index']} {r.get('setting') or ''}: recall {r['recall']:.4f}, "
        f"{r['qps']:.1f} qps, p50 {r['p50_ms']:.2f} ms, cpu {r['cpu_ms']:.2f} ms/query ({r['nq']} queries)"
        + (f"; C client {r['qps_c']:.1f} qps" if r.get("qps_c") else ""))


def measure_pg(args, ds, eng, sql, setup, qids, qvecs, gt, warmup, libpq=True):
    with connect(eng) as c:
        for s in setup:
            c.execute(s)
        plan = plan_nodes(c, sql, qvecs[qids[0]])
    one = run_queries_pg(args, sql, setup, qvecs, qids, 1, eng, warmup)
    rec = {"nq": one["nq"], "recall": recall_at_k(one["results"], gt[0], gt[1], args.k),
           "qps": one["qps"], "p50_ms": one["p50_ms"], "p99_ms": one["p99_ms"], "cpu_ms": one["cpu_ms"],
           "time_capped": one["capped"], "plan": plan}
    c = run_queries_libpq(args, sql, setup, qvecs, qids, warmup, eng) if libpq and not args.no_libpq else None
    if c is not None:
        rec.update({"qps_c": c["qps"], "nq_c": c["nq"], "p50_ms_c": c["p50_ms"], "p99_ms_c": c["p99_ms"],
                    "cpu_ms_c": c["cpu_ms"], "recall_c": recall_at_k(c["results"], gt[0], gt[1], args.k)})
    if args.clients > 1:
        many = run_queries_pg(args, sql, setup, qvecs, qids, args.clients, eng, warmup)
        rec.update({"clients": args.clients, "qps_clients": many["qps"], "nq_clients": many["nq"],
                    "p50_ms_clients": many["p50_ms"], "p99_ms_clients": many["p99_ms"]})
    return rec


def index_name(args, am, bq):
    return f"{args.table}_{am}{'_bq' if bq else ''}_idx"


def build_index(args, ds, eng, am, params, bq):
    if am not in eng.ams:
        return None, f"{eng.name} has no index access method {am}"
    # binary quantization: a bit(d) expression index ordered by Hamming distance
    typ, op = ("bit", "<~>") if bq else (args.type, OPERATORS[ds.metric])
    opclass = find_opclass_cached(eng, am, typ, op)
    if opclass is None:
        return None, f"{eng.name} has no {am} opclass for {typ} ordering by {op}"
    name = index_name(args, am, bq)
    conn = connect(eng)
    conn.execute(f"DROP INDEX IF EXISTS {name}")
    with_ = f" WITH ({', '.join(f'{k} = {v}' for k, v in params.items())})" if params else ""
    expr = f"(binary_quantize(embedding)::bit({ds.dim}))" if bq else "embedding"
    sql = f"CREATE INDEX {name} ON {args.table} USING {am} ({expr} {opclass}){with_}"
    pid = conn.info.backend_pid
    hwm_reset = True
    try:  # reset the kernel's peak-RSS counter of the backend (VmHWM)
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        hwm_reset = False
    poll = MemPoller(pid)
    poll.start()
    t0 = time.perf_counter()
    try:
        conn.execute(sql)
    finally:
        build_s = time.perf_counter() - t0
        poll.stop()
    hwm = status_field(pid, "VmHWM") if hwm_reset else None
    size = conn.execute("SELECT pg_relation_size(%s::regclass)", (name,)).fetchone()[0]
    conn.close()
    return {"sql": sql, "build_s": build_s, "index_bytes": size,
            "build_mem_peak_bytes": poll.peak, "build_mem_baseline_bytes": poll.baseline,
            "build_parallel_workers_seen": poll.max_workers,
            "build_backend_vmhwm_bytes": hwm}, None


_opclass_cache = {}


def find_opclass_cached(eng, am, typ, op):
    key = (eng.name, am, typ, op)
    if key not in _opclass_cache:
        with connect(eng) as c:
            _opclass_cache[key] = find_opclass(c, am, typ, op)
    return _opclass_cache[key]


# ---------------------------------------------------------------------------
# FAISS side: same vectors, one thread, one query at a time.

def faiss_prepare(ds):
    import faiss
    faiss.omp_set_num_threads(1)
    return faiss


def faiss_add(index, ds, chunk, train=None):
    for _, x in ds.iter_base(chunk):
        x = np.ascontiguousarray(x, dtype=np.float32)
        if ds.metric == "cosine":
            x = normalise(x).astype(np.float32)
        index.add(x)


def faiss_sample(ds, m, seed):
    """m random base rows (for IVF training), streamed."""
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(ds.n, size=min(m, ds.n), replace=False))
    out = []
    for first, x in ds.iter_base(50000):
        sel = pick[(pick >= first) & (pick < first + x.shape[0])] - first
        if len(sel):
            out.append(x[sel])
    x = np.ascontiguousarray(np.concatenate(out), dtype=np.float32)
    return normalise(x).astype(np.float32) if ds.metric == "cosine" else x


def faiss_search(args, index, queries, qids, k):
    # Warm up, then one query at a time, as a client would send them.
    for i in range(min(5, len(qids))):
        index.search(queries[qids[i]:qids[i] + 1], k)
    lat, res = [], {}
    deadline = time.perf_counter() + args.max_seconds
    cpu0 = time.process_time()
    start = time.perf_counter()
    for qi in qids:
        t0 = time.perf_counter()
        _, I = index.search(queries[qi:qi + 1], k)
        t1 = time.perf_counter()
        lat.append(t1 - t0)
        res[qi] = I[0].tolist()
        if t1 > deadline:
            break
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu0
    lat = np.array(lat)
    return {"results": res, "nq": len(lat), "qps": len(lat) / wall, "cpu_ms": 1000 * cpu / max(1, len(lat)),
            "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99), "time_capped": len(lat) < len(qids)}


# ---------------------------------------------------------------------------
# Index specs: "hnsw:m=16,ef_construction=64;ivfflat:lists=100"
# Sweeps:      "hnsw.ef_search=10,20,40;ivfflat.probes=1,2,4"

def parse_index_spec(s):
    out = []
    for part in filter(None, (p.strip() for p in s.split(";"))):
        am, _, rest = part.partition(":")
        params = {}
        for kv in filter(None, (x.strip() for x in rest.split(","))):
            k, eq, v = kv.partition("=")
            if not eq:
                raise SystemExit(f"bad index parameter {kv!r} in {part!r} (want name=value)")
            params[k.strip()] = v.strip()
        out.append((am.strip(), params))
    return out


def parse_sweep(s):
    out = {}
    for part in filter(None, (p.strip() for p in s.split(";"))):
        guc, eq, vals = part.partition("=")
        if not eq:
            raise SystemExit(f"bad sweep {part!r} (want guc=v1,v2,...)")
        out[guc.strip()] = [v.strip() for v in vals.split(",") if v.strip()]
    return out


def default_lists(n):
    # the usual rule of thumb: rows/1000 up to 1M rows, sqrt(rows) beyond
    return max(1, n // 1000) if n <= 1000000 else int(np.sqrt(n))


def on_off(v, what):
    v = str(v).lower()
    if v in ("on", "true", "1", "yes"):
        return True
    if v in ("off", "false", "0", "no"):
        return False
    raise SystemExit(f"bad value {v!r} for {what} (want on or off)")


def index_plan(args, ds, ams):
    """[(am, params, guc, values, bq)] for PostgreSQL; FAISS mirrors hnsw/ivfflat.
    bq: a binary-quantized bit index (--binary-quantize, or binary_quantize=on
    in the index spec, which is not an index storage parameter)."""
    if args.index.strip().lower() == "none":
        return []
    specs = parse_index_spec(args.index) if args.index else [(am, {}) for am in ams]
    sweeps = parse_sweep(args.sweep) if args.sweep else {}
    plan = []
    for am, params in specs:
        params = dict(params)
        bq = on_off(params.pop("binary_quantize", args.binary_quantize), "binary_quantize")
        known = KNOWN_AMS.get(am, {})
        p = dict(known.get("defaults", {}))
        if am in IVF_AMS:
            p["lists"] = default_lists(ds.n)
        p.update(params)
        guc = known.get("guc")
        vals = [str(v) for v in known.get("sweep", [])]
        for g, v in sweeps.items():
            if g.split(".")[0] == am:
                guc, vals = g, v
        if am in IVF_AMS and guc == am + ".probes" and not any(g == guc for g in sweeps):
            vals = [v for v in vals if int(v) <= int(p["lists"])] or ["1"]
        plan.append((am, p, guc, vals if guc else [None], bq))
    return plan


# ---------------------------------------------------------------------------

def file_sha1(path):
    with open(path, "rb") as f:
        return hashlib.sha1(f.read()).hexdigest()


def machine_info(conn):
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = None
    try:
        with open("/proc/meminfo") as f:
            mem = int(f.readline().split()[1]) * 1024
    except OSError:
        pass
    info = {"cpu": cpu, "cores": os.cpu_count(), "mem_bytes": mem, "os": platform.platform(),
            "loadavg_at_start": os.getloadavg(),
            "pg_version": conn.execute("SHOW server_version").fetchone()[0],
            "embed_version": (conn.execute(
                "SELECT extversion FROM pg_extension WHERE extname = 'embed'").fetchone() or [None])[0]}
    # Calling a function first loads the library, which defines embed.simd.
    try:  # the library the backends load; checked again at the end of the run
        libdir = conn.execute("SELECT setting FROM pg_config WHERE name = 'PKGLIBDIR'").fetchone()[0]
        info["embed_so"] = os.path.join(libdir, "embed.so")
        info["embed_so_sha1"] = file_sha1(info["embed_so"])
    except (psycopg.Error, OSError):
        info["embed_so"] = info["embed_so_sha1"] = None
    try:  # which code was measured (bench.py assumes the installed build is this tree's)
        head = subprocess.run(["git", "-C", HERE, "rev-parse", "HEAD"],
                              capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "-C", HERE, "status", "--porcelain", "--", ".."],
                               capture_output=True, text=True, timeout=30)
        info["git_commit"] = head.stdout.strip() or None
        info["git_dirty"] = bool(dirty.stdout.strip()) if dirty.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        info["git_commit"] = info["git_dirty"] = None
    try:
        info["embed_simd_kernels"] = [r[0] for r in conn.execute("SELECT embed_simd_kernels()")]
    except psycopg.Error as e:
        info["embed_simd_kernels"] = f"n/a ({e.sqlstate})"
    try:
        info["embed_simd"] = conn.execute("SHOW embed.simd").fetchone()[0]
    except psycopg.Error as e:
        info["embed_simd"] = f"n/a ({e.sqlstate})"
    return info


PG_SETTINGS = ["shared_buffers", "work_mem", "maintenance_work_mem", "effective_cache_size",
               "max_parallel_maintenance_workers", "max_parallel_workers_per_gather",
               "max_parallel_workers", "jit", "fsync", "synchronous_commit", "wal_level",
               "huge_pages", "autovacuum"]


def pg_settings(conn):
    return {r[0]: r[1] for r in conn.execute(
        "SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY(%s) ORDER BY name",
        (PG_SETTINGS,))}


def fmt(v, f):
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "-"
    return format(v, f)


def print_table(records, clients):
    cols = [("engine", "<"), ("index", "<"), ("setting", "<"), ("build_s", ">"), ("size_MB", ">"),
            ("mem_MB", ">"), ("nq", ">"), ("recall@k", ">"), ("qps", ">"), ("qps_c", ">"),
            (f"qps_{clients}c", ">"), ("p50_ms", ">"), ("p99_ms", ">"), ("cpu_ms", ">"), ("qps/faiss", ">"),
            ("qps_c/faiss", ">"), ("cpu/faiss", ">"), ("build/faiss", ">"),
            ("qps/pgv", ">"), ("build/pgv", ">"), ("size/pgv", ">")]
    rows = []
    for r in records:
        rows.append([r["engine"], r["index"], r.get("setting") or "",
                     fmt(r.get("build_s"), ".2f"),
                     fmt(r["index_bytes"] / 1e6 if r.get("index_bytes") is not None else None, ".1f"),
                     fmt(r["build_mem_peak_bytes"] / 1e6 if r.get("build_mem_peak_bytes") is not None else None, ".0f"),
                     str(r["nq"]) + ("*" if r.get("time_capped") else ""),
                     fmt(r.get("recall"), ".4f"), fmt(r.get("qps"), ".1f"), fmt(r.get("qps_c"), ".1f"),
                     fmt(r.get("qps_clients"), ".1f"),
                     fmt(r.get("p50_ms"), ".2f"), fmt(r.get("p99_ms"), ".2f"), fmt(r.get("cpu_ms"), ".2f"),
                     fmt(r.get("qps_vs_faiss"), ".2f"), fmt(r.get("qps_c_vs_faiss"), ".2f"),
                     fmt(r.get("cpu_vs_faiss"), ".2f"),
                     fmt(r.get("build_vs_faiss"), ".2f"),
                     fmt(r.get("qps_vs_pgvector"), ".2f"), fmt(r.get("build_vs_pgvector"), ".2f"),
                     fmt(r.get("size_vs_pgvector"), ".2f")])
    w = [max(len(c[0]), *(len(r[i]) for r in rows)) for i, c in enumerate(cols)]
    line = lambda vals: "  ".join(format(v, a + str(w[i])) for i, (v, (_, a)) in enumerate(zip(vals, cols)))
    print(line([c[0] for c in cols]))
    print("  ".join("-" * x for x in w))
    for r in rows:
        print(line(r))


ROUND_KEYS = ("qps", "p50_ms", "p99_ms", "cpu_ms", "qps_c", "p50_ms_c", "p99_ms_c", "cpu_ms_c",
              "qps_clients", "p50_ms_clients", "p99_ms_clients")


def merge_rounds(recs):
    """One record from the rounds of one configuration: every timing is the
    median over the rounds (the answers, hence recall and plan, are the same
    in each); the single values are kept as <key>_rounds."""
    out = dict(recs[0])
    out["rounds"] = len(recs)
    for k in ROUND_KEYS:
        vals = [r[k] for r in recs if r.get(k) is not None and not np.isnan(r[k])]
        if vals:
            out[k] = float(np.median(vals))
            if len(recs) > 1:
                out[k + "_rounds"] = [r.get(k) for r in recs]
    return out


def faiss_key(am, params, bq=False):
    """Which FAISS index stands against our index `am` with `params` (none
    against a binary-quantized index: FAISS's binary indexes do not re-rank)."""
    if bq:
        return None
    if am == "hnsw":
        return ("hnsw", int(params["m"]), int(params["ef_construction"]))
    if am in IVF_AMS:
        return ("ivf", int(params["lists"]))
    return None


def plan_for_faiss(args, ds, ams):
    """Our index plan, plus (without --index) the default HNSW and IVF plans
    for FAISS alone where the extension lacks those AMs."""
    plan = index_plan(args, ds, ams)
    extra = [] if args.index else [p for p in index_plan(args, ds, ["hnsw", "ivfflat"]) if p[0] not in ams]
    return plan, extra


def faiss_indexes(args, ds, queries, minfo, plan, extra):
    """Build FAISS's flat index and the counterparts of the planned indexes:
    {"indexes": {key: (label, index, build_s, set_param)}, "param": {key: name},
    "queries": the queries as FAISS takes them, "unpaired": [(key, values)]}."""
    fx = {"indexes": {}, "param": {}, "queries": None, "unpaired": []}
    if args.no_faiss:
        return fx
    try:
        faiss = faiss_prepare(ds)
    except ImportError:
        log("faiss not importable (apt-get install python3-faiss): skipped")
        return fx
    minfo["faiss"] = f"{faiss.__version__} ({faiss.get_compile_options().strip()}), 1 thread"
    fx["queries"] = normalise(queries).astype(np.float32) if ds.metric == "cosine" else queries
    fmetric = faiss.METRIC_L2 if ds.metric == "l2" else faiss.METRIC_INNER_PRODUCT
    # --type halfvec: FAISS stores the vectors as float16 too (scalar quantizer fp16)
    fp16 = args.type == "halfvec"
    qt = faiss.ScalarQuantizer.QT_fp16 if fp16 else None

    def trained(ix, m):
        if not ix.is_trained:
            ix.train(faiss_sample(ds, m, args.seed))
        return ix

    log("faiss flat" + (" (fp16)" if fp16 else ""))
    t0 = time.perf_counter()
    if fp16:
        flat = trained(faiss.IndexScalarQuantizer(ds.dim, qt, fmetric), 1000)
        flat_label = "IndexScalarQuantizer(fp16)"
    else:
        flat = faiss.IndexFlatL2(ds.dim) if ds.metric == "l2" else faiss.IndexFlatIP(ds.dim)
        flat_label = "IndexFlat" + ("L2" if ds.metric == "l2" else "IP")
    faiss_add(flat, ds, 50000)
    fx["indexes"]["flat"] = (flat_label, flat, time.perf_counter() - t0, None)
    if args.no_faiss_ann:
        return fx

    def set_ef(ix, v):
        ix.hnsw.efSearch = v

    def set_nprobe(ix, v):
        ix.nprobe = v

    for (am, params, guc, vals, bq), paired in [(p, True) for p in plan] + [(p, False) for p in extra]:
        key = faiss_key(am, params, bq)
        if key is None:
            continue
        if key not in fx["indexes"]:
            t0 = time.perf_counter()
            if key[0] == "hnsw":
                log(f"faiss HNSW M={key[1]} efConstruction={key[2]}" + (" fp16" if fp16 else ""))
                if fp16:
                    ix = trained(faiss.IndexHNSWSQ(ds.dim, qt, key[1], fmetric), 1000)
                else:
                    ix = faiss.IndexHNSWFlat(ds.dim, key[1], fmetric)
                ix.hnsw.efConstruction = key[2]
                faiss_add(ix, ds, 50000)
                fx["indexes"][key] = (f"IndexHNSW{'SQ(fp16,' if fp16 else 'Flat('}M={key[1]},efC={key[2]})", ix,
                                      time.perf_counter() - t0, set_ef)
                fx["param"][key] = "efSearch"
            else:
                nl = key[1]
                log(f"faiss IVFFlat nlist={nl}")
                qz = faiss.IndexFlatL2(ds.dim) if ds.metric == "l2" else faiss.IndexFlatIP(ds.dim)
                if fp16:  # no residual: the vectors themselves in float16, like IVFFlat's in float32
                    ix = faiss.IndexIVFScalarQuantizer(qz, ds.dim, nl, qt, fmetric, False)
                else:
                    ix = faiss.IndexIVFFlat(qz, ds.dim, nl, fmetric)
                ix.train(faiss_sample(ds, max(nl * 50, 1000), args.seed))
                faiss_add(ix, ds, 50000)
                fx["indexes"][key] = (f"IndexIVF{'ScalarQuantizer(fp16,' if fp16 else 'Flat('}nlist={nl})", ix,
                                      time.perf_counter() - t0, set_nprobe)
                fx["param"][key] = "nprobe"
        if not paired or guc != KNOWN_AMS[am]["guc"]:
            # nothing of ours to stand next to: FAISS's default sweep on its own
            fx["unpaired"].append((key, [str(v) for v in KNOWN_AMS[am]["sweep"]]))
    return fx


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="fashion-mnist",
                    help="fashion-mnist, a set in $BENCH_DATA_DIR (beir-bge-768, sap-minilm-384, "
                         "msmarco-ada-1536, words-100 or a folder name), or synthetic-N-from-NAME")
    ap.add_argument("--list", action="store_true", help="list datasets and exit")
    ap.add_argument("--index", default="",
                    help='indexes to build, e.g. "hnsw:m=16,ef_construction=64;ivfflat:lists=100", or "none" '
                         "(default: every index AM of the extension, with default parameters)")
    ap.add_argument("--sweep", default="",
                    help='search settings, e.g. "hnsw.ef_search=10,40;ivfflat.probes=1,8" '
                         "(default: hnsw.ef_search=10..320, ivfflat.probes=1..32)")
    ap.add_argument("--queries", type=int, default=1000, help="number of queries (default 1000)")
    ap.add_argument("--exact-queries", type=int, default=0,
                    help="queries for the exact scan and FAISS flat (default: --queries)")
    ap.add_argument("--rows", type=parse_count, default=0, help="use only the first N base rows")
    ap.add_argument("--k", type=int, default=10, help="neighbours per query, recall@k (default 10)")
    ap.add_argument("--clients", type=int, default=2, help="concurrent clients for qps_Nc (default 2)")
    ap.add_argument("--rounds", type=int, default=5,
                    help="alternations of each index setting with its FAISS counterpart; timings are "
                         "the median (default 5)")
    ap.add_argument("--max-seconds", type=float, default=120,
                    help="stop a measurement after this long; nq then shows * (default 120)")
    ap.add_argument("--metric", choices=sorted(OPERATORS), help="override the dataset's metric")
    ap.add_argument("--storage", default="default", choices=["default", "plain", "main", "external", "extended"],
                    help="ALTER COLUMN embedding SET STORAGE before loading (default: the type's)")
    ap.add_argument("--compression", choices=["pglz", "lz4"],
                    help="ALTER COLUMN embedding SET COMPRESSION (default: default_toast_compression)")
    ap.add_argument("--toast-tuple-target", type=int,
                    help="ALTER TABLE SET (toast_tuple_target = N) before loading: 8160 keeps rows up to "
                         "a page inline and uncompressed")
    ap.add_argument("--parallel-workers", type=int, default=0,
                    help="max_parallel_workers_per_gather for queries (default 0: one core per query)")
    ap.add_argument("--no-libpq", action="store_true",
                    help="skip the C client (bench/client.c) measurement, qps_c")
    ap.add_argument("--engines", default="",
                    help="engines to measure, of embed,pgvector,faiss (default: every available one; "
                         "pgvector when it is installed in the server, see bench/README.md)")
    ap.add_argument("--pgvector-db", default="bench_pgvector",
                    help="database (dropped and re-created) for pgvector's copy of the table")
    ap.add_argument("--type", default="vector", choices=["vector", "halfvec"],
                    help="column type; halfvec uses the halfvec opclasses in every engine (default vector)")
    ap.add_argument("--binary-quantize", action="store_true",
                    help="index binary_quantize(embedding)::bit(d) with bit_hamming_ops and query with "
                         "re-ranking (per index: binary_quantize=on in --index)")
    ap.add_argument("--bq-rerank", type=int, default=4,
                    help="binary-quantized rows: the inner query fetches k times this many (default 4)")
    ap.add_argument("--no-faiss", action="store_true", help="skip FAISS (same as leaving it out of --engines)")
    ap.add_argument("--no-faiss-ann", action="store_true", help="FAISS flat only, no HNSW/IVF")
    ap.add_argument("--holdout", type=int, default=1000, help="queries held out of sets without a query file")
    ap.add_argument("--noise", type=float, default=0.5, help="synthetic: noise, in per-dim std units")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--chunk", type=int, default=10000, help="rows per COPY/FAISS block")
    ap.add_argument("--table", default="bench_items")
    ap.add_argument("--results", default=os.path.join(HERE, "results"))
    ap.add_argument("--cache", default=os.path.join(HERE, "cache"))
    args = ap.parse_args()

    if args.list:
        print("\n".join(list_datasets() + ["synthetic-N-from-NAME (N like 1000000 or 1m)"]))
        return
    if args.k > GT_K:
        raise SystemExit(f"--k at most {GT_K}")

    run_id = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    t_start = time.perf_counter()
    ds = load_dataset(args)
    if args.rows:
        ds = Limited(ds, args.rows)
    nq = min(args.queries, len(ds.all_queries))
    queries = np.ascontiguousarray(ds.all_queries[:nq], dtype=np.float32)
    n_exact = min(args.exact_queries or nq, nq)
    log(f"dataset {ds.name}: n={ds.n} dim={ds.dim} metric={ds.metric} queries={nq}")
    log(ds.describe())

    gt = ground_truth(ds, queries, args.cache)

    # Engines: embed (in the default database), pgvector (a database of its
    # own: both define type vector), FAISS (in-process).
    engines, pgv_note = choose_engines(args)
    pg_engines = []
    if "embed" in engines:
        with psycopg.connect("", autocommit=True) as c:
            c.execute("CREATE EXTENSION IF NOT EXISTS embed")
        pg_engines.append(Engine("embed", None, "embed"))
    if "pgvector" in engines:
        pg_engines.append(setup_pgvector(args))
    if not pg_engines:
        raise SystemExit("--engines: embed, pgvector or both are needed (FAISS alone has no table to compare)")
    for eng in pg_engines:
        with psycopg.connect(eng.conninfo(), autocommit=True) as c:
            eng.param_oid = c.execute("SELECT %s::regtype::oid", (args.type,)).fetchone()[0]
            eng.ams = extension_ams(c, eng.ext)
    main_eng = pg_engines[0]
    conn = connect(main_eng)
    minfo = machine_info(conn)
    settings = pg_settings(conn)
    conn.close()
    pgv = next((e for e in pg_engines if e.name == "pgvector"), None)
    if pgv is not None:
        minfo["pgvector"] = pgv.version
        minfo["pgvector_library"] = pgv.library
    elif pgv_note:
        minfo["pgvector"] = f"not measured: {pgv_note}"
    ams = main_eng.ams

    loads = {}
    for eng in pg_engines:
        log(f"{eng.name}: loading {ds.n} rows into {args.type}({ds.dim}) "
            f"(binary COPY, {args.chunk} rows per block)")
        load = loads[eng.name] = load_table(args, ds, eng)
        log(f"{eng.name}: loaded {load['rows']} rows in {load['copy_s']:.2f}s = {load['rows_per_s']:.0f} rows/s "
            f"({load['mb_per_s']:.1f} MB/s of vector data); VACUUM ANALYZE {load['vacuum_analyze_s']:.2f}s; "
            f"heap {load['heap_bytes'] / 1e6:.1f} MB, toast {load['toast_bytes'] / 1e6:.1f} MB "
            f"(storage {load['attstorage']}, {100 * load['compressed_fraction']:.0f}% of values compressed)")
    load = loads[main_eng.name]

    qvecs = [vec_binary(q, args.type) for q in queries]
    query_setup = [f"SET max_parallel_workers_per_gather = {args.parallel_workers}"]
    common = {"run_id": run_id, "dataset": ds.name, "dataset_desc": ds.describe(),
              "synthetic": ds.synthetic, "n": ds.n, "dim": ds.dim, "metric": ds.metric,
              "k": args.k, "queries_total": nq, "type": args.type}
    records = []

    # FAISS's counterparts are built first, so that each of our configurations
    # is measured right next to its own: this VM's speed drifts by tens of
    # percent over minutes, and the ratios should not.
    plan, extra = plan_for_faiss(args, ds, ams)
    fx = faiss_indexes(args, ds, queries, minfo, plan, extra) if "faiss" in engines else \
        {"indexes": {}, "param": {}, "queries": None, "unpaired": []}

    def faiss_once(key, setting_value, qids):
        label, ix, build_s, setp = fx["indexes"][key]
        if setp is not None:
            setp(ix, int(setting_value))
        res = faiss_search(args, ix, fx["queries"], qids, args.k)
        return {"engine": "faiss", "index": label,
                "setting": None if setp is None else f"{fx['param'][key]}={setting_value}",
                "build_s": build_s, "nq": res["nq"], "time_capped": res["time_capped"],
                "recall": recall_at_k(res["results"], gt[0], gt[1], args.k),
                "qps": res["qps"], "p50_ms": res["p50_ms"], "p99_ms": res["p99_ms"],
                "cpu_ms": res["cpu_ms"]}

    def measure_group(ours, key, setting_value, qids, rounds):
        """`rounds` alternations of each PostgreSQL engine's measurement
        (embed, then pgvector) and FAISS's counterpart (if any); each timing
        is the median over the rounds.  ours: {engine name: callable}."""
        mine = {name: [] for name in ours}
        theirs = []
        for _ in range(rounds):
            for name, fn in ours.items():
                mine[name].append(fn())
            if key in fx["indexes"]:
                theirs.append(faiss_once(key, setting_value, qids))
        f = merge_rounds(theirs) if theirs else None
        out = {}
        for name, recs in mine.items():
            r = merge_rounds(recs)
            if f is not None:
                r["qps_vs_faiss"] = r["qps"] / f["qps"]
                if r.get("qps_c"):
                    r["qps_c_vs_faiss"] = r["qps_c"] / f["qps"]
                if f.get("cpu_ms"):
                    r["cpu_vs_faiss"] = r["cpu_ms"] / f["cpu_ms"]
            out[name] = r
        return out, f

    def vs_pgvector(recs):
        """embed's row against pgvector's for the same index and setting."""
        e, p = recs.get("embed"), recs.get("pgvector")
        if e is None or p is None:
            return
        e["pgvector_recall"] = p.get("recall")
        for mine, ratio in (("qps", "qps_vs_pgvector"), ("qps_c", "qps_c_vs_pgvector"),
                            ("cpu_ms", "cpu_vs_pgvector"), ("build_s", "build_vs_pgvector"),
                            ("index_bytes", "size_vs_pgvector")):
            if e.get(mine) and p.get(mine):
                e[ratio] = e[mine] / p[mine]

    # exact scan (one round: it is slow, and drift matters less at its scale)
    log(f"exact scan: {n_exact} queries, 1 and {args.clients} clients")
    exact_sql = query_sql(args, ds)
    rs, f = measure_group(
        {eng.name: (lambda eng=eng: measure_pg(args, ds, eng, exact_sql, query_setup, list(range(n_exact)),
                                               qvecs, gt, warmup=3, libpq=False))
         for eng in pg_engines},
        "flat", None, list(range(n_exact)), 1)
    vs_pgvector(rs)
    for name, r in rs.items():
        r.update({"engine": name, "index": "exact scan", "setting": None})
        records.append(r)
        progress(r)
    faiss_records = []
    if f is not None:
        faiss_records.append(f)
        progress(f)

    # index AMs
    if not ams and not args.index and not plan:
        log("the extension has no index access methods yet: exact scan only")
    for am, params, guc, vals, bq in plan:
        built = {}
        for eng in pg_engines:
            log(f"{eng.name}: building {am} {params}{' on binary_quantize(embedding)' if bq else ''}")
            b, err = build_index(args, ds, eng, am, params, bq)
            if err:
                log(f"{eng.name}: skipping {am}: {err}")
                continue
            log(f"{eng.name}: built in {b['build_s']:.2f}s, {b['index_bytes'] / 1e6:.1f} MB")
            built[eng.name] = (eng, b)
        if not built:
            continue
        label = f"{am}(" + ",".join(f"{k}={v}" for k, v in params.items()) + ")"
        if bq:
            label += f"+bq(rerank {args.k * args.bq_rerank})"
        idx_name = index_name(args, am, bq)
        sql = query_sql(args, ds, bq)
        key = faiss_key(am, params, bq)
        for v in vals:
            setup = query_setup + ([f"SET {guc} = {v}"] if guc else [])
            # What the planner picks by itself, then measure with seq scans
            # disabled, so that an index row always measures the index.
            natural = {}
            for name, (eng, _) in built.items():
                with connect(eng) as c:
                    for s_ in setup:
                        c.execute(s_)
                    natural[name] = plan_nodes(c, sql, qvecs[0])
                if not any(idx_name in p for p in natural[name]):
                    log(f"note: {name}: at {guc}={v} the planner prefers {natural[name]} to {idx_name} "
                        "(measured with enable_seqscan = off)")
            comparable = guc is not None and guc == KNOWN_AMS.get(am, {}).get("guc")
            rs, f = measure_group(
                {name: (lambda eng=eng: measure_pg(args, ds, eng, sql, setup + ["SET enable_seqscan = off"],
                                                   list(range(nq)), qvecs, gt, warmup=20))
                 for name, (eng, _) in built.items()},
                key if comparable else None, v, list(range(nq)), args.rounds)
            for name, r in rs.items():
                b = built[name][1]
                if not any(idx_name in p for p in r["plan"]):
                    log(f"warning: {name} {label} {guc}={v}: plan does not use the index: {r['plan']}")
                r.update({"engine": name, "index": label, "am": am, "index_params": params,
                          "binary_quantize": bq, "bq_rerank_limit": args.k * args.bq_rerank if bq else None,
                          "setting": f"{guc}={v}" if guc else None, "planner_plan": natural[name],
                          "planner_uses_index": any(idx_name in p for p in natural[name]), **b})
                if f is not None and r.get("build_s") and f.get("build_s"):
                    r["build_vs_faiss"] = r["build_s"] / f["build_s"]
            vs_pgvector(rs)
            for r in rs.values():
                records.append(r)
                progress(r)
            if f is not None and not any(x["index"] == f["index"] and x["setting"] == f["setting"]
                                         for x in faiss_records):
                faiss_records.append(f)
                progress(f)
        for eng, _ in built.values():
            with connect(eng) as c:
                c.execute(f"DROP INDEX IF EXISTS {idx_name}")

    # FAISS baselines with no index of ours to pair with (the extension lacks the AM)
    for key, vals in fx["unpaired"]:
        for v in vals:
            f = merge_rounds([faiss_once(key, v, list(range(nq))) for _ in range(args.rounds)])
            faiss_records.append(f)
            progress(f)
    records.extend(faiss_records)

    # output
    minfo["loadavg_at_end"] = os.getloadavg()
    so_changed = False
    if minfo.get("embed_so_sha1"):
        try:
            so_changed = file_sha1(minfo["embed_so"]) != minfo["embed_so_sha1"]
        except OSError:
            so_changed = True
    minfo["embed_so_changed_during_run"] = so_changed
    client_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    ts = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    os.makedirs(args.results, exist_ok=True)
    out = os.path.join(args.results, f"{run_id}-{re.sub(r'[^A-Za-z0-9_.-]', '_', ds.name)}.jsonl")
    with open(out, "w") as f:
        f.write(json.dumps({**common, "kind": "load", "timestamp": ts, "machine": minfo,
                            "pg_settings": settings, "load": load, "loads": loads,
                            "engines": [e for e in engines],
                            "bench_client_peak_rss_bytes": client_rss,
                            "args": vars(args)}) + "\n")
        for r in records:
            f.write(json.dumps({**common, "kind": "search", "timestamp": ts, "machine": minfo,
                                "clients": args.clients, **r}) + "\n")

    print()
    print(f"dataset   {ds.name}  n={ds.n}  dim={ds.dim}  metric={ds.metric}  k={args.k}"
          f"{'  (SYNTHETIC)' if ds.synthetic else ''}")
    print(f"          {ds.describe()}")
    print(f"queries   {nq} (exact scan and FAISS flat: {n_exact}); ground truth: exact, numpy float64"
          + (" over the float32 vectors" if args.type != "vector" else ""))
    print(f"column    embedding {args.type}({ds.dim})"
          + ("; FAISS stores float16 too (ScalarQuantizer fp16)" if args.type == "halfvec" else "")
          + (f"; +bq rows: bit({ds.dim}) index on binary_quantize(embedding), Hamming top "
             f"{args.k * args.bq_rerank} re-ranked by {OPERATORS[ds.metric]}"
             if any(p[4] for p in plan) else ""))
    print(f"engines   {', '.join(engines)}"
          + (f"; pgvector {minfo['pgvector']} ({minfo.get('pgvector_library')}) in database {args.pgvector_db}"
             if pgv is not None else f"; {minfo['pgvector']}" if pgv_note else ""))
    print(f"machine   {minfo['cpu']}, {minfo['cores']} cores, {(minfo['mem_bytes'] or 0) / 2**30:.0f} GiB; "
          f"PostgreSQL {minfo['pg_version']}; embed {minfo['embed_version']} "
          f"simd={minfo['embed_simd']} kernels={minfo['embed_simd_kernels']}")
    print(f"code      git {minfo.get('git_commit') or '?'}{' + uncommitted changes' if minfo.get('git_dirty') else ''}"
          f"{' (BENCH_SKIP_BUILD: installed build assumed current)' if os.environ.get('BENCH_SKIP_BUILD') == '1' else ''}")
    if so_changed:
        print(f"WARNING   {minfo['embed_so']} was replaced during the run: "
              "later measurements may have used a different build; rerun")
    print("load avg  at start {:.2f} {:.2f} {:.2f}, at end {:.2f} {:.2f} {:.2f} "
          "(other work on the machine skews qps and latency; cpu_ms less so)".format(
              *minfo["loadavg_at_start"], *minfo["loadavg_at_end"]))
    if "faiss" in minfo:
        print(f"faiss     {minfo['faiss']}")
    print("settings  " + ", ".join(f"{k}={v}" for k, v in settings.items()))
    for name, ld in loads.items():
        print(f"load      {name}: {ld['rows']} rows in {ld['copy_s']:.2f}s = {ld['rows_per_s']:.0f} rows/s; "
              f"heap {ld['heap_bytes'] / 1e6:.1f} MB + toast {ld['toast_bytes'] / 1e6:.1f} MB "
              f"(embedding storage {ld['attstorage']}, compression {ld['attcompression']}: "
              f"{100 * ld['compressed_fraction']:.0f}% of values compressed)")
    print(f"client    peak RSS of bench.py {client_rss / 2**20:.0f} MiB")
    print()
    print_table(records, args.clients)
    print()
    print("nq* = stopped by --max-seconds; qps = 1 client (psycopg); qps_c = 1 client, the same queries "
          "from a C loop over libpq (bench/client.c); "
          f"qps_{args.clients}c = {args.clients} clients together; p50/p99 = 1 client latency; "
          "cpu_ms = CPU time per query (ours: the server backend; FAISS: the bench process); "
          "mem_MB = peak private RSS of the building backend + its parallel workers; "
          "x/faiss = ours divided by FAISS's for the same configuration; x/pgv = embed's divided by "
          "pgvector's for the same index and setting (qps: > 1 embed faster; build, size: < 1 embed "
          "faster, smaller); engines measured alternately "
          f"({args.rounds} rounds per index setting, timings the median; the exact scan 1 round)")
    print(f"results   {os.path.relpath(out)}   (total {time.perf_counter() - t_start:.0f}s)")


if __name__ == "__main__":
    main()
