/*
 * hnswscan.c — ORDER BY column <op> value, approximately, through the graph.
 *
 * The first amgettuple descends the upper layers greedily and searches
 * layer 0 with ef = hnsw.ef_search; heap TIDs are then returned closest
 * first.  Without iterative scans at most ef_search elements are returned.
 * With hnsw.iterative_scan the search resumes with a larger ef whenever those
 * run out (a WHERE clause may have rejected them), until hnsw.max_scan_tuples
 * elements have been read or the memory budget is spent; strict_order drops
 * results that would come out of distance order, relaxed_order keeps them.
 *
 * A range search (`col <<->> vector_ball(q, r)` as a scan key, range.c)
 * instead expands every element within r that the search reaches, however
 * many, then returns them closest first and ends at the first one farther
 * than r: no ef_search cap, no iterative rounds.
 */
#include "postgres.h"

#include "access/relscan.h"
#include "access/htup_details.h"
#include "utils/float.h"
#include "miscadmin.h"
#include "utils/memutils.h"

#include "hnswstore.h"
#include "../range.h"
#include "../vector.h"

typedef struct HnswScanOpaqueData
{
	HnswIndexInfo info;
	MemoryContext ctx;			/* reset by rescan */
	HnswSearch *search;
	bool		started;
	Datum		query;
	bool		query_null;
	int			ef;
	int			nreturned;		/* elements returned */
	bool		draining;		/* iterative scan: reads no more, returns the rest */
	double		last_dist;
	HnswCandidate *cur;			/* element whose heap TIDs are being returned */
	int			cur_tid;
	/* ORDER BY col <op> NULL: every row, in index order */
	BlockNumber null_blk;
	ItemPointerData *null_tids;
	int			null_n;
	int			null_next;
	/* range search */
	EmbedRange	range;
	double		range_limit;	/* the radius in internal units, with slack */
	bool		orderby_null;	/* ORDER BY col <op> NULL with a range */
} HnswScanOpaqueData;

typedef HnswScanOpaqueData *HnswScanOpaque;

IndexScanDesc
hnswbeginscan(Relation index, int nkeys, int norderbys)
{
	IndexScanDesc scan = RelationGetIndexScan(index, nkeys, norderbys);
	HnswScanOpaque so = palloc0(sizeof(HnswScanOpaqueData));

	hnsw_index_info(&so->info, index, false);
	so->info.store = hnsw_disk_store(&so->info);
	so->ctx = AllocSetContextCreate(CurrentMemoryContext, "hnsw scan", ALLOCSET_DEFAULT_SIZES);
	/* the AM provides the ORDER BY values (see hnswgettuple) */
	if (norderbys > 0)
	{
		scan->xs_orderbyvals = palloc0(sizeof(Datum) * norderbys);
		scan->xs_orderbynulls = palloc(sizeof(bool) * norderbys);
		memset(scan->xs_orderbynulls, true, sizeof(bool) * norderbys);
	}
	scan->opaque = so;
	return scan;
}

void
hnswrescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys, int norderbys)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;

	MemoryContextReset(so->ctx);
	so->search = NULL;
	so->started = false;
	so->nreturned = 0;
	so->draining = false;
	so->last_dist = -get_float8_infinity();
	so->cur = NULL;
	so->cur_tid = 0;
	so->null_blk = HNSW_METAPAGE_BLKNO + 1;
	so->null_tids = NULL;
	so->null_n = so->null_next = 0;
	so->query_null = !embed_rescan_keys(scan, keys, orderbys, so->ctx, &so->query);
	so->orderby_null = false;

	embed_range_from_keys(scan, so->ctx, &so->range);
	if (so->range.present && !so->range.empty)
	{
		if (so->info.oc.type == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("range search needs an index whose distance is one of embed's")));
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
	}
}

/* memory the search may use: work_mem times hnsw.scan_mem_multiplier (its pooled blocks too) */
static bool
over_memory(HnswScanOpaque so)
{
	double		limit = (double) work_mem * 1024.0 * hnsw_scan_mem_multiplier;

	return (double) MemoryContextMemAllocated(so->ctx, true) +
		(so->search ? hnsw_search_pooled(so->search) : 0) > limit;
}

static void
start_search(HnswScanOpaque so)
{
	List	   *ep;
	int			entry_level;

	so->search = hnsw_search_begin(&so->info, hnsw_as_vector(&so->info, so->query), false);
	ep = hnsw_search_entry(so->search, &entry_level);
	for (int l = entry_level; l > 0 && ep != NIL; l--)
		ep = hnsw_search_layer(so->search, ep, 1, l);
	if (so->range.present)
		hnsw_search_set_radius(so->search, so->range_limit);
	hnsw_search_start_layer0(so->search, ep);
	so->ef = hnsw_ef_search;
	hnsw_search_more(so->search, so->ef, 0);

	/*
	 * Range search: the elements within r need not be linked to each other
	 * (a thin ball in many dimensions), so a beam of ef elements beyond r
	 * goes on searching around it.  Double that beam until it is at least
	 * twice as wide as the rows found within r and a round found no more.
	 */
	if (so->range.present)
	{
		int64		within = -1;

		while (!hnsw_search_done(so->search) &&
			   (hnsw_search_within(so->search) != within ||
				so->ef < 2 * hnsw_search_within(so->search)))
		{
			CHECK_FOR_INTERRUPTS();
			within = hnsw_search_within(so->search);
			so->ef *= 2;
			hnsw_search_more(so->search, so->ef, 0);
		}
	}
}

