-- vector operators: arithmetic, concatenation, ordering, distances
\i sql/include/setup.sql

--
-- element-wise arithmetic
--
SELECT '[1,2,3]'::vector + '[4,5,6]' AS add,
       '[1,2,3]'::vector - '[4,5,6]' AS sub,
       '[1,2,3]'::vector * '[4,5,6]' AS mul;
SELECT '[0.1]'::vector + '[0.2]' AS float4_sum;          -- float4 arithmetic: 0.3 exactly as float4
SELECT '[1.5,-2]'::vector * '[-2,0.25]', '[1e-20]'::vector * '[1e-10]';
SELECT '[3e38]'::vector - '[3e38]', '[3e38]'::vector + '[-3e38]';
SELECT '[1,2]'::vector + NULL IS NULL AS strict;
-- overflow is an error (22003), never Infinity
SELECT pg_temp.sqlerr($$SELECT '[3e38]'::vector + '[3e38]'$$);
SELECT pg_temp.sqlerr($$SELECT '[1,-3e38]'::vector + '[1,-3e38]'$$);
SELECT pg_temp.sqlerr($$SELECT '[-3e38]'::vector - '[3e38]'$$);
SELECT pg_temp.sqlerr($$SELECT '[1,2,1e20]'::vector * '[1,2,1e20]'$$);
SELECT pg_temp.sqlerr($$SELECT '[3.4028235e38]'::vector * '[-2]'$$);
-- a product of non-zero elements that underflows to zero is an error too
SELECT pg_temp.sqlerr($$SELECT '[1,1e-30]'::vector * '[1,1e-30]'$$);
-- dimensions must match (22000)
SELECT pg_temp.sqlerr($$SELECT '[1,2]'::vector + '[1,2,3]'$$);
SELECT pg_temp.sqlerr($$SELECT '[1,2]'::vector - '[1]'$$);
SELECT pg_temp.sqlerr($$SELECT '[1,2]'::vector * '[1,2,3]'$$);
-- long vectors (exercise the unrolled paths): checked against real[] math
SELECT count(*) FILTER (WHERE (a + b)::real[] <> (SELECT array_agg(x + y) FROM unnest(a::real[], b::real[]) u(x, y))) AS add_bad,
       count(*) FILTER (WHERE (a - b)::real[] <> (SELECT array_agg(x - y) FROM unnest(a::real[], b::real[]) u(x, y))) AS sub_bad,
       count(*) FILTER (WHERE (a * b)::real[] <> (SELECT array_agg(x * y) FROM unnest(a::real[], b::real[]) u(x, y))) AS mul_bad
FROM (SELECT n,
             (SELECT array_agg((i * 0.37 - n)::real) FROM generate_series(1, n) i)::vector AS a,
             (SELECT array_agg((n * 1.5 - i * 0.11)::real) FROM generate_series(1, n) i)::vector AS b
      FROM generate_series(1, 70) n) s;

--
-- concatenation
--
SELECT '[1,2]'::vector || '[3]' AS cat, '[1]'::vector || '[1]' AS cat2;
SELECT vector_dims(('[' || repeat('1,', 7999) || '1]')::vector || ('[' || repeat('2,', 7999) || '2]')::vector) AS dims_16000;
SELECT pg_temp.sqlerr($$SELECT ('[' || repeat('1,', 7999) || '1]')::vector || ('[' || repeat('2,', 8000) || '2]')::vector$$);
SELECT pg_temp.sqlerr($$SELECT ('[' || repeat('1,', 15999) || '1]')::vector || '[1]'$$);

--
-- ordering: element-wise, then by number of dimensions
--
SELECT '[1,2]'::vector < '[1,2,3]' AS shorter_prefix_is_less,
       '[2]'::vector > '[1,9]' AS first_element_decides,
       '[1,2,3]'::vector = '[1,2,3]' AS eq,
       '[1,2,3]'::vector = '[1,2]' AS eq_diff_dims,
       '[1,2,3]'::vector <> '[1,2,4]' AS ne,
       '[-0]'::vector = '[0]' AS negzero_eq,
       '[1,2]'::vector <= '[1,2]' AS le,
       '[1,3]'::vector >= '[1,2,5]' AS ge;
