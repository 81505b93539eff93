-- halfvec: IEEE binary16 components through the same dense layer as vector
\i sql/include/setup.sql
\i sql/include/recv.sql
\i sql/include/knn.sql

--
-- text I/O: each stored half printed as the shortest float4 string
--
SELECT '[1,2.5,-3]'::halfvec, '[ 1 , 2 ]'::halfvec, '[42]'::halfvec;
-- rounding to the nearest half (ties to even): 0.1, 1/3, 2049 -> 2048, 2051 -> 2052
SELECT '[0.1,0.33333,2049,2051,-0.2]'::halfvec;
-- the extremes: largest half, smallest normal, smallest subnormal, 65519 rounds down
SELECT '[65504,-65504,6.1035156e-05,5.9604645e-08,65519]'::halfvec;
-- below half the smallest subnormal: signed zero, as strtof's underflow
SELECT '[1e-8,-1e-8,0,-0]'::halfvec;
-- out of float16's range: 22003, never Infinity
SELECT pg_temp.sqlerr($$SELECT '[65520]'::halfvec$$);
SELECT pg_temp.sqlerr($$SELECT '[1,-1e5]'::halfvec$$);
SELECT pg_temp.sqlerr($$SELECT '[1e39]'::halfvec$$);
-- syntax and element errors name the type
SELECT pg_temp.sqlerr($$SELECT '[NaN]'::halfvec$$);
SELECT pg_temp.sqlerr($$SELECT '[Infinity]'::halfvec$$);
SELECT pg_temp.sqlerr($$SELECT '[-inf]'::halfvec$$);
SELECT pg_temp.sqlerr($$SELECT '[]'::halfvec$$);
SELECT pg_temp.sqlerr($$SELECT '[1,]'::halfvec$$);
SELECT pg_temp.sqlerr($$SELECT '1,2'::halfvec$$);
SELECT pg_temp.sqlerr($$SELECT '[1,2] x'::halfvec$$);
SELECT pg_temp.sqlerr($$SELECT '[1 2]'::halfvec$$);
-- every half value prints as the float4 of its bits and reads back
-- exactly (all 63,490 finite non-negative halves and their negations)
CREATE TEMP TABLE halves AS
SELECT h, CASE WHEN h < 1024 THEN h * 2 ^ -24
               ELSE (1 + (h % 1024) / 1024.0) * 2 ^ (h / 1024 - 15) END::float4 AS f
FROM generate_series(0, 31743) h;
SELECT count(*) AS halves,
       count(*) FILTER (WHERE ('[' || f || ',' || -f || ']')::halfvec::text
                              <> '[' || f::text || ',' || (-f)::text || ']') AS text_mismatch,
       count(*) FILTER (WHERE ARRAY[f, -f]::halfvec::real[] <> ARRAY[f, -f]) AS array_mismatch
FROM halves;

--
-- dimensions, typmod
--
SELECT vector_dims('[1,2,3]'::halfvec), vector_dims(array_fill(1, ARRAY[16000])::halfvec);
SELECT pg_temp.sqlerr($$SELECT array_fill(1, ARRAY[16001])::halfvec$$);
SELECT pg_temp.sqlerr($$SELECT ('[' || repeat('1,', 16000) || '1]')::halfvec$$);
SELECT '[1,2,3]'::halfvec(3);
SELECT pg_temp.sqlerr($$SELECT '[1,2]'::halfvec(3)$$);
SELECT pg_temp.sqlerr($$SELECT '[1,2,3]'::halfvec(3)::halfvec(2)$$);
SELECT pg_temp.sqlerr($$SELECT '[1]'::halfvec(0)$$);
SELECT pg_temp.sqlerr($$SELECT '[1]'::halfvec(16001)$$);
SELECT pg_temp.sqlerr($$SELECT '[1]'::halfvec(1,2)$$);
CREATE TABLE hv_t (id int, v halfvec(3));
SELECT format_type(atttypid, atttypmod) FROM pg_attribute
WHERE attrelid = 'hv_t'::regclass AND attname = 'v';
INSERT INTO hv_t VALUES (1, '[1,2,3]'), (2, '[4,5,6]'), (3, NULL);
SELECT pg_temp.sqlerr($$INSERT INTO hv_t VALUES (4, '[1,2]')$$);
SELECT * FROM hv_t ORDER BY id;
-- storage: 4-byte header + int16 dim + int16 unused + 2 bytes per element
SELECT typlen, typalign, typstorage FROM pg_type WHERE typname = 'halfvec';
SELECT pg_column_size('[1]'::halfvec) AS one, pg_column_size('[1,2,3]'::halfvec) AS three;

