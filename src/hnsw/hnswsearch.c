/*
 * hnswsearch.c — the graph search shared by inserts and scans.
 *
 * One resumable engine: hnsw_search_more(ef) expands the closest unexpanded
 * candidate until the ef closest elements seen so far are all closer than any
 * candidate left.  A scan that needs more rows (iterative scans) calls it
 * again with a larger ef and the search goes on where it stopped, nothing is
 * re-read.  Elements are read one at a time through the graph's store
 * (hnswstore.h: the index's pages, or a build's graph in memory), under the
 * element's page lock or element lock, and copied out (distance, heap TIDs,
 * the neighbour list of the layer searched), so no lock is held between
 * steps.  Neighbour selection, shared by inserts and VACUUM, is here too.
 */
#include "postgres.h"

#include <math.h>

#include "common/hashfn.h"
#include "lib/pairingheap.h"
#include "storage/bufmgr.h"
#include "utils/memutils.h"

#include "hnswstore.h"

/* visited elements, keyed by their TID packed into 48 bits */
typedef struct VisitedEntry
{
	uint64		key;
	char		status;
} VisitedEntry;

static inline uint32
tid_hash(uint64 key)
{
	return murmurhash32((uint32) key) ^ murmurhash32((uint32) (key >> 32));
}

#define SH_PREFIX visited
#define SH_ELEMENT_TYPE VisitedEntry
#define SH_KEY_TYPE uint64
#define SH_KEY key
#define SH_HASH_KEY(tb, k) tid_hash(k)
#define SH_EQUAL(tb, a, b) ((a) == (b))
#define SH_SCOPE static inline
#define SH_USE_NONDEFAULT_ALLOCATOR
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

static inline uint64
tid_key(ItemPointer tid)
{
	return ((uint64) ItemPointerGetBlockNumberNoCheck(tid) << 16) |
		ItemPointerGetOffsetNumberNoCheck(tid);
}

typedef struct SearchItem
{
	pairingheap_node c_node;	/* in cand: to expand, closest first */
	pairingheap_node f_node;	/* in found: to return, closest first */
	pairingheap_node w_node;	/* in bound: the ef closest, farthest first */
	HnswCandidate c;
	int			nnbrs;			/* neighbours on the layer searched */
	ItemPointerData *nbrs;
	bool		in_cand;		/* ever pushed to cand (and found) */
	bool		in_bound;
} SearchItem;

struct HnswSearch
{
	HnswIndexInfo *info;
	Datum		query;
	bool		keep_values;
	int			layer;
	int			ef;
	int64		nvisited;		/* elements read, all layers */
	visited_hash *visited;
	uint32		visit_gen;		/* the store's marks: this layer's generation, or 0 */
	pairingheap *cand;
	pairingheap *found;
	pairingheap *bound;
	int			nbound;
	char	   *arena;			/* bump allocator for items: no per-chunk */
	Size		arena_left;		/* header or power-of-two rounding */
	SearchItem **items;			/* every element read on this layer */
	int			nadmitted;		/* of which pushed to cand and found */
	int			nitems;
	int			maxitems;
	double		qnorm;			/* the query's norm, -1 until needed */
	double		radius;			/* range search: expand everything this close */
	int64		nwithin;		/* elements read on this layer within radius */
	float	   *scratch;		/* a compact value, decoded */
	int			scratch_dim;
	struct PoolBlock *blocks;	/* pooled blocks in use (see block_get) */
	Size		pooled;			/* their bytes */
	int64		nseen;			/* entries in this layer's visited set */
	MemoryContextCallback on_reset; /* gives them back */
};

#define ITEM_OF(node, field) ((SearchItem *) ((char *) (node) - offsetof(SearchItem, field)))

/* pairingheap keeps the "largest" on top: invert for closest-first */
static int
closer_first_c(const pairingheap_node *a, const pairingheap_node *b, void *arg)
{
	double		da = ITEM_OF(a, c_node)->c.dist,
				db = ITEM_OF(b, c_node)->c.dist;

	return (da < db) ? 1 : (da > db) ? -1 : 0;
}

static int
closer_first_f(const pairingheap_node *a, const pairingheap_node *b, void *arg)
{
	double		da = ITEM_OF(a, f_node)->c.dist,
				db = ITEM_OF(b, f_node)->c.dist;

	return (da < db) ? 1 : (da > db) ? -1 : 0;
}

