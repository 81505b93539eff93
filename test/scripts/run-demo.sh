#!/usr/bin/env bash
# `make demo`: install missing packages, build and install embed, start a
# throwaway cluster, run test/demo/demo.sql in it, and tear the cluster down.
#
# demo.sql gets the psql variable :datadir (absolute path of test/data) and
# runs with the repository root as psql's working directory.  Note that psql
# does not interpolate variables inside \copy, so demo.sql should load data
# with relative paths (\copy t FROM PROGRAM 'gzip -dc test/data/x.tsv.gz')
# or `\cd :datadir` first.  \copy runs in the psql process, so the files only
# need to be readable by the user running `make demo`, not by the server.
set -euo pipefail
# shellcheck source=test/scripts/lib.sh
. "$(dirname "$0")/lib.sh"

demo=$EMBED_REPO/test/demo/demo.sql
[ -f "$demo" ] || die "missing $demo"

ensure_deps demo
# The build and install are quiet: their output is shown only if they fail.
build_log=$(mktemp)
if ! (build_install) >"$build_log" 2>&1; then
	cat "$build_log"
	rm -f "$build_log"
	die "building or installing embed failed (output above)"
fi
rm -f "$build_log"
log "embed built and installed"
setup_work
start_cluster

psql_demo() {
	"$PGBIN/psql" -X -v ON_ERROR_STOP=1 -P pager=off "$@"
}

log "CREATE EXTENSION embed"
psql_demo -q -c 'CREATE EXTENSION embed'

log "running test/demo/demo.sql"
# -e echoes each query before its result.
# Section 8 writes its SVG map there (git-ignored); a stale one goes first.
map=$EMBED_REPO/demo-map.svg
rm -f "$map"
(cd "$EMBED_REPO" && psql_demo -e -v datadir="$EMBED_REPO/test/data" -v mapfile="$map" -f "$demo")
[ -s "$map" ] || die "the demo did not write $map"

teardown
log "demo finished; its throwaway cluster and tables are gone"
cat <<EOF

What you just saw, and where to read more in README.md:
  - the vector type, its operators and avg()          "The \`vector\` type", "Operators", "Functions"
  - an hnsw index and its measured recall             "Indexes: \`hnsw\`", "Performance"
  - an ivfrabitq index, its size and recall           "Indexes: \`ivfflat\` and \`ivfrabitq\`"
  - word clusters from kmeans(), a 2-D map from       "Clustering and projection"
    pca() and vector_project()
  - full text and vector search fused by rrf_score()  "Hybrid retrieval"
The map: $map (open it in a browser; a copy is test/demo/embedding-map.svg).
Not in the demo, also in this release: "The \`halfvec\` type", "The \`sparsevec\` type", "Bit strings",
"Classification and recommendation", "Multi-vector documents".
To keep a cluster and explore, install with \`make && sudo make install\` and
CREATE EXTENSION embed in a database of your own.
EOF
