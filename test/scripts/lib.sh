# shellcheck shell=bash
# Shared by run-tests.sh and run-demo.sh (sourced, not executed):
#   ensure_deps MODE   install missing Debian packages (MODE: test | demo | valgrind)
#   build_install      make + make install against $PG_CONFIG
#   regress_list       the Makefile's REGRESS
#   setup_work         private temp dir, torn down on EXIT/INT/TERM
#   init_cluster       initdb a throwaway cluster in that dir (not started)
#   start_cluster      init_cluster, start it; exports PG* env
#   teardown           stop every cluster under the temp dir and delete it
#
# Knobs (environment):
#   PG_CONFIG          default /usr/lib/postgresql/15/bin/pg_config
#   EMBED_TEST_USER    OS user that runs the servers when we are root (default postgres)
#   KEEP_TMP=1         keep the temp dir (logs, data dirs) for debugging
#   EMBED_CFLAGS       extra compile flags (make stress: -DEMBED_STRESS_RACES)
#   EMBED_AS_VECTOR    also install embed under pgvector's name (make
#                      install-as-vector): auto (run-tests.sh's default) does
#                      unless another extension named vector (pgvector) is
#                      installed, then warns and skips; 1 insists; 0 (the
#                      default elsewhere) does not.  build_install sets
#                      EMBED_AS_VECTOR_STATE: installed, foreign or off.

set -euo pipefail

EMBED_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PG_MAJOR=15
PG_CONFIG_DEFAULT=/usr/lib/postgresql/$PG_MAJOR/bin/pg_config
PG_CONFIG=${PG_CONFIG:-$PG_CONFIG_DEFAULT}
export DEBIAN_FRONTEND=noninteractive

# We may be started by `make -jN test`; our own make calls set their own -j
# and must not try to talk to the parent's jobserver.
unset MAKEFLAGS MFLAGS MAKELEVEL
# Stray libpq settings from the caller's shell would redirect our clients.
unset PGHOSTADDR PGSERVICE PGSERVICEFILE PGOPTIONS PGPASSWORD PGPASSFILE PGDATA

# apt-get update: DPkg::Lock::Timeout does not cover the lists lock, so
# retry while another apt holds it (up to 10 minutes).
apt_update_waiting() {
	local i out
	for ((i = 0; i < 120; i++)); do
		if out=$(as_root apt-get -o DPkg::Lock::Timeout=600 update -qq 2>&1); then
			return 0
		fi
		case $out in
		*"Could not get lock"* | *"Unable to lock"*)
			[ "$i" = 0 ] && log "waiting for another apt to release its lock"
			sleep 5 ;;
		*) printf '%s\n' "$out" >&2; return 1 ;;
		esac
	done
	printf '%s\n' "$out" >&2
	return 1
}

