-- ivfflat and ivfrabitq index access methods (src/ivf): options, settings,
-- plans, and index scans checked against the exact answer.  k-means is
-- seeded, but which row lands in which list is not pinned here: only what
-- holds for any clustering is.  Reading every list (probes >= lists) is an
-- exact scan for ivfflat, and for ivfrabitq up to its error bounds (exact
-- for the first rows here); fewer probes read fewer rows.
\i sql/include/setup.sql

\i sql/include/knn.sql

-- scanned(): how many rows an index scan without LIMIT returns (the rows of
-- the lists it reads), and whether they are all distinct
CREATE FUNCTION pg_temp.scanned(idx regclass, op text, q vector,
                                OUT n bigint, OUT distinct_ids boolean) LANGUAGE plpgsql AS $$
DECLARE
	tab regclass := (SELECT indrelid FROM pg_index WHERE indexrelid = idx);
	r int[] := pg_temp.ids_index(format('SELECT id FROM %s ORDER BY v %s %L::vector', tab, op, q),
	                             idx::text);
BEGIN
	n := cardinality(r);
	distinct_ids := n = (SELECT count(DISTINCT x) FROM unnest(r) x);
END $$;

-- common(): how many of the index's first k rows are among the exact first k
CREATE FUNCTION pg_temp.common(idx regclass, op text, q vector, k int) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
	tab regclass := (SELECT indrelid FROM pg_index WHERE indexrelid = idx);
	stmt text := format('SELECT id FROM %s ORDER BY v %s %L::vector LIMIT %s', tab, op, q, k);
BEGIN
	RETURN (SELECT count(*) FROM unnest(pg_temp.ids_index(stmt, idx::text)) a
	        WHERE a = ANY (pg_temp.ids_exact(stmt)));
END $$;

-- 2000 distinct 4-d vectors from sines and cosines (no zero vector, no two
-- rows at the same distance from the queries below)
CREATE TABLE items (id int PRIMARY KEY, v vector(4));
INSERT INTO items
SELECT i, ARRAY[sin(i), cos(1.3 * i), sin(0.7 * i + 1), cos(0.37 * i)]
FROM generate_series(1, 2000) i;
SELECT count(*), count(DISTINCT v) FROM items;
CREATE TABLE queries (q vector(4));
INSERT INTO queries VALUES ('[0.5,-0.5,0.25,0]'), ('[-0.9,0.1,0.8,-0.3]'), ('[2,2,-1,0.5]');
-- one copy of the data per access method, so each query has one index to use
CREATE TABLE fi AS SELECT * FROM items;
CREATE TABLE ri AS SELECT * FROM items;
ANALYZE items, fi, ri;

--
-- one index per access method and opclass, 20 lists
--
CREATE INDEX fi_l2 ON fi USING ivfflat (v vector_l2_ops) WITH (lists = 20);
CREATE INDEX fi_ip ON fi USING ivfflat (v vector_ip_ops) WITH (lists = 20);
CREATE INDEX fi_cos ON fi USING ivfflat (v vector_cosine_ops) WITH (lists = 20);
CREATE INDEX ri_l2 ON ri USING ivfrabitq (v vector_l2_ops) WITH (lists = 20);
CREATE INDEX ri_ip ON ri USING ivfrabitq (v vector_ip_ops) WITH (lists = 20);
CREATE INDEX ri_cos ON ri USING ivfrabitq (v vector_cosine_ops) WITH (lists = 20);
SELECT c.relname, a.amname, c.reloptions, pg_relation_size(c.oid) > 0 AS has_pages
FROM pg_class c JOIN pg_am a ON a.oid = c.relam
WHERE a.amname IN ('ivfflat', 'ivfrabitq') ORDER BY c.relname;
SELECT pg_get_indexdef('fi_l2'::regclass);
SELECT pg_get_indexdef('ri_cos'::regclass);

-- the planner takes the index for ORDER BY ... LIMIT by itself, each
-- ordering operator the index of its opclass
EXPLAIN (COSTS OFF) SELECT id FROM fi ORDER BY v <-> '[0.5,-0.5,0.25,0]' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM fi ORDER BY v <#> '[0.5,-0.5,0.25,0]' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM fi ORDER BY v <=> '[0.5,-0.5,0.25,0]' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM ri ORDER BY v <-> '[0.5,-0.5,0.25,0]' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM ri ORDER BY v <#> '[0.5,-0.5,0.25,0]' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM ri ORDER BY v <=> '[0.5,-0.5,0.25,0]' LIMIT 5;
-- ... and never where it has nothing to do, even with sequential scans off
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM fi WHERE v = '[1,2,3,4]';
EXPLAIN (COSTS OFF) SELECT v FROM ri;
EXPLAIN (COSTS OFF) SELECT count(*) FROM ri WHERE id < 10;
-- descending distance: the index only gives nearest first
EXPLAIN (COSTS OFF) SELECT id FROM fi ORDER BY v <-> '[1,2,3,4]' DESC LIMIT 5;
-- a distance with no ivf opclass behind it (L1)
EXPLAIN (COSTS OFF) SELECT id FROM ri ORDER BY v <+> '[1,2,3,4]' LIMIT 5;
RESET enable_seqscan;

--
-- probes = lists reads every list: exactly the sequential scan's answer
--
SET ivfflat.probes = 20;
SET ivfrabitq.probes = 20;
SELECT idx, op, q, (pg_temp.knn(idx, op, q)).*
FROM (VALUES ('fi_l2', '<->'), ('fi_ip', '<#>'), ('fi_cos', '<=>'),
             ('ri_l2', '<->'), ('ri_ip', '<#>'), ('ri_cos', '<=>')) o(idx, op),
     queries
