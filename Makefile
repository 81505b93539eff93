# embed — PostgreSQL extension, built with PGXS.
#
#   make demo    build, install and run the demo on a throwaway cluster
#   make test    build, install and run every test (pg_regress + TAP + clients)
#   make bench   benchmarks (see bench/README.md); make plots redraws their SVG plots;
#                make bench-shards: sharded search against one table
#   make stress  race-hunting runs on a build that widens race windows
#   make valgrind  the pg_regress suites against a server under valgrind
#                  (memcheck, ~30x slower; not part of make test)
#   make install-as-vector    make install, plus the same extension under
#                             pgvector's name (CREATE EXTENSION vector); see below
#   make uninstall-as-vector  remove that alias again (embed stays installed)
#
# Both demo and test install missing Debian packages first, so they work on a
# fresh machine; plain `make` / `make install` need postgresql-server-dev-NN.

EXTENSION  = embed
EXTVERSION = 0.2.0
MODULE_big = embed

OBJS = \
	src/embed.o \
	src/kernels.o \
	src/embedtype.o \
	src/vecparse.o \
	src/vector.o \
	src/sparsevec.o \
	src/detoast.o \
	src/aggregate.o \
	src/recall.o \
	src/bufhint.o \
	src/amutils.o \
	src/amvalidate.o \
	src/parbuild.o \
	src/check.o \
	src/kmeans.o \
	src/retrieval.o \
	src/pca.o \
	src/analytics.o \
	src/rabitq.o \
	src/range.o \
	src/hnsw/hnsw.o \
	src/hnsw/hnswbuild.o \
	src/hnsw/hnswdiskstore.o \
	src/hnsw/hnswinsert.o \
	src/hnsw/hnswmemstore.o \
	src/hnsw/hnswscan.o \
	src/hnsw/hnswsearch.o \
	src/hnsw/hnswutils.o \
	src/hnsw/hnswvacuum.o \
	src/hnsw/hnswcheck.o \
	src/hnsw/hnswconnect.o \
	src/ivf/ivf.o \
	src/ivf/ivfbuild.o \
	src/ivf/ivfinsert.o \
	src/ivf/ivfkmeans.o \
	src/ivf/ivfscan.o \
	src/ivf/ivfutils.o \
	src/ivf/ivfvacuum.o \
	src/ivf/ivfcheck.o

# The install script is assembled from one fragment per component, in order.
SQL_PARTS = \
	src/sql/vector.sql \
	src/sql/aggregate.sql \
	src/sql/hnsw.sql \
	src/sql/ivf.sql \
	src/sql/halfvec.sql \
	src/sql/sparsevec.sql \
	src/sql/bit.sql \
	src/sql/vector_helpers.sql \
	src/sql/check.sql \
	src/sql/recall.sql \
	src/sql/retrieval.sql \
	src/sql/analytics.sql \
	src/sql/range.sql

# The fragments whose objects are new since 0.1.0, in order: the upgrade
# script.  Earlier install scripts are kept, as released, in src/sql/history.
SQL_NEW_0_2_0 = \
	src/sql/vector_preferred.sql \
	src/sql/halfvec.sql \
	src/sql/sparsevec.sql \
	src/sql/bit.sql \
	src/sql/vector_helpers.sql \
	src/sql/check.sql \
	src/sql/retrieval.sql \
	src/sql/analytics.sql \
	src/sql/range.sql

DATA_built = $(EXTENSION)--$(EXTVERSION).sql $(EXTENSION)--0.1.0--0.2.0.sql
DATA = src/sql/history/$(EXTENSION)--0.1.0.sql

