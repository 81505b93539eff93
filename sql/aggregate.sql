-- avg(vector) and sum(vector)
\i sql/include/setup.sql

CREATE TABLE agg_t (g int, v vector);
-- no rows: NULL
SELECT avg(v), sum(v) FROM agg_t;
INSERT INTO agg_t VALUES (1, '[1,2,3]'), (1, '[3,4,5]'), (2, '[1,1,1]'), (2, NULL), (3, NULL);
-- NULLs are skipped
SELECT avg(v), sum(v), count(v) FROM agg_t;
SELECT g, avg(v), sum(v) FROM agg_t GROUP BY g ORDER BY g;
SELECT avg(v) FILTER (WHERE g = 1) AS g1, sum(v) FILTER (WHERE false) AS none FROM agg_t;
SELECT avg(v), sum(v) FROM (VALUES ('[0.5,-1.5]'::vector)) t(v);
SELECT avg(v) FROM (VALUES ('[1,2]'::vector), ('[2,3]')) t(v);
SELECT avg(v) FROM (VALUES ('[0.1]'::vector), ('[0.1]'), ('[0.1]')) t(v);
-- the aggregates are typed
SELECT pg_typeof(avg(v)), pg_typeof(sum(v)) FROM agg_t;
-- float8 accumulation: exact for many float4 inputs, rounded once at the end
SELECT avg(ARRAY[i, -i, 0.5]::vector) = '[50000.5,-50000.5,0.5]' AS avg_exact,
       sum(ARRAY[i, 1, 0.1]::vector)::real[] = ARRAY[sum(i::float8)::real, 100000::real, sum(0.1::real::float8)::real] AS sum_exact
FROM generate_series(1, 100000) i;
-- large values: the average does not overflow; a sum that fits is fine even
-- when partial sums exceed float4's range
SELECT avg(v) FROM (VALUES ('[3e38,-3e38]'::vector), ('[3e38,-3e38]'), ('[3e38,-3e38]')) t(v);
SELECT avg(v) FROM (SELECT '[3.4028235e38]'::vector FROM generate_series(1, 1000)) t(v);
SELECT sum(v) FROM (VALUES ('[3e38]'::vector), ('[3e38]'), ('[-3e38]')) t(v);
-- errors
SELECT pg_temp.sqlerr($$SELECT sum(v) FROM (VALUES ('[3e38]'::vector), ('[3e38]')) t(v)$$);
SELECT pg_temp.sqlerr($$SELECT sum(v) FROM (VALUES ('[1,-3e38]'::vector), ('[1,-3e38]')) t(v)$$);
SELECT pg_temp.sqlerr($$SELECT avg(v) FROM (VALUES ('[1,2]'::vector), ('[1,2,3]')) t(v)$$);
SELECT pg_temp.sqlerr($$SELECT sum(v) FROM (VALUES ('[1,2,3]'::vector), (NULL), ('[1]')) t(v)$$);
-- 16000 dims
SELECT vector_dims(avg(v)), avg(v) = array_fill(2, ARRAY[16000])::vector AS avg_ok,
       sum(v) = array_fill(6, ARRAY[16000])::vector AS sum_ok
