#!/usr/bin/env bash
# `make bench`: install what is missing, build and install embed, start a
# throwaway PostgreSQL cluster tuned for benchmarking, run bench/bench.py
# against it, and stop the cluster again (EXIT trap: nothing is left running,
# whether the run succeeds, fails or is interrupted).
#
# Usage: bash bench/run.sh [bench.py options...]     (see bench/README.md)
#        bash bench/run.sh --plots-only [plot.py options...]   (`make plots`:
#        redraw bench/results/*.svg from the results there, no cluster)
#        bash bench/run.sh --analytics [analytics.py options...]   (`make bench
#        ANALYTICS=1`: kmeans/pca/vector_nearest/vector_project throughput,
#        bench/analytics.py, instead of the search benchmark)
#   e.g. bash bench/run.sh --dataset beir-bge-768 --index "hnsw:m=16"
# Extra options also come from $BENCH_ARGS (make bench BENCH_ARGS="--queries 200").
#
# Knobs (environment):
#   PG_CONFIG                 default /usr/lib/postgresql/15/bin/pg_config
#   BENCH_USER                OS user that runs the server when we are root (postgres)
#   BENCH_SHARED_BUFFERS      default 2GB
#   BENCH_MAINT_WORK_MEM      maintenance_work_mem, default 2GB
#   BENCH_WORK_MEM            default 64MB
#   BENCH_PARALLEL_MAINT      max_parallel_maintenance_workers, default nproc-1
#   BENCH_PG_CONF             extra lines appended to postgresql.conf
#   BENCH_SKIP_BUILD=1        do not rebuild/reinstall the extension
#   BENCH_PGVECTOR=1          build and install pgvector from ../shared/peers/pgvector
#                             (or $BENCH_PGVECTOR_INSTALL) when it is not installed, so
#                             that bench.py measures it side by side; this replaces
#                             embed's `vector` alias (make install-as-vector) if present
#   KEEP_TMP=1                keep the cluster's temp dir (server log) afterwards
#   BENCH_HUGEPAGES=1         reserve 2 MB huge pages for shared_buffers (sysctl
#                             vm.nr_hugepages, as root; the old value is put back on
#                             exit) and start the server with huge_pages = on
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_MAJOR=15
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/$PG_MAJOR/bin/pg_config}
# Debian's interpreter: numpy, psycopg and faiss come from Debian packages, and
# a pyenv/venv `python3` earlier on PATH would not see them.
PYTHON=${BENCH_PYTHON:-/usr/bin/python3}
export DEBIAN_FRONTEND=noninteractive
# `make bench` may run under make -jN: our own make calls must not use its jobserver.
unset MAKEFLAGS MFLAGS MAKELEVEL
# Stray libpq settings from the caller's shell would redirect the client.
unset PGHOSTADDR PGSERVICE PGSERVICEFILE PGOPTIONS PGPASSWORD PGPASSFILE PGDATA PGDATABASE

