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
 *
 * A range search (`col <<->> vector_ball(q, r)` as a scan key, range.c)
 * reads every list whose cell can hold a row within r, however many: every
 * row sits in the list of its nearest centroid, so under L2 and cosine a
 * list whose Voronoi cell is farther than r from q is skipped (see
 * range_lists); under inner product a cell is unbounded and every list is
 * read.  Only entries within r (flat: exactly; RaBitQ: by the lower bound)
 * become candidates, so no probes or max_probes apply.
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
#include "../range.h"
#include "../vector.h"
#include "ivf.h"

/*
 * One small binary min-heap serves the scan three times: the candidates of a
 * batch (key: lower bound of the distance, or the exact distance for flat),
 * the reranked rows (key: exact distance) and, with keys negated, the
 * nearest lists while ranking them.  Keys are doubles, so float bounds and
 * double distances compare exactly as they are.
 */
typedef struct IvfHeapItem
{
	double		key;
	union
	{
		ItemPointerData tid;
		int			list;
	}			v;
} IvfHeapItem;

typedef struct IvfHeap
{
	IvfHeapItem *items;
	int			n;
	int			cap;
} IvfHeap;

typedef struct IvfScanOpaqueData
{
	IvfInfo		info;
	MemoryContext ctx;			/* reset by rescan */
	bool		started;
	bool		query_null;
	Datum		query;			/* the ORDER BY argument, detoasted */
	float	   *q;				/* prepared (unit under cosine, rotated) */
	EmbedPackedQuery pq;		/* flat: the query against packed entries */
	int			probes;
	int			max_probes;
	bool		iterative;

	IvfHeapItem *order;			/* lists to probe (v.list), nearest first */
	int			norder;
	int			next_list;		/* next index into order */

	IvfHeap		cand;			/* the current batch, on the bound */

	/* RaBitQ */
	RabitqQuery rq;
	float	   *resid;
	IvfHeap		reranked;		/* on the exact distance */
	IndexFetchTableData *fetch;
	TupleTableSlot *slot;
	EState	   *estate;
	IndexInfo  *indexInfo;

	/* range search */
	EmbedRange	range;
	double		range_limit;	/* the radius in internal units, with slack */
	bool		orderby_null;	/* ORDER BY col <op> NULL with a range */
	float		err_scale;		/* RaBitQ: widening of the estimate's error bound */
} IvfScanOpaqueData;

typedef IvfScanOpaqueData *IvfScanOpaque;

/* a range search's RaBitQ error bound, in standard deviations (see ivfrescan) */
#define RANGE_EPSILON 6.0f

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
	memset(&so->cand, 0, sizeof(IvfHeap));
	memset(&so->reranked, 0, sizeof(IvfHeap));
	so->rq.planes = NULL;
	so->query_null = !embed_rescan_keys(scan, keys, orderbys, so->ctx, &so->query);
	so->orderby_null = false;
	so->err_scale = 1.0f;
	embed_range_from_keys(scan, so->ctx, &so->range);
	if (so->range.present && !so->range.empty)
	{
		embed_range_check_metric(scan->indexRelation, &so->range, so->info.oc.metric);
		if (!so->query_null)
			embed_range_check_center(&so->range, so->query);
		else
		{
			/* no ORDER BY, or ORDER BY col <op> NULL: search around the center */
			so->orderby_null = scan->numberOfOrderBys > 0;
			so->query = so->range.center;
			so->query_null = false;
		}
		so->range_limit = embed_range_internal_radius(so->range.metric, so->range.radius);

		/*
		 * RaBitQ's error bound holds with high probability, not always
		 * (RABITQ_EPSILON standard deviations): a range search drops the
		 * entries whose bound is beyond the radius, so it widens the bound
		 * to RANGE_EPSILON deviations, where a miss is about 1e-9 per row.
		 */
		so->err_scale = RANGE_EPSILON / RABITQ_EPSILON;
	}
	if (!so->query_null && so->info.kind == IVF_KIND_FLAT)
	{
		/* decoded once; each entry is then compared in its packed form */
		MemoryContext old = MemoryContextSwitchTo(so->ctx);

		embed_packed_query(&so->pq, so->info.oc, PG_DETOAST_DATUM(so->query));
		MemoryContextSwitchTo(old);
	}
}

