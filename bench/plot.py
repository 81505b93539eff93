#!/usr/bin/python3
"""Draw bench/results/*.jsonl as SVG plots.

People compare vector search engines by recall-throughput curves, not by
long tables, so every `make bench` also writes, per data set:

  <dataset>-recall-qps.svg  recall@k (x) against queries/s (y, log scale),
                            one line per engine + index, one point per
                            search setting (ef_search, probes, ...)
  <dataset>-build.svg       index build time and index size, one bar per
                            engine + index

`make plots` redraws them from the results already there.  For each data set
the newest run (by its load line's timestamp) is drawn; --all draws every
run, named <dataset>-<run time>-....svg.  Any engine name in the JSON gets its
own line (embed, faiss, pgvector, ...).

Usage: plot.py [--out DIR] [--qps qps|qps_c] [--all] [FILE.jsonl ...]
(default files: bench/results/*.jsonl, default --out: bench/results).

Uses Debian's python3-matplotlib with the Agg backend (no display needed);
the SVG is reproducible: no date in it and fixed element ids.
"""

import argparse
import glob
import json
import os
import re
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import ticker  # noqa: E402

matplotlib.rcParams.update({
    "svg.hashsalt": "embed-bench",  # stable ids, so reruns diff cleanly
    "svg.fonttype": "none",  # text stays text: smaller, searchable
    "font.size": 9,
})

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Colour by engine (unknown engines take the next colour of the cycle),
# line style and marker by index family.
ENGINE_COLOURS = {"embed": "#1f77b4", "pgvector": "#ff7f0e", "faiss": "#2ca02c"}
EXTRA_COLOURS = ["#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
FAMILY_STYLE = {
    "hnsw": ("-", "o"),
    "ivfflat": ("--", "s"),
    "ivf": ("--", "s"),
    "ivfrabitq": (":", "^"),
    "exact": ("none", "X"),
    "flat": ("none", "X"),
}


def family(engine, index):
    """Index family of an (engine, index) pair: hnsw, ivfflat, ivfrabitq, exact."""
    name = (index or "").lower()
    if name == "exact scan" or name.startswith("indexflat"):
        return "exact"
    if name.startswith("indexhnsw"):
        return "hnsw"
    if name.startswith("indexivf"):
        return "ivfflat"
    m = re.match(r"[a-z_0-9]+", name)
    return m.group(0) if m else name


def setting_key(setting):
    """Sort settings by their number (ef_search=10 < 20 < 160), then by text."""
    if setting is None:
        return (0, 0.0, "")
    m = re.search(r"=\s*(-?[0-9.]+)\s*$", str(setting))
    if m:
        try:
            return (1, float(m.group(1)), str(setting))
        except ValueError:
            pass
    return (2, 0.0, str(setting))


def read_runs(files):
    """Runs as dicts: load (the load line or None), rows (search lines), file."""
    runs = []
    for path in files:
        load, rows = None, []
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    continue
                try:
                    obj = json.loads(line)
                except ValueError as e:
                    raise SystemExit(f"{path}:{lineno}: not JSON: {e}")
                if obj.get("kind") == "load":
                    load = obj
                elif obj.get("kind") == "search":
                    rows.append(obj)
        if not rows:
            print(f"plot.py: {path}: no search lines, skipped", file=sys.stderr)
            continue
        dataset = (load or rows[0]).get("dataset") or os.path.basename(path)
        stamp = (load or {}).get("timestamp") or (rows[0].get("timestamp")) or ""
        runs.append({"file": path, "load": load, "rows": rows,
                     "dataset": dataset, "timestamp": stamp})
    return runs


def safe_name(s):
    return re.sub(r"[^A-Za-z0-9._-]+", "_", s)


def subtitle(run):
    load = run["load"] or {}
    m = load.get("machine") or run["rows"][0].get("machine") or {}
    parts = []
    if load.get("n"):
        parts.append(f"n={load['n']:,} dim={load.get('dim')} {load.get('metric', '')}")
    if load.get("synthetic"):
        parts.append("SYNTHETIC")
    cpu = m.get("cpu")
    if cpu:
        parts.append(f"{cpu}, {m.get('cores', '?')} cores")
    if run["timestamp"]:
        parts.append(run["timestamp"][:16].replace("T", " ") + " UTC")
    commit = m.get("git_commit")
    if commit:
        parts.append("git " + commit[:10] + ("+dirty" if m.get("git_dirty") else ""))
    return "   ".join(parts)


class Styler:
    def __init__(self):
        self.extra = {}

    def colour(self, engine):
        if engine in ENGINE_COLOURS:
            return ENGINE_COLOURS[engine]
        if engine not in self.extra:
            self.extra[engine] = EXTRA_COLOURS[len(self.extra) % len(EXTRA_COLOURS)]
        return self.extra[engine]


def series(run, qps_field):
    """{(engine, index): [row, ...]} in first-seen order, rows by setting."""
    out = {}
    for r in run["rows"]:
        if not isinstance(r.get(qps_field), (int, float)) or r[qps_field] <= 0:
            continue
        if not isinstance(r.get("recall"), (int, float)):
            continue
        out.setdefault((r.get("engine", "?"), r.get("index", "?")), []).append(r)
    for rows in out.values():
        rows.sort(key=lambda r: setting_key(r.get("setting")))
    return out


def plot_recall_qps(run, qps_field, path, styler):
    lines = series(run, qps_field)
    if not lines:
        print(f"plot.py: {run['file']}: no rows with recall and {qps_field}, no recall plot",
              file=sys.stderr)
        return False
    k = (run["load"] or {}).get("k") or run["rows"][0].get("k") or 10
    fig, ax = plt.subplots(figsize=(8, 5.2))
    for (engine, index), rows in lines.items():
        style, marker = FAMILY_STYLE.get(family(engine, index), ("-.", "D"))
        ax.plot([r["recall"] for r in rows], [r[qps_field] for r in rows],
                linestyle=style, marker=marker, markersize=5, linewidth=1.4,
                color=styler.colour(engine), label=f"{engine}  {index}")
    ax.set_yscale("log")
    # plain numbers on the log axis: 1,000 not 10^3, and 200 / 500 between
    ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 1 else f"{v:g}"))
    ax.yaxis.set_minor_formatter(ticker.FuncFormatter(
        lambda v, _: (f"{v:,.0f}" if v >= 1 else f"{v:g}") if f"{v:e}"[0] in "25" else ""))
    ax.set_xlabel(f"recall@{k}")
    what = {"qps": "queries/s (1 client)", "qps_c": "queries/s (1 client, C loop over libpq)"}
    ax.set_ylabel(what.get(qps_field, qps_field) + ", log scale")
    ax.grid(True, which="both", linewidth=0.4, alpha=0.5)
    ax.set_title(f"{run['dataset']}: recall against throughput\n{subtitle(run)}", fontsize=9)
    ax.legend(fontsize=7, loc="best", framealpha=0.85)
    fig.tight_layout()
    fig.savefig(path, format="svg", metadata={"Date": None})
    plt.close(fig)
    return True


