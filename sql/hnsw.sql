-- hnsw index access method: options, settings, and index scans checked
-- against the exact answer.  The graph is built with random levels, so only
-- what holds for any graph is pinned: on these tiny tables hnsw.ef_search is
-- at least the row count, which makes the layer-0 search visit every element.
\i sql/include/setup.sql

\i sql/include/knn.sql

-- 100 rows of distinct 3-d vectors with small integer elements (no zero
-- vector, no two at the same distance from the queries used below)
CREATE TABLE items (id int PRIMARY KEY, v vector(3));
INSERT INTO items
SELECT i, ARRAY[(i * 37) % 101 - 50, (i * 59) % 103 - 51, (i * 71) % 107 - 53]
FROM generate_series(1, 100) i;
SELECT * FROM items WHERE id <= 5 ORDER BY id;

SET hnsw.ef_search = 100;

--
-- one index per opclass, default options
--
CREATE INDEX items_l2 ON items USING hnsw (v vector_l2_ops);
CREATE INDEX items_ip ON items USING hnsw (v vector_ip_ops);
CREATE INDEX items_cos ON items USING hnsw (v vector_cosine_ops);
CREATE INDEX items_l1 ON items USING hnsw (v vector_l1_ops);
SELECT c.relname, a.amname, c.reloptions, pg_relation_size(c.oid) > 0 AS has_pages
FROM pg_class c JOIN pg_am a ON a.oid = c.relam
WHERE c.relname LIKE 'items\_%' AND a.amname = 'hnsw' ORDER BY c.relname;

-- each ordering operator picks the index of its opclass
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY v <-> '[10,-20,30]' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY v <#> '[10,-20,30]' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY v <=> '[10,-20,30]' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY v <+> '[10,-20,30]' LIMIT 5;

-- rows and distances through the index
SELECT id, v, round((v <-> '[10,-20,30]')::numeric, 6) AS l2
FROM items ORDER BY v <-> '[10,-20,30]' LIMIT 5;
SELECT id, v, v <#> '[10,-20,30]' AS neg_ip
FROM items ORDER BY v <#> '[10,-20,30]' LIMIT 5;
SELECT id, v, round((v <=> '[10,-20,30]')::numeric, 6) AS cosine
FROM items ORDER BY v <=> '[10,-20,30]' LIMIT 5;
SELECT id, v, v <+> '[10,-20,30]' AS l1
FROM items ORDER BY v <+> '[10,-20,30]' LIMIT 5;
RESET enable_seqscan;

-- top 10 through each index equals the exact top 10
SELECT op, q, (pg_temp.knn(idx, op, q)).*
FROM (VALUES ('items_l2', '<->'), ('items_ip', '<#>'), ('items_cos', '<=>'), ('items_l1', '<+>')) o(idx, op),
     (VALUES ('[10,-20,30]'::vector), ('[-5,40,-7]')) t(q)
ORDER BY idx, q::text;

-- the query vector is a parameter, or comes from another row (rescans)
SET enable_seqscan = off;
PREPARE knn3(vector) AS SELECT id FROM items ORDER BY v <-> $1 LIMIT 3;
EXECUTE knn3('[10,-20,30]');
EXECUTE knn3('[-5,40,-7]');
DEALLOCATE knn3;
SELECT q.id, ARRAY(SELECT i.id FROM items i ORDER BY i.v <-> q.v LIMIT 3) AS nearest
FROM items q WHERE q.id <= 4 ORDER BY q.id;
EXPLAIN (COSTS OFF)
SELECT q.id, ARRAY(SELECT i.id FROM items i ORDER BY i.v <-> q.v LIMIT 3) AS nearest
FROM items q WHERE q.id <= 4 ORDER BY q.id;
RESET enable_seqscan;
SELECT q.id, pg_temp.ids_exact(format('SELECT id FROM items ORDER BY v <-> %L LIMIT 3', q.v)) AS exact_nearest
FROM items q WHERE q.id <= 4 ORDER BY q.id;

--
-- where the index is not used
--
SET enable_seqscan = off;
-- no ORDER BY: nothing for the index to do
EXPLAIN (COSTS OFF) SELECT id FROM items WHERE v = '[1,2,3]';
EXPLAIN (COSTS OFF) SELECT v FROM items;
-- descending distance: the index only gives closest first
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY v <-> '[1,2,3]' DESC LIMIT 5;
-- a distance with no hnsw opclass behind it
DROP INDEX items_l1;
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY v <+> '[1,2,3]' LIMIT 5;
-- an operand other than the indexed column
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY (v + '[1,1,1]') <-> '[1,2,3]' LIMIT 5;
RESET enable_seqscan;

--
-- the number of rows an index scan gives
--
SET enable_seqscan = off;
-- at most hnsw.ef_search without iterative scans, whatever the LIMIT
SET hnsw.ef_search = 5;
SELECT count(*) FROM (SELECT id FROM items ORDER BY v <-> '[1,2,3]' LIMIT 10) s;
SET hnsw.ef_search = 40;
SELECT count(*) FROM (SELECT id FROM items ORDER BY v <-> '[1,2,3]') s;
-- iterative scans go on past ef_search: relaxed_order returns every row once
SET hnsw.iterative_scan = relaxed_order;
SELECT count(*), count(DISTINCT id) FROM (SELECT id FROM items ORDER BY v <-> '[1,2,3]') s;
-- ... however small ef_search is (the search keeps every element it read)
SET hnsw.ef_search = 1;
SELECT count(*), count(DISTINCT id) FROM (SELECT id FROM items ORDER BY v <-> '[1,2,3]') s;
-- a filter rejecting most rows still fills the LIMIT
SET hnsw.ef_search = 10;
SELECT count(*) FROM (SELECT id FROM items WHERE id % 10 = 0 ORDER BY v <-> '[1,2,3]' LIMIT 5) s;
-- strict_order never returns a row out of distance order
SET hnsw.ef_search = 5;
SET hnsw.iterative_scan = strict_order;
SELECT count(*) > 0 AS some_rows, count(*) <= 100 AS at_most_all,
       bool_and(d >= prev) AS ordered
