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
 * new element is not selected (nothing to change).  Used where the store
 * keeps no verdicts (the pages): the list shrinks to what the heuristic
 * keeps, so the next few back-links find room and cost nothing.
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
	sel = hnsw_select_neighbors(info, cands, slots, false, NULL);
	foreach(lc, sel)
		if (lfirst(lc) == newc)
			return sel;
	return NIL;
}

/* judge()'s candidates, loaded the first time a distance needs one (NULL: gone) */
typedef struct JudgeSet
{
	HnswIndexInfo *info;
	ItemPointer nbrs;
	HnswCandidate *cand[2 * HNSW_MAX_M + 1];
	bool		tried[2 * HNSW_MAX_M + 1];
} JudgeSet;

static HnswCandidate *
judge_load(JudgeSet *js, int i)
{
	HnswStore  *st = js->info->store;
	HnswHeld	h;

	if (js->tried[i])
		return js->cand[i];
	js->tried[i] = true;
	if (!st->ops->read(st, &js->nbrs[i], 0, HNSW_READ_KEEP_VALUE | HNSW_READ_FIXED, &h))
		return NULL;
	js->cand[i] = palloc0(sizeof(HnswCandidate));
	js->cand[i]->tid = js->nbrs[i];
	js->cand[i]->value = h.value;
	js->cand[i]->form = h.etup->flags & HNSW_ELEMENT_FORM;
	if (h.must_release)
		st->ops->release(st, &h, false);
	return js->cand[i];
}

/* is link i (at distance d from the owner) closer to link r than to the owner? */
static bool
judge_occludes(JudgeSet *js, int i, int r, double d)
{
	HnswCandidate *a = judge_load(js, i);
	HnswCandidate *b = judge_load(js, r);

	if (a == NULL || b == NULL)
		return a == NULL;		/* a link that is gone is dropped first */
	return hnsw_distance(js->info, hnsw_candidate_full(a), hnsw_candidate_full(b)) < d;
}

/*
 * The same decision for a full list whose links carry verdicts (the build's
 * graph in memory), without shrinking it: the list stays full, its kept links
 * first and then the nearest pruned ones as fillers, as the heuristic with
 * keep_pruned would leave it.  Only what the new link can change is looked
 * at: the new link is judged against the kept links nearer than it (it is
 * pruned at the first that is closer to it), a kept new link may prune the
 * kept links beyond it, and links not judged yet (appended while the list had
 * room) are judged in distance order.  A link pruned now does not revive the
 * ones it had pruned (they stay as fillers): a few distance computations per
 * back-link instead of the whole heuristic's n^2/2.  The one dropped is the
 * farthest pruned link, or the farthest of all when all n + 1 are kept.
 *
 * codes[0..n-1] are the list's verdicts, updated in place; codes[n] is the new
 * link's.  Returns the slot the new link takes, or -1 (not taken).
 */
static int
judge(HnswIndexInfo *info, ItemPointer nbrs, float4 *dists, int n, uint8 *codes,
	  HnswCandidate *newc)
{
	JudgeSet   *js = palloc(sizeof(JudgeSet));
	int			order[2 * HNSW_MAX_M + 1];
	int			kept[2 * HNSW_MAX_M + 1];
	int			nkept = 0;
	bool		newkept = false;
	int			victim = -1;

	js->info = info;
	js->nbrs = nbrs;
	memset(js->tried, 0, sizeof(js->tried));
	js->cand[n] = newc;
	js->tried[n] = true;
	codes[n] = HNSW_VERDICT_UNKNOWN;

	/* the links and the new one by distance to the owner (insertion sort, n <= 200) */
	for (int i = 0; i <= n; i++)
	{
		double		d = (i == n) ? newc->dist : dists[i];
		int			j = i;

		while (j > 0 && ((order[j - 1] == n) ? newc->dist : dists[order[j - 1]]) > d)
		{
			order[j] = order[j - 1];
			j--;
		}
		order[j] = i;
	}

	for (int p = 0; p <= n; p++)
	{
		int			i = order[p];
		double		d = (i == n) ? newc->dist : dists[i];

		if (codes[i] == HNSW_VERDICT_PRUNED)
			continue;
		if (codes[i] == HNSW_VERDICT_KEPT)
		{
			/* only the new link, nearer and kept, can change this verdict */
			if (newkept && judge_occludes(js, i, n, d))
				codes[i] = HNSW_VERDICT_PRUNED;
			else
				kept[nkept++] = i;
			continue;
		}
		/* not judged yet, or the new link: against every kept link nearer */
		codes[i] = HNSW_VERDICT_KEPT;
		for (int k = 0; k < nkept; k++)
			if (judge_occludes(js, i, kept[k], d))
			{
				codes[i] = HNSW_VERDICT_PRUNED;
				break;
			}
		if (codes[i] == HNSW_VERDICT_KEPT)
		{
			kept[nkept++] = i;
			newkept |= (i == n);
		}
	}

	if (nkept > n)
		victim = kept[nkept - 1];
	else
		for (int p = n; p >= 0 && victim < 0; p--)
			if (codes[order[p]] == HNSW_VERDICT_PRUNED)
				victim = order[p];
	Assert(victim >= 0);
	pfree(js);
	if (victim == n)
		return -1;
	codes[victim] = codes[n];
	return victim;
}

