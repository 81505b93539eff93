-- vector functions
\i sql/include/setup.sql

--
-- distances
--
SELECT l2_distance('[0,0]', '[3,4]'), l2_distance('[1,2,3]', '[4,5,6]'), l2_distance('[1]', '[1]');
SELECT vector_l2_squared_distance('[1,2,3]', '[4,5,6]'), vector_l2_squared_distance('[0.5]', '[0]');
SELECT inner_product('[1,2,3]', '[4,5,6]'), inner_product('[1,-1]', '[1,1]'), inner_product('[-2]', '[3]');
SELECT vector_negative_inner_product('[1,2,3]', '[4,5,6]');
SELECT cosine_distance('[1,2]', '[2,4]') AS parallel, cosine_distance('[1,0]', '[0,3]') AS orthogonal,
       cosine_distance('[2,2]', '[-1,-1]') AS opposite, cosine_distance('[1,0]', '[1,1]') AS deg45;
SELECT cosine_distance('[1,0]', '[0,0]') AS zero_vector;
SELECT l1_distance('[1,2,3]', '[4,5,6]'), l1_distance('[-1,1]', '[1,-1]'), l1_distance('[0.5]', '[0.5]');
-- float8 results from float4 inputs
SELECT l2_distance('[0.1]', '[0]'), inner_product('[0.1]', '[0.1]'), l1_distance('[0.1,0.2]', '[0,0]');
-- the four distance operators call the same code
SELECT l2_distance(a, b) = (a <-> b) AS l2, -inner_product(a, b) = (a <#> b) AS ip,
       cosine_distance(a, b) = (a <=> b) AS cos, l1_distance(a, b) = (a <+> b) AS l1,
       sqrt(vector_l2_squared_distance(a, b)) = l2_distance(a, b) AS l2sq
FROM (VALUES ('[1,2,3]'::vector, '[3,1,2]'::vector)) v(a, b);
SELECT pg_temp.sqlerr($$SELECT l2_distance('[1,2]', '[1,2,3]')$$);
SELECT pg_temp.sqlerr($$SELECT vector_l2_squared_distance('[1,2]', '[1,2,3]')$$);
SELECT pg_temp.sqlerr($$SELECT inner_product('[1,2]', '[1]')$$);
SELECT pg_temp.sqlerr($$SELECT vector_negative_inner_product('[1,2]', '[1]')$$);
SELECT pg_temp.sqlerr($$SELECT cosine_distance('[1]', '[1,2]')$$);
SELECT pg_temp.sqlerr($$SELECT l1_distance('[1]', '[1,2]')$$);

--
-- vector_dims, vector_norm
--
SELECT vector_dims('[1]'), vector_dims('[1,2,3]'), vector_dims(array_fill(0, ARRAY[16000])::vector);
SELECT vector_norm('[3,4]'), vector_norm('[0,0]'), vector_norm('[-2]'), vector_norm('[1,1,1,1]');
SELECT vector_norm('[0.1]'), vector_norm('[1.5e38,2e38]') AS no_overflow, vector_norm('[3e-39,4e-39]') AS denormal;
SELECT vector_norm(array_fill(1, ARRAY[16000])::vector) = sqrt(16000) AS norm_16000;

--
-- l2_normalize
--
SELECT l2_normalize('[3,4]'), l2_normalize('[0,-5]'), l2_normalize('[1]'), l2_normalize('[-7]');
SELECT l2_normalize('[0,0,0]') AS zero_stays_zero;
SELECT l2_normalize('[1.5e38,2e38]') AS huge, l2_normalize('[3e-39,4e-39]') AS denormal,
       l2_normalize('[1e-45]') AS smallest;
SELECT abs(vector_norm(l2_normalize(v)) - 1) < 1e-6 AS unit_norm
FROM (VALUES ('[1,2,3,4,5]'::vector), ('[1e20,-3,7e19]'), ('[0.001,0,0,0.002]')) t(v);

--
-- subvector(v, start, count): 1-based like substring(), clipped at both ends
--
SELECT subvector('[1,2,3,4,5]', 1, 3), subvector('[1,2,3,4,5]', 3, 2), subvector('[1,2,3,4,5]', 5, 1);
SELECT subvector('[1,2,3,4,5]', 4, 10) AS clip_end, subvector('[1,2,3,4,5]', -1, 3) AS clip_start,
       subvector('[1,2,3,4,5]', 0, 100) AS whole;
-- start + count overflowing int4 must clip, not wrap
SELECT subvector('[1,2,3,4,5]', 1, 2147483647) AS huge_count,
       subvector('[1,2,3,4,5]', 2, 2147483647) AS overflowing_end,
       subvector('[1,2,3,4,5]', 5, 2147483647) AS last_only;
-- empty results are errors
SELECT pg_temp.sqlerr($$SELECT subvector('[1,2,3,4,5]', 0, 1)$$);
SELECT pg_temp.sqlerr($$SELECT subvector('[1,2,3,4,5]', 6, 1)$$);
SELECT pg_temp.sqlerr($$SELECT subvector('[1,2,3,4,5]', 3, 0)$$);
SELECT pg_temp.sqlerr($$SELECT subvector('[1,2,3,4,5]', 3, -1)$$);
SELECT pg_temp.sqlerr($$SELECT subvector('[1,2,3,4,5]', -2147483648, 2147483647)$$);
SELECT pg_temp.sqlerr($$SELECT subvector('[1,2,3,4,5]', 2147483647, 2147483647)$$);
SELECT pg_temp.sqlerr($$SELECT subvector('[1,2,3,4,5]', -2147483648, -2147483648)$$);
-- every (start, count) in a grid agrees with array slicing
SELECT count(*) AS cases,
       count(*) FILTER (WHERE got IS DISTINCT FROM want) AS bad
FROM (SELECT s, c,
             CASE WHEN greatest(s, 1) <= least(s::bigint + c - 1, 5) AND c > 0
                  THEN ('{1,2,3,4,5}'::real[])[greatest(s, 1):least(s::bigint + c - 1, 5)]::vector::text
                  ELSE '22000' END AS want,
             CASE WHEN r LIKE '22000:%' THEN '22000' ELSE r END AS got
      FROM generate_series(-3, 8) s, generate_series(-2, 8) c,
           LATERAL (SELECT CASE WHEN e = 'no error'
                                THEN subvector('[1,2,3,4,5]', s, c)::text ELSE e END AS r
                    FROM pg_temp.sqlerr(format('SELECT subvector(%L, %s, %s)', '[1,2,3,4,5]', s, c)) e) x) t;
SELECT vector_dims(subvector(array_fill(1, ARRAY[16000])::vector, 2, 15999));

--
-- binary_quantize: bit i set iff element i > 0
--
SELECT binary_quantize('[1,0,-1,0.5,-0,1e-45,-1e-45]');
SELECT binary_quantize('[1,2,3,4,5,6,7,8,9]'), binary_quantize('[-1]'), binary_quantize('[3]');
SELECT binary_quantize('[1,-1,1,-1,1,-1,1,-1,1,-1,1,-1,1,-1,1,-1,1]');
SELECT length(binary_quantize(v)) AS bits, length(replace(binary_quantize(v)::text, '0', '')) AS ones,
       binary_quantize(v)::text = (SELECT string_agg(CASE WHEN x > 0 THEN '1' ELSE '0' END, '' ORDER BY o)
                                   FROM unnest(v::real[]) WITH ORDINALITY u(x, o)) AS matches
FROM (SELECT array_agg(sin(i)::real ORDER BY i)::vector AS v FROM generate_series(1, 16000) i) s;
SELECT pg_typeof(binary_quantize('[1]'));

-- NULL in, NULL out (STRICT)
SELECT vector_dims(NULL) IS NULL, vector_norm(NULL) IS NULL, l2_normalize(NULL) IS NULL,
       subvector(NULL, 1, 1) IS NULL, subvector('[1]', NULL, 1) IS NULL, binary_quantize(NULL) IS NULL;

--
-- vector_spherical_distance: acos(a . b) / pi for unit vectors, in [0, 1]
--
SELECT vector_spherical_distance('[1,0]', '[1,0]') AS same,
       vector_spherical_distance('[1,0]', '[0,1]') AS orthogonal,
       vector_spherical_distance('[1,0]', '[-1,0]') AS opposite;
SELECT round(vector_spherical_distance('[0.6,0.8]', '[0.8,0.6]')::numeric, 12),
       round(vector_spherical_distance('[1,0,0]', '[0.5,0.5,0.5]')::numeric, 12);
-- not normalized: the dot product is clamped to [-1, 1], never NaN
SELECT vector_spherical_distance('[2,0]', '[3,0]'), vector_spherical_distance('[-2,0]', '[3,0]'),
       vector_spherical_distance('[0,0]', '[0,0]');
SELECT pg_temp.sqlerr($$SELECT vector_spherical_distance('[1,0]', '[1,0,0]')$$);
SELECT vector_spherical_distance(NULL, '[1]') IS NULL AS strict;
SELECT pg_typeof(vector_spherical_distance('[1]', '[1]'));
