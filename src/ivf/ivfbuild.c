/*
 * ivfbuild.c — CREATE INDEX and the init fork of unlogged indexes.
 *
 * Two passes over the table.  The first draws a uniform sample (reservoir)
 * that fits maintenance_work_mem and clusters it with k-means into the list
 * centroids.  The second assigns every row to its nearest centroid and feeds
 * (list, entry) pairs to a tuplesort, so memory stays bounded whatever the
 * table size; the sorted entries are then written list after list.  No WAL
 * is written page by page: the finished relation is logged in one pass.
 *
 * The second pass, where the time goes on large tables (one distance per
 * row and list), runs in parallel when max_parallel_maintenance_workers
 * allows: the leader and each worker scan a share of the table (a parallel
 * heap scan) into their own sort, which the leader merges, as nbtree does.
 * Workers read the centroids from the skeleton pages the leader wrote
 * before launching them.
 */
#include "postgres.h"

#include <math.h>

#include "access/parallel.h"
#include "access/tableam.h"
#include "access/xloginsert.h"
#include "catalog/index.h"
#include "storage/condition_variable.h"
#include "storage/spin.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_type.h"
#include "commands/progress.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/tuplesort.h"
#include "utils/lsyscache.h"

#include "../kernels.h"
#include "../parbuild.h"
#include "../vector.h"
#include "ivf.h"

typedef struct IvfBuildState
{
	Relation	index;
	IvfInfo		info;
	int			dim;			/* 0 until known */
	int			cdim;
	Rabitq		rq;

	/* pass 1: reservoir sample of prepared-but-unrotated values */
	float	   *sample;
	int			sample_cap;
	int			lists;			/* asked for */
	int			nsample;
	double		nseen;			/* indexable rows seen */
	uint64		rng;

	/* pass 2 */
	Tuplesortstate *sort;
	TupleDesc	sortdesc;
	TupleTableSlot *slot;
	float	   *x;
	IvfEntry	entry;
	double		heaptuples;
	double		indtuples;
	MemoryContext ctx;			/* of the whole build */
	MemoryContext tmpctx;		/* per row */
} IvfBuildState;

/* a parallel assignment pass, in dynamic shared memory */
typedef struct IvfShared
{
	EmbedParallelShared base;	/* base.mutex protects ndone and the counts */
	int			sortmem;		/* kB per participant */

	ConditionVariable donecv;	/* signalled as each participant finishes */
	int			ndone;
	double		heaptuples;
	double		indtuples;
} IvfShared;

#define IVF_KEY_SORT	UINT64CONST(0xE4BED00000000002)

typedef struct IvfParallel
{
	EmbedParallel base;
	IvfShared  *shared;			/* base.shared */
	Sharedsort *sharedsort;
	int			nparticipants;
} IvfParallel;

PGDLLEXPORT void ivf_parallel_build_main(dsm_segment *seg, shm_toc *toc);

/* would a flat entry of dim dimensions (aligned, with its line pointer) fit a page? */
static bool
ivf_flat_fits(const EmbedType *type, int dim)
{
	IvfMetaPageData meta;

	memset(&meta, 0, sizeof(meta));
	meta.version = ivf_build_version(IVF_KIND_FLAT, type);
	meta.kind = IVF_KIND_FLAT;
	meta.dim = meta.cdim = dim;
	return ivf_entry_size(&meta, type) + sizeof(ItemIdData) <= IVF_PAGE_SPACE;
}

/*
 * The most dimensions a flat entry of the type fits a page with (vector:
 * 2,036; halfvec: 4,072), found by bisection: the entry size grows with the
 * dimensions.
 */
