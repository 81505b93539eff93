/*
 * hnswinsert.c — adding one value to the graph (used by CREATE INDEX too).
 */
#include "postgres.h"

#include <math.h>

#include "nodes/execnodes.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "hnsw.h"

/*
 * HNSW's neighbour-selection heuristic: take candidates closest first, and
 * keep one only if it is closer to the new element than to every neighbour
 * already kept, which spreads links over directions and keeps the graph
 * navigable.  With keep_pruned, remaining slots are filled with the closest
 * pruned candidates (a new element's own links: more ways out of it).
 */
List *
hnsw_select_neighbors(HnswIndexInfo *info, List *cands, int max, bool keep_pruned)
{
	List	   *kept = NIL;
	List	   *pruned = NIL;
	ListCell   *lc;

	foreach(lc, cands)
	{
		HnswCandidate *e = lfirst(lc);
		bool		good = true;
		ListCell   *lc2;

		if (list_length(kept) >= max)
			break;
		if (e->deleted)
			continue;
		foreach(lc2, kept)
		{
			HnswCandidate *r = lfirst(lc2);

			if (hnsw_distance(info, hnsw_candidate_full(e), hnsw_candidate_full(r)) < e->dist)
			{
				good = false;
				break;
			}
		}
		if (good)
			kept = lappend(kept, e);
		else
			pruned = lappend(pruned, e);
	}
	foreach(lc, pruned)
	{
		if (!keep_pruned || list_length(kept) >= max)
			break;
		kept = lappend(kept, lfirst(lc));
	}
	return kept;
}

/* Write a large value to a chain of fresh overflow pages; returns the first. */
static BlockNumber
write_overflow(HnswIndexInfo *info, const char *data, Size len)
{
	int			npages = (len + HNSW_OVERFLOW_CHUNK - 1) / HNSW_OVERFLOW_CHUNK;
	Buffer	   *bufs = palloc(sizeof(Buffer) * npages);
	BlockNumber first;

	/* new pages are unreachable until the element points at them */
	for (int i = 0; i < npages; i++)
		bufs[i] = hnsw_new_buffer(info->index, MAIN_FORKNUM);
	first = BufferGetBlockNumber(bufs[0]);
	for (int i = 0; i < npages; i++)
	{
		PageWrite	w;
		Page		page;
		Size		chunk = Min(len - (Size) i * HNSW_OVERFLOW_CHUNK, HNSW_OVERFLOW_CHUNK);

		hnsw_write_begin(&w, info);
		page = page_write_page(&w, bufs[i], true);
		hnsw_init_page(page, HNSW_PAGE_OVERFLOW);
		memcpy(PageGetContents(page), data + (Size) i * HNSW_OVERFLOW_CHUNK, chunk);
		((PageHeader) page)->pd_lower = SizeOfPageHeaderData + chunk;
		HnswPageGetOpaque(page)->nextblkno =
			(i + 1 < npages) ? BufferGetBlockNumber(bufs[i + 1]) : InvalidBlockNumber;
		page_write_finish(&w);
		UnlockReleaseBuffer(bufs[i]);
	}
	return first;
}

/*
 * Build the element tuple.  A value too large for an element page is stored
 * on overflow pages: *overflow says so, and the caller fills in the first
 * overflow block once it has one.
 */
static HnswElementTuple
form_element(HnswIndexInfo *info, Datum value, uint8 form, ItemPointer heaptid, int level,
			 List **layers, Size *size, bool *overflow)
{
	int			m = info->m;
	Size		vecsize = VARSIZE_ANY(DatumGetPointer(value));
	Size		hdr = hnsw_tuple_header_size(level, m);
	HnswElementTuple etup;
	ItemPointer nbrs;
	float4	   *dists;

	*overflow = hdr + MAXALIGN(vecsize) > HNSW_MAX_ELEMENT_SIZE;
	*size = hdr + (*overflow ? MAXALIGN(sizeof(BlockNumber)) : MAXALIGN(vecsize));
	etup = palloc0(*size);
	etup->level = level;
	etup->ntids = 1;
	etup->vecsize = vecsize;
	etup->heaptids[0] = *heaptid;
	nbrs = HnswNeighbors(etup, m);
	dists = HnswNeighborDists(etup, m);
	for (int l = 0; l <= level; l++)
	{
		int			start = hnsw_layer_start(l, m);
		ListCell   *lc;

		foreach(lc, layers[l])
		{
			HnswCandidate *c = lfirst(lc);
			int			i = HnswCounts(etup)[l]++;

			nbrs[start + i] = c->tid;
			dists[start + i] = (float4) c->dist;
		}
	}
	etup->flags |= form;
	if (*overflow)
		etup->flags |= HNSW_ELEMENT_OVERFLOW;
	else
		memcpy(HnswValuePtr(etup, m), DatumGetPointer(value), vecsize);
	return etup;
}

