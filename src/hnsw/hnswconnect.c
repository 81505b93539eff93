/*
 * hnswconnect.c — finding the elements no search can reach, and linking them in.
 *
 * Why: an HNSW graph built by inserts alone leaves some elements with no
 * link to them from the rest of the graph: every element that linked to one
 * later re-selected its list and dropped it (about 1% of random 100-d data
 * at m = 8, a fifth at m = 4).  No search from the entry point finds such an
 * element, so its rows are invisible to index scans.  At the end of
 * CREATE INDEX and of each VACUUM this walks the graph from the entry point
 * on every layer and links each element it did not reach from reached ones
 * near it, found by searching the graph for the element's own value.
 *
 * It runs on either store through the store's operations only (the build's
 * graph in memory, or the index's pages with one page locked at a time and
 * one WAL record per changed element), with O(n) memory: four bytes per
 * element slot and a TID stack.  When nothing is unreachable it costs one
 * read of every element (a walk) and nothing else.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "hnswstore.h"

/* walks of one layer, each followed by repairs (see connect_layer) */
#define CONNECT_MAX_ROUNDS		8

typedef struct ConnState
{
	HnswIndexInfo *info;
	int			m;
	BlockNumber nblocks;		/* blocks known when the walk began */
	uint32	   *base;			/* per block: its first slot; nblocks + 1 entries */
	uint32		nslots;
	int8	   *level;			/* per slot: the element's level, -1 none (or not known) */
	bool	   *deleted;		/* per slot: flagged deleted */
	bool	   *reached;		/* per slot: on the layer being walked */
	uint8	   *indeg;			/* per slot: links to it from reached elements (saturating) */
	ItemPointerData *stack;		/* reached, not expanded yet: at most one entry per slot */
	uint32		nstack;
	ItemPointerData *nbrs;		/* one layer's links, copied */
	bool		unsafe;			/* a repair in this round may have cut something off */
	int64		linked;			/* elements linked in */
	int64		failed;			/* elements no repair could link */
	MemoryContext tmp;
} ConnState;

/* the slot of tid, or -1 when it is beyond what the walk knows */
static inline int64
slot_of(ConnState *cs, ItemPointer tid)
{
	BlockNumber blk = ItemPointerGetBlockNumberNoCheck(tid);
	OffsetNumber off = ItemPointerGetOffsetNumberNoCheck(tid);

	if (blk >= cs->nblocks || off < FirstOffsetNumber ||
		off > cs->base[blk + 1] - cs->base[blk])
		return -1;
	return (int64) cs->base[blk] + off - 1;
}

static inline void
count_link(ConnState *cs, int64 j)
{
	if (cs->indeg[j] < PG_UINT8_MAX)
		cs->indeg[j]++;
}

/* Mark tid reached and queue it to be expanded. */
static void
reach(ConnState *cs, ItemPointer tid)
{
	int64		j = slot_of(cs, tid);

	if (j < 0 || cs->reached[j])
		return;
	cs->reached[j] = true;
	cs->stack[cs->nstack++] = *tid;
}

/*
 * Expand everything queued on `layer`: each element's links are copied under
 * a read (the element held shared, nothing else), counted as links into
 * their targets, and the targets not reached yet are reached and queued.
 */
static void
spread(ConnState *cs, int layer)
{
	HnswStore  *st = cs->info->store;
	int			m = cs->m;

	while (cs->nstack > 0)
	{
		ItemPointerData tid = cs->stack[--cs->nstack];
		int64		i = slot_of(cs, &tid);
		HnswHeld	h;
		int			n;

		CHECK_FOR_INTERRUPTS();
		if (!st->ops->read(st, &tid, layer, HNSW_READ_NO_VALUE, &h))
			continue;
		cs->level[i] = h.etup->level;
		cs->deleted[i] = (h.etup->flags & HNSW_ELEMENT_DELETED) != 0;
		n = HnswCounts(h.etup)[layer];
		memcpy(cs->nbrs, HnswNeighbors(h.etup, m) + hnsw_layer_start(layer, m),
			   sizeof(ItemPointerData) * n);
		st->ops->release(st, &h, false);

		for (int k = 0; k < n; k++)
		{
			int64		j = slot_of(cs, &cs->nbrs[k]);

			if (j < 0)
				continue;
			count_link(cs, j);
			reach(cs, &cs->nbrs[k]);
		}
	}
}