static int
farther_first_w(const pairingheap_node *a, const pairingheap_node *b, void *arg)
{
	double		da = ITEM_OF(a, w_node)->c.dist,
				db = ITEM_OF(b, w_node)->c.dist;

	return (da > db) ? 1 : (da < db) ? -1 : 0;
}

/*
 * A search's large blocks (item arena blocks, visited tables) come from a
 * small pool kept for the life of the backend, not from the search's memory
 * context.  A scan frees everything at the end of each query, and glibc gives
 * a heap top that large (about 200 kB at ef_search 40) back to the kernel
 * (brk) on every free, so the next query page-faults it in again, zeroed: on
 * a 3,000-row bit index that system time was a third of the query's CPU
 * (0.5 ms), more than the search itself.  Blocks return to the pool when the
 * search's context is reset or deleted, on error too; the pool keeps at most
 * POOL_KEEP bytes, and blocks above POOL_MAX_BLOCK are not pooled.  Those two
 * are sized for ef_search = 1000 on 768-d vectors (about 2.5 MB of blocks, a
 * 512 kB visited table): with 1 MB and 256 kB, glibc still trimmed the rest
 * of the heap after each such query, 0.3 ms of system time in 3.8 ms.  The
 * spare blocks sit in their own context, visible in pg_backend_memory_contexts.
 */
typedef struct PoolBlock
{
	struct PoolBlock *next;
	Size		size;			/* of the payload, which follows the header */
} PoolBlock;

#define POOL_HDR MAXALIGN(sizeof(PoolBlock))
#define POOL_MAX_BLOCK (1024 * 1024)
#define POOL_KEEP (4 * 1024 * 1024)

static MemoryContext pool_cxt;	/* the blocks' own: shows in pg_backend_memory_contexts */
static PoolBlock *pool_spare;
static Size pool_spare_bytes;

/*
 * Initial size of layer 0's visited set: as many entries as the backend's
 * previous search put there (capped), so a run of similar queries does not
 * grow the table from 256 entries, zeroing and rehashing it at every doubling
 * (about 1% of a query's instructions at ef_search 40); the upper layers'
 * sets start small.
 */
#define VISITED_HINT_MIN 256
#define VISITED_UPPER 64		/* upper layers: a search there reads a few dozen */
#define VISITED_HINT_MAX 4096
static uint32 visited_hint = VISITED_HINT_MIN;

static void
block_put(PoolBlock *b)
{
	if (pool_spare_bytes + b->size <= POOL_KEEP)
	{
		b->next = pool_spare;
		pool_spare = b;
		pool_spare_bytes += b->size;
	}
	else
		pfree(b);
}

/* the search's context is being reset or deleted: its blocks go back */
static void
blocks_return(void *arg)
{
	HnswSearch *s = (HnswSearch *) arg;

	if (s->layer == 0 && s->visited != NULL)
		visited_hint = (uint32) Min(Max(s->nseen, VISITED_HINT_MIN), VISITED_HINT_MAX);

	while (s->blocks != NULL)
	{
		PoolBlock  *b = s->blocks;

		s->blocks = b->next;
		block_put(b);
	}
	s->pooled = 0;
}

/* size bytes (at most POOL_MAX_BLOCK), not zeroed, held until the search's context goes */
static void *
block_get(HnswSearch *s, Size size)
{
	PoolBlock **prev = &pool_spare;
	PoolBlock  *b;

	for (b = pool_spare; b != NULL; prev = &b->next, b = b->next)
		if (b->size == size)
			break;
	if (b != NULL)
	{
		*prev = b->next;
		pool_spare_bytes -= size;
	}
	else
	{
		if (pool_cxt == NULL)
			pool_cxt = AllocSetContextCreate(TopMemoryContext, "hnsw search pool",
											 ALLOCSET_SMALL_SIZES);
		b = MemoryContextAlloc(pool_cxt, POOL_HDR + size);
		b->size = size;
	}
	b->next = s->blocks;
	s->blocks = b;
	s->pooled += size;
	return (char *) b + POOL_HDR;
}