/*
 * Put the tuple on the insert page or on a new page; *tid receives its place.
 * `metabuf` is the metapage if the caller holds it exclusively, else
 * InvalidBuffer (the metapage is then locked alone, never with a data page).
 */
static void
place_element(HnswIndexInfo *info, HnswElementTuple etup, Size size, bool overflow,
			  Datum value, ItemPointer tid, Buffer metabuf)
{
	Relation	index = info->index;
	BlockNumber hint;
	Buffer		buf = InvalidBuffer;
	PageWrite	w;
	Page		page;
	OffsetNumber off;
	bool		extended = false;

	if (info->mem != NULL)
	{
		if (hnsw_mem_add(info->mem, etup, size, value, tid))
			return;
		/* the graph is full: it goes to disk, and so does this element */
		hnsw_mem_overflow(info);
	}
	if (overflow)
	{
		BlockNumber first = write_overflow(info, DatumGetPointer(value),
										   VARSIZE_ANY(DatumGetPointer(value)));

		memcpy(HnswValuePtr(etup, info->m), &first, sizeof(BlockNumber));
	}

	if (BufferIsValid(metabuf))
		hint = HnswPageGetMeta(BufferGetPage(metabuf))->insert_page;
	else
	{
		HnswMetaPageData meta;

		hnsw_read_meta(index, &meta);
		hint = meta.insert_page;
	}
	if (hint != InvalidBlockNumber)
	{
		buf = ReadBuffer(index, hint);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		if (HnswPageGetOpaque(BufferGetPage(buf))->type != HNSW_PAGE_ELEMENT ||
			PageGetFreeSpace(BufferGetPage(buf)) < size)
		{
			UnlockReleaseBuffer(buf);
			buf = InvalidBuffer;
		}
	}
	if (!BufferIsValid(buf))
	{
		buf = hnsw_new_buffer(index, MAIN_FORKNUM);
		extended = true;
	}

	hnsw_write_begin(&w, info);
	page = page_write_page(&w, buf, extended);
	if (extended)
		hnsw_init_page(page, HNSW_PAGE_ELEMENT);
	off = PageAddItem(page, (Item) etup, size, InvalidOffsetNumber, false, false);
	if (off == InvalidOffsetNumber)
		elog(ERROR, "failed to add element to hnsw index \"%s\"", RelationGetRelationName(index));
	page_write_finish(&w);
	ItemPointerSet(tid, BufferGetBlockNumber(buf), off);
	UnlockReleaseBuffer(buf);

	/* point later inserts at the new page */
	if (extended)
	{
		Buffer		mbuf = metabuf;

		if (!BufferIsValid(metabuf))
		{
			mbuf = ReadBuffer(index, HNSW_METAPAGE_BLKNO);
			LockBuffer(mbuf, BUFFER_LOCK_EXCLUSIVE);
		}
		hnsw_write_begin(&w, info);
		page = page_write_page(&w, mbuf, false);
		HnswPageGetMeta(page)->insert_page = ItemPointerGetBlockNumber(tid);
		page_write_finish(&w);
		if (!BufferIsValid(metabuf))
			UnlockReleaseBuffer(mbuf);
	}
}

/*
 * Link `etup` to `newtid` on one layer: append if the list has room, else
 * replace the farthest neighbour if the new one is closer.  The stored
 * distances make this a one-element change.  Returns whether it changed.
 */
bool
hnsw_link(HnswElementTuple etup, int m, int layer, ItemPointer newtid, float4 dist)
{
	int			start = hnsw_layer_start(layer, m);
	int			count = HnswCounts(etup)[layer];
	ItemPointer nbrs = HnswNeighbors(etup, m) + start;
	float4	   *dists = HnswNeighborDists(etup, m) + start;
	int			target;

	if (etup->level < layer)
		return false;
	for (int i = 0; i < count; i++)
		if (ItemPointerEquals(&nbrs[i], newtid))
			return false;
	if (count < hnsw_layer_slots(layer, m))
		target = HnswCounts(etup)[layer]++;
	else
	{
		target = 0;
		for (int i = 1; i < count; i++)
			if (dists[i] > dists[target])
				target = i;
		if (!(dist < dists[target]))
			return false;
	}
	nbrs[target] = *newtid;
	dists[target] = dist;
	return true;
}

