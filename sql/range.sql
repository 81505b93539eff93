-- Range search through the index (src/range.c): `v <<->> vector_ball(q, r)`
-- returns every row with v <-> q <= r, and likewise <<=>>, <<#>>, <<+>> for
-- <=>, <#>, <+>.  Each case compares the index scan (with and without ORDER
-- BY) against an exact scan, with ef_search and probes far below the number
-- of rows within r: the range is not capped by them.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS embed;
RESET client_min_messages;

CREATE TABLE pts (id int PRIMARY KEY, v vector(8));
INSERT INTO pts SELECT i, ARRAY[sin(i*1.1), cos(i*0.7), sin(i*0.37+1), cos(i*2.3),
	sin(i*0.13), cos(i*0.51+2), sin(i*1.7), cos(i*0.29)]::vector
	FROM generate_series(1, 800) i;
-- two exact duplicates of row 5 (r = 0 finds all three)
INSERT INTO pts SELECT 1000 + i, v FROM pts, generate_series(1, 2) i WHERE id = 5;

-- index: ids (no ORDER BY) and whether the ordered scan returns the same rows
-- in distance order; exact: a sequential scan of the distance itself
CREATE FUNCTION range_compare(opr text, dop text, q text, r float8,
	tbl text DEFAULT 'pts', ball text DEFAULT 'vector_ball') RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	plan text;
	idx int[];
	ord int[];
	dists float8[];
	exact int[];
	sorted bool := true;
BEGIN
	PERFORM set_config('enable_seqscan', 'off', true);
	PERFORM set_config('enable_bitmapscan', 'off', true);
	PERFORM set_config('enable_indexscan', 'on', true);
	EXECUTE format('EXPLAIN (costs off) SELECT id FROM %I WHERE v %s %I(%L, %L::float8)',
				   tbl, opr, ball, q, r) INTO plan;
	EXECUTE format('SELECT coalesce(array_agg(id ORDER BY id), ''{}'') FROM %I WHERE v %s %I(%L, %L::float8)',
				   tbl, opr, ball, q, r) INTO idx;
	EXECUTE format('SELECT coalesce(array_agg(id), ''{}''), coalesce(array_agg(d), ''{}'') FROM
				   (SELECT id, v %s %L d FROM %I WHERE v %s %I(%L, %L::float8) ORDER BY v %s %L) s',
				   dop, q, tbl, opr, ball, q, r, dop, q) INTO ord, dists;
	FOR i IN 2 .. coalesce(array_length(dists, 1), 0) LOOP
		IF dists[i] < dists[i - 1] THEN sorted := false; END IF;
	END LOOP;
	PERFORM set_config('enable_seqscan', 'on', true);
	PERFORM set_config('enable_indexscan', 'off', true);
	EXECUTE format('SELECT coalesce(array_agg(id ORDER BY id), ''{}'') FROM %I WHERE v %s %L <= %L::float8',
				   tbl, dop, q, r) INTO exact;
	PERFORM set_config('enable_seqscan', 'on', true);
	PERFORM set_config('enable_indexscan', 'on', true);
	PERFORM set_config('enable_bitmapscan', 'on', true);
	RETURN format('%s rows, %s, same rows: %s, ordered scan same rows: %s, in order: %s',
				  cardinality(exact), split_part(plan, ' on ', 1), idx = exact,
				  (SELECT coalesce(array_agg(x ORDER BY x), '{}') FROM unnest(ord) x) = exact,
				  sorted);
END $$;