FROM (SELECT d, lag(d, 1, 0::float8) OVER (ORDER BY n) AS prev
      FROM (SELECT v <-> '[1,2,3]' AS d, row_number() OVER () AS n
            FROM (SELECT v FROM items ORDER BY v <-> '[1,2,3]') s0) s1) s2;
-- max_scan_tuples stops the iterative scan after its first round: it reads
-- no further, and returns what that round read (at least ef_search rows)
SET hnsw.iterative_scan = relaxed_order;
SET hnsw.max_scan_tuples = 1;
SET hnsw.ef_search = 40;
SELECT count(*) >= 40 AS ef_rows, count(*) = count(DISTINCT id) AS each_once
FROM (SELECT id FROM items ORDER BY v <-> '[1,2,3]') s;
RESET hnsw.max_scan_tuples;
-- every row comes back however small ef_search is next to the table: what
-- the search read but held back comes out once it can read no more (was: 2
-- of these 3 rows)
CREATE TABLE three (id int, v vector(3));
INSERT INTO three VALUES (1, '[1,1,1]'), (2, '[2,2,2]'), (3, '[1,1,2]');
CREATE INDEX three_v ON three USING hnsw (v vector_l2_ops);
SET hnsw.ef_search = 1;
EXPLAIN (COSTS OFF) SELECT id FROM three ORDER BY v <-> '[3,3,3]' LIMIT 10;
SET hnsw.iterative_scan = strict_order;
SELECT id FROM three ORDER BY v <-> '[3,3,3]' LIMIT 10;
SELECT id FROM three ORDER BY v <-> '[3,3,3]';
SELECT id, v <-> '[1,1,1]' AS d FROM three ORDER BY v <-> '[1,1,1]';
SET hnsw.iterative_scan = relaxed_order;
SELECT id FROM three ORDER BY v <-> '[3,3,3]' LIMIT 10;
SELECT id FROM three ORDER BY v <-> '[0,0,0]';
-- off: ef_search rows, as before
SET hnsw.iterative_scan = off;
SELECT id FROM three ORDER BY v <-> '[3,3,3]' LIMIT 10;
DROP TABLE three;
RESET hnsw.iterative_scan;
RESET enable_seqscan;
SET hnsw.ef_search = 100;

--
-- options
--
DROP INDEX items_l2;
CREATE INDEX items_l2 ON items USING hnsw (v vector_l2_ops) WITH (m = 16, ef_construction = 64);
SELECT pg_get_indexdef('items_l2'::regclass);
SELECT (pg_temp.knn('items_l2', '<->', '[10,-20,30]')).*;
DROP INDEX items_l2;
-- the smallest allowed graph
CREATE INDEX items_l2 ON items USING hnsw (v vector_l2_ops) WITH (m = 2, ef_construction = 4);
SELECT pg_get_indexdef('items_l2'::regclass);
SET enable_seqscan = off;
SELECT count(*) FROM (SELECT id FROM items ORDER BY v <-> '[10,-20,30]' LIMIT 5) s;
RESET enable_seqscan;
DROP INDEX items_l2;
CREATE INDEX items_l2 ON items USING hnsw (v vector_l2_ops) WITH (m = 100, ef_construction = 1000);
SELECT (pg_temp.knn('items_l2', '<->', '[10,-20,30]')).*;
DROP INDEX items_l2;
-- bad options: 22023
SELECT pg_temp.sqlerr($$CREATE INDEX ON items USING hnsw (v vector_l2_ops) WITH (m = 1)$$);
SELECT pg_temp.sqlerr($$CREATE INDEX ON items USING hnsw (v vector_l2_ops) WITH (m = 101)$$);
SELECT pg_temp.sqlerr($$CREATE INDEX ON items USING hnsw (v vector_l2_ops) WITH (ef_construction = 3)$$);
SELECT pg_temp.sqlerr($$CREATE INDEX ON items USING hnsw (v vector_l2_ops) WITH (ef_construction = 1001)$$);
SELECT pg_temp.sqlerr($$CREATE INDEX ON items USING hnsw (v vector_l2_ops) WITH (m = 16, ef_construction = 31)$$);
SELECT pg_temp.sqlerr($$CREATE INDEX ON items USING hnsw (v vector_l2_ops) WITH (m = 40)$$);
SELECT pg_temp.sqlerr($$CREATE INDEX ON items USING hnsw (v vector_l2_ops) WITH (m = 'abc')$$);
SELECT pg_temp.sqlerr($$CREATE INDEX ON items USING hnsw (v vector_l2_ops) WITH (foo = 1)$$);
-- ef_construction >= 2 * m is checked on an empty table too
CREATE TABLE empty_t (id int, v vector(3));
SELECT pg_temp.sqlerr($$CREATE INDEX ON empty_t USING hnsw (v vector_l2_ops) WITH (m = 16, ef_construction = 31)$$);
-- ... and on an unlogged one (its init fork is built apart)
CREATE UNLOGGED TABLE empty_u (id int, v vector(3));
SELECT pg_temp.sqlerr($$CREATE INDEX ON empty_u USING hnsw (v vector_l2_ops) WITH (m = 16, ef_construction = 31)$$);
DROP TABLE empty_t, empty_u;
-- what hnsw cannot index: 42704 no opclass, 0A000 unsupported
SELECT pg_temp.sqlerr($$CREATE INDEX ON items USING hnsw (v)$$);
SELECT pg_temp.sqlerr($$CREATE INDEX ON items USING hnsw (id)$$);
SELECT pg_temp.sqlerr($$CREATE INDEX ON items USING hnsw (id int4_ops)$$);
SELECT pg_temp.sqlerr($$CREATE INDEX ON items USING hnsw (id vector_l2_ops)$$);
SELECT pg_temp.sqlerr($$CREATE INDEX ON items USING hnsw (v vector_l2_ops, v vector_ip_ops)$$);
SELECT pg_temp.sqlerr($$CREATE INDEX ON items USING hnsw (v vector_l2_ops) INCLUDE (id)$$);
SELECT pg_temp.sqlerr($$CREATE UNIQUE INDEX ON items USING hnsw (v vector_l2_ops)$$);
CREATE INDEX items_l2 ON items USING hnsw (v vector_l2_ops);
SELECT pg_temp.sqlerr($$CLUSTER items USING items_l2$$);
DROP INDEX items_l2;
SELECT count(*) AS hnsw_indexes_left FROM pg_class c JOIN pg_am a ON a.oid = c.relam WHERE a.amname = 'hnsw';