ORDER BY idx, q::text;
-- deeper, the first 100 rows: ivfflat's distances come from its entries,
-- so the order is exact; ivfrabitq ranks by lower bounds that hold with high
-- probability (RaBitQ's), so far down a row may come out of place or be
-- missed: nearly all of the exact 100 are there
SELECT idx, q, (pg_temp.knn(idx, op, q, 100)).exact
FROM (VALUES ('fi_l2', '<->'), ('fi_ip', '<#>'), ('fi_cos', '<=>')) o(idx, op), queries
ORDER BY idx, q::text;
SELECT idx, q, pg_temp.common(idx, op, q, 100) >= 95 AS nearly_all
FROM (VALUES ('ri_l2', '<->'), ('ri_ip', '<#>'), ('ri_cos', '<=>')) o(idx, op), queries
ORDER BY idx, q::text;
-- probes above the number of lists is the same as all of them
SET ivfflat.probes = 1000;
SET ivfrabitq.probes = 1000;
SELECT idx, (pg_temp.knn(idx, op, '[0.5,-0.5,0.25,0]', 20)).exact
FROM (VALUES ('fi_l2', '<->'), ('ri_cos', '<=>')) o(idx, op) ORDER BY idx;
-- a scan without LIMIT returns every row once
SELECT idx, (pg_temp.scanned(idx, op, '[0.5,-0.5,0.25,0]')).*
FROM (VALUES ('fi_l2', '<->'), ('fi_ip', '<#>'), ('fi_cos', '<=>'),
             ('ri_l2', '<->'), ('ri_ip', '<#>'), ('ri_cos', '<=>')) o(idx, op)
ORDER BY idx;
-- one probe reads one list of the twenty: some rows, not all
SET ivfflat.probes = 1;
SET ivfrabitq.probes = 1;
SELECT idx, n > 0 AS some_rows, n < 2000 AS not_all, distinct_ids
FROM (VALUES ('fi_l2', '<->'), ('fi_ip', '<#>'), ('fi_cos', '<=>'),
             ('ri_l2', '<->'), ('ri_ip', '<#>'), ('ri_cos', '<=>')) o(idx, op),
     pg_temp.scanned(idx, op, '[0.5,-0.5,0.25,0]')
ORDER BY idx;
-- more probes, more rows
CREATE TEMP TABLE one_probe AS
SELECT idx, n FROM (VALUES ('fi_l2', '<->'), ('ri_cos', '<=>')) o(idx, op),
     pg_temp.scanned(idx, op, '[0.5,-0.5,0.25,0]');
SET ivfflat.probes = 10;
SET ivfrabitq.probes = 10;
SELECT idx, s.n > o.n AS ten_read_more, s.n < 2000 AS not_all
FROM (VALUES ('fi_l2', '<->'), ('ri_cos', '<=>')) x(idx, op) JOIN one_probe o USING (idx),
     pg_temp.scanned(idx, op, '[0.5,-0.5,0.25,0]') s
ORDER BY idx;
SET ivfflat.probes = 20;
SET ivfrabitq.probes = 20;

-- rows and distances through the index
SET enable_seqscan = off;
SELECT id, round((v <-> '[0.5,-0.5,0.25,0]')::numeric, 4) AS l2
FROM fi ORDER BY v <-> '[0.5,-0.5,0.25,0]' LIMIT 3;
SELECT id, round((v <-> '[0.5,-0.5,0.25,0]')::numeric, 4) AS l2
FROM ri ORDER BY v <-> '[0.5,-0.5,0.25,0]' LIMIT 3;
SELECT id, round((v <#> '[0.5,-0.5,0.25,0]')::numeric, 4) AS neg_ip
FROM ri ORDER BY v <#> '[0.5,-0.5,0.25,0]' LIMIT 3;
SELECT id, round((v <=> '[0.5,-0.5,0.25,0]')::numeric, 4) AS cosine
FROM ri ORDER BY v <=> '[0.5,-0.5,0.25,0]' LIMIT 3;
-- a query vector as a parameter, and from another row (rescans)
PREPARE knn3(vector) AS SELECT id FROM ri ORDER BY v <-> $1 LIMIT 3;
EXECUTE knn3('[0.5,-0.5,0.25,0]');
EXECUTE knn3('[-0.9,0.1,0.8,-0.3]');
DEALLOCATE knn3;
EXPLAIN (COSTS OFF)
SELECT q.id, ARRAY(SELECT i.id FROM fi i ORDER BY i.v <=> q.v LIMIT 3) FROM items q WHERE q.id <= 5;
CREATE TEMP TABLE nearest AS
SELECT q.id, ARRAY(SELECT i.id FROM fi i ORDER BY i.v <-> q.v LIMIT 3) AS f_l2,
       ARRAY(SELECT i.id FROM fi i ORDER BY i.v <=> q.v LIMIT 3) AS f_cos,
       ARRAY(SELECT i.id FROM ri i ORDER BY i.v <-> q.v LIMIT 3) AS r_l2,
       ARRAY(SELECT i.id FROM ri i ORDER BY i.v <#> q.v LIMIT 3) AS r_ip
FROM items q WHERE q.id <= 5;
RESET enable_seqscan;
SET enable_indexscan = off;
SELECT n.id, n.f_l2,
       n.f_l2 = ARRAY(SELECT i.id FROM fi i ORDER BY i.v <-> q.v LIMIT 3) AS f_l2_exact,
       n.f_cos = ARRAY(SELECT i.id FROM fi i ORDER BY i.v <=> q.v LIMIT 3) AS f_cos_exact,
       n.r_l2 = ARRAY(SELECT i.id FROM ri i ORDER BY i.v <-> q.v LIMIT 3) AS r_l2_exact,
       n.r_ip = ARRAY(SELECT i.id FROM ri i ORDER BY i.v <#> q.v LIMIT 3) AS r_ip_exact
FROM nearest n JOIN items q USING (id) ORDER BY n.id;
RESET enable_indexscan;
-- a NULL query vector: no order, but every row, whatever probes is
SET ivfflat.probes = 1;
SET ivfrabitq.probes = 1;
SET enable_seqscan = off;
SELECT count(*), count(DISTINCT id) FROM (SELECT id FROM fi ORDER BY v <-> NULL) s;
SELECT count(*), count(DISTINCT id) FROM (SELECT id FROM ri ORDER BY v <=> NULL) s;
SELECT count(*) FROM (SELECT id FROM ri ORDER BY v <#> NULL LIMIT 7) s;
RESET enable_seqscan;
SET ivfflat.probes = 20;
SET ivfrabitq.probes = 20;

--
-- options
--
-- (on items, which has no other ivf index: ivfflat with l2, ivfrabitq with
-- inner product, so each query has one index to use)
-- lists defaults to 100 (2000 rows are enough for 100 lists: no NOTICE)
CREATE INDEX items_f ON items USING ivfflat (v vector_l2_ops);
CREATE INDEX items_r ON items USING ivfrabitq (v vector_ip_ops);
SELECT relname, reloptions FROM pg_class WHERE relname IN ('items_f', 'items_r') ORDER BY relname;
SET ivfflat.probes = 100;
SET ivfrabitq.probes = 100;
SELECT (pg_temp.knn('items_f', '<->', '[-0.9,0.1,0.8,-0.3]', 20)).exact;
SELECT (pg_temp.knn('items_r', '<#>', '[-0.9,0.1,0.8,-0.3]', 20)).exact;
DROP INDEX items_f, items_r;
-- the smallest: one list, an exact scan at one probe
SET ivfflat.probes = 1;
SET ivfrabitq.probes = 1;
CREATE INDEX items_f ON items USING ivfflat (v vector_l2_ops) WITH (lists = 1);
CREATE INDEX items_r ON items USING ivfrabitq (v vector_ip_ops) WITH (lists = 1);
SELECT (pg_temp.knn('items_f', '<->', '[2,2,-1,0.5]', 50)).exact;
SELECT (pg_temp.knn('items_r', '<#>', '[2,2,-1,0.5]', 50)).exact;
SELECT * FROM pg_temp.scanned('items_r', '<#>', '[2,2,-1,0.5]');
DROP INDEX items_f, items_r;
-- the largest: more lists than rows / 16 become rows / 16 (a NOTICE)
CREATE INDEX items_f ON items USING ivfflat (v vector_l2_ops) WITH (lists = 32768);
CREATE INDEX items_r ON items USING ivfrabitq (v vector_ip_ops) WITH (lists = 32768);
SELECT relname, reloptions FROM pg_class WHERE relname IN ('items_f', 'items_r') ORDER BY relname;
SET ivfflat.probes = 125;
SET ivfrabitq.probes = 125;
SELECT (pg_temp.knn('items_f', '<->', '[0.5,-0.5,0.25,0]')).exact;
SELECT (pg_temp.knn('items_r', '<#>', '[0.5,-0.5,0.25,0]')).exact;
-- (125 lists: 124 probes leave one out)
SET ivfflat.probes = 124;
SELECT n < 2000 AS not_all FROM pg_temp.scanned('items_f', '<->', '[0.5,-0.5,0.25,0]');
DROP INDEX items_f, items_r;
-- many lists (above 1,024, k-means works on two levels, src/kmeans.h): at
-- one probe a row finds itself (the list nearest it is the one it was put
-- in), and the index checks clean
CREATE TABLE manyl AS
SELECT i AS id, ARRAY[sin(i), cos(i * 1.3), sin(i * 0.7), cos(i * 2.1)]::vector(4) AS v
FROM generate_series(1, 20000) i;
CREATE INDEX manyl_f ON manyl USING ivfflat (v vector_l2_ops) WITH (lists = 1250);
CREATE INDEX manyl_r ON manyl USING ivfrabitq (v vector_l2_ops) WITH (lists = 1250);
SET ivfflat.probes = 1;
SET ivfrabitq.probes = 1;
SET enable_seqscan = off;
DROP INDEX manyl_r;
SELECT count(*) FILTER (WHERE (SELECT b.id FROM manyl b ORDER BY b.v <-> a.v LIMIT 1) = a.id) AS found_self,
       count(*) AS queries
FROM manyl a WHERE a.id % 20 = 0;
CREATE INDEX manyl_r ON manyl USING ivfrabitq (v vector_l2_ops) WITH (lists = 1250);
DROP INDEX manyl_f;
SELECT count(*) FILTER (WHERE (SELECT b.id FROM manyl b ORDER BY b.v <-> a.v LIMIT 1) = a.id) AS found_self,
       count(*) AS queries
FROM manyl a WHERE a.id % 20 = 0;
RESET enable_seqscan;
SELECT c.tuples, c.heap_tids, c.heap_rows FROM embed_index_check('manyl_r') c;
DROP TABLE manyl;
SET ivfflat.probes = 20;
SET ivfrabitq.probes = 20;
-- bad options: 22023
SELECT pg_temp.sqlerr($$CREATE INDEX ON fi USING ivfflat (v vector_l2_ops) WITH (lists = 0)$$);
SELECT pg_temp.sqlerr($$CREATE INDEX ON fi USING ivfflat (v vector_l2_ops) WITH (lists = -1)$$);
SELECT pg_temp.sqlerr($$CREATE INDEX ON fi USING ivfflat (v vector_l2_ops) WITH (lists = 32769)$$);
SELECT pg_temp.sqlerr($$CREATE INDEX ON fi USING ivfflat (v vector_l2_ops) WITH (lists = 'many')$$);
SELECT pg_temp.sqlerr($$CREATE INDEX ON fi USING ivfflat (v vector_l2_ops) WITH (probes = 10)$$);
SELECT pg_temp.sqlerr($$CREATE INDEX ON fi USING ivfflat (v vector_l2_ops) WITH (m = 16)$$);
SELECT pg_temp.sqlerr($$CREATE INDEX ON ri USING ivfrabitq (v vector_l2_ops) WITH (lists = 0)$$);
SELECT pg_temp.sqlerr($$CREATE INDEX ON ri USING ivfrabitq (v vector_l2_ops) WITH (lists = 32769)$$);
SELECT pg_temp.sqlerr($$CREATE INDEX ON ri USING ivfrabitq (v vector_l2_ops) WITH (lists = 'many')$$);
SELECT pg_temp.sqlerr($$CREATE INDEX ON ri USING ivfrabitq (v vector_l2_ops) WITH (foo = 1)$$);
-- none of them left an index behind
SELECT count(*) AS ivf_indexes FROM pg_class c JOIN pg_am a ON a.oid = c.relam
WHERE a.amname IN ('ivfflat', 'ivfrabitq');

-- ALTER INDEX SET (lists) is stored at once but only takes effect at the
-- next build: the lists on disk stay as built until REINDEX
SET ivfflat.probes = 1;
SET ivfrabitq.probes = 1;
ALTER INDEX fi_l2 SET (lists = 1);
ALTER INDEX ri_l2 SET (lists = 1);
SELECT relname, reloptions FROM pg_class WHERE relname IN ('fi_l2', 'ri_l2') ORDER BY relname;
SELECT idx, n < 2000 AS still_twenty_lists
FROM (VALUES ('fi_l2', '<->'), ('ri_l2', '<->')) o(idx, op),
     pg_temp.scanned(idx, op, '[0.5,-0.5,0.25,0]') ORDER BY idx;
REINDEX INDEX fi_l2;
REINDEX INDEX ri_l2;
SELECT idx, n AS one_list_holds_all
FROM (VALUES ('fi_l2', '<->'), ('ri_l2', '<->')) o(idx, op),
     pg_temp.scanned(idx, op, '[0.5,-0.5,0.25,0]') ORDER BY idx;
SELECT (pg_temp.knn('ri_l2', '<->', '[0.5,-0.5,0.25,0]', 30)).exact;
SELECT pg_temp.sqlerr($$ALTER INDEX fi_l2 SET (lists = 0)$$);
SELECT pg_temp.sqlerr($$ALTER INDEX ri_l2 SET (lists = 32769)$$);
SELECT pg_temp.sqlerr($$ALTER INDEX ri_l2 SET (foo = 1)$$);
-- RESET: back to the default (100) at the next build
ALTER INDEX fi_l2 RESET (lists);
ALTER INDEX ri_l2 SET (lists = 20);
SELECT relname, reloptions FROM pg_class WHERE relname IN ('fi_l2', 'ri_l2') ORDER BY relname;
SELECT idx, n AS still_one_list
FROM (VALUES ('fi_l2', '<->'), ('ri_l2', '<->')) o(idx, op),
     pg_temp.scanned(idx, op, '[0.5,-0.5,0.25,0]') ORDER BY idx;
REINDEX TABLE fi;
REINDEX TABLE ri;
SELECT idx, n < 2000 AS many_lists_again
FROM (VALUES ('fi_l2', '<->'), ('ri_l2', '<->')) o(idx, op),
     pg_temp.scanned(idx, op, '[0.5,-0.5,0.25,0]') ORDER BY idx;
DROP INDEX fi_l2;
CREATE INDEX fi_l2 ON fi USING ivfflat (v vector_l2_ops) WITH (lists = 20);
SET ivfflat.probes = 20;
SET ivfrabitq.probes = 20;

-- what ivf cannot index: 42704 no opclass, 0A000 unsupported
SELECT pg_temp.sqlerr($$CREATE INDEX ON fi USING ivfflat (id)$$);
SELECT pg_temp.sqlerr($$CREATE INDEX ON fi USING ivfflat (v vector_l1_ops)$$);
SELECT pg_temp.sqlerr($$CREATE INDEX ON ri USING ivfrabitq (v vector_l1_ops)$$);
SELECT pg_temp.sqlerr($$CREATE INDEX ON fi USING ivfflat (v vector_l2_ops, v vector_ip_ops)$$);
SELECT pg_temp.sqlerr($$CREATE INDEX ON ri USING ivfrabitq (v vector_l2_ops) INCLUDE (id)$$);
SELECT pg_temp.sqlerr($$CREATE UNIQUE INDEX ON ri USING ivfrabitq (v vector_l2_ops)$$);
SELECT pg_temp.sqlerr($$CLUSTER fi USING fi_l2$$);

--
-- settings
--
RESET ivfflat.probes;
RESET ivfrabitq.probes;
SHOW ivfflat.probes;
SHOW ivfflat.iterative_scan;
SHOW ivfflat.max_probes;
SHOW ivfrabitq.probes;
SHOW ivfrabitq.iterative_scan;
SHOW ivfrabitq.max_probes;
SELECT name, setting, vartype, min_val, max_val, enumvals, context
FROM pg_settings WHERE name LIKE 'ivf%' ORDER BY name;
SET ivfflat.probes = 1;
SET ivfflat.probes = 32768;
SHOW ivfflat.probes;
SET ivfrabitq.probes = 1;
SHOW ivfrabitq.probes;
SET ivfflat.iterative_scan = relaxed_order;
SET ivfrabitq.iterative_scan = 'relaxed_order';
SHOW ivfrabitq.iterative_scan;
SET ivfflat.iterative_scan = off;
SET ivfflat.max_probes = 1;
SET ivfrabitq.max_probes = 32768;
SELECT pg_temp.sqlerr($$SET ivfflat.probes = 0$$);
SELECT pg_temp.sqlerr($$SET ivfrabitq.probes = 0$$);
SELECT pg_temp.sqlerr($$SET ivfflat.probes = 32769$$);
SELECT pg_temp.sqlerr($$SET ivfrabitq.probes = -1$$);
SELECT pg_temp.sqlerr($$SET ivfflat.probes = 'all'$$);
SELECT pg_temp.sqlerr($$SET ivfflat.iterative_scan = bogus$$);
SELECT pg_temp.sqlerr($$SET ivfrabitq.iterative_scan = strict_order$$);
SELECT pg_temp.sqlerr($$SET ivfflat.max_probes = 0$$);
SELECT pg_temp.sqlerr($$SET ivfrabitq.max_probes = 32769$$);
-- the prefixes are reserved: typos are caught
SELECT pg_temp.sqlerr($$SET ivfflat.probe = 10$$);
SELECT pg_temp.sqlerr($$SET ivfrabitq.prob = 10$$);
RESET ivfflat.probes;
RESET ivfflat.iterative_scan;
RESET ivfflat.max_probes;
RESET ivfrabitq.probes;
RESET ivfrabitq.iterative_scan;
RESET ivfrabitq.max_probes;
SHOW ivfflat.probes;
SHOW ivfrabitq.probes;
SET ivfflat.probes = 20;
SET ivfrabitq.probes = 20;

--
-- dimensions
--
-- a query vector of another dimension: 22000, through either index
SET enable_seqscan = off;
SELECT pg_temp.sqlerr($$SELECT id FROM fi ORDER BY v <-> '[1,2,3]' LIMIT 1$$);
SELECT pg_temp.sqlerr($$SELECT id FROM ri ORDER BY v <=> '[1,2,3,4,5]' LIMIT 1$$);
RESET enable_seqscan;
-- a column without dimensions on an empty table: nothing to learn them from
CREATE TABLE nodim (id int, v vector);
SELECT pg_temp.sqlerr($$CREATE INDEX ON nodim USING ivfflat (v vector_l2_ops)$$);
SELECT pg_temp.sqlerr($$CREATE INDEX ON nodim USING ivfrabitq (v vector_cosine_ops)$$);
-- ... nor from NULLs
INSERT INTO nodim VALUES (1, NULL);
SELECT pg_temp.sqlerr($$CREATE INDEX ON nodim USING ivfrabitq (v vector_l2_ops)$$);
-- the first row gives them; a row of another dimension is an error (22000)
INSERT INTO nodim VALUES (2, '[1,2]'), (3, '[1,2,3]');
SELECT pg_temp.sqlerr($$CREATE INDEX ON nodim USING ivfflat (v vector_l2_ops)$$);
SELECT pg_temp.sqlerr($$CREATE INDEX ON nodim USING ivfrabitq (v vector_l2_ops)$$);
DELETE FROM nodim WHERE id = 3;
CREATE INDEX nodim_f ON nodim USING ivfflat (v vector_l2_ops) WITH (lists = 1);
CREATE INDEX nodim_r ON nodim USING ivfrabitq (v vector_l2_ops) WITH (lists = 1);
SELECT pg_temp.sqlerr($$INSERT INTO nodim VALUES (4, '[1,2,3]')$$);
INSERT INTO nodim VALUES (5, '[3,4]');
SET enable_seqscan = off;
SELECT id FROM nodim ORDER BY v <-> '[3,3.9]' LIMIT 5;
DROP INDEX nodim_f;
SELECT id FROM nodim ORDER BY v <-> '[3,3.9]' LIMIT 5;
RESET enable_seqscan;
DROP TABLE nodim;

-- ivfflat keeps whole vectors in its entries: at most 2036 dimensions fit a
-- page (54000 above); ivfrabitq keeps a code of one bit per dimension
CREATE TABLE d2036 (id int, v vector(2036));
CREATE INDEX d2036_l2 ON d2036 USING ivfflat (v vector_l2_ops) WITH (lists = 1);
INSERT INTO d2036 SELECT i, array_fill(i::real, ARRAY[2036]) FROM generate_series(1, 3) i;
SET enable_seqscan = off;
SELECT id FROM d2036 ORDER BY v <-> array_fill(2.2::real, ARRAY[2036])::vector LIMIT 5;
RESET enable_seqscan;
CREATE TABLE d2037 (id int, v vector(2037));
SELECT pg_temp.sqlerr($$CREATE INDEX ON d2037 USING ivfflat (v vector_l2_ops)$$);
DROP TABLE d2036, d2037;

-- rows whose phase grows with id squared: the farther apart two ids' squares,
-- the farther apart the rows (no ties among the nearest)
CREATE FUNCTION pg_temp.wave(x float8) RETURNS vector LANGUAGE sql AS $$
	SELECT ARRAY(SELECT sin(0.37 * j + 0.0003 * x * x) FROM generate_series(1, 3000) j)::vector(3000)
$$;
CREATE TABLE big (id int, v vector(3000));
INSERT INTO big SELECT i, pg_temp.wave(i) FROM generate_series(1, 100) i;
SELECT split_part(pg_temp.sqlerr($$CREATE INDEX ON big USING ivfflat (v vector_l2_ops)$$), ':', 1) AS sqlstate;
SELECT split_part(pg_temp.sqlerr($$CREATE INDEX ON big USING ivfflat (v vector_cosine_ops) WITH (lists = 1)$$), ':', 1) AS sqlstate;
-- (each 3000-d centroid spans two pages)
CREATE INDEX big_l2 ON big USING ivfrabitq (v vector_l2_ops) WITH (lists = 4);
CREATE TABLE big_c AS SELECT * FROM big;
CREATE INDEX big_cos ON big_c USING ivfrabitq (v vector_cosine_ops) WITH (lists = 4);
SET ivfrabitq.probes = 4;
SET enable_seqscan = off;
SELECT id FROM big ORDER BY v <-> pg_temp.wave(50) LIMIT 5;
SELECT id FROM big_c ORDER BY v <=> pg_temp.wave(7) LIMIT 5;
RESET enable_seqscan;
SELECT i AS query, (pg_temp.knn('big_l2', '<->', pg_temp.wave(i))).exact AS l2_exact,
       (pg_temp.knn('big_cos', '<=>', pg_temp.wave(i))).exact AS cos_exact
FROM (VALUES (1), (7), (50), (99)) q(i) ORDER BY i;
-- rows inserted into the built index, nearer than any built row
INSERT INTO big VALUES (107, pg_temp.wave(7.5)), (150, pg_temp.wave(50.5));
INSERT INTO big_c VALUES (107, pg_temp.wave(7.5)), (150, pg_temp.wave(50.5));
SELECT i AS query, (pg_temp.knn('big_l2', '<->', pg_temp.wave(i), 3)).*
FROM (VALUES (7), (50)) q(i) ORDER BY i;
SELECT i AS query, (pg_temp.knn('big_cos', '<=>', pg_temp.wave(i), 3)).*
FROM (VALUES (7), (50)) q(i) ORDER BY i;
-- one probe of four still finds the row itself
SET ivfrabitq.probes = 1;
SET enable_seqscan = off;
SELECT i AS query, ARRAY(SELECT id FROM big ORDER BY v <-> pg_temp.wave(i) LIMIT 1) AS nearest
FROM (VALUES (1), (7), (50), (99)) q(i) ORDER BY i;
RESET enable_seqscan;
DROP TABLE big_c;
DROP TABLE big;
SET ivfrabitq.probes = 20;

--
-- small tables: fewer than 16 indexable rows per list become fewer lists
--
CREATE TABLE few (id int, v vector(4));
INSERT INTO few SELECT id, v FROM items WHERE id <= 160;
-- 160 rows: 10 lists of 16, no NOTICE
CREATE INDEX few_f ON few USING ivfflat (v vector_l2_ops) WITH (lists = 10);
CREATE INDEX few_r ON few USING ivfrabitq (v vector_l2_ops) WITH (lists = 10);
DROP INDEX few_f, few_r;
-- 159 rows: 9 lists
CREATE INDEX few_f ON few USING ivfflat (v vector_l2_ops) WITH (lists = 10) WHERE id > 1;
CREATE INDEX few_r ON few USING ivfrabitq (v vector_l2_ops) WITH (lists = 10) WHERE id > 1;
DROP INDEX few_f, few_r;
-- NULLs, and zero vectors under cosine, are not indexable rows
UPDATE few SET v = NULL WHERE id = 1;
UPDATE few SET v = '[0,0,0,0]' WHERE id = 2;
CREATE INDEX few_f ON few USING ivfflat (v vector_l2_ops) WITH (lists = 10);
CREATE INDEX few_r ON few USING ivfrabitq (v vector_cosine_ops) WITH (lists = 10);
-- fewer than 16 rows: one list
CREATE INDEX few_one ON few USING ivfflat (v vector_cosine_ops) WITH (lists = 3) WHERE id <= 17;
SET ivfflat.probes = 9;
SET ivfrabitq.probes = 9;
SELECT (pg_temp.knn('few_f', '<->', '[0.5,-0.5,0.25,0]', 20)).exact;
SELECT (pg_temp.knn('few_r', '<=>', '[0.5,-0.5,0.25,0]', 20)).exact;
SET ivfflat.probes = 1;
SELECT (pg_temp.knn('few_one', '<=>', '[0.5,-0.5,0.25,0]', 20, 'id BETWEEN 3 AND 17')).*;
DROP TABLE few;

--
-- an empty table: one list, centred on the origin, that inserts fill
--
CREATE TABLE emp (id int, v vector(4));
CREATE INDEX emp_f ON emp USING ivfflat (v vector_cosine_ops);
CREATE INDEX emp_r ON emp USING ivfrabitq (v vector_ip_ops) WITH (lists = 5);
SET ivfflat.probes = 1;
SET ivfrabitq.probes = 1;
SET enable_seqscan = off;
SELECT id FROM emp ORDER BY v <=> '[1,2,3,4]' LIMIT 5;
SELECT id FROM emp ORDER BY v <#> '[1,2,3,4]' LIMIT 5;
RESET enable_seqscan;
INSERT INTO emp SELECT id, v FROM items WHERE id <= 300;
SELECT (pg_temp.knn('emp_f', '<=>', q, 20)).exact FROM queries ORDER BY q::text;
SELECT (pg_temp.knn('emp_r', '<#>', q, 20)).exact FROM queries ORDER BY q::text;
SELECT * FROM pg_temp.scanned('emp_r', '<#>', '[1,2,3,4]');
DROP TABLE emp;

--
-- NULL and zero vectors
--
CREATE TABLE nz (id int, v vector(2));
INSERT INTO nz VALUES (1, '[1,0]'), (2, '[0,1]'), (3, NULL), (4, '[0,0]'), (5, '[1,1]');
CREATE INDEX nz_fcos ON nz USING ivfflat (v vector_cosine_ops) WITH (lists = 1);
CREATE INDEX nz_rl2 ON nz USING ivfrabitq (v vector_l2_ops) WITH (lists = 1);
SET enable_seqscan = off;
-- cosine: neither NULL nor the zero vector is in the index
SELECT id, round((v <=> '[1,0.1]')::numeric, 4) AS cosine FROM nz ORDER BY v <=> '[1,0.1]' LIMIT 10;
-- l2: the zero vector is, NULL is not
SELECT id, round((v <-> '[1,0.1]')::numeric, 4) AS l2 FROM nz ORDER BY v <-> '[1,0.1]' LIMIT 10;
-- the same after inserts into the built indexes, and under the other access method
INSERT INTO nz VALUES (6, NULL), (7, '[0,0]'), (8, '[-1,0]');
SELECT id, round((v <=> '[1,0.1]')::numeric, 4) AS cosine FROM nz ORDER BY v <=> '[1,0.1]' LIMIT 10;
SELECT * FROM (SELECT id, round((v <-> '[1,0.1]')::numeric, 4) AS l2 FROM nz ORDER BY v <-> '[1,0.1]' LIMIT 10) s
ORDER BY l2, id;
DROP INDEX nz_fcos, nz_rl2;
CREATE INDEX nz_rcos ON nz USING ivfrabitq (v vector_cosine_ops) WITH (lists = 1);
CREATE INDEX nz_fl2 ON nz USING ivfflat (v vector_l2_ops) WITH (lists = 1);
SELECT id FROM nz ORDER BY v <=> '[1,0.1]' LIMIT 10;
SELECT * FROM (SELECT id, round((v <-> '[1,0.1]')::numeric, 4) AS l2 FROM nz ORDER BY v <-> '[1,0.1]' LIMIT 10) s
ORDER BY l2, id;
-- a zero query vector has no cosine distance to anything: the scan ends cleanly
SELECT count(*) <= 5 AS at_most_the_indexed_rows FROM (SELECT id FROM nz ORDER BY v <=> '[0,0]' LIMIT 10) s;
RESET enable_seqscan;
DROP TABLE nz;

--
-- duplicates: every copy is returned
--
CREATE TABLE dup (id int, v vector(3));
INSERT INTO dup SELECT i, '[1,2,3]' FROM generate_series(1, 40) i;
INSERT INTO dup SELECT i, ARRAY[i % 7, i % 5, i % 3] FROM generate_series(41, 100) i;
CREATE INDEX dup_f ON dup USING ivfflat (v vector_l2_ops) WITH (lists = 3);
CREATE INDEX dup_r ON dup USING ivfrabitq (v vector_cosine_ops) WITH (lists = 3);
SET ivfflat.probes = 1;
SET ivfrabitq.probes = 1;
SET enable_seqscan = off;
SELECT count(*), count(DISTINCT id), min(id), max(id), bool_and(v = '[1,2,3]') AS all_copies
FROM (SELECT id, v FROM dup ORDER BY v <-> '[1,2,3]' LIMIT 40) s;
SELECT count(*), count(DISTINCT id), min(id), max(id), bool_and(v = '[1,2,3]') AS all_copies
FROM (SELECT id, v FROM dup ORDER BY v <=> '[2,4,6]' LIMIT 40) s;
-- more copies through inserts
INSERT INTO dup SELECT i, '[1,2,3]' FROM generate_series(101, 120) i;
SELECT count(*), count(DISTINCT id), bool_and(v = '[1,2,3]') AS all_copies
FROM (SELECT id, v FROM dup ORDER BY v <-> '[1,2,3]' LIMIT 60) s;
SELECT count(*), count(DISTINCT id), bool_and(v = '[1,2,3]') AS all_copies
FROM (SELECT id, v FROM dup ORDER BY v <=> '[1,2,3]' LIMIT 60) s;
RESET enable_seqscan;
DROP TABLE dup;

--
-- iterative scans: two far-apart clusters, two lists (one per cluster)
--
CREATE TABLE two (id int, v vector(4));
INSERT INTO two
SELECT i, ARRAY[c + sin(i), c + cos(i), c + sin(2 * i), c + cos(3 * i)]
FROM generate_series(1, 400) i, LATERAL (SELECT CASE WHEN i <= 200 THEN 0 ELSE 100 END AS c) s;
CREATE INDEX two_f ON two USING ivfflat (v vector_l2_ops) WITH (lists = 2);
CREATE TABLE two_copy AS SELECT * FROM two;
CREATE INDEX two_r ON two_copy USING ivfrabitq (v vector_l2_ops) WITH (lists = 2);
SET ivfflat.probes = 1;
SET ivfrabitq.probes = 1;
-- one probe reads one cluster
SELECT * FROM pg_temp.scanned('two_f', '<->', '[0,0,0,0]');
SELECT * FROM pg_temp.scanned('two_r', '<->', '[0.1,0.2,0.3,0.4]');
-- a filter that only rows of the other cluster pass: no rows without
-- iterative scans ...
SELECT (pg_temp.knn('two_f', '<->', '[0,0,0,0]', 5, 'id > 200')).*;
SELECT (pg_temp.knn('two_r', '<->', '[0.1,0.2,0.3,0.4]', 5, 'id > 200')).*;
-- ... the full LIMIT with them, here in exact order (all from the second list)
SET ivfflat.iterative_scan = relaxed_order;
SET ivfrabitq.iterative_scan = relaxed_order;
SELECT (pg_temp.knn('two_f', '<->', '[0,0,0,0]', 5, 'id > 200')).*;
SELECT (pg_temp.knn('two_r', '<->', '[0.1,0.2,0.3,0.4]', 5, 'id > 200')).*;
-- rows the filter passes in both lists (four in each): the nearer list's
-- come first
SELECT (pg_temp.knn('two_f', '<->', '[0,0,0,0]', 5, 'id % 50 = 0')).*;
SELECT (pg_temp.knn('two_r', '<->', '[0.1,0.2,0.3,0.4]', 6, 'id % 50 = 0')).*;
-- max_probes caps the lists read
SET ivfflat.max_probes = 1;
SET ivfrabitq.max_probes = 1;
SELECT (pg_temp.knn('two_f', '<->', '[0,0,0,0]', 5, 'id > 200')).*;
SELECT (pg_temp.knn('two_r', '<->', '[0.1,0.2,0.3,0.4]', 5, 'id > 200')).*;
RESET ivfflat.max_probes;
RESET ivfrabitq.max_probes;
-- without a filter an iterative scan still returns every row once
SELECT * FROM pg_temp.scanned('two_f', '<->', '[0,0,0,0]');
SELECT * FROM pg_temp.scanned('two_r', '<->', '[0.1,0.2,0.3,0.4]');
-- off again: one list
RESET ivfflat.iterative_scan;
RESET ivfrabitq.iterative_scan;
SELECT (pg_temp.knn('two_f', '<->', '[0,0,0,0]', 5, 'id > 200')).*;
-- probes covering both lists need no iteration
SET ivfflat.probes = 2;
SELECT (pg_temp.knn('two_f', '<->', '[0,0,0,0]', 5, 'id > 200')).*;
DROP TABLE two, two_copy;
SET ivfflat.probes = 20;
SET ivfrabitq.probes = 20;

--
-- DELETE, VACUUM, inserts
--
CREATE TABLE fm AS SELECT * FROM items;
CREATE TABLE rm AS SELECT * FROM items;
CREATE INDEX fm_l2 ON fm USING ivfflat (v vector_l2_ops) WITH (lists = 4);
CREATE INDEX rm_ip ON rm USING ivfrabitq (v vector_ip_ops) WITH (lists = 4);
SET ivfflat.probes = 4;
SET ivfrabitq.probes = 4;
CREATE TEMP TABLE sizes AS
SELECT relname, pg_relation_size(oid) AS built FROM pg_class WHERE relname IN ('fm_l2', 'rm_ip');
-- deleted rows are gone at once (heap visibility) and after VACUUM
DELETE FROM fm WHERE id % 2 = 0;
DELETE FROM rm WHERE id % 2 = 0;
SELECT (pg_temp.knn('fm_l2', '<->', '[0.5,-0.5,0.25,0]')).exact;
VACUUM fm;
VACUUM rm;
SET enable_seqscan = off;
SELECT count(*), count(*) FILTER (WHERE id % 2 = 0) AS deleted
FROM (SELECT id FROM fm ORDER BY v <-> '[0.5,-0.5,0.25,0]') s;
SELECT count(*), count(*) FILTER (WHERE id % 2 = 0) AS deleted
FROM (SELECT id FROM rm ORDER BY v <#> '[0.5,-0.5,0.25,0]') s;
RESET enable_seqscan;
SELECT (pg_temp.knn('fm_l2', '<->', q, 20)).exact FROM queries ORDER BY q::text;
SELECT (pg_temp.knn('rm_ip', '<#>', q, 20)).exact FROM queries ORDER BY q::text;
-- new rows are found; the same vectors again go to the same lists and fill
-- the room VACUUM freed: the indexes do not grow
INSERT INTO fm SELECT id + 10000, v FROM items WHERE id % 2 = 0;
INSERT INTO rm SELECT id + 10000, v FROM items WHERE id % 2 = 0;
SELECT c.relname, pg_relation_size(c.oid) = s.built AS same_size
FROM pg_class c JOIN sizes s USING (relname) ORDER BY c.relname;
SELECT (pg_temp.knn('fm_l2', '<->', q, 20)).* FROM queries ORDER BY q::text;
SELECT (pg_temp.knn('rm_ip', '<#>', q, 20)).* FROM queries ORDER BY q::text;
SELECT * FROM pg_temp.scanned('fm_l2', '<->', '[0.5,-0.5,0.25,0]');
SELECT * FROM pg_temp.scanned('rm_ip', '<#>', '[0.5,-0.5,0.25,0]');
-- an update moves a row
UPDATE fm SET v = '[0.5,-0.5,0.25,0.01]' WHERE id = 3;
UPDATE rm SET v = '[5,-5,2.5,0]' WHERE id = 3;
SELECT (pg_temp.knn('fm_l2', '<->', '[0.5,-0.5,0.25,0]', 3)).*;
SELECT (pg_temp.knn('rm_ip', '<#>', '[0.5,-0.5,0.25,0]', 3)).*;
-- everything deleted and vacuumed, then new rows
DELETE FROM fm;
DELETE FROM rm;
VACUUM fm;
VACUUM rm;
SET enable_seqscan = off;
SELECT id FROM fm ORDER BY v <-> '[1,2,3,4]' LIMIT 5;
SELECT id FROM rm ORDER BY v <#> '[1,2,3,4]' LIMIT 5;
INSERT INTO fm VALUES (1, '[1,1,1,1]'), (2, '[2,2,2,2]'), (3, '[3,3,3,3]');
INSERT INTO rm VALUES (1, '[1,1,1,1]'), (2, '[2,2,2,2]'), (3, '[3,3,3,3]');
SELECT id FROM fm ORDER BY v <-> '[2.1,2.1,2.1,2.1]' LIMIT 5;
SELECT id FROM rm ORDER BY v <#> '[1,1,1,1]' LIMIT 5;
RESET enable_seqscan;
-- VACUUM FULL rebuilds the indexes
INSERT INTO fm SELECT id + 100, v FROM items WHERE id <= 500;
INSERT INTO rm SELECT id + 100, v FROM items WHERE id <= 500;
DELETE FROM fm WHERE id < 150;
DELETE FROM rm WHERE id < 150;
VACUUM FULL fm;
VACUUM FULL rm;
SELECT (pg_temp.knn('fm_l2', '<->', '[0.5,-0.5,0.25,0]')).exact;
SELECT (pg_temp.knn('rm_ip', '<#>', '[0.5,-0.5,0.25,0]')).exact;
DROP TABLE fm, rm;

--
-- unlogged tables, TRUNCATE, REINDEX CONCURRENTLY
--
CREATE UNLOGGED TABLE ul (id int, v vector(4));
INSERT INTO ul SELECT id, v FROM items WHERE id <= 500;
CREATE INDEX ul_f ON ul USING ivfflat (v vector_l2_ops) WITH (lists = 5);
CREATE INDEX ul_r ON ul USING ivfrabitq (v vector_cosine_ops) WITH (lists = 5);
SELECT relname, relpersistence FROM pg_class WHERE relname IN ('ul_f', 'ul_r') ORDER BY relname;
SET ivfflat.probes = 5;
SET ivfrabitq.probes = 5;
SELECT (pg_temp.knn('ul_f', '<->', '[0.5,-0.5,0.25,0]')).exact;
SELECT (pg_temp.knn('ul_r', '<=>', '[0.5,-0.5,0.25,0]')).exact;
TRUNCATE ul;
SET enable_seqscan = off;
SELECT id FROM ul ORDER BY v <-> '[1,2,3,4]' LIMIT 5;
SELECT id FROM ul ORDER BY v <=> '[1,2,3,4]' LIMIT 5;
RESET enable_seqscan;
INSERT INTO ul SELECT id, v FROM items WHERE id <= 200;
SELECT (pg_temp.knn('ul_f', '<->', '[-0.9,0.1,0.8,-0.3]')).exact;
SELECT (pg_temp.knn('ul_r', '<=>', '[-0.9,0.1,0.8,-0.3]')).exact;
REINDEX INDEX CONCURRENTLY ul_r;
SELECT (pg_temp.knn('ul_r', '<=>', '[-0.9,0.1,0.8,-0.3]')).exact;
DROP TABLE ul;

CREATE TABLE conc AS SELECT * FROM items WHERE id <= 500;
CREATE INDEX CONCURRENTLY conc_f ON conc USING ivfflat (v vector_ip_ops) WITH (lists = 5);
SELECT indisvalid, indisready FROM pg_index WHERE indexrelid = 'conc_f'::regclass;
SELECT (pg_temp.knn('conc_f', '<#>', '[0.5,-0.5,0.25,0]')).exact;
REINDEX INDEX CONCURRENTLY conc_f;
SELECT pg_get_indexdef('conc_f'::regclass);
SELECT (pg_temp.knn('conc_f', '<#>', '[0.5,-0.5,0.25,0]')).exact;
DROP INDEX CONCURRENTLY conc_f;
DROP TABLE conc;

--
-- embed_index_recall
--
-- every list probed: the index's answers are the exact ones
SET ivfflat.probes = 20;
SET ivfrabitq.probes = 20;
SELECT idx, embed_index_recall(idx::regclass) AS recall
FROM (VALUES ('fi_l2'), ('fi_ip'), ('fi_cos'), ('ri_l2'), ('ri_ip'), ('ri_cos')) i(idx) ORDER BY idx;
-- (deeper, ivfrabitq's bounds may miss a row: see above)
SELECT embed_index_recall('ri_cos', 50, 100) >= 0.99 AS recall_at_100;
-- one probe of twenty: approximate
SET ivfflat.probes = 1;
SET ivfrabitq.probes = 1;
SELECT idx, recall > 0.3 AS useful, recall < 1 AS approximate
FROM (VALUES ('fi_l2'), ('ri_l2')) i(idx), embed_index_recall(idx::regclass) AS recall ORDER BY idx;
-- hnsw too (ef_search above the row count: every element is visited)
CREATE TABLE hn AS SELECT * FROM items WHERE id <= 200;
CREATE INDEX hn_l2 ON hn USING hnsw (v vector_l2_ops);
SET hnsw.ef_search = 400;
SELECT embed_index_recall('hn_l2', 20, 10) AS recall;
RESET hnsw.ef_search;
-- what it measures: a single-column ordering index on a table column
CREATE INDEX fi_id ON fi (id);
CREATE INDEX fi_id_v ON fi (id, v);
CREATE INDEX hn_expr ON hn USING hnsw ((v + '[1,1,1,1]') vector_l2_ops);
SELECT pg_temp.sqlerr($$SELECT embed_index_recall('fi_id')$$);
SELECT pg_temp.sqlerr($$SELECT embed_index_recall('fi_id_v')$$);
SELECT pg_temp.sqlerr($$SELECT embed_index_recall('hn_expr')$$);
SELECT pg_temp.sqlerr($$SELECT embed_index_recall('fi')$$);
SELECT pg_temp.sqlerr($$SELECT embed_index_recall('fi_l2', 0)$$);
SELECT pg_temp.sqlerr($$SELECT embed_index_recall('fi_l2', 20, 0)$$);
SELECT pg_temp.sqlerr($$SELECT embed_index_recall('fi_l2', 10001)$$);
SELECT embed_index_recall('fi_l2', NULL) IS NULL AS strict;
-- an empty table has no rows to query
CREATE TABLE emp (id int, v vector(4));
CREATE INDEX emp_r ON emp USING ivfrabitq (v vector_l2_ops) WITH (lists = 1);
SELECT pg_temp.sqlerr($$SELECT embed_index_recall('emp_r')$$);
DROP TABLE emp, hn;

--
-- every SIMD kernel table the CPU runs gives the same RaBitQ answers
-- (the estimates use the bit-plane popcount kernel; only counts are shown)
--
CREATE TABLE sk AS SELECT i AS id, pg_temp.wave(i * 0.37) AS w FROM generate_series(1, 600) i;
CREATE TABLE sk2 (id int, v vector(200));
INSERT INTO sk2 SELECT id, (w::real[])[1:200]::vector FROM sk;
CREATE INDEX sk2_r ON sk2 USING ivfrabitq (v vector_l2_ops) WITH (lists = 8);
SET ivfrabitq.probes = 2;
CREATE TEMP TABLE sk_answers (kernel text, qid int, ids int[]);
DO $$
DECLARE k text;
BEGIN
	FOR k IN SELECT embed_simd_kernels() LOOP
		EXECUTE format('SET embed.simd = %L', k);
		INSERT INTO sk_answers
		SELECT k, q.id, pg_temp.ids_index(format('SELECT id FROM sk2 ORDER BY v <-> %L LIMIT 15', q.v), 'sk2_r')
		FROM (SELECT id, v FROM sk2 WHERE id % 50 = 0) q;
	END LOOP;
	RESET embed.simd;
END $$;
SELECT count(DISTINCT a.kernel) >= 1 AS ran, count(*) >= 12 AS compared,
       count(*) FILTER (WHERE a.ids <> p.ids) AS answers_differing_from_portable
FROM sk_answers a JOIN sk_answers p ON p.kernel = 'portable' AND p.qid = a.qid;
DROP TABLE sk, sk2, sk_answers;

RESET ivfflat.probes;
RESET ivfrabitq.probes;
DROP TABLE items, queries, fi, ri;

--
-- parallel builds: the assignment pass with workers gives the same index
--
-- (200 dims, 100 lists: k-means is big enough to get workers too)
CREATE TABLE pb AS
SELECT i AS id, ARRAY(SELECT sin(0.37 * j * (1 + i % 7) + 0.011 * i) FROM generate_series(1, 200) j)::vector(200) AS v
FROM generate_series(1, 5000) i;
ALTER TABLE pb SET (parallel_workers = 2);
SET ivfrabitq.probes = 5;
SET max_parallel_maintenance_workers = 0;
CREATE INDEX pb_serial ON pb USING ivfrabitq (v vector_l2_ops) WITH (lists = 100);
SELECT pg_relation_size('pb_serial') AS serial_size \gset
CREATE TEMP TABLE pb_answers AS
SELECT q.id, pg_temp.ids_index(format('SELECT id FROM pb ORDER BY v <-> %L LIMIT 10', q.v), 'pb_serial') AS ids
FROM pb q WHERE q.id % 250 = 0;
DROP INDEX pb_serial;
SET max_parallel_maintenance_workers = 2;
SET min_parallel_table_scan_size = 0;
SET maintenance_work_mem = '64MB';
SET client_min_messages = debug1;
CREATE INDEX pb_parallel ON pb USING ivfrabitq (v vector_l2_ops) WITH (lists = 100);
RESET client_min_messages;
SELECT pg_relation_size('pb_parallel') = :serial_size AS same_size;
SELECT count(*) AS queries,
       count(*) FILTER (WHERE a.ids = pg_temp.ids_index(format('SELECT id FROM pb ORDER BY v <-> %L LIMIT 10', q.v), 'pb_parallel')) AS same_answers
FROM pb_answers a JOIN pb q USING (id);
-- every row is in the parallel-built index, once
SET ivfrabitq.probes = 100;
SELECT count(*) AS entries, count(DISTINCT id) AS distinct_rows
FROM (SELECT id FROM pb ORDER BY v <-> (SELECT v FROM pb WHERE id = 1) LIMIT 30000) s;
RESET max_parallel_maintenance_workers;
RESET min_parallel_table_scan_size;
RESET maintenance_work_mem;
RESET ivfrabitq.probes;
DROP TABLE pb, pb_answers;

-- embed_index_check: clean after build, inserts, deletes and VACUUM
CREATE TABLE chk (id int, v vector(3));
INSERT INTO chk SELECT i, ARRAY[i % 7, i % 11, i % 13] FROM generate_series(1, 2000) i;
INSERT INTO chk VALUES (3001, NULL), (3002, '[0,0,0]');
CREATE INDEX chk_flat ON chk USING ivfflat (v vector_l2_ops) WITH (lists = 8);
CREATE INDEX chk_flat_cos ON chk USING ivfflat (v vector_cosine_ops) WITH (lists = 8);
CREATE INDEX chk_rq ON chk USING ivfrabitq (v vector_l2_ops) WITH (lists = 8);
CREATE INDEX chk_rq_ip ON chk USING ivfrabitq ((ARRAY[id % 17, id % 5, 1]::vector(3)) vector_ip_ops) WITH (lists = 4) WHERE id % 2 = 0;
SELECT i AS idx, c.tuples, c.heap_tids, c.heap_rows, c.unreachable
FROM unnest(ARRAY['chk_flat', 'chk_flat_cos', 'chk_rq', 'chk_rq_ip']) i, embed_index_check(i::regclass) c;
DELETE FROM chk WHERE id % 3 = 0;
UPDATE chk SET v = v + '[1,1,1]' WHERE id % 10 = 1;
-- enough rows to chain more pages onto the lists
INSERT INTO chk SELECT i, ARRAY[i % 5, i % 17, i % 3] FROM generate_series(4001, 9000) i;
SELECT i AS idx, c.tuples, c.heap_tids, c.heap_rows
FROM unnest(ARRAY['chk_flat', 'chk_flat_cos', 'chk_rq', 'chk_rq_ip']) i, embed_index_check(i::regclass) c;
VACUUM chk;
SELECT i AS idx, c.tuples, c.heap_tids, c.heap_rows
FROM unnest(ARRAY['chk_flat', 'chk_flat_cos', 'chk_rq', 'chk_rq_ip']) i, embed_index_check(i::regclass) c;
SELECT heap_tids, heap_rows IS NULL AS not_scanned FROM embed_index_check('chk_rq', false);
CREATE INDEX chk_btree ON chk (id);
DO $$
BEGIN
	PERFORM embed_index_check('chk_btree');
EXCEPTION WHEN OTHERS THEN
	RAISE NOTICE '%: %', SQLSTATE, SQLERRM;
END $$;
DROP TABLE chk;