/* ---------- the heap ---------- */

/* room for one more item */
static inline void
heap_room(IvfHeap *h)
{
	if (h->n == h->cap)
	{
		h->cap = Max(256, h->cap * 2);
		h->items = h->items == NULL
			? palloc(sizeof(IvfHeapItem) * h->cap)
			: repalloc_huge(h->items, sizeof(IvfHeapItem) * h->cap);
	}
}

/* append without keeping heap order (heap_build restores it) */
static inline void
heap_append(IvfHeap *h, double key, ItemPointer tid)
{
	heap_room(h);
	h->items[h->n].key = key;
	h->items[h->n].v.tid = *tid;
	h->n++;
}

/* move x down from slot i of a heap of n items to where it belongs */
static void
heap_sift_down(IvfHeapItem *items, int n, int i, IvfHeapItem x)
{
	for (;;)
	{
		int			l = 2 * i + 1,
					m = l;

		if (l >= n)
			break;
		if (l + 1 < n && items[l + 1].key < items[l].key)
			m = l + 1;
		if (items[m].key >= x.key)
			break;
		items[i] = items[m];
		i = m;
	}
	items[i] = x;
}

/* heapify n items: linear */
static void
heap_build(IvfHeapItem *items, int n)
{
	for (int i = n / 2 - 1; i >= 0; i--)
		heap_sift_down(items, n, i, items[i]);
}

static void
heap_push(IvfHeap *h, double key, ItemPointer tid)
{
	int			i;

	heap_room(h);
	i = h->n++;
	while (i > 0 && h->items[(i - 1) / 2].key > key)
	{
		h->items[i] = h->items[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h->items[i].key = key;
	h->items[i].v.tid = *tid;
}

static IvfHeapItem
heap_pop(IvfHeap *h)
{
	IvfHeapItem top = h->items[0];

	if (--h->n > 0)
		heap_sift_down(h->items, h->n, 0, h->items[h->n]);
	return top;
}

/* ---------- ranking the lists ---------- */

#define RANK_BATCH 256

/* nearest first: keys are negated distances */
static int
cmp_rank(const void *a, const void *b)
{
	double		x = -((const IvfHeapItem *) a)->key,
				y = -((const IvfHeapItem *) b)->key;

	return x < y ? -1 : x > y ? 1 : 0;
}

/*
 * Rank the centroids by distance to the query and keep the `want` nearest,
 * sorted: a bounded max-heap (the min-heap on negated distances) when want
 * is small, a full sort otherwise.
 */
static void
rank_lists(IvfScanOpaque so, int want)
{
	IvfShape   *shape = so->info.shape;
	int			n = shape->meta.nlists,
				cdim = shape->meta.cdim;
	IvfHeapItem *all = palloc(sizeof(IvfHeapItem) * n);

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
			float		dist;

			if (so->query_null || n == 1)
				dist = 0;
			else if (so->info.metric == IVF_METRIC_IP)
				dist = -dots[j];
			else
				dist = shape->cnorms[l] - 2 * dots[j];
			if (isnan(dist))
				dist = INFINITY;
			all[l].key = -(double) dist;
			all[l].v.list = l;
		}
	}

	if (want < n / 4)
	{
		heap_build(all, want);
		for (int l = want; l < n; l++)
			if (all[l].key > all[0].key)
				heap_sift_down(all, want, 0, all[l]);
		qsort(all, want, sizeof(IvfHeapItem), cmp_rank);
	}
	else
		qsort(all, n, sizeof(IvfHeapItem), cmp_rank);
	so->order = all;
	so->norder = Min(want, n);
}

