#!/usr/bin/env bash
# `make valgrind`: the pg_regress suites (the Makefile's REGRESS) against a
# throwaway cluster whose postmaster, and so every backend and worker it
# forks, runs under valgrind's memcheck.  Fails if a suite fails, if the time
# cap stops the run early, or if valgrind reports any error at all (or, with
# VALGRIND_EMBED_ONLY=1, any error with a frame in embed's code).  Slow
# (memcheck costs ~30x): not part of `make test`.
#
# Why: ASan/UBSan fuzzing (make fuzz) covers the input functions only; this
# covers every SQL path the suites take, in the real server.  Debian's
# PostgreSQL is not built with USE_VALGRIND, so palloc chunks are not marked
# (no "use after pfree" or "read past a palloc'd chunk but inside its block"
# reports); what memcheck still sees: branches on uninitialised bytes,
# uninitialised bytes passed to system calls (e.g. written to WAL or disk),
# reads and writes outside malloc'd or mapped memory, overlapping memcpy.
#
# Knobs: VALGRIND_SUITES (default: REGRESS, slowest last), VALGRIND_TIMEOUT
#        (seconds for all suites together, default 10800), VALGRIND_EMBED_ONLY,
#        VALGRIND_EXTRA_OPTS (e.g. --track-origins=yes, ~2x slower),
#        VALGRIND_PG_SUPP (PostgreSQL's src/tools/valgrind.supp, used with
#        ours when given or found in a source tree at $PG_SRC), plus lib.sh's.
# Errors and the server log are kept in $VALGRIND_OUT (default build/valgrind/;
# the temp dir is not).
# The last line is `valgrind: ...` with the counts.
set -euo pipefail
# shellcheck source=test/scripts/lib.sh
. "$(dirname "$0")/lib.sh"

# valgrind's exit status for a process that had errors: 1, which the
# postmaster takes for a backend's FATAL exit, not a crash, so one error does
# not restart the server (and cut the other suites); errors are counted from
# valgrind's logs.
VG_ERROR_EXIT=1

# The suites in REGRESS order, except the slow ones last, slowest at the end
# (under valgrind on 2 busy cores: vector_ops 86 s, bit 207 s, kernels 219 s,
# aggregate 319 s, sparsevec 212 s, halfvec 920 s, hnsw 1849 s), so that a capped
# run covers the most.
SLOW_LAST="vector_ops bit kernels aggregate sparsevec halfvec ivf hnsw"

ensure_deps valgrind
build_install
setup_work

OUT=${VALGRIND_OUT:-$EMBED_REPO/build/valgrind}
rm -rf "$OUT"
mkdir -p "$OUT"

suites=${VALGRIND_SUITES:-}
if [ -z "$suites" ]; then
	all=$(regress_list)
	for t in $all; do
		case " $SLOW_LAST " in *" $t "*) ;; *) suites+=" $t" ;; esac
	done
	for t in $SLOW_LAST; do
		case " $all " in *" $t "*) suites+=" $t" ;; esac
	done
fi

supps=(--suppressions="$EMBED_REPO/test/valgrind/postgres.supp")
pg_supp=${VALGRIND_PG_SUPP:-${PG_SRC:+$PG_SRC/src/tools/valgrind.supp}}
if [ -n "$pg_supp" ] && [ -f "$pg_supp" ]; then
	supps+=(--suppressions="$pg_supp")
	log "also using PostgreSQL's suppressions: $pg_supp"
fi

init_cluster
vgdir=$EMBED_WORK/valgrind
mkdir -p "$vgdir"
if is_root; then chown "$TEST_USER:" "$vgdir"; fi
# Valgrind makes everything slow: no JIT (LLVM under memcheck takes minutes
# per query and is not our code), generous timeouts; connections are logged
# so that a process's log file can be tied to its suite (application_name is
# pg_regress/SUITE).
cat >>"$EMBED_PGDATA/postgresql.conf" <<EOF
jit = off
log_line_prefix = '%m [%p] '
log_connections = on
authentication_timeout = 600
EOF

# shellcheck disable=SC2206 # VALGRIND_EXTRA_OPTS is several options
vg_opts=(--tool=memcheck --trace-children=yes --leak-check=no
	--error-exitcode=$VG_ERROR_EXIT --error-markers=VALGRINDERROR-BEGIN,VALGRINDERROR-END
	--gen-suppressions=all --num-callers=30 --read-inline-info=yes
	"${supps[@]}" --log-file="$vgdir/%p.log" ${VALGRIND_EXTRA_OPTS:-})
log "starting the postmaster under valgrind (port $PGPORT, socket dir $EMBED_WORK)"
(cd "$EMBED_WORK" && as_test_user setsid valgrind "${vg_opts[@]}" "$PGBIN/postgres" -D "$EMBED_PGDATA" \
	>"$EMBED_WORK/server.log" 2>&1 </dev/null &)