--
-- settings
--
RESET hnsw.ef_search;
SHOW hnsw.ef_search;
SHOW hnsw.iterative_scan;
SHOW hnsw.max_scan_tuples;
SHOW hnsw.scan_mem_multiplier;
SELECT name, setting, vartype, min_val, max_val, enumvals, context
FROM pg_settings WHERE name LIKE 'hnsw.%' ORDER BY name;
SET hnsw.ef_search = 1;
SET hnsw.ef_search = 1000;
SHOW hnsw.ef_search;
SET hnsw.iterative_scan = strict_order;
SET hnsw.iterative_scan = 'relaxed_order';
SET hnsw.iterative_scan = off;
SHOW hnsw.iterative_scan;
SET hnsw.max_scan_tuples = 2147483647;
SET hnsw.scan_mem_multiplier = 2.5;
SHOW hnsw.scan_mem_multiplier;
SELECT pg_temp.sqlerr($$SET hnsw.ef_search = 0$$);
SELECT pg_temp.sqlerr($$SET hnsw.ef_search = 1001$$);
SELECT pg_temp.sqlerr($$SET hnsw.ef_search = 'many'$$);
SELECT pg_temp.sqlerr($$SET hnsw.iterative_scan = 'bad'$$);
SELECT pg_temp.sqlerr($$SET hnsw.iterative_scan = on$$);
SELECT pg_temp.sqlerr($$SET hnsw.max_scan_tuples = 0$$);
SELECT pg_temp.sqlerr($$SET hnsw.scan_mem_multiplier = 0.5$$);
SELECT pg_temp.sqlerr($$SET hnsw.scan_mem_multiplier = 1001$$);
-- the hnsw. prefix is reserved: typos are caught
SELECT pg_temp.sqlerr($$SET hnsw.ef_serach = 10$$);
RESET hnsw.ef_search;
RESET hnsw.iterative_scan;
RESET hnsw.max_scan_tuples;
RESET hnsw.scan_mem_multiplier;
SET hnsw.ef_search = 100;

--
-- NULL and zero vectors
--
CREATE TABLE nz (id int, v vector(2));
INSERT INTO nz VALUES (1, '[1,0]'), (2, '[0,1]'), (3, NULL), (4, '[0,0]'), (5, '[1,1]');
CREATE INDEX nz_cos ON nz USING hnsw (v vector_cosine_ops);
CREATE INDEX nz_l2 ON nz USING hnsw (v vector_l2_ops);
SET enable_seqscan = off;
-- cosine: neither NULL nor the zero vector is in the index
SELECT id, v, round((v <=> '[1,0.1]')::numeric, 6) AS cosine FROM nz ORDER BY v <=> '[1,0.1]' LIMIT 10;
-- l2: the zero vector is, NULL is not
SELECT id, v, round((v <-> '[1,0.1]')::numeric, 6) AS l2 FROM nz ORDER BY v <-> '[1,0.1]' LIMIT 10;
-- the same after inserts into the built indexes
INSERT INTO nz VALUES (6, NULL), (7, '[0,0]'), (8, '[-1,0]');
SELECT id, v, round((v <=> '[1,0.1]')::numeric, 6) AS cosine FROM nz ORDER BY v <=> '[1,0.1]' LIMIT 10;
-- (4 and 7 tie: sorted by id afterwards)
SELECT * FROM (SELECT id, v, round((v <-> '[1,0.1]')::numeric, 6) AS l2 FROM nz ORDER BY v <-> '[1,0.1]' LIMIT 10) s
ORDER BY l2, id;
RESET enable_seqscan;
-- a sequential scan returns every row (NaN and NULL distances last)
SET enable_indexscan = off;
SELECT id, v, v <=> '[1,0.1]' AS cosine FROM nz ORDER BY v <=> '[1,0.1]', id;
RESET enable_indexscan;
-- a zero query vector has no cosine distance to anything
SET enable_seqscan = off;
-- (every distance is NaN: no order to pin, only that the scan ends cleanly)
SELECT count(*) <= 4 AS at_most_the_indexed_rows FROM (SELECT id FROM nz ORDER BY v <=> '[0,0]' LIMIT 10) s;
RESET enable_seqscan;
-- an index over nothing but NULLs and zero vectors
CREATE TABLE nz_only (id int, v vector(2));
INSERT INTO nz_only VALUES (1, NULL), (2, '[0,0]');
CREATE INDEX ON nz_only USING hnsw (v vector_cosine_ops);
SET enable_seqscan = off;
SELECT id FROM nz_only ORDER BY v <=> '[1,1]' LIMIT 10;
INSERT INTO nz_only VALUES (3, '[2,2]');
SELECT id FROM nz_only ORDER BY v <=> '[1,1]' LIMIT 10;
RESET enable_seqscan;
DROP TABLE nz, nz_only;

