-- sparsevec: sorted (index, value) pairs of up to 16,000 non-zeros in up to
-- 1,000,000,000 dimensions; every function walks the non-zeros
\i sql/include/setup.sql
\i sql/include/recv.sql
\i sql/include/knn.sql

--
-- text I/O: {index:value,...}/dim, 1-based, sorted on output, zeros dropped
--
SELECT '{1:1.5,3:2}/5'::sparsevec, '{}/5'::sparsevec, '{5:-0.1}/5'::sparsevec;
-- unsorted input is sorted; zeros (and -0) dropped; whitespace tolerated
SELECT '{3:3,1:1,2:2}/3'::sparsevec, '{1:0,2:-0,3:7}/3'::sparsevec,
       ' { 2 : 1e-3 , 1 : 1e3 } / 4 '::sparsevec, '{ }/1'::sparsevec;
-- each value printed as the shortest float4 string that reads back exactly
SELECT '{1:0.1,2:3.4028235e38,3:1e-45,4:-1.17549435e-38}/4'::sparsevec;
SELECT '{1:0.1,2:3.4028235e38,3:1e-45,4:-1.17549435e-38}/4'::sparsevec::text::sparsevec
     = '{1:0.1,2:3.4028235e38,3:1e-45,4:-1.17549435e-38}/4'::sparsevec AS round_trip;
-- syntax errors: 22P02, naming the type
SELECT s, pg_temp.sqlerr(format('SELECT %L::sparsevec', s))
FROM unnest(ARRAY['', '{}', '{1:1}', '{1:1}/', '1:1/3', '[1,2]', '{1:1,}/3', '{,}/3', '{1}/3',
                  '{1:}/3', '{:1}/3', '{1:1 2:2}/3', '{1.5:1}/3', '{a:1}/3', '{1:x}/3',
                  '{1:1}/3 x', '{1:1}/3.0', '{1:1}/x', '{1:1/3', '{1::1}/3']) s;
-- value errors: NaN/Infinity 22000, float4 overflow 22003
SELECT pg_temp.sqlerr($$SELECT '{1:NaN}/3'::sparsevec$$);
SELECT pg_temp.sqlerr($$SELECT '{1:-Infinity}/3'::sparsevec$$);
SELECT pg_temp.sqlerr($$SELECT '{1:1e39}/3'::sparsevec$$);
-- index and dimension errors
SELECT pg_temp.sqlerr($$SELECT '{0:1}/3'::sparsevec$$);
SELECT pg_temp.sqlerr($$SELECT '{4:1}/3'::sparsevec$$);
SELECT pg_temp.sqlerr($$SELECT '{-1:1}/3'::sparsevec$$);
SELECT pg_temp.sqlerr($$SELECT '{99999999999999999999:1}/3'::sparsevec$$);
SELECT pg_temp.sqlerr($$SELECT '{2:1,1:1,2:3}/3'::sparsevec$$);
SELECT pg_temp.sqlerr($$SELECT '{1:0,1:1}/3'::sparsevec$$);
SELECT pg_temp.sqlerr($$SELECT '{}/0'::sparsevec$$);
SELECT pg_temp.sqlerr($$SELECT '{}/-5'::sparsevec$$);
SELECT pg_temp.sqlerr($$SELECT '{}/1000000001'::sparsevec$$);
SELECT pg_temp.sqlerr($$SELECT '{}/99999999999999999999'::sparsevec$$);

--
-- limits: 1e9 dimensions, 16,000 non-zeros
--
SELECT '{1:1,1000000000:2}/1000000000'::sparsevec;
SELECT l2_distance('{1:1,1000000000:2}/1000000000'::sparsevec, '{999999999:2}/1000000000') AS big_l2;
-- 16,000 non-zeros (given in reverse order), and 16,001 (54000)
SELECT s::sparsevec = ('{' || (SELECT string_agg(i || ':' || i, ',' ORDER BY i) FROM generate_series(1, 16000) i) || '}/20000')::sparsevec AS sorted,
       l2_norm(s::sparsevec) = sqrt((SELECT sum(i::float8 * i) FROM generate_series(1, 16000) i)) AS norm
