/*
 * hnswinsert.c — adding one value to the graph (used by CREATE INDEX too).
 *
 * The insert algorithm runs on whichever store holds the graph (hnswstore.h:
 * the index's pages, or a build's graph in memory) through its operations
 * only: searching (hnswsearch.c), placing the element, back-links, joining a
 * heap TID to an element with the same value, the entry point.
 */
#include "postgres.h"

#include <math.h>

#include "nodes/execnodes.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "hnswstore.h"

/*
 * Build the element tuple.  A value too large for an element page is stored
 * apart (HNSW_ELEMENT_OVERFLOW): the store places it and fills in where.
 */
static HnswElementTuple
form_element(HnswIndexInfo *info, Datum value, uint8 form, ItemPointer heaptid, int level,
			 List **layers, Size *size)
{
	int			m = info->m;
	Size		vecsize = VARSIZE_ANY(DatumGetPointer(value));
	Size		hdr = hnsw_tuple_header_size(level, m);
	HnswElementTuple etup;
	ItemPointer nbrs;
	float4	   *dists;
	bool		overflow = hdr + MAXALIGN(vecsize) > HNSW_MAX_ELEMENT_SIZE;

	*size = hdr + (overflow ? MAXALIGN(sizeof(BlockNumber)) : MAXALIGN(vecsize));
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
	if (overflow)
		etup->flags |= HNSW_ELEMENT_OVERFLOW;
	else
		memcpy(HnswValuePtr(etup, m), DatumGetPointer(value), vecsize);
	return etup;
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

/*
 * Link neighbour `nbr` back to the new element on one layer.  If its list
 * is full, re-select it with the heuristic.  The list is copied under a
 * read, the candidates' values loaded with the neighbour let go, and the
 * result written only if the list did not change meanwhile (else the
 * simple rule of hnsw_link applies): one element (page) is held at a time,
 * so concurrent inserts cannot deadlock.
 */
static void
add_backlink(HnswIndexInfo *info, HnswCandidate *nbr, int layer, ItemPointer newtid,
			 Datum newvalue)
{
	HnswStore  *st = info->store;
	int			m = info->m;
	int			start = hnsw_layer_start(layer, m);
	int			slots = hnsw_layer_slots(layer, m);
	HnswCandidate *newc = palloc0(sizeof(HnswCandidate));
	HnswHeld	h;
	HnswElementTuple etup;
	ItemPointerData oldnbrs[2 * HNSW_MAX_M];
	float4		olddists[2 * HNSW_MAX_M];
	int			n;
	List	   *sel;
	bool		changed;

	newc->tid = *newtid;
	newc->dist = nbr->dist;
	newc->value = newvalue;

	/* look at the list first */
	if (!st->ops->read(st, &nbr->tid, layer, HNSW_READ_NO_VALUE, &h))
		return;
	n = HnswCounts(h.etup)[layer];
	memcpy(oldnbrs, HnswNeighbors(h.etup, m) + start, sizeof(ItemPointerData) * n);
	memcpy(olddists, HnswNeighborDists(h.etup, m) + start, sizeof(float4) * n);
	st->ops->release(st, &h, false);

	sel = (n < slots) ? NIL : reselect(info, oldnbrs, olddists, n, slots, newc);
	if (n >= slots && sel == NIL)
		return;

	/* the element as it is now: write the new list only if it is still the old one */
	if ((etup = st->ops->write(st, &nbr->tid, &h)) == NULL)
		return;
	if (sel != NIL && etup->level >= layer && HnswCounts(etup)[layer] == n &&
		memcmp(HnswNeighbors(etup, m) + start, oldnbrs, sizeof(ItemPointerData) * n) == 0)
	{
		hnsw_write_list(etup, m, layer, sel);
		changed = true;
	}
	else
		changed = hnsw_link(etup, m, layer, newtid, (float4) nbr->dist);
	st->ops->release(st, &h, changed);
}

/*
 * An element with the very same value exists: share it by adding our heap
 * TID if it has room.  Identical vectors then cost one element.
 */
static bool
add_heaptid(HnswIndexInfo *info, HnswCandidate *c, ItemPointer heaptid)
{
	HnswStore  *st = info->store;
	HnswHeld	h;
	HnswElementTuple etup;
	bool		done = false;

	if ((etup = st->ops->write(st, &c->tid, &h)) == NULL)
		return false;
	if (!(etup->flags & HNSW_ELEMENT_DELETED) && etup->ntids < HNSW_HEAPTIDS)
	{
		etup->heaptids[etup->ntids++] = *heaptid;
		done = true;
	}
	st->ops->release(st, &h, done);
	return done;
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
	ItemPointerData newtid;
	Datum		stored;
	uint8		form;
	HnswStore  *topstore = NULL;	/* holding its new-top turn */

	if (info->oc.type != NULL)
		hnsw_check_dims(info->oc, info->oc.type->dims(DatumGetPointer(value)));
	if (info->normproc != NULL &&
		DatumGetFloat8(FunctionCall1Coll(info->normproc, info->collation, value)) == 0)
		return false;
	value = hnsw_as_vector(info, value);
	stored = hnsw_stored_form(info, value, &form);

	level = hnsw_random_level(m);
	s = hnsw_search_begin(info, value, true);
	ep = hnsw_search_entry(s, &entry_level);

	if (ep == NIL)
	{
		HnswStore  *st = info->store;

		/*
		 * The first element: serialize against other first inserts.  (The
		 * store may hand over to another while placing it: info->store.)
		 */
		if (st->ops->begin_turn(st, true))
		{
			etup = form_element(info, stored, form, heaptid, level, layers, &size);
			info->store->ops->add(info->store, etup, size, stored, &newtid);
			info->store->ops->set_entry(info->store, &newtid, level);
			st->ops->end_turn(st);
			return true;
		}
		ep = hnsw_search_entry(s, &entry_level);
	}

	/*
	 * A new top level.  Two such inserts at once would each link its upper
	 * layers only to the graph it saw, and the first one's would end up
	 * unreachable from the second.  They are rare (1 in n inserts), so they
	 * take turns, and look at the entry point again once it is theirs.  The
	 * turn is given back to the store it was taken from.
	 */
	if (level > entry_level)
	{
		topstore = info->store;
		topstore->ops->begin_turn(topstore, false);
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
					if (topstore != NULL)
						topstore->ops->end_turn(topstore);
					return true;
				}
			}
		}
		layers[l] = hnsw_select_neighbors(info, w, hnsw_layer_slots(l, m), true);
		ep = w;
	}

	etup = form_element(info, stored, form, heaptid, level, layers, &size);
	info->store->ops->add(info->store, etup, size, stored, &newtid);

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
		info->store->ops->set_entry(info->store, &newtid, level);
	if (topstore != NULL)
		topstore->ops->end_turn(topstore);
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
	info.store = hnsw_disk_store(&info);
	hnsw_insert_value(&info, PointerGetDatum(PG_DETOAST_DATUM(values[0])), heap_tid);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(ctx);
	return false;
}
