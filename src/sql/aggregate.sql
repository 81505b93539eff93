-- Aggregates over vectors. The transition state is an internal accumulator of
-- float8 sums (exact enough to average millions of float4 vectors) that is
-- updated in place; serialize/deserialize/combine make them parallel-safe.

CREATE FUNCTION vector_accum(internal, vector) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION vector_accum_combine(internal, internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION vector_accum_serialize(internal) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vector_accum_deserialize(bytea, internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vector_avg_final(internal) RETURNS vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION vector_sum_final(internal) RETURNS vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE AGGREGATE avg(vector) (
	SFUNC        = vector_accum,
	STYPE        = internal,
	FINALFUNC    = vector_avg_final,
	COMBINEFUNC  = vector_accum_combine,
	SERIALFUNC   = vector_accum_serialize,
	DESERIALFUNC = vector_accum_deserialize,
	PARALLEL     = SAFE
);

CREATE AGGREGATE sum(vector) (
	SFUNC        = vector_accum,
	STYPE        = internal,
	FINALFUNC    = vector_sum_final,
	COMBINEFUNC  = vector_accum_combine,
	SERIALFUNC   = vector_accum_serialize,
	DESERIALFUNC = vector_accum_deserialize,
	PARALLEL     = SAFE
);