/*
 * Candidates for a neighbour list: the elements at `tids`, with their values
 * and their distances to the list's owner (`dists`, or computed from `from`
 * when dists is NULL).  Elements that are gone are left out.  Disk: each
 * read under its own share lock and copied; memory: in place.
 */
List *
hnsw_load_candidates(HnswIndexInfo *info, ItemPointer tids, float4 *dists, int n, Datum from)
{
	List	   *cands = NIL;

	for (int i = 0; i < n; i++)
	{
		HnswCandidate *c = palloc0(sizeof(HnswCandidate));
		HnswElementTuple etup;

		c->tid = tids[i];
		if (info->mem != NULL)
		{
			etup = hnsw_mem_element(info->mem, &tids[i], &c->value);
			if (etup == NULL)
				continue;
			c->deleted = (etup->flags & HNSW_ELEMENT_DELETED) != 0;
			c->form = etup->flags & HNSW_ELEMENT_FORM;
		}
		else
		{
			Buffer		buf = ReadBuffer(info->index, ItemPointerGetBlockNumber(&tids[i]));

			LockBuffer(buf, BUFFER_LOCK_SHARE);
			etup = hnsw_get_element(info->index, BufferGetPage(buf),
									ItemPointerGetOffsetNumber(&tids[i]), info->m);
			if (etup == NULL)
			{
				UnlockReleaseBuffer(buf);
				continue;
			}
			/*
			 * etup points into the buffer: everything is copied out of it
			 * before the pin goes (once unpinned, the buffer may hold
			 * another page at any moment).
			 */
			c->value = hnsw_load_value(info->index, etup, info->m, true);
			c->deleted = (etup->flags & HNSW_ELEMENT_DELETED) != 0;
			c->form = etup->flags & HNSW_ELEMENT_FORM;
			UnlockReleaseBuffer(buf);
		}
		c->dist = dists ? dists[i] : hnsw_distance(info, from, hnsw_candidate_full(c));
		cands = lappend(cands, c);
	}
	return cands;
}

int
hnsw_candidate_cmp(const ListCell *a, const ListCell *b)
{
	double		da = ((HnswCandidate *) lfirst(a))->dist;
	double		db = ((HnswCandidate *) lfirst(b))->dist;

	return (da > db) - (da < db);
}

/*
 * The new list for a full neighbour list that the new element wants to join:
 * the selection heuristic over the old links plus the new one.  Unlike
 * "replace the farthest", this lets a far but lonely element in and drops a
 * redundant link instead, which keeps outliers reachable.  Returns NIL if the
 * new element is not selected (nothing to change).
 */
static List *
reselect(HnswIndexInfo *info, ItemPointer nbrs, float4 *dists, int n, int slots,
		 HnswCandidate *newc)
{
	List	   *cands = hnsw_load_candidates(info, nbrs, dists, n, (Datum) 0);
	List	   *sel;
	ListCell   *lc;

	cands = lappend(cands, newc);
	list_sort(cands, hnsw_candidate_cmp);
	sel = hnsw_select_neighbors(info, cands, slots, false);
	foreach(lc, sel)
		if (lfirst(lc) == newc)
			return sel;
	return NIL;
}

void
hnsw_write_list(HnswElementTuple etup, int m, int layer, List *sel)
{
	int			start = hnsw_layer_start(layer, m);
	ItemPointer nbrs = HnswNeighbors(etup, m) + start;
	float4	   *dists = HnswNeighborDists(etup, m) + start;
	int			i = 0;
	ListCell   *lc;

	foreach(lc, sel)
	{
		HnswCandidate *c = lfirst(lc);

		nbrs[i] = c->tid;
		dists[i] = (float4) c->dist;
		i++;
	}
	HnswCounts(etup)[layer] = i;
}

/*
 * Link neighbour `nbr` back to the new element on one layer.  If its list
 * is full, re-select it with the heuristic.  On disk the list is read, the
 * candidates' values loaded with no lock held on the neighbour's page, and
 * the result written only if the list did not change meanwhile (else the
 * simple rule of hnsw_link applies): a page is never locked while another
 * is, so concurrent inserts cannot deadlock.
 */