/*
 * The next element to return, or NULL at the end of the scan.
 *
 * Elements come out of the search's found heap, which can hold more than ef
 * (an entry point or an early neighbour stays there after closer elements
 * push it out of the ef closest), so only ef of them are taken per round:
 * the rest may be beaten by what a larger ef finds.  Once an iterative scan
 * can read no more (nothing left to expand, or a limit reached), it drains
 * everything it has read, closest first: a 3-row table scanned with
 * ef_search = 1 returns all 3 rows.
 */
static HnswCandidate *
next_element(HnswScanOpaque so)
{
	/* range search: everything within the radius was read by start_search */
	while (so->range.present)
	{
		HnswCandidate *c = hnsw_search_next(so->search);

		CHECK_FOR_INTERRUPTS();
		if (c == NULL || !(c->dist <= so->range_limit))
			return NULL;
		if (!c->deleted && c->ntids > 0)
			return c;
	}

	for (;;)
	{
		HnswCandidate *c = NULL;

		CHECK_FOR_INTERRUPTS();
		if (so->draining || so->nreturned < so->ef)
			c = hnsw_search_next(so->search);
		if (c == NULL)
		{
			if (hnsw_iterative_scan == HNSW_ITERATIVE_OFF || so->draining)
				return NULL;
			if (hnsw_search_done(so->search) ||
				hnsw_search_visited(so->search) >= hnsw_max_scan_tuples ||
				over_memory(so))
			{
				hnsw_search_release_all(so->search);
				so->draining = true;
				continue;
			}

			/*
			 * The ef closest are out.  An iterative scan doubles ef and goes
			 * on: that reads further and also releases elements read before
			 * but left outside the smaller ef.
			 */
			so->ef *= 2;
			hnsw_search_more(so->search, so->ef, hnsw_max_scan_tuples);
			continue;
		}
		so->nreturned++;
		if (c->deleted || c->ntids == 0)
			continue;
		if (hnsw_iterative_scan == HNSW_ITERATIVE_STRICT && c->dist < so->last_dist)
			continue;
		so->last_dist = Max(so->last_dist, c->dist);
		return c;
	}
}

/*
 * With a NULL query every distance is NULL, so any order is right: return
 * every live row, page by page, as a sequential scan would.
 */
static bool
next_null_tid(IndexScanDesc scan, HnswScanOpaque so)
{
	Relation	index = scan->indexRelation;

	while (so->null_next >= so->null_n)
	{
		Buffer		buf;
		Page		page;

		if (so->null_blk >= RelationGetNumberOfBlocks(index))
			return false;
		buf = ReadBuffer(index, so->null_blk++);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		so->null_n = so->null_next = 0;
		if (HnswPageGetOpaque(page)->type == HNSW_PAGE_ELEMENT)
		{
			/* a page holds fewer elements than heap tuples */
			if (so->null_tids == NULL)
				so->null_tids = MemoryContextAlloc(so->ctx, sizeof(ItemPointerData) *
												   MaxHeapTuplesPerPage * HNSW_HEAPTIDS);
			for (OffsetNumber off = FirstOffsetNumber; off <= PageGetMaxOffsetNumber(page); off++)
			{
				HnswElementTuple etup = hnsw_get_element(index, page, off, so->info.m);

				if (etup == NULL || (etup->flags & HNSW_ELEMENT_DELETED))
					continue;
				for (int i = 0; i < etup->ntids; i++)
					so->null_tids[so->null_n++] = etup->heaptids[i];
			}
		}
		UnlockReleaseBuffer(buf);
	}
	scan->xs_heaptid = so->null_tids[so->null_next++];
	scan->xs_recheck = false;
	scan->xs_recheckorderby = false;
	return true;
}

bool
hnswgettuple(IndexScanDesc scan, ScanDirection dir)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;
	MemoryContext old;

	if (!ScanDirectionIsForward(dir))
		elog(ERROR, "hnsw index scans only go forward");
	if (so->range.empty)
		return false;
	if (so->query_null)
		return next_null_tid(scan, so);

	old = MemoryContextSwitchTo(so->ctx);
	if (!so->started)
	{
		start_search(so);
		so->started = true;
	}
	while (so->cur == NULL || so->cur_tid >= so->cur->ntids)
	{
		so->cur = next_element(so);
		so->cur_tid = 0;
		if (so->cur == NULL)
		{
			MemoryContextSwitchTo(old);
			return false;
		}
	}
	MemoryContextSwitchTo(old);

	scan->xs_heaptid = so->cur->heaptids[so->cur_tid++];
	/* a range's rows are a superset (bounds, slack): the executor rechecks */
	scan->xs_recheck = so->range.present;
	if (so->orderby_null)
	{
		scan->xs_recheckorderby = false;
		return true;
	}

	/*
	 * A distance to a half-precision value is a lower bound: the executor
	 * recomputes it from the heap row and reorders (as for GiST's lossy
	 * distances), so rows still come out in exact distance order.  Values
	 * that half precision holds exactly, and full ones, need no recheck.
	 */
	if (so->info.oc.type != NULL && scan->numberOfOrderBys > 0)
	{
		scan->xs_orderbyvals[0] = Float8GetDatum(hnsw_order_value(&so->info, so->cur->dist));
		scan->xs_orderbynulls[0] = false;
	}
	scan->xs_recheckorderby = so->cur->recheck;
	return true;
}

void
hnswendscan(IndexScanDesc scan)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;

	MemoryContextDelete(so->ctx);
	pfree(so);
	scan->opaque = NULL;
}