static int
ivf_flat_max_dim(const EmbedType *type)
{
	int			lo = 1,
				hi = type->max_index_dim;

	while (lo < hi)
	{
		int			mid = lo + (hi - lo + 1) / 2;

		if (ivf_flat_fits(type, mid))
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

/* dimensions from the column's typmod, else from the first row */
static void
set_dim(IvfBuildState *bs, int dim)
{
	int			maxdim = ivf_max_dim(bs->info.metric);

	if (dim > maxdim)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("column cannot have more than %d dimensions", maxdim)));
	bs->dim = dim;
	if (bs->info.kind == IVF_KIND_RABITQ)
	{
		rabitq_init(&bs->rq, dim, IVF_ROTATION_SEED);
		bs->cdim = bs->rq.pdim;
	}
	else
	{
		bs->cdim = dim;
		/* bit strings up to ivf_max_dim() always fit */
		if (!ivf_flat_fits(bs->info.oc.type, dim))
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("ivfflat index can only store vectors of up to %d dimensions",
							ivf_flat_max_dim(bs->info.oc.type)),
					 errhint("Use ivfrabitq or hnsw for larger vectors.")));
	}

	/* the sample and the centroids share maintenance_work_mem */
	{
		double		fit = (double) maintenance_work_mem * 1024.0 /
			((double) bs->cdim * sizeof(float)) - bs->lists;

		bs->sample_cap = Min(IVF_SAMPLE_MAX, bs->lists * IVF_SAMPLE_PER_LIST);
		if (fit < bs->sample_cap)
			bs->sample_cap = (int) Max(fit, 1.0);
	}
}

/* the value as k-means and the lists see it, without the rotation */
static bool
unrotated(IvfBuildState *bs, Datum value, float *out)
{
	int			kind = bs->info.kind;
	bool		ok;

	/* ivf_prepare rotates only RaBitQ values: borrow the flat path */
	bs->info.kind = IVF_KIND_FLAT;
	ok = ivf_prepare(&bs->info, value, bs->dim, out);
	bs->info.kind = kind;
	return ok;
}

static void
sample_callback(Relation index, ItemPointer tid, Datum *values, bool *isnull,
				bool tupleIsAlive, void *state)
{
	IvfBuildState *bs = (IvfBuildState *) state;
	MemoryContext old;
	int			slot;

	if (isnull[0])
		return;
	if (bs->dim == 0)
	{
		int			dim;

		old = MemoryContextSwitchTo(bs->ctx);
		(void) ivf_value_floats(bs->info.oc.type, values[0], &dim);
		set_dim(bs, dim);
		MemoryContextSwitchTo(old);
	}
	if (bs->sample == NULL)
	{
		bs->sample = MemoryContextAllocHuge(bs->ctx,
											(Size) bs->sample_cap * bs->cdim * sizeof(float));
		bs->x = MemoryContextAlloc(bs->ctx, sizeof(float) * bs->cdim);
	}

	/* reservoir sampling: row i takes a random slot with odds cap / (i + 1) */
	slot = -2;					/* not drawn yet */
	if (bs->nseen >= bs->sample_cap)
	{
		uint64		j = embed_splitmix64(&bs->rng) % (uint64) (bs->nseen + 1);

		slot = j < (uint64) bs->sample_cap ? (int) j : -1;

		/*
		 * A row the reservoir does not take need not be read at all once the
		 * list count is settled (enough rows seen): detoasting is most of this
		 * pass.  It is counted as indexable unread; only the list count
		 * depends on the count, and it no longer can.
		 */
		if (slot < 0 && bs->nseen >= (double) bs->lists * IVF_MIN_ROWS_PER_LIST)
		{
			bs->nseen++;
			return;
		}
	}

	old = MemoryContextSwitchTo(bs->tmpctx);
	if (unrotated(bs, values[0], bs->x))
	{
		if (slot == -2)
			slot = bs->nsample++;
		if (slot >= 0)
			memcpy(bs->sample + (Size) slot * bs->cdim, bs->x, sizeof(float) * bs->dim);
		bs->nseen++;
	}
	MemoryContextSwitchTo(old);
	MemoryContextReset(bs->tmpctx);
}

