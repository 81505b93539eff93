/*
 * hnswbuild.c — CREATE INDEX and the init fork of unlogged indexes.
 *
 * The build inserts every heap tuple through the same code as aminsert, but
 * into a graph held in memory (HnswMemGraph): element tuples with the on-disk
 * layout whose TIDs are assigned up front by packing them into virtual pages
 * in insertion order, so links are final and writing out is a copy.  If the
 * graph outgrows maintenance_work_mem it is written out and the build goes
 * on inserting into the on-disk index, slower but with no memory cliff.
 * Nothing is WAL-logged until the end, when the finished relation is logged
 * in one pass (log_newpage_range) for crash recovery and replicas.
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


typedef struct BlockDesc
{
	int			elem;			/* first element (element page) or owner (overflow) */
	int			count;			/* elements on it, or -1 for overflow */
	int			chunk;			/* overflow: which chunk of the value */
} BlockDesc;

struct HnswMemGraph
{
	MemoryContext ctx;
	Size		used;
	Size		limit;
	int			m;
	HnswElementTuple *tuples;	/* in insertion order */
	Size	   *sizes;
	char	  **ovalues;		/* overflowed values, else NULL */
	int			n;
	int			cap;
	BlockDesc  *blocks;			/* indexed by block number */
	BlockNumber blockcap;
	BlockNumber nblocks;		/* next block to assign; 0 is the metapage */
	BlockNumber curblk;			/* element page being filled, or Invalid */
	Size		curfree;		/* its pd_upper - pd_lower */
	ItemPointerData entry;
	int			entry_level;
	uint32	   *marks;			/* per element: the visit generation that saw it */
	uint32		visit_gen;
};

static HnswMemGraph *
mem_create(int m)
{
	MemoryContext ctx = AllocSetContextCreate(CurrentMemoryContext, "hnsw build graph",
											  ALLOCSET_DEFAULT_SIZES);
	HnswMemGraph *g = MemoryContextAllocZero(ctx, sizeof(HnswMemGraph));

	g->ctx = ctx;
	g->limit = (Size) maintenance_work_mem * 1024;
	g->m = m;
	g->nblocks = HNSW_METAPAGE_BLKNO + 1;
	g->curblk = InvalidBlockNumber;
	g->entry_level = -1;
	return g;
}

static BlockNumber
mem_new_block(HnswMemGraph *g, int elem, int count, int chunk)
{
	if (g->nblocks >= g->blockcap)
	{
		g->blockcap = Max(64, g->blockcap * 2);
		g->blocks = g->blocks ? repalloc(g->blocks, sizeof(BlockDesc) * g->blockcap)
			: MemoryContextAlloc(g->ctx, sizeof(BlockDesc) * g->blockcap);
	}
	g->blocks[g->nblocks].elem = elem;
	g->blocks[g->nblocks].count = count;
	g->blocks[g->nblocks].chunk = chunk;
	return g->nblocks++;
}

