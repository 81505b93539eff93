-- distance kernels: the embed.simd GUC, and every kernel this CPU supports
-- checked against a float8 reference computed in SQL.
-- Output must not depend on the CPU: per-kernel results are only ever
-- reported as failure counts.
\i sql/include/setup.sql

--
-- the GUC and the kernel list
--
-- calling any function loads the library, which defines embed.simd
SELECT count(*) >= 1 AS has_kernels FROM embed_simd_kernels();
SHOW embed.simd;
SELECT vartype, context, enumvals, boot_val FROM pg_settings WHERE name = 'embed.simd';
SELECT bool_or(k = 'portable') AS has_portable,
       count(*) FILTER (WHERE k NOT IN ('portable', 'avx2', 'avx512')) AS unknown_names,
       count(*) = count(DISTINCT k) AS no_duplicates
FROM embed_simd_kernels() k;
SET embed.simd = portable;
SHOW embed.simd;
SELECT '[1,2,3]'::vector <-> '[4,5,6]' AS l2_portable;
RESET embed.simd;
SHOW embed.simd;
SELECT pg_temp.sqlerr($$SET embed.simd = 'sse9'$$);
SELECT pg_temp.sqlerr($$SET embed.simd = ''$$);
-- each value is accepted exactly when this CPU can run it ('auto' always);
-- a refused one is an ERROR with SQLSTATE 22023
SELECT v.k,
       (r = 'no error') = (v.k = 'auto' OR v.k IN (SELECT embed_simd_kernels())) AS accepted_iff_supported,
       r = 'no error' OR r LIKE '22023: %' AS refusal_is_22023
FROM (VALUES (1, 'auto'), (2, 'portable'), (3, 'avx2'), (4, 'avx512')) v(o, k),
     LATERAL pg_temp.sqlerr(format('SET embed.simd = %I', v.k)) r
ORDER BY v.o;
RESET embed.simd;
-- a value set in a transaction goes away with it
BEGIN;
SELECT set_config('embed.simd', 'portable', true);
COMMIT;
SHOW embed.simd;

--
-- test vectors
--
-- families (a, b):
--   random  uniform in [-1, 1)
--   huge    magnitudes 1e18 .. 3e38, random signs: float32 sums and products
--           overflow, so the result must come from a float8 path and be finite
--   max     a = +FLT_MAX everywhere, b = -FLT_MAX (even a - b overflows float4)
--   tiny    magnitudes 1e-40 .. 1e-20: products are subnormal or underflow
--   wide    magnitudes 1e-38 .. 1e38 mixed in one vector
--   near    large (~1e7) and nearly equal: distances must subtract first
--   cancel  a alternates sign in pairs of equal magnitude, b does not: the
--           inner product's large terms cancel
-- lengths: random covers every length 1..70 (all tail/unroll shapes) plus
-- 100, 1000, 4095, 16000; the others 1..40, 63..65, 127..129, 1000, 4095, 16000.
SELECT setseed(0.1234);
CREATE FUNCTION pg_temp.gen(family text, n int, side int) RETURNS real[]
LANGUAGE sql VOLATILE AS $$
SELECT array_agg((CASE family
	WHEN 'random' THEN random() * 2 - 1
	WHEN 'huge' THEN sgn * least(10 ^ (18 + random() * 20.5), 3e38)
	WHEN 'max' THEN CASE side WHEN 1 THEN 3.4028234663852886e38 ELSE -3.4028234663852886e38 END
	WHEN 'tiny' THEN sgn * 10 ^ (-20 - random() * 20)
	WHEN 'wide' THEN sgn * 10 ^ (random() * 76 - 38)
	WHEN 'near' THEN big + random() - 0.5
	WHEN 'cancel' THEN CASE side WHEN 1 THEN pairsgn * big ELSE big END + random() - 0.5
	END)::real ORDER BY i)
