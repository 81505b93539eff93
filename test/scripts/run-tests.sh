#!/usr/bin/env bash
# `make test`: install missing packages, build and install embed, then run
#   1. the pg_regress suites in the Makefile's REGRESS against a throwaway cluster
#   2. every TAP file test/t/*.pl (they start their own clusters; the client
#      tests among them use test/clients, whose npm packages we install first)
# The last line is always `embed: N passed, M failed`, where one pg_regress
# test or one TAP file counts as one test (a TAP file passes only if all its
# assertions do).  Exit status is non-zero if anything failed.
#
# Knobs: PROVE_FLAGS (e.g. -v), TAP_TESTS (e.g. "test/t/010_foo.pl"),
#        LOG_TAIL (lines of a failed TAP test's log to show, default 150),
#        plus those in lib.sh (PG_CONFIG, KEEP_TMP, EMBED_TEST_USER,
#        EMBED_AS_VECTOR: auto here, so test/t/015_as_vector.pl has the alias).
set -euo pipefail
# shellcheck source=test/scripts/lib.sh
. "$(dirname "$0")/lib.sh"

PASSED=0
FAILED=0
FAILED_NAMES=()
SUMMARY_DONE=0

pass() { PASSED=$((PASSED + 1)); }
fail() { FAILED=$((FAILED + 1)); FAILED_NAMES+=("$1"); }

summary() {
	SUMMARY_DONE=1
	echo
	echo "==================== summary ===================="
	local n
	for n in "${FAILED_NAMES[@]+"${FAILED_NAMES[@]}"}"; do echo "FAILED: $n"; done
	echo "embed: $PASSED passed, $FAILED failed"
}

# Runs from the EXIT trap after teardown, so even an aborted run (build
# error, missing package) ends with the summary line.
on_exit_hook() {
	[ "$SUMMARY_DONE" = 1 ] && return 0
	fail "aborted before all tests ran (exit status $1)"
	summary
}

run_regress() {
	local tests t out rc=0 nfail=0
	tests=$(regress_list)
	if [ -z "$tests" ]; then
		log "pg_regress: REGRESS is empty, skipping"
		return 0
	fi
	log "pg_regress: $tests"
	out=$EMBED_WORK/regress.out
	rm -f "$EMBED_REPO/regression.diffs"
	# pg_regress is only a client: it reads PGHOST/PGPORT/PGUSER, so running
	# it as root is fine.  Results land in results/ and regression.diffs.
	# TAP_TESTS is our knob, but PGXS would also read it and run prove itself
	env -u TAP_TESTS make --no-print-directory -C "$EMBED_REPO" installcheck PG_CONFIG="$PG_CONFIG" 2>&1 | tee "$out" || rc=$?

	# pg_regress prints "test NAME ... ok" per passing test; anything in
	# REGRESS without such a line failed or never ran (pg_regress aborts on
	# e.g. a missing sql/NAME.sql).
	for t in $tests; do
		if grep -qE "^(test)? +$t +\.\.\. +ok( |\$)" "$out"; then
			pass
		else
			fail "pg_regress $t"
			nfail=$((nfail + 1))
		fi
	done
	if [ "$rc" -ne 0 ] && [ "$nfail" -eq 0 ]; then
		fail "pg_regress exited with status $rc"
	fi
	if [ -s "$EMBED_REPO/regression.diffs" ]; then
		echo "---- regression.diffs (first 400 lines; full file in the repo root) ----"
		head -n 400 "$EMBED_REPO/regression.diffs"
		echo "---- end of regression.diffs ----"
	fi
}

