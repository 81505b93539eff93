/*
 * hnswbuild.c — CREATE INDEX and the init fork of unlogged indexes.
 *
 * The build inserts every heap tuple through the same code as aminsert, but
 * into the memory store (hnswmemstore.c): a graph held in one region of
 * fixed size (at most maintenance_work_mem) whose element tuples have the
 * on-disk layout and their final TIDs, so writing it out is a copy.  This
 * file sizes the region, puts it in local memory for a serial build or in
 * dynamic shared memory when parallel workers are allowed (the leader and
 * the workers each take blocks of a parallel heap scan and insert into the
 * same graph), scans the heap, and writes the graph out at the end.
 *
 * If the region fills up, the graph is written out and the build goes on
 * inserting into the on-disk index (the disk store), slower but with no
 * memory cliff: every in-memory insert holds the graph lock shared, and
 * whoever first finds the region full takes it exclusively and writes the
 * graph out; then everyone inserts on disk, whose page locks already allow
 * concurrent inserts.  Nothing is WAL-logged until the end, when the
 * finished relation is logged in one pass (log_newpage_range) for crash
 * recovery and replicas.
 */
#include "postgres.h"

#include "access/parallel.h"
#include "access/tableam.h"
#include "access/xloginsert.h"
#include "catalog/index.h"
#include "commands/progress.h"
#include "miscadmin.h"
#include "optimizer/plancat.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "storage/bufmgr.h"
#include "storage/spin.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "../parbuild.h"
#include "../vector.h"
#include "hnswstore.h"

/*
 * The region's size: maintenance_work_mem, but in shared memory not more
 * than embed_shm_room() (what /dev/shm can back): a smaller graph is only a
 * slower build.  0 if shared memory has no room for a useful one.
 */
static Size
graph_size(bool shared, bool *shm_capped)
{
	Size		size = Max((Size) maintenance_work_mem * 1024, HNSW_MEM_MIN_SIZE);

	*shm_capped = false;
	if (shared)
	{
		Size		room = embed_shm_room();

		if (room < size)
		{
			size = room;
			*shm_capped = true;
		}
		if (size < HNSW_MEM_MIN_SIZE)
			return 0;
	}
	return size;
}

/*
 * An upper estimate of the whole table's graph, when the column's
 * dimensions are declared and the values are embed's vectors: the row count
 * as the planner estimates it (scaled to the table's current size), each row
 * a full-precision element with links on two layers and its share of the
 * tables, then half again.  0 when unknown.
 */
static Size
graph_need(Relation heap, Relation index, int m)
{
	int32		dim = TupleDescAttr(RelationGetDescr(index), 0)->atttypmod;
	BlockNumber pages;
	double		tuples,
				allvisfrac,
				need;
	Size		per;

	EmbedOpclass oc = embed_opclass_of(index_getprocinfo(index, 1, HNSW_DISTANCE_PROC));

	/* a dense type's element is at most a float32 vector of its dimensions */
	if (oc.type == NULL || dim <= 0 || dim > oc.type->max_dim ||
		(per = oc.type->dense ? VECTOR_SIZE(dim) : oc.type->value_size(dim)) == 0)
		return 0;
	estimate_rel_size(heap, NULL, &pages, &tuples, &allvisfrac);
	per = hnsw_memstore_element_size(m, per);
	need = 1.5 * Max(tuples, 1.0) * per + 16.0 * HNSW_MEM_MIN_SIZE;
	return need < (double) MaxAllocHugeSize ? (Size) need : 0;
}

/* ---------- the build ---------- */

typedef struct HnswBuildState
{
	HnswIndexInfo info;			/* info.store: graph while inserts go there, then disk */
	HnswMemShared *region;		/* the graph's region */
	HnswStore  *graph;			/* this process's memory store on it */
	HnswStore  *disk;			/* the index's pages: where inserts go once it is written out */
	HnswMemCounts *counts;
	bool		leader;			/* reports progress and the NOTICE */
	bool		noticed;
	int64		ncalls;
	MemoryContext tmpctx;
} HnswBuildState;

/* a parallel build, in dynamic shared memory (the graph under its own key) */
typedef struct HnswBuildShared
{
	EmbedParallelShared base;	/* base.mutex guards brokenhotchain */
	bool		brokenhotchain;	/* a worker's scan found one */
} HnswBuildShared;

#define HNSW_KEY_GRAPH	UINT64CONST(0xE4BED00000000102)

typedef struct HnswParallel
{
	EmbedParallel base;
	HnswBuildShared *shared;	/* base.shared */
	HnswMemShared *graph;
} HnswParallel;

PGDLLEXPORT void hnsw_parallel_build_main(dsm_segment *seg, shm_toc *toc);

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