FROM (SELECT '{' || string_agg(i || ':' || i, ',' ORDER BY i DESC) || '}/20000' AS s
      FROM generate_series(1, 16000) i) t;
SELECT pg_temp.sqlerr(format('SELECT %L::sparsevec',
       '{' || (SELECT string_agg(i || ':1', ',') FROM generate_series(1, 16001) i) || '}/20000'));
-- zeros do not count toward the limit
SELECT length(('{' || (SELECT string_agg(i || ':' || (i % 2), ',') FROM generate_series(1, 32000) i) || '}/32000')::sparsevec::text) > 0 AS zeros_dropped;

--
-- typmod
--
SELECT '{1:1}/3'::sparsevec(3), '{}/1000000000'::sparsevec(1000000000);
SELECT pg_temp.sqlerr($$SELECT '{1:1}/3'::sparsevec(4)$$);
SELECT pg_temp.sqlerr($$SELECT '{1:1}/3'::sparsevec(3)::sparsevec(2)$$);
SELECT pg_temp.sqlerr($$SELECT '{}/1'::sparsevec(0)$$);
SELECT pg_temp.sqlerr($$SELECT '{}/1'::sparsevec(1000000001)$$);
SELECT pg_temp.sqlerr($$SELECT '{}/1'::sparsevec(1,2)$$);
CREATE TABLE sv_t (id int, v sparsevec(5));
SELECT format_type(atttypid, atttypmod) FROM pg_attribute
WHERE attrelid = 'sv_t'::regclass AND attname = 'v';
INSERT INTO sv_t VALUES (1, '{1:1,5:5}/5'), (2, '{}/5'), (3, NULL);
SELECT pg_temp.sqlerr($$INSERT INTO sv_t VALUES (4, '{1:1}/6')$$);
SELECT * FROM sv_t ORDER BY id;
-- storage: 16-byte header + 8 bytes per non-zero, whatever the dimensions
SELECT typlen, typalign, typstorage FROM pg_type WHERE typname = 'sparsevec';
SELECT pg_column_size('{}/5'::sparsevec) AS empty, pg_column_size('{1:1,3:2}/5'::sparsevec) AS two,
       pg_column_size('{1:1,3:2}/1000000000'::sparsevec) AS two_big;

