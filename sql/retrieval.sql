-- Retrieval building blocks (src/retrieval.c): rrf_score (reciprocal rank
-- fusion) and max_sim (multi-vector late interaction), with the README's
-- multi-vector index recipe checked against an exact scan.  Expected values
-- were computed independently in Python (double precision, from the same
-- float32 inputs) and are stored here; max_sim accumulates in float32 like
-- every SIMD distance, so results are compared to within 1e-5.
-- test/data/max-sim-expected.py recomputes the stored values.
\i sql/include/setup.sql

-- rrf_score: 1 / (k + rank), k defaults to 60
SELECT rrf_score(1) = 1.0 / 61 AS k60, rrf_score(1, 0) AS r1k0, rrf_score(4, 0) AS r4k0,
       rrf_score(3, 7) AS r3k7;
SELECT rrf_score(NULL) IS NULL AS null_rank, rrf_score(1, NULL) IS NULL AS null_k;
SELECT rrf_score(9223372036854775807, 2147483647) > 0 AS huge;
SELECT stmt, pg_temp.sqlerr(stmt) FROM (VALUES
	('SELECT rrf_score(0)'),
	('SELECT rrf_score(-3, 60)'),
	('SELECT rrf_score(1, -1)')) t(stmt);

-- fusing two rankings of keys 'a'..'e' (one misses 'e', the other 'd'):
-- 'b', second in both, beats 'a' and 'c', each first in one ranking only
WITH r1(id, pos) AS (VALUES ('a', 1), ('b', 2), ('d', 3), ('c', 4)),
     r2(id, pos) AS (VALUES ('c', 1), ('b', 2), ('e', 3), ('a', 4))
SELECT id, round((coalesce(rrf_score(r1.pos), 0) + coalesce(rrf_score(r2.pos), 0))::numeric, 6) AS score
FROM r1 FULL JOIN r2 USING (id)
ORDER BY score DESC, id;

-- max_sim(q, d) = sum over q's vectors of the max inner product with d's vectors
-- q1 = [1,0]: max(0.5, 2) = 2;  q2 = [0,1]: max(0.5, -1) = 0.5
SELECT max_sim(ARRAY['[1,0]', '[0,1]']::vector[], ARRAY['[0.5,0.5]', '[2,-1]']::vector[]);
-- not symmetric: [0.5,0.5] -> 0.5, [2,-1] -> 2
SELECT max_sim(ARRAY['[0.5,0.5]', '[2,-1]']::vector[], ARRAY['[1,0]', '[0,1]']::vector[]);
-- a single vector on each side is the inner product; negative maxima count
SELECT max_sim(ARRAY['[1,2,3]']::vector[], ARRAY['[4,-5,6]']::vector[]) AS ip,
       max_sim(ARRAY['[-1,-1]']::vector[], ARRAY['[1,2]', '[3,1]']::vector[]) AS negative;
-- float32 accumulation overflows: recomputed in double
SELECT max_sim(ARRAY['[1e20,1e20]']::vector[], ARRAY['[1e20,1e20]', '[1,1]']::vector[]) AS big;
-- the portable kernels give the same result as the best this CPU has
-- (37 dimensions: not a multiple of any SIMD width)
CREATE TABLE mv_simd AS
SELECT array_agg(array_fill(0.25 * i, ARRAY[37])::vector) AS q,
       array_agg(array_fill(-0.5 + i, ARRAY[37])::vector) AS d
FROM generate_series(1, 3) i;
SET embed.simd = 'portable';
CREATE TABLE mv_simd_portable AS SELECT max_sim(q, d) AS s FROM mv_simd;
RESET embed.simd;
SELECT s AS portable, max_sim(q, d) = s AS same FROM mv_simd, mv_simd_portable;
DROP TABLE mv_simd, mv_simd_portable;

-- errors and NULLs
SELECT max_sim(NULL, ARRAY['[1,2]']::vector[]) IS NULL AS null_query,
       max_sim(ARRAY['[1,2]']::vector[], NULL) IS NULL AS null_doc;
SELECT pg_temp.sqlerr(stmt) FROM (VALUES
	($$SELECT max_sim(ARRAY['[1,2]', NULL]::vector[], ARRAY['[1,2]']::vector[])$$),
	($$SELECT max_sim(ARRAY['[1,2]']::vector[], ARRAY[NULL, '[1,2]']::vector[])$$),
	($$SELECT max_sim(ARRAY[]::vector[], ARRAY['[1,2]']::vector[])$$),
	($$SELECT max_sim(ARRAY['[1,2]']::vector[], '{}'::vector[])$$),
	($$SELECT max_sim(ARRAY['[1,2]', '[1,2,3]']::vector[], ARRAY['[1,2]']::vector[])$$),
	($$SELECT max_sim(ARRAY['[1,2]']::vector[], ARRAY['[1,2]', '[1,2,3]']::vector[])$$),
	($$SELECT max_sim(ARRAY['[1,2,3]']::vector[], ARRAY['[1,2]']::vector[])$$),
	($$SELECT max_sim(ARRAY[ARRAY['[1,2]', '[3,4]']]::vector[], ARRAY['[1,2]']::vector[])$$)) t(stmt);