# embed under pgvector's name, for dumps and ORMs that say CREATE EXTENSION
# vector (make install-as-vector): a second control file for the same library
# whose install script is embed's own, built from the same fragments.  Its
# version is the pgvector release whose SQL surface embed provides (0.8.0;
# pgvector 0.8.1 to 0.8.6 added no SQL objects), so that tools gating
# features on pg_extension.extversion (halfvec >= 0.7, iterative scans >= 0.8)
# see the right level.  It is tied to EXTVERSION: when embed's install script
# changes, give the alias a new version and an upgrade script built from
# embed's upgrade fragments, as for embed itself.
VECTOR_EXTVERSION = 0.8.0
VECTOR_DATA = vector.control vector--$(VECTOR_EXTVERSION).sql
# First line of both files: how install-as-vector tells our files from pgvector's.
VECTOR_MARK = embed-as-vector:
EXTRA_CLEAN = $(VECTOR_DATA)

# pg_regress suites: sql/NAME.sql -> expected/NAME.out
REGRESS = vector_io vector_cast vector_ops vector_func aggregate kernels errors hnsw ivf bit halfvec sparsevec amvalidate retrieval analytics range

PG_CONFIG ?= $(shell test -x /usr/lib/postgresql/15/bin/pg_config && echo /usr/lib/postgresql/15/bin/pg_config || echo pg_config)
PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)

# No -march=native: SIMD paths are compiled per function with target
# attributes and chosen at load time (src/kernels.c).
PG_CFLAGS = -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers

# Extra compile flags for special builds (`make stress`: -DEMBED_STRESS_RACES,
# see src/stress.h).  The objects depend on a stamp holding the flags they
# were built with, so switching builds recompiles everything.
EMBED_CFLAGS ?=
PG_CFLAGS += $(EMBED_CFLAGS)
BUILD_STAMP = .build-flags
$(shell echo '$(EMBED_CFLAGS)' | cmp -s - $(BUILD_STAMP) 2>/dev/null || echo '$(EMBED_CFLAGS)' > $(BUILD_STAMP))

ifneq ($(wildcard $(PGXS)),)
include $(PGXS)
endif

# PGXS tracks no header dependencies: rebuild everything when a header changes.
$(OBJS): $(wildcard src/*.h src/*.inc src/*/*.h) $(BUILD_STAMP)

$(EXTENSION)--$(EXTVERSION).sql: $(SQL_PARTS)
	cat $^ > $@

$(EXTENSION)--0.1.0--0.2.0.sql: $(SQL_NEW_0_2_0)
	cat $^ > $@

# The alias files are built with everything else (so that a later
# `sudo make install-as-vector` builds nothing as root), never installed by
# plain `make install`.
all: $(VECTOR_DATA)

vector--$(VECTOR_EXTVERSION).sql: $(EXTENSION)--$(EXTVERSION).sql
	{ echo '-- $(VECTOR_MARK) the install script of embed $(EXTVERSION), as extension vector'; \
	  sed '/^\\echo /s/CREATE EXTENSION $(EXTENSION)/CREATE EXTENSION vector/' $<; } > $@

vector.control: $(EXTENSION).control Makefile
	{ echo '# $(VECTOR_MARK) embed $(EXTVERSION) under the name vector (make install-as-vector)'; \
	  grep -v '^#' $< | sed -e "s/^default_version = .*/default_version = '$(VECTOR_EXTVERSION)'/" \
	    -e "s/^comment = '/comment = 'embed $(EXTVERSION) as vector: /"; } > $@
	grep -qx "module_pathname = '\$$libdir/$(MODULE_big)'" $@

# Refuses to touch a vector.control or vector--*.sql that is not ours (real
# pgvector installed): uninstall pgvector first.  Ours are replaced.
# `make -s vector-foreign-files` lists those files (test/scripts/lib.sh).
VECTOR_EXTDIR = $(DESTDIR)$(datadir)/$(datamoduledir)
define vector_foreign_files
for f in '$(VECTOR_EXTDIR)'/vector.control '$(VECTOR_EXTDIR)'/vector--*.sql; do \
	[ -f "$$f" ] || continue; \
	head -n 1 "$$f" | grep -q '$(VECTOR_MARK)' || echo "$$f"; \
done
endef

.PHONY: install-as-vector uninstall-as-vector vector-foreign-files

vector-foreign-files:
	@$(vector_foreign_files)