--
-- duplicates
--
CREATE TABLE dup (id int, v vector(3));
INSERT INTO dup SELECT i, '[1,2,3]' FROM generate_series(1, 20) i;
INSERT INTO dup VALUES (21, '[1,2,4]'), (22, '[0,0,1]'), (23, '[5,5,5]');
CREATE INDEX dup_l2 ON dup USING hnsw (v vector_l2_ops);
RESET hnsw.ef_search;
SET enable_seqscan = off;
SELECT count(*), min(id), max(id), count(DISTINCT id)
FROM (SELECT id FROM dup ORDER BY v <-> '[1,2,3]' LIMIT 20) s;
SELECT id, v FROM dup ORDER BY v <-> '[1,2,3]' OFFSET 20;
-- more copies through aminsert, and under cosine
INSERT INTO dup SELECT i, '[1,2,3]' FROM generate_series(24, 33) i;
SELECT count(*), count(DISTINCT id), bool_and(v = '[1,2,3]') AS all_copies
FROM (SELECT id, v FROM dup ORDER BY v <-> '[1,2,3]' LIMIT 30) s;
SELECT id, v FROM dup ORDER BY v <-> '[1,2,3]' OFFSET 30;
CREATE INDEX dup_cos ON dup USING hnsw (v vector_cosine_ops);
SELECT count(*), count(DISTINCT id), bool_and(v = '[1,2,3]') AS all_copies
FROM (SELECT id, v FROM dup ORDER BY v <=> '[2,4,6]' LIMIT 30) s;
-- VACUUM takes the heap TIDs of deleted copies out of the shared elements
DELETE FROM dup WHERE id % 4 <> 0 AND v = '[1,2,3]';
VACUUM dup;
SELECT array_agg(id ORDER BY id) FROM (SELECT id FROM dup ORDER BY v <-> '[1,2,3]' LIMIT 40) s;
INSERT INTO dup SELECT i, '[1,2,3]' FROM generate_series(34, 40) i;
SELECT array_agg(id ORDER BY id) FROM (SELECT id FROM dup ORDER BY v <-> '[1,2,3]' LIMIT 40) s;
RESET enable_seqscan;
DROP TABLE dup;
SET hnsw.ef_search = 100;

--
-- inserts, updates, deletes and VACUUM
--
CREATE TABLE mut (id int, v vector(3));
CREATE INDEX mut_l2 ON mut USING hnsw (v vector_l2_ops);
SET enable_seqscan = off;
-- an empty index
SELECT id FROM mut ORDER BY v <-> '[1,2,3]' LIMIT 5;
-- filled by aminsert only
INSERT INTO mut SELECT id, v FROM items WHERE id <= 60;
RESET enable_seqscan;
SELECT (pg_temp.knn('mut_l2', '<->', '[10,-20,30]')).*;
SELECT (pg_temp.knn('mut_l2', '<->', '[-5,40,-7]')).*;
-- deleted rows are gone at once (heap visibility), and after VACUUM
DELETE FROM mut WHERE id % 2 = 1;
SELECT (pg_temp.knn('mut_l2', '<->', '[10,-20,30]')).*;
VACUUM mut;
SELECT (pg_temp.knn('mut_l2', '<->', '[10,-20,30]')).*;
SELECT (pg_temp.knn('mut_l2', '<->', '[-5,40,-7]')).*;
-- every remaining row is still reachable
SET enable_seqscan = off;
SELECT count(*), count(*) FILTER (WHERE id % 2 = 1) AS deleted
FROM (SELECT id FROM mut ORDER BY v <-> '[0,0,0]' LIMIT 100) s;
RESET enable_seqscan;
-- the rest of the rows after VACUUM
INSERT INTO mut SELECT id, v FROM items WHERE id > 60;
SELECT (pg_temp.knn('mut_l2', '<->', '[10,-20,30]')).*;
SELECT (pg_temp.knn('mut_l2', '<->', '[-5,40,-7]')).*;
-- an update moves a row
UPDATE mut SET v = '[10,-20,31]' WHERE id = 2;
SELECT (pg_temp.knn('mut_l2', '<->', '[10,-20,30]', 3)).*;
-- everything deleted and vacuumed, then new rows
DELETE FROM mut;
VACUUM mut;
SET enable_seqscan = off;
SELECT id FROM mut ORDER BY v <-> '[1,2,3]' LIMIT 5;
INSERT INTO mut VALUES (1, '[1,1,1]'), (2, '[2,2,2]'), (3, '[3,3,3]');
SELECT id FROM mut ORDER BY v <-> '[2.1,2.1,2.1]' LIMIT 5;
RESET enable_seqscan;
-- VACUUM FULL rebuilds the index
INSERT INTO mut SELECT id + 100, v FROM items;
DELETE FROM mut WHERE id < 150;
VACUUM FULL mut;
SELECT (pg_temp.knn('mut_l2', '<->', '[10,-20,30]')).*;
DROP TABLE mut;

--
-- unlogged tables, TRUNCATE, REINDEX, CONCURRENTLY, DROP
--
CREATE UNLOGGED TABLE ul (id int, v vector(3));
INSERT INTO ul SELECT id, v FROM items;
CREATE INDEX ul_l2 ON ul USING hnsw (v vector_l2_ops);
SELECT relpersistence FROM pg_class WHERE relname = 'ul_l2';
SELECT (pg_temp.knn('ul_l2', '<->', '[10,-20,30]')).*;
TRUNCATE ul;
SET enable_seqscan = off;
SELECT id FROM ul ORDER BY v <-> '[1,2,3]' LIMIT 5;
RESET enable_seqscan;
INSERT INTO ul SELECT id, v FROM items WHERE id <= 50;
SELECT (pg_temp.knn('ul_l2', '<->', '[-5,40,-7]')).*;
REINDEX INDEX ul_l2;
SELECT (pg_temp.knn('ul_l2', '<->', '[-5,40,-7]')).*;
DROP TABLE ul;

