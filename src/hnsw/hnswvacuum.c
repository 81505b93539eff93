/*
 * hnswvacuum.c — removing dead heap TIDs and keeping the graph connected.
 *
 * Three passes over the element pages:
 *   1. drop dead heap TIDs; an element left with none is marked deleted
 *      (scans still walk through it but never return it);
 *   2. move the entry point off a deleted element, unlink deleted elements
 *      from every neighbour list, and relink each element that lost links
 *      from its neighbourhood (so recall does not decay with churn);
 *   3. free the deleted elements' space (their line pointers stay, unused,
 *      so other TIDs do not move) and recycle their overflow pages via the
 *      free space map;
 *   4. walk the graph from the entry point and link in every live element
 *      the walk did not reach (hnswconnect.c).
 * Each page change is one generic WAL record under an exclusive lock on that
 * page alone.  A link to a freed slot that a concurrent insert wrote after
 * pass 2 is harmless: readers skip slots that hold no element.
 */
#include "postgres.h"

#include "access/genam.h"
#include "commands/vacuum.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/indexfsm.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "hnswstore.h"

/* a link pass 2 removed: to a deleted element, on one layer */
typedef struct LostLink
{
	ItemPointerData tid;
	int			layer;
} LostLink;

typedef struct RepairItem
{
	ItemPointerData tid;
	int			first;			/* its lost links in VacState.lost */
	int			nlost;
} RepairItem;

typedef struct VacState
{
	IndexVacuumInfo *vinfo;
	HnswIndexInfo info;
	ItemPointerData *deleted;	/* sorted after pass 1 */
	int			ndeleted;
	int			maxdeleted;
	ItemPointerData best;		/* highest live element: entry point fallback */
	int			best_level;
	RepairItem *repair;			/* elements that lost links in pass 2 */
	int			nrepair;
	int			maxrepair;
	LostLink   *lost;			/* the links they lost, repair[i].first.. */
	int			nlost;
	int			maxlost;
} VacState;

static void
push_tid(ItemPointerData **arr, int *n, int *max, ItemPointer tid)
{
	if (*n == *max)
	{
		*max = Max(64, *max * 2);
		*arr = *arr ? repalloc(*arr, sizeof(ItemPointerData) * *max)
			: palloc(sizeof(ItemPointerData) * *max);
	}
	(*arr)[(*n)++] = *tid;
}

static int
tid_cmp(const void *a, const void *b)
{
	return ItemPointerCompare((ItemPointer) a, (ItemPointer) b);
}

static bool
is_deleted(VacState *vs, ItemPointer tid)
{
	return vs->ndeleted > 0 &&
		bsearch(tid, vs->deleted, vs->ndeleted, sizeof(ItemPointerData), tid_cmp) != NULL;
}

static Buffer
read_page(VacState *vs, BlockNumber blk)
{
	Buffer		buf = ReadBufferExtended(vs->info.index, MAIN_FORKNUM, blk, RBM_NORMAL,
										 vs->vinfo->strategy);

	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	return buf;
}

/* One element page, locked exclusively; its WAL record starts at the first change. */
typedef struct PageVisit
{
	VacState   *vs;
	Buffer		buf;
	Page		page;			/* the buffer's page, or its WAL copy once writing */
	PageWrite	w;
	bool		writing;
} PageVisit;

/* The element at off, to be changed: from now on the page's WAL copy. */
static HnswElementTuple
writable_element(PageVisit *pv, OffsetNumber off)
{
	if (!pv->writing)
	{
		hnsw_write_begin(&pv->w, &pv->vs->info);
		pv->page = page_write_page(&pv->w, pv->buf, false);
		pv->writing = true;
	}
	return hnsw_get_element(pv->vs->info.index, pv->page, off, pv->vs->info.m);
}

typedef void (*ElementVisitor) (PageVisit *pv, OffsetNumber off, HnswElementTuple etup,
								void *arg);