--
-- binary I/O: uint16 dim, uint16 unused, dim x binary16, big-endian
--
SELECT halfvec_send('[1,-2,0.5,65504]');
SELECT halfvec_send('[5.9604645e-08,-0]');
SELECT pg_temp.recv('\x000200003c00c000', 'halfvec');
SELECT pg_temp.recv(halfvec_send('[0.1,-65504,6.1e-05,3]'), 'halfvec');
SELECT pg_temp.recv(halfvec_send('[1,2,3]'), 'halfvec(3)');
-- errors: NaN and infinite halves, truncation, bad header, typmod
SELECT pg_temp.recv('\x000100007c00', 'halfvec');
SELECT pg_temp.recv('\x00010000fc00', 'halfvec');
SELECT pg_temp.recv('\x000100007e00', 'halfvec');
SELECT pg_temp.recv('\x000200003c00', 'halfvec');
SELECT pg_temp.recv('\x0001', 'halfvec');
SELECT pg_temp.recv('\x000100013c00', 'halfvec');
SELECT pg_temp.recv('\x00000000', 'halfvec');
SELECT pg_temp.recv('\x3e8100003c00', 'halfvec');
SELECT pg_temp.recv(halfvec_send('[1,2]'), 'halfvec(3)');
-- trailing bytes are refused (COPY checks the field was consumed)
SELECT pg_temp.recv('\x000100003c0000', 'halfvec');
-- COPY BINARY round trip of a table
CREATE TEMP TABLE hv_copy AS SELECT i AS id, ARRAY[i, -i, i / 7.0]::halfvec AS v FROM generate_series(1, 50) i;
SELECT current_setting('data_directory') || '/embed_regress_halfvec.bin' AS copy_file \gset
COPY hv_copy TO :'copy_file' (FORMAT binary);
CREATE TEMP TABLE hv_copy2 (LIKE hv_copy);
COPY hv_copy2 FROM :'copy_file' (FORMAT binary);
SELECT count(*) AS rows, count(*) FILTER (WHERE a.v = b.v AND a.v::text = b.v::text) AS same
FROM hv_copy a JOIN hv_copy2 b USING (id);

--
-- casts
--
SELECT '[1,2.5]'::vector::halfvec, '[0.1]'::vector::halfvec, '[0.1]'::halfvec::vector;
SELECT '[1,2]'::halfvec::real[], ARRAY[1,2]::halfvec, ARRAY[1.5,2.25]::real[]::halfvec,
       ARRAY[0.1,2]::float8[]::halfvec, ARRAY[1.5,-2]::numeric[]::halfvec;