/* A fresh walk of `layer` from the entry point. */
static void
walk(ConnState *cs, int layer)
{
	ItemPointerData entry;
	int			top;

	memset(cs->reached, 0, cs->nslots);
	memset(cs->indeg, 0, cs->nslots);
	cs->info->store->ops->entry(cs->info->store, &entry, &top);
	if (top < layer)
		return;
	reach(cs, &entry);
	spread(cs, layer);
}

/*
 * How a full list may take a new link, from the safest on: HOW_APPEND only
 * fills a free slot; HOW_SHARED replaces a link that the new target itself
 * has too (what it linked to stays reachable through the new target);
 * HOW_LIKELY replaces the farthest link whose target other reached elements
 * link to as well (likely, not surely, still reachable: the next walk
 * checks); HOW_FORCE replaces the farthest link and hands it to the new
 * target if that has room.
 */
#define HOW_APPEND	0
#define HOW_SHARED	1
#define HOW_LIKELY	2
#define HOW_FORCE	3

/*
 * Link `from` to `to` on `layer`, the two `dist` apart, in one write of
 * `from` (see HOW_*; `tolinks`, `ntolinks`: to's own links on the layer).
 * Returns true once `from` links to `to` (already linked counts); *lost is
 * the link HOW_FORCE gave up, else invalid.
 */
static bool
link_one(ConnState *cs, ItemPointer from, int layer, ItemPointer to, float4 dist, int how,
		 ItemPointer tolinks, int ntolinks, ItemPointer lost)
{
	HnswStore  *st = cs->info->store;
	int			m = cs->m;
	int			start = hnsw_layer_start(layer, m);
	HnswHeld	h;
	HnswElementTuple etup;
	ItemPointer nbrs;
	float4	   *dists;
	int			n,
				victim = -1;

	ItemPointerSetInvalid(lost);
	if ((etup = st->ops->write(st, from, &h)) == NULL)
		return false;
	if (etup->level < layer || (etup->flags & HNSW_ELEMENT_DELETED))
	{
		st->ops->release(st, &h, false);
		return false;
	}
	n = HnswCounts(etup)[layer];
	nbrs = HnswNeighbors(etup, m) + start;
	dists = HnswNeighborDists(etup, m) + start;
	for (int i = 0; i < n; i++)
	{
		if (ItemPointerEquals(&nbrs[i], to))
		{
			st->ops->release(st, &h, false);
			return true;
		}
	}
	if (n < hnsw_layer_slots(layer, m))
	{
		nbrs[n] = *to;
		dists[n] = dist;
		HnswCounts(etup)[layer] = n + 1;
		st->ops->release(st, &h, true);
		return true;
	}
	for (int i = 0; i < n && how != HOW_APPEND; i++)
	{
		int64		j = slot_of(cs, &nbrs[i]);

		if (how == HOW_SHARED)
		{
			bool		shared = false;

			for (int k = 0; k < ntolinks && !shared; k++)
				shared = ItemPointerEquals(&tolinks[k], &nbrs[i]);
			if (!shared)
				continue;
		}
		else if (how == HOW_LIKELY && (j < 0 || cs->indeg[j] < 2))
			continue;
		if (victim < 0 || dists[i] > dists[victim])
			victim = i;
	}
	if (victim < 0)
	{
		st->ops->release(st, &h, false);
		return false;
	}
	{
		int64		j = slot_of(cs, &nbrs[victim]);

		if (j >= 0 && cs->indeg[j] > 0 && cs->indeg[j] < PG_UINT8_MAX)
			cs->indeg[j]--;
		if (how == HOW_FORCE)
			*lost = nbrs[victim];
	}
	nbrs[victim] = *to;
	dists[victim] = dist;
	st->ops->release(st, &h, true);
	if (how >= HOW_LIKELY)
		cs->unsafe = true;
	return true;
}

/*
 * Link u from the nearest reached element of `found` (search results, by
 * distance) that takes the link in the safest way, up to `maxhow`.
 */