void
hnsw_mem_add(HnswMemGraph *g, HnswElementTuple etup, Size size, Datum value, ItemPointer tid)
{
	int			idx = g->n;
	MemoryContext old = MemoryContextSwitchTo(g->ctx);

	if (g->n == g->cap)
	{
		g->cap = Max(1024, g->cap * 2);
		g->tuples = g->tuples ? repalloc(g->tuples, sizeof(HnswElementTuple) * g->cap)
			: palloc(sizeof(HnswElementTuple) * g->cap);
		g->sizes = g->sizes ? repalloc(g->sizes, sizeof(Size) * g->cap)
			: palloc(sizeof(Size) * g->cap);
		g->ovalues = g->ovalues ? repalloc(g->ovalues, sizeof(char *) * g->cap)
			: palloc(sizeof(char *) * g->cap);
		if (g->marks)
		{
			g->marks = repalloc(g->marks, sizeof(uint32) * g->cap);
			memset(g->marks + g->cap / 2, 0, sizeof(uint32) * (g->cap - g->cap / 2));
		}
		else
			g->marks = palloc0(sizeof(uint32) * g->cap);
	}

	/* the element page: the current one if it still has room */
	if (g->curblk == InvalidBlockNumber || g->curfree < size + sizeof(ItemIdData))
	{
		g->curblk = mem_new_block(g, idx, 0, 0);
		g->curfree = HNSW_PAGE_SPACE;
	}
	g->curfree -= size + sizeof(ItemIdData);
	ItemPointerSet(tid, g->curblk, ++g->blocks[g->curblk].count);

	g->tuples[idx] = palloc(size);
	memcpy(g->tuples[idx], etup, size);
	g->sizes[idx] = size;
	g->ovalues[idx] = NULL;
	g->used += size;

	if (etup->flags & HNSW_ELEMENT_OVERFLOW)
	{
		Size		len = VARSIZE_ANY(DatumGetPointer(value));
		int			nchunks = (len + HNSW_OVERFLOW_CHUNK - 1) / HNSW_OVERFLOW_CHUNK;
		BlockNumber first = InvalidBlockNumber;

		g->ovalues[idx] = palloc(len);
		memcpy(g->ovalues[idx], DatumGetPointer(value), len);
		g->used += len;
		/* the chain gets consecutive blocks */
		for (int i = 0; i < nchunks; i++)
		{
			BlockNumber b = mem_new_block(g, idx, -1, i);

			if (i == 0)
				first = b;
		}
		memcpy(HnswValuePtr(g->tuples[idx], g->m), &first, sizeof(BlockNumber));
	}
	g->n++;
	MemoryContextSwitchTo(old);
}

HnswElementTuple
hnsw_mem_element(HnswMemGraph *g, ItemPointer tid, Datum *value)
{
	BlockNumber blk = ItemPointerGetBlockNumber(tid);
	OffsetNumber off = ItemPointerGetOffsetNumber(tid);
	int			idx;

	if (blk >= g->nblocks || g->blocks[blk].count < 0 ||
		off < FirstOffsetNumber || off > g->blocks[blk].count)
		return NULL;
	idx = g->blocks[blk].elem + off - 1;
	*value = PointerGetDatum(g->ovalues[idx] ? g->ovalues[idx]
							 : HnswValuePtr(g->tuples[idx], g->m));
	return g->tuples[idx];
}

/*
 * A search's visited set on the in-memory graph: a generation number per
 * element instead of a hash table (elements have dense indexes here).  One
 * search runs at a time in a build, so each layer search takes a new
 * generation and everything marked before is unvisited again.
 */
uint32
hnsw_mem_new_visit(HnswMemGraph *g)
{
	if (++g->visit_gen == 0)
	{
		if (g->marks)
			memset(g->marks, 0, sizeof(uint32) * g->cap);
		g->visit_gen = 1;
	}
	return g->visit_gen;
}

/* 1 if tid was visited in generation gen (else marks it: 0); -1 if tid is no element */
int
hnsw_mem_visit(HnswMemGraph *g, ItemPointer tid, uint32 gen)
{
	BlockNumber blk = ItemPointerGetBlockNumber(tid);
	OffsetNumber off = ItemPointerGetOffsetNumber(tid);
	int			idx;

	Assert(gen == g->visit_gen);
	if (blk >= g->nblocks || g->blocks[blk].count < 0 ||
		off < FirstOffsetNumber || off > g->blocks[blk].count)
		return -1;
	idx = g->blocks[blk].elem + off - 1;
	if (g->marks[idx] == gen)
		return 1;
	g->marks[idx] = gen;
	return 0;
}

/* CPU-cache prefetch of an element the build is about to read: its slot, then its lines */
void
hnsw_mem_prefetch(HnswMemGraph *g, ItemPointer tid, bool item)
{
	BlockNumber blk = ItemPointerGetBlockNumber(tid);
	OffsetNumber off = ItemPointerGetOffsetNumber(tid);

	if (blk >= g->nblocks)
		return;
	if (!item)
		__builtin_prefetch(&g->blocks[blk]);
	else if (g->blocks[blk].count >= 0 && off >= FirstOffsetNumber && off <= g->blocks[blk].count)
	{
		int			idx = g->blocks[blk].elem + off - 1;
		char	   *t = (char *) g->tuples[idx];

		for (int i = 0; i < 256; i += 64)
			__builtin_prefetch(t + i);
	}
}