static void
assign_callback(Relation index, ItemPointer tid, Datum *values, bool *isnull,
				bool tupleIsAlive, void *state)
{
	IvfBuildState *bs = (IvfBuildState *) state;
	IvfShape   *shape = bs->info.shape;
	MemoryContext old;
	int			list;
	bytea	   *payload;

	bs->heaptuples++;
	if (isnull[0])
		return;
	old = MemoryContextSwitchTo(bs->tmpctx);
	if (ivf_prepare(&bs->info, values[0], bs->dim, bs->x))
	{
		list = ivf_nearest_list(shape, bs->x);
		ivf_make_entry(&bs->info, bs->x, shape->centroids + (Size) list * bs->cdim, tid,
					   values[0], bs->entry);
		payload = palloc(VARHDRSZ + shape->entry_size);
		SET_VARSIZE(payload, VARHDRSZ + shape->entry_size);
		memcpy(VARDATA(payload), bs->entry, shape->entry_size);

		ExecClearTuple(bs->slot);
		bs->slot->tts_values[0] = Int32GetDatum(list);
		bs->slot->tts_isnull[0] = false;
		bs->slot->tts_values[1] = PointerGetDatum(payload);
		bs->slot->tts_isnull[1] = false;
		ExecStoreVirtualTuple(bs->slot);
		tuplesort_puttupleslot(bs->sort, bs->slot);
		bs->indtuples++;
	}
	MemoryContextSwitchTo(old);
	MemoryContextReset(bs->tmpctx);

	if ((int64) bs->heaptuples % 1024 == 0)
		pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, (int64) bs->heaptuples);
}

/*
 * Append one skeleton page of `type` holding `bytes` of `src` (kept below
 * pd_lower, so full-page images keep it).  In the init fork each page is
 * WAL-logged as written; the main fork is logged whole after the build.
 */
static BlockNumber
skeleton_page(Relation index, ForkNumber fork, uint16 type, const void *src, Size bytes)
{
	Buffer		buf = ivf_new_buffer(index, fork);
	Page		page = BufferGetPage(buf);
	BlockNumber blk = BufferGetBlockNumber(buf);

	ivf_init_page(page, type);
	if (bytes > 0)
		memcpy(PageGetContents(page), src, bytes);
	((PageHeader) page)->pd_lower = (char *) PageGetContents(page) + bytes - (char *) page;
	MarkBufferDirty(buf);
	if (fork == INIT_FORKNUM)
		log_newpage_buffer(buf, true);
	UnlockReleaseBuffer(buf);
	return blk;
}

/*
 * Metapage, directory, centroids and one empty head page per list, in that
 * order.  The init fork of an unlogged index is this skeleton alone; a build
 * goes on to fill the lists.
 */
static void
write_skeleton(Relation index, ForkNumber fork, IvfMetaPageData *meta, const float *centroids,
			   IvfListDir *dir)
{
	int			ndir = (meta->nlists + IVF_DIR_PER_PAGE - 1) / IVF_DIR_PER_PAGE;
	Size		nfloats = (Size) meta->nlists * meta->cdim;
	BlockNumber blk PG_USED_FOR_ASSERTS_ONLY;

	meta->dir_start = IVF_METAPAGE_BLKNO + 1;
	meta->cent_start = meta->dir_start + ndir;
	meta->cent_pages = (nfloats + IVF_CENT_PER_PAGE - 1) / IVF_CENT_PER_PAGE;
	for (int l = 0; l < meta->nlists; l++)
		dir[l].head = dir[l].insert = meta->cent_start + meta->cent_pages + l;

	blk = skeleton_page(index, fork, IVF_PAGE_META, meta, sizeof(IvfMetaPageData));
	Assert(blk == IVF_METAPAGE_BLKNO);
	for (int first = 0; first < meta->nlists; first += IVF_DIR_PER_PAGE)
		skeleton_page(index, fork, IVF_PAGE_DIRECTORY, dir + first,
					  Min((int) IVF_DIR_PER_PAGE, meta->nlists - first) * sizeof(IvfListDir));
	for (Size off = 0; off < nfloats; off += IVF_CENT_PER_PAGE)
		skeleton_page(index, fork, IVF_PAGE_CENTROID, centroids + off,
					  Min(nfloats - off, IVF_CENT_PER_PAGE) * sizeof(float));
	for (int l = 0; l < meta->nlists; l++)
	{
		blk = skeleton_page(index, fork, IVF_PAGE_LIST, NULL, 0);
		Assert(blk == dir[l].head);
	}
}