static bool
link_near(ConnState *cs, ItemPointer u, int layer, Datum query, List *found, int maxhow,
		  ItemPointer ulinks, int nulinks)
{
	HnswIndexInfo *info = cs->info;
	HnswStore  *st = info->store;
	HnswHeld	h;
	ItemPointerData lost;

	for (int how = HOW_APPEND; how <= maxhow; how++)
	{
		ListCell   *lc;

		foreach(lc, found)
		{
			HnswCandidate *c = lfirst(lc);
			int64		j = slot_of(cs, &c->tid);

			if (j < 0 || !cs->reached[j] || c->deleted || ItemPointerEquals(&c->tid, u))
				continue;
			if (link_one(cs, &c->tid, layer, u, (float4) c->dist, how, ulinks, nulinks, &lost))
			{
				/* the link given up goes on from u, if u has room for it */
				if (ItemPointerIsValid(&lost) &&
					st->ops->read(st, &lost, 0, HNSW_READ_KEEP_VALUE | HNSW_READ_FIXED, &h))
				{
					ItemPointerData none;
					Datum		lv = h.value;
					uint8		lform = h.etup->flags & HNSW_ELEMENT_FORM;

					st->ops->release(st, &h, false);
					(void) link_one(cs, u, layer, &lost,
									(float4) hnsw_distance(info, query, hnsw_full_value(lv, lform)),
									HOW_APPEND, NULL, 0, &none);
				}
				return true;
			}
			/* forcing: only the nearest */
			if (how == HOW_FORCE)
				break;
		}
	}
	return false;
}

/*
 * Link the unreached element `u` into `layer` from a reached element near
 * it, found by searching the graph for u's value: a search walks links from
 * the entry point, so what it finds is reached, unless it started where the
 * descent through the upper layers landed and that is itself cut off on
 * this layer; then it searches this layer again from the entry point.  On
 * success u and what it reaches are marked reached.
 */
static bool
link_in(ConnState *cs, ItemPointer u, int layer, int maxhow)
{
	HnswIndexInfo *info = cs->info;
	HnswStore  *st = info->store;
	MemoryContext old = MemoryContextSwitchTo(cs->tmp);
	HnswHeld	h;
	bool		done = false;

	if (st->ops->read(st, u, layer, HNSW_READ_KEEP_VALUE, &h))
	{
		Datum		value = h.value;
		uint8		form = h.etup->flags & HNSW_ELEMENT_FORM;
		int			nulinks = HnswCounts(h.etup)[layer];
		ItemPointerData ulinks[2 * HNSW_MAX_M];
		Datum		query;

		memcpy(ulinks, HnswNeighbors(h.etup, cs->m) + hnsw_layer_start(layer, cs->m),
			   sizeof(ItemPointerData) * nulinks);
		st->ops->release(st, &h, false);
		query = hnsw_full_value(value, form);
		for (int attempt = 0; attempt < 2 && !done; attempt++)
		{
			HnswSearch *s = hnsw_search_begin(info, query, false);
			int			top;
			List	   *ep = hnsw_search_entry(s, &top);

			if (ep == NIL || top < layer)
				break;
			for (int l = top; l > layer && attempt == 0; l--)
				ep = hnsw_search_layer(s, ep, 1, l);
			done = link_near(cs, u, layer, query,
							 hnsw_search_layer(s, ep, Max(info->ef_construction, 2 * cs->m),
											   layer),
							 maxhow, ulinks, nulinks);
		}
	}
	MemoryContextSwitchTo(old);
	MemoryContextReset(cs->tmp);

	if (done)
	{
		count_link(cs, slot_of(cs, u));
		reach(cs, u);
		spread(cs, layer);
	}
	return done;
}

/* a live element on `layer` that the last walk did not reach */
static inline bool
missing(ConnState *cs, uint32 i, int layer)
{
	return !cs->reached[i] && cs->level[i] >= layer && !cs->deleted[i];
}

/*
 * Every live element on `layer` not reached from the entry point, linked
 * in.  Links that replaced one which might have been the only way to
 * something (HOW_LIKELY, HOW_FORCE) are checked by walking again, and what
 * they cut off is linked in the same way; the last round takes only safe
 * links, and a final walk counts what is left.
 */
static void
connect_layer(ConnState *cs, int layer)
{
	HnswStore  *st = cs->info->store;

	for (int round = 0;; round++)
	{
		bool		last = round == CONNECT_MAX_ROUNDS - 1;
		int64		nmissing = 0,
					failed = 0;

		walk(cs, layer);
		cs->unsafe = false;
		for (BlockNumber blk = 0; blk < cs->nblocks; blk++)
		{
			for (uint32 i = cs->base[blk]; i < cs->base[blk + 1]; i++)
			{
				ItemPointerData tid;

				if (cs->reached[i])
					continue;
				ItemPointerSet(&tid, blk, i - cs->base[blk] + 1);
				if (layer == 0)
				{
					HnswHeld	h;

					/* not reached, so not read yet: its level and flags */
					CHECK_FOR_INTERRUPTS();
					cs->level[i] = -1;
					if (!st->ops->read(st, &tid, 0, HNSW_READ_NO_VALUE | HNSW_READ_FIXED, &h))
						continue;
					cs->level[i] = h.etup->level;
					cs->deleted[i] = (h.etup->flags & HNSW_ELEMENT_DELETED) != 0;
					st->ops->release(st, &h, false);
				}
				if (!missing(cs, i, layer))
					continue;
				nmissing++;
				if (link_in(cs, &tid, layer, last ? HOW_SHARED : HOW_FORCE))
					cs->linked++;
				else
					failed++;
			}
		}
		if (nmissing == 0 || (!cs->unsafe && failed == 0))
			break;
		if (last || failed == nmissing)
		{
			if (cs->unsafe)
			{
				walk(cs, layer);
				failed = 0;
				for (uint32 i = 0; i < cs->nslots; i++)
					if (missing(cs, i, layer))
						failed++;
			}
			cs->failed += failed;
			break;
		}
	}
}