CREATE TABLE conc (id int, v vector(3));
INSERT INTO conc SELECT id, v FROM items;
CREATE INDEX CONCURRENTLY conc_cos ON conc USING hnsw (v vector_cosine_ops) WITH (m = 8, ef_construction = 32);
SELECT indisvalid, indisready FROM pg_index WHERE indexrelid = 'conc_cos'::regclass;
SELECT (pg_temp.knn('conc_cos', '<=>', '[10,-20,30]')).*;
REINDEX INDEX conc_cos;
SELECT (pg_temp.knn('conc_cos', '<=>', '[-5,40,-7]')).*;
REINDEX INDEX CONCURRENTLY conc_cos;
SELECT pg_get_indexdef('conc_cos'::regclass);
SELECT (pg_temp.knn('conc_cos', '<=>', '[10,-20,30]')).*;
REINDEX TABLE conc;
SELECT (pg_temp.knn('conc_cos', '<=>', '[-5,40,-7]')).*;
DROP INDEX CONCURRENTLY conc_cos;
DROP INDEX IF EXISTS conc_cos;
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM conc ORDER BY v <=> '[1,2,3]' LIMIT 5;
RESET enable_seqscan;
DROP TABLE conc;

--
-- expression and partial indexes
--
CREATE TABLE expr (id int, v vector);
INSERT INTO expr SELECT id, v FROM items;
CREATE INDEX expr_l2 ON expr USING hnsw ((v::vector(3)) vector_l2_ops);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM expr ORDER BY v::vector(3) <-> '[10,-20,30]' LIMIT 5;
SELECT id FROM expr ORDER BY v::vector(3) <-> '[10,-20,30]' LIMIT 5;
-- the cast checks every row's dimensions
SELECT pg_temp.sqlerr($$INSERT INTO expr VALUES (0, '[1,2]')$$);
DROP INDEX expr_l2;
CREATE INDEX expr_sub ON expr USING hnsw ((subvector(v, 1, 2)) vector_l2_ops);
EXPLAIN (COSTS OFF) SELECT id FROM expr ORDER BY subvector(v, 1, 2) <-> '[10,-20]' LIMIT 5;
SELECT id FROM expr ORDER BY subvector(v, 1, 2) <-> '[10,-20]' LIMIT 5;
DROP INDEX expr_sub;
CREATE INDEX expr_part ON expr USING hnsw (v vector_l2_ops) WHERE id <= 50;
EXPLAIN (COSTS OFF) SELECT id FROM expr WHERE id <= 50 ORDER BY v <-> '[10,-20,30]' LIMIT 5;
SELECT id FROM expr WHERE id <= 50 ORDER BY v <-> '[10,-20,30]' LIMIT 5;
-- the predicate does not cover this query
EXPLAIN (COSTS OFF) SELECT id FROM expr ORDER BY v <-> '[10,-20,30]' LIMIT 5;
RESET enable_seqscan;
SET enable_indexscan = off;
SELECT id FROM expr ORDER BY v::vector(3) <-> '[10,-20,30]' LIMIT 5;
SELECT id FROM expr ORDER BY subvector(v, 1, 2) <-> '[10,-20]' LIMIT 5;
SELECT id FROM expr WHERE id <= 50 ORDER BY v <-> '[10,-20,30]' LIMIT 5;
RESET enable_indexscan;
DROP TABLE expr;

--
-- dimensions: one index holds one dimension count (22000)
--
CREATE TABLE dims (id int, v vector);
INSERT INTO dims VALUES (1, '[1,2]'), (2, '[1,2,3]');
SELECT pg_temp.sqlerr($$CREATE INDEX ON dims USING hnsw (v vector_l2_ops)$$);
SELECT pg_temp.sqlerr($$CREATE INDEX ON dims USING hnsw (v vector_cosine_ops)$$);
DELETE FROM dims WHERE id = 2;
CREATE INDEX dims_l2 ON dims USING hnsw (v vector_l2_ops);
SELECT pg_temp.sqlerr($$INSERT INTO dims VALUES (3, '[1,2,3]')$$);
SELECT pg_temp.sqlerr($$INSERT INTO dims VALUES (3, '[1]')$$);
INSERT INTO dims VALUES (4, '[3,4]');
SELECT id, v FROM dims ORDER BY id;
-- a query vector of another dimension
SET enable_seqscan = off;
SELECT pg_temp.sqlerr($$SELECT id FROM dims ORDER BY v <-> '[1,2,3]' LIMIT 1$$);
SELECT id FROM dims ORDER BY v <-> '[3,3.9]' LIMIT 5;
RESET enable_seqscan;
DROP TABLE dims;