FROM generate_series(1, n) i,
     LATERAL (SELECT CASE WHEN random() < 0.5 THEN -1.0::float8 ELSE 1.0::float8 END AS sgn,
                     CASE WHEN i % 2 = 0 THEN -1.0::float8 ELSE 1.0::float8 END AS pairsgn,
                     -- pairs (2k-1, 2k) share a magnitude in 1e7 .. 2e7
                     1e7::float8 * (1 + ((((i + 1) / 2) * 0.6180339887)::float8 - floor(((i + 1) / 2) * 0.6180339887)::float8)) AS big) p
$$;
CREATE TEMP TABLE kv (id serial PRIMARY KEY, family text, n int, ra real[], rb real[], a vector, b vector);
INSERT INTO kv (family, n, ra, rb)
SELECT f, n, pg_temp.gen(f, n, 1), pg_temp.gen(f, n, 2)
FROM (SELECT 'random' AS f, n FROM generate_series(1, 70) n
      UNION ALL SELECT 'random', n FROM unnest(ARRAY[100, 1000, 4095, 16000]) n
      UNION ALL SELECT f, n FROM unnest(ARRAY['huge', 'max', 'tiny', 'wide', 'near', 'cancel']) f,
                (SELECT generate_series(1, 40) UNION ALL
                 SELECT unnest(ARRAY[63, 64, 65, 127, 128, 129, 1000, 4095, 16000])) n(n)) s
ORDER BY f, n;
UPDATE kv SET a = ra::vector, b = rb::vector;
SELECT family, count(*) AS pairs, sum(n) AS elements,
       count(*) FILTER (WHERE a::real[] <> ra OR b::real[] <> rb OR vector_dims(a) <> n) AS bad_cast
FROM kv GROUP BY family ORDER BY family;

-- float8 reference: every float4 product is exact in float8, and float8
-- summation of at most 16000 terms is ~1e-12 relative: exact for our purpose
CREATE TEMP TABLE kref AS
SELECT id, n,
       sum((x - y) * (x - y)) AS l2sq,
       sum(x * y) AS ip, sum(abs(x * y)) AS ip_abs,
       sum(abs(x - y)) AS l1,
       sum(x * x) AS aa, sum(y * y) AS bb
FROM kv, LATERAL (SELECT x::float8 AS x, y::float8 AS y FROM unnest(ra, rb) u(x, y)) u
GROUP BY id, n;

-- Tolerance. A float32 kernel adding n terms t_i, in any order and with any
-- number of accumulators, is within about n * 2^-24 * sum|t_i| of the exact
-- sum, plus n * 2^-149 where products are subnormal or underflow; rounding
-- errors are random, so the real error is a small fraction of that. We demand
--     |got - ref| <= 1e-5 * sum|t_i| + n * 2^-149
-- which every kernel meets here with a wide margin, yet still catches a
-- dropped or repeated element at every length tested. A float8 fallback (for
-- overflow) is far more accurate than that. Distances that are square roots
-- are compared squared. Cosine gets the relative part of those bounds
-- propagated through ip / sqrt(aa * bb) (first order, doubled) but no
-- absolute part: it is scale-free, so tiny vectors must get the answer their
-- scaled-up copies get, even where float32 products underflow.
CREATE FUNCTION pg_temp.tol(s float8, n int) RETURNS float8
LANGUAGE sql IMMUTABLE AS 'SELECT 1e-5 * s + n * 2 ^ -149';
ALTER TABLE kref ADD cos float8, ADD cos_tol float8;
UPDATE kref SET
	cos = CASE WHEN aa = 0 OR bb = 0 THEN 'NaN'
	           ELSE 1 - greatest(-1, least(1, ip / sqrt(aa * bb))) END,
	cos_tol = CASE WHEN aa = 0 OR bb = 0 THEN 0
	               ELSE (1e-5 * ip_abs + abs(ip) * (1e-5 + 1e-5)) / sqrt(aa * bb) + 1e-12 END;

--
-- run every supported kernel
--
CREATE TEMP TABLE kres (kernel text, setting text, id int,
	l2 float8, l2sq float8, ip float8, nip float8, cos float8, l1 float8, norm float8,
	l2_ba float8, l2sq_ba float8, ip_ba float8, cos_ba float8, l1_ba float8,
	l2_aa float8, l1_aa float8, cos_aa float8);
