-- kmeans(), vector_nearest(), pca(), vector_project() (src/analytics.c)
\i sql/include/setup.sql

-- a vector's components rounded, so that results are exact on every CPU
CREATE FUNCTION pg_temp.r(v vector, d int DEFAULT 4) RETURNS numeric[] LANGUAGE sql AS
$$ SELECT array_agg(round(x::numeric, d) ORDER BY o) FROM unnest(v::real[]) WITH ORDINALITY u(x, o) $$;

--
-- kmeans
--
CREATE TABLE km (id int, g text, v vector);
-- two well-separated squares (group a), two points (group b), a NULL
INSERT INTO km VALUES
	(1, 'a', '[0,0]'), (2, 'a', '[0,1]'), (3, 'a', '[1,0]'), (4, 'a', '[1,1]'),
	(5, 'a', '[10,10]'), (6, 'a', '[10,11]'), (7, 'a', '[11,10]'), (8, 'a', '[11,11]'),
	(9, 'b', '[5,5]'), (10, 'b', '[7,7]'), (11, 'a', NULL);
-- the centroids are the squares' centres, exactly
SELECT kmeans(v, 2) FROM km WHERE g = 'a';
SELECT pg_typeof(kmeans(v, 2)) FROM km;
-- the result does not depend on the order rows arrive in
SELECT (SELECT kmeans(v, 2) FROM (SELECT v FROM km WHERE g = 'a' ORDER BY id) s) =
       (SELECT kmeans(v, 2) FROM (SELECT v FROM km WHERE g = 'a' ORDER BY id DESC) s) AS order_independent;
-- GROUP BY
SELECT g, kmeans(v, 2) FROM km GROUP BY g ORDER BY g;
-- k = 1 is the mean; k = rows puts a centroid on every point
SELECT kmeans(v, 1) FROM km WHERE g = 'a';
SELECT array(SELECT c FROM unnest(kmeans(v, 4)) c ORDER BY c) FROM km WHERE id IN (1, 4, 5, 9);
-- labelling every row with its nearest centroid (1-based; NULL for NULL)
WITH k AS (SELECT kmeans(v, 2) AS c FROM km WHERE g = 'a')
SELECT id, vector_nearest(v, c) AS cluster, c[vector_nearest(v, c)] AS centroid FROM km, k ORDER BY id;
-- ties go to the first centroid
SELECT vector_nearest('[1,1]', ARRAY['[0,0]', '[2,2]', '[0,0]']::vector[]),
       vector_nearest('[1,1]', ARRAY['[3,3]', '[2,2]', '[0,0]']::vector[]);
-- duplicates count: the mean of three [0,0] and one [4,0]
SELECT kmeans(v, 1) FROM (VALUES ('[0,0]'::vector), ('[0,0]'), ('[4,0]'), ('[0,0]')) t(v);
-- centroids stored in a table (out of line: decoded once per query and
-- stored array) label rows as the same arrays in memory do
CREATE TABLE kmwide AS
SELECT i, (SELECT array_agg((i % 3) * 10 + (j % 5) * 0.1 + (i % 7) * 0.01 ORDER BY j)
           FROM generate_series(1, 300) j)::vector AS v
FROM generate_series(1, 60) i;
CREATE TABLE kmstored (id int, c vector[]);
ALTER TABLE kmstored ALTER c SET STORAGE EXTERNAL;
INSERT INTO kmstored SELECT 1, kmeans(v, 3) FROM kmwide;
INSERT INTO kmstored
SELECT 2, array_agg(x ORDER BY o DESC) FROM kmstored, unnest(c) WITH ORDINALITY u(x, o) WHERE id = 1;
SELECT pg_relation_size(reltoastrelid) > 0 AS out_of_line FROM pg_class WHERE oid = 'kmstored'::regclass;
SELECT s.id, count(*) AS labelled,
       count(*) FILTER (WHERE vector_nearest(w.v, s.c) = vector_nearest(w.v, (s.c || '{}'::vector[]))) AS same,
       count(DISTINCT vector_nearest(w.v, s.c)) AS clusters
FROM kmwide w, kmstored s GROUP BY s.id ORDER BY s.id;
-- both arrays in one scan, alternating: the cached matrix follows the argument
SELECT count(*) FILTER (WHERE l[1] + l[2] = 4) AS mirrored, count(*) AS all_rows
FROM (SELECT w.i, array_agg(vector_nearest(w.v, s.c) ORDER BY s.id) AS l
      FROM kmwide w CROSS JOIN kmstored s GROUP BY w.i) t;