--
-- vectors larger than a page
--
CREATE TABLE big (id int, v vector(3000));
INSERT INTO big
SELECT i, (SELECT array_agg(((i * j) % 101)::real) FROM generate_series(1, 3000) j)
FROM generate_series(1, 100) i;
-- 1MB does not hold the graph: the build goes on in the index (with a NOTICE)
SET maintenance_work_mem = '1MB';
SET client_min_messages = warning;
CREATE INDEX big_l2 ON big USING hnsw (v vector_l2_ops);
RESET client_min_messages;
RESET maintenance_work_mem;
-- the values are small integers: stored exactly as one byte per component,
-- one element per page with room for links
SELECT pg_relation_size('big_l2') BETWEEN 100 * 3000 AND 100 * 8192 AS holds_byte_vectors;
INSERT INTO big SELECT id + 100, v FROM big WHERE id <= 5;
CREATE TEMP TABLE big_q AS SELECT v FROM big WHERE id = 7;
SET enable_seqscan = off;
SELECT id, round((v <-> (SELECT v FROM big_q))::numeric, 4) AS l2 FROM big ORDER BY v <-> (SELECT v FROM big_q) LIMIT 3;
RESET enable_seqscan;
SELECT (pg_temp.knn('big_l2', '<->', (SELECT v FROM big_q))).*;
DROP TABLE big;

--
-- precision: half (default) stores float16 values whose distances are lower
-- bounds; the executor rechecks them against the heap rows, so the order is
-- exact.  These values are not exactly representable in float16.
--
CREATE TABLE fl (id int PRIMARY KEY, v vector(40));
INSERT INTO fl
SELECT i, (SELECT array_agg(sin(i * 0.7 + j * 1.3) * (1 + (i % 7)) + 0.001 * j) FROM generate_series(1, 40) j)
FROM generate_series(1, 300) i;
CREATE INDEX fl_l2 ON fl USING hnsw (v vector_l2_ops);
CREATE INDEX fl_ip ON fl USING hnsw (v vector_ip_ops);
CREATE INDEX fl_cos ON fl USING hnsw (v vector_cosine_ops);
CREATE INDEX fl_l1 ON fl USING hnsw (v vector_l1_ops);
CREATE TABLE flf AS SELECT * FROM fl;
CREATE INDEX flf_full ON flf USING hnsw (v vector_l2_ops) WITH (precision = full);
SET hnsw.ef_search = 300;
CREATE TEMP TABLE fl_q AS SELECT v FROM fl WHERE id IN (5, 77, 123) UNION ALL SELECT '[0.5,-1,2,0.25,3,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,1,1]';
-- every opclass returns the exact 10 nearest, in exact order
SELECT op, bool_and((pg_temp.knn(idx, op, q.v)).exact) AS all_exact
FROM (VALUES ('fl_l2', '<->'), ('fl_ip', '<#>'), ('fl_cos', '<=>'), ('fl_l1', '<+>'), ('flf_full', '<->')) x(idx, op),
     fl_q q GROUP BY op, idx ORDER BY idx;
-- the distances the executor returns are exact (rechecked), and sorted
SET enable_seqscan = off;
SELECT array_agg(d ORDER BY n) = array_agg(d ORDER BY d) AS sorted, count(*)
FROM (SELECT row_number() OVER () AS n, d FROM
      (SELECT v <=> (SELECT v FROM fl_q LIMIT 1) AS d FROM fl
       ORDER BY v <=> (SELECT v FROM fl_q LIMIT 1) LIMIT 50) s) t;
RESET enable_seqscan;
-- half precision is smaller (at 40 dimensions the links weigh as much as the values)
SELECT pg_relation_size('fl_l2') < pg_relation_size('flf_full') AS half_is_smaller;
SELECT relname, reloptions FROM pg_class WHERE relname IN ('fl_l2', 'flf_full') ORDER BY relname;
SELECT pg_temp.sqlerr($$CREATE INDEX ON fl USING hnsw (v) WITH (precision = quarter)$$);
-- values float16 cannot hold (too large, or so small they would lose
-- their digits) are stored in full, in the same index
INSERT INTO fl SELECT 1000 + i, (SELECT array_agg(CASE WHEN j = 1 THEN 1e6 * i * i ELSE j END) FROM generate_series(1, 40) j)
FROM generate_series(1, 3) i;
INSERT INTO fl SELECT 2000 + i, (SELECT array_agg(1e-9 * (i + j)) FROM generate_series(1, 40) j)
FROM generate_series(1, 3) i;
SELECT (pg_temp.knn('fl_l2', '<->', (SELECT v FROM fl WHERE id = 1002), 3)).*;
SELECT (pg_temp.knn('fl_cos', '<=>', (SELECT v FROM fl WHERE id = 2002))).exact;
SELECT (pg_temp.knn('fl_ip', '<#>', (SELECT v FROM fl WHERE id = 1003))).exact;
-- recheck under iterative scans with a filter
SET hnsw.iterative_scan = strict_order;
SET hnsw.ef_search = 10;
SELECT pg_temp.ids_index(stmt, 'fl_l2') = pg_temp.ids_exact(stmt) AS filtered_exact
FROM (SELECT format('SELECT id FROM fl WHERE id %% 10 = 3 ORDER BY v <-> %L::vector LIMIT 5',
                    (SELECT v FROM fl WHERE id = 5)) AS stmt) s;
RESET hnsw.iterative_scan;
DROP TABLE fl, flf;

-- integer components within a span of 256 (pixels, SIFT, int8 embeddings)
-- are stored exactly, one byte each, above their minimum; those spanning
-- more, or too large for a float to hold every integer, are not.  The
-- answers are exact with no recheck to rely on.
CREATE TABLE iv (id int PRIMARY KEY, v vector(400));
INSERT INTO iv
SELECT i, (SELECT array_agg(floor(127 * sin(i * 0.7 + j * 1.3 + i * j * 0.01))) FROM generate_series(1, 400) j)
FROM generate_series(1, 300) i;
-- span 256, and a non-integer: not bytes
INSERT INTO iv VALUES
  (301, array_fill(0, ARRAY[399]) || ARRAY[256]::real[]),
  (302, array_fill(3, ARRAY[399]) || ARRAY[3.5]::real[]);
