#!/usr/bin/env bash
# Regenerates test/data/pgvector-0.8.6-dump.sql and
# test/data/pgvector-0.8.6-sparsevec-dump.sql: plain pg_dump files of two
# databases made with real pgvector 0.8.6, restored by test/t/015_as_vector.pl
# into embed installed as extension vector.  The dumps are data we ship; this
# script is how they were made (once, by hand; not part of make test).
#
# usage (as root): test/data/make-pgvector-dumps.sh PG_CONFIG
#   PG_CONFIG  a PostgreSQL 15 installation to COPY: pgvector is built into
#              the copy (/work/shared/peers/pgvector/install.sh, or set
#              PGVECTOR_INSTALL), never into the original, so it cannot be
#              confused with embed; the copy is deleted afterwards.
# The server runs as the OS user postgres; the dumps land in test/data (or $OUT).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
pgc=${1:?usage: $0 PG_CONFIG}
out=${OUT:-$here}
install=${PGVECTOR_INSTALL:-/work/shared/peers/pgvector/install.sh}
prefix=$(cd "$("$pgc" --bindir)/../../../../.." && pwd) # .../usr/lib/postgresql/15/bin -> root
[ "$prefix" != / ] || { echo "$pgc: copy a relocatable PostgreSQL install (like /opt/pgA) instead of the system one" >&2; exit 1; }
w=$(mktemp -d /tmp/pgvector-dumps.XXXXXX)
chmod 755 "$w"
cleanup() {
	[ -f "$w/data/postmaster.pid" ] && runuser -u postgres -- "$bin/pg_ctl" -D "$w/data" -m fast -w stop >/dev/null || true
	rm -rf "$w"
}
trap cleanup EXIT
cp -a "$prefix" "$w/pg"
cpc=$w/pg${pgc#"$prefix"}
bin=$("$cpc" --bindir)
"$install" "$cpc"

install -d -o postgres -m 700 "$w/data"
install -d -o postgres "$w/run"
runuser -u postgres -- "$bin/initdb" -D "$w/data" -U postgres --auth=trust -E UTF8 --locale=C --no-sync >/dev/null
printf "port = 5487\nlisten_addresses = ''\nunix_socket_directories = '%s'\nfsync = off\n" "$w/run" >>"$w/data/postgresql.conf"
runuser -u postgres -- "$bin/pg_ctl" -D "$w/data" -l "$w/run/log" -w start >/dev/null
gzip -dc "$here/words-10k.tsv.gz" >"$w/words.tsv"
chmod a+r "$w/words.tsv"
psql() { "$bin/psql" -X -q -h "$w/run" -p 5487 -U postgres -v ON_ERROR_STOP=1 "$@"; }
psql -c 'CREATE DATABASE pgv' -c 'CREATE DATABASE pgvs'

psql -d pgv -v words="$w/words.tsv" <<'SQL'
CREATE EXTENSION IF NOT EXISTS vector;
CREATE TEMP TABLE w (id int PRIMARY KEY, word text, v vector(100));
COPY w FROM :'words';

-- items: every dense type pgvector has, hnsw indexes with pgvector's opclasses
CREATE TABLE items (
    id int PRIMARY KEY,
    word text NOT NULL,
    embedding vector(100),
    half halfvec(100),
    bits bit(100)
);
INSERT INTO items
SELECT id, word, v, v::halfvec(100), binary_quantize(v)::bit(100)
FROM w WHERE id % 40 = 1;
-- a row with NULLs and one with a zero vector (cosine indexes skip it)
INSERT INTO items VALUES (100001, 'null', NULL, NULL, NULL),
    (100002, 'zero', array_fill(0, ARRAY[100])::vector(100),
     array_fill(0, ARRAY[100])::halfvec(100), repeat('0', 100)::bit(100));

CREATE INDEX items_embedding_l2 ON items USING hnsw (embedding vector_l2_ops) WITH (m = 12, ef_construction = 48);
CREATE INDEX items_embedding_cos ON items USING hnsw (embedding vector_cosine_ops);
CREATE INDEX items_embedding_ip ON items USING ivfflat (embedding vector_ip_ops) WITH (lists = 8);
CREATE INDEX items_half_l2 ON items USING hnsw (half halfvec_l2_ops);
CREATE INDEX items_half_expr_cos ON items USING hnsw ((embedding::halfvec(100)) halfvec_cosine_ops);
CREATE INDEX items_bits_hamming ON items USING hnsw (bits bit_hamming_ops);
CREATE INDEX items_word ON items (word);

-- docs: ivfflat under l2
CREATE TABLE docs (id int PRIMARY KEY, embedding vector(100) NOT NULL);
INSERT INTO docs SELECT id, v FROM w WHERE id % 50 = 3;
CREATE INDEX docs_embedding_ivf ON docs USING ivfflat (embedding vector_l2_ops) WITH (lists = 10);

-- query vectors (words in neither table) and pgvector's exact answers
CREATE TABLE queries (qid int PRIMARY KEY, embedding vector(100) NOT NULL);
INSERT INTO queries SELECT id, v FROM w WHERE id % 500 = 7;

CREATE TABLE pgvector_answers (
    name text, qid int, ids int[], dists float8[], PRIMARY KEY (name, qid));
SET enable_indexscan = off;
SET enable_bitmapscan = off;
INSERT INTO pgvector_answers
SELECT 'items embedding <->', q.qid, array_agg(n.id ORDER BY n.d, n.id), array_agg(n.d ORDER BY n.d, n.id)
FROM queries q CROSS JOIN LATERAL (SELECT id, embedding <-> q.embedding AS d FROM items ORDER BY 2 LIMIT 10) n GROUP BY q.qid;
INSERT INTO pgvector_answers
SELECT 'items embedding <=>', q.qid, array_agg(n.id ORDER BY n.d, n.id), array_agg(n.d ORDER BY n.d, n.id)
FROM queries q CROSS JOIN LATERAL (SELECT id, embedding <=> q.embedding AS d FROM items WHERE id <> 100002 ORDER BY 2 LIMIT 10) n GROUP BY q.qid;
INSERT INTO pgvector_answers
SELECT 'items embedding <#>', q.qid, array_agg(n.id ORDER BY n.d, n.id), array_agg(n.d ORDER BY n.d, n.id)
FROM queries q CROSS JOIN LATERAL (SELECT id, embedding <#> q.embedding AS d FROM items ORDER BY 2 LIMIT 10) n GROUP BY q.qid;
INSERT INTO pgvector_answers
SELECT 'items half <->', q.qid, array_agg(n.id ORDER BY n.d, n.id), array_agg(n.d ORDER BY n.d, n.id)
FROM queries q CROSS JOIN LATERAL (SELECT id, half <-> q.embedding::halfvec(100) AS d FROM items ORDER BY 2 LIMIT 10) n GROUP BY q.qid;
INSERT INTO pgvector_answers
SELECT 'items embedding::halfvec <=>', q.qid, array_agg(n.id ORDER BY n.d, n.id), array_agg(n.d ORDER BY n.d, n.id)
FROM queries q CROSS JOIN LATERAL (SELECT id, embedding::halfvec(100) <=> q.embedding::halfvec(100) AS d FROM items WHERE id <> 100002 ORDER BY 2 LIMIT 10) n GROUP BY q.qid;
INSERT INTO pgvector_answers
SELECT 'items bits <~>', q.qid, array_agg(n.id ORDER BY n.d, n.id), array_agg(n.d ORDER BY n.d, n.id)
FROM queries q CROSS JOIN LATERAL (SELECT id, bits <~> binary_quantize(q.embedding)::bit(100) AS d FROM items ORDER BY 2 LIMIT 10) n GROUP BY q.qid;
INSERT INTO pgvector_answers
SELECT 'docs embedding <->', q.qid, array_agg(n.id ORDER BY n.d, n.id), array_agg(n.d ORDER BY n.d, n.id)
FROM queries q CROSS JOIN LATERAL (SELECT id, embedding <-> q.embedding AS d FROM docs ORDER BY 2 LIMIT 10) n GROUP BY q.qid;
RESET ALL;
ANALYZE;
SQL

psql -d pgvs <<'SQL'
CREATE EXTENSION IF NOT EXISTS vector;
-- 200 deterministic sparse vectors in 1000 dimensions, 6 to 12 non-zeros each
CREATE TABLE sitems (id int PRIMARY KEY, sv sparsevec(1000));
INSERT INTO sitems
SELECT id, (SELECT '{' || string_agg(i || ':' || x, ',' ORDER BY i) || '}/1000'
            FROM (SELECT (id * k * 37 + k * k * 11) % 1000 + 1 AS i,
                         min((((id * k) % 17) + 1) * (CASE WHEN (id + k) % 3 = 0 THEN -1 ELSE 1 END) / 4.0) AS x
                  FROM generate_series(1, 6 + id % 7) k GROUP BY 1) e)::sparsevec(1000)
FROM generate_series(1, 200) id;
INSERT INTO sitems VALUES (1001, NULL), (1002, '{}/1000');
CREATE INDEX sitems_l2 ON sitems USING hnsw (sv sparsevec_l2_ops);
CREATE INDEX sitems_cos ON sitems USING hnsw (sv sparsevec_cosine_ops) WITH (m = 8, ef_construction = 32);
CREATE INDEX sitems_ip ON sitems USING hnsw (sv sparsevec_ip_ops);

CREATE TABLE squeries (qid int PRIMARY KEY, sv sparsevec(1000) NOT NULL);
INSERT INTO squeries SELECT qid, (SELECT '{' || string_agg(i || ':' || x, ',' ORDER BY i) || '}/1000'
            FROM (SELECT (qid * k * 53 + k * 7) % 1000 + 1 AS i, min(((qid + k) % 5 + 1) / 2.0) AS x
                  FROM generate_series(1, 40) k GROUP BY 1) e)::sparsevec(1000)
FROM generate_series(1, 20) qid;

CREATE TABLE pgvector_answers (
    name text, qid int, ids int[], dists float8[], PRIMARY KEY (name, qid));
SET enable_indexscan = off;
SET enable_bitmapscan = off;
INSERT INTO pgvector_answers
SELECT 'sitems sv <->', q.qid, array_agg(n.id ORDER BY n.d, n.id), array_agg(n.d ORDER BY n.d, n.id)
FROM squeries q CROSS JOIN LATERAL (SELECT id, sv <-> q.sv AS d FROM sitems ORDER BY 2 LIMIT 10) n GROUP BY q.qid;
INSERT INTO pgvector_answers
SELECT 'sitems sv <=>', q.qid, array_agg(n.id ORDER BY n.d, n.id), array_agg(n.d ORDER BY n.d, n.id)
FROM squeries q CROSS JOIN LATERAL (SELECT id, sv <=> q.sv AS d FROM sitems WHERE id <> 1002 ORDER BY 2 LIMIT 10) n GROUP BY q.qid;
INSERT INTO pgvector_answers
SELECT 'sitems sv <#>', q.qid, array_agg(n.id ORDER BY n.d, n.id), array_agg(n.d ORDER BY n.d, n.id)
FROM squeries q CROSS JOIN LATERAL (SELECT id, sv <#> q.sv AS d FROM sitems ORDER BY 2 LIMIT 10) n GROUP BY q.qid;
RESET ALL;
ANALYZE;
SQL

"$bin/pg_dump" -h "$w/run" -p 5487 -U postgres -Fp pgv >"$out/pgvector-0.8.6-dump.sql"
"$bin/pg_dump" -h "$w/run" -p 5487 -U postgres -Fp pgvs >"$out/pgvector-0.8.6-sparsevec-dump.sql"
echo "wrote $out/pgvector-0.8.6-dump.sql and $out/pgvector-0.8.6-sparsevec-dump.sql"
