/*
 * hnswbuild.c — CREATE INDEX and the init fork of unlogged indexes.
 *
 * The build inserts every heap tuple through the same code as aminsert, into
 * shared buffers, without WAL; the finished relation is WAL-logged in one
 * pass at the end (log_newpage_range), which is what replicas and crash
 * recovery need.  Memory use does not depend on the table size.
 */
#include "postgres.h"

#include "access/relscan.h"
#include "access/tableam.h"
#include "access/xloginsert.h"
#include "catalog/index.h"
#include "commands/progress.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "hnsw.h"

typedef struct HnswBuildState
{
	HnswIndexInfo info;
	double		indtuples;
	double		heaptuples;
	MemoryContext tmpctx;
} HnswBuildState;

static void
init_metapage(Page page, int m, int ef_construction)
{
	HnswMetaPage meta;

	hnsw_init_page(page, HNSW_PAGE_META);
	meta = HnswPageGetMeta(page);
	meta->magic = HNSW_MAGIC;
	meta->version = HNSW_VERSION;
	meta->m = m;
	meta->ef_construction = ef_construction;
	meta->entry_level = -1;
	ItemPointerSetInvalid(&meta->entry);
	meta->insert_page = InvalidBlockNumber;
	((PageHeader) page)->pd_lower = ((char *) meta + sizeof(HnswMetaPageData)) - (char *) page;
}

/* m and ef_construction from the reloptions (hnsw.c) */
extern void hnsw_build_options(Relation index, int *m, int *ef_construction);

static void
build_callback(Relation index, ItemPointer tid, Datum *values, bool *isnull,
			   bool tupleIsAlive, void *state)
{
	HnswBuildState *bs = (HnswBuildState *) state;
	MemoryContext old;

	bs->heaptuples++;
	if (isnull[0])
		return;

	old = MemoryContextSwitchTo(bs->tmpctx);
	if (hnsw_insert_value(&bs->info, PointerGetDatum(PG_DETOAST_DATUM(values[0])), tid))
		bs->indtuples++;
	MemoryContextSwitchTo(old);
	MemoryContextReset(bs->tmpctx);

	if ((int64) bs->heaptuples % 256 == 0)
		pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, (int64) bs->heaptuples);
}

IndexBuildResult *
hnswbuild(Relation heap, Relation index, IndexInfo *indexInfo)
{
	IndexBuildResult *result;
	HnswBuildState bs;
	Buffer		buf;
	int			m,
				efc;

	if (RelationGetNumberOfBlocks(index) != 0)
		elog(ERROR, "index \"%s\" already contains data", RelationGetRelationName(index));

	hnsw_build_options(index, &m, &efc);

	/* metapage, then the graph; WAL for all of it at the end */
	buf = hnsw_new_buffer(index, MAIN_FORKNUM);
	Assert(BufferGetBlockNumber(buf) == HNSW_METAPAGE_BLKNO);
	init_metapage(BufferGetPage(buf), m, efc);
	MarkBufferDirty(buf);
	UnlockReleaseBuffer(buf);

	memset(&bs, 0, sizeof(bs));
	hnsw_index_info(&bs.info, index, true);
	bs.tmpctx = AllocSetContextCreate(CurrentMemoryContext, "hnsw build", ALLOCSET_DEFAULT_SIZES);

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, HNSW_PHASE_BUILD);
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL,
								 (int64) Max(heap->rd_rel->reltuples, 0));
	table_index_build_scan(heap, index, indexInfo, true, true, build_callback, &bs, NULL);

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, HNSW_PHASE_WAL);
	if (RelationNeedsWAL(index))
		log_newpage_range(index, MAIN_FORKNUM, 0, RelationGetNumberOfBlocks(index), true);

	MemoryContextDelete(bs.tmpctx);
	result = palloc(sizeof(IndexBuildResult));
	result->heap_tuples = bs.heaptuples;
	result->index_tuples = bs.indtuples;
	return result;
}

/* The init fork of an unlogged index: an empty metapage. */
void
hnswbuildempty(Relation index)
{
	Buffer		buf;
	int			m,
				efc;

	hnsw_build_options(index, &m, &efc);
	buf = ReadBufferExtended(index, INIT_FORKNUM, P_NEW, RBM_NORMAL, NULL);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	START_CRIT_SECTION();
	init_metapage(BufferGetPage(buf), m, efc);
	MarkBufferDirty(buf);
	log_newpage_buffer(buf, true);
	END_CRIT_SECTION();
	UnlockReleaseBuffer(buf);
}