static void
add_backlink(HnswIndexInfo *info, HnswCandidate *nbr, int layer, ItemPointer newtid,
			 Datum newvalue)
{
	int			m = info->m;
	int			start = hnsw_layer_start(layer, m);
	int			slots = hnsw_layer_slots(layer, m);
	HnswCandidate *newc = palloc0(sizeof(HnswCandidate));
	Buffer		buf;
	HnswElementTuple etup;
	PageWrite	w;
	Page		page;
	ItemPointerData oldnbrs[2 * HNSW_MAX_M];
	float4		olddists[2 * HNSW_MAX_M];
	int			n;
	List	   *sel;

	newc->tid = *newtid;
	newc->dist = nbr->dist;
	newc->value = newvalue;

	if (info->mem != NULL)
	{
		Datum		value;

		/* as on disk below, with the element's lock for the page's */
		etup = hnsw_mem_element(info->mem, &nbr->tid, &value);
		if (etup == NULL || etup->level < layer)
			return;
		hnsw_mem_lock(info->mem, &nbr->tid, true);
		n = HnswCounts(etup)[layer];
		if (n < slots)
		{
			hnsw_link(etup, m, layer, newtid, (float4) nbr->dist);
			hnsw_mem_unlock(info->mem, &nbr->tid);
			return;
		}
		memcpy(oldnbrs, HnswNeighbors(etup, m) + start, sizeof(ItemPointerData) * n);
		memcpy(olddists, HnswNeighborDists(etup, m) + start, sizeof(float4) * n);
		hnsw_mem_unlock(info->mem, &nbr->tid);

		if ((sel = reselect(info, oldnbrs, olddists, n, slots, newc)) == NIL)
			return;
		hnsw_mem_lock(info->mem, &nbr->tid, true);
		if (HnswCounts(etup)[layer] == n &&
			memcmp(HnswNeighbors(etup, m) + start, oldnbrs, sizeof(ItemPointerData) * n) == 0)
			hnsw_write_list(etup, m, layer, sel);
		else
			hnsw_link(etup, m, layer, newtid, (float4) nbr->dist);
		hnsw_mem_unlock(info->mem, &nbr->tid);
		return;
	}

	/* look at the list first */
	buf = ReadBuffer(info->index, ItemPointerGetBlockNumber(&nbr->tid));
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	etup = hnsw_get_element(info->index, BufferGetPage(buf), ItemPointerGetOffsetNumber(&nbr->tid), info->m);
	if (etup == NULL || etup->level < layer)
	{
		UnlockReleaseBuffer(buf);
		return;
	}
	n = HnswCounts(etup)[layer];
	memcpy(oldnbrs, HnswNeighbors(etup, m) + start, sizeof(ItemPointerData) * n);
	memcpy(olddists, HnswNeighborDists(etup, m) + start, sizeof(float4) * n);
	LockBuffer(buf, BUFFER_LOCK_UNLOCK);

	sel = (n < slots) ? NIL : reselect(info, oldnbrs, olddists, n, slots, newc);
	if (n >= slots && sel == NIL)
	{
		ReleaseBuffer(buf);
		return;
	}

	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	hnsw_write_begin(&w, info);
	page = page_write_page(&w, buf, false);
	etup = hnsw_get_element(info->index, page, ItemPointerGetOffsetNumber(&nbr->tid), info->m);
	if (etup == NULL)
		page_write_abort(&w);
	else if (sel != NIL && etup->level >= layer && HnswCounts(etup)[layer] == n &&
			 memcmp(HnswNeighbors(etup, m) + start, oldnbrs, sizeof(ItemPointerData) * n) == 0)
	{
		hnsw_write_list(etup, m, layer, sel);
		page_write_finish(&w);
	}
	else if (hnsw_link(etup, m, layer, newtid, (float4) nbr->dist))
		page_write_finish(&w);
	else
		page_write_abort(&w);
	UnlockReleaseBuffer(buf);
}

/*
 * An element with the very same value exists: share it by adding our heap
 * TID if it has room.  Identical vectors then cost one element.
 */
