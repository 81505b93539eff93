-- Retrieval building blocks (src/retrieval.c), new in 0.2.0:
--   rrf_score(rank, k)  reciprocal rank fusion: 1 / (k + rank); fuse rankings
--                       (full-text + vector) by summing it per row
--   max_sim(q, d)       late interaction (ColBERT MaxSim) of two sets of
--                       vectors: sum over q's vectors of the largest inner
--                       product with any of d's vectors
-- README "Hybrid retrieval" and "Multi-vector documents" have the recipes.

CREATE FUNCTION rrf_score(rank bigint, k integer DEFAULT 60) RETURNS float8
	AS 'MODULE_PATHNAME', 'rrf_score' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION max_sim(vector[], vector[]) RETURNS float8
	AS 'MODULE_PATHNAME', 'vector_max_sim' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