-- hnsw, every metric; ef_search 10 < the 24-40 rows within r
SET hnsw.ef_search = 10;
CREATE INDEX pts_h ON pts USING hnsw (v vector_l2_ops);
SELECT range_compare('<<->>', '<->', '[0.5,0.5,0,0,0.5,-0.5,0,0.2]', 1.45);
SELECT range_compare('<<->>', '<->', '[-0.3,0.8,0.1,0,0.5,0.5,-0.7,0]', 1.3);
SELECT range_compare('<<->>', '<->', (SELECT v::text FROM pts WHERE id = 5), 0);
SELECT range_compare('<<->>', '<->', '[9,9,9,9,9,9,9,9]', 1);
SELECT range_compare('<<->>', '<->', '[0,0,0,0,0,0,0,0]', 'Infinity');
SELECT range_compare('<<->>', '<->', '[0,0,0,0,0,0,0,0]', -1);
DROP INDEX pts_h;
CREATE INDEX pts_h ON pts USING hnsw (v vector_cosine_ops);
SELECT range_compare('<<=>>', '<=>', '[0.5,0.5,0,0,0.5,-0.5,0,0.2]', 0.35);
SELECT range_compare('<<=>>', '<=>', '[0,0,0,0,0,0,0,0]', 1);
DROP INDEX pts_h;
CREATE INDEX pts_h ON pts USING hnsw (v vector_ip_ops);
SELECT range_compare('<<#>>', '<#>', '[0.5,0.5,0,0,0.5,-0.5,0,0.2]', -1.4);
DROP INDEX pts_h;
CREATE INDEX pts_h ON pts USING hnsw (v vector_l1_ops);
SELECT range_compare('<<+>>', '<+>', '[0.5,0.5,0,0,0.5,-0.5,0,0.2]', 3.4);
SELECT range_compare('<<+>>', '<+>', (SELECT v::text FROM pts WHERE id = 5), 0);
DROP INDEX pts_h;
-- full precision: exact distances in the graph, no lower bounds
CREATE INDEX pts_h ON pts USING hnsw (v vector_l2_ops) WITH (precision = full);
SELECT range_compare('<<->>', '<->', '[0.5,0.5,0,0,0.5,-0.5,0,0.2]', 1.45);
DROP INDEX pts_h;
RESET hnsw.ef_search;

-- ivfflat and ivfrabitq: 10 lists, probes 1
SET ivfflat.probes = 1;
SET ivfrabitq.probes = 1;
CREATE INDEX pts_i ON pts USING ivfflat (v vector_l2_ops) WITH (lists = 10);
SELECT range_compare('<<->>', '<->', '[0.5,0.5,0,0,0.5,-0.5,0,0.2]', 1.45);
SELECT range_compare('<<->>', '<->', '[-0.3,0.8,0.1,0,0.5,0.5,-0.7,0]', 1.3);
SELECT range_compare('<<->>', '<->', (SELECT v::text FROM pts WHERE id = 5), 0);
SELECT range_compare('<<->>', '<->', '[9,9,9,9,9,9,9,9]', 1);
SELECT range_compare('<<->>', '<->', '[0,0,0,0,0,0,0,0]', 'Infinity');
-- around a row, where most lists' cells are out of reach (they are skipped)
SELECT range_compare('<<->>', '<->', (SELECT v::text FROM pts WHERE id = 5), 1);
DROP INDEX pts_i;
CREATE INDEX pts_i ON pts USING ivfflat (v vector_cosine_ops) WITH (lists = 10);
SELECT range_compare('<<=>>', '<=>', '[0.5,0.5,0,0,0.5,-0.5,0,0.2]', 0.35);
SELECT range_compare('<<=>>', '<=>', '[0,0,0,0,0,0,0,0]', 1);
SELECT range_compare('<<=>>', '<=>', (SELECT v::text FROM pts WHERE id = 5), 0.2);
DROP INDEX pts_i;
CREATE INDEX pts_i ON pts USING ivfflat (v vector_ip_ops) WITH (lists = 10);
SELECT range_compare('<<#>>', '<#>', '[0.5,0.5,0,0,0.5,-0.5,0,0.2]', -1.4);
DROP INDEX pts_i;
CREATE INDEX pts_i ON pts USING ivfrabitq (v vector_l2_ops) WITH (lists = 10);
SELECT range_compare('<<->>', '<->', '[0.5,0.5,0,0,0.5,-0.5,0,0.2]', 1.45);
SELECT range_compare('<<->>', '<->', '[-0.3,0.8,0.1,0,0.5,0.5,-0.7,0]', 1.3);
SELECT range_compare('<<->>', '<->', (SELECT v::text FROM pts WHERE id = 5), 0);
SELECT range_compare('<<->>', '<->', '[9,9,9,9,9,9,9,9]', 1);
DROP INDEX pts_i;
CREATE INDEX pts_i ON pts USING ivfrabitq (v vector_cosine_ops) WITH (lists = 10);
SELECT range_compare('<<=>>', '<=>', '[0.5,0.5,0,0,0.5,-0.5,0,0.2]', 0.35);
SELECT range_compare('<<=>>', '<=>', (SELECT v::text FROM pts WHERE id = 5), 0.2);
DROP INDEX pts_i;
CREATE INDEX pts_i ON pts USING ivfrabitq (v vector_ip_ops) WITH (lists = 10);
SELECT range_compare('<<#>>', '<#>', '[0.5,0.5,0,0,0.5,-0.5,0,0.2]', -1.4);
DROP INDEX pts_i;