static bool
add_heaptid(HnswIndexInfo *info, HnswCandidate *c, ItemPointer heaptid)
{
	Buffer		buf;
	HnswElementTuple etup;
	bool		done = false;

	if (info->mem != NULL)
	{
		Datum		value;

		etup = hnsw_mem_element(info->mem, &c->tid, &value);
		if (etup == NULL)
			return false;
		hnsw_mem_lock(info->mem, &c->tid, true);
		if (etup->ntids < HNSW_HEAPTIDS)
		{
			etup->heaptids[etup->ntids++] = *heaptid;
			done = true;
		}
		hnsw_mem_unlock(info->mem, &c->tid);
		return done;
	}

	buf = ReadBuffer(info->index, ItemPointerGetBlockNumber(&c->tid));
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	etup = hnsw_get_element(info->index, BufferGetPage(buf), ItemPointerGetOffsetNumber(&c->tid), info->m);
	if (etup != NULL && !(etup->flags & HNSW_ELEMENT_DELETED) && etup->ntids < HNSW_HEAPTIDS)
	{
		PageWrite	w;
		Page		page;

		hnsw_write_begin(&w, info);
		page = page_write_page(&w, buf, false);
		etup = hnsw_get_element(info->index, page, ItemPointerGetOffsetNumber(&c->tid), info->m);
		etup->heaptids[etup->ntids++] = *heaptid;
		page_write_finish(&w);
		done = true;
	}
	UnlockReleaseBuffer(buf);
	return done;
}

/* Make the new element the entry point if it is above the current one. */
static void
maybe_set_entry(HnswIndexInfo *info, ItemPointer tid, int level)
{
	Buffer		buf;
	HnswMetaPage meta;

	if (info->mem != NULL)
	{
		hnsw_mem_set_entry(info->mem, tid, level);
		return;
	}

	buf = ReadBuffer(info->index, HNSW_METAPAGE_BLKNO);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	meta = HnswPageGetMeta(BufferGetPage(buf));
	if (level > meta->entry_level)
	{
		PageWrite	w;
		Page		page;

		hnsw_write_begin(&w, info);
		page = page_write_page(&w, buf, false);
		HnswPageGetMeta(page)->entry = *tid;
		HnswPageGetMeta(page)->entry_level = level;
		page_write_finish(&w);
	}
	UnlockReleaseBuffer(buf);
}

/*
 * Same stored bytes.  Two vectors with the same half-precision code and the
 * same error may share an element: the lower bounds hold for both.  (Byte
 * values are exact: the same bytes are the same vector.)
 */
static bool
same_value(HnswCandidate *c, Datum stored, uint8 form)
{
	Size		la = VARSIZE_ANY(DatumGetPointer(stored));

	return c->form == form && la == VARSIZE_ANY(DatumGetPointer(c->value)) &&
		memcmp(DatumGetPointer(c->value), DatumGetPointer(stored), la) == 0;
}

/* Give up the new-top turn (a build graph written out meanwhile dropped it already). */
static void
end_top(HnswIndexInfo *info, bool top, HnswMemGraph *topmem)
{
	if (!top)
		return;
	if (topmem != NULL)
		hnsw_mem_end_first(topmem);
	else
		UnlockPage(info->index, HNSW_METAPAGE_BLKNO, ExclusiveLock);
}

/*
 * Insert one (already detoasted) value.  Returns false if the opclass says
 * it is not indexable (a zero vector under cosine).
 */