-- and pca projections stored the same way
CREATE TABLE pcstored (p vector[]);
ALTER TABLE pcstored ALTER p SET STORAGE EXTERNAL;
INSERT INTO pcstored SELECT pca(v, 2) FROM kmwide;
SELECT count(*) AS rows,
       count(*) FILTER (WHERE vector_project(w.v, s.p) = vector_project(w.v, s.p || '{}'::vector[])) AS same
FROM kmwide w, pcstored s;
-- no rows, only NULLs: NULL
SELECT kmeans(v, 2) FROM km WHERE false;
SELECT kmeans(v, 2) FROM km WHERE v IS NULL;

-- cosine (spherical k-means): unit-length centroids of the rows' directions
CREATE TABLE kmc (id int, v vector);
INSERT INTO kmc VALUES (1, '[1,0]'), (2, '[2,0]'), (3, '[5,0]'), (4, '[0,1]'), (5, '[0,3]'),
	(6, '[0,0]');	-- a zero vector has no direction: skipped
SELECT array(SELECT c FROM unnest(kmeans(v, 2, 'cosine')) c ORDER BY c) FROM kmc;
SELECT array(SELECT c FROM unnest(kmeans(v, 2, 'l2')) c ORDER BY c) FROM kmc;
WITH k AS (SELECT kmeans(v, 2, 'cosine') AS c FROM kmc)
SELECT id, c[vector_nearest(v, c, 'cosine')] AS centroid FROM kmc, k ORDER BY id;
-- by cosine the direction counts, not the distance
SELECT vector_nearest('[10,1]', ARRAY['[0,1]', '[1,0]']::vector[], 'cosine') AS cosine,
       vector_nearest('[10,1]', ARRAY['[0,1]', '[100,0]']::vector[]) AS l2;

-- halfvec: halfvec[] centroids
SELECT kmeans(v::halfvec, 2), pg_typeof(kmeans(v::halfvec, 2)) FROM km WHERE g = 'a';
SELECT array(SELECT c FROM unnest(kmeans(v::halfvec, 2, 'cosine')) c ORDER BY c) FROM kmc;
WITH k AS (SELECT kmeans(v::halfvec, 2) AS c FROM km WHERE g = 'a')
SELECT id, vector_nearest(v::halfvec, c), vector_nearest(v::halfvec, c, 'cosine') FROM km, k WHERE id IN (1, 8) ORDER BY id;

-- more distinct rows than the sample holds (10,000 for small k): two
-- clusters of 12,000 rows each, the sample chosen by content, still
-- order-independent
CREATE TABLE kmbig AS
SELECT i, ARRAY[(i % 2) * 100 + (i % 1000) * 0.002 - 1, (i % 2) * -50 + (i / 2 % 999) * 0.002 - 1]::vector AS v
FROM generate_series(1, 24000) i;
SELECT count(DISTINCT v) AS distinct_rows FROM kmbig;
SELECT array(SELECT pg_temp.r(c, 0) FROM unnest(kmeans(v, 2)) c ORDER BY c) FROM kmbig;
SELECT (SELECT kmeans(v, 2) FROM (SELECT v FROM kmbig ORDER BY i) s) =
       (SELECT kmeans(v, 2) FROM (SELECT v FROM kmbig ORDER BY i DESC) s) AS order_independent;

-- many centroids (above 1,024 k-means works on two levels, src/kmeans.h):
-- 1,250 tight groups of four rows on a 50 x 25 grid, 10 apart; every group
-- gets a centroid of its own, whichever of the ~36 top groups it fell in
CREATE TABLE kmmany AS
SELECT g, j, ARRAY[(g % 50) * 10 + j * 0.001, (g / 50) * 10 + (j % 2) * 0.001]::vector AS v
FROM generate_series(0, 1249) g, generate_series(0, 3) j;
WITH k AS (SELECT kmeans(v, 1250) AS c FROM kmmany),
     l AS (SELECT g, vector_nearest(v, c) AS n FROM kmmany, k)
SELECT (SELECT cardinality(c) FROM k) AS centroids, count(DISTINCT n) AS clusters_used,
       count(DISTINCT (g, n)) AS group_cluster_pairs
FROM l;
-- and as many centroids as distinct rows (1,100 grid points): one on every row
WITH p AS (SELECT ARRAY[i % 40, i / 40]::vector AS v FROM generate_series(0, 1099) i),
     k AS (SELECT kmeans(v, 1100) AS c FROM p)
SELECT cardinality(c) AS centroids,
       (SELECT count(DISTINCT vector_nearest(v, c)) FROM p) AS clusters_used,
       (SELECT count(*) FROM p WHERE l2_distance(v, c[vector_nearest(v, c)]) > 0) AS off_centre
FROM k;

