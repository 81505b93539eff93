-- How close an ordering index's answers are to exact ones (src/recall.c):
-- recall@k averaged over `queries` rows of the table used as queries, under
-- the current settings (hnsw.ef_search, ivfflat.probes, ...).  One heap pass
-- plus one index scan per query.

CREATE FUNCTION embed_index_recall(index regclass, queries integer DEFAULT 20, k integer DEFAULT 10)
	RETURNS double precision
	AS 'MODULE_PATHNAME' LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;