def plot_build(run, path, styler):
    """Build time and size, one bar per engine + index that was built."""
    seen = {}
    for r in run["rows"]:
        if not isinstance(r.get("build_s"), (int, float)):
            continue
        key = (r.get("engine", "?"), r.get("index", "?"))
        seen.setdefault(key, (r["build_s"], r.get("index_bytes")))
    if not seen:
        print(f"plot.py: {run['file']}: no build times, no build plot", file=sys.stderr)
        return False
    labels = [f"{e}  {i}" for e, i in seen]
    colours = [styler.colour(e) for e, _ in seen]
    build = [v[0] for v in seen.values()]
    size = [v[1] / 1048576 if isinstance(v[1], (int, float)) else 0 for v in seen.values()]
    height = max(3.0, 1.0 + 0.32 * len(labels))
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, height), sharey=True)
    ypos = list(range(len(labels)))
    a1.barh(ypos, build, color=colours)
    a1.set_yticks(ypos, labels)
    a1.invert_yaxis()
    a1.set_xlabel("build time, s")
    a2.barh(ypos, size, color=colours)
    a2.set_xlabel("index size, MB")
    for y, v in zip(ypos, seen.values()):
        if not isinstance(v[1], (int, float)):
            a2.text(0, y, " not a PostgreSQL relation", va="center", fontsize=7, color="#555555")
    for a in (a1, a2):
        a.grid(True, axis="x", linewidth=0.4, alpha=0.5)
    fig.suptitle(f"{run['dataset']}: index build\n{subtitle(run)}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, format="svg", metadata={"Date": None})
    plt.close(fig)
    return True


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("files", nargs="*", help="result files (default bench/results/*.jsonl)")
    p.add_argument("--out", default=None, help="output folder (default bench/results)")
    p.add_argument("--qps", default="qps", help="throughput field: qps (default) or qps_c")
    p.add_argument("--all", action="store_true", help="draw every run, not the newest per data set")
    a = p.parse_args(argv)

    files = a.files or sorted(glob.glob(os.path.join(REPO, "bench", "results", "*.jsonl")))
    out = a.out or os.path.join(REPO, "bench", "results")
    if not files:
        print("plot.py: no bench/results/*.jsonl yet (run make bench first)", file=sys.stderr)
        return 0
    runs = read_runs(files)
    if not a.all:
        newest = {}
        for run in runs:
            if run["dataset"] not in newest or run["timestamp"] >= newest[run["dataset"]]["timestamp"]:
                newest[run["dataset"]] = run
        runs = list(newest.values())
    os.makedirs(out, exist_ok=True)
    written = []
    for run in sorted(runs, key=lambda r: (r["dataset"], r["timestamp"])):
        base = safe_name(run["dataset"])
        if a.all:
            base += "-" + safe_name(re.sub(r"[-:]|\+00_?00$", "", run["timestamp"]) or "run")
        styler = Styler()
        for kind, fn in (("recall-qps", lambda pth: plot_recall_qps(run, a.qps, pth, styler)),
                         ("build", lambda pth: plot_build(run, pth, styler))):
            pth = os.path.join(out, f"{base}-{kind}.svg")
            if fn(pth):
                written.append(pth)
    for pth in written:
        print(f"plot      {os.path.relpath(pth)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