/* Call visit for every element, page by page, one page locked at a time. */
static void
for_each_element(VacState *vs, ElementVisitor visit, void *arg)
{
	BlockNumber nblocks = RelationGetNumberOfBlocks(vs->info.index);

	for (BlockNumber blk = HNSW_METAPAGE_BLKNO + 1; blk < nblocks; blk++)
	{
		PageVisit	pv = {0};

		pv.vs = vs;
		pv.buf = read_page(vs, blk);
		pv.page = BufferGetPage(pv.buf);
		hnsw_vacuum_delay();
		if (HnswPageGetOpaque(pv.page)->type == HNSW_PAGE_ELEMENT)
		{
			for (OffsetNumber off = FirstOffsetNumber; off <= PageGetMaxOffsetNumber(pv.page); off++)
			{
				HnswElementTuple etup = hnsw_get_element(vs->info.index, pv.page, off, vs->info.m);

				if (etup != NULL)
					visit(&pv, off, etup, arg);
			}
		}
		if (pv.writing)
			page_write_finish(&pv.w);
		UnlockReleaseBuffer(pv.buf);
	}
}

typedef struct DeadTidsArg
{
	IndexBulkDeleteResult *stats;
	IndexBulkDeleteCallback callback;
	void	   *callback_state;
} DeadTidsArg;

/* Pass 1: dead heap TIDs out; elements with none left are marked deleted. */
static void
remove_dead_tids(PageVisit *pv, OffsetNumber off, HnswElementTuple etup, void *arg)
{
	DeadTidsArg *a = (DeadTidsArg *) arg;
	VacState   *vs = pv->vs;
	ItemPointerData tid;
	bool		dead[HNSW_HEAPTIDS];
	int			keep = 0;
	int			ndead = 0;

	ItemPointerSet(&tid, BufferGetBlockNumber(pv->buf), off);
	if (etup->flags & HNSW_ELEMENT_DELETED)
	{
		push_tid(&vs->deleted, &vs->ndeleted, &vs->maxdeleted, &tid);
		return;
	}
	for (int i = 0; i < etup->ntids; i++)
		if ((dead[i] = a->callback(&etup->heaptids[i], a->callback_state)))
			ndead++;
	if (ndead > 0)
	{
		etup = writable_element(pv, off);
		for (int i = 0; i < etup->ntids; i++)
			if (!dead[i])
				etup->heaptids[keep++] = etup->heaptids[i];
		etup->ntids = keep;
		a->stats->tuples_removed += ndead;
		if (keep == 0)
		{
			etup->flags |= HNSW_ELEMENT_DELETED;
			push_tid(&vs->deleted, &vs->ndeleted, &vs->maxdeleted, &tid);
			return;
		}
	}
	a->stats->num_index_tuples += etup->ntids;
	if (etup->level > vs->best_level)
	{
		vs->best_level = etup->level;
		vs->best = tid;
	}
}

/* Pass 2a: the entry point must be a live element. */
static void
fix_entry_point(VacState *vs)
{
	Buffer		buf = read_page(vs, HNSW_METAPAGE_BLKNO);
	HnswMetaPage meta = HnswPageGetMeta(BufferGetPage(buf));

	if (meta->entry_level >= 0 && is_deleted(vs, &meta->entry))
	{
		PageWrite	w;
		Page		page;

		hnsw_write_begin(&w, &vs->info);
		page = page_write_page(&w, buf, false);
		meta = HnswPageGetMeta(page);
		if (vs->best_level >= 0)
		{
			meta->entry = vs->best;
			meta->entry_level = vs->best_level;
		}
		else
		{
			ItemPointerSetInvalid(&meta->entry);
			meta->entry_level = -1;
		}
		page_write_finish(&w);
	}
	UnlockReleaseBuffer(buf);
}