/* simplehash's allocator for the visited sets: pooled up to POOL_MAX_BLOCK */
static inline void *
visited_allocate(visited_hash *tb, Size size)
{
	HnswSearch *s = (HnswSearch *) tb->private_data;
	void	   *p;

	if (size > POOL_MAX_BLOCK)
		return MemoryContextAllocExtended(tb->ctx, size, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	p = block_get(s, size);
	memset(p, 0, size);
	return p;
}

static inline void
visited_free(visited_hash *tb, void *pointer)
{
	HnswSearch *s = (HnswSearch *) tb->private_data;

	for (PoolBlock **prev = &s->blocks; *prev != NULL; prev = &(*prev)->next)
	{
		PoolBlock  *b = *prev;

		if ((char *) b + POOL_HDR == (char *) pointer)
		{
			*prev = b->next;
			s->pooled -= b->size;
			block_put(b);
			return;
		}
	}
	pfree(pointer);
}

HnswSearch *
hnsw_search_begin(HnswIndexInfo *info, Datum query, bool keep_values)
{
	HnswSearch *s = palloc0(sizeof(HnswSearch));

	s->info = info;
	s->query = query;
	s->keep_values = keep_values;
	s->qnorm = -1;
	s->radius = -INFINITY;
	s->on_reset.func = blocks_return;
	s->on_reset.arg = s;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &s->on_reset);
	return s;
}

/*
 * Range search (set before the layer-0 search starts): every element read
 * within `radius` (internal units) is admitted and expanded whatever ef is,
 * and the search stops only once the closest candidate left is farther than
 * both the radius and the ef closest.  So it reads the part of the graph
 * within the radius that is linked to where it starts, plus the ef beam.
 */
void
hnsw_search_set_radius(HnswSearch *s, double radius)
{
	s->radius = radius;
}

/* how many elements read on the current layer are within the radius */
int64
hnsw_search_within(HnswSearch *s)
{
	return s->nwithin;
}

/* bytes the search holds outside its memory context (pooled blocks) */
Size
hnsw_search_pooled(HnswSearch *s)
{
	return s->pooled;
}

int64
hnsw_search_visited(HnswSearch *s)
{
	return s->nvisited;
}

#define ARENA_BLOCK (64 * 1024)

/*
 * Items live as long as the search, and an iterative scan keeps every element
 * it read: carve them from large blocks to spend memory on data, not on
 * allocator overhead (which would double an item's size).
 */
static void *
search_alloc(HnswSearch *s, Size size)
{
	void	   *p;

	size = MAXALIGN(size);
	if (size > ARENA_BLOCK / 4)
		return palloc(size);
	if (s->arena_left < size)
	{
		s->arena = block_get(s, ARENA_BLOCK);
		s->arena_left = ARENA_BLOCK;
	}
	p = s->arena;
	s->arena += size;
	s->arena_left -= size;
	return p;
}

/* the farthest of the ef closest seen so far */
static inline double
bound_dist(HnswSearch *s)
{
	return ITEM_OF(pairingheap_first(s->bound), w_node)->c.dist;
}

/* Would an element at this distance be admitted now? */
static inline bool
would_admit(HnswSearch *s, double dist)
{
	return dist <= s->radius || s->nbound < s->ef || dist < bound_dist(s);
}

/*
 * Copy what a search needs out of an element tuple.  The neighbour list is
 * copied only for elements that will be expanded (admitted now, or `force`):
 * most elements read are not, and an iterative scan keeps them all in memory.
 */