export PGHOST=$EMBED_WORK PGPORT PGUSER=postgres PGDATABASE=postgres

wait_ready() {
	local i
	for ((i = 0; i < 600; i++)); do
		"$PGBIN/pg_isready" -q -t 5 && return 0
		sleep 1
	done
	return 1
}
wait_ready || { tail -n 50 "$EMBED_WORK/server.log" >&2; die "the server under valgrind did not start"; }

budget=${VALGRIND_TIMEOUT:-10800}
deadline=$(($(date +%s) + budget))
ran=() passed=() failed=() notrun=()
regress_out=$EMBED_WORK/regress
mkdir -p "$regress_out"
for t in $suites; do
	left=$((deadline - $(date +%s)))
	if [ "$left" -le 0 ]; then
		notrun+=("$t")
		continue
	fi
	# after a valgrind error the postmaster reinitializes: wait for it
	wait_ready || die "the server under valgrind is not accepting connections"
	log "pg_regress $t (under valgrind; $left s left)"
	start=$(date +%s)
	rc=0
	# Run from the repo: the suites \i sql/include/*.sql.  Results and
	# regression.diffs go to the temp dir, not over make test's.
	(cd "$EMBED_REPO" && timeout "$left" "$PG_PKGLIBDIR/pgxs/src/test/regress/pg_regress" \
		--inputdir=. --outputdir="$regress_out" --bindir="$PGBIN" \
		--dbname=contrib_regression "$t") >"$regress_out/$t.log" 2>&1 || rc=$?
	secs=$(($(date +%s) - start))
	if [ "$rc" -eq 124 ]; then
		log "$t: stopped by VALGRIND_TIMEOUT after ${secs}s"
		notrun+=("$t (cut by the time cap)")
		continue
	fi
	ran+=("$t")
	if [ "$rc" -eq 0 ] && grep -qE "^(test)? +$t +\.\.\. +ok( |\$)" "$regress_out/$t.log"; then
		passed+=("$t")
		log "$t: ok in ${secs}s"
	else
		failed+=("$t")
		log "$t: FAILED (${secs}s)"
		cat "$regress_out/$t.log"
		[ -f "$regress_out/regression.diffs" ] &&
			cp "$regress_out/regression.diffs" "$OUT/$t.diffs" &&
			head -n 100 "$OUT/$t.diffs"
	fi
done

# Stop the server so every process writes its error summary, then read the logs.
log "stopping the server"
(cd "$EMBED_WORK" && as_test_user "$PGBIN/pg_ctl" -D "$EMBED_PGDATA" -m fast -w -t 600 stop) >/dev/null 2>&1 ||
	warn "the server did not stop cleanly"
cp "$EMBED_WORK/server.log" "$OUT/server.log"

# embed's frames: its source files (with debug info) or its library
embed_re="embed\\.so|\\(($(cd "$EMBED_REPO" && find src -name '*.c' -printf '%f\n' |
	sed 's/\.c$//' | paste -sd'|')).c:[0-9]+\\)"
errors=0
embed_errors=0
for f in "$vgdir"/*.log; do
	n=$(grep -c 'VALGRINDERROR-BEGIN' "$f" || true)
	[ "$n" -gt 0 ] || continue
	pid=$(basename "$f" .log)
	who=$(grep -m1 -oE "\\[$pid\\] LOG:  connection authorized: .*application_name=[^ ]+" "$OUT/server.log" |
		sed 's/.*application_name=//' || true)
	cp "$f" "$OUT/$pid${who:+-${who//\//_}}.log"
	m=$(awk '/VALGRINDERROR-BEGIN/ { b = ""; inb = 1 } inb { b = b "\n" $0 }
		/VALGRINDERROR-END/ { inb = 0; if (b ~ re) n++ } END { print n + 0 }' re="$embed_re" "$f")
	errors=$((errors + n))
	embed_errors=$((embed_errors + m))
	warn "valgrind: $n error(s), $m in embed's code, in process $pid (${who:-not a pg_regress session}): $OUT/$pid${who:+-${who//\//_}}.log"
	sed -n '/VALGRINDERROR-BEGIN/,/VALGRINDERROR-END/p' "$f" | head -n 60 >&2
done

echo
echo "==================== valgrind summary ===================="
echo "suites passed: ${passed[*]:-none}"
[ ${#failed[@]} -eq 0 ] || echo "suites FAILED: ${failed[*]}"
[ ${#notrun[@]} -eq 0 ] || echo "suites not run: ${notrun[*]}"
echo "valgrind: ${#ran[@]} of $(echo $suites | wc -w) suites run, ${#failed[@]} failed, $errors errors ($embed_errors in embed's code)"
[ ${#failed[@]} -eq 0 ] && [ ${#notrun[@]} -eq 0 ] || exit 1
if [ "${VALGRIND_EMBED_ONLY:-0}" = 1 ]; then
	[ "$embed_errors" -eq 0 ]
else
	[ "$errors" -eq 0 ]
fi
