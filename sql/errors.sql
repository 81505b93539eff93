-- bad input: every case is a clean ERROR with the right SQLSTATE
--   22P02 syntax              22000 NaN/Infinity, empty, dimension mismatch
--   22003 out of range        54000 too many dimensions
--   22023 bad typmod          22004 NULL array element
\i sql/include/setup.sql

--
-- text input
--
SELECT input, pg_temp.sqlerr(format('SELECT %L::vector', input)) AS result
FROM (VALUES
	-- syntax: 22P02
	(''), (' '), ('['), (']'), ('[1,'), ('[1'), ('1,2]'), ('1'), ('[1,,2]'), ('[,1]'), ('[1,]'),
	('[1 2]'), ('[a]'), ('[1a]'), ('[1]x'), ('[1] ]'), ('[[1]]'), ('[1;2]'), ('[--1]'), ('[1e]'),
	('{1,2}'), ('(1,2)'), ('[1.2.3]'), ('[ , ]'), (E'[1\t2]'),
	-- empty: 22000
	('[]'), ('[ ]'), (E'[\n]'),
	-- NaN and infinities: 22000
	('[NaN]'), ('[nan]'), ('[1,NaN]'), ('[inf]'), ('[-inf]'), ('[Infinity]'), ('[-Infinity]'),
	('[1, +Infinity ]'),
	-- out of range: 22003
	('[1e39]'), ('[-1e39]'), ('[3.5e38]'), ('[1,2,1e1000]'), ('[-1e400]')
) t(input);
SELECT pg_temp.sqlerr($$SELECT ('[' || repeat('9', 100) || ']')::vector$$) AS long_number;
-- too many dimensions: 54000
SELECT pg_temp.sqlerr($$SELECT ('[' || repeat('1,', 16000) || '1]')::vector$$) AS dims_16001;
SELECT pg_temp.sqlerr($$SELECT ('[' || repeat('0,', 99999) || '0]')::vector$$) AS dims_100000;
SELECT pg_temp.sqlerr($$SELECT ('[' || repeat('1,', 16000) || ']')::vector$$) AS dims_16001_bad_syntax;
-- the same through a table and COPY
CREATE TABLE err_t (v vector);
SELECT pg_temp.sqlerr($$INSERT INTO err_t VALUES ('[1,2')$$);
SELECT pg_temp.sqlerr($$INSERT INTO err_t VALUES ('[NaN]')$$);
SELECT pg_temp.sqlerr($$COPY err_t FROM PROGRAM 'echo ''[1,a]'''$$);
SELECT count(*) AS nothing_inserted FROM err_t;

--
-- typmods: 22023
--
SELECT pg_temp.sqlerr($$SELECT '[1]'::vector(0)$$);
SELECT pg_temp.sqlerr($$SELECT '[1]'::vector(-1)$$);
SELECT pg_temp.sqlerr($$SELECT '[1]'::vector(16001)$$);
SELECT pg_temp.sqlerr($$SELECT '[1]'::vector(2147483647)$$);
SELECT pg_temp.sqlerr($$SELECT '[1]'::vector(1,2)$$);
SELECT pg_temp.sqlerr($$SELECT '[1]'::vector('a')$$);
SELECT pg_temp.sqlerr($$SELECT '[1]'::vector(1.5)$$);
SELECT pg_temp.sqlerr($$CREATE TABLE err_typmod (v vector(0))$$);
SELECT pg_temp.sqlerr($$CREATE TABLE err_typmod (v vector(16001))$$);
SELECT ('[' || repeat('1,', 15999) || '1]')::vector(16000) IS NOT NULL AS typmod_16000_ok;
-- wrong number of dimensions for the typmod: 22000
CREATE TABLE err_v3 (v vector(3));
SELECT pg_temp.sqlerr($$INSERT INTO err_v3 VALUES ('[1,2]')$$);
SELECT pg_temp.sqlerr($$INSERT INTO err_v3 VALUES ('[1,2,3,4]')$$);
SELECT pg_temp.sqlerr($$INSERT INTO err_v3 VALUES (ARRAY[1,2])$$);
SELECT pg_temp.sqlerr($$INSERT INTO err_v3 SELECT '[1]'::vector$$);
SELECT pg_temp.sqlerr($$COPY err_v3 FROM PROGRAM 'echo ''[1,2]'''$$);
INSERT INTO err_v3 VALUES ('[1,2,3]');
SELECT pg_temp.sqlerr($$UPDATE err_v3 SET v = v || '[4]'$$);
SELECT * FROM err_v3;