--
-- binary I/O: int32 dim, int32 nnz, int32 unused, nnz x int32 index (0-based),
-- nnz x float4, big-endian
--
SELECT sparsevec_send('{1:1.5,3:2}/5'), sparsevec_send('{}/1000000000');
SELECT pg_temp.recv('\x00000005000000020000000000000000000000023fc0000040000000', 'sparsevec');
SELECT pg_temp.recv(sparsevec_send('{1:0.1,7:-3.4028235e38,1000000000:1e-45}/1000000000'), 'sparsevec');
SELECT pg_temp.recv(sparsevec_send('{}/3'), 'sparsevec(3)');
-- errors: header, lengths, indices, values, typmod
SELECT pg_temp.recv('\x0000000500000000', 'sparsevec');                          -- truncated header
SELECT pg_temp.recv('\x000000000000000000000000', 'sparsevec');                  -- 0 dims
SELECT pg_temp.recv('\xffffffff0000000000000000', 'sparsevec');                  -- -1 dims
SELECT pg_temp.recv('\x3b9aca010000000000000000', 'sparsevec');                  -- 1e9 + 1 dims
SELECT pg_temp.recv('\x00000005ffffffff00000000', 'sparsevec');                  -- nnz -1
SELECT pg_temp.recv('\x0001000000003e8100000000', 'sparsevec');                  -- nnz 16001
SELECT pg_temp.recv('\x000000020000000300000000', 'sparsevec');                  -- nnz > dim
SELECT pg_temp.recv('\x00000005000000000000000100', 'sparsevec');                -- unused 1
SELECT pg_temp.recv('\x000000050000000100000000000000003f80', 'sparsevec');      -- short payload
SELECT pg_temp.recv('\x0000000500000001000000007fffffff3f800000', 'sparsevec');   -- nnz 1, huge index
SELECT pg_temp.recv('\x00000005000000010000000000000005' || '\x3f800000'::bytea, 'sparsevec');  -- index = dim
SELECT pg_temp.recv('\x000000050000000100000000ffffffff3f800000', 'sparsevec');   -- index -1
SELECT pg_temp.recv('\x00000005000000020000000000000002000000013f8000003f800000', 'sparsevec');  -- descending
SELECT pg_temp.recv('\x00000005000000020000000000000001000000013f8000003f800000', 'sparsevec');  -- duplicate
SELECT pg_temp.recv('\x0000000500000001000000000000000000000000', 'sparsevec');   -- zero value
SELECT pg_temp.recv('\x0000000500000001000000000000000080000000', 'sparsevec');   -- -0 value
SELECT pg_temp.recv('\x000000050000000100000000000000007fc00000', 'sparsevec');   -- NaN
SELECT pg_temp.recv('\x00000005000000010000000000000000ff800000', 'sparsevec');   -- -Infinity
SELECT pg_temp.recv(sparsevec_send('{1:1}/5'), 'sparsevec(4)');                  -- typmod
SELECT pg_temp.recv(sparsevec_send('{1:1}/5') || '\x00'::bytea, 'sparsevec');    -- trailing byte
-- COPY BINARY round trip of a table, one value with 16,000 non-zeros
CREATE TEMP TABLE sv_copy AS
SELECT i AS id, ('{' || i || ':' || (i / 7.0) || ',' || (i * 1000 + 1) || ':-1}/1000000000')::sparsevec AS v
FROM generate_series(1, 50) i;
INSERT INTO sv_copy SELECT 51, ('{' || string_agg(i * 3 || ':' || i, ',') || '}/48000')::sparsevec
FROM generate_series(1, 16000) i;
SELECT current_setting('data_directory') || '/embed_regress_sparsevec.bin' AS copy_file \gset
COPY sv_copy TO :'copy_file' (FORMAT binary);
CREATE TEMP TABLE sv_copy2 (LIKE sv_copy);
COPY sv_copy2 FROM :'copy_file' (FORMAT binary);
SELECT count(*) AS rows, count(*) FILTER (WHERE a.v = b.v AND a.v::text = b.v::text) AS same
FROM sv_copy a JOIN sv_copy2 b USING (id);

--
-- casts
--
SELECT '[1,0,-2.5,0]'::vector::sparsevec, '[0,0]'::vector::sparsevec, '[0.1,-0,3]'::halfvec::sparsevec;
SELECT '{2:1.5,4:-2}/5'::sparsevec::vector, '{}/2'::sparsevec::vector, '{1:0.1}/2'::sparsevec::halfvec;
SELECT ARRAY[0,1,0,2]::sparsevec, ARRAY[1.5,0]::real[]::sparsevec, ARRAY[0.1,0]::float8[]::sparsevec,
       ARRAY[0,-2.5]::numeric[]::sparsevec, ARRAY[0,0,0]::sparsevec(3);
SELECT '[1,2]'::vector::sparsevec(2), '{1:1}/2'::sparsevec::vector(2), '{1:1}/2'::sparsevec::halfvec(2);
-- round trips through vector and halfvec
SELECT v::sparsevec::vector = v AS vector_trip, v::halfvec::sparsevec::halfvec = v::halfvec AS halfvec_trip
FROM (SELECT array_agg(CASE WHEN i % 3 = 0 THEN sin(i) ELSE 0 END::real)::vector AS v
      FROM generate_series(1, 3000) i) t;