DO $$
DECLARE
	k text;
BEGIN
	FOR k IN SELECT embed_simd_kernels() LOOP
		PERFORM set_config('embed.simd', k, true);
		INSERT INTO kres
		SELECT k, current_setting('embed.simd'), id,
		       l2_distance(a, b), vector_l2_squared_distance(a, b), inner_product(a, b),
		       a <#> b, cosine_distance(a, b), l1_distance(a, b), vector_norm(a),
		       l2_distance(b, a), vector_l2_squared_distance(b, a), inner_product(b, a),
		       cosine_distance(b, a), l1_distance(b, a),
		       l2_distance(a, a), l1_distance(a, a), cosine_distance(a, a)
		FROM kv;
	END LOOP;
END $$;
SHOW embed.simd;
SELECT count(DISTINCT kernel) = (SELECT count(*) FROM embed_simd_kernels()) AS all_kernels_ran,
       bool_and(kernel = setting) AS setting_applied,
       count(*) = count(DISTINCT kernel) * (SELECT count(*) FROM kv) AS complete
FROM kres;

-- check each kernel's results against the reference
CREATE TEMP TABLE kcheck AS
SELECT k.kernel, v.family, r.id,
       abs(k.l2sq - r.l2sq) <= pg_temp.tol(r.l2sq, r.n) AS l2sq_ok,
       abs(k.l2 * k.l2 - r.l2sq) <= pg_temp.tol(r.l2sq, r.n) + 1e-15 * r.l2sq AS l2_ok,
       abs(k.ip - r.ip) <= pg_temp.tol(r.ip_abs, r.n) AS ip_ok,
       abs(k.nip + r.ip) <= pg_temp.tol(r.ip_abs, r.n) AS nip_ok,
       abs(k.l1 - r.l1) <= pg_temp.tol(r.l1, r.n) AS l1_ok,
       abs(k.norm * k.norm - r.aa) <= pg_temp.tol(r.aa, r.n) + 1e-15 * r.aa AS norm_ok,
       -- NaN only for a zero vector (then NaN = NaN is true in SQL)
       k.cos = r.cos OR (k.cos BETWEEN 0 AND 2 AND abs(k.cos - r.cos) <= r.cos_tol) AS cos_ok,
       -- the operators are declared commutative: swapping must not change a bit
       (k.l2, k.l2sq, k.ip, k.cos, k.l1) IS NOT DISTINCT FROM (k.l2_ba, k.l2sq_ba, k.ip_ba, k.cos_ba, k.l1_ba) AS symmetric_ok,
       -- identical inputs: exactly 0 for l2/l1, ~0 for cosine
       k.l2_aa = 0 AND k.l1_aa = 0 AND (r.aa = 0 OR k.cos_aa BETWEEN 0 AND 1e-6) AS self_ok
FROM kres k JOIN kref r USING (id) JOIN kv v USING (id);
SELECT family,
       count(*) FILTER (WHERE NOT l2_ok) AS l2_distance,
       count(*) FILTER (WHERE NOT l2sq_ok) AS l2_squared,
       count(*) FILTER (WHERE NOT ip_ok) AS inner_product,
       count(*) FILTER (WHERE NOT nip_ok) AS neg_inner_product,
       count(*) FILTER (WHERE NOT cos_ok) AS cosine_distance,
       count(*) FILTER (WHERE NOT l1_ok) AS l1_distance,
       count(*) FILTER (WHERE NOT norm_ok) AS vector_norm,
       count(*) FILTER (WHERE NOT symmetric_ok) AS asymmetric,
       count(*) FILTER (WHERE NOT self_ok) AS self_distance
FROM kcheck GROUP BY family ORDER BY family;
-- all distances are finite (the reference is, for every family)
SELECT count(*) FILTER (WHERE 'Infinity' IN (abs(l2), abs(l2sq), abs(ip), abs(nip), abs(l1), abs(norm))
                           OR 'NaN' IN (l2, l2sq, ip, nip, l1, norm)) AS non_finite
