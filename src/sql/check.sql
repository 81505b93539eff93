-- embed_index_check (src/check.c): verify an hnsw, ivfflat or ivfrabitq
-- index's structure, that its heap TIDs exist and (heapallindexed) that every
-- row it should hold is in it.  Corruption is an ERROR with SQLSTATE XX002
-- naming the block/offset; a clean index returns one row of counts:
--   pages        index pages read
--   tuples       hnsw elements / ivf entries
--   heap_tids    heap TIDs the index holds
--   heap_rows    rows visible to the check's snapshot that must be indexed
--                (NULL without heapallindexed)
--   unreachable  hnsw: live elements no search from the entry point reaches
--                (a statistic, not corruption); NULL for ivf
-- Like amcheck's functions, only superusers may call it unless granted.

CREATE FUNCTION embed_index_check(index regclass, heapallindexed boolean DEFAULT true,
	OUT pages bigint, OUT tuples bigint, OUT heap_tids bigint, OUT heap_rows bigint,
	OUT unreachable bigint)
	RETURNS record
	AS 'MODULE_PATHNAME' LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

REVOKE ALL ON FUNCTION embed_index_check(regclass, boolean) FROM PUBLIC;