/* ---------- reading lists ---------- */

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
	ip = Min(ip + err * so->err_scale, 1.0f);
	if (so->info.metric == IVF_METRIC_IP)
		return -(lq->cq + f.norm * lq->qnorm * ip);
	else
	{
		float		d = f.norm * f.norm + lq->qnorm * lq->qnorm - 2 * f.norm * lq->qnorm * ip;

		d = Max(d, 0.0f);
		return so->info.metric == IVF_METRIC_COSINE ? d / 2 : d;
	}
}

typedef struct ReadWalk
{
	IvfScanOpaque so;
	bool		rabitq;
	ListQuery	lq;
} ReadWalk;

/* a list page, share-locked: every entry becomes a candidate */
static bool
read_visit(Relation index, Buffer buf, BlockNumber blk, void *arg)
{
	ReadWalk   *rw = (ReadWalk *) arg;
	IvfScanOpaque so = rw->so;
	IvfShape   *shape = so->info.shape;
	Page		page = BufferGetPage(buf);
	OffsetNumber maxoff = PageGetMaxOffsetNumber(page);

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
		else if (rw->rabitq)
			d = rabitq_lower_bound(so, &rw->lq, e);
		else if (shape->decoded)
			d = ivf_exact_distance(so->info.metric, so->pq.x,
								   (const float *) IvfEntryPayload(e), shape->meta.dim);
		else
			d = embed_packed_distance(&so->pq, IvfEntryPayload(e));
		if (isnan(d))
			d = INFINITY;
		if (so->range.present && !(d <= so->range_limit))
			continue;
		heap_append(&so->cand, d, &e->tid);
	}
	return true;
}

static void
read_list(IvfScanOpaque so, int list)
{
	IvfListDir	dir = ivf_read_dir(so->info.index, &so->info.shape->meta, list);
	ReadWalk	rw;

	rw.so = so;
	rw.rabitq = so->info.kind == IVF_KIND_RABITQ && !so->query_null;
	rw.lq.qnorm = rw.lq.cq = 0;
	if (rw.rabitq)
		prepare_list(so, list, &rw.lq);
	ivf_walk_list(so->info.index, dir.head, BUFFER_LOCK_SHARE, NULL, read_visit, &rw);
}

/*
 * Read the next batch of lists; false when there are none left.  The batch
 * is a min-heap on the bound: heapifying is linear, and a scan pops only the
 * few candidates its LIMIT needs, where sorting them all would cost more than
 * estimating them did.
 */
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
	so->cand.n = 0;
	for (; so->next_list < end; so->next_list++)
		read_list(so, so->order[so->next_list].v.list);
	if (!so->query_null)
		heap_build(so->cand.items, so->cand.n);
	return true;
}

/* ---------- reranking (RaBitQ) ---------- */

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

/* ---------- range search ---------- */

/*
 * Keep, of the lists ranked (all of them), those that can hold a row within
 * the radius.  A row x is in the list of its nearest centroid, so if it is
 * in list i, |x - c_i| <= |x - c_1| for the centroid c_1 nearest to q: x
 * lies in the half-space of points closer to c_i than to c_1, whose
 * distance from q is (|q - c_i|^2 - |q - c_1|^2) / (2 |c_i - c_1|).  A list
 * whose half-space is farther than the radius holds no row within it.  This
 * holds in the index's own space: unit vectors under cosine (where
 * |q - x|^2 = 2 (1 - cos)), rotated ones under RaBitQ (rotations keep
 * distances).  Under inner product, cells do not bound the distance.
 */
