#!/usr/bin/env bash
# Before/after: build two git revisions of embed into two private copies of
# the PostgreSQL installation and compare them on the same data with
# bench/ab.py (alternating rounds, CPU per query, callgrind instructions).
#
#   bash bench/ab.sh REV_A REV_B [ab.py options...]
#   bash bench/ab.sh 4c2bf5a HEAD --base ../shared/data/X/X_base.fvecs \
#        --query ../shared/data/X/X_query.fvecs --ef 20,40,80 --callgrind 100
#
# Why copies: installing a revision into the system PostgreSQL would replace
# the embed every other cluster on the machine uses.  PostgreSQL finds its
# share and lib folders relative to its binaries, so a copied tree is a
# complete installation.  Work files go under $AB_TMP (default /tmp/embed-ab).
set -euo pipefail
[ $# -ge 2 ] || { sed -n '2,12p' "$0"; exit 2; }
REPO=$(cd "$(dirname "$0")/.." && pwd)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
AB_TMP=${AB_TMP:-/tmp/embed-ab}
rev_a=$1 rev_b=$2
shift 2
pgver=$("$PG_CONFIG" --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/')
mkdir -p "$AB_TMP"
side() {
	local name=$1 rev=$2 root="$AB_TMP/$1"
	rm -rf "$root"
	mkdir -p "$root/pg/usr/lib/postgresql" "$root/pg/usr/share/postgresql" "$root/pg/usr/include"
	cp -a "/usr/lib/postgresql/$pgver" "$root/pg/usr/lib/postgresql/"
	cp -a "/usr/share/postgresql/$pgver" "$root/pg/usr/share/postgresql/"
	cp -a /usr/include/postgresql "$root/pg/usr/include/"
	git -C "$REPO" worktree add -q --detach "$root/src" "$rev"
	make -s -C "$root/src" -j"$(nproc)" PG_CONFIG="$root/pg/usr/lib/postgresql/$pgver/bin/pg_config" install >"$root/build.log" 2>&1 ||
		{ tail -30 "$root/build.log"; exit 1; }
	echo "$name: $(git -C "$REPO" rev-parse --short "$rev") built into $root/pg" >&2
}
cleanup() {
	git -C "$REPO" worktree remove --force "$AB_TMP/a/src" 2>/dev/null || true
	git -C "$REPO" worktree remove --force "$AB_TMP/b/src" 2>/dev/null || true
}
trap cleanup EXIT
side a "$rev_a"
side b "$rev_b"
/usr/bin/python3 "$REPO/bench/ab.py" \
	--pg-a "$AB_TMP/a/pg/usr/lib/postgresql/$pgver/bin/pg_config" --label-a "$(git -C "$REPO" rev-parse --short "$rev_a")" \
	--pg-b "$AB_TMP/b/pg/usr/lib/postgresql/$pgver/bin/pg_config" --label-b "$(git -C "$REPO" rev-parse --short "$rev_b")" \
	"$@"