-- halfvec: halfvec_ball, every opclass with a range operator
CREATE TABLE hpts AS SELECT id, v::halfvec(8) AS v FROM pts;
SET hnsw.ef_search = 10;
CREATE INDEX hpts_i ON hpts USING hnsw (v halfvec_l2_ops);
SELECT range_compare('<<->>', '<->', '[0.5,0.5,0,0,0.5,-0.5,0,0.2]', 1.45, 'hpts', 'halfvec_ball');
SELECT range_compare('<<->>', '<->', (SELECT v::text FROM hpts WHERE id = 5), 0, 'hpts', 'halfvec_ball');
DROP INDEX hpts_i;
CREATE INDEX hpts_i ON hpts USING hnsw (v halfvec_cosine_ops);
SELECT range_compare('<<=>>', '<=>', '[0.5,0.5,0,0,0.5,-0.5,0,0.2]', 0.35, 'hpts', 'halfvec_ball');
DROP INDEX hpts_i;
CREATE INDEX hpts_i ON hpts USING hnsw (v halfvec_ip_ops);
SELECT range_compare('<<#>>', '<#>', '[0.5,0.5,0,0,0.5,-0.5,0,0.2]', -1.4, 'hpts', 'halfvec_ball');
DROP INDEX hpts_i;
CREATE INDEX hpts_i ON hpts USING hnsw (v halfvec_l1_ops);
SELECT range_compare('<<+>>', '<+>', '[0.5,0.5,0,0,0.5,-0.5,0,0.2]', 3.4, 'hpts', 'halfvec_ball');
DROP INDEX hpts_i;
RESET hnsw.ef_search;
CREATE INDEX hpts_i ON hpts USING ivfflat (v halfvec_l2_ops) WITH (lists = 10);
SELECT range_compare('<<->>', '<->', '[0.5,0.5,0,0,0.5,-0.5,0,0.2]', 1.45, 'hpts', 'halfvec_ball');
DROP INDEX hpts_i;
CREATE INDEX hpts_i ON hpts USING ivfflat (v halfvec_ip_ops) WITH (lists = 10);
SELECT range_compare('<<#>>', '<#>', '[0.5,0.5,0,0,0.5,-0.5,0,0.2]', -1.4, 'hpts', 'halfvec_ball');
DROP INDEX hpts_i;
CREATE INDEX hpts_i ON hpts USING ivfrabitq (v halfvec_cosine_ops) WITH (lists = 10);
SELECT range_compare('<<=>>', '<=>', '[0.5,0.5,0,0,0.5,-0.5,0,0.2]', 0.35, 'hpts', 'halfvec_ball');
DROP INDEX hpts_i;
DROP TABLE hpts;

-- NULLs: a NULL ball, center or radius is within nothing (index and exact)
CREATE INDEX pts_h ON pts USING hnsw (v vector_l2_ops);
SET enable_seqscan = off;
SELECT count(*) FROM pts WHERE v <<->> NULL;
SELECT count(*) FROM pts WHERE v <<->> vector_ball(NULL, 1);
SELECT count(*) FROM pts WHERE v <<->> vector_ball('[0,0,0,0,0,0,0,0]', NULL);
SELECT '[1,2]'::vector <<->> NULL, '[1,2]'::vector <<->> vector_ball('[1,2]', NULL);
-- the operators themselves: distance <= radius
SELECT '[3,4]'::vector <<->> vector_ball('[0,0]', 5), '[3,4]'::vector <<->> vector_ball('[0,0]', 4.99),
	'[1,0]'::vector <<=>> vector_ball('[0,1]', 1), '[1,2]'::vector <<#>> vector_ball('[3,4]', -11),
	'[1,2]'::vector <<+>> vector_ball('[3,4]', 3.9), '[1,2]'::vector <<->> ROW('[1,2]', 0)::vector_ball;