SELECT vector_cmp('[1,2]', '[1,2,3]'), vector_cmp('[2]', '[1,9]'), vector_cmp('[5,5]', '[5,5]'),
       vector_cmp('[-1]', '[-2]'), vector_cmp('[1e-45]', '[0]');

CREATE TABLE ops_t (id int, v vector);
INSERT INTO ops_t VALUES
	(1, '[1,2,3]'), (2, '[1,2]'), (3, '[2]'), (4, '[1,9]'), (5, '[-1,5]'),
	(6, '[1,2,3,0]'), (7, '[0]'), (8, '[-0]'), (9, '[1,2,-3]'), (10, '[3.4028235e38]'),
	(11, '[-3.4028235e38,1]'), (12, '[1e-45]'), (13, NULL), (14, '[1,2,3]');
-- every pair: all six operators and vector_cmp agree with real[] ordering,
-- which is also element-wise then by length
SELECT count(*) AS pairs,
       count(*) FILTER (WHERE sign(vector_cmp(a.v, b.v)) <> sign(btarraycmp(a.v::real[], b.v::real[]))) AS cmp_bad,
       count(*) FILTER (WHERE (a.v < b.v) <> (a.v::real[] < b.v::real[])
                           OR (a.v <= b.v) <> (a.v::real[] <= b.v::real[])
                           OR (a.v = b.v) <> (a.v::real[] = b.v::real[])
                           OR (a.v <> b.v) <> (a.v::real[] <> b.v::real[])
                           OR (a.v >= b.v) <> (a.v::real[] >= b.v::real[])
                           OR (a.v > b.v) <> (a.v::real[] > b.v::real[])) AS op_bad
FROM ops_t a, ops_t b WHERE a.v IS NOT NULL AND b.v IS NOT NULL;
SELECT id, v FROM ops_t ORDER BY v, id;
SELECT id, v FROM ops_t ORDER BY v DESC NULLS LAST, id;
-- [1,2,3] appears twice and [0] = [-0]: 11 distinct of 13 vectors
SELECT count(*) AS rows, count(v) AS vectors, count(DISTINCT v) AS distinct_vectors FROM ops_t;

-- btree index with the default opclass
CREATE INDEX ops_t_v_idx ON ops_t USING btree (v);
SELECT opcname, opcdefault FROM pg_opclass c JOIN pg_am m ON m.oid = c.opcmethod
WHERE m.amname = 'btree' AND c.opcintype = 'vector'::regtype;
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM ops_t WHERE v = '[1,2,3]';
SELECT id FROM ops_t WHERE v = '[1,2,3]' ORDER BY id;
SELECT id, v FROM ops_t WHERE v < '[1,2,3]' ORDER BY v, id;
SELECT id, v FROM ops_t WHERE v > '[1,2,3]' AND v <= '[2]' ORDER BY v, id;
EXPLAIN (COSTS OFF) SELECT v FROM ops_t ORDER BY v LIMIT 3;
SELECT v FROM ops_t ORDER BY v LIMIT 3;
RESET enable_seqscan;
-- uniqueness
CREATE TABLE ops_u (v vector UNIQUE);
INSERT INTO ops_u VALUES ('[1,2]'), ('[1,2,0]'), ('[2,1]'), ('[0]');
SELECT pg_temp.sqlerr($$INSERT INTO ops_u VALUES ('[1,2]')$$);
SELECT pg_temp.sqlerr($$INSERT INTO ops_u VALUES ('[-0]')$$);
INSERT INTO ops_u VALUES ('[1,2]') ON CONFLICT (v) DO NOTHING;
SELECT v FROM ops_u ORDER BY v;
-- a larger index stays consistent with a sort
CREATE TABLE ops_big AS
SELECT i, ARRAY[i % 5, i % 3, (i * 7) % 11]::real[]::vector AS v FROM generate_series(1, 2000) i;
INSERT INTO ops_big SELECT 2000 + i, ARRAY[i % 5, i % 3]::vector FROM generate_series(1, 100) i;
CREATE INDEX ON ops_big (v);
-- amcheck verifies the btree invariants using our comparison function
CREATE EXTENSION IF NOT EXISTS amcheck;
SELECT bt_index_check('ops_big_v_idx', true), bt_index_check('ops_t_v_idx', true);
DROP EXTENSION amcheck;
SET enable_seqscan = off;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT i FROM ops_big ORDER BY v, i;
SELECT array_agg(i) = (SELECT array_agg(i ORDER BY v::real[], i) FROM ops_big) AS index_order_ok
FROM (SELECT i FROM ops_big ORDER BY v, i) s;
SELECT count(*) FROM ops_big WHERE v = '[1,2]';
RESET enable_seqscan;
RESET enable_bitmapscan;
SELECT count(*) FROM ops_big WHERE v = '[1,2]';