/* Pass 2b: unlink deleted elements from every neighbour list. */
static void
unlink_deleted(PageVisit *pv, OffsetNumber off, HnswElementTuple etup, void *arg)
{
	VacState   *vs = pv->vs;
	int			m = vs->info.m;
	bool		lost = false;
	RepairItem *ri;

	if (etup->flags & HNSW_ELEMENT_DELETED)
		return;
	for (int l = 0; l <= etup->level && !lost; l++)
	{
		ItemPointer nbrs = HnswNeighbors(etup, m) + hnsw_layer_start(l, m);

		for (int i = 0; i < HnswCounts(etup)[l]; i++)
			if (is_deleted(vs, &nbrs[i]))
				lost = true;
	}
	if (!lost)
		return;

	etup = writable_element(pv, off);
	if (vs->nrepair == vs->maxrepair)
	{
		vs->maxrepair = Max(64, vs->maxrepair * 2);
		vs->repair = vs->repair ? repalloc(vs->repair, sizeof(RepairItem) * vs->maxrepair)
			: palloc(sizeof(RepairItem) * vs->maxrepair);
	}
	ri = &vs->repair[vs->nrepair++];
	ItemPointerSet(&ri->tid, BufferGetBlockNumber(pv->buf), off);
	ri->first = vs->nlost;
	for (int l = 0; l <= etup->level; l++)
	{
		int			start = hnsw_layer_start(l, m);
		ItemPointer nbrs = HnswNeighbors(etup, m) + start;
		float4	   *dists = HnswNeighborDists(etup, m) + start;
		int			keep = 0;

		for (int i = 0; i < HnswCounts(etup)[l]; i++)
		{
			if (!is_deleted(vs, &nbrs[i]))
			{
				nbrs[keep] = nbrs[i];
				dists[keep] = dists[i];
				keep++;
				continue;
			}
			if (vs->nlost == vs->maxlost)
			{
				vs->maxlost = Max(256, vs->maxlost * 2);
				vs->lost = vs->lost ? repalloc(vs->lost, sizeof(LostLink) * vs->maxlost)
					: palloc(sizeof(LostLink) * vs->maxlost);
			}
			vs->lost[vs->nlost].tid = nbrs[i];
			vs->lost[vs->nlost].layer = l;
			vs->nlost++;
		}
		HnswCounts(etup)[l] = keep;
	}
	ri->nlost = vs->nlost - ri->first;
}

/* Add tid to the candidate list unless it is there, deleted, or `self`. */
static void
add_unique(VacState *vs, ItemPointerData *tids, int *n, ItemPointer tid, ItemPointer self)
{
	if (ItemPointerEquals(tid, self) || is_deleted(vs, tid))
		return;
	for (int i = 0; i < *n; i++)
		if (ItemPointerEquals(&tids[i], tid))
			return;
	tids[(*n)++] = *tid;
}

/*
 * Pass 2c: relink an element that lost links.  Its new neighbours on each
 * layer are chosen, with the insert heuristic, among its remaining ones and
 * the neighbours of the deleted elements it was linked to: the graph around
 * a deleted element is repaired locally, reading a few dozen elements
 * instead of searching the whole graph again.  The result is written only if
 * the element's lists did not change meanwhile (a concurrent insert may have
 * linked it); otherwise the new links just fill its free slots.
 */