static void
range_lists(IvfScanOpaque so)
{
	IvfShape   *shape = so->info.shape;
	int			cdim = shape->meta.cdim;
	double		r;
	int			first,
				kept = 0;
	const float *c1;
	double		d1;

	if (so->norder <= 1 ||
		(so->info.metric != IVF_METRIC_L2 && so->info.metric != IVF_METRIC_COSINE))
		return;
	if (so->info.metric == IVF_METRIC_L2)
		r = so->range.radius;
	else
		r = so->range.radius < 0 ? -1 : sqrt(2 * so->range.radius);
	if (isinf(r))
		return;

	/* keys are -(|c|^2 - 2 <q, c>): |q - c|^2 less |q|^2, negated */
	first = so->order[0].v.list;
	c1 = shape->centroids + (Size) first * cdim;
	d1 = -so->order[0].key;
	for (int i = 0; i < so->norder; i++)
	{
		int			l = so->order[i].v.list;
		double		gap,
					sep,
					slack;

		if (i > 0)
		{
			const float *ci = shape->centroids + (Size) l * cdim;

			gap = -so->order[i].key - d1;
			sep = (double) shape->cnorms[l] + shape->cnorms[first] -
				2.0 * embed_active_kernels->dot(ci, c1, cdim);
			/* float32 rounding, of the keys and of each row's assignment */
			slack = 1e-3 * (1.0 + fabs(r) + sqrt(Max(shape->cnorms[l], shape->cnorms[first])));
			if (sep > 0 && (gap - 1e-4 * (1.0 + fabs(d1))) / (2.0 * sqrt(sep)) > r + slack)
				continue;
		}
		so->order[kept++] = so->order[i];
	}
	elog(DEBUG1, "ivf range search: %d of %d lists can hold rows within the radius",
		 kept, so->norder);
	so->norder = kept;
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
	if (so->range.present)
	{
		/* every list that can hold a row within the radius, in one batch */
		so->probes = so->max_probes = nlists;
		so->iterative = false;
	}

	so->q = palloc(sizeof(float) * shape->meta.cdim);
	so->resid = palloc(sizeof(float) * shape->meta.cdim);
	if (!so->query_null && !ivf_prepare(&so->info, so->query, shape->meta.dim, so->q))
	{
		/* a zero query under cosine: every distance is NaN, any order will do */
		memset(so->q, 0, sizeof(float) * shape->meta.cdim);
		if (so->range.present)
			so->range.empty = true;
	}
	rank_lists(so, so->max_probes);
	if (so->range.present)
	{
		range_lists(so);
		so->probes = so->norder;
	}
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
	if (so->range.empty)
		return false;

	old = MemoryContextSwitchTo(so->ctx);
	if (!so->started)
	{
		start_scan(so);
		so->started = true;
		if (so->range.empty || !next_batch(so))
			goto done;
	}
	rerank = so->info.kind == IVF_KIND_RABITQ && !so->query_null && scan->heapRelation != NULL;

	for (;;)
	{
		CHECK_FOR_INTERRUPTS();
		if (!rerank)
		{
			if (so->cand.n > 0)
			{
				scan->xs_heaptid = heap_pop(&so->cand).v.tid;
				found = true;
				break;
			}
		}
		else
		{
			/* a reranked row is final once no bound left is below it */
			if (so->reranked.n > 0 &&
				(so->cand.n == 0 || so->reranked.items[0].key <= so->cand.items[0].key))
			{
				scan->xs_heaptid = heap_pop(&so->reranked).v.tid;
				found = true;
				break;
			}
			if (so->cand.n > 0)
			{
				IvfHeapItem c = heap_pop(&so->cand);
				double		d;

				if (exact_distance(scan, so, &c.v.tid, &d) &&
					!(so->range.present && !(d <= so->range_limit)))
					heap_push(&so->reranked, isnan(d) ? INFINITY : d, &c.v.tid);
				continue;
			}
		}
		if (!next_batch(so))
			break;
	}

done:
	MemoryContextSwitchTo(old);
	/* a range's rows are a superset (bounds, slack): the executor rechecks */
	scan->xs_recheck = so->range.present;
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