SELECT pg_temp.sqlerr($$SELECT '{1:1}/16001'::sparsevec::vector$$);
SELECT pg_temp.sqlerr($$SELECT '{1:1}/16001'::sparsevec::halfvec$$);
SELECT pg_temp.sqlerr($$SELECT '{1:70000}/3'::sparsevec::halfvec$$);
SELECT pg_temp.sqlerr($$SELECT '{1:1}/3'::sparsevec::vector(2)$$);
SELECT pg_temp.sqlerr($$SELECT '{1:1}/3'::sparsevec::halfvec(2)$$);
SELECT pg_temp.sqlerr($$SELECT '[1,2]'::vector::sparsevec(3)$$);
SELECT pg_temp.sqlerr($$SELECT '[1,2]'::halfvec::sparsevec(3)$$);
SELECT pg_temp.sqlerr($$SELECT ARRAY[1,2]::sparsevec(3)$$);
SELECT pg_temp.sqlerr($$SELECT ARRAY[1,NULL]::sparsevec$$);
SELECT pg_temp.sqlerr($$SELECT ARRAY[[1,2],[3,4]]::sparsevec$$);
SELECT pg_temp.sqlerr($$SELECT '{}'::real[]::sparsevec$$);
SELECT pg_temp.sqlerr($$SELECT ARRAY['NaN']::real[]::sparsevec$$);
SELECT pg_temp.sqlerr($$SELECT ARRAY[1e50]::numeric[]::sparsevec$$);
SELECT pg_temp.sqlerr($$SELECT ARRAY[1e300]::float8[]::sparsevec$$);
-- an array of 20,000 elements is fine while at most 16,000 are non-zero
SELECT pg_temp.sqlerr($$SELECT array_fill(1, ARRAY[16001])::sparsevec$$);
SELECT l2_norm((SELECT array_agg(CASE WHEN i <= 16000 THEN 1 ELSE 0 END) FROM generate_series(1, 20000) i)::sparsevec) AS norm_16000;
-- cast contexts as REFERENCE.md: vector/halfvec -> sparsevec implicit;
-- sparsevec -> vector/halfvec and arrays -> sparsevec by assignment
SELECT s.typname AS source, t.typname AS target, c.castcontext
FROM pg_cast c JOIN pg_type s ON s.oid = c.castsource JOIN pg_type t ON t.oid = c.casttarget
WHERE 'sparsevec'::regtype IN (c.castsource, c.casttarget) ORDER BY 1, 2;
CREATE TEMP TABLE sv_assign (s sparsevec, v vector, h halfvec);
INSERT INTO sv_assign VALUES ('[1,0]'::vector, '{2:4}/2'::sparsevec, '{1:5}/2'::sparsevec);
INSERT INTO sv_assign (s) VALUES ('[0,7]'::halfvec), (ARRAY[8,0]);
SELECT * FROM sv_assign;
-- a vector operand meeting a sparsevec one is cast to sparsevec; vector and
-- halfvec still meet as halfvec; untyped literals still mean vector
SELECT pg_typeof('[1,2]'::vector <-> '{1:1}/2'::sparsevec), '[1,2]'::vector <-> '{1:1}/2'::sparsevec,
       pg_typeof('[1,2]'::vector <-> '[1,2]'::halfvec), pg_typeof(l2_normalize('[3,4]'));

--
-- distances and their operators
--
SELECT l2_distance('{}/2'::sparsevec, '{1:3,2:4}/2'), '{}/2'::sparsevec <-> '{1:3,2:4}/2',
       sparsevec_l2_squared_distance('{}/2', '{1:3,2:4}/2');
SELECT inner_product('{1:1,2:2,3:3}/3'::sparsevec, '{1:4,2:5,3:6}/3'), '{1:1,2:2,3:3}/3'::sparsevec <#> '{1:4,2:5,3:6}/3',
       sparsevec_negative_inner_product('{1:1,2:2,3:3}/3', '{1:4,2:5,3:6}/3');
SELECT cosine_distance('{1:1,2:2}/2'::sparsevec, '{1:2,2:4}/2') AS parallel, '{1:1}/2'::sparsevec <=> '{2:3}/2' AS orthogonal,
       cosine_distance('{1:2,2:2}/2'::sparsevec, '{1:-1,2:-1}/2') AS opposite, '{1:1}/2'::sparsevec <=> '{}/2' AS zero;