FROM kres;

-- kernels agree with each other (within the sum of their tolerances)
SELECT
       count(*) FILTER (WHERE NOT (
           abs(x.l2sq - y.l2sq) <= 2 * pg_temp.tol(r.l2sq, r.n)
           AND abs(x.ip - y.ip) <= 2 * pg_temp.tol(r.ip_abs, r.n)
           AND abs(x.l1 - y.l1) <= 2 * pg_temp.tol(r.l1, r.n)
           AND (x.cos = y.cos OR abs(x.cos - y.cos) <= 2 * r.cos_tol))) AS disagreements
FROM kres x JOIN kres y ON x.id = y.id AND x.kernel < y.kernel JOIN kref r ON r.id = x.id;

-- exact small cases on every kernel: the names of the cases that fail on
-- any kernel (none expected)
CREATE TEMP TABLE kexact (name text, a vector, b vector, fn text, want float8);
INSERT INTO kexact VALUES
	('l2', '[1,2,3]', '[4,5,6]', 'l2_distance', sqrt(27::float8)),
	('l2sq', '[1,2,3]', '[4,5,6]', 'vector_l2_squared_distance', 27),
	('ip', '[1,2,3]', '[4,5,6]', 'inner_product', 32),
	('neg ip', '[1,2,3]', '[4,5,6]', 'vector_negative_inner_product', -32),
	('l1', '[1,2,3]', '[4,5,6]', 'l1_distance', 9),
	('cos parallel', '[1,2,3]', '[2,4,6]', 'cosine_distance', 0),
	('cos parallel 2', '[1,2]', '[2,4]', 'cosine_distance', 0),
	('cos orthogonal', '[1,0]', '[0,1]', 'cosine_distance', 1),
	('cos opposite', '[1,1]', '[-1,-1]', 'cosine_distance', 2),
	('cos opposite 2', '[2,2]', '[-1,-1]', 'cosine_distance', 2),
	('cos zero', '[0,0]', '[1,1]', 'cosine_distance', 'NaN'),
	-- one 16-lane block plus a tail, two 8-lane blocks plus a tail, ...
	('ip 17', array_fill(1, ARRAY[17]), array_fill(2, ARRAY[17]), 'inner_product', 34),
	('l1 33', array_fill(1, ARRAY[33]), array_fill(-1, ARRAY[33]), 'l1_distance', 66),
	('l2sq 47', array_fill(3, ARRAY[47]), array_fill(1, ARRAY[47]), 'vector_l2_squared_distance', 188),
	('ip 16000', array_fill(0.5, ARRAY[16000]), array_fill(-4, ARRAY[16000]), 'inner_product', -32000),
	-- float8 fallback: exact here
	('l2 max', '[3.4028234663852886e38]', '[-3.4028234663852886e38]', 'l2_distance', 6.805646932770577e38),
	('l1 max', '[3.4028234663852886e38,1]', '[-3.4028234663852886e38,1]', 'l1_distance', 6.805646932770577e38),
	('ip max', '[3.4028234663852886e38,1]', '[3.4028234663852886e38,1]', 'inner_product', 1.1579207543382391e77);  -- the +1 is below float8 resolution
DO $$
DECLARE
	k text;
	e record;
	got float8;
	failed text[] := '{}';
BEGIN
	FOR k IN SELECT embed_simd_kernels() LOOP
		PERFORM set_config('embed.simd', k, true);
		FOR e IN SELECT * FROM kexact LOOP
			EXECUTE format('SELECT %I($1, $2)', e.fn) INTO got USING e.a, e.b;
			IF got IS DISTINCT FROM e.want AND NOT e.name = ANY (failed) THEN
				failed := failed || e.name;
			END IF;
		END LOOP;
	END LOOP;
	RAISE NOTICE 'exact cases failing on some kernel: %', failed;
END $$;