--
-- pca
--
-- points on the line (1, 2, -1) t + (0, 1, 0): the axis is (1, 2, -1) / sqrt(6)
CREATE TABLE pc (i int, v vector);
INSERT INTO pc SELECT i, ARRAY[i, 2 * i + 1, -i]::vector FROM generate_series(1, 10) i;
SELECT pg_temp.r(p[1]) AS mean, pg_temp.r(p[2]) AS axis, pg_typeof(p), array_length(p, 1)
FROM (SELECT pca(v, 1) AS p FROM pc) s;
SELECT round((1 / sqrt(6))::numeric, 4) AS "1/sqrt(6)";
-- the projection is the signed distance along the axis from the mean
WITH p AS (SELECT pca(v, 1) AS p FROM pc)
SELECT i, pg_temp.r(vector_project(v, p)) AS projected, round(((i - 5.5) * sqrt(6))::numeric, 4) AS expected
FROM pc, p ORDER BY i;
-- an axis-aligned cross: axes in order of variance, unit length, largest component positive
CREATE TABLE pcx (v vector);
INSERT INTO pcx VALUES ('[-3,0,1]'), ('[3,0,1]'), ('[0,-1,1]'), ('[0,1,1]');
SELECT pg_temp.r(p[1]) AS mean, pg_temp.r(p[2]) AS axis1, pg_temp.r(p[3]) AS axis2
FROM (SELECT pca(v, 2) AS p FROM pcx) s;
SELECT pg_temp.r(vector_project('[3,1,1]', (SELECT pca(v, 2) FROM pcx)));
-- identical rows: no variance, the axes are the coordinate axes
SELECT pca(v, 3) FROM (SELECT '[1,2,3]'::vector FROM generate_series(1, 5)) t(v);
-- exact small case (variances 1/2 and 1/6 along (1,0,-1) and (1,0,1)); no negative zeros
SELECT pg_temp.r(p[1]) AS mean, pg_temp.r(p[2]) AS axis1, pg_temp.r(p[3]) AS axis2,
       p::text !~ '-0[],]' AS no_negative_zero
FROM (SELECT pca(v, 2) AS p FROM (VALUES ('[1,2,3]'::vector), ('[2,2,3]'), ('[1,2,4]')) t(v)) s;
-- the same for halfvec input (the result stays vector[])
SELECT pg_temp.r(p[2]) AS axis, pg_typeof(p) FROM (SELECT pca(v::halfvec, 1) AS p FROM pc) s;
SELECT pg_temp.r(vector_project('[3,1,1]'::halfvec, (SELECT pca(v, 2) FROM pcx)));
-- GROUP BY; NULLs skipped; no rows: NULL
INSERT INTO pc VALUES (11, NULL);
SELECT i % 2 AS g, pg_temp.r(p[1]) AS mean, pg_temp.r(p[2]) AS axis
FROM (SELECT i % 2 AS i, pca(v, 1) AS p FROM pc GROUP BY i % 2) s ORDER BY g;
SELECT pca(v, 1) FROM pc WHERE false;
-- as window functions: the final functions leave the state usable
SELECT i, pg_temp.r(p[1]) AS mean, pg_temp.r(p[2]) AS axis, k
FROM (SELECT i, pca(v, 1) OVER w AS p, kmeans(v, 1) OVER w AS k FROM pc WHERE i <= 10
      WINDOW w AS (ORDER BY i ROWS BETWEEN UNBOUNDED PRECEDING AND 1 FOLLOWING)) s ORDER BY i;
-- accurate far from the origin (float8 moments, centred per batch)
SELECT pg_temp.r(p[1], 1) AS mean, pg_temp.r(p[2]) AS axis
FROM (SELECT pca(ARRAY[1e6 + i * 0.01, 1e6 - i * 0.01]::vector, 1) AS p FROM generate_series(1, 1000) i) s;
-- a planted axis in 100 dimensions, through every batch and tile boundary
CREATE TABLE pch AS
SELECT i, (SELECT array_agg(CASE WHEN j = 37 THEN (i % 11 - 5) * 10.0 ELSE ((i * j) % 7 - 3) * 0.01 END ORDER BY j)
           FROM generate_series(1, 100) j)::vector AS v
FROM generate_series(1, 1000) i;
SELECT array_position(pg_temp.r(p[2], 2), 1.00) AS axis_at, round(vector_norm(p[2])::numeric, 4) AS norm
FROM (SELECT pca(v, 3) AS p FROM pch) s;

-- every SIMD kernel table (embed.simd) gives the same axes and centroids
CREATE TEMP TABLE an_simd (name text, p numeric[], c vector[]);
DO $$
DECLARE
	k text;
BEGIN
	FOR k IN SELECT * FROM embed_simd_kernels() LOOP
		PERFORM set_config('embed.simd', k, true);
		INSERT INTO an_simd
		SELECT k, (SELECT array_agg(pg_temp.r(x, 3)) FROM unnest(pca(v, 3)) x), NULL FROM pch;
		UPDATE an_simd SET c = (SELECT kmeans(v, 2) FROM kmbig) WHERE name = k;
	END LOOP;