/* the slot of tid in one layer's list, or -1 */
static int
find_link(HnswElementTuple etup, int m, int layer, ItemPointer tid)
{
	ItemPointer nbrs = HnswNeighbors(etup, m) + hnsw_layer_start(layer, m);

	for (int i = 0; i < HnswCounts(etup)[layer]; i++)
		if (ItemPointerEquals(&nbrs[i], tid))
			return i;
	return -1;
}

/*
 * Link neighbour `nbr` back to the new element on one layer.  If its list
 * is full, judge the new link with the list's verdicts where the store keeps
 * them (judge), else re-select the list with the heuristic (reselect).  The
 * list is copied under a read, the candidates' values loaded with the
 * neighbour let go, and the result written only if the list did not change
 * meanwhile (else the simple rule of hnsw_link applies): one element (page)
 * is held at a time, so concurrent inserts cannot deadlock.
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
	uint8		codes[2 * HNSW_MAX_M + 1];
	bool		verdicts;
	int			n;
	int			slot = -1;
	List	   *sel = NIL;
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
	verdicts = h.verdicts != NULL;
	if (verdicts)
		for (int i = 0; i < n; i++)
			codes[i] = hnsw_verdict_get(h.verdicts, start + i);
	st->ops->release(st, &h, false);

	if (n >= slots)
	{
		if (verdicts)
			slot = judge(info, oldnbrs, olddists, n, codes, newc);
		else if ((sel = reselect(info, oldnbrs, olddists, n, slots, newc)) == NIL)
			return;
	}

	/* the element as it is now: write the new list only if it is still the old one */
	if ((etup = st->ops->write(st, &nbr->tid, &h)) == NULL)
		return;
	if (n >= slots && etup->level >= layer && HnswCounts(etup)[layer] == n &&
		memcmp(HnswNeighbors(etup, m) + start, oldnbrs, sizeof(ItemPointerData) * n) == 0)
	{
		if (sel != NIL)
			hnsw_write_list(etup, m, layer, sel);
		else if (slot >= 0)
		{
			HnswNeighbors(etup, m)[start + slot] = *newtid;
			HnswNeighborDists(etup, m)[start + slot] = (float4) nbr->dist;
		}
		/* the verdicts as judged, whether the new link was taken or not */
		if (h.verdicts != NULL)
			for (int i = 0; i < n; i++)
				hnsw_verdict_set(h.verdicts, start + i, codes[i]);
		changed = (sel != NIL || slot >= 0);
	}
	else
	{
		changed = hnsw_link(etup, m, layer, newtid, (float4) nbr->dist);
		if (changed && h.verdicts != NULL)
			hnsw_verdict_set(h.verdicts, start + find_link(etup, m, layer, newtid),
							 HNSW_VERDICT_UNKNOWN);
	}
	st->ops->release(st, &h, changed);
}

/*
 * A new element's own lists came from the heuristic with its pruned
 * candidates as fillers: tell a store that keeps verdicts which links are
 * which (the kept ones come first in each list).
 */
static void
set_own_verdicts(HnswIndexInfo *info, ItemPointer tid, int level, List **layers, int *nkept)
{
	HnswStore  *st = info->store;
	HnswHeld	h;

	if (!st->verdicts || st->ops->write(st, tid, &h) == NULL)
		return;
	if (h.verdicts != NULL)
		for (int l = 0; l <= level; l++)
			for (int i = 0; i < list_length(layers[l]); i++)
				hnsw_verdict_set(h.verdicts, hnsw_layer_start(l, info->m) + i,
								 i < nkept[l] ? HNSW_VERDICT_KEPT : HNSW_VERDICT_PRUNED);
	st->ops->release(st, &h, false);
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
	int			nkept[HNSW_MAX_LEVEL + 1] = {0};
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
		layers[l] = hnsw_select_neighbors(info, w, hnsw_layer_slots(l, m), true, &nkept[l]);
		ep = w;
	}

	etup = form_element(info, stored, form, heaptid, level, layers, &size);
	info->store->ops->add(info->store, etup, size, stored, &newtid);
	set_own_verdicts(info, &newtid, level, layers, nkept);

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