static SearchItem *
extract_item(HnswSearch *s, ItemPointer tid, HnswElementTuple etup, Datum value, bool force)
{
	int			m = s->info->m;
	SearchItem *it = search_alloc(s, sizeof(SearchItem));

	memset(it, 0, sizeof(SearchItem));
	it->c.tid = *tid;
	if (etup->flags & HNSW_ELEMENT_FORM)
	{
		uint8		form = etup->flags & HNSW_ELEMENT_FORM;
		int			dim = hnsw_compact_dim(value, form);
		bool		exact;

		if (dim > s->scratch_dim)
		{
			s->scratch_dim = dim;
			s->scratch = MemoryContextAlloc(GetMemoryChunkContext(s), sizeof(float) * s->scratch_dim);
		}
		it->c.dist = hnsw_compact_distance(s->info, s->query, &s->qnorm, value, form,
										   s->scratch, &exact);
		it->c.form = form;
		it->c.recheck = !exact;
	}
	else
		it->c.dist = hnsw_distance(s->info, s->query, value);
	it->c.level = etup->level;
	it->c.deleted = (etup->flags & HNSW_ELEMENT_DELETED) != 0;
	it->c.ntids = etup->ntids;
	it->c.heaptids = search_alloc(s, sizeof(ItemPointerData) * Max(etup->ntids, 1));
	memcpy(it->c.heaptids, etup->heaptids, sizeof(ItemPointerData) * etup->ntids);
	it->c.value = value;
	it->nnbrs = -1;
	if (force || would_admit(s, it->c.dist))
	{
		it->nnbrs = HnswCounts(etup)[s->layer];
		it->nbrs = search_alloc(s, sizeof(ItemPointerData) * Max(it->nnbrs, 1));
		memcpy(it->nbrs, HnswNeighbors(etup, m) + hnsw_layer_start(s->layer, m),
			   sizeof(ItemPointerData) * it->nnbrs);
	}
	return it;
}

/*
 * Read the element at tid: its distance to the query, heap TIDs and (see
 * extract_item) its neighbours on the current layer.  NULL if the slot holds
 * no element on this layer.  Everything kept is copied before the store lets
 * the element go (a value only with keep_values: the store keeps it valid).
 */
static SearchItem *
read_element(HnswSearch *s, ItemPointer tid, bool force)
{
	HnswStore  *st = s->info->store;
	HnswHeld	h;
	SearchItem *it;

	s->nvisited++;
	if (!st->ops->read(st, tid, s->layer, s->keep_values ? HNSW_READ_KEEP_VALUE : 0, &h))
		return NULL;
	it = extract_item(s, tid, h.etup, h.value, force);
	if (h.must_release)
		st->ops->release(st, &h, false);
	if (!s->keep_values)
		it->c.value = (Datum) 0;
	return it;
}

/* how many elements ahead of the one being read its item lines are prefetched */
#ifndef PREFETCH_AHEAD
#define PREFETCH_AHEAD 2
#endif

/*
 * Mark tid visited on this layer; true if it already was.  The store's own
 * marks when it keeps some (generation marks per element in memory), else
 * the search's hash set.
 */
static inline bool
mark_visited(HnswSearch *s, ItemPointer tid)
{
	bool		found;

	if (s->visit_gen != 0)
	{
		HnswStore  *st = s->info->store;
		int			r = st->ops->visit(st, tid, s->visit_gen);

		if (r >= 0)
			return r == 1;
	}
	visited_insert(s->visited, tid_key(tid), &found);
	s->nseen += !found;
	return found;
}

/* CPU-cache prefetch of an element about to be read (see bufhint.c) */
static inline void
prefetch_element(HnswSearch *s, ItemPointer tid, bool item)
{
	HnswStore  *st = s->info->store;

	st->ops->prefetch(st, tid, item);
}

/* The neighbour list of an element admitted after it was read. */
static void
fetch_neighbors(HnswSearch *s, SearchItem *c)
{
	SearchItem *again = read_element(s, &c->c.tid, true);

	s->nvisited--;				/* a re-read, not a new element */
	if (again == NULL)
	{
		c->nnbrs = 0;			/* freed meanwhile: a dead end */
		return;
	}
	c->nnbrs = again->nnbrs;
	c->nbrs = again->nbrs;
}

static void
remember(HnswSearch *s, SearchItem *it)
{
	if (s->nitems == s->maxitems)
	{
		s->maxitems = Max(64, s->maxitems * 2);
		s->items = s->items ? repalloc(s->items, sizeof(SearchItem *) * s->maxitems)
			: palloc(sizeof(SearchItem *) * s->maxitems);
	}
	s->items[s->nitems++] = it;
	if (it->c.dist <= s->radius)
		s->nwithin++;
}

/* Count it among the ef closest, evicting the farthest beyond ef. */
static void
bound_push(HnswSearch *s, SearchItem *it)
{
	it->in_bound = true;
	pairingheap_add(s->bound, &it->w_node);
	if (++s->nbound > s->ef)
	{
		SearchItem *far = ITEM_OF(pairingheap_remove_first(s->bound), w_node);

		far->in_bound = false;
		s->nbound--;
	}
}