--
-- arrays
--
SELECT pg_temp.sqlerr($$SELECT ARRAY[1,NULL]::vector$$);          -- 22004
SELECT pg_temp.sqlerr($$SELECT ARRAY[[1,2],[3,4]]::vector$$);     -- 22000
SELECT pg_temp.sqlerr($$SELECT '{}'::real[]::vector$$);           -- 22000
SELECT pg_temp.sqlerr($$SELECT '{NaN}'::real[]::vector$$);        -- 22000
SELECT pg_temp.sqlerr($$SELECT '{1e39}'::float8[]::vector$$);     -- 22003
SELECT pg_temp.sqlerr($$SELECT array_fill(1, ARRAY[16001])::vector$$);  -- 54000

--
-- operators and functions
--
SELECT op, pg_temp.sqlerr(format('SELECT %s', op)) AS result
FROM (VALUES
	-- dimension mismatch: 22000
	($$'[1,2]'::vector + '[1]'$$), ($$'[1,2]'::vector - '[1]'$$), ($$'[1,2]'::vector * '[1]'$$),
	($$'[1,2]'::vector <-> '[1]'$$), ($$'[1,2]'::vector <#> '[1]'$$),
	($$'[1,2]'::vector <=> '[1]'$$), ($$'[1,2]'::vector <+> '[1]'$$),
	($$l2_distance('[1,2]', '[1]')$$), ($$inner_product('[1,2]', '[1]')$$),
	($$cosine_distance('[1,2]', '[1]')$$), ($$l1_distance('[1,2]', '[1]')$$),
	($$vector_l2_squared_distance('[1,2]', '[1]')$$),
	($$vector_negative_inner_product('[1,2]', '[1]')$$),
	-- overflow: 22003
	($$'[3e38]'::vector + '[1e38]'$$), ($$'[-3e38]'::vector - '[1e38]'$$),
	($$'[2e19]'::vector * '[2e19]'$$),
	-- too many dimensions: 54000
	($$vector_dims(array_fill(1, ARRAY[16000])::vector || '[1]')$$),
	-- empty subvector: 22000
	($$subvector('[1,2,3]', 4, 1)$$), ($$subvector('[1,2,3]', 1, 0)$$), ($$subvector('[1,2,3]', -5, 3)$$)
) t(op);
-- aggregates
SELECT pg_temp.sqlerr($$SELECT avg(v) FROM (VALUES ('[1,2]'::vector), ('[1]')) t(v)$$);
SELECT pg_temp.sqlerr($$SELECT sum(v) FROM (VALUES ('[1,2]'::vector), ('[1]')) t(v)$$);
SELECT pg_temp.sqlerr($$SELECT sum(v) FROM (VALUES ('[3e38]'::vector), ('[1e38]')) t(v)$$);

--
-- binary input (recv) through COPY: a hand-made one-row file per payload
--
\i sql/include/recv.sql
SELECT what, pg_temp.recv(payload, typ) AS result
FROM (VALUES
	('ok', '\x000200003f80000040000000'::bytea, 'vector'),
	('zero dims', '\x00000000', 'vector'),
	('16001 dims, no data', '\x3e810000', 'vector'),
	('65535 dims, no data', '\xffff0000', 'vector'),
	('unused field set', '\x000100013f800000', 'vector'),
	('NaN', '\x000100007fc00000', 'vector'),
	('+Infinity', '\x000100007f800000', 'vector'),
	('-Infinity', '\x00020000ff8000003f800000', 'vector'),
	('truncated', '\x000200003f800000', 'vector'),
	('trailing bytes', '\x000100003f80000000', 'vector'),
	('short header', '\x0001', 'vector'),
	('typmod mismatch', '\x000200003f80000040000000', 'vector(3)')
) t(what, payload, typ);

-- embed_index_recall reads every row: refused where row-level security
-- hides some of them from the caller, allowed for the owner
CREATE TABLE rls_t (id int, owner_name text, v vector(2));
INSERT INTO rls_t SELECT i, CASE WHEN i % 2 = 0 THEN 'regress_rls_alice' ELSE 'other' END,
	ARRAY[i, i % 7]::vector FROM generate_series(1, 50) i;
CREATE INDEX rls_t_v ON rls_t USING hnsw (v vector_l2_ops);
ALTER TABLE rls_t ENABLE ROW LEVEL SECURITY;
CREATE POLICY rls_t_own ON rls_t USING (owner_name = current_user);
CREATE ROLE regress_rls_alice;
GRANT SELECT ON rls_t TO regress_rls_alice;
SELECT embed_index_recall('rls_t_v', 5, 3) > 0 AS owner_may;
SET ROLE regress_rls_alice;
SELECT count(*) AS alice_sees FROM rls_t;
SELECT embed_index_recall('rls_t_v', 5, 3);
RESET ROLE;
DROP TABLE rls_t;
DROP ROLE regress_rls_alice;
