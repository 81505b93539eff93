#!/usr/bin/env bash
# `make stress`: on a build of embed compiled with -DEMBED_STRESS_RACES
# (src/stress.h: a pause after some buffer releases, so a read of an unpinned
# page meets another page), the race-hunting TAP test and the long forms of
# the crash trials and the storm; then the normal build is built and
# installed again.  The crash trials and the storm run in the race build
# too: its pauses widen the windows a crash or a concurrent writer can hit.
#
# Knobs: STRESS_TESTS overrides the list of tests; EMBED_CRASH_TRIALS
# (default 20), EMBED_CRASH_SEED, EMBED_STORM_SECONDS (default 180) and
# EMBED_STORM_CLIENTS (default 4) reach test/t/028 and 029.  Their summary
# lines (`crash trials: ...`, `storm: ...`) are printed as they finish.
set -euo pipefail
# shellcheck source=test/scripts/lib.sh
. "$(dirname "$0")/lib.sh"
tests=${STRESS_TESTS:-test/t/027_hnsw_vacuum_evictions.pl test/t/028_crash_trials.pl test/t/029_storm.pl}
export EMBED_CRASH_TRIALS=${EMBED_CRASH_TRIALS:-20}
export EMBED_STORM_SECONDS=${EMBED_STORM_SECONDS:-180}
rc=0
EMBED_CFLAGS=-DEMBED_STRESS_RACES TAP_TESTS="$tests" bash "$EMBED_REPO/test/scripts/run-tests.sh" || rc=$?
log "restoring the normal build"
EMBED_CFLAGS= build_install >/dev/null
exit "$rc"