static void
repair_element(VacState *vs, RepairItem *ri, MemoryContext tmp)
{
	HnswIndexInfo *info = &vs->info;
	int			m = info->m;
	ItemPointer tid = &ri->tid;
	Buffer		buf;
	HnswElementTuple etup;
	Datum		value;
	uint8		form;
	int			level;
	uint16		counts[HNSW_MAX_LEVEL + 1];
	ItemPointerData *lists;
	int			nslots;
	List	   *layers[HNSW_MAX_LEVEL + 1] = {0};
	MemoryContext old = MemoryContextSwitchTo(tmp);

	/* copy the element's value and lists, then work with no lock held */
	buf = ReadBuffer(info->index, ItemPointerGetBlockNumber(tid));
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	etup = hnsw_get_element(info->index, BufferGetPage(buf), ItemPointerGetOffsetNumber(tid), m);
	if (etup == NULL || (etup->flags & HNSW_ELEMENT_DELETED))
	{
		UnlockReleaseBuffer(buf);
		MemoryContextSwitchTo(old);
		MemoryContextReset(tmp);
		return;
	}
	level = etup->level;
	nslots = hnsw_slots(level, m);
	memcpy(counts, HnswCounts(etup), sizeof(uint16) * (level + 1));
	lists = palloc(sizeof(ItemPointerData) * nslots);
	memcpy(lists, HnswNeighbors(etup, m), sizeof(ItemPointerData) * nslots);
	value = hnsw_load_value(info->index, etup, m, true);
	form = etup->flags & HNSW_ELEMENT_FORM;
	UnlockReleaseBuffer(buf);
	value = hnsw_full_value(value, form);

	for (int l = 0; l <= level; l++)
	{
		int			slots = hnsw_layer_slots(l, m);
		int			cap = slots * (ri->nlost + 1);
		ItemPointerData *cand = palloc(sizeof(ItemPointerData) * cap);
		int			n = 0;
		List	   *cands;

		for (int i = 0; i < counts[l]; i++)
			add_unique(vs, cand, &n, &lists[hnsw_layer_start(l, m) + i], tid);
		/* the deleted element is still on disk until pass 3: read its links */
		for (int j = ri->first; j < ri->first + ri->nlost; j++)
		{
			Buffer		dbuf;
			HnswElementTuple dtup;

			if (vs->lost[j].layer != l)
				continue;
			dbuf = ReadBuffer(info->index, ItemPointerGetBlockNumber(&vs->lost[j].tid));
			LockBuffer(dbuf, BUFFER_LOCK_SHARE);
			dtup = hnsw_get_element(info->index, BufferGetPage(dbuf),
									ItemPointerGetOffsetNumber(&vs->lost[j].tid), m);
			if (dtup != NULL && dtup->level >= l)
			{
				ItemPointer dn = HnswNeighbors(dtup, m) + hnsw_layer_start(l, m);

				for (int i = 0; i < HnswCounts(dtup)[l] && n < cap; i++)
					add_unique(vs, cand, &n, &dn[i], tid);
			}
			UnlockReleaseBuffer(dbuf);
		}
		cands = hnsw_load_candidates(info, cand, NULL, n, value);
		list_sort(cands, hnsw_candidate_cmp);
		layers[l] = hnsw_select_neighbors(info, cands, slots, true, NULL);
	}

	/* write: the new lists if nothing changed meanwhile, else fill free slots */
	buf = read_page(vs, ItemPointerGetBlockNumber(tid));
	etup = hnsw_get_element(info->index, BufferGetPage(buf), ItemPointerGetOffsetNumber(tid), m);
	if (etup != NULL && !(etup->flags & HNSW_ELEMENT_DELETED) && etup->level == level)
	{
		bool		unchanged = memcmp(HnswCounts(etup), counts, sizeof(uint16) * (level + 1)) == 0 &&
			memcmp(HnswNeighbors(etup, m), lists, sizeof(ItemPointerData) * nslots) == 0;
		PageWrite	w;
		Page		page;

		hnsw_write_begin(&w, info);
		page = page_write_page(&w, buf, false);
		etup = hnsw_get_element(info->index, page, ItemPointerGetOffsetNumber(tid), m);
		for (int l = 0; l <= level; l++)
		{
			ListCell   *lc;

			if (unchanged)
			{
				hnsw_write_list(etup, m, l, layers[l]);
				continue;
			}
			foreach(lc, layers[l])
			{
				HnswCandidate *c = lfirst(lc);

				if (HnswCounts(etup)[l] < hnsw_layer_slots(l, m))
					hnsw_link(etup, m, l, &c->tid, (float4) c->dist);
			}
		}
		page_write_finish(&w);
	}
	UnlockReleaseBuffer(buf);
	MemoryContextSwitchTo(old);
	MemoryContextReset(tmp);
}

/* Give a freed overflow chain to the free space map. */
static void
recycle_overflow(VacState *vs, BlockNumber blk)
{
	while (blk != InvalidBlockNumber)
	{
		Buffer		buf = read_page(vs, blk);
		Page		page = BufferGetPage(buf);
		BlockNumber next = HnswPageGetOpaque(page)->nextblkno;
		PageWrite	w;

		if (HnswPageGetOpaque(page)->type != HNSW_PAGE_OVERFLOW)
		{
			UnlockReleaseBuffer(buf);
			break;
		}
		hnsw_write_begin(&w, &vs->info);
		page = page_write_page(&w, buf, false);
		HnswPageGetOpaque(page)->type = HNSW_PAGE_FREE;
		HnswPageGetOpaque(page)->nextblkno = InvalidBlockNumber;
		page_write_finish(&w);
		UnlockReleaseBuffer(buf);
		RecordFreeIndexPage(vs->info.index, blk);
		blk = next;
	}
}

static bool
page_has_items(Page page)
{
	for (OffsetNumber off = FirstOffsetNumber; off <= PageGetMaxOffsetNumber(page); off++)
		if (ItemIdIsUsed(PageGetItemId(page, off)))
			return true;
	return false;
}