/* rewrite the directory pages after the lists were loaded */
static void
write_directory(Relation index, IvfMetaPageData *meta, IvfListDir *dir)
{
	for (int first = 0; first < meta->nlists; first += IVF_DIR_PER_PAGE)
	{
		int			n = Min((int) IVF_DIR_PER_PAGE, meta->nlists - first);
		Buffer		buf = ReadBuffer(index, meta->dir_start + first / IVF_DIR_PER_PAGE);

		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		memcpy(PageGetContents(BufferGetPage(buf)), dir + first, n * sizeof(IvfListDir));
		MarkBufferDirty(buf);
		UnlockReleaseBuffer(buf);
	}
}

/* Write the sorted entries list after list, chaining pages as they fill. */
static void
load_lists(IvfBuildState *bs, IvfMetaPageData *meta, IvfListDir *dir)
{
	Relation	index = bs->index;
	Size		esize = bs->info.shape->entry_size;
	int			cur_list = -1;
	Buffer		buf = InvalidBuffer;
	Page		page = NULL;
	double		done = 0;

	for (;;)
	{
		bool		more = tuplesort_gettupleslot(bs->sort, true, false, bs->slot, NULL);
		int			list = -1;
		bool		isnull;
		bytea	   *payload = NULL;

		CHECK_FOR_INTERRUPTS();
		if (more)
		{
			list = DatumGetInt32(slot_getattr(bs->slot, 1, &isnull));
			payload = DatumGetByteaPP(slot_getattr(bs->slot, 2, &isnull));
		}
		if (!more || list != cur_list)
		{
			if (BufferIsValid(buf))
			{
				MarkBufferDirty(buf);
				UnlockReleaseBuffer(buf);
				dir[cur_list].insert = BufferGetBlockNumber(buf);
				buf = InvalidBuffer;
			}
			if (!more)
				break;
			cur_list = list;
			buf = ReadBuffer(index, dir[list].head);
			LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
			page = BufferGetPage(buf);
		}
		if (PageAddItem(page, (Item) VARDATA_ANY(payload), esize, InvalidOffsetNumber,
						false, false) == InvalidOffsetNumber)
		{
			Buffer		next = ivf_new_buffer(index, MAIN_FORKNUM);

			ivf_init_page(BufferGetPage(next), IVF_PAGE_LIST);
			IvfPageGetOpaque(page)->nextblkno = BufferGetBlockNumber(next);
			MarkBufferDirty(buf);
			UnlockReleaseBuffer(buf);
			buf = next;
			page = BufferGetPage(buf);
			if (PageAddItem(page, (Item) VARDATA_ANY(payload), esize, InvalidOffsetNumber,
							false, false) == InvalidOffsetNumber)
				elog(ERROR, "ivf entry of %zu bytes does not fit an empty page", esize);
		}
		if (++done >= 1024 && (int64) done % 1024 == 0)
			pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, (int64) done);
	}
}

/* The sort of pass 2: (list, entry) pairs, by list. */
static void
begin_assign(IvfBuildState *bs, SortCoordinate coord, int sortmem)
{
	AttrNumber	sortcol = 1;
	Oid			sortop = Int4LessOperator;
	Oid			sortcoll = InvalidOid;
	bool		nullsfirst = false;

	bs->sortdesc = CreateTemplateTupleDesc(2);
	TupleDescInitEntry(bs->sortdesc, (AttrNumber) 1, "list", INT4OID, -1, 0);
	TupleDescInitEntry(bs->sortdesc, (AttrNumber) 2, "entry", BYTEAOID, -1, 0);
	/* tuplesort_gettupleslot hands back minimal tuples */
	bs->slot = MakeSingleTupleTableSlot(bs->sortdesc, &TTSOpsMinimalTuple);
	bs->sort = tuplesort_begin_heap(bs->sortdesc, 1, &sortcol, &sortop, &sortcoll, &nullsfirst,
									sortmem, coord,
#if PG_VERSION_NUM >= 150000
									TUPLESORT_NONE
#else
									false
#endif
		);
	if (bs->x == NULL)
		bs->x = palloc(sizeof(float) * bs->cdim);
	if (bs->entry == NULL)
		bs->entry = palloc0(bs->info.shape->entry_size);
}

