-- Range search (src/range.c, README "Range search"): every row within
-- distance r of q, through an index.  `col <<->> vector_ball(q, r)` holds
-- when col <-> q <= r; <<=>>, <<#>> and <<+>> do the same for <=>, <#> and
-- <+>.  Each is strategy 2 (a search operator) of the matching vector (and,
-- with halfvec_ball, halfvec) opclass of hnsw, ivfflat and ivfrabitq, so the index gets the ball as a
-- scan key and reads until nothing within r can remain.

CREATE TYPE vector_ball AS (center vector, radius double precision);

CREATE FUNCTION vector_ball(vector, double precision) RETURNS vector_ball
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION vector_l2_within(vector, vector_ball) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vector_negative_inner_product_within(vector, vector_ball) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vector_cosine_within(vector, vector_ball) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vector_l1_within(vector, vector_ball) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- contsel: a small fixed selectivity, so that the planner prefers the index
CREATE OPERATOR <<->> (LEFTARG = vector, RIGHTARG = vector_ball,
	FUNCTION = vector_l2_within, RESTRICT = contsel, JOIN = contjoinsel);
CREATE OPERATOR <<#>> (LEFTARG = vector, RIGHTARG = vector_ball,
	FUNCTION = vector_negative_inner_product_within, RESTRICT = contsel, JOIN = contjoinsel);
CREATE OPERATOR <<=>> (LEFTARG = vector, RIGHTARG = vector_ball,
	FUNCTION = vector_cosine_within, RESTRICT = contsel, JOIN = contjoinsel);
CREATE OPERATOR <<+>> (LEFTARG = vector, RIGHTARG = vector_ball,
	FUNCTION = vector_l1_within, RESTRICT = contsel, JOIN = contjoinsel);

ALTER OPERATOR FAMILY vector_l2_ops USING hnsw ADD OPERATOR 2 <<->> (vector, vector_ball);
ALTER OPERATOR FAMILY vector_ip_ops USING hnsw ADD OPERATOR 2 <<#>> (vector, vector_ball);
ALTER OPERATOR FAMILY vector_cosine_ops USING hnsw ADD OPERATOR 2 <<=>> (vector, vector_ball);
ALTER OPERATOR FAMILY vector_l1_ops USING hnsw ADD OPERATOR 2 <<+>> (vector, vector_ball);

ALTER OPERATOR FAMILY vector_l2_ops USING ivfflat ADD OPERATOR 2 <<->> (vector, vector_ball);
ALTER OPERATOR FAMILY vector_ip_ops USING ivfflat ADD OPERATOR 2 <<#>> (vector, vector_ball);
ALTER OPERATOR FAMILY vector_cosine_ops USING ivfflat ADD OPERATOR 2 <<=>> (vector, vector_ball);

ALTER OPERATOR FAMILY vector_l2_ops USING ivfrabitq ADD OPERATOR 2 <<->> (vector, vector_ball);
ALTER OPERATOR FAMILY vector_ip_ops USING ivfrabitq ADD OPERATOR 2 <<#>> (vector, vector_ball);
ALTER OPERATOR FAMILY vector_cosine_ops USING ivfrabitq ADD OPERATOR 2 <<=>> (vector, vector_ball);

-- the same for halfvec: a halfvec_ball has a halfvec center, the opclass's type
CREATE TYPE halfvec_ball AS (center halfvec, radius double precision);

CREATE FUNCTION halfvec_ball(halfvec, double precision) RETURNS halfvec_ball
	AS 'MODULE_PATHNAME', 'vector_ball' LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION halfvec_l2_within(halfvec, halfvec_ball) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION halfvec_negative_inner_product_within(halfvec, halfvec_ball) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION halfvec_cosine_within(halfvec, halfvec_ball) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION halfvec_l1_within(halfvec, halfvec_ball) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE OPERATOR <<->> (LEFTARG = halfvec, RIGHTARG = halfvec_ball,
	FUNCTION = halfvec_l2_within, RESTRICT = contsel, JOIN = contjoinsel);
CREATE OPERATOR <<#>> (LEFTARG = halfvec, RIGHTARG = halfvec_ball,
	FUNCTION = halfvec_negative_inner_product_within, RESTRICT = contsel, JOIN = contjoinsel);
CREATE OPERATOR <<=>> (LEFTARG = halfvec, RIGHTARG = halfvec_ball,
	FUNCTION = halfvec_cosine_within, RESTRICT = contsel, JOIN = contjoinsel);
CREATE OPERATOR <<+>> (LEFTARG = halfvec, RIGHTARG = halfvec_ball,
	FUNCTION = halfvec_l1_within, RESTRICT = contsel, JOIN = contjoinsel);

ALTER OPERATOR FAMILY halfvec_l2_ops USING hnsw ADD OPERATOR 2 <<->> (halfvec, halfvec_ball);
ALTER OPERATOR FAMILY halfvec_ip_ops USING hnsw ADD OPERATOR 2 <<#>> (halfvec, halfvec_ball);
ALTER OPERATOR FAMILY halfvec_cosine_ops USING hnsw ADD OPERATOR 2 <<=>> (halfvec, halfvec_ball);
ALTER OPERATOR FAMILY halfvec_l1_ops USING hnsw ADD OPERATOR 2 <<+>> (halfvec, halfvec_ball);

ALTER OPERATOR FAMILY halfvec_l2_ops USING ivfflat ADD OPERATOR 2 <<->> (halfvec, halfvec_ball);
ALTER OPERATOR FAMILY halfvec_ip_ops USING ivfflat ADD OPERATOR 2 <<#>> (halfvec, halfvec_ball);
ALTER OPERATOR FAMILY halfvec_cosine_ops USING ivfflat ADD OPERATOR 2 <<=>> (halfvec, halfvec_ball);

ALTER OPERATOR FAMILY halfvec_l2_ops USING ivfrabitq ADD OPERATOR 2 <<->> (halfvec, halfvec_ball);
ALTER OPERATOR FAMILY halfvec_ip_ops USING ivfrabitq ADD OPERATOR 2 <<#>> (halfvec, halfvec_ball);
ALTER OPERATOR FAMILY halfvec_cosine_ops USING ivfrabitq ADD OPERATOR 2 <<=>> (halfvec, halfvec_ball);