/* Queue it to be expanded and returned. */
static void
queue(HnswSearch *s, SearchItem *it)
{
	it->in_cand = true;
	s->nadmitted++;
	pairingheap_add(s->cand, &it->c_node);
	pairingheap_add(s->found, &it->f_node);
}

/* Make it a candidate: to expand, to return, and one of the ef closest. */
static void
admit(HnswSearch *s, SearchItem *it)
{
	queue(s, it);
	bound_push(s, it);
}

static void
start_layer(HnswSearch *s, List *entry, int layer)
{
	ListCell   *lc;

	s->layer = layer;
	if (s->visited != NULL)
		visited_destroy(s->visited);	/* the layer above's */
	s->visited = visited_create(CurrentMemoryContext,
								layer == 0 ? visited_hint : VISITED_UPPER, s);
	s->visit_gen = s->info->store->ops->new_visit(s->info->store);
	s->cand = pairingheap_allocate(closer_first_c, NULL);
	s->found = pairingheap_allocate(closer_first_f, NULL);
	s->bound = pairingheap_allocate(farther_first_w, NULL);
	s->nbound = 0;
	s->nitems = 0;
	s->nwithin = 0;
	s->nseen = 0;
	s->nadmitted = 0;
	s->ef = Max(s->ef, 1);

	/* entry points come from the layer above: read them again for this layer's links */
	foreach(lc, entry)
	{
		HnswCandidate *c = lfirst(lc);
		SearchItem *it;

		if (mark_visited(s, &c->tid))
			continue;
		it = read_element(s, &c->tid, true);
		if (it == NULL)
			continue;
		remember(s, it);
		admit(s, it);
	}
}

/*
 * Expand until the ef closest seen are all closer than every candidate left,
 * or max_visits elements have been read (0: no limit).  Returns false when
 * nothing is left to expand.
 */
bool
hnsw_search_more(HnswSearch *s, int ef, int64 max_visits)
{
	ItemPointerData fresh[2 * HNSW_MAX_M];	/* layer 0 has the most links */
	int			nnew;
	bool		eager = s->info->store->prefetch_eager;
	int			ahead;

	if (ef > s->ef)
	{
		/*
		 * A larger ef admits elements seen but passed over before: rebuild
		 * the bound from everything read and queue the newly admitted ones.
		 */
		s->ef = ef;
		pairingheap_reset(s->bound);
		s->nbound = 0;
		for (int i = 0; i < s->nitems; i++)
			bound_push(s, s->items[i]);
		for (int i = 0; i < s->nitems; i++)
		{
			SearchItem *it = s->items[i];

			if (it->in_bound && !it->in_cand)
				queue(s, it);
		}
	}

	while (!pairingheap_is_empty(s->cand))
	{
		SearchItem *c = ITEM_OF(pairingheap_first(s->cand), c_node);

		if (s->nbound >= s->ef && c->c.dist > bound_dist(s) && c->c.dist > s->radius)
			return true;
		if (max_visits > 0 && s->nvisited >= max_visits)
			return false;
		pairingheap_remove_first(s->cand);
		if (c->nnbrs < 0)
			fetch_neighbors(s, c);

		/*
		 * The neighbours not seen yet, with their pages prefetched before the
		 * first is read, and each element's own lines PREFETCH_AHEAD ahead
		 * (a store that prefetches eagerly: every neighbour's table line
		 * before the visited test, and every unseen one's lines at once).
		 */
		nnew = 0;
		if (eager)
			for (int i = 0; i < c->nnbrs; i++)
				prefetch_element(s, &c->nbrs[i], false);
		for (int i = 0; i < c->nnbrs; i++)
		{
			if (mark_visited(s, &c->nbrs[i]))
				continue;
			fresh[nnew++] = c->nbrs[i];
			if (!eager)
				prefetch_element(s, &c->nbrs[i], false);
		}
		ahead = eager ? nnew : PREFETCH_AHEAD;
		for (int i = 0; i < Min(nnew, ahead); i++)
			prefetch_element(s, &fresh[i], true);
		for (int i = 0; i < nnew; i++)
		{
			SearchItem *it;

			if (i + ahead < nnew)
				prefetch_element(s, &fresh[i + ahead], true);
			it = read_element(s, &fresh[i], false);
			if (it == NULL)
				continue;
			remember(s, it);
			if (it->nnbrs >= 0)
				admit(s, it);
		}
	}
	return false;
}