-- with LIMIT, and a parameter
SELECT id FROM pts WHERE v <<->> vector_ball('[0.5,0.5,0,0,0.5,-0.5,0,0.2]', 1.45)
	ORDER BY v <-> '[0.5,0.5,0,0,0.5,-0.5,0,0.2]' LIMIT 3;
PREPARE near(vector, float8) AS SELECT count(*) FROM pts WHERE v <<->> vector_ball($1, $2);
EXECUTE near('[0.5,0.5,0,0,0.5,-0.5,0,0.2]', 1.45);
-- a new ball for each outer row (the index is rescanned with runtime keys)
SELECT p.id, (SELECT count(*) FROM pts x WHERE x.v <<->> vector_ball(p.v, 1)) AS index,
	(SELECT count(*) FROM pts x WHERE x.v <-> p.v <= 1) AS exact
	FROM pts p WHERE p.id <= 6 ORDER BY 1;
-- deleted rows are not returned
DELETE FROM pts WHERE id IN (SELECT id FROM pts ORDER BY v <-> '[0.5,0.5,0,0,0.5,-0.5,0,0.2]' LIMIT 5);
VACUUM pts;
SELECT range_compare('<<->>', '<->', '[0.5,0.5,0,0,0.5,-0.5,0,0.2]', 1.45);
SET enable_seqscan = off;
-- ORDER BY v <-> NULL: every distance is NULL, any order; the range decides
SELECT count(*) FROM (SELECT id FROM pts WHERE v <<->> vector_ball('[0.5,0.5,0,0,0.5,-0.5,0,0.2]', 1.45)
	ORDER BY v <-> NULL) s;
CREATE INDEX pts_i ON pts USING ivfflat (v vector_l2_ops) WITH (lists = 10);
DROP INDEX pts_h;
SELECT count(*) FROM (SELECT id FROM pts WHERE v <<->> vector_ball('[0.5,0.5,0,0,0.5,-0.5,0,0.2]', 1.45)
	ORDER BY v <-> NULL) s;
DROP INDEX pts_i;
CREATE INDEX pts_i ON pts USING ivfrabitq (v vector_l2_ops) WITH (lists = 10);
SELECT count(*) FROM (SELECT id FROM pts WHERE v <<->> vector_ball('[0.5,0.5,0,0,0.5,-0.5,0,0.2]', 1.45)
	ORDER BY v <-> NULL) s;
DROP INDEX pts_i;
CREATE INDEX pts_h ON pts USING hnsw (v vector_l2_ops);

-- errors
\set VERBOSITY sqlstate
SELECT count(*) FROM pts WHERE v <<->> vector_ball('[0,0,0,0,0,0,0,0]', 'NaN');
SELECT count(*) FROM pts WHERE v <<->> vector_ball('[1,2,3]', 1);
SELECT '[1,2]'::vector <<->> vector_ball('[1,2,3]', 1);
-- an index scan orders by the distance to its range's own center only
SELECT count(*) FROM (SELECT id FROM pts WHERE v <<->> vector_ball('[0,0,0,0,0,0,0,0]', 1)
	ORDER BY v <-> '[1,0,0,0,0,0,0,0]') s;
\set VERBOSITY default
RESET enable_seqscan;

-- every shipped opclass with a range operator still validates; a range
-- operator of another metric, or another search operator, does not
SELECT DISTINCT a.amname, c.opcname, amvalidate(c.oid) FROM pg_opclass c
	JOIN pg_am a ON a.oid = c.opcmethod
	JOIN pg_amop o ON o.amopfamily = c.opcfamily AND o.amoppurpose = 's'
	WHERE a.amname IN ('hnsw', 'ivfflat', 'ivfrabitq') ORDER BY 1, 2;
CREATE OPERATOR FAMILY wrong_range USING hnsw;
CREATE OPERATOR CLASS wrong_range FOR TYPE vector USING hnsw FAMILY wrong_range AS
	OPERATOR 1 <-> (vector, vector) FOR ORDER BY float_ops,
	OPERATOR 2 <<=>> (vector, vector_ball),
	FUNCTION 1 vector_l2_squared_distance(vector, vector);
SELECT amvalidate(oid) FROM pg_opclass WHERE opcname = 'wrong_range';
DROP OPERATOR FAMILY wrong_range USING hnsw;

DROP TABLE pts;
DROP FUNCTION range_compare(text, text, text, float8, text, text);