/* The leader says once that the graph went to disk, whoever wrote it out. */
static void
maybe_notice(HnswBuildState *bs)
{
	double		at;
	Size		total;
	bool		shm_capped;

	if (!bs->leader || bs->noticed ||
		!hnsw_memstore_overflowed(bs->region, &at, &total, &shm_capped))
		return;
	bs->noticed = true;
	if (shm_capped)
		ereport(NOTICE,
				(errmsg("hnsw graph no longer fits into maintenance_work_mem"),
				 errdetail("It held %.0f tuples in %zu MB, all the shared memory available; the build goes on in the index itself, which is slower.",
						   at, total / (1024 * 1024)),
				 errhint("Make more room in /dev/shm, or build with max_parallel_maintenance_workers = 0.")));
	else
		ereport(NOTICE,
				(errmsg("hnsw graph no longer fits into maintenance_work_mem"),
				 errdetail("It held %.0f tuples; the build goes on in the index itself, which is slower.", at),
				 errhint("Increase maintenance_work_mem to build faster.")));
}

static void
build_callback(Relation index, ItemPointer tid, Datum *values, bool *isnull,
			   bool tupleIsAlive, void *state)
{
	HnswBuildState *bs = (HnswBuildState *) state;
	HnswStore  *mem = bs->info.store == bs->graph ? bs->graph : NULL;
	uint64		seen = pg_atomic_add_fetch_u64(&bs->counts->heaptuples, 1);
	MemoryContext old;

	if (++bs->ncalls % 256 == 0 && bs->leader)
		pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, (int64) seen);
	if (isnull[0])
		return;

	/* the graph written out (here or by another process): insert on disk */
	if (mem != NULL && !hnsw_memstore_begin_insert(mem))
	{
		bs->info.store = bs->disk;
		mem = NULL;
	}
	old = MemoryContextSwitchTo(bs->tmpctx);
	if (hnsw_insert_value(&bs->info, PointerGetDatum(PG_DETOAST_DATUM(values[0])), tid))
		pg_atomic_add_fetch_u64(&bs->counts->indtuples, 1);
	MemoryContextSwitchTo(old);
	MemoryContextReset(bs->tmpctx);
	if (mem != NULL)
		hnsw_memstore_end_insert(mem);
	maybe_notice(bs);
}

static void
build_state_init(HnswBuildState *bs, Relation index, HnswMemShared *graph, bool concurrent,
				 bool leader)
{
	memset(bs, 0, sizeof(*bs));
	hnsw_index_info(&bs->info, index, true);
	bs->region = graph;
	bs->counts = hnsw_memstore_counts(graph);
	bs->disk = hnsw_disk_store(&bs->info);
	bs->graph = hnsw_memstore_attach(graph, concurrent, &bs->info, bs->disk);
	bs->info.store = bs->graph;
	bs->leader = leader;
	bs->tmpctx = AllocSetContextCreate(CurrentMemoryContext, "hnsw build", ALLOCSET_DEFAULT_SIZES);
}

/* a worker's share: its blocks of the heap, into the shared graph */
static void
insert_share(dsm_segment *seg, EmbedParallelShared *base, void *graph, Relation heap,
			 Relation index)
{
	HnswBuildShared *shared = (HnswBuildShared *) base;
	IndexInfo  *indexInfo = BuildIndexInfo(index);
	HnswBuildState bs;
	TableScanDesc scan;

	indexInfo->ii_Concurrent = base->isconcurrent;
	build_state_init(&bs, index, graph, true, false);
	scan = embed_parallel_beginscan(heap, base);
	table_index_build_scan(heap, index, indexInfo, true, false, build_callback, &bs, scan);
	elog(DEBUG2, "hnsw build worker: %lld heap tuples", (long long) bs.ncalls);
	if (indexInfo->ii_BrokenHotChain)
	{
		SpinLockAcquire(&shared->base.mutex);
		shared->brokenhotchain = true;
		SpinLockRelease(&shared->base.mutex);
	}
}

/* entry point of a parallel worker, called by name */
void
hnsw_parallel_build_main(dsm_segment *seg, shm_toc *toc)
{
	embed_parallel_work(seg, toc, HNSW_KEY_GRAPH, insert_share);
}

/*
 * Set up the shared graph and the parallel heap scan, and launch the
 * workers.  NULL (nothing to undo) when shared memory has no room.
 */
static HnswParallel *
begin_parallel(Relation heap, Relation index, IndexInfo *indexInfo, int m, int nworkers)
{
	HnswParallel *par;
	bool		shm_capped;
	EmbedParallelChunk graph = {HNSW_KEY_GRAPH, graph_size(true, &shm_capped)};
	Size		need = graph_need(heap, index, m);
	int			launched;

	if (graph.size == 0)
		return NULL;
	/* shared memory is backed when created: take no more than the table needs */
	if (need > 0 && need < graph.size)
		graph.size = need;
	par = palloc0(sizeof(HnswParallel));
	if (!embed_parallel_begin(&par->base, "hnsw_parallel_build_main", nworkers, heap, index,
							  indexInfo, sizeof(HnswBuildShared), &graph, 1))
	{
		pfree(par);
		return NULL;
	}
	par->shared = (HnswBuildShared *) par->base.shared;
	par->graph = graph.addr;
	hnsw_memstore_init(par->graph, graph.size, m, true, shm_capped);

	launched = embed_parallel_launch(&par->base);
	ereport(DEBUG1,
			(errmsg("hnsw build: inserting with %d parallel workers requested", nworkers),
			 errdetail("PostgreSQL's own \"building index ... serially\" refers to its parallel btree sort, which hnsw does not use; these workers are embed's own, sized by max_parallel_maintenance_workers.")));
	elog(DEBUG2, "hnsw build: %d parallel workers launched, graph of %zu kB in shared memory",
		 launched, graph.size / 1024);
	return par;
}

