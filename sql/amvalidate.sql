-- amvalidate of hnsw, ivfflat and ivfrabitq (src/amvalidate.c): every shipped
-- opclass passes; deliberately broken ones are reported (INFO lines) and fail.
\i sql/include/setup.sql

SELECT am.amname, opc.opcname, amvalidate(opc.oid)
FROM pg_opclass opc JOIN pg_am am ON am.oid = opc.opcmethod
WHERE am.amname IN ('hnsw', 'ivfflat', 'ivfrabitq')
ORDER BY 1, 2;

--
-- broken opclasses, each in its own family, all in schema amv
--
CREATE SCHEMA amv;

-- an ORDER BY operator that returns real, and one that returns an integer
CREATE FUNCTION amv.l2_real(vector, vector) RETURNS real
	LANGUAGE sql IMMUTABLE STRICT AS 'SELECT l2_distance($1, $2)::real';
CREATE OPERATOR amv.<-> (LEFTARG = vector, RIGHTARG = vector, FUNCTION = amv.l2_real);
-- a distance that is not one of embed's (fine for hnsw, not for ivf)
CREATE FUNCTION amv.l2_sql(vector, vector) RETURNS float8
	LANGUAGE sql IMMUTABLE STRICT AS 'SELECT vector_l2_squared_distance($1, $2)';
-- a distance with the wrong result type
CREATE FUNCTION amv.l2_int(vector, vector) RETURNS int
	LANGUAGE sql IMMUTABLE STRICT AS 'SELECT l2_distance($1, $2)::int';

-- wrong strategy number (2; the methods have ORDER BY strategy 1 only)
CREATE OPERATOR CLASS amv.bad_strategy FOR TYPE vector USING hnsw AS
	OPERATOR 2 <-> (vector, vector) FOR ORDER BY float_ops,
	FUNCTION 1 vector_l2_squared_distance(vector, vector);

-- support function 1 takes one argument; support function 2 returns integer
-- and takes one argument too many
CREATE OPERATOR CLASS amv.bad_signature FOR TYPE vector USING hnsw AS
	OPERATOR 1 <-> (vector, vector) FOR ORDER BY float_ops,
	FUNCTION 1 vector_norm(vector),
	FUNCTION 2 vector_dims(vector);
CREATE OPERATOR CLASS amv.bad_result FOR TYPE vector USING ivfflat AS
	OPERATOR 1 <-> (vector, vector) FOR ORDER BY float_ops,
	FUNCTION 1 amv.l2_int(vector, vector);

-- no distance function
CREATE OPERATOR CLASS amv.no_distance FOR TYPE vector USING hnsw AS
	OPERATOR 1 <=> (vector, vector) FOR ORDER BY float_ops,
	FUNCTION 2 vector_norm(vector);

-- no operator at all
CREATE OPERATOR CLASS amv.no_operator FOR TYPE vector USING ivfrabitq AS
	FUNCTION 1 vector_l2_squared_distance(vector, vector);

-- ORDER BY operator returning real (float_ops sorts real, but the scans
-- report float8 distances)
CREATE OPERATOR CLASS amv.real_order FOR TYPE vector USING hnsw AS
	OPERATOR 1 amv.<-> (vector, vector) FOR ORDER BY float_ops,
	FUNCTION 1 vector_l2_squared_distance(vector, vector);

-- a sort family that cannot sort the operator's float8
CREATE OPERATOR CLASS amv.bad_sortfamily FOR TYPE vector USING hnsw AS
	OPERATOR 1 <-> (vector, vector) FOR ORDER BY integer_ops,
	FUNCTION 1 vector_l2_squared_distance(vector, vector);

-- a search operator (WHERE v = $1) that is not one of the range operators
CREATE OPERATOR CLASS amv.search_op FOR TYPE vector USING hnsw AS
	OPERATOR 1 <-> (vector, vector) FOR ORDER BY float_ops,
	OPERATOR 2 = (vector, vector),
	FUNCTION 1 vector_l2_squared_distance(vector, vector);

-- ivf needs one of embed's l2 squared, inner product and cosine distances
CREATE OPERATOR CLASS amv.ivf_l1 FOR TYPE vector USING ivfflat AS
	OPERATOR 1 <+> (vector, vector) FOR ORDER BY float_ops,
	FUNCTION 1 l1_distance(vector, vector);
CREATE OPERATOR CLASS amv.ivf_sql FOR TYPE vector USING ivfrabitq AS
	OPERATOR 1 <-> (vector, vector) FOR ORDER BY float_ops,
	FUNCTION 1 amv.l2_sql(vector, vector);
-- while hnsw takes any (vector, vector) -> float8 distance
CREATE OPERATOR CLASS amv.hnsw_sql FOR TYPE vector USING hnsw AS
	OPERATOR 1 <-> (vector, vector) FOR ORDER BY float_ops,
	FUNCTION 1 amv.l2_sql(vector, vector);

-- a family with a cross-type operator and a cross-type support function
CREATE OPERATOR FAMILY amv.cross_type USING hnsw;
CREATE OPERATOR CLASS amv.cross_type FOR TYPE vector USING hnsw FAMILY amv.cross_type AS
	OPERATOR 1 <-> (vector, vector) FOR ORDER BY float_ops,
	FUNCTION 1 vector_l2_squared_distance(vector, vector);
CREATE FUNCTION amv.l2_arr(vector, real[]) RETURNS float8
	LANGUAGE sql IMMUTABLE STRICT AS 'SELECT vector_l2_squared_distance($1, $2::vector)';
CREATE OPERATOR amv.<-> (LEFTARG = vector, RIGHTARG = real[], FUNCTION = amv.l2_arr);
ALTER OPERATOR FAMILY amv.cross_type USING hnsw ADD
	OPERATOR 1 amv.<-> (vector, real[]) FOR ORDER BY float_ops,
	FUNCTION 1 (vector, real[]) amv.l2_arr(vector, real[]);

-- all INFO lines first, then one row per opclass (hnsw_sql alone is valid);
-- the subquery sorts before amvalidate runs, which fixes the INFO order
SELECT opcname, amvalidate(oid)
FROM (SELECT oid, opcname FROM pg_opclass
	  WHERE opcnamespace = 'amv'::regnamespace ORDER BY opcname OFFSET 0) opc;

-- and hnsw does build and search with a distance of the opclass's own
CREATE TABLE amv.t (v vector(2));
INSERT INTO amv.t VALUES ('[1,2]'), ('[3,4]'), ('[0,0]');
CREATE INDEX amv_t_v ON amv.t USING hnsw (v amv.hnsw_sql);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT v FROM amv.t ORDER BY v <-> '[3,3]' LIMIT 2;
SELECT v FROM amv.t ORDER BY v <-> '[3,3]' LIMIT 2;
RESET enable_seqscan;

SET client_min_messages = warning;
DROP SCHEMA amv CASCADE;
RESET client_min_messages;
