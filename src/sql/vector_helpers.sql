-- The rest of pgvector's helpers on vector (new in 0.2.0).  vector_accum,
-- vector_combine and vector_avg work on pgvector's aggregate state, a
-- double precision[] of {count, sum_1, ..., sum_dim}; embed's own avg(vector)
-- and sum(vector) keep an internal state (aggregate.sql), unchanged.

CREATE FUNCTION vector_spherical_distance(vector, vector) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION vector_accum(double precision[], vector) RETURNS double precision[]
	AS 'MODULE_PATHNAME', 'embed_vector_accum_array' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION vector_combine(double precision[], double precision[]) RETURNS double precision[]
	AS 'MODULE_PATHNAME', 'embed_vector_combine_array' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION vector_avg(double precision[]) RETURNS vector
	AS 'MODULE_PATHNAME', 'embed_vector_avg_array' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