bool
hnsw_insert_value(HnswIndexInfo *info, Datum value, ItemPointer heaptid)
{
	int			m = info->m;
	int			level;
	int			entry_level;
	HnswSearch *s;
	List	   *ep;
	List	   *layers[HNSW_MAX_LEVEL + 1] = {0};
	HnswElementTuple etup;
	Size		size;
	bool		overflow;
	ItemPointerData newtid;
	Datum		stored;
	uint8		form;
	bool		top = false;	/* holding the new-top turn */
	HnswMemGraph *topmem = NULL;	/* in the build graph's lock, not the index's */

	if (info->normproc != NULL &&
		DatumGetFloat8(FunctionCall1Coll(info->normproc, info->collation, value)) == 0)
		return false;
	stored = hnsw_stored_form(info, value, &form);

	level = hnsw_random_level(m);
	s = hnsw_search_begin(info, value, true);
	ep = hnsw_search_entry(s, &entry_level);

	if (ep == NIL && info->mem != NULL)
	{
		HnswMemGraph *g = info->mem;

		/* the first element: serialize against other first inserts (parallel builds) */
		if (hnsw_mem_begin_first(g))
		{
			etup = form_element(info, stored, form, heaptid, level, layers, &size, &overflow);
			place_element(info, etup, size, overflow, stored, &newtid, InvalidBuffer);
			maybe_set_entry(info, &newtid, level);
			hnsw_mem_end_first(g);
			return true;
		}
		ep = hnsw_search_entry(s, &entry_level);
	}
	if (ep == NIL)
	{
		/* the first element: serialize against other first inserts */
		Buffer		mbuf = ReadBuffer(info->index, HNSW_METAPAGE_BLKNO);

		LockBuffer(mbuf, BUFFER_LOCK_EXCLUSIVE);
		if (HnswPageGetMeta(BufferGetPage(mbuf))->entry_level < 0)
		{
			PageWrite	w;
			Page		page;

			etup = form_element(info, stored, form, heaptid, level, layers, &size, &overflow);
			/* metapage then data page: nobody locks them the other way round */
			place_element(info, etup, size, overflow, stored, &newtid, mbuf);
			hnsw_write_begin(&w, info);
			page = page_write_page(&w, mbuf, false);
			HnswPageGetMeta(page)->entry = newtid;
			HnswPageGetMeta(page)->entry_level = level;
			page_write_finish(&w);
			UnlockReleaseBuffer(mbuf);
			return true;
		}
		UnlockReleaseBuffer(mbuf);
		ep = hnsw_search_entry(s, &entry_level);
	}

	/*
	 * A new top level.  Two such inserts at once would each link its upper
	 * layers only to the graph it saw, and the first one's would end up
	 * unreachable from the second.  They are rare (1 in n inserts), so they
	 * take turns, and look at the entry point again once it is theirs.
	 */
	if (level > entry_level)
	{
		topmem = info->mem;
		if (topmem != NULL)
			hnsw_mem_begin_top(topmem);
		else
			LockPage(info->index, HNSW_METAPAGE_BLKNO, ExclusiveLock);
		top = true;
		ep = hnsw_search_entry(s, &entry_level);
	}

	/* greedy descent to the new element's level, then ef_construction wide */
	for (int l = entry_level; l > level; l--)
		ep = hnsw_search_layer(s, ep, 1, l);
	for (int l = Min(level, entry_level); l >= 0; l--)
	{
		List	   *w = hnsw_search_layer(s, ep, info->ef_construction, l);

		if (l == 0 && w != NIL)
		{
			double		nearest = ((HnswCandidate *) linitial(w))->dist;
			ListCell   *lc;

			/* join any element holding the very same value that has room */
			foreach(lc, w)
			{
				HnswCandidate *c = lfirst(lc);

				if (c->dist > nearest)
					break;
				if (!c->deleted && same_value(c, stored, form) &&
					add_heaptid(info, c, heaptid))
				{
					end_top(info, top, topmem);
					return true;
				}
			}
		}
		layers[l] = hnsw_select_neighbors(info, w, hnsw_layer_slots(l, m), true);
		ep = w;
	}

	etup = form_element(info, stored, form, heaptid, level, layers, &size, &overflow);
	place_element(info, etup, size, overflow, stored, &newtid, InvalidBuffer);

	for (int l = Min(level, entry_level); l >= 0; l--)
	{
		ListCell   *lc;

		foreach(lc, layers[l])
		{
			HnswCandidate *c = lfirst(lc);

			add_backlink(info, c, l, &newtid, value);
		}
	}

	if (level > entry_level)
		maybe_set_entry(info, &newtid, level);
	end_top(info, top, topmem);
	return true;
}

/* aminsert */
bool
hnswinsert(Relation index, Datum *values, bool *isnull, ItemPointer heap_tid,
		   Relation heap, IndexUniqueCheck checkUnique,
#if PG_VERSION_NUM >= 140000
		   bool indexUnchanged,
#endif
		   IndexInfo *indexInfo)
{
	MemoryContext ctx,
				old;
	HnswIndexInfo info;

	if (isnull[0])
		return false;

	ctx = AllocSetContextCreate(CurrentMemoryContext, "hnsw insert", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(ctx);
	hnsw_index_info(&info, index, false);
	hnsw_insert_value(&info, PointerGetDatum(PG_DETOAST_DATUM(values[0])), heap_tid);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(ctx);
	return false;
}
