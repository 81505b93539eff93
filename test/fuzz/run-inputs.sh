#!/usr/bin/env bash
# `make fuzz`: builds test/fuzz/inputs.c (libFuzzer, ASan, UBSan) with
# embed's input code and runs each target for FUZZ_RUNS inputs (default
# 100000) over the corpus in test/fuzz/corpus.  Not part of `make test`.
#
# Knobs: PG_CONFIG, FUZZ_CC (default clang-14, else clang), FUZZ_RUNS,
#        FUZZ_TARGETS (default: all six), FUZZ_JOBS (libFuzzer -jobs, default 1).
# Work files (the growing corpus, crash inputs) go to $FUZZ_BUILD (default
# build/fuzz/, outside test/, which make test copies).
# The exit status is non-zero on any finding; the last line counts inputs.
set -euo pipefail
cd "$(dirname "$0")/../.."
PG_CONFIG=${PG_CONFIG:-pg_config}
CC=${FUZZ_CC:-$(command -v clang-14 || command -v clang || true)}
[ -n "$CC" ] || { echo "make fuzz needs clang with libFuzzer (apt-get install clang-14)" >&2; exit 2; }
RUNS=${FUZZ_RUNS:-100000}
TARGETS=${FUZZ_TARGETS:-vector halfvec sparsevec vector-bin halfvec-bin sparsevec-bin}
B=${FUZZ_BUILD:-build/fuzz}
mkdir -p "$B/obj" "$B/artifacts"

CFLAGS=(-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
	-I"$($PG_CONFIG --includedir-server)" -Wall -Wno-unused-parameter -Wno-missing-field-initializers -Wno-ignored-attributes)
objs=()
for f in vecparse vector sparsevec kernels embedtype detoast; do
	"$CC" "${CFLAGS[@]}" -fsanitize=fuzzer-no-link -c "src/$f.c" -o "$B/obj/$f.o"
	objs+=("$B/obj/$f.o")
done
"$CC" "${CFLAGS[@]}" -fsanitize=fuzzer test/fuzz/inputs.c test/fuzz/unreached.c "${objs[@]}" \
	"$($PG_CONFIG --pkglibdir)/libpgcommon.a" "$($PG_CONFIG --pkglibdir)/libpgport.a" -lm \
	-o "$B/inputs"

total=0
for t in $TARGETS; do
	# the working corpus starts from the repository's (hex decoded for binary)
	mkdir -p "$B/corpus/$t"
	for f in test/fuzz/corpus/"$t"/*; do
		case $f in
		*.hex) perl -0777 -ne 's/\s+//g; print pack("H*", $_)' "$f" >"$B/corpus/$t/$(basename "$f" .hex)" ;;
		*) cp "$f" "$B/corpus/$t/" ;;
		esac
	done
	dict=()
	case $t in *-bin) ;; *) dict=(-dict=test/fuzz/inputs.dict) ;; esac
	log=$B/$t.log
	echo "==> $t: $RUNS runs"
	EMBED_FUZZ_TARGET=$t "$B/inputs" -runs="$RUNS" -max_len=4096 -print_final_stats=1 \
		"${dict[@]}" -artifact_prefix="$B/artifacts/$t-" "$B/corpus/$t" >"$log" 2>&1 || {
		tail -40 "$log"
		echo "FINDING in $t (log $log, input in $B/artifacts/)"
		exit 1
	}
	n=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log")
	grep -E '^Done|stat::number_of_executed_units' "$log" | head -2
	total=$((total + ${n:-0}))
done
echo "fuzz: $total inputs, 0 findings"