/*
 * One participant's share of pass 2 (the leader's or a worker's): scan its
 * blocks of the parallel heap scan into its own sort, then report.
 */
static void
participate(IvfShared *shared, Sharedsort *sharedsort, Relation heap, Relation index,
			bool progress)
{
	IvfBuildState bs;
	SortCoordinate coord = palloc0(sizeof(SortCoordinateData));
	IndexInfo  *indexInfo = BuildIndexInfo(index);
	TableScanDesc scan;

	memset(&bs, 0, sizeof(bs));
	bs.index = index;
	ivf_info(&bs.info, index, true);
	bs.info.shape = ivf_shape(index);
	bs.dim = bs.info.shape->meta.dim;
	bs.cdim = bs.info.shape->meta.cdim;
	bs.tmpctx = AllocSetContextCreate(CurrentMemoryContext, "ivf build", ALLOCSET_DEFAULT_SIZES);

	coord->isWorker = true;
	coord->nParticipants = -1;
	coord->sharedsort = sharedsort;
	begin_assign(&bs, coord, shared->sortmem);

	indexInfo->ii_Concurrent = shared->base.isconcurrent;
	scan = embed_parallel_beginscan(heap, &shared->base);
	table_index_build_scan(heap, index, indexInfo, true, progress, assign_callback, &bs, scan);
	tuplesort_performsort(bs.sort);

	SpinLockAcquire(&shared->base.mutex);
	shared->heaptuples += bs.heaptuples;
	shared->indtuples += bs.indtuples;
	shared->ndone++;
	SpinLockRelease(&shared->base.mutex);
	ConditionVariableSignal(&shared->donecv);

	/* the sorted runs stay in the shared fileset for the leader to merge */
	tuplesort_end(bs.sort);
	ExecDropSingleTupleTableSlot(bs.slot);
	MemoryContextDelete(bs.tmpctx);
}

/* a worker's share of pass 2 */
static void
assign_share(dsm_segment *seg, EmbedParallelShared *shared, void *sharedsort, Relation heap,
			 Relation index)
{
	tuplesort_attach_shared(sharedsort, seg);
	participate((IvfShared *) shared, sharedsort, heap, index, false);
}

/* entry point of a parallel worker, called by name */
void
ivf_parallel_build_main(dsm_segment *seg, shm_toc *toc)
{
	embed_parallel_work(seg, toc, IVF_KEY_SORT, assign_share);
}

/*
 * Workers for k-means: as for the assignment pass, when a round is big enough
 * (here: at least 10^8 multiply-adds) to repay starting them.
 */
static int
kmeans_workers(Relation heap, Relation index, IndexInfo *indexInfo, int n, int k, int d)
{
	if ((double) n * k * d < 1e8)
		return 0;
	return embed_build_workers(heap, index, indexInfo);
}

/*
 * Pass 2 in parallel: launch the workers, take a share as the leader, wait
 * for every participant, and leave bs->sort as the merge of their runs.
 * NULL (nothing launched, nothing to undo) when no shared memory was had.
 */
