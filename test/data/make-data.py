#!/usr/bin/env python3
"""Regenerate the data files in test/data from the full data sets.

Usage:  python3 test/data/make-data.py [--src DIR] [--out DIR] [--words N]

--src is the folder holding wordvec-fasttext-100/ and sap-fiori-docs-minilm-384/
(default: $EMBED_SHARED_DATA, else ../shared/data beside the repository); --out defaults to the
folder this script is in.  Standard library only, and the output is
byte-for-byte reproducible (fixed gzip header), so `git diff` after a rerun
shows whether anything changed.  See README.md for the file formats.
"""

import argparse
import gzip
import hashlib
import os
import struct
import sys

WORDS_DIR = "wordvec-fasttext-100"
SAP_DIR = "sap-fiori-docs-minilm-384"


def read_fvecs(path):
    """Rows of an .fvecs file (int32 dim, then dim float32, little-endian)."""
    with open(path, "rb") as f:
        data = f.read()
    rows, pos = [], 0
    while pos < len(data):
        (dim,) = struct.unpack_from("<i", data, pos)
        pos += 4
        rows.append(struct.unpack_from("<%df" % dim, data, pos))
        pos += 4 * dim
    return rows


def read_labels(path, nfields):
    """Tab-separated label lines; the last field may itself contain tabs."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.split("\t", nfields - 1) for line in lines]


def copy_escape(s):
    """Escape a value for COPY's text format (the default of COPY / \\copy)."""
    return (s.replace("\\", "\\\\").replace("\t", "\\t")
            .replace("\n", "\\n").replace("\r", "\\r"))


def fmt_num(x, decimals):
    # Fixed decimals, then trailing zeros trimmed: "0.2500" -> "0.25",
    # "-0.0000" -> "0".  Shorter text compresses better and parses the same.
    s = "%.*f" % (decimals, x)
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def fmt_vec(v, decimals):
    return "[" + ",".join(fmt_num(x, decimals) for x in v) + "]"


def write_gz(path, lines):
    # filename='' and mtime=0 keep the gzip header free of run-specific bytes.
    with open(path, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw,
                           compresslevel=9, mtime=0) as gz:
            for line in lines:
                gz.write(line.encode("utf-8"))
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    print("%-28s %8d bytes  sha256 %s" % (os.path.basename(path),
                                            os.path.getsize(path), digest))


def make_words(src, out, n, decimals):
    base = os.path.join(src, WORDS_DIR, "words-100d_base")
    vecs = read_fvecs(base + ".fvecs")
    words = [f[0] for f in read_labels(base + ".labels.txt", 1)]
    if len(vecs) != len(words) or len(vecs) < n:
        sys.exit("unexpected word vector files under %s" % base)
    # The source is ordered by corpus frequency: rank 1 is the commonest word.
    lines = ("%d\t%s\t%s\n" % (i + 1, copy_escape(words[i]),
                               fmt_vec(vecs[i], decimals))
             for i in range(n))
    write_gz(os.path.join(out, "words-%dk.tsv.gz" % (n // 1000)), lines)


def make_sap(src, out, part, name, decimals):
    base = os.path.join(src, SAP_DIR, "sap-fiori-docs-minilm-384_" + part)
    vecs = read_fvecs(base + ".fvecs")
    labels = read_labels(base + ".labels.txt", 3)
    if len(vecs) != len(labels) or any(len(l) != 3 for l in labels):
        sys.exit("unexpected SAP files under %s" % base)
    lines = ("%s\t%s\t%s\t%s\n" % (copy_escape(l[0]), copy_escape(l[1]),
                                   copy_escape(l[2]), fmt_vec(v, decimals))
             for l, v in zip(labels, vecs))
    write_gz(os.path.join(out, name), lines)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--src", default=os.environ.get(
        "EMBED_SHARED_DATA", os.path.join(here, "..", "..", "..", "shared", "data")))
    ap.add_argument("--out", default=here)
    ap.add_argument("--words", type=int, default=10000,
                    help="how many of the most frequent words (default 10000)")
    args = ap.parse_args()

    # 4 decimals for the word vectors (components are ~0.3, so ~4 significant
    # digits); 5 for the unit-norm 384-d chunk vectors (components ~0.03).
    # README.md records that neither changes the demo's answers.
    make_words(args.src, args.out, args.words, 4)
    make_sap(args.src, args.out, "base", "sap-fiori-chunks.tsv.gz", 5)
    make_sap(args.src, args.out, "query", "sap-fiori-queries.tsv.gz", 5)


if __name__ == "__main__":
    main()