SELECT l1_distance('{1:1,2:2,3:3}/3'::sparsevec, '{1:4,2:5,3:6}/3'), '{1:-1,2:1}/2'::sparsevec <+> '{1:1,2:-1}/2';
-- disjoint and interleaved index lists
SELECT a <-> b AS l2, a <#> b AS nip, a <=> b AS cos, a <+> b AS l1
FROM (VALUES ('{1:1,3:2,5:3}/6'::sparsevec, '{2:4,4:5,6:6}/6'::sparsevec),
             ('{1:1,2:2,6:3}/6', '{2:1,3:1,6:1}/6'),
             ('{}/6', '{}/6')) t(a, b);
-- the same as vector's and halfvec's on the same values (integers: exact)
SELECT setseed(0.125);
SELECT bool_and(a <-> b = a::vector <-> b::vector AND a <#> b = a::vector <#> b::vector
            AND a <=> b = a::vector <=> b::vector AND a <+> b = a::vector <+> b::vector
            AND a <-> b = a::halfvec <-> b::halfvec AND a <#> b = a::halfvec <#> b::halfvec
            AND a <+> b = a::halfvec <+> b::halfvec
            AND l2_norm(a) = vector_norm(a::vector) AND l2_norm(a) = l2_norm(a::halfvec)) AS same
FROM (SELECT (SELECT array_agg(CASE WHEN random() < 0.3 THEN floor(random() * 21 - 10) ELSE 0 END)
              FROM generate_series(1, 40) WHERE r > 0)::sparsevec AS a,
             (SELECT array_agg(CASE WHEN random() < 0.3 THEN floor(random() * 21 - 10) ELSE 0 END)
              FROM generate_series(1, 40) WHERE r > 0)::sparsevec AS b
      FROM generate_series(1, 200) r) t WHERE l2_norm(a) > 0 AND l2_norm(b) > 0;