void
hnsw_mem_entry(HnswMemGraph *g, ItemPointer entry, int *level)
{
	*entry = g->entry;
	*level = g->entry_level;
}

void
hnsw_mem_set_entry(HnswMemGraph *g, ItemPointer entry, int level)
{
	if (level > g->entry_level)
	{
		g->entry = *entry;
		g->entry_level = level;
	}
}

/* Write the graph out block by block (the metapage is block 0 already). */
static void
mem_flush(HnswMemGraph *g, Relation index)
{
	Buffer		buf;
	HnswMetaPage meta;
	BlockNumber last_element_page = InvalidBlockNumber;

	for (BlockNumber blk = HNSW_METAPAGE_BLKNO + 1; blk < g->nblocks; blk++)
	{
		BlockDesc  *d = &g->blocks[blk];
		Page		page;

		CHECK_FOR_INTERRUPTS();
		buf = hnsw_new_buffer(index, MAIN_FORKNUM);
		if (BufferGetBlockNumber(buf) != blk)
			elog(ERROR, "hnsw build expected block %u, got %u", blk, BufferGetBlockNumber(buf));
		page = BufferGetPage(buf);
		if (d->count >= 0)
		{
			hnsw_init_page(page, HNSW_PAGE_ELEMENT);
			for (int i = 0; i < d->count; i++)
			{
				int			idx = d->elem + i;

				if (PageAddItem(page, (Item) g->tuples[idx], g->sizes[idx],
								InvalidOffsetNumber, false, false) != i + 1)
					elog(ERROR, "hnsw build could not place an element on block %u", blk);
			}
			last_element_page = blk;
		}
		else
		{
			Size		len = g->tuples[d->elem]->vecsize;
			Size		from = (Size) d->chunk * HNSW_OVERFLOW_CHUNK;
			Size		chunk = Min(len - from, HNSW_OVERFLOW_CHUNK);

			hnsw_init_page(page, HNSW_PAGE_OVERFLOW);
			memcpy(PageGetContents(page), g->ovalues[d->elem] + from, chunk);
			((PageHeader) page)->pd_lower = SizeOfPageHeaderData + chunk;
			HnswPageGetOpaque(page)->nextblkno = (from + chunk < len) ? blk + 1 : InvalidBlockNumber;
		}
		MarkBufferDirty(buf);
		UnlockReleaseBuffer(buf);
	}

	buf = ReadBuffer(index, HNSW_METAPAGE_BLKNO);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	meta = HnswPageGetMeta(BufferGetPage(buf));
	meta->entry = g->entry;
	meta->entry_level = g->entry_level;
	meta->insert_page = last_element_page;
	MarkBufferDirty(buf);
	UnlockReleaseBuffer(buf);
}

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

	if (bs->info.mem != NULL && bs->info.mem->used > bs->info.mem->limit)
	{
		ereport(NOTICE,
				(errmsg("hnsw graph no longer fits into maintenance_work_mem after %.0f tuples",
						bs->indtuples),
				 errdetail("The build goes on in the index itself, which is slower."),
				 errhint("Increase maintenance_work_mem to build faster.")));
		mem_flush(bs->info.mem, index);
		MemoryContextDelete(bs->info.mem->ctx);
		bs->info.mem = NULL;
	}

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
	bs.info.mem = mem_create(m);
	bs.tmpctx = AllocSetContextCreate(CurrentMemoryContext, "hnsw build", ALLOCSET_DEFAULT_SIZES);

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, HNSW_PHASE_BUILD);
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL,
								 (int64) Max(heap->rd_rel->reltuples, 0));
	table_index_build_scan(heap, index, indexInfo, true, true, build_callback, &bs, NULL);

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, HNSW_PHASE_WAL);
	if (bs.info.mem != NULL)
	{
		mem_flush(bs.info.mem, index);
		MemoryContextDelete(bs.info.mem->ctx);
		bs.info.mem = NULL;
	}
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
	buf = hnsw_new_buffer(index, INIT_FORKNUM);
	START_CRIT_SECTION();
	init_metapage(BufferGetPage(buf), m, efc);
	MarkBufferDirty(buf);
	log_newpage_buffer(buf, true);
	END_CRIT_SECTION();
	UnlockReleaseBuffer(buf);
}