static IvfParallel *
assign_parallel(IvfBuildState *bs, Relation heap, Relation index, IndexInfo *indexInfo,
				int nworkers)
{
	IvfParallel *par = palloc0(sizeof(IvfParallel));
	int			nsorts = nworkers + 1;	/* the leader sorts too */
	EmbedParallelChunk sort = {IVF_KEY_SORT, tuplesort_estimate_shared(nsorts)};
	SortCoordinate coord;
	int			launched;

	if (!embed_parallel_begin(&par->base, "ivf_parallel_build_main", nworkers, heap, index,
							  indexInfo, sizeof(IvfShared), &sort, 1))
	{
		pfree(par);
		return NULL;
	}
	par->shared = (IvfShared *) par->base.shared;
	par->shared->sortmem = Max(maintenance_work_mem / nsorts, 64);
	ConditionVariableInit(&par->shared->donecv);
	par->sharedsort = sort.addr;
	tuplesort_initialize_shared(par->sharedsort, nsorts, par->base.pcxt->seg);

	launched = embed_parallel_launch(&par->base);
	par->nparticipants = launched + 1;
	ereport(DEBUG1,
			(errmsg("ivf build: assigning rows with %d parallel workers requested", nworkers),
			 errdetail("PostgreSQL's own \"building index ... serially\" refers to its parallel btree sort, which ivf does not use; these workers are embed's own, sized by max_parallel_maintenance_workers.")));
	elog(DEBUG2, "ivf build: %d parallel workers launched", launched);

	participate(par->shared, par->sharedsort, heap, index, true);

	for (;;)
	{
		bool		done;

		SpinLockAcquire(&par->shared->base.mutex);
		done = par->shared->ndone == par->nparticipants;
		SpinLockRelease(&par->shared->base.mutex);
		if (done)
			break;
		ConditionVariableSleep(&par->shared->donecv, WAIT_EVENT_PARALLEL_CREATE_INDEX_SCAN);
	}
	ConditionVariableCancelSleep();
	bs->heaptuples = par->shared->heaptuples;
	bs->indtuples = par->shared->indtuples;

	coord = palloc0(sizeof(SortCoordinateData));
	coord->isWorker = false;
	coord->nParticipants = par->nparticipants;
	coord->sharedsort = par->sharedsort;
	begin_assign(bs, coord, maintenance_work_mem);
	return par;
}

static void
end_parallel(IvfParallel *par)
{
	WaitForParallelWorkersToFinish(par->base.pcxt);
	embed_parallel_end(&par->base);
}