IndexBuildResult *
hnswbuild(Relation heap, Relation index, IndexInfo *indexInfo)
{
	IndexBuildResult *result;
	HnswBuildState bs;
	HnswParallel *par = NULL;
	HnswMemShared *graph;
	TableScanDesc scan = NULL;
	Buffer		buf;
	int			m,
				efc,
				nworkers;

	if (RelationGetNumberOfBlocks(index) != 0)
		elog(ERROR, "index \"%s\" already contains data", RelationGetRelationName(index));

	hnsw_build_options(index, &m, &efc);
	/* a declared size over the type layer's limit fails before any row is read */
	if (TupleDescAttr(RelationGetDescr(index), 0)->atttypmod > 0)
		hnsw_check_dims(embed_opclass_of(index_getprocinfo(index, 1, HNSW_DISTANCE_PROC)),
						TupleDescAttr(RelationGetDescr(index), 0)->atttypmod);

	/* metapage, then the graph; WAL for all of it at the end */
	buf = hnsw_new_buffer(index, MAIN_FORKNUM);
	Assert(BufferGetBlockNumber(buf) == HNSW_METAPAGE_BLKNO);
	init_metapage(BufferGetPage(buf), m, efc);
	MarkBufferDirty(buf);
	UnlockReleaseBuffer(buf);

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, HNSW_PHASE_BUILD);
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL,
								 (int64) Max(heap->rd_rel->reltuples, 0));

	/* workers insert into the graph in shared memory with the leader; else alone, in local memory */
	nworkers = embed_build_workers(heap, index, indexInfo);
	if (nworkers > 0)
		par = begin_parallel(heap, index, indexInfo, m, nworkers);
	if (par != NULL)
	{
		graph = par->graph;
		/* a leader left alone needs no locks */
		build_state_init(&bs, index, graph, par->base.pcxt->nworkers_launched > 0, true);
		scan = embed_parallel_beginscan(heap, &par->shared->base);
	}
	else
	{
		bool		capped;
		Size		size = graph_size(false, &capped);

		graph = MemoryContextAllocHuge(CurrentMemoryContext, size);
		hnsw_memstore_init(graph, size, m, false, false);
		build_state_init(&bs, index, graph, false, true);
	}
	table_index_build_scan(heap, index, indexInfo, true, true, build_callback, &bs, scan);
	if (par != NULL)
	{
		elog(DEBUG2, "hnsw build leader: %lld heap tuples", (long long) bs.ncalls);
		WaitForParallelWorkersToFinish(par->base.pcxt);
		if (par->shared->brokenhotchain)
			indexInfo->ii_BrokenHotChain = true;
	}

	/* every participant is done: write out what is still in memory */
	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, HNSW_PHASE_WAL);
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE,
								 (int64) pg_atomic_read_u64(&bs.counts->heaptuples));
	/* link in what no search would reach, in memory or (if it spilled) on the pages */
	bs.info.store = hnsw_memstore_alone(bs.graph);
	hnsw_connect(&bs.info);
	hnsw_memstore_finish(bs.graph);
	maybe_notice(&bs);

	result = palloc(sizeof(IndexBuildResult));
	result->heap_tuples = (double) pg_atomic_read_u64(&bs.counts->heaptuples);
	result->index_tuples = (double) pg_atomic_read_u64(&bs.counts->indtuples);

	if (par != NULL)
		embed_parallel_end(&par->base);
	else
		pfree(graph);
	if (RelationNeedsWAL(index))
		log_newpage_range(index, MAIN_FORKNUM, 0, RelationGetNumberOfBlocks(index), true);

	MemoryContextDelete(bs.tmpctx);
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
	/* a declared size over the type layer's limit fails before any row is read */
	if (TupleDescAttr(RelationGetDescr(index), 0)->atttypmod > 0)
		hnsw_check_dims(embed_opclass_of(index_getprocinfo(index, 1, HNSW_DISTANCE_PROC)),
						TupleDescAttr(RelationGetDescr(index), 0)->atttypmod);
	buf = hnsw_new_buffer(index, INIT_FORKNUM);
	START_CRIT_SECTION();
	init_metapage(BufferGetPage(buf), m, efc);
	MarkBufferDirty(buf);
	log_newpage_buffer(buf, true);
	END_CRIT_SECTION();
	UnlockReleaseBuffer(buf);
}