SELECT ARRAY[1,2,3]::halfvec(3), '[1,2]'::vector::halfvec(2), '[1,2]'::halfvec::vector(2);
SELECT pg_temp.sqlerr($$SELECT '[1e5]'::vector::halfvec$$);
SELECT pg_temp.sqlerr($$SELECT ARRAY[70000]::halfvec$$);
SELECT pg_temp.sqlerr($$SELECT ARRAY[70000.5]::real[]::halfvec$$);
SELECT pg_temp.sqlerr($$SELECT ARRAY[1e10]::float8[]::halfvec$$);
SELECT pg_temp.sqlerr($$SELECT ARRAY[1e50]::numeric[]::halfvec$$);
SELECT pg_temp.sqlerr($$SELECT ARRAY['NaN']::real[]::halfvec$$);
SELECT pg_temp.sqlerr($$SELECT ARRAY['Infinity']::float8[]::halfvec$$);
SELECT pg_temp.sqlerr($$SELECT ARRAY[1,NULL]::halfvec$$);
SELECT pg_temp.sqlerr($$SELECT ARRAY[[1,2],[3,4]]::halfvec$$);
SELECT pg_temp.sqlerr($$SELECT '{}'::real[]::halfvec$$);
SELECT pg_temp.sqlerr($$SELECT ARRAY[1,2]::halfvec(3)$$);
SELECT pg_temp.sqlerr($$SELECT '[1,2]'::vector::halfvec(3)$$);
SELECT pg_temp.sqlerr($$SELECT '[1,2]'::halfvec::vector(3)$$);
-- cast contexts as pgvector: vector -> halfvec implicit, halfvec -> vector
-- and halfvec -> real[] by assignment, arrays -> halfvec by assignment
SELECT s.typname AS source, t.typname AS target, c.castcontext
FROM pg_cast c JOIN pg_type s ON s.oid = c.castsource JOIN pg_type t ON t.oid = c.casttarget
WHERE 'halfvec'::regtype IN (c.castsource, c.casttarget) ORDER BY 1, 2;
CREATE TEMP TABLE hv_assign (h halfvec, v vector, r real[]);
INSERT INTO hv_assign VALUES ('[1,2]'::vector, '[3,4]'::halfvec, '[5,6]'::halfvec);
INSERT INTO hv_assign (h) VALUES (ARRAY[7,8]);
SELECT * FROM hv_assign;
-- an untyped literal still means vector (vector is its category's preferred type)
SELECT pg_typeof(l2_normalize('[3,4]')), l2_distance('[0,0]', '[3,4]'), vector_dims('[1,2]');
-- mixed operands: the vector side is cast to halfvec
SELECT pg_typeof('[1,2]'::vector + '[1,1]'::halfvec), '[1,2]'::vector <-> '[4,6]'::halfvec;

--
-- distances and their operators
--
SELECT l2_distance('[0,0]'::halfvec, '[3,4]'), '[0,0]'::halfvec <-> '[3,4]',
       halfvec_l2_squared_distance('[0,0]', '[3,4]');
SELECT inner_product('[1,2,3]'::halfvec, '[4,5,6]'), '[1,2,3]'::halfvec <#> '[4,5,6]',
       halfvec_negative_inner_product('[1,2,3]', '[4,5,6]');
SELECT cosine_distance('[1,2]'::halfvec, '[2,4]') AS parallel, '[1,0]'::halfvec <=> '[0,3]' AS orthogonal,
       cosine_distance('[2,2]'::halfvec, '[-1,-1]') AS opposite, '[1,0]'::halfvec <=> '[0,0]' AS zero;
SELECT l1_distance('[1,2,3]'::halfvec, '[4,5,6]'), '[-1,1]'::halfvec <+> '[1,-1]';
-- halves decode exactly: distances equal vector's over the same values
SELECT a <-> b = a::vector <-> b::vector AS l2, a <#> b = a::vector <#> b::vector AS ip,
       a <=> b = a::vector <=> b::vector AS cos, a <+> b = a::vector <+> b::vector AS l1
FROM (SELECT '[0.1,0.2,-0.3,65504]'::halfvec a, '[1e-3,-7,0.5,-65504]'::halfvec b) t;
-- 2,000 dims (decoded in a heap buffer, past the stack one)
SELECT l2_distance(a, b) = l2_distance(a::vector, b::vector) AS l2,
       inner_product(a, b) = inner_product(a::vector, b::vector) AS ip,
       cosine_distance(a, b) = cosine_distance(a::vector, b::vector) AS cos,
       l1_distance(a, b) = l1_distance(a::vector, b::vector) AS l1
FROM (SELECT array_agg(sin(i)::real ORDER BY i)::halfvec a, array_agg(cos(i)::real ORDER BY i)::halfvec b
      FROM generate_series(1, 2000) i) t;
-- squares of the largest halves do not overflow (summed in float32 lanes, as for vector)
SELECT '[65504,65504]'::halfvec <-> '[-65504,-65504]' AS big_l2,
       '[65504,65504]'::halfvec <#> '[65504,65504]' AS big_ip;
SELECT pg_temp.sqlerr($$SELECT '[1,2]'::halfvec <-> '[1]'$$);
SELECT pg_temp.sqlerr($$SELECT inner_product('[1,2]'::halfvec, '[1]')$$);
SELECT pg_temp.sqlerr($$SELECT cosine_distance('[1,2]'::halfvec, '[1]')$$);
SELECT pg_temp.sqlerr($$SELECT l1_distance('[1,2]'::halfvec, '[1]')$$);
SELECT pg_temp.sqlerr($$SELECT halfvec_l2_squared_distance('[1,2]', '[1]')$$);
SELECT pg_temp.sqlerr($$SELECT halfvec_negative_inner_product('[1,2]', '[1]')$$);

--
-- functions
--
SELECT l2_norm('[3,4]'::halfvec), l2_norm('[0,0]'::halfvec), l2_norm('[65504,65504]'::halfvec);
SELECT l2_normalize('[3,4]'::halfvec), l2_normalize('[0,-5]'::halfvec), l2_normalize('[0,0]'::halfvec),
       pg_typeof(l2_normalize('[1]'::halfvec));
SELECT subvector('[1,2,3,4,5]'::halfvec, 2, 3), subvector('[1,2,3,4,5]'::halfvec, 4, 10),
       subvector('[1,2,3,4,5]'::halfvec, -1, 3), pg_typeof(subvector('[1,2]'::halfvec, 1, 1));
SELECT pg_temp.sqlerr($$SELECT subvector('[1,2,3]'::halfvec, 4, 1)$$);
SELECT pg_temp.sqlerr($$SELECT subvector('[1,2,3]'::halfvec, 1, 0)$$);
SELECT binary_quantize('[1,-1,0,2,-0,0.001,-3,5,6]'::halfvec);

--
-- arithmetic and concatenation
--
SELECT '[1,2,3]'::halfvec + '[4,5,6]', '[1,2,3]'::halfvec - '[4,5,6]', '[1,2,3]'::halfvec * '[4,5,6]';
SELECT '[1,2]'::halfvec || '[3]', pg_typeof('[1]'::halfvec || '[2]');
-- results are rounded to halves
SELECT '[0.1]'::halfvec + '[0.2]', '[2048]'::halfvec + '[1]';
SELECT pg_temp.sqlerr($$SELECT '[65504]'::halfvec + '[65504]'$$);
SELECT pg_temp.sqlerr($$SELECT '[-65504]'::halfvec - '[100]'$$);
SELECT pg_temp.sqlerr($$SELECT '[300]'::halfvec * '[300]'$$);
SELECT pg_temp.sqlerr($$SELECT '[1e-4]'::halfvec * '[1e-4]'$$);
SELECT pg_temp.sqlerr($$SELECT '[1,2]'::halfvec + '[1]'$$);
SELECT pg_temp.sqlerr($$SELECT '[1,2]'::halfvec - '[1]'$$);
SELECT pg_temp.sqlerr($$SELECT '[1,2]'::halfvec * '[1]'$$);
SELECT vector_dims(array_fill(1, ARRAY[8000])::halfvec || array_fill(2, ARRAY[8000])::halfvec);
SELECT pg_temp.sqlerr($$SELECT array_fill(1, ARRAY[8000])::halfvec || array_fill(2, ARRAY[8001])::halfvec$$);

--
-- ordering and the btree opclass
--
SELECT '[1,2]'::halfvec < '[1,3]', '[1,2]'::halfvec <= '[1,2]', '[1,2]'::halfvec = '[1,2.0001]',
       '[1,2]'::halfvec <> '[1,2]', '[1,2]'::halfvec >= '[1,2,0]', '[2]'::halfvec > '[1,9]',
       halfvec_cmp('[1,2]', '[1,2,3]'), halfvec_cmp('[-0]', '[0]'), halfvec_cmp('[5.9604645e-08]', '[0]');
CREATE TEMP TABLE hv_ord (v halfvec);
INSERT INTO hv_ord VALUES ('[1,2]'), ('[-1]'), ('[1,2,0]'), ('[65504]'), ('[-65504,1]'), ('[0.1]'),
	('[5.9604645e-08]'), ('[0]'), ('[1,2]');
SELECT v FROM hv_ord ORDER BY v;
SELECT DISTINCT v FROM hv_ord ORDER BY v;
CREATE INDEX hv_ord_b ON hv_ord USING btree (v);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT * FROM hv_ord WHERE v = '[1,2]';
SELECT count(*) FROM hv_ord WHERE v = '[1,2]';
SELECT v FROM hv_ord WHERE v > '[0.1]' ORDER BY v;
RESET enable_seqscan;
SELECT opcname, opcdefault FROM pg_opclass c JOIN pg_am a ON a.oid = c.opcmethod
WHERE opcintype = 'halfvec'::regtype ORDER BY a.amname, opcname;

--
-- aggregates
--
CREATE TEMP TABLE hv_agg (g int, v halfvec);
SELECT avg(v), sum(v) FROM hv_agg;
INSERT INTO hv_agg VALUES (1, '[1,2,3]'), (1, '[3,4,5]'), (2, '[1,1,1]'), (2, NULL);
SELECT avg(v), sum(v), pg_typeof(avg(v)), pg_typeof(sum(v)) FROM hv_agg;
SELECT g, avg(v), sum(v) FROM hv_agg GROUP BY g ORDER BY g;
-- float8 accumulation, one rounding to half at the end
SELECT avg(v) FROM (VALUES ('[0.1]'::halfvec), ('[0.2]'), ('[0.3]')) t(v);
SELECT sum(v) FROM (SELECT '[1]'::halfvec FROM generate_series(1, 3000)) t(v);
SELECT avg(v) FROM (SELECT '[65504,-65504]'::halfvec FROM generate_series(1, 100)) t(v);
SELECT pg_temp.sqlerr($$SELECT sum(v) FROM (VALUES ('[65504]'::halfvec), ('[65504]')) t(v)$$);
SELECT pg_temp.sqlerr($$SELECT avg(v) FROM (VALUES ('[1,2]'::halfvec), ('[1]')) t(v)$$);
-- parallel: partial states serialized and combined
CREATE TABLE hv_par AS SELECT i, ARRAY[i % 100, -(i % 7), 0.5]::halfvec AS v FROM generate_series(1, 100000) i;
ANALYZE hv_par;
SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT avg(v), sum(v) FILTER (WHERE i <= 1000) FROM hv_par;
SELECT avg(v), sum(v) FILTER (WHERE i <= 1000) FROM hv_par;
-- a sum beyond 65504 is an error, not Infinity
SELECT pg_temp.sqlerr($$SELECT sum(v) FROM hv_par$$);
RESET parallel_setup_cost; RESET parallel_tuple_cost; RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
DROP TABLE hv_par;

--
-- hnsw: one index per opclass, answers checked against exact scans
--
CREATE FUNCTION pg_temp.hknn(idx regclass, op text, q halfvec, k int DEFAULT 10,
                             OUT ids int[], OUT exact boolean) LANGUAGE plpgsql AS $$
DECLARE
	tab regclass := (SELECT indrelid FROM pg_index WHERE indexrelid = idx);
	stmt text := format('SELECT id FROM %s ORDER BY v %s %L::halfvec LIMIT %s', tab, op, q, k);
BEGIN
	ids := pg_temp.ids_index(stmt, idx::text);
	exact := ids = pg_temp.ids_exact(stmt);
END $$;
-- small table, ef_search above the row count: exact answers
CREATE TABLE hv_items (id int PRIMARY KEY, v halfvec(3));
INSERT INTO hv_items
SELECT i, ARRAY[(i * 37) % 101 - 50, (i * 59) % 103 - 51, (i * 71) % 107 - 53]
FROM generate_series(1, 100) i;
CREATE INDEX hv_l2 ON hv_items USING hnsw (v halfvec_l2_ops);
CREATE INDEX hv_ip ON hv_items USING hnsw (v halfvec_ip_ops);
CREATE INDEX hv_cos ON hv_items USING hnsw (v halfvec_cosine_ops);
CREATE INDEX hv_l1 ON hv_items USING hnsw (v halfvec_l1_ops);
SET hnsw.ef_search = 100;
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM hv_items ORDER BY v <-> '[10,-20,30]' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM hv_items ORDER BY v <#> '[10,-20,30]' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM hv_items ORDER BY v <=> '[10,-20,30]' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM hv_items ORDER BY v <+> '[10,-20,30]' LIMIT 5;
SELECT id, v, round((v <-> '[10,-20,30]')::numeric, 6) AS l2
FROM hv_items ORDER BY v <-> '[10,-20,30]' LIMIT 5;
RESET enable_seqscan;
SELECT op, q, (pg_temp.hknn(idx, op, q)).*
FROM (VALUES ('hv_l2', '<->'), ('hv_ip', '<#>'), ('hv_cos', '<=>'), ('hv_l1', '<+>')) o(idx, op),
     (VALUES ('[10,-20,30]'::halfvec), ('[-5,40,-7]')) t(q)
ORDER BY idx, q::text;
-- a zero vector is not indexed under cosine; NULLs nowhere
INSERT INTO hv_items VALUES (101, '[0,0,0]'), (102, NULL);
SET hnsw.ef_search = 200;
SET enable_seqscan = off;
SELECT count(*) AS cos_rows FROM (SELECT id FROM hv_items ORDER BY v <=> '[1,1,1]' LIMIT 200) s;
SELECT count(*) AS l2_rows FROM (SELECT id FROM hv_items ORDER BY v <-> '[1,1,1]' LIMIT 200) s;
RESET enable_seqscan;
RESET hnsw.ef_search;
DROP TABLE hv_items;

-- recall on 2,000 random 32-d rows with the default ef_search (40), 20 queries
SELECT setseed(0.25);
CREATE TABLE hv_rand AS SELECT i AS id,
	(SELECT array_agg((random() * 2 - 1)::real) FROM generate_series(1, 32) WHERE i > 0)::halfvec(32) AS v
FROM generate_series(1, 2000) i;
CREATE INDEX hv_rand_l2 ON hv_rand USING hnsw (v halfvec_l2_ops);
CREATE INDEX hv_rand_ip ON hv_rand USING hnsw (v halfvec_ip_ops);
CREATE INDEX hv_rand_cos ON hv_rand USING hnsw (v halfvec_cosine_ops);
CREATE INDEX hv_rand_l1 ON hv_rand USING hnsw (v halfvec_l1_ops);
SELECT op, round(avg(cardinality(ARRAY(SELECT unnest((pg_temp.hknn(idx, op, q.v)).ids)
                                      INTERSECT
                                      SELECT unnest(pg_temp.ids_exact(format(
                                          'SELECT id FROM hv_rand ORDER BY v %s %L::halfvec LIMIT 10', op, q.v))))))
             / 10, 2) >= 0.9 AS recall_ok
FROM (VALUES ('hv_rand_l2', '<->'), ('hv_rand_ip', '<#>'), ('hv_rand_cos', '<=>'), ('hv_rand_l1', '<+>')) o(idx, op),
     (SELECT v FROM hv_rand WHERE id % 100 = 3) q
GROUP BY op ORDER BY op;
-- embed_index_recall speaks halfvec indexes too
SELECT embed_index_recall('hv_rand_l2', 20, 10) >= 0.9 AS l2_ok,
       embed_index_recall('hv_rand_cos', 20, 10) >= 0.9 AS cos_ok;
-- ivfflat and ivfrabitq: every list probed gives the exact answers
DROP INDEX hv_rand_l2, hv_rand_ip, hv_rand_cos, hv_rand_l1;
CREATE INDEX hv_rand_fl2 ON hv_rand USING ivfflat (v halfvec_l2_ops) WITH (lists = 10);
CREATE INDEX hv_rand_fip ON hv_rand USING ivfflat (v halfvec_ip_ops) WITH (lists = 10);
CREATE INDEX hv_rand_fcos ON hv_rand USING ivfflat (v halfvec_cosine_ops) WITH (lists = 10);
SET ivfflat.probes = 10;
SELECT op, bool_and(pg_temp.ids_index(stmt, idx) = pg_temp.ids_exact(stmt)) AS exact
FROM (VALUES ('hv_rand_fl2', '<->'), ('hv_rand_fip', '<#>'), ('hv_rand_fcos', '<=>')) o(idx, op),
     (SELECT v FROM hv_rand WHERE id % 100 = 3) q,
     LATERAL format('SELECT id FROM hv_rand ORDER BY v %s %L::halfvec LIMIT 10', op, q.v) stmt
GROUP BY op ORDER BY op;
DROP INDEX hv_rand_fl2, hv_rand_fip, hv_rand_fcos;
CREATE INDEX hv_rand_rl2 ON hv_rand USING ivfrabitq (v halfvec_l2_ops) WITH (lists = 10);
CREATE INDEX hv_rand_rip ON hv_rand USING ivfrabitq (v halfvec_ip_ops) WITH (lists = 10);
CREATE INDEX hv_rand_rcos ON hv_rand USING ivfrabitq (v halfvec_cosine_ops) WITH (lists = 10);
SET ivfrabitq.probes = 10;
-- (RaBitQ's lower bounds hold with high probability, not always: nearly all
-- of the exact 10 come back, as for vector in the ivf suite)
SELECT op, avg(cardinality(ARRAY(SELECT unnest(pg_temp.ids_index(stmt, idx))
                                 INTERSECT SELECT unnest(pg_temp.ids_exact(stmt))))) >= 9.5 AS nearly_exact
FROM (VALUES ('hv_rand_rl2', '<->'), ('hv_rand_rip', '<#>'), ('hv_rand_rcos', '<=>')) o(idx, op),
     (SELECT v FROM hv_rand WHERE id % 100 = 3) q,
     LATERAL format('SELECT id FROM hv_rand ORDER BY v %s %L::halfvec LIMIT 10', op, q.v) stmt
GROUP BY op ORDER BY op;
SELECT embed_index_recall('hv_rand_rl2', 20, 10) >= 0.9 AS rabitq_recall_ok;
SELECT pages > 0 AS checked FROM embed_index_check('hv_rand_rcos');
RESET ivfflat.probes;
RESET ivfrabitq.probes;
DROP TABLE hv_rand;
-- ivfflat keeps halfvec entries as halves (2 bytes per dimension, on-disk
-- version 2): the same rows and distances as an exact scan with every list
-- probed, at 768 and 4,000 dimensions; index about half a vector one's size
CREATE FUNCTION pg_temp.rows(stmt text) RETURNS text[] LANGUAGE plpgsql AS $$
DECLARE r text[];
BEGIN
	EXECUTE format('SELECT ARRAY(SELECT id || '':'' || d FROM (%s) s)', stmt) INTO r;
	RETURN r;
END $$;
CREATE FUNCTION pg_temp.rows_exact(stmt text) RETURNS text[] LANGUAGE sql
	SET enable_indexscan = off SET enable_bitmapscan = off SET enable_seqscan = on
	AS $$ SELECT pg_temp.rows(stmt) $$;
CREATE FUNCTION pg_temp.rows_index(stmt text, idx text) RETURNS text[] LANGUAGE plpgsql
	SET enable_seqscan = off SET enable_bitmapscan = off SET enable_indexscan = on AS $$
DECLARE line text;
BEGIN
	FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || stmt LOOP
		IF line LIKE '%Index Scan using ' || idx || ' on %' THEN
			RETURN pg_temp.rows(stmt);
		END IF;
	END LOOP;
	RAISE EXCEPTION 'index % not used by: %', idx, stmt;
END $$;
SELECT setseed(0.5);
CREATE TABLE hv768 AS SELECT i AS id,
	(SELECT array_agg((random() * 2 - 1)::real) FROM generate_series(1, 768) WHERE i > 0)::halfvec(768) AS v
FROM generate_series(1, 480) i;
CREATE TABLE v768 AS SELECT id, v::vector(768) AS v FROM hv768;
CREATE INDEX hv768_l2 ON hv768 USING ivfflat (v halfvec_l2_ops) WITH (lists = 8);
CREATE INDEX hv768_ip ON hv768 USING ivfflat (v halfvec_ip_ops) WITH (lists = 8);
CREATE INDEX hv768_cos ON hv768 USING ivfflat (v halfvec_cosine_ops) WITH (lists = 8);
CREATE INDEX v768_l2 ON v768 USING ivfflat (v vector_l2_ops) WITH (lists = 8);
-- rows added after the build go in as halves too
INSERT INTO hv768 SELECT i AS id,
	(SELECT array_agg((random() * 2 - 1)::real) FROM generate_series(1, 768) WHERE i > 0)::halfvec(768) AS v
FROM generate_series(1001, 1060) i;
SET ivfflat.probes = 8;
SELECT op, bool_and(pg_temp.rows_index(stmt, idx) = pg_temp.rows_exact(stmt)) AS same_rows_and_distances,
       min(cardinality(pg_temp.rows_exact(stmt))) AS n
FROM (VALUES ('hv768_l2', '<->'), ('hv768_ip', '<#>'), ('hv768_cos', '<=>')) o(idx, op),
     (SELECT v FROM hv768 WHERE id % 60 = 5) q,
     LATERAL format('SELECT id, v %s %L::halfvec AS d FROM hv768 ORDER BY v %s %L::halfvec LIMIT 20',
                    op, q.v, op, q.v) stmt
GROUP BY op ORDER BY op;
SELECT tuples, heap_rows FROM embed_index_check('hv768_l2');
SELECT tuples FROM embed_index_check('hv768_cos');
-- 768 halves are 1,544-byte entries (5 a page), 768 floats 3,080 (2 a page);
-- both indexes were built over the same 480 rows into 8 lists
SELECT round(pg_relation_size('hv768_l2')::numeric / pg_relation_size('v768_l2'), 2)
	BETWEEN 0.35 AND 0.55 AS about_half;
DROP TABLE hv768, v768;
-- 4,000 dimensions (pgvector's halfvec limit for ivfflat) and the new
-- limit, 4,072: one entry a page
SELECT setseed(0.75);
CREATE TABLE hv4000 AS SELECT i AS id,
	(SELECT array_agg((random() * 2 - 1)::real) FROM generate_series(1, 4000) WHERE i > 0)::halfvec(4000) AS v
FROM generate_series(1, 64) i;
CREATE INDEX hv4000_l2 ON hv4000 USING ivfflat (v halfvec_l2_ops) WITH (lists = 4);
CREATE INDEX hv4000_cos ON hv4000 USING ivfflat (v halfvec_cosine_ops) WITH (lists = 4);
SET ivfflat.probes = 4;
SELECT op, bool_and(pg_temp.rows_index(stmt, idx) = pg_temp.rows_exact(stmt)) AS same_rows_and_distances
FROM (VALUES ('hv4000_l2', '<->'), ('hv4000_cos', '<=>')) o(idx, op),
     (SELECT v FROM hv4000 WHERE id % 16 = 3) q,
     LATERAL format('SELECT id, v %s %L::halfvec AS d FROM hv4000 ORDER BY v %s %L::halfvec LIMIT 10',
                    op, q.v, op, q.v) stmt
GROUP BY op ORDER BY op;
SELECT tuples FROM embed_index_check('hv4000_l2');
DROP TABLE hv4000;
CREATE TABLE hv4072 (id int, v halfvec(4072));
INSERT INTO hv4072 SELECT i, array_fill(i::real, ARRAY[4072]) FROM generate_series(1, 3) i;
CREATE INDEX hv4072_l2 ON hv4072 USING ivfflat (v halfvec_l2_ops) WITH (lists = 1);
SET enable_seqscan = off;
SELECT id FROM hv4072 ORDER BY v <-> array_fill(2.2::real, ARRAY[4072])::halfvec LIMIT 5;
RESET enable_seqscan;
CREATE TABLE hv4073 (id int, v halfvec(4073));
SELECT pg_temp.sqlerr($$CREATE INDEX ON hv4073 USING ivfflat (v halfvec_l2_ops)$$);
-- ivfrabitq keeps codes, not values: larger halfvecs are fine there
CREATE INDEX hv4073_r ON hv4073 USING ivfrabitq (v halfvec_l2_ops) WITH (lists = 1);
RESET ivfflat.probes;
DROP TABLE hv4072, hv4073;
-- ivf takes only the l2, inner product and cosine distances of dense types
SELECT pg_temp.sqlerr($$CREATE INDEX ON hv_t USING ivfflat (v halfvec_l1_ops)$$);
DROP TABLE hv_t;