IndexBuildResult *
ivfbuild(Relation heap, Relation index, IndexInfo *indexInfo)
{
	IvfBuildState bs;
	IndexBuildResult *result;
	IvfMetaPageData meta;
	IvfListDir *dir;
	float	   *centroids;
	int			lists = ivf_options_lists(index);
	int			typmod = TupleDescAttr(RelationGetDescr(index), 0)->atttypmod;
	int			k;
	int			nworkers;
	IvfParallel *par = NULL;

	if (RelationGetNumberOfBlocks(index) != 0)
		elog(ERROR, "index \"%s\" already contains data", RelationGetRelationName(index));

	memset(&bs, 0, sizeof(bs));
	bs.index = index;
	ivf_info(&bs.info, index, true);
	bs.ctx = CurrentMemoryContext;
	bs.tmpctx = AllocSetContextCreate(CurrentMemoryContext, "ivf build", ALLOCSET_DEFAULT_SIZES);
	bs.rng = IVF_ROTATION_SEED;
	bs.lists = lists;
	if (typmod > 0)
		set_dim(&bs, typmod);

	/* pass 1: sample */
	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, IVF_PHASE_KMEANS);
	table_index_build_scan(heap, index, indexInfo, true, true, sample_callback, &bs, NULL);

	if (bs.dim == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("column does not have dimensions"),
				 errhint("Declare the column as vector(n), or build the index once the table has rows.")));

	/* fewer rows than lists * IVF_MIN_ROWS_PER_LIST: fewer, better-trained lists */
	k = lists;
	if (bs.nseen < (double) lists * IVF_MIN_ROWS_PER_LIST)
		k = Max(1, (int) (bs.nseen / IVF_MIN_ROWS_PER_LIST));
	if (k < lists)
		ereport(NOTICE,
				(errmsg("%s index built with %d list%s instead of %d: the table has %.0f indexable rows",
						bs.info.kind == IVF_KIND_RABITQ ? "ivfrabitq" : "ivfflat",
						k, k == 1 ? "" : "s", lists, bs.nseen),
				 errhint("REINDEX once the table holds most of its data, so that the lists follow the data.")));
	/* and no more lists than sampled points, which maintenance_work_mem bounds */
	if (k > Max(bs.nsample, 1))
	{
		ereport(NOTICE,
				(errmsg("%s index built with %d lists instead of %d: maintenance_work_mem holds a sample of %d rows",
						bs.info.kind == IVF_KIND_RABITQ ? "ivfrabitq" : "ivfflat",
						bs.nsample, k, bs.nsample),
				 errhint("Raise maintenance_work_mem and REINDEX.")));
		k = bs.nsample;
	}

	/* k-means in the space the lists live in (rotated for RaBitQ) */
	centroids = MemoryContextAllocHuge(CurrentMemoryContext, (Size) k * bs.cdim * sizeof(float));
	if (bs.nsample == 0)
		memset(centroids, 0, (Size) k * bs.cdim * sizeof(float));
	else
	{
		if (bs.info.kind == IVF_KIND_RABITQ)
		{
			float	   *tmp = palloc(sizeof(float) * bs.dim);

			for (int i = 0; i < bs.nsample; i++)
			{
				float	   *row = bs.sample + (Size) i * bs.cdim;

				memcpy(tmp, row, sizeof(float) * bs.dim);
				rabitq_rotate(&bs.rq, tmp, row);
			}
			pfree(tmp);
		}
		ivf_kmeans(bs.sample, bs.nsample, bs.cdim, k, bs.info.metric == IVF_METRIC_COSINE,
				   IVF_ROTATION_SEED, IVF_KMEANS_ITERATIONS,
				   kmeans_workers(heap, index, indexInfo, bs.nsample, k, bs.cdim), centroids);
	}
	if (bs.sample)
		pfree(bs.sample);
	bs.sample = NULL;

	/* the skeleton: metapage, directory, centroids, list heads */
	memset(&meta, 0, sizeof(meta));
	meta.magic = IVF_MAGIC;
	meta.version = ivf_build_version(bs.info.kind, bs.info.oc.type);
	meta.kind = bs.info.kind;
	meta.metric = bs.info.metric;
	meta.dim = bs.dim;
	meta.cdim = bs.cdim;
	meta.nlists = k;
	meta.seed = IVF_ROTATION_SEED;
	dir = palloc(sizeof(IvfListDir) * k);
	write_skeleton(index, MAIN_FORKNUM, &meta, centroids, dir);
	pfree(centroids);
	bs.info.shape = ivf_shape(index);

	/* pass 2: assign every row to its list, through a sort */
	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, IVF_PHASE_ASSIGN);
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL,
								 (int64) Max(heap->rd_rel->reltuples, 0));
	nworkers = bs.nseen > 0 ? embed_build_workers(heap, index, indexInfo) : 0;
	if (nworkers > 0)
		par = assign_parallel(&bs, heap, index, indexInfo, nworkers);
	if (par == NULL)
	{
		begin_assign(&bs, NULL, maintenance_work_mem);
		table_index_build_scan(heap, index, indexInfo, true, true, assign_callback, &bs, NULL);
	}

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, IVF_PHASE_LOAD);
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL, (int64) bs.indtuples);
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, 0);
	tuplesort_performsort(bs.sort);
	load_lists(&bs, &meta, dir);
	write_directory(index, &meta, dir);
	tuplesort_end(bs.sort);
	ExecDropSingleTupleTableSlot(bs.slot);
	if (par)
		end_parallel(par);

	if (RelationNeedsWAL(index))
		log_newpage_range(index, MAIN_FORKNUM, 0, RelationGetNumberOfBlocks(index), true);

	MemoryContextDelete(bs.tmpctx);
	result = palloc(sizeof(IndexBuildResult));
	result->heap_tuples = bs.heaptuples;
	result->index_tuples = bs.indtuples;
	return result;
}

/*
 * The init fork of an unlogged index: the main fork's skeleton (same
 * centroids) with empty lists, so a crash-reset index keeps its training.
 */
void
ivfbuildempty(Relation index)
{
	IvfShape   *shape = ivf_shape(index);
	IvfMetaPageData meta = shape->meta;
	IvfListDir *dir = palloc(sizeof(IvfListDir) * meta.nlists);

	write_skeleton(index, INIT_FORKNUM, &meta, shape->centroids, dir);
	pfree(dir);
}