--
-- distance operators (float8 results)
--
SELECT '[1,2,3]'::vector <-> '[4,5,6]' AS l2,
       '[1,2,3]'::vector <#> '[4,5,6]' AS neg_ip,
       '[1,2,3]'::vector <=> '[4,5,6]' AS cosine,
       '[1,2,3]'::vector <+> '[4,5,6]' AS l1;
SELECT '[0,0]'::vector <-> '[3,4]' AS l2_345, '[3]'::vector <-> '[3]' AS l2_same;
SELECT '[1,2,3]'::vector <=> '[2,4,6]' AS parallel,
       '[1,0]'::vector <=> '[0,1]' AS orthogonal,
       '[1,1]'::vector <=> '[-1,-1]' AS opposite,
       '[0,0]'::vector <=> '[1,2]' AS zero_vector,
       '[0,0]'::vector <=> '[0,0]' AS both_zero;
SELECT '[1,-1]'::vector <#> '[1,1]' AS neg_ip_zero, '[-1,-2]'::vector <#> '[3,4]' AS neg_ip_pos;
SELECT '[-1.5,2]'::vector <+> '[1.5,-2]' AS l1;
-- float4 elements, float8 results
SELECT '[0.1]'::vector <-> '[0]' AS l2_point1, '[0.1]'::vector <#> '[1]' AS neg_ip_point1;
-- the operators are the distance functions
SELECT oprname, oprcode FROM pg_operator
WHERE oprleft = 'vector'::regtype AND oprname IN ('<->', '<#>', '<=>', '<+>') ORDER BY oprname;
-- huge magnitudes stay finite
SELECT '[3e38]'::vector <-> '[-3e38]' AS l2_huge, '[3e38,3e38]'::vector <#> '[3e38,3e38]' AS neg_ip_huge,
       '[3e38]'::vector <+> '[-3e38]' AS l1_huge, '[3e38,1]'::vector <=> '[3e38,1]' AS cos_huge;
-- cosine distance is clamped to [0, 2]
SELECT count(*) FILTER (WHERE d < 0 OR d > 2 OR d = 'NaN') AS out_of_range,
       count(*) FILTER (WHERE self_d < 0 OR self_d > 1e-6) AS self_not_zero
FROM (SELECT a <=> b AS d, a <=> a AS self_d
      FROM (SELECT (SELECT array_agg(sin(i * k * 1.7 + j)::real) FROM generate_series(1, 3 + k % 40) i)::vector AS a,
                   (SELECT array_agg(cos(i * k * 0.3 - j)::real) FROM generate_series(1, 3 + k % 40) i)::vector AS b
            FROM generate_series(1, 200) k, generate_series(1, 3) j) s) t;
-- NULL in, NULL out
SELECT ('[1]'::vector <-> NULL) IS NULL AS strict;
-- different dimensions: 22000
SELECT pg_temp.sqlerr($$SELECT '[1,2]'::vector <-> '[1,2,3]'$$);
SELECT pg_temp.sqlerr($$SELECT '[1,2]'::vector <#> '[1,2,3]'$$);
SELECT pg_temp.sqlerr($$SELECT '[1,2]'::vector <=> '[1,2,3]'$$);
SELECT pg_temp.sqlerr($$SELECT '[1,2]'::vector <+> '[1]'$$);