log() { printf '==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
is_root() { [ "$(id -u)" -eq 0 ]; }
as_root() { if is_root; then "$@"; else sudo "$@"; fi; }

if is_root; then RUN_USER=${BENCH_USER:-postgres}; else RUN_USER=$(id -un); fi
as_run_user() { if is_root; then runuser -u "$RUN_USER" -- "$@"; else "$@"; fi; }

pkg_installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

# ---------------------------------------------------------------------------
# Dependencies: only what is missing, so a second run costs nothing.
PLOTS_ONLY=0
if [ "${1:-}" = --plots-only ]; then PLOTS_ONLY=1; shift; fi
ANALYTICS=0
if [ "${1:-}" = --analytics ]; then ANALYTICS=1; shift; fi
install_missing() {
	[ $# -gt 0 ] || return 0
	command -v apt-get >/dev/null || die "missing $* and no apt-get; install them yourself"
	is_root || command -v sudo >/dev/null || die "missing $*; run as root or install sudo"
	log "installing $*"
	as_root apt-get -o DPkg::Lock::Timeout=600 update -qq
	as_root env DEBIAN_FRONTEND=noninteractive \
		apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "$@"
}
if [ "$PLOTS_ONLY" = 1 ]; then
	need=()
	for p in python3 python3-matplotlib; do pkg_installed "$p" || need+=("$p"); done
	install_missing "${need[@]+"${need[@]}"}"
	exec "$PYTHON" "$REPO/bench/plot.py" "$@"
fi
need=()
command -v gcc >/dev/null && command -v make >/dev/null || need+=(build-essential)
pkg_installed postgresql-$PG_MAJOR || need+=("postgresql-$PG_MAJOR")
pkg_installed postgresql-server-dev-$PG_MAJOR || need+=("postgresql-server-dev-$PG_MAJOR")
for p in python3 python3-numpy python3-psycopg python3-faiss python3-matplotlib dataset-fashion-mnist; do
	pkg_installed "$p" || need+=("$p")
done
install_missing "${need[@]+"${need[@]}"}"
[ -x "$PG_CONFIG" ] || die "PG_CONFIG=$PG_CONFIG is not an executable pg_config"
PGBIN=$("$PG_CONFIG" --bindir)
if is_root; then
	id -u "$RUN_USER" >/dev/null 2>&1 || die "OS user '$RUN_USER' does not exist (set BENCH_USER)"
fi

# ---------------------------------------------------------------------------
# Build and install: benchmark what is in the work tree, not a stale install.
if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
	log "building embed"
	make -C "$REPO" -s -j"$(nproc)" PG_CONFIG="$PG_CONFIG" || die "build failed"
	log "installing embed"
	as_root make -C "$REPO" -s install PG_CONFIG="$PG_CONFIG" >/dev/null || die "make install failed"
fi

# ---------------------------------------------------------------------------
# pgvector, measured side by side when installed (bench.py finds it by itself).
# It is not a dependency: BENCH_PGVECTOR=1 builds it from its source release.
VECTOR_MARK=embed-as-vector:   # first line of embed's own vector alias files (Makefile)
if [ "${BENCH_PGVECTOR:-0}" = 1 ]; then
	ctl="$("$PG_CONFIG" --sharedir)/extension/vector.control"
	if [ -f "$ctl" ] && ! head -n 1 "$ctl" | grep -q "$VECTOR_MARK"; then
		log "pgvector already installed ($ctl)"
	else
		inst=${BENCH_PGVECTOR_INSTALL:-$REPO/../shared/peers/pgvector/install.sh}
		[ -f "$inst" ] || die "BENCH_PGVECTOR=1, but there is no $inst (pgvector's source release and its install script)"
		if [ -f "$ctl" ]; then
			# both cannot be extension vector: pgvector takes the name
			log "removing embed's vector alias (make install-as-vector) so that pgvector can be installed"
			as_root make -C "$REPO" -s uninstall-vector-alias-if-ours PG_CONFIG="$PG_CONFIG" >/dev/null ||
				die "could not remove embed's vector alias"
		fi
		log "building and installing pgvector ($inst)"
		as_root bash "$inst" "$PG_CONFIG" || die "pgvector install failed"
	fi
fi

# ---------------------------------------------------------------------------
# Throwaway cluster in a private temp dir; only a Unix socket, in that dir.
WORK=$(mktemp -d "${TMPDIR:-/tmp}/embed-bench.XXXXXX")
is_root && chown "$RUN_USER:" "$WORK"
chmod 755 "$WORK"
DATA=$WORK/pgdata
STARTED=0

cleanup() {
	local rc=$?
	set +e
	if [ "$STARTED" = 1 ]; then
		(cd "$WORK" && as_run_user "$PGBIN/pg_ctl" -D "$DATA" -m fast -w -t 60 stop) >/dev/null 2>&1 ||
			(cd "$WORK" && as_run_user "$PGBIN/pg_ctl" -D "$DATA" -m immediate -w stop) >/dev/null 2>&1
	fi
	if [ -n "${OLD_NR_HUGEPAGES:-}" ]; then
		as_root sysctl -q -w vm.nr_hugepages="$OLD_NR_HUGEPAGES" >/dev/null 2>&1
	fi
	if [ "${KEEP_TMP:-0}" = 1 ]; then
		log "kept $WORK (server log: $WORK/server.log)"
	else
		rm -rf "$WORK"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ncpu=$(nproc)
maint_workers=${BENCH_PARALLEL_MAINT:-$((ncpu > 1 ? ncpu - 1 : 0))}
log "starting throwaway PostgreSQL $PG_MAJOR cluster as '$RUN_USER' in $WORK"
(cd "$WORK" && as_run_user "$PGBIN/initdb" -D "$DATA" -U postgres --auth=trust \
	-E UTF8 --locale=C --no-sync) >"$WORK/initdb.log" 2>&1 ||
	{ cat "$WORK/initdb.log" >&2; die "initdb failed"; }

# Benchmark settings (bench.py prints them all with the results):
# - durability off: the cluster is thrown away, and WAL/fsync cost is not
#   what we measure (wal_level=minimal also lets COPY skip WAL for new tables);
# - shared_buffers large enough that the tables we search stay cached;
# - maintenance memory and parallel workers for index builds;
# - no autovacuum or JIT: they add noise to timings (bench.py VACUUMs itself);
# - parallel query off by default so one query uses one core, like the
#   single-threaded FAISS baseline (bench.py --parallel-workers changes it).
cat >>"$DATA/postgresql.conf" <<EOF
listen_addresses = ''
unix_socket_directories = '$WORK'
port = 5432
max_connections = 40
fsync = off
synchronous_commit = off
full_page_writes = off
wal_level = minimal
max_wal_senders = 0
max_wal_size = 16GB
checkpoint_timeout = 1h
shared_buffers = ${BENCH_SHARED_BUFFERS:-2GB}
effective_cache_size = 8GB
work_mem = ${BENCH_WORK_MEM:-64MB}
maintenance_work_mem = ${BENCH_MAINT_WORK_MEM:-2GB}
max_worker_processes = $((ncpu + 8))
max_parallel_workers = $ncpu
max_parallel_maintenance_workers = $maint_workers
max_parallel_workers_per_gather = 0
autovacuum = off
jit = off
huge_pages = try
EOF
# Huge pages: without them every new backend takes a page fault on its first
# touch of each 4 kB page of shared_buffers, which on this project's VM made
# a fresh connection's first 300 Fashion-MNIST queries cost 0.93 ms of CPU
# each against 0.30 ms with huge pages (and 0.20 ms once warm either way).
if [ "${BENCH_HUGEPAGES:-0}" = 1 ]; then
	sb=${BENCH_SHARED_BUFFERS:-2GB}
	sb_bytes=$(numfmt --from=iec "${sb%B}" 2>/dev/null || echo 2147483648)
	need=$((sb_bytes / 2097152 * 11 / 10 + 64))
	OLD_NR_HUGEPAGES=$(cat /proc/sys/vm/nr_hugepages)
	if [ "$OLD_NR_HUGEPAGES" -lt "$need" ]; then
		as_root sysctl -q -w vm.nr_hugepages="$need" || die "could not reserve $need huge pages"
	else
		OLD_NR_HUGEPAGES=
	fi
	echo "huge_pages = on" >>"$DATA/postgresql.conf"
	log "huge pages: $(grep HugePages_Total /proc/meminfo | tr -s ' ')"
fi
if [ -n "${BENCH_PG_CONF:-}" ]; then printf '%s\n' "$BENCH_PG_CONF" >>"$DATA/postgresql.conf"; fi

(cd "$WORK" && as_run_user "$PGBIN/pg_ctl" -D "$DATA" -l "$WORK/server.log" -w -t 120 start) \
	>/dev/null 2>&1 || { cat "$WORK/server.log" >&2; die "could not start the cluster"; }
STARTED=1
export PGHOST=$WORK PGPORT=5432 PGUSER=postgres PGDATABASE=postgres
# bench.py builds bench/client.c against this installation's libpq
export PG_CONFIG

if [ "$ANALYTICS" = 1 ]; then
	# shellcheck disable=SC2086 # BENCH_ARGS is a word list on purpose
	"$PYTHON" "$REPO/bench/analytics.py" "$@" ${BENCH_ARGS:-}
	exit 0
fi

# shellcheck disable=SC2086 # BENCH_ARGS is a word list on purpose
"$PYTHON" "$REPO/bench/bench.py" "$@" ${BENCH_ARGS:-}

# The plots (bench/plot.py): recall against queries/s and build time / size
# per data set, from every result file there (the newest run per data set).
"$PYTHON" "$REPO/bench/plot.py" || die "plotting failed (the results file above is complete)"