# TAP tests read test/data, test/clients, bench/plot.py and README.md through $EMBED_ROOT.  The repo
# itself is used when the test user can read it; otherwise (root running from
# e.g. /root) we copy test/ into the temp dir and hand it to the test user.
prepare_embed_root() {
	local unreadable
	if ! is_root ||
		{ unreadable=$(as_test_user find "$EMBED_REPO/test" ! -readable -print -quit 2>&1) &&
			[ -z "$unreadable" ]; }; then
		EMBED_ROOT=$EMBED_REPO
	else
		EMBED_ROOT=$EMBED_WORK/root
		log "copying test/ to $EMBED_ROOT (repo not readable by $TEST_USER)"
		mkdir -p "$EMBED_ROOT"
		tar -C "$EMBED_REPO" --exclude=node_modules -cf - test bench/plot.py README.md | tar -C "$EMBED_ROOT" -xf -
	fi

	if [ -f "$EMBED_ROOT/test/clients/package.json" ]; then
		log "npm ci in test/clients"
		# As the invoking user: its npm cache is writable; ownership is fixed below.
		if [ -f "$EMBED_ROOT/test/clients/package-lock.json" ]; then
			(cd "$EMBED_ROOT/test/clients" && npm ci --no-audit --no-fund) ||
				fail "npm ci in test/clients"
		else
			warn "test/clients has no package-lock.json; using npm install"
			(cd "$EMBED_ROOT/test/clients" && npm install --no-audit --no-fund) ||
				fail "npm install in test/clients"
		fi
	fi

	if is_root && [ "$EMBED_ROOT" != "$EMBED_REPO" ]; then
		chown -R "$TEST_USER:" "$EMBED_ROOT"
	elif is_root && [ -d "$EMBED_ROOT/test/clients/node_modules" ]; then
		# root's umask may be strict; the test user must read what npm wrote.
		chmod -R a+rX "$EMBED_ROOT/test/clients/node_modules"
	fi
}

run_tap() {
	local files=() f name rc logf tapdir perl_lib
	if [ -n "${TAP_TESTS:-}" ]; then
		read -r -a files <<<"$TAP_TESTS"
	else
		shopt -s nullglob
		for f in "$EMBED_REPO"/test/t/*.pl; do files+=("test/t/${f##*/}"); done
		shopt -u nullglob
	fi
	if [ ${#files[@]} -eq 0 ]; then
		log "TAP: no test/t/*.pl files, skipping"
		return 0
	fi

	prepare_embed_root
	tapdir=$EMBED_WORK/tap
	mkdir -p "$tapdir"
	if is_root; then chown "$TEST_USER:" "$tapdir"; fi
	perl_lib=$PG_PKGLIBDIR/pgxs/src/test/perl

	for f in "${files[@]}"; do
		name=$(basename "$f" .pl)
		log "TAP: $f"
		rc=0
		# Same environment PGXS's prove_installcheck sets up, plus EMBED_ROOT.
		# PROVE_FLAGS is split on purpose (several flags).
		# shellcheck disable=SC2086
		(cd "$EMBED_ROOT" && as_test_user env \
			PATH="$PGBIN:$PATH" \
			TESTDIR="$tapdir" \
			PG_REGRESS="$PG_PKGLIBDIR/pgxs/src/test/regress/pg_regress" \
			EMBED_ROOT="$EMBED_ROOT" \
			EMBED_AS_VECTOR_STATE="${EMBED_AS_VECTOR_STATE:-off}" \
			prove -I "$perl_lib" -I "$EMBED_ROOT/test/t" ${PROVE_FLAGS:-} "$f") || rc=$?
		if [ "$rc" -eq 0 ]; then
			pass
		else
			fail "TAP $f"
			logf=$tapdir/tmp_check/log/regress_log_$name
			if [ -f "$logf" ]; then
				echo "---- last ${LOG_TAIL:-150} lines of $name's log ----"
				tail -n "${LOG_TAIL:-150}" "$logf"
				echo "---- end of $name's log ----"
			fi
		fi
	done
}

ensure_deps test
EMBED_AS_VECTOR=${EMBED_AS_VECTOR:-auto}
build_install
setup_work

start_cluster
run_regress
stop_cluster

run_tap

teardown
summary
[ "$FAILED" -eq 0 ]