log() { printf '==> %s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" -eq 0 ]; }

as_root() {
	if is_root; then "$@"; else sudo "$@"; fi
}

# PostgreSQL refuses to run as root, so servers and TAP tests run as an
# unprivileged user: `postgres` (made by postgresql-common) when we are root,
# otherwise whoever runs us.
if is_root; then
	TEST_USER=${EMBED_TEST_USER:-postgres}
else
	TEST_USER=$(id -un)
fi

as_test_user() {
	if is_root; then runuser -u "$TEST_USER" -- "$@"; else "$@"; fi
}

pkg_installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

# Install only what is missing, so a second run costs nothing.
ensure_deps() {
	local mode=$1 need=() want=()

	command -v gcc >/dev/null && command -v make >/dev/null || need+=(build-essential)
	command -v gzip >/dev/null || need+=(gzip)
	if [ "$PG_CONFIG" = "$PG_CONFIG_DEFAULT" ]; then
		pkg_installed postgresql-$PG_MAJOR || need+=("postgresql-$PG_MAJOR")
		pkg_installed postgresql-server-dev-$PG_MAJOR || need+=("postgresql-server-dev-$PG_MAJOR")
	fi
	if [ "$mode" = valgrind ]; then
		command -v valgrind >/dev/null || need+=(valgrind)
	fi
	if [ "$mode" = test ]; then
		# IPC::Run is what PostgreSQL's TAP modules need; prove ships with perl.
		{ perl -MIPC::Run -e1 2>/dev/null && command -v prove >/dev/null; } ||
			need+=(perl libipc-run-perl)
		if [ -f "$EMBED_REPO/test/clients/package.json" ]; then
			command -v node >/dev/null || need+=(nodejs)
			command -v npm >/dev/null || need+=(npm)
		fi
		# bench/plot.py draws with Debian's matplotlib (test/t/018_bench_plots.pl)
		pkg_installed python3-matplotlib || need+=(python3-matplotlib)
		# Headless Chromium renders those SVGs in the same test; it is large
		# and not in every archive, so it is installed on its own below and
		# its absence only skips that test.
		command -v chromium >/dev/null || command -v chromium-browser >/dev/null || want+=(chromium)
	fi

	if [ ${#need[@]} -gt 0 ]; then
		command -v apt-get >/dev/null ||
			die "missing ${need[*]} and no apt-get to install them; install them yourself"
		is_root || command -v sudo >/dev/null ||
			die "missing ${need[*]}; run as root or install sudo"
		log "installing ${need[*]}"
		# Another apt (unattended-upgrades, a second install) may hold the
		# dpkg and list locks: wait for it, up to 10 minutes, instead of failing.
		apt_update_waiting
		as_root env DEBIAN_FRONTEND=noninteractive \
			apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${need[@]}"
	fi
	if [ ${#want[@]} -gt 0 ]; then
		if command -v apt-get >/dev/null && { is_root || command -v sudo >/dev/null; }; then
			log "installing ${want[*]} (optional: the tests that need it skip without it)"
			{ [ ${#need[@]} -gt 0 ] || apt_update_waiting; } &&
				as_root env DEBIAN_FRONTEND=noninteractive \
					apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${want[@]}" ||
				warn "could not install ${want[*]}; the tests that need it will skip"
		else
			warn "${want[*]} missing and cannot be installed here; the tests that need it will skip"
		fi
	fi

	[ -x "$PG_CONFIG" ] || die "PG_CONFIG=$PG_CONFIG is not an executable pg_config"
	PGBIN=$("$PG_CONFIG" --bindir)
	PG_PKGLIBDIR=$("$PG_CONFIG" --pkglibdir)
	[ -f "$("$PG_CONFIG" --pgxs)" ] ||
		die "PGXS not found for $PG_CONFIG (install postgresql-server-dev-$PG_MAJOR)"
	[ -x "$PGBIN/postgres" ] || die "no server binaries in $PGBIN"
	if is_root; then
		id -u "$TEST_USER" >/dev/null 2>&1 ||
			die "OS user '$TEST_USER' does not exist (set EMBED_TEST_USER to an unprivileged user)"
	fi
	export PG_CONFIG PGBIN PG_PKGLIBDIR
}

# REGRESS as the Makefile (and PGXS) see it.
regress_list() {
	# shellcheck disable=SC2016 # $(REGRESS) is for make, not the shell
	printf 'embed-print-regress:\n\t@echo $(REGRESS)\n' |
		make -s --no-print-directory -C "$EMBED_REPO" -f Makefile -f - \
			PG_CONFIG="$PG_CONFIG" embed-print-regress
}

build_install() {
	log "building embed ($PG_CONFIG)"
	make --no-print-directory -C "$EMBED_REPO" -j2 PG_CONFIG="$PG_CONFIG" EMBED_CFLAGS="${EMBED_CFLAGS:-}" || die "build failed"
	log "installing embed"
	as_root make --no-print-directory -C "$EMBED_REPO" install PG_CONFIG="$PG_CONFIG" EMBED_CFLAGS="${EMBED_CFLAGS:-}" || die "make install failed"

	EMBED_AS_VECTOR_STATE=off
	case ${EMBED_AS_VECTOR:-0} in
	0 | no | off) ;;
	1 | yes | on | auto)
		local foreign
		foreign=$(make -s --no-print-directory -C "$EMBED_REPO" vector-foreign-files PG_CONFIG="$PG_CONFIG")
		if [ -n "$foreign" ] && [ "$EMBED_AS_VECTOR" = auto ]; then
			warn "another extension named vector is installed (pgvector?), so embed is not installed as vector and its test skips:"
			printf '  %s\n' $foreign >&2
			EMBED_AS_VECTOR_STATE=foreign
		else
			log "installing embed as extension vector"
			as_root make --no-print-directory -C "$EMBED_REPO" install-as-vector PG_CONFIG="$PG_CONFIG" \
				EMBED_CFLAGS="${EMBED_CFLAGS:-}" || die "make install-as-vector failed"
			EMBED_AS_VECTOR_STATE=installed
		fi ;;
	*) die "EMBED_AS_VECTOR=$EMBED_AS_VECTOR: use auto, 1 or 0" ;;
	esac
	export EMBED_AS_VECTOR_STATE
}

# ---------------------------------------------------------------------------
# Temp dir and teardown

EMBED_WORK=
_torn_down=0

setup_work() {
	# As root, stay in /tmp: a private $TMPDIR may be closed to the test user.
	local base=${TMPDIR:-/tmp}
	if is_root; then base=/tmp; fi
	EMBED_WORK=$(mktemp -d "$base/embed.XXXXXX")
	# Readable by the test user: servers and TAP tests write here.
	if is_root; then chown "$TEST_USER:" "$EMBED_WORK"; fi
}

# Stop every server whose data dir lies under the temp dir (our own cluster
# and any a TAP test left behind), then remove the dir.  Safe to call twice.
teardown() {
	[ "$_torn_down" = 0 ] || return 0
	_torn_down=1
	[ -n "$EMBED_WORK" ] && [ -d "$EMBED_WORK" ] || return 0
	local pidfile
	while IFS= read -r pidfile; do
		(cd "$EMBED_WORK" && as_test_user "$PGBIN/pg_ctl" -D "$(dirname "$pidfile")" \
			-m immediate -w stop) >/dev/null 2>&1 || true
	done < <(find "$EMBED_WORK" -name postmaster.pid 2>/dev/null)
	if [ "${KEEP_TMP:-0}" = 1 ]; then
		log "kept temp dir $EMBED_WORK"
	else
		rm -rf "$EMBED_WORK"
	fi
}

trap _on_exit EXIT
# Turn signals into a normal exit so the EXIT trap tears everything down.
trap 'exit 130' INT
trap 'exit 143' TERM

_on_exit() {
	local rc=$?
	set +e
	teardown
	# A script may define on_exit_hook (e.g. to print its summary line last).
	if declare -F on_exit_hook >/dev/null; then on_exit_hook "$rc"; fi
	exit "$rc"
}

# ---------------------------------------------------------------------------
# Throwaway cluster

# listen_addresses='' means the server only has a Unix socket in our private
# dir, so the port cannot clash; we still avoid ports somebody listens on so
# nothing looks confusing in logs.
free_port() {
	local p hex
	for p in $(shuf -i 5400-5599); do
		hex=$(printf '%04X' "$p")
		if ! cat /proc/net/tcp /proc/net/tcp6 2>/dev/null |
			awk -v h=":$hex" '$4 == "0A" && substr($2, length($2) - 4) == h { f = 1 } END { exit !f }'; then
			echo "$p"
			return 0
		fi
	done
	die "no free port in 5400-5599"
}

# initdb and our settings only; start_cluster also starts it (run-valgrind.sh
# starts the postmaster itself).  Sets PGPORT and EMBED_PGDATA.
init_cluster() {
	local data=$EMBED_WORK/pgdata
	PGPORT=$(free_port)
	(cd "$EMBED_WORK" && as_test_user "$PGBIN/initdb" -D "$data" -U postgres \
		--auth=trust -E UTF8 --locale=C --no-sync) >"$EMBED_WORK/initdb.log" 2>&1 ||
		{ cat "$EMBED_WORK/initdb.log" >&2; die "initdb failed"; }
	# Speed over durability: the cluster is thrown away.
	cat >>"$data/postgresql.conf" <<-EOF
		port = $PGPORT
		listen_addresses = ''
		unix_socket_directories = '$EMBED_WORK'
		fsync = off
		synchronous_commit = off
		full_page_writes = off
	EOF
	EMBED_PGDATA=$data
}

start_cluster() {
	init_cluster
	local data=$EMBED_PGDATA
	log "starting throwaway cluster (port $PGPORT, socket dir $EMBED_WORK)"
	(cd "$EMBED_WORK" && as_test_user "$PGBIN/pg_ctl" -D "$data" \
		-l "$EMBED_WORK/server.log" -w -t 60 start) >/dev/null 2>&1 ||
		{ cat "$EMBED_WORK/server.log" >&2; die "could not start the cluster"; }
	export PGHOST=$EMBED_WORK PGPORT PGUSER=postgres PGDATABASE=postgres
	EMBED_PGDATA=$data
}

stop_cluster() {
	(cd "$EMBED_WORK" && as_test_user "$PGBIN/pg_ctl" -D "$EMBED_PGDATA" -m fast -w stop) \
		>/dev/null 2>&1 || true
}