-- random reals: vector's float32 kernels and the double sums agree to 1e-6
SELECT bool_and(abs((a <-> b) - (a::vector <-> b::vector)) <= 1e-6 * (a <-> b)
            AND abs((a <#> b) - (a::vector <#> b::vector)) <= 1e-6 * l2_norm(a) * l2_norm(b)
            AND abs((a <=> b) - (a::vector <=> b::vector)) <= 1e-6
            AND abs((a <+> b) - (a::vector <+> b::vector)) <= 1e-6 * (a <+> b)
            AND abs(l2_norm(a) - vector_norm(a::vector)) <= 1e-6 * l2_norm(a)) AS close
FROM (SELECT (SELECT array_agg(CASE WHEN random() < 0.1 THEN random() * 2 - 1 ELSE 0 END)
              FROM generate_series(1, 1000) WHERE r > 0)::sparsevec AS a,
             (SELECT array_agg(CASE WHEN random() < 0.1 THEN random() * 2 - 1 ELSE 0 END)
              FROM generate_series(1, 1000) WHERE r > 0)::sparsevec AS b
      FROM generate_series(1, 50) r) t;
-- the largest floats: sums in double, finite
SELECT '{1:3.4028235e38,2:3.4028235e38}/2'::sparsevec <-> '{1:-3.4028235e38,2:-3.4028235e38}/2' AS big_l2,
       '{1:3.4028235e38,2:3.4028235e38}/2'::sparsevec <#> '{1:3.4028235e38,2:3.4028235e38}/2' AS big_ip,
       '{1:3.4028235e38}/2'::sparsevec <=> '{1:3.4028235e38,2:1e-45}/2' AS big_cos;
-- time follows the non-zeros: 1e9 dimensions, 16,000 non-zeros each, 200 distances
SELECT count(*) FILTER (WHERE d > 0) AS n
FROM (SELECT a <-> b AS d FROM
        (SELECT ('{' || string_agg((i * 62500) || ':1', ',') || '}/1000000000')::sparsevec AS a,
                ('{' || string_agg((i * 62500 - 1) || ':1', ',') || '}/1000000000')::sparsevec AS b
         FROM generate_series(1, 16000) i) t, generate_series(1, 200)) s;
SELECT pg_temp.sqlerr($$SELECT '{1:1}/2'::sparsevec <-> '{1:1}/3'$$);
SELECT pg_temp.sqlerr($$SELECT inner_product('{1:1}/2'::sparsevec, '{1:1}/3')$$);
SELECT pg_temp.sqlerr($$SELECT cosine_distance('{1:1}/2'::sparsevec, '{1:1}/3')$$);
SELECT pg_temp.sqlerr($$SELECT l1_distance('{1:1}/2'::sparsevec, '{1:1}/3')$$);
SELECT pg_temp.sqlerr($$SELECT sparsevec_l2_squared_distance('{1:1}/2', '{1:1}/3')$$);
SELECT pg_temp.sqlerr($$SELECT sparsevec_negative_inner_product('{1:1}/2', '{1:1}/3')$$);
SELECT pg_temp.sqlerr($$SELECT '{1:1}/2'::sparsevec <#> '{1:1}/3'$$);
SELECT pg_temp.sqlerr($$SELECT '{1:1}/2'::sparsevec <=> '{1:1}/3'$$);
SELECT pg_temp.sqlerr($$SELECT '{1:1}/2'::sparsevec <+> '{1:1}/3'$$);

--
-- functions
--
SELECT l2_norm('{1:3,5:4}/5'::sparsevec), l2_norm('{}/5'::sparsevec), l2_norm('{1:3.4028235e38,2:3.4028235e38}/2'::sparsevec);
SELECT l2_normalize('{1:3,5:4}/5'::sparsevec), l2_normalize('{2:-5}/3'::sparsevec), l2_normalize('{}/3'::sparsevec),
       pg_typeof(l2_normalize('{1:1}/1'::sparsevec));
-- a value whose quotient rounds to zero leaves the result
SELECT l2_normalize('{1:3e38,2:1e-45,3:3e38}/3'::sparsevec);
SELECT l2_normalize(v)::vector = l2_normalize(v::vector) AS same_as_vector
FROM (VALUES ('{1:1,4:2,9:-3}/10'::sparsevec)) t(v);

--
-- ordering: the values written out densely, element-wise (an absent index
-- is 0), then by dimensions: the order vector gives the same values
--
SELECT '{1:1}/2'::sparsevec < '{1:1,2:1}/2', '{1:1}/2'::sparsevec <= '{1:1}/2', '{1:1}/2'::sparsevec = '{1:1}/3',
       '{1:1}/2'::sparsevec <> '{1:1}/2', '{2:-1}/2'::sparsevec >= '{}/2', '{1:2}/2'::sparsevec > '{1:1,2:9}/2',
       sparsevec_cmp('{1:1}/2', '{1:1}/3'), sparsevec_cmp('{3:1}/3', '{}/2'), sparsevec_cmp('{}/3', '{}/3');
CREATE TEMP TABLE sv_ord (v sparsevec);
INSERT INTO sv_ord VALUES ('{1:1,2:2}/2'), ('{1:-1}/1'), ('{1:1,2:2}/3'), ('{1:1,3:5}/3'), ('{}/1'), ('{}/3'),
	('{2:0.1}/3'), ('{1:-1,2:1}/2'), ('{1:1,2:2}/2'), ('{3:-1}/3'), ('{1000000000:1}/1000000000'), ('{1:1e-45}/1');
SELECT v FROM sv_ord ORDER BY v;
SELECT DISTINCT v FROM sv_ord ORDER BY v;
-- the same order as the dense values (every row but the 1e9-dimension one)
SELECT bool_and((a < b) = (a::vector < b::vector) AND (a = b) = (a::vector = b::vector)
            AND sparsevec_cmp(a, b) = vector_cmp(a::vector, b::vector)) AS same_as_vector
FROM sv_ord x(a), sv_ord y(b)
WHERE a::text NOT LIKE '%/1000000000' AND b::text NOT LIKE '%/1000000000';
CREATE INDEX sv_ord_b ON sv_ord USING btree (v);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT * FROM sv_ord WHERE v = '{1:1,2:2}/2';
SELECT count(*) FROM sv_ord WHERE v = '{1:1,2:2}/2';
SELECT v FROM sv_ord WHERE v > '{1:1}/3' ORDER BY v;
RESET enable_seqscan;
SELECT opcname, opcdefault FROM pg_opclass c JOIN pg_am a ON a.oid = c.opcmethod
WHERE opcintype = 'sparsevec'::regtype ORDER BY a.amname, opcname;

--
-- hnsw: one index per opclass, answers checked against exact scans
--
CREATE FUNCTION pg_temp.sknn(idx regclass, op text, q sparsevec, k int DEFAULT 10,
                             OUT ids int[], OUT exact boolean) LANGUAGE plpgsql AS $$
DECLARE
	tab regclass := (SELECT indrelid FROM pg_index WHERE indexrelid = idx);
	stmt text := format('SELECT id FROM %s ORDER BY v %s %L::sparsevec LIMIT %s', tab, op, q, k);
BEGIN
	ids := pg_temp.ids_index(stmt, idx::text);
	exact := ids = pg_temp.ids_exact(stmt);
END $$;
-- small table, ef_search above the row count: exact answers (8 of 1,000,000
-- dimensions in use, about 6 non-zeros a row)
CREATE TABLE sv_items (id int PRIMARY KEY, v sparsevec(1000000));
INSERT INTO sv_items
SELECT i, ('{' || string_agg((k * 111111) || ':' || round(sin(i * 7 + k * 13)::numeric, 4), ',')
                  FILTER (WHERE (i + k) % 4 <> 0) || '}/1000000')::sparsevec
FROM generate_series(1, 100) i, generate_series(1, 8) k GROUP BY i;
CREATE INDEX sv_l2 ON sv_items USING hnsw (v sparsevec_l2_ops);
CREATE INDEX sv_ip ON sv_items USING hnsw (v sparsevec_ip_ops);
CREATE INDEX sv_cos ON sv_items USING hnsw (v sparsevec_cosine_ops);
CREATE INDEX sv_l1 ON sv_items USING hnsw (v sparsevec_l1_ops);
SET hnsw.ef_search = 100;
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM sv_items ORDER BY v <-> '{111111:1}/1000000' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM sv_items ORDER BY v <#> '{111111:1}/1000000' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM sv_items ORDER BY v <=> '{111111:1}/1000000' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM sv_items ORDER BY v <+> '{111111:1}/1000000' LIMIT 5;
SELECT id, v, round((v <-> '{111111:0.5,333333:-0.7,888888:0.9}/1000000')::numeric, 6) AS l2
FROM sv_items ORDER BY v <-> '{111111:0.5,333333:-0.7,888888:0.9}/1000000' LIMIT 5;
RESET enable_seqscan;
SELECT op, q, (pg_temp.sknn(idx, op, q)).*
FROM (VALUES ('sv_l2', '<->'), ('sv_ip', '<#>'), ('sv_cos', '<=>'), ('sv_l1', '<+>')) o(idx, op),
     (VALUES ('{111111:0.5,333333:-0.7,888888:0.9}/1000000'::sparsevec), ('{222222:-0.3,444444:0.8,555555:0.1,666666:-0.9}/1000000')) t(q)
ORDER BY idx, q::text;
-- a zero vector is not indexed under cosine; NULLs nowhere
INSERT INTO sv_items VALUES (101, '{}/1000000'), (102, NULL);
SET hnsw.ef_search = 200;
SET enable_seqscan = off;
SELECT count(*) AS cos_rows FROM (SELECT id FROM sv_items ORDER BY v <=> '{111111:1}/1000000' LIMIT 200) s;
SELECT count(*) AS l2_rows FROM (SELECT id FROM sv_items ORDER BY v <-> '{111111:1}/1000000' LIMIT 200) s;
RESET enable_seqscan;
RESET hnsw.ef_search;
-- dimensions must match the query's
SELECT pg_temp.sqlerr($$SELECT id FROM sv_items ORDER BY v <-> '{1:1}/5' LIMIT 1$$);
DROP TABLE sv_items;

-- recall on 1,000 random rows (about 20 non-zeros of 10,000 dims, most drawn
-- from 200 hot dimensions so rows overlap) with the default ef_search (40),
-- 20 queries
SELECT setseed(0.5);
CREATE TABLE sv_rand AS SELECT i AS id,
	('{' || (SELECT string_agg(d || ':' || round((random() * 2 - 1)::numeric, 3), ',')
	         FROM (SELECT DISTINCT CASE WHEN random() < 0.8 THEN 1 + floor(random() * 200)
	                                    ELSE 1 + floor(random() * 10000) END::int AS d
	               FROM generate_series(1, 20) WHERE i > 0) s) || '}/10000')::sparsevec(10000) AS v
FROM generate_series(1, 1000) i;
CREATE INDEX sv_rand_l2 ON sv_rand USING hnsw (v sparsevec_l2_ops);
CREATE INDEX sv_rand_ip ON sv_rand USING hnsw (v sparsevec_ip_ops);
CREATE INDEX sv_rand_cos ON sv_rand USING hnsw (v sparsevec_cosine_ops);
CREATE INDEX sv_rand_l1 ON sv_rand USING hnsw (v sparsevec_l1_ops);
SELECT op, round(avg(cardinality(ARRAY(SELECT unnest((pg_temp.sknn(idx, op, q.v)).ids)
                                      INTERSECT
                                      SELECT unnest(pg_temp.ids_exact(format(
                                          'SELECT id FROM sv_rand ORDER BY v %s %L::sparsevec LIMIT 10', op, q.v))))))
             / 10, 2) >= 0.9 AS recall_ok
FROM (VALUES ('sv_rand_l2', '<->'), ('sv_rand_ip', '<#>'), ('sv_rand_cos', '<=>'), ('sv_rand_l1', '<+>')) o(idx, op),
     (SELECT v FROM sv_rand WHERE id % 50 = 3) q
GROUP BY op ORDER BY op;
-- embed_index_recall speaks sparsevec indexes too
SELECT embed_index_recall('sv_rand_l2', 20, 10) >= 0.9 AS l2_ok,
       embed_index_recall('sv_rand_cos', 20, 10) >= 0.9 AS cos_ok;
DROP TABLE sv_rand;

-- values of 16,000 non-zeros (128 KB) are indexed on overflow pages
CREATE TABLE sv_wide (id int, v sparsevec(1000000000));
INSERT INTO sv_wide SELECT r, ('{' || string_agg((i * 60000 + r) || ':' || (r + i % 3), ',') || '}/1000000000')::sparsevec
FROM generate_series(1, 8) r, generate_series(1, 16000) i GROUP BY r;
CREATE INDEX sv_wide_l2 ON sv_wide USING hnsw (v sparsevec_l2_ops);
INSERT INTO sv_wide SELECT 9, ('{' || string_agg((i * 60000) || ':1', ',') || '}/1000000000')::sparsevec
FROM generate_series(1, 16000) i;
SET enable_seqscan = off;
SELECT id FROM sv_wide ORDER BY v <-> (SELECT v FROM sv_wide WHERE id = 9) LIMIT 3;
SELECT id FROM sv_wide ORDER BY v <-> (SELECT v FROM sv_wide WHERE id = 4) LIMIT 1;
RESET enable_seqscan;
SELECT pg_relation_size('sv_wide_l2') / current_setting('block_size')::int > 9 * 16 AS on_overflow_pages;
DROP TABLE sv_wide;
-- no ivfflat opclass for sparsevec
SELECT pg_temp.sqlerr($$CREATE INDEX ON sv_t USING ivfflat (v)$$);
DROP TABLE sv_t;
