/*
 * ivfscan.c — ORDER BY column <op> value through the nearest lists.
 *
 * The first amgettuple ranks the centroids and reads the `probes` nearest
 * lists in full.  ivfflat computes exact distances from its entries and
 * returns them sorted.  ivfrabitq estimates each distance from the code,
 * with a lower bound, and sorts candidates by that bound; it then reranks:
 * a candidate's exact distance comes from its heap row (which also drops
 * rows the snapshot cannot see), and a reranked row is returned once no
 * unreranked candidate's bound is below its distance.  Only candidates that
 * can still rank are reranked, usually a small multiple of the LIMIT.
 *
 * With iterative scans, running out of rows (a WHERE clause rejected them)
 * probes the next `probes` lists, up to max_probes; rows of a later batch may
 * be closer than rows already returned (relaxed order).
 */
#include "postgres.h"

#include <math.h>

#include "access/relscan.h"
#include "access/tableam.h"
#include "catalog/index.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "../kernels.h"
#include "../vector.h"
#include "ivf.h"

typedef struct IvfCandidate
{
	ItemPointerData tid;
	float		lb;				/* flat: the exact distance */
} IvfCandidate;

typedef struct IvfReranked
{
	ItemPointerData tid;
	double		dist;
} IvfReranked;

typedef struct IvfListRank
{
	float		dist;
	int			list;
} IvfListRank;

typedef struct IvfScanOpaqueData
{
	IvfInfo		info;
	MemoryContext ctx;			/* reset by rescan */
	bool		started;
	bool		query_null;
	Datum		query;			/* the ORDER BY argument, detoasted */
	float	   *q;				/* prepared (unit under cosine, rotated) */
	int			probes;
	int			max_probes;
	bool		iterative;

	IvfListRank *order;			/* lists to probe, nearest first */
	int			norder;
	int			next_list;		/* next index into order */

	IvfCandidate *cand;			/* the current batch: min-heap on lb */
	int			ncand;
	int			capcand;

	/* RaBitQ */
	RabitqQuery rq;
	float	   *resid;
	IvfReranked *heap;			/* min-heap on dist */
	int			nheap;
	int			capheap;
	IndexFetchTableData *fetch;
	TupleTableSlot *slot;
	EState	   *estate;
	IndexInfo  *indexInfo;
} IvfScanOpaqueData;

typedef IvfScanOpaqueData *IvfScanOpaque;

IndexScanDesc
ivfbeginscan(Relation index, int nkeys, int norderbys)
{
	IndexScanDesc scan = RelationGetIndexScan(index, nkeys, norderbys);
	IvfScanOpaque so = palloc0(sizeof(IvfScanOpaqueData));

	ivf_info(&so->info, index, false);
	so->ctx = AllocSetContextCreate(CurrentMemoryContext, "ivf scan", ALLOCSET_DEFAULT_SIZES);
	scan->opaque = so;
	return scan;
}

void
ivfrescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys, int norderbys)
{
	IvfScanOpaque so = (IvfScanOpaque) scan->opaque;

	if (so->fetch)
		table_index_fetch_reset(so->fetch);
	MemoryContextReset(so->ctx);
	so->started = false;
	so->order = NULL;
	so->norder = so->next_list = 0;
	so->cand = NULL;
	so->ncand = so->capcand = 0;
	so->heap = NULL;
	so->nheap = so->capheap = 0;
	so->rq.planes = NULL;
	so->query_null = !embed_rescan_keys(scan, keys, orderbys, so->ctx, &so->query);
}

/* ---------- ranking the lists ---------- */

#define RANK_BATCH 256

static int
cmp_rank(const void *a, const void *b)
{
	float		x = ((const IvfListRank *) a)->dist,
				y = ((const IvfListRank *) b)->dist;

	return x < y ? -1 : x > y ? 1 : 0;
}