FROM (SELECT array_fill(i, ARRAY[16000])::vector FROM generate_series(1, 3) i) t(v);
-- as a window function
SELECT g, v, avg(v) OVER (ORDER BY g, v ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
FROM agg_t WHERE v IS NOT NULL ORDER BY g, v;

--
-- parallel aggregation: partial states are serialized, combined and
-- deserialized; the result must equal the serial one
--
CREATE TABLE agg_par (i int, g int, v vector(3));
INSERT INTO agg_par
SELECT i, i % 3, ARRAY[i % 7, i % 11 - 5, (i % 13) * 0.5]::vector FROM generate_series(1, 100000) i;
ANALYZE agg_par;
CREATE TABLE agg_mixed (i int, v vector);
INSERT INTO agg_mixed SELECT i, v FROM agg_par;
INSERT INTO agg_mixed SELECT i, v || '[1]' FROM agg_par;
ANALYZE agg_mixed;

SET max_parallel_workers_per_gather = 0;
CREATE TEMP TABLE agg_serial AS
SELECT avg(v) AS a, sum(v) AS s, count(v) AS n FROM agg_par;
CREATE TEMP TABLE agg_serial_g AS
SELECT g, avg(v) AS a, sum(v) AS s FROM agg_par GROUP BY g;
SELECT * FROM agg_serial;

SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
-- only workers scan, so the partial states must travel through serialize
SET parallel_leader_participation = off;
EXPLAIN (COSTS OFF) SELECT avg(v), sum(v), count(v) FROM agg_par;
SELECT avg(v), sum(v), count(v) FROM agg_par;
SELECT (avg(v), sum(v), count(v)) = (SELECT a, s, n FROM agg_serial) AS same_as_serial FROM agg_par;
EXPLAIN (COSTS OFF) SELECT g, avg(v), sum(v) FROM agg_par GROUP BY g;
SELECT count(*) AS groups, count(*) FILTER (WHERE (p.a, p.s) IS DISTINCT FROM (s.a, s.s)) AS differ
FROM (SELECT g, avg(v) AS a, sum(v) AS s FROM agg_par GROUP BY g) p JOIN agg_serial_g s USING (g);
SELECT g, avg(v), sum(v) FROM agg_par GROUP BY g ORDER BY g;
-- workers that see no rows contribute empty states
SELECT avg(v), sum(v) FROM agg_par WHERE i <= 2;
SELECT avg(v), sum(v) FROM agg_par WHERE i < 0;
-- dimension mismatch is still caught when the rows land in different workers
SELECT pg_temp.sqlerr($$SELECT avg(v) FROM agg_mixed$$);
SELECT pg_temp.sqlerr($$SELECT sum(v) FROM agg_mixed$$);
RESET parallel_leader_participation;
RESET max_parallel_workers_per_gather;
RESET min_parallel_table_scan_size;
RESET parallel_tuple_cost;
RESET parallel_setup_cost;

--
-- pgvector's array-state helpers: a double precision[] {count, sums...};
-- avg(vector) above keeps its own state, these are plain functions
--
SELECT vector_accum('{0}', '[1,2,3]');
SELECT vector_accum(vector_accum('{0}', '[1,2,3]'), '[4,5,6.5]');
SELECT pg_typeof(vector_accum('{0}', '[1]'));
SELECT vector_avg(vector_accum(vector_accum('{0}', '[1,2,3]'), '[4,5,6.5]'));
SELECT vector_avg('{4,2,-6,1}'), vector_avg('{3,1,1}');
-- a count of zero is no rows: NULL, like avg()
SELECT vector_avg('{0}') IS NULL AS none, vector_avg('{0,1,2}') IS NULL AS zero_count;
SELECT vector_combine('{0}', '{2,3,4}'), vector_combine('{2,3,4}', '{0}'),
       vector_combine('{2,3,4}', '{1,1,1}'), vector_combine('{0}', '{0}');
-- the same answer as avg() when used as an aggregate's state
CREATE AGGREGATE pg_temp.pgv_avg(vector) (
	SFUNC = vector_accum, STYPE = double precision[], FINALFUNC = vector_avg,
	COMBINEFUNC = vector_combine, INITCOND = '{0}', PARALLEL = SAFE);
SELECT pg_temp.pgv_avg(v) = avg(v) AS same_avg, pg_temp.pgv_avg(v)
FROM (VALUES ('[1,2,3]'::vector), ('[4,5,6]'), (NULL), ('[-2,0,0.5]')) t(v);
SELECT pg_temp.pgv_avg(v) IS NULL AS no_rows FROM (SELECT '[1]'::vector AS v WHERE false) t;
-- errors
SELECT pg_temp.sqlerr($$SELECT vector_accum('{1,2}', '[1,2,3]')$$);
SELECT pg_temp.sqlerr($$SELECT vector_combine('{2,3,4}', '{1,1}')$$);
SELECT pg_temp.sqlerr($$SELECT vector_accum('{}', '[1]')$$);
SELECT pg_temp.sqlerr($$SELECT vector_accum('{{1,2}}', '[1]')$$);
SELECT pg_temp.sqlerr($$SELECT vector_combine('{1,NULL}', '{1,1}')$$);
SELECT pg_temp.sqlerr($$SELECT vector_avg('{}')$$);
-- a float4 never overflows a float8 sum; an infinite sum in the state does
SELECT vector_accum('{1,1.7976931348623157e308}', '[3.4e38]');
SELECT pg_temp.sqlerr($$SELECT vector_accum('{1,Infinity}', '[1]')$$);
SELECT pg_temp.sqlerr($$SELECT vector_combine('{1,1e308}', '{1,1e308}')$$);
SELECT pg_temp.sqlerr($$SELECT vector_avg('{2}')$$);
SELECT pg_temp.sqlerr($$SELECT vector_avg('{1,1e39}')$$);
SELECT pg_temp.sqlerr($$SELECT vector_avg('{1,NaN}')$$);
SELECT pg_temp.sqlerr($$SELECT vector_avg('{1,Infinity}')$$);
SELECT pg_temp.sqlerr($$SELECT vector_avg(array_fill(1::float8, ARRAY[16002]))$$);
SELECT vector_accum(NULL, '[1]') IS NULL AND vector_avg(NULL) IS NULL
       AND vector_combine('{0}', NULL) IS NULL AS strict;