/*
 * Link in every live element that no search from the entry point reaches,
 * on every layer.  Runs through info->store: at the end of a build (alone
 * in the graph, in memory or on pages written without WAL) and in VACUUM
 * (on the pages: one page locked at a time, one generic WAL record per
 * element changed; concurrent inserts only add links).  Returns the number
 * of elements linked in.
 */
int64
hnsw_connect(HnswIndexInfo *info)
{
	HnswStore  *st = info->store;
	ConnState	cs;
	ItemPointerData entry;
	int			top;
	BlockNumber maxblocks = 1024;
	int			n;
	MemoryContext ctx = AllocSetContextCreate(CurrentMemoryContext, "hnsw connect",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(ctx);
	TimestampTz started = GetCurrentTimestamp();

	st->ops->entry(st, &entry, &top);
	if (top < 0)
	{
		MemoryContextSwitchTo(old);
		MemoryContextDelete(ctx);
		return 0;
	}

	memset(&cs, 0, sizeof(cs));
	cs.info = info;
	cs.m = info->m;
	cs.tmp = AllocSetContextCreate(ctx, "hnsw connect search", ALLOCSET_DEFAULT_SIZES);

	/* number the element slots: block by block, as many as each has now */
	cs.base = palloc(sizeof(uint32) * (maxblocks + 1));
	cs.base[0] = 0;
	for (BlockNumber blk = 0; (n = st->ops->block_slots(st, blk)) >= 0; blk++)
	{
		if ((uint64) cs.base[blk] + n >= PG_UINT32_MAX)
		{
			elog(DEBUG1, "hnsw index \"%s\" has too many elements to check its connectivity",
				 RelationGetRelationName(info->index));
			MemoryContextSwitchTo(old);
			MemoryContextDelete(ctx);
			return 0;
		}
		if (blk + 1 >= maxblocks)
		{
			maxblocks *= 2;
			cs.base = repalloc_huge(cs.base, sizeof(uint32) * (maxblocks + 1));
		}
		cs.base[blk + 1] = cs.base[blk] + n;
		cs.nblocks = blk + 1;
		if (blk % 256 == 0)
			CHECK_FOR_INTERRUPTS();
	}
	cs.nslots = cs.base[cs.nblocks];
	cs.level = MemoryContextAllocHuge(ctx, Max(cs.nslots, 1));
	memset(cs.level, -1, cs.nslots);
	cs.deleted = MemoryContextAllocHuge(ctx, Max(cs.nslots, 1));
	memset(cs.deleted, 0, cs.nslots);
	cs.reached = MemoryContextAllocHuge(ctx, Max(cs.nslots, 1));
	cs.indeg = MemoryContextAllocHuge(ctx, Max(cs.nslots, 1));
	cs.stack = MemoryContextAllocHuge(ctx, sizeof(ItemPointerData) * Max(cs.nslots, 1));
	cs.nbrs = palloc(sizeof(ItemPointerData) * 2 * HNSW_MAX_M);

	/* layer 0 first: its walk and scan learn every element's level */
	for (int layer = 0; layer <= top; layer++)
		connect_layer(&cs, layer);

	/*
	 * DEBUG2, not DEBUG1, even when it linked something: how many a parallel
	 * build leaves unreached depends on the order the workers happened to
	 * insert in, and DEBUG1 output is what tests compare.
	 */
	elog(cs.failed > 0 ? DEBUG1 : DEBUG2,
		 "hnsw index \"%s\": linked in %lld unreachable elements, %lld left (%u element slots, %.1f ms)",
		 RelationGetRelationName(info->index), (long long) cs.linked, (long long) cs.failed,
		 cs.nslots, (double) (GetCurrentTimestamp() - started) / 1000.0);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(ctx);
	return cs.linked;
}