END $$;
RESET embed.simd;
SELECT count(*) >= 1 AS tables, count(DISTINCT p) AS distinct_pca, count(DISTINCT c) AS distinct_kmeans
FROM an_simd;

--
-- parallel aggregation must give the serial result
--
CREATE TABLE anpar AS
SELECT i, ARRAY[(i % 3) * 20 + (i % 7) * 0.1, (i % 3) * -10 + (i % 5) * 0.1, i % 4]::vector AS v
FROM generate_series(1, 6000) i;
ANALYZE anpar;
SET max_parallel_workers_per_gather = 0;
CREATE TEMP TABLE an_serial AS SELECT kmeans(v, 3) AS k, kmeans(v, 3, 'cosine') AS kc, pca(v, 2) AS p FROM anpar;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
EXPLAIN (COSTS OFF) SELECT kmeans(v, 3), pca(v, 2) FROM anpar;
SELECT k = (SELECT k FROM an_serial) AS kmeans_same, kc = (SELECT kc FROM an_serial) AS cosine_same,
       array(SELECT pg_temp.r(x, 3) FROM unnest(p) x) = array(SELECT pg_temp.r(x, 3) FROM unnest((SELECT p FROM an_serial)) x) AS pca_same
FROM (SELECT kmeans(v, 3) AS k, kmeans(v, 3, 'cosine') AS kc, pca(v, 2) AS p FROM anpar) s;
RESET parallel_leader_participation;
RESET max_parallel_workers_per_gather;
RESET min_parallel_table_scan_size;
RESET parallel_tuple_cost;
RESET parallel_setup_cost;

--
-- errors
--
SELECT pg_temp.sqlerr($$SELECT kmeans(v, 0) FROM km$$);
SELECT pg_temp.sqlerr($$SELECT kmeans(v, NULL) FROM km$$);
SELECT pg_temp.sqlerr($$SELECT kmeans(v, 11) FROM km$$);
SELECT pg_temp.sqlerr($$SELECT kmeans(v, 6, 'cosine') FROM kmc$$);
SELECT pg_temp.sqlerr($$SELECT kmeans(v, 2) FROM (VALUES ('[1,2]'::vector), ('[1,2]'), ('[1,2]')) t(v)$$);
SELECT pg_temp.sqlerr($$SELECT kmeans(v, 2, 'dot') FROM km$$);
SELECT pg_temp.sqlerr($$SELECT kmeans(v, id) FROM km$$);
SELECT pg_temp.sqlerr($$SELECT kmeans(v, 1) FROM (VALUES ('[1,2]'::vector), ('[1,2,3]')) t(v)$$);
SELECT pg_temp.sqlerr($$SELECT kmeans(v, 100000000) FROM (VALUES (array_fill(1, ARRAY[16000])::vector)) t(v)$$);
SELECT pg_temp.sqlerr($$SELECT vector_nearest('[1,2]', ARRAY['[1,2,3]']::vector[])$$);
SELECT pg_temp.sqlerr($$SELECT vector_nearest('[1,2]', ARRAY[]::vector[])$$);
SELECT pg_temp.sqlerr($$SELECT vector_nearest('[1,2]', ARRAY['[1,2]', NULL]::vector[])$$);
SELECT pg_temp.sqlerr($$SELECT vector_nearest('[1,2]', ARRAY['[1,2]']::vector[], 'l1')$$);
SELECT vector_nearest('[0,0]', ARRAY['[1,2]']::vector[], 'cosine') AS zero_has_no_direction,
       vector_nearest('[1,2]', NULL::vector[]) AS null_array;
SELECT pg_temp.sqlerr($$SELECT pca(v, 0) FROM pc$$);
SELECT pg_temp.sqlerr($$SELECT pca(v, 4) FROM pc$$);
SELECT pg_temp.sqlerr($$SELECT pca(v, 2) FROM pc WHERE i <= 2$$);
SELECT pg_temp.sqlerr($$SELECT pca(v, 1) FROM (VALUES ('[1,2]'::vector), ('[1,2,3]')) t(v)$$);
SELECT pg_temp.sqlerr($$SELECT pca(v, 1) FROM (VALUES (array_fill(1, ARRAY[5000])::vector)) t(v)$$);
SELECT pg_temp.sqlerr($$SELECT vector_project('[1,2]', ARRAY['[1,2]']::vector[])$$);
SELECT pg_temp.sqlerr($$SELECT vector_project('[1,2]', ARRAY['[1,2]', '[1,2,3]']::vector[])$$);
