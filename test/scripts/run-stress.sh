#!/usr/bin/env bash
# `make stress`: the race-hunting TAP tests on a build of embed compiled with
# -DEMBED_STRESS_RACES (src/stress.h: a pause after some buffer releases, so
# a read of an unpinned page meets another page), then the normal build is
# built and installed again.  STRESS_TESTS overrides the list of tests.
set -euo pipefail
# shellcheck source=test/scripts/lib.sh
. "$(dirname "$0")/lib.sh"
tests=${STRESS_TESTS:-test/t/027_hnsw_vacuum_evictions.pl}
rc=0
EMBED_CFLAGS=-DEMBED_STRESS_RACES TAP_TESTS="$tests" bash "$EMBED_REPO/test/scripts/run-tests.sh" || rc=$?
log "restoring the normal build"
EMBED_CFLAGS= build_install >/dev/null
exit "$rc"