-- Multi-vector documents through an index (the README's recipe): 200
-- documents of 3 to 7 token vectors of 16 dimensions, from a fixed hash
-- (the same in the Python that computed the expected values).
CREATE FUNCTION mv_rnd(h bigint) RETURNS float8 LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
	h := ((h # (h >> 16)) * 73244475) % 4294967296;
	h := ((h # (h >> 16)) * 73244475) % 4294967296;
	h := h # (h >> 16);
	RETURN h::float8 / 4294967296 - 0.5;
END $$;
CREATE FUNCTION mv_token(d int, t int) RETURNS vector LANGUAGE sql IMMUTABLE AS $$
	SELECT array_agg(mv_rnd(d * 10007 + t * 101 + c) ORDER BY c)::vector(16)
	FROM generate_series(1, 16) c
$$;

-- one row per token vector, with an hnsw index; the documents keep their
-- token vectors as vector[] for the rerank
CREATE TABLE mv_tokens (doc_id int NOT NULL, tok int NOT NULL, v vector(16) NOT NULL);
INSERT INTO mv_tokens
SELECT d, t, mv_token(d, t) FROM generate_series(1, 200) d, generate_series(1, 3 + d % 5) t;
CREATE TABLE mv_docs (id int PRIMARY KEY, tokens vector[] NOT NULL);
INSERT INTO mv_docs SELECT doc_id, array_agg(v ORDER BY tok) FROM mv_tokens GROUP BY doc_id;
CREATE INDEX mv_tokens_v ON mv_tokens USING hnsw (v vector_ip_ops);
ANALYZE mv_tokens, mv_docs;
SELECT count(*) AS tokens, count(DISTINCT doc_id) AS docs FROM mv_tokens;

-- the query: 4 vectors (Python's "document 0")
CREATE TABLE mv_query AS SELECT array_agg(mv_token(0, t) ORDER BY t) AS q FROM generate_series(1, 4) t;

-- max_sim of a few documents, against Python's values
SELECT d.id, abs(max_sim(q.q, d.tokens) - e.expected) < 1e-5 AS ok
FROM mv_docs d JOIN (VALUES (1, 0.8971890322909212), (2, 1.1730479656941148),
                            (3, 2.389992111420959), (200, 1.2585471318069206)) e(id, expected) USING (id),
     mv_query q
ORDER BY d.id;

-- the exact top 5 (every document scored), against Python's
SELECT d.id, round(max_sim(q.q, d.tokens)::numeric, 4) AS score,
       abs(max_sim(q.q, d.tokens) - e.expected) < 1e-5 AS ok
FROM mv_docs d, mv_query q,
     (VALUES (54, 2.916193361981201), (68, 2.7171054605707345), (192, 2.5249254709820637),
             (74, 2.5032046578163167), (173, 2.411543072759093)) e(id, expected)
WHERE e.id = d.id
ORDER BY max_sim(q.q, d.tokens) DESC;
CREATE TABLE mv_exact AS
SELECT d.id FROM mv_docs d, mv_query q ORDER BY max_sim(q.q, d.tokens) DESC LIMIT 5;
SELECT array_agg(id) AS exact_top5 FROM mv_exact;

-- the recipe: candidates are the documents of the k nearest tokens of each
-- query vector (index scans), reranked by max_sim.  How many of the exact
-- top 5 it finds depends on k: Python, with an exact token search, gives
-- 18 candidates and 3 of 5 for k = 5, 34 and 4 for k = 10, 64 and 5 for
-- k = 20.  (Random token vectors are a hard case: real token embeddings of
-- a relevant document sit close to the query's.)
SET enable_seqscan = off;
EXPLAIN (COSTS OFF)
SELECT doc_id FROM mv_tokens ORDER BY v <#> '[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]' LIMIT 20;
CREATE FUNCTION mv_search(k int) RETURNS TABLE (candidates bigint, found bigint, top int[])
LANGUAGE sql AS $$
	WITH candidates AS (
		SELECT DISTINCT hit.doc_id
		FROM mv_query q, unnest(q.q) AS qv,
		     LATERAL (SELECT t.doc_id FROM mv_tokens t ORDER BY t.v <#> qv LIMIT k) hit
	), top AS (
		SELECT d.id, max_sim(q.q, d.tokens) AS score
		FROM candidates c JOIN mv_docs d ON d.id = c.doc_id, mv_query q
		ORDER BY score DESC
		LIMIT 5
	)
	SELECT (SELECT count(*) FROM candidates),
	       (SELECT count(*) FROM top JOIN mv_exact USING (id)),
	       (SELECT array_agg(id ORDER BY score DESC) FROM top)
$$;
SELECT k, s.* FROM unnest(ARRAY[5, 10, 20]) k, mv_search(k) s;
RESET enable_seqscan;
-- with k = 20, the same five documents in the same order as the exact scan
SELECT (mv_search(20)).top = (SELECT array_agg(id) FROM mv_exact) AS same_as_exact;

DROP FUNCTION mv_search(int), mv_token(int, int), mv_rnd(bigint);
DROP TABLE mv_tokens, mv_docs, mv_query, mv_exact;