install-as-vector: all
	@foreign=$$($(vector_foreign_files)); \
	if [ -n "$$foreign" ]; then \
		echo "error: another extension named vector (pgvector?) is installed; not overwriting:" >&2; \
		echo "$$foreign" | sed 's/^/  /' >&2; \
		echo "uninstall it first (embed and pgvector cannot both be extension vector)" >&2; \
		exit 1; \
	fi
	$(MAKE) --no-print-directory install
	$(INSTALL_DATA) $(VECTOR_DATA) '$(VECTOR_EXTDIR)/'
	@echo "embed $(EXTVERSION) installed; also as extension vector $(VECTOR_EXTVERSION) (CREATE EXTENSION vector)"

uninstall-as-vector: uninstall-vector-alias-if-ours
	@foreign=$$($(vector_foreign_files)); \
	if [ -n "$$foreign" ]; then \
		echo "note: left alone, not embed's (pgvector?):" >&2; \
		echo "$$foreign" | sed 's/^/  /' >&2; \
	fi

# Removes only our alias files; plain `make uninstall` takes them along too
# (they would name a library that is gone).  pgvector's files stay.
uninstall: uninstall-vector-alias-if-ours
.PHONY: uninstall-vector-alias-if-ours
uninstall-vector-alias-if-ours:
	@for f in '$(VECTOR_EXTDIR)'/vector.control '$(VECTOR_EXTDIR)'/vector--*.sql; do \
		[ -f "$$f" ] && head -n 1 "$$f" | grep -q '$(VECTOR_MARK)' && rm -f "$$f"; \
	done; true

.PHONY: test demo bench plots bench-shards stress valgrind fuzz-pglz fuzz

# The two user-facing commands: each bootstraps its own dependencies.
test:
	@bash test/scripts/run-tests.sh

demo:
	@bash test/scripts/run-demo.sh

# Race-hunting runs on a build that widens race windows (src/stress.h);
# the normal build is restored afterwards.  Not part of `make test`.
stress:
	@bash test/scripts/run-stress.sh

# The pg_regress suites with the postmaster and every backend under
# valgrind's memcheck (test/scripts/run-valgrind.sh); fails on any valgrind
# error.  Slow: not part of `make test`.
valgrind:
	@bash test/scripts/run-valgrind.sh

bench:
	@bash bench/run.sh $(if $(ANALYTICS),--analytics) $(if $(DATASET),--dataset $(DATASET)) $(if $(INDEX),--index "$(INDEX)") $(if $(SWEEP),--sweep "$(SWEEP)")

# Redraw bench/results/*.svg from the results already there (make bench does
# this after every run); PLOT_ARGS e.g. "--qps qps_c" or "--all".
plots:
	@bash bench/run.sh --plots-only $(PLOT_ARGS)

# Sharded search (postgres_fdw, bench/shards.py) against one table on the same
# data: starts its own clusters, uses the embed installed for PG_CONFIG
# (make install first).  Not part of `make test` or `make bench`.
bench-shards:
	@/usr/bin/python3 bench/shards.py --pg-config $(PG_CONFIG) $(BENCH_ARGS)

# src/detoast.c's pglz decoder against PostgreSQL's, under AddressSanitizer
# (no server needed; not part of `make test`)
fuzz-pglz:
	$(CC) -O1 -g -fsanitize=address,undefined -I$(shell $(PG_CONFIG) --includedir-server) \
		test/fuzz/pglz.c $(shell $(PG_CONFIG) --pkglibdir)/libpgcommon.a \
		$(shell $(PG_CONFIG) --pkglibdir)/libpgport.a -o test/fuzz/pglz
	test/fuzz/pglz

# libFuzzer (ASan, UBSan) over embed's text and binary input functions
# (test/fuzz/inputs.c), FUZZ_RUNS inputs per target; needs clang.  The
# in-server fuzz test, test/t/016_fuzz_inputs.pl, is part of `make test`.
fuzz:
	@PG_CONFIG=$(PG_CONFIG) bash test/fuzz/run-inputs.sh
