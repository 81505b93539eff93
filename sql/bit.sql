-- bit strings as binary codes: hamming_distance, jaccard_distance, <~>,
-- <%>, hnsw's bit_hamming_ops / bit_jaccard_ops and ivfflat's bit_hamming_ops
-- (alone and as the binary_quantize expression index with re-ranking from
-- pgvector's README).
\i sql/include/setup.sql

SELECT hamming_distance(B'10110', B'10011') AS h, B'10110' <~> B'10011' AS op,
       jaccard_distance(B'10110', B'10011') AS j, B'10110' <%> B'10011' AS jop;
-- whole 64-bit words, then the tail; every SIMD table gives the same counts
CREATE FUNCTION pg_temp.bit_kernels(a bit, b bit) RETURNS TABLE (h float8, j numeric, tables int)
LANGUAGE plpgsql AS $$
DECLARE t text; hs float8[] := '{}'; js numeric[] := '{}';
BEGIN
	FOR t IN SELECT embed_simd_kernels() LOOP
		PERFORM set_config('embed.simd', t, true);
		hs := hs || hamming_distance(a, b);
		js := js || round(jaccard_distance(a, b)::numeric, 6);
	END LOOP;
	PERFORM set_config('embed.simd', 'auto', true);
	IF (SELECT count(DISTINCT x) FROM unnest(hs) x) <> 1 OR (SELECT count(DISTINCT x) FROM unnest(js) x) <> 1 THEN
		RAISE EXCEPTION 'kernels disagree: % %', hs, js;
	END IF;
	RETURN QUERY SELECT hs[1], js[1], cardinality(hs);
END $$;
SELECT h, j, tables >= 1 AS ran FROM pg_temp.bit_kernels(repeat('1011', 50)::bit(200), repeat('0110', 50)::bit(200));
SELECT h, j FROM pg_temp.bit_kernels(repeat('1', 7)::bit(7), repeat('0', 7)::bit(7));
SELECT hamming_distance(B'', B'') AS empty_h, jaccard_distance(B'0000', B'0000') AS all_zero_j,
       jaccard_distance(B'1100', B'1100') AS same_j, jaccard_distance(B'1100', B'0011') AS disjoint_j;
SELECT pg_temp.sqlerr($$SELECT hamming_distance(B'101', B'1011')$$);
SELECT pg_temp.sqlerr($$SELECT B'101' <%> B'1011'$$);
SELECT hamming_distance(NULL, B'1') IS NULL AS strict;

-- binary codes of real-valued vectors, indexed
CREATE TABLE bq (id int PRIMARY KEY, v vector(64));
INSERT INTO bq SELECT i, (SELECT array_agg(sin(i * 0.37 + j * 1.7 + (i % 7) * j * 0.11)) FROM generate_series(1, 64) j)::vector
FROM generate_series(1, 2000) i;
CREATE TABLE bits AS SELECT id, binary_quantize(v)::bit(64) AS b FROM bq;
CREATE INDEX bits_h ON bits USING hnsw (b bit_hamming_ops);
CREATE INDEX bits_j ON bits USING hnsw (b bit_jaccard_ops);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM bits ORDER BY b <~> (SELECT b FROM bits WHERE id = 1) LIMIT 5;
-- Hamming distances are small integers with many ties: compare the distances
-- of the k found with the exact k smallest, not the ids
CREATE FUNCTION pg_temp.bit_recall(op text, k int) RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE hits int := 0; total int := 0; q record; kth float8; got float8[];
BEGIN
	FOR q IN SELECT id, b FROM bits WHERE id % 100 = 0 LOOP
		SET LOCAL enable_seqscan = on; SET LOCAL enable_indexscan = off;
		EXECUTE format('SELECT max(d) FROM (SELECT b %s $1 AS d FROM bits ORDER BY 1 LIMIT %s) s', op, k)
			INTO kth USING q.b;
		SET LOCAL enable_seqscan = off; SET LOCAL enable_indexscan = on;
		EXECUTE format('SELECT array_agg(d) FROM (SELECT b %s $1 AS d FROM bits ORDER BY b %s $1 LIMIT %s) s', op, op, k)
			INTO got USING q.b;
		hits := hits + (SELECT count(*) FROM unnest(got) d WHERE d <= kth);
		total := total + k;
	END LOOP;
	RETURN round(hits::numeric / total, 2);
END $$;
SELECT pg_temp.bit_recall('<~>', 10) >= 0.9 AS hamming_recall_ok,
       pg_temp.bit_recall('<%>', 10) >= 0.9 AS jaccard_recall_ok;
-- rows come out in distance order through the index
SELECT bool_and(d >= lag) AS ordered FROM (
	SELECT d, lag(d, 1, 0::float8) OVER () AS lag FROM (
		SELECT b <~> (SELECT b FROM bits WHERE id = 7) AS d FROM bits
		ORDER BY b <~> (SELECT b FROM bits WHERE id = 7) LIMIT 50) s) t;

-- pgvector's recipe: an expression index on the binary code, re-ranked by
-- the exact distance
CREATE INDEX bq_bin ON bq USING hnsw ((binary_quantize(v)::bit(64)) bit_hamming_ops);
SET hnsw.ef_search = 100;
EXPLAIN (COSTS OFF)
SELECT id FROM (SELECT id, v FROM bq ORDER BY binary_quantize(v)::bit(64) <~> $$1$$::bit(64) LIMIT 20) s
ORDER BY v <=> (SELECT v FROM bq WHERE id = 5);
SELECT count(*) AS reranked FROM (
	SELECT id FROM (
		SELECT id, v FROM bq
		ORDER BY binary_quantize(v)::bit(64) <~> (SELECT binary_quantize(v)::bit(64) FROM bq WHERE id = 5)
		LIMIT 20) s
	ORDER BY v <=> (SELECT v FROM bq WHERE id = 5) LIMIT 5) r;
SELECT id = 5 AS self_first FROM (
	SELECT id FROM (
		SELECT id, v FROM bq
		ORDER BY binary_quantize(v)::bit(64) <~> (SELECT binary_quantize(v)::bit(64) FROM bq WHERE id = 5)
		LIMIT 20) s
	ORDER BY v <=> (SELECT v FROM bq WHERE id = 5) LIMIT 1) r;
RESET hnsw.ef_search;
RESET enable_seqscan;

-- a wide code (3,072 bits, as for text-embedding-3-large) indexes too
CREATE TABLE wide AS SELECT i AS id, (SELECT string_agg(CASE WHEN sin(i * j * 0.013) > 0 THEN '1' ELSE '0' END, '')
	FROM generate_series(1, 3072) j)::bit(3072) AS b FROM generate_series(1, 200) i;
CREATE INDEX wide_h ON wide USING hnsw (b bit_hamming_ops);
SET enable_seqscan = off;
SELECT id FROM wide ORDER BY b <~> (SELECT b FROM wide WHERE id = 42) LIMIT 1;
RESET enable_seqscan;

-- ivfflat bit_hamming_ops: k-means on the bits as 0/1 floats, lists holding
-- the bits, exact Hamming distances; with every list probed a scan is exact
DROP INDEX bits_h, bits_j, bq_bin, wide_h;
CREATE INDEX bits_ivf ON bits USING ivfflat (b bit_hamming_ops) WITH (lists = 10);
SELECT * FROM embed_index_check('bits_ivf');
SET enable_seqscan = off;
SET ivfflat.probes = 10;
EXPLAIN (COSTS OFF) SELECT id FROM bits ORDER BY b <~> (SELECT b FROM bits WHERE id = 1) LIMIT 5;
-- the k distances found equal the exact k smallest (ties make ids arbitrary)
CREATE FUNCTION pg_temp.ivf_bit_exact(k int) RETURNS TABLE (queries bigint, exact bigint) LANGUAGE plpgsql AS $$
DECLARE q record; want float8[]; got float8[]; n bigint := 0; ok bigint := 0;
BEGIN
	FOR q IN SELECT id, b FROM bits WHERE id % 100 = 0 LOOP
		SET LOCAL enable_seqscan = on; SET LOCAL enable_indexscan = off;
		SELECT array_agg(d ORDER BY d) INTO want FROM (SELECT b <~> q.b AS d FROM bits ORDER BY 1 LIMIT k) s;
		SET LOCAL enable_seqscan = off; SET LOCAL enable_indexscan = on;
		SELECT array_agg(d) INTO got FROM (SELECT b <~> q.b AS d FROM bits ORDER BY b <~> q.b LIMIT k) s;
		n := n + 1;
		ok := ok + (got = want)::int;
	END LOOP;
	RETURN QUERY SELECT n, ok;
END $$;
SELECT * FROM pg_temp.ivf_bit_exact(10);
SELECT * FROM pg_temp.ivf_bit_exact(100);
-- no LIMIT: every row once, in distance order
SELECT count(*) AS n, count(DISTINCT id) AS distinct_ids, bool_and(d >= lag) AS ordered FROM (
	SELECT id, d, lag(d, 1, 0::float8) OVER () AS lag FROM (
		SELECT id, b <~> (SELECT b FROM bits WHERE id = 7) AS d FROM bits
		ORDER BY b <~> (SELECT b FROM bits WHERE id = 7)) s) t;
-- rows inserted after the build are found, NULLs are not indexed
INSERT INTO bits VALUES (5001, (SELECT ~b FROM bits WHERE id = 7)), (5002, NULL);
SELECT b <~> (SELECT ~b FROM bits WHERE id = 7) AS d FROM bits
ORDER BY b <~> (SELECT ~b FROM bits WHERE id = 7) LIMIT 1;
SELECT * FROM embed_index_check('bits_ivf');
-- one probe reads one list: fewer rows, still in order
SET ivfflat.probes = 1;
SELECT count(*) < 2001 AS one_list FROM (SELECT id FROM bits ORDER BY b <~> (SELECT b FROM bits WHERE id = 7)) s;
SET ivfflat.probes = 10;
-- pgvector's recipe on ivfflat: the binary code as an expression index
CREATE INDEX bq_ivf ON bq USING ivfflat ((binary_quantize(v)::bit(64)) bit_hamming_ops) WITH (lists = 10);
SELECT id = 5 AS self_first FROM (
	SELECT id FROM (
		SELECT id, v FROM bq
		ORDER BY binary_quantize(v)::bit(64) <~> (SELECT binary_quantize(v)::bit(64) FROM bq WHERE id = 5)
		LIMIT 20) s
	ORDER BY v <=> (SELECT v FROM bq WHERE id = 5) LIMIT 1) r;
-- a wide code
CREATE INDEX wide_ivf ON wide USING ivfflat (b bit_hamming_ops) WITH (lists = 2);
SELECT id FROM wide ORDER BY b <~> (SELECT b FROM wide WHERE id = 42) LIMIT 1;
-- errors: a query of another length; no Jaccard and no ivfrabitq (as pgvector)
SELECT pg_temp.sqlerr($$SELECT id FROM bits ORDER BY b <~> B'101' LIMIT 1$$);
SELECT pg_temp.sqlerr($$CREATE INDEX ON bits USING ivfflat (b bit_jaccard_ops)$$);
SELECT pg_temp.sqlerr($$CREATE INDEX ON bits USING ivfrabitq (b bit_hamming_ops)$$);
-- up to 64,000 bits (a page's worth), then ERROR 54000
CREATE TABLE huge (id int, b bit(64001));
INSERT INTO huge VALUES (1, repeat('10', 32000)::bit(64001));
SELECT pg_temp.sqlerr($$CREATE INDEX ON huge USING ivfflat (b bit_hamming_ops) WITH (lists = 1)$$);
CREATE TABLE big (id int, b bit(64000));
INSERT INTO big SELECT i, (repeat('0', i) || repeat('1', 64000 - i))::bit(64000) FROM generate_series(1, 3) i;
CREATE INDEX big_ivf ON big USING ivfflat (b bit_hamming_ops) WITH (lists = 1);
-- hnsw has the same limit (the type layer's): a declared size above it, or
-- a value above it under an expression of undeclared size, is ERROR 54000
CREATE TABLE huge2 (id int, b bit(70000));
SELECT pg_temp.sqlerr($$CREATE INDEX ON huge2 USING hnsw (b bit_hamming_ops)$$);
SELECT pg_temp.sqlerr($$CREATE INDEX ON huge USING hnsw (b bit_jaccard_ops)$$);
CREATE INDEX huge2_expr ON huge2 USING hnsw ((set_bit(b, 0, 1)) bit_hamming_ops);
SELECT pg_temp.sqlerr($$INSERT INTO huge2 VALUES (1, repeat('01', 35000)::bit(70000))$$);
DROP INDEX huge2_expr;
INSERT INTO huge2 VALUES (1, repeat('01', 35000)::bit(70000));
SELECT pg_temp.sqlerr($$CREATE INDEX ON huge2 USING hnsw ((set_bit(b, 0, 1)) bit_hamming_ops)$$);
-- 64,000 bits build
CREATE INDEX big_h ON big USING hnsw (b bit_hamming_ops);
SET enable_seqscan = off;
SELECT id FROM big ORDER BY b <~> repeat('1', 64000)::bit(64000) LIMIT 1;
RESET enable_seqscan;
SELECT id, b <~> repeat('1', 64000)::bit(64000) AS d FROM big ORDER BY b <~> repeat('1', 64000)::bit(64000);
RESET ivfflat.probes;
RESET enable_seqscan;
DROP TABLE bq, bits, wide, huge, huge2, big;