/* Pass 3: free the deleted elements. */
static void
free_deleted(VacState *vs, IndexBulkDeleteResult *stats)
{
	int			m = vs->info.m;
	BlockNumber hint = InvalidBlockNumber;

	for (int i = 0; i < vs->ndeleted;)
	{
		BlockNumber blk = ItemPointerGetBlockNumber(&vs->deleted[i]);
		Buffer		buf = read_page(vs, blk);
		PageWrite	w;
		Page		page;
		List	   *chains = NIL;
		ListCell   *lc;
		bool		emptied;

		hnsw_vacuum_delay();
		hnsw_write_begin(&w, &vs->info);
		page = page_write_page(&w, buf, false);
		/* the deleted TIDs are sorted: take every one on this page */
		for (; i < vs->ndeleted && ItemPointerGetBlockNumber(&vs->deleted[i]) == blk; i++)
		{
			OffsetNumber off = ItemPointerGetOffsetNumber(&vs->deleted[i]);
			HnswElementTuple etup = hnsw_get_element(vs->info.index, page, off, vs->info.m);

			if (etup == NULL || !(etup->flags & HNSW_ELEMENT_DELETED))
				continue;
			if (etup->flags & HNSW_ELEMENT_OVERFLOW)
			{
				BlockNumber first;

				memcpy(&first, HnswValuePtr(etup, m), sizeof(BlockNumber));
				chains = lappend_int(chains, (int) first);
			}
			PageIndexTupleDeleteNoCompact(page, off);
		}

		/*
		 * A page left without elements becomes a free page, for any use
		 * (large elements fill a page each).  Links still pointing here
		 * find no element, which readers treat as absent.
		 */
		emptied = !page_has_items(page);
		if (emptied)
			hnsw_init_page(page, HNSW_PAGE_FREE);
		page_write_finish(&w);
		UnlockReleaseBuffer(buf);
		if (emptied)
			RecordFreeIndexPage(vs->info.index, blk);
		else if (hint == InvalidBlockNumber)
			hint = blk;
		foreach(lc, chains)
			recycle_overflow(vs, (BlockNumber) lfirst_int(lc));
	}

	/* let inserts fill the holes first */
	if (hint != InvalidBlockNumber)
	{
		Buffer		buf = read_page(vs, HNSW_METAPAGE_BLKNO);
		PageWrite	w;
		Page		page;

		hnsw_write_begin(&w, &vs->info);
		page = page_write_page(&w, buf, false);
		HnswPageGetMeta(page)->insert_page = hint;
		page_write_finish(&w);
		UnlockReleaseBuffer(buf);
	}
	IndexFreeSpaceMapVacuum(vs->info.index);
}

IndexBulkDeleteResult *
hnswbulkdelete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
			   IndexBulkDeleteCallback callback, void *callback_state)
{
	VacState	vs;
	DeadTidsArg dargs;
	MemoryContext tmp;

	if (stats == NULL)
		stats = palloc0(sizeof(IndexBulkDeleteResult));
	memset(&vs, 0, sizeof(vs));
	vs.vinfo = info;
	vs.best_level = -1;
	hnsw_index_info(&vs.info, info->index, false);
	vs.info.store = hnsw_disk_store(&vs.info);

	dargs.stats = stats;
	dargs.callback = callback;
	dargs.callback_state = callback_state;
	for_each_element(&vs, remove_dead_tids, &dargs);
	if (vs.ndeleted == 0)
	{
		/* nothing to unlink, but inserts since the build may have cut some off */
		hnsw_connect(&vs.info);
		return stats;
	}
	qsort(vs.deleted, vs.ndeleted, sizeof(ItemPointerData), tid_cmp);

	fix_entry_point(&vs);
	for_each_element(&vs, unlink_deleted, NULL);
	tmp = AllocSetContextCreate(CurrentMemoryContext, "hnsw repair", ALLOCSET_DEFAULT_SIZES);
	for (int i = 0; i < vs.nrepair; i++)
	{
		hnsw_vacuum_delay();
		repair_element(&vs, &vs.repair[i], tmp);
	}
	MemoryContextDelete(tmp);
	free_deleted(&vs, stats);
	/* pass 4: link in every live element no search from the entry point reaches */
	hnsw_connect(&vs.info);
	return stats;
}

/*
 * amvacuumcleanup: a VACUUM that had nothing to remove from this index
 * (no bulkdelete ran) still links in what inserts since the last one left
 * unreachable.
 */
IndexBulkDeleteResult *
hnswvacuumcleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats)
{
	if (!info->analyze_only && stats == NULL)
	{
		HnswIndexInfo hinfo;

		hnsw_index_info(&hinfo, info->index, false);
		hinfo.store = hnsw_disk_store(&hinfo);
		hnsw_connect(&hinfo);
	}
	return embed_vacuumcleanup(info, stats);
}