/*
 * True when a larger ef can give nothing more: no candidate is left to
 * expand and every element read has been admitted to the results.
 */
bool
hnsw_search_done(HnswSearch *s)
{
	return pairingheap_is_empty(s->cand) && s->nadmitted == s->nitems;
}

/*
 * Queue every element read but not admitted to be returned, without
 * expanding it: for a scan that will read nothing more (hnsw_search_done, or
 * out of hnsw.max_scan_tuples or memory), so that what it has read still
 * comes out, closest first, instead of being dropped.
 */
void
hnsw_search_release_all(HnswSearch *s)
{
	for (int i = 0; i < s->nitems; i++)
	{
		SearchItem *it = s->items[i];

		if (it->in_cand)
			continue;
		it->in_cand = true;
		s->nadmitted++;
		pairingheap_add(s->found, &it->f_node);
	}
}

/* Closest found element not yet returned, or NULL. */
HnswCandidate *
hnsw_search_next(HnswSearch *s)
{
	if (pairingheap_is_empty(s->found))
		return NULL;
	return &ITEM_OF(pairingheap_remove_first(s->found), f_node)->c;
}

void
hnsw_search_start_layer0(HnswSearch *s, List *entry)
{
	start_layer(s, entry, 0);
}

/*
 * The ef closest elements to the query on one layer, closest first,
 * starting from `entry`.
 */
List *
hnsw_search_layer(HnswSearch *s, List *entry, int ef, int layer)
{
	List	   *result = NIL;
	HnswCandidate *c;

	s->ef = ef;
	start_layer(s, entry, layer);
	hnsw_search_more(s, ef, 0);
	while (list_length(result) < ef && (c = hnsw_search_next(s)) != NULL)
		result = lappend(result, c);
	return result;
}

/* The graph's entry point as a one-element list (NIL if empty). */
List *
hnsw_search_entry(HnswSearch *s, int *entry_level)
{
	HnswCandidate *c = palloc0(sizeof(HnswCandidate));
	HnswStore  *st = s->info->store;

	st->ops->entry(st, &c->tid, entry_level);
	if (*entry_level < 0)
		return NIL;
	return list_make1(c);
}

/* ---------- neighbour selection (inserts, VACUUM's repairs) ---------- */

/*
 * HNSW's neighbour-selection heuristic: take candidates closest first, and
 * keep one only if it is closer to the new element than to every neighbour
 * already kept, which spreads links over directions and keeps the graph
 * navigable.  With keep_pruned, remaining slots are filled with the closest
 * pruned candidates (a new element's own links: more ways out of it).
 * *nkept (if not NULL) is how many of the result the heuristic kept: they
 * come first.
 */
List *
hnsw_select_neighbors(HnswIndexInfo *info, List *cands, int max, bool keep_pruned, int *nkept)
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
	if (nkept != NULL)
		*nkept = list_length(kept);
	foreach(lc, pruned)
	{
		if (!keep_pruned || list_length(kept) >= max)
			break;
		kept = lappend(kept, lfirst(lc));
	}
	return kept;
}

/*
 * Candidates for a neighbour list: the elements at `tids`, with their values
 * and their distances to the list's owner (`dists`, or computed from `from`
 * when dists is NULL).  Elements that are gone are left out.  Each is read
 * through the store with its value kept (on disk: copied under the page's
 * share lock, as are its flags, before the buffer is released; in memory:
 * in place, since values never move).
 */
List *
hnsw_load_candidates(HnswIndexInfo *info, ItemPointer tids, float4 *dists, int n, Datum from)
{
	List	   *cands = NIL;

	for (int i = 0; i < n; i++)
	{
		HnswStore  *st = info->store;
		HnswCandidate *c = palloc0(sizeof(HnswCandidate));
		HnswHeld	h;

		c->tid = tids[i];
		if (!st->ops->read(st, &tids[i], 0, HNSW_READ_KEEP_VALUE | HNSW_READ_FIXED, &h))
			continue;
		c->value = h.value;
		c->deleted = (h.etup->flags & HNSW_ELEMENT_DELETED) != 0;
		c->form = h.etup->flags & HNSW_ELEMENT_FORM;
		st->ops->release(st, &h, false);
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
