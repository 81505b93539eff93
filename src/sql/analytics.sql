-- Clustering and projection (src/analytics.c): the kmeans() and pca()
-- aggregates, vector_nearest() and vector_project().  New in 0.2.0.
--
-- kmeans(v, k [, metric]) returns k centroids (k-means++ seeding with a
-- fixed seed, then Lloyd rounds: src/kmeans.c, the ivf build's k-means);
-- metric 'l2' (default) or 'cosine' (spherical k-means: rows and centroids
-- unit length; zero vectors are skipped).  It clusters a sample: every row
-- while there are at most max(256 k, 10000) of them (and 256 MB of floats),
-- else that many rows chosen by a hash of their content, so the result does
-- not depend on row order or on parallel workers.  pca(v, n) returns the
-- mean, then the n leading principal axes (unit length, largest component
-- positive), from a float8 covariance; vector_project maps onto them.

CREATE FUNCTION vector_kmeans_accum(internal, vector, integer) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION vector_kmeans_accum(internal, vector, integer, text) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION halfvec_kmeans_accum(internal, halfvec, integer) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION halfvec_kmeans_accum(internal, halfvec, integer, text) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION kmeans_combine(internal, internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION kmeans_serialize(internal) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION kmeans_deserialize(bytea, internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vector_kmeans_final(internal) RETURNS vector[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION halfvec_kmeans_final(internal) RETURNS halfvec[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE AGGREGATE kmeans(vector, integer) (
	SFUNC        = vector_kmeans_accum,
	STYPE        = internal,
	FINALFUNC    = vector_kmeans_final,
	COMBINEFUNC  = kmeans_combine,
	SERIALFUNC   = kmeans_serialize,
	DESERIALFUNC = kmeans_deserialize,
	PARALLEL     = SAFE
);
CREATE AGGREGATE kmeans(vector, integer, text) (
	SFUNC        = vector_kmeans_accum,
	STYPE        = internal,
	FINALFUNC    = vector_kmeans_final,
	COMBINEFUNC  = kmeans_combine,
	SERIALFUNC   = kmeans_serialize,
	DESERIALFUNC = kmeans_deserialize,
	PARALLEL     = SAFE
);
CREATE AGGREGATE kmeans(halfvec, integer) (
	SFUNC        = halfvec_kmeans_accum,
	STYPE        = internal,
	FINALFUNC    = halfvec_kmeans_final,
	COMBINEFUNC  = kmeans_combine,
	SERIALFUNC   = kmeans_serialize,
	DESERIALFUNC = kmeans_deserialize,
	PARALLEL     = SAFE
);
CREATE AGGREGATE kmeans(halfvec, integer, text) (
	SFUNC        = halfvec_kmeans_accum,
	STYPE        = internal,
	FINALFUNC    = halfvec_kmeans_final,
	COMBINEFUNC  = kmeans_combine,
	SERIALFUNC   = kmeans_serialize,
	DESERIALFUNC = kmeans_deserialize,
	PARALLEL     = SAFE
);

-- 1-based position of the nearest centroid (ties: the first); metric 'l2' or
-- 'cosine' (highest cosine similarity; NULL for a zero vector)
CREATE FUNCTION vector_nearest(vector, vector[], metric text DEFAULT 'l2') RETURNS integer
	AS 'MODULE_PATHNAME', 'vector_nearest' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vector_nearest(halfvec, halfvec[], metric text DEFAULT 'l2') RETURNS integer
	AS 'MODULE_PATHNAME', 'halfvec_nearest' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION vector_pca_accum(internal, vector, integer) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION halfvec_pca_accum(internal, halfvec, integer) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION pca_combine(internal, internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION pca_serialize(internal) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pca_deserialize(bytea, internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pca_final(internal) RETURNS vector[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;

-- halfvec input, vector[] result: the axes keep float4 precision
CREATE AGGREGATE pca(vector, integer) (
	SFUNC        = vector_pca_accum,
	STYPE        = internal,
	FINALFUNC    = pca_final,
	COMBINEFUNC  = pca_combine,
	SERIALFUNC   = pca_serialize,
	DESERIALFUNC = pca_deserialize,
	PARALLEL     = SAFE
);
CREATE AGGREGATE pca(halfvec, integer) (
	SFUNC        = halfvec_pca_accum,
	STYPE        = internal,
	FINALFUNC    = pca_final,
	COMBINEFUNC  = pca_combine,
	SERIALFUNC   = pca_serialize,
	DESERIALFUNC = pca_deserialize,
	PARALLEL     = SAFE
);

-- (x - mean) . axis for each axis of a pca() result: vector(n)
CREATE FUNCTION vector_project(vector, vector[]) RETURNS vector
	AS 'MODULE_PATHNAME', 'vector_project' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vector_project(halfvec, vector[]) RETURNS vector
	AS 'MODULE_PATHNAME', 'halfvec_project' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