CREATE INDEX iv_l2 ON iv USING hnsw (v vector_l2_ops);
CREATE INDEX iv_ip ON iv USING hnsw (v vector_ip_ops);
CREATE INDEX iv_cos ON iv USING hnsw (v vector_cosine_ops);
CREATE INDEX iv_l1 ON iv USING hnsw (v vector_l1_ops);
-- the same values plus one half: exact in float16, but two bytes each
CREATE TABLE ivh AS SELECT id, v + array_fill(0.5, ARRAY[400])::vector AS v FROM iv WHERE id <= 300;
CREATE INDEX ivh_l2 ON ivh USING hnsw (v vector_l2_ops);
-- far from zero (10^6: beyond float16), and beyond 2^24 (not bytes)
CREATE TABLE ivo AS SELECT id, v + array_fill(1000000, ARRAY[400])::vector AS v FROM iv WHERE id <= 100;
INSERT INTO ivo VALUES (303, array_fill(20000000, ARRAY[400])::real[]);
CREATE INDEX ivo_l2 ON ivo USING hnsw (v vector_l2_ops);
SET hnsw.ef_search = 400;
SELECT op, bool_and((pg_temp.knn(idx, op, q.v)).exact) AS all_exact
FROM (VALUES ('iv_l2', '<->'), ('iv_ip', '<#>'), ('iv_cos', '<=>'), ('iv_l1', '<+>')) x(idx, op),
     (SELECT id, v FROM iv WHERE id IN (3, 150, 290, 301, 302)) q
-- (301 has one non-zero component: many rows tie on its inner product)
WHERE q.id <> 301 OR x.op <> '<#>'
GROUP BY op, idx ORDER BY idx;
SELECT bool_and((pg_temp.knn('ivo_l2', '<->', v)).exact) AS offset_exact FROM ivo WHERE id IN (3, 50, 99);
SELECT pg_relation_size('iv_l2') < 0.8 * pg_relation_size('ivh_l2') AS bytes_are_smaller;
RESET hnsw.ef_search;
DROP TABLE iv, ivh, ivo;

-- every SIMD kernel table decodes float16 and bytes alike: the searches
-- (ef_search >= rows) give the exact answers under each (45 dimensions:
-- vector tails too)
CREATE TABLE hk (id int PRIMARY KEY, v vector(45));
INSERT INTO hk
SELECT i, (SELECT array_agg(cos(i * 1.1 + j * 0.37) * (1 + (i % 5)) - 0.002 * j) FROM generate_series(1, 45) j)
FROM generate_series(1, 200) i;
CREATE INDEX hk_l2 ON hk USING hnsw (v vector_l2_ops);
CREATE TABLE hk2 AS SELECT * FROM hk;
CREATE INDEX hk2_cos ON hk2 USING hnsw (v vector_cosine_ops);
CREATE TABLE hk3 AS SELECT id, (SELECT array_agg(round(x * 20)) FROM unnest(v::real[]) x)::vector(45) AS v FROM hk;
CREATE INDEX hk3_l2 ON hk3 USING hnsw (v vector_l2_ops);
SET hnsw.ef_search = 200;
CREATE TEMP TABLE hk_answers (kernel text, exact boolean);
DO $$
DECLARE k text;
BEGIN
	FOR k IN SELECT embed_simd_kernels() LOOP
		EXECUTE format('SET embed.simd = %L', k);
		INSERT INTO hk_answers
		SELECT k, (pg_temp.knn(x.idx, x.op, q.v)).exact
		FROM (VALUES ('hk_l2', '<->'), ('hk2_cos', '<=>')) x(idx, op),
		     (SELECT v FROM hk WHERE id % 40 = 7) q;
		INSERT INTO hk_answers
		SELECT k, (pg_temp.knn('hk3_l2', '<->', q.v)).exact
		FROM (SELECT v FROM hk3 WHERE id % 40 = 7) q;
	END LOOP;
	RESET embed.simd;
END $$;
SELECT count(DISTINCT kernel) = (SELECT count(*) FROM embed_simd_kernels()) AS every_kernel,
       count(*) FILTER (WHERE exact) = count(*) AS all_exact
FROM hk_answers;
DROP TABLE hk, hk2, hk3, hk_answers;
-- parallel builds: the leader and two workers insert into one graph in
-- shared memory.  Graphs built in parallel depend on timing, so what is
-- checked holds for any good graph: recall against the exact answer, and
-- every row reachable exactly once.
--
CREATE TABLE pb AS
SELECT i AS id, ARRAY(SELECT sin(0.37 * j * (1 + i % 7) + 0.011 * i) FROM generate_series(1, 200) j)::vector(200) AS v
FROM generate_series(1, 5000) i;
-- rows with the same value share an element (heap TIDs joined in parallel)
INSERT INTO pb SELECT id + 5000, v FROM pb WHERE id <= 300;
ALTER TABLE pb SET (parallel_workers = 2);
SET max_parallel_maintenance_workers = 2;
SET min_parallel_table_scan_size = 0;
SET maintenance_work_mem = '128MB';
SET client_min_messages = debug1;
CREATE INDEX pb_l2 ON pb USING hnsw (v vector_l2_ops);
RESET client_min_messages;
SET hnsw.ef_search = 40;
SELECT embed_index_recall('pb_l2', 50, 10) >= 0.9 AS good_recall;
SET hnsw.iterative_scan = relaxed_order;
SET enable_seqscan = off;
SELECT count(*) AS entries, count(DISTINCT id) AS distinct_rows
FROM (SELECT id FROM pb ORDER BY v <-> (SELECT v FROM pb WHERE id = 1) LIMIT 10000) s;
RESET enable_seqscan;
RESET hnsw.iterative_scan;
DROP TABLE pb;