/* sift down in a max-heap on dist */
static void
rank_sift(IvfListRank *h, int n, int i)
{
	for (;;)
	{
		int			l = 2 * i + 1,
					r = l + 1,
					m = i;
		IvfListRank t;

		if (l < n && h[l].dist > h[m].dist)
			m = l;
		if (r < n && h[r].dist > h[m].dist)
			m = r;
		if (m == i)
			return;
		t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

/*
 * Rank the centroids by distance to the query and keep the `want` nearest,
 * sorted: a bounded max-heap when want is small, a full sort otherwise.
 */
static void
rank_lists(IvfScanOpaque so, int want)
{
	IvfShape   *shape = so->info.shape;
	int			n = shape->meta.nlists,
				cdim = shape->meta.cdim;
	IvfListRank *all = palloc(sizeof(IvfListRank) * n);

	/* by inner product; under L2 |c|^2 - 2 <q, c> orders like |q - c|^2 */
	for (int l0 = 0; l0 < n; l0 += RANK_BATCH)
	{
		float		dots[RANK_BATCH];
		int			nb = Min(RANK_BATCH, n - l0);

		if (!so->query_null && n > 1)
			embed_active_kernels->dot_rows(so->q, shape->centroids + (Size) l0 * cdim, nb, cdim,
										   dots);
		for (int j = 0; j < nb; j++)
		{
			int			l = l0 + j;

			all[l].list = l;
			if (so->query_null || n == 1)
				all[l].dist = 0;
			else if (so->info.metric == IVF_METRIC_IP)
				all[l].dist = -dots[j];
			else
				all[l].dist = shape->cnorms[l] - 2 * dots[j];
			if (isnan(all[l].dist))
				all[l].dist = INFINITY;
		}
	}

	if (want < n / 4)
	{
		for (int i = want / 2 - 1; i >= 0; i--)
			rank_sift(all, want, i);
		for (int l = want; l < n; l++)
			if (all[l].dist < all[0].dist)
			{
				all[0] = all[l];
				rank_sift(all, want, 0);
			}
		qsort(all, want, sizeof(IvfListRank), cmp_rank);
	}
	else
		qsort(all, n, sizeof(IvfListRank), cmp_rank);
	so->order = all;
	so->norder = Min(want, n);
}

/* ---------- reading lists ---------- */

static void
add_candidate(IvfScanOpaque so, ItemPointer tid, float lb)
{
	if (so->ncand == so->capcand)
	{
		so->capcand = Max(1024, so->capcand * 2);
		so->cand = so->cand == NULL
			? palloc(sizeof(IvfCandidate) * so->capcand)
			: repalloc_huge(so->cand, sizeof(IvfCandidate) * so->capcand);
	}
	so->cand[so->ncand].tid = *tid;
	so->cand[so->ncand].lb = lb;
	so->ncand++;
}

/*
 * Per-list query state for RaBitQ.  Every metric becomes an inner product
 * between unit directions: under L2 (and cosine, whose vectors are unit)
 * |o - q|^2 = |r|^2 + |q - c|^2 - 2 |r| |q - c| <r^, (q - c)^>, under inner
 * product <o, q> = <c, q> + |r| |q| <r^, q^>.
 */
typedef struct ListQuery
{
	float		qnorm;
	float		cq;				/* <c, q>: inner product only */
} ListQuery;

static void
prepare_list(IvfScanOpaque so, int list, ListQuery *lq)
{
	IvfShape   *shape = so->info.shape;
	int			pdim = shape->meta.cdim;
	const float *c = shape->centroids + (Size) list * pdim;

	if (so->info.metric == IVF_METRIC_IP)
	{
		/* the query direction is the same for every list: prepared once */
		if (so->rq.planes == NULL)
			rabitq_prepare_query(pdim, so->q, &so->rq);
		lq->qnorm = so->rq.norm;
		lq->cq = embed_active_kernels->dot(c, so->q, pdim);
	}
	else
	{
		for (int i = 0; i < pdim; i++)
			so->resid[i] = so->q[i] - c[i];
		rabitq_prepare_query(pdim, so->resid, &so->rq);
		lq->qnorm = so->rq.norm;
		lq->cq = 0;
	}
}

/* estimated lower bound of the opclass distance to one entry */
static inline float
rabitq_lower_bound(IvfScanOpaque so, ListQuery *lq, IvfEntry e)
{
	RabitqFactors f;
	float		err,
				ip;

	memcpy(&f, IvfEntryPayload(e), sizeof(RabitqFactors));
	ip = rabitq_estimate(&so->rq, (uint8 *) IvfEntryPayload(e) + sizeof(RabitqFactors), e->ones,
						 &f, &err);
	ip = Min(ip + err, 1.0f);
	if (so->info.metric == IVF_METRIC_IP)
		return -(lq->cq + f.norm * lq->qnorm * ip);
	else
	{
		float		d = f.norm * f.norm + lq->qnorm * lq->qnorm - 2 * f.norm * lq->qnorm * ip;

		d = Max(d, 0.0f);
		return so->info.metric == IVF_METRIC_COSINE ? d / 2 : d;
	}
}

static void
read_list(IvfScanOpaque so, int list)
{
	Relation	index = so->info.index;
	IvfShape   *shape = so->info.shape;
	IvfListDir	dir = ivf_read_dir(index, &shape->meta, list);
	BlockNumber blk = dir.head;
	bool		rabitq = so->info.kind == IVF_KIND_RABITQ && !so->query_null;
	const float *qx = so->query_null ? NULL : ((Vector *) DatumGetPointer(so->query))->x;
	ListQuery	lq = {0, 0};

	if (rabitq)
		prepare_list(so, list, &lq);

	while (BlockNumberIsValid(blk))
	{
		Buffer		buf = ReadBuffer(index, blk);
		Page		page;
		OffsetNumber maxoff;

		CHECK_FOR_INTERRUPTS();
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		ivf_check_list_page(index, page, blk);
		maxoff = PageGetMaxOffsetNumber(page);
		for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
		{
			ItemId		iid = PageGetItemId(page, off);
			IvfEntry	e;
			float		d;

			if (!ItemIdIsNormal(iid))
				continue;
			if (ItemIdGetLength(iid) != shape->entry_size)
				ereport(ERROR,
						(errcode(ERRCODE_INDEX_CORRUPTED),
						 errmsg("ivf index \"%s\" has a corrupt entry on page %u",
								RelationGetRelationName(index), blk),
						 errhint("REINDEX the index.")));
			e = (IvfEntry) PageGetItem(page, iid);
			if (so->query_null)
				d = 0;
			else if (rabitq)
				d = rabitq_lower_bound(so, &lq, e);
			else
				d = ivf_exact_distance(so->info.metric, qx,
									   (const float *) IvfEntryPayload(e), shape->meta.dim);
			if (isnan(d))
				d = INFINITY;
			add_candidate(so, &e->tid, d);
		}
		blk = IvfPageGetOpaque(page)->nextblkno;
		UnlockReleaseBuffer(buf);
	}
}

/*
 * The batch is a min-heap on the bound: heapifying is linear, and a scan
 * pops only the few candidates its LIMIT needs, where sorting them all would
 * cost more than estimating them did.
 */
static void
cand_sift(IvfCandidate *h, int n, int i)
{
	IvfCandidate x = h[i];

	for (;;)
	{
		int			l = 2 * i + 1,
					m = l;

		if (l >= n)
			break;
		if (l + 1 < n && h[l + 1].lb < h[l].lb)
			m = l + 1;
		if (h[m].lb >= x.lb)
			break;
		h[i] = h[m];
		i = m;
	}
	h[i] = x;
}

static IvfCandidate
cand_pop(IvfScanOpaque so)
{
	IvfCandidate top = so->cand[0];

	so->cand[0] = so->cand[--so->ncand];
	if (so->ncand > 1)
		cand_sift(so->cand, so->ncand, 0);
	return top;
}

/* Read the next batch of lists; false when there are none left. */
static bool
next_batch(IvfScanOpaque so)
{
	int			end;

	if (so->next_list >= so->norder)
		return false;
	if (so->next_list > 0 && !so->iterative)
		return false;
	end = so->next_list == 0 ? so->probes : so->next_list + so->probes;
	end = Min(end, so->norder);
	so->ncand = 0;
	for (; so->next_list < end; so->next_list++)
		read_list(so, so->order[so->next_list].list);
	if (!so->query_null)
		for (int i = so->ncand / 2 - 1; i >= 0; i--)
			cand_sift(so->cand, so->ncand, i);
	return true;
}

/* ---------- reranking (RaBitQ) ---------- */

static void
heap_push(IvfScanOpaque so, ItemPointer tid, double dist)
{
	int			i;

	if (so->nheap == so->capheap)
	{
		so->capheap = Max(64, so->capheap * 2);
		so->heap = so->heap == NULL
			? palloc(sizeof(IvfReranked) * so->capheap)
			: repalloc(so->heap, sizeof(IvfReranked) * so->capheap);
	}
	i = so->nheap++;
	while (i > 0 && so->heap[(i - 1) / 2].dist > dist)
	{
		so->heap[i] = so->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	so->heap[i].tid = *tid;
	so->heap[i].dist = dist;
}

static IvfReranked
heap_pop(IvfScanOpaque so)
{
	IvfReranked top = so->heap[0],
				last = so->heap[--so->nheap];
	int			i = 0;

	for (;;)
	{
		int			l = 2 * i + 1,
					m = l;

		if (l >= so->nheap)
			break;
		if (l + 1 < so->nheap && so->heap[l + 1].dist < so->heap[l].dist)
			m = l + 1;
		if (so->heap[m].dist >= last.dist)
			break;
		so->heap[i] = so->heap[m];
		i = m;
	}
	if (so->nheap > 0)
		so->heap[i] = last;
	return top;
}

/*
 * The exact distance of a candidate, from its heap row as the scan's
 * snapshot sees it; false if the row is not visible (then the executor would
 * not return it either).
 */
static bool
exact_distance(IndexScanDesc scan, IvfScanOpaque so, ItemPointer tid, double *dist)
{
	ItemPointerData htid = *tid;
	bool		call_again = false,
				all_dead = false;
	Datum		value;
	bool		isnull;
	AttrNumber	attnum;

	if (so->fetch == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(GetMemoryChunkContext(so));

		so->fetch = table_index_fetch_begin(scan->heapRelation);
		so->slot = table_slot_create(scan->heapRelation, NULL);
		so->indexInfo = BuildIndexInfo(scan->indexRelation);
		if (so->indexInfo->ii_IndexAttrNumbers[0] == 0)
		{
			so->estate = CreateExecutorState();
			GetPerTupleExprContext(so->estate)->ecxt_scantuple = so->slot;
		}
		MemoryContextSwitchTo(old);
	}

	if (!table_index_fetch_tuple(so->fetch, &htid, scan->xs_snapshot, so->slot,
								 &call_again, &all_dead))
		return false;
	attnum = so->indexInfo->ii_IndexAttrNumbers[0];
	if (attnum != 0)
		value = slot_getattr(so->slot, attnum, &isnull);
	else
	{
		ResetPerTupleExprContext(so->estate);
		FormIndexDatum(so->indexInfo, so->slot, so->estate, &value, &isnull);
	}
	if (isnull)
		return false;
	*dist = DatumGetFloat8(FunctionCall2Coll(so->info.distproc, so->info.collation,
											 so->query, value));
	ExecClearTuple(so->slot);
	return true;
}

/* ---------- amgettuple ---------- */

static void
start_scan(IvfScanOpaque so)
{
	IvfShape   *shape = so->info.shape;
	bool		rabitq = so->info.kind == IVF_KIND_RABITQ;
	int			probes = rabitq ? ivfrabitq_probes : ivfflat_probes;
	int			iterative = rabitq ? ivfrabitq_iterative_scan : ivfflat_iterative_scan;
	int			max_probes = rabitq ? ivfrabitq_max_probes : ivfflat_max_probes;
	int			nlists = shape->meta.nlists;

	so->probes = so->query_null ? nlists : Min(probes, nlists);
	so->iterative = iterative != IVF_ITERATIVE_OFF && !so->query_null;
	so->max_probes = so->iterative ? Max(so->probes, Min(max_probes, nlists)) : so->probes;

	so->q = palloc(sizeof(float) * shape->meta.cdim);
	so->resid = palloc(sizeof(float) * shape->meta.cdim);
	if (!so->query_null && !ivf_prepare(&so->info, so->query, shape->meta.dim, so->q))
	{
		/* a zero query under cosine: every distance is NaN, any order will do */
		memset(so->q, 0, sizeof(float) * shape->meta.cdim);
	}
	rank_lists(so, so->max_probes);
}

bool
ivfgettuple(IndexScanDesc scan, ScanDirection dir)
{
	IvfScanOpaque so = (IvfScanOpaque) scan->opaque;
	bool		rerank;
	MemoryContext old;
	bool		found = false;

	if (!ScanDirectionIsForward(dir))
		elog(ERROR, "ivf index scans only go forward");

	old = MemoryContextSwitchTo(so->ctx);
	if (!so->started)
	{
		start_scan(so);
		so->started = true;
		if (!next_batch(so))
			goto done;
	}
	rerank = so->info.kind == IVF_KIND_RABITQ && !so->query_null && scan->heapRelation != NULL;

	for (;;)
	{
		CHECK_FOR_INTERRUPTS();
		if (!rerank)
		{
			if (so->ncand > 0)
			{
				scan->xs_heaptid = cand_pop(so).tid;
				found = true;
				break;
			}
		}
		else
		{
			/* a reranked row is final once no bound left is below it */
			if (so->nheap > 0 &&
				(so->ncand == 0 || so->heap[0].dist <= so->cand[0].lb))
			{
				scan->xs_heaptid = heap_pop(so).tid;
				found = true;
				break;
			}
			if (so->ncand > 0)
			{
				IvfCandidate c = cand_pop(so);
				double		d;

				if (exact_distance(scan, so, &c.tid, &d))
					heap_push(so, &c.tid, isnan(d) ? INFINITY : d);
				continue;
			}
		}
		if (!next_batch(so))
			break;
	}

done:
	MemoryContextSwitchTo(old);
	scan->xs_recheck = false;
	scan->xs_recheckorderby = false;
	return found;
}

void
ivfendscan(IndexScanDesc scan)
{
	IvfScanOpaque so = (IvfScanOpaque) scan->opaque;

	if (so->fetch)
	{
		table_index_fetch_end(so->fetch);
		ExecDropSingleTupleTableSlot(so->slot);
		if (so->estate)
			FreeExecutorState(so->estate);
	}
	MemoryContextDelete(so->ctx);
	pfree(so);
	scan->opaque = NULL;
}