-- a graph larger than maintenance_work_mem: written out when the shared
-- region fills (a NOTICE, whichever process finds it full), the build goes on
-- in the index.  64MB is the least that gets a worker; 16000-d values (mostly
-- zeros, so the table stays small) stored at full precision fill it with ~1000
-- rows.
CREATE UNLOGGED TABLE pbig (id int, v vector(16000));
INSERT INTO pbig
SELECT i, array_cat(ARRAY[(i * 37) % 101, (i * 59) % 103]::real[], array_fill(0::real, ARRAY[15998]))
FROM generate_series(1, 1300) i;
ALTER TABLE pbig SET (parallel_workers = 1);
SET maintenance_work_mem = '64MB';
\set VERBOSITY terse
SET client_min_messages = debug1;
CREATE INDEX pbig_l2 ON pbig USING hnsw (v vector_l2_ops) WITH (m = 8, ef_construction = 32, precision = full);
RESET client_min_messages;
\set VERBOSITY default
RESET maintenance_work_mem;
SELECT pg_relation_size('pbig_l2') > 64 * 1024 * 1024 AS larger_than_memory;
SELECT embed_index_recall('pbig_l2', 20, 10) >= 0.9 AS good_recall;
SET hnsw.iterative_scan = relaxed_order;
SET enable_seqscan = off;
SELECT count(*) AS entries, count(DISTINCT id) AS distinct_rows
FROM (SELECT id FROM pbig ORDER BY v <-> (SELECT v FROM pbig WHERE id = 1) LIMIT 2000) s;
RESET enable_seqscan;
RESET hnsw.iterative_scan;
RESET max_parallel_maintenance_workers;
RESET min_parallel_table_scan_size;
DROP TABLE pbig;

-- ORDER BY v <op> $1 with $1 NULL (a generic plan: a literal NULL is folded
-- away): every distance is NULL, so every live row comes out once
CREATE INDEX items_null ON items USING hnsw (v vector_l2_ops);
SET plan_cache_mode = force_generic_plan;
SET enable_seqscan = off;
SET enable_sort = off;
PREPARE by_null(vector) AS SELECT id FROM items ORDER BY v <-> $1 LIMIT 200;
EXPLAIN (COSTS OFF) EXECUTE by_null(NULL);
CREATE TEMP TABLE null_ids AS EXECUTE by_null(NULL);
SELECT count(*), count(DISTINCT id) FROM null_ids;
DEALLOCATE by_null;
RESET enable_sort;
RESET enable_seqscan;
RESET plan_cache_mode;
DROP INDEX items_null;

RESET hnsw.ef_search;
DROP TABLE items;

-- embed_index_check: clean after build, inserts, deletes and VACUUM (counts
-- that depend on the graph's random levels are not shown)
CREATE TABLE chk (id int, v vector(3));
INSERT INTO chk SELECT i, ARRAY[i % 7, i % 11, i % 13] FROM generate_series(1, 1000) i;
INSERT INTO chk VALUES (1001, NULL), (1002, '[0,0,0]');
CREATE INDEX chk_l2 ON chk USING hnsw (v vector_l2_ops);
CREATE INDEX chk_cos ON chk USING hnsw (v vector_cosine_ops) WITH (precision = full);
CREATE INDEX chk_expr ON chk USING hnsw ((ARRAY[id % 17, id % 5, 1]::vector(3)) vector_l2_ops) WHERE id % 2 = 0;
SELECT i AS idx, c.heap_tids, c.heap_rows, c.unreachable >= 0 AS counted
FROM unnest(ARRAY['chk_l2', 'chk_cos', 'chk_expr']) i, embed_index_check(i::regclass) c;
DELETE FROM chk WHERE id % 3 = 0;
UPDATE chk SET v = v + '[1,1,1]' WHERE id % 10 = 1;
INSERT INTO chk SELECT i, ARRAY[i % 5, i % 17, i % 3] FROM generate_series(2001, 2500) i;
-- dead rows still in the index: heap_tids counts them, heap_rows does not
SELECT i AS idx, c.heap_tids, c.heap_rows
FROM unnest(ARRAY['chk_l2', 'chk_cos', 'chk_expr']) i, embed_index_check(i::regclass) c;
VACUUM chk;
SELECT i AS idx, c.heap_tids, c.heap_rows, c.unreachable >= 0 AS counted
FROM unnest(ARRAY['chk_l2', 'chk_cos', 'chk_expr']) i, embed_index_check(i::regclass) c;
SELECT heap_tids, heap_rows IS NULL AS not_scanned FROM embed_index_check('chk_l2', heapallindexed => false);
-- values on overflow pages
CREATE TABLE chk_big (id int, v vector(3000));
INSERT INTO chk_big SELECT i, array_fill(i::real / 7, ARRAY[3000]) FROM generate_series(1, 40) i;
CREATE INDEX chk_big_l2 ON chk_big USING hnsw (v vector_l2_ops) WITH (precision = full);
DELETE FROM chk_big WHERE id % 4 = 0;
VACUUM chk_big;
INSERT INTO chk_big SELECT i, array_fill(i::real / 3, ARRAY[3000]) FROM generate_series(41, 50) i;
SELECT pages > 40 * 2 AS overflowed, heap_tids, heap_rows FROM embed_index_check('chk_big_l2');
-- not one of embed's indexes, not an index, no permission: clear errors
CREATE INDEX chk_btree ON chk (id);
CREATE FUNCTION pg_temp.check_error(idx text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	PERFORM embed_index_check(idx::regclass);
	RETURN 'clean';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
SELECT pg_temp.check_error('chk_btree');
SELECT pg_temp.check_error('chk');
CREATE ROLE regress_embed_check;
SET ROLE regress_embed_check;
SELECT pg_temp.check_error('chk_l2');
RESET ROLE;
DROP ROLE regress_embed_check;
DROP TABLE chk, chk_big;
