/*
 * hnswmemstore.c — CREATE INDEX's graph in memory, as an HnswStore.
 *
 * Why a file of its own: this graph used to live inside hnswbuild.c, and the
 * search and insert code reached into it beside every on-disk branch, so the
 * three files called each other.  Now the build sets the graph up and feeds
 * it (hnsw_memstore_*), and search and insert use it only through the store
 * operations, the same ones the pages answer (hnswdiskstore.c).
 *
 * Its element tuples have the on-disk layout and already carry their final
 * TIDs, assigned by packing them into virtual pages in insertion order, so
 * links are final and writing the graph out is a copy.  The graph is one
 * region of fixed size (at most maintenance_work_mem), addressed by offsets:
 * local memory in a serial build, dynamic shared memory when parallel
 * workers insert too; then an element's links and heap TIDs are read under
 * its (striped) LWLock shared and changed under it exclusive, and element
 * allocation (with its TID) is a short critical section under a spinlock.
 * Elements are read in place: a read holds the element's lock, nothing is
 * copied.  When the region is full, the graph is written out to the index
 * and the store hands over to the on-disk store (info->store changes).
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/lwlock.h"
#include "storage/spin.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "hnswstore.h"

#define MEM_LOCKS		4096	/* striped element locks (a power of two) */
#define MEM_CHUNK		1024	/* entries per chunk of the element and block tables */
#define MEM_MIN_SIZE	HNSW_MEM_MIN_SIZE

/* a virtual page of the graph */
typedef struct MemBlock
{
	int32		elem;			/* first element (element page) or owner (overflow page) */
	int32		count;			/* elements on it, or -1 for an overflow page */
	int32		chunk;			/* overflow: which chunk of the value */
} MemBlock;

/*
 * Before each element tuple in the arena.  After the tuple come its
 * overflowed value, if any, and then its link verdicts (HnswHeld.verdicts),
 * which are the build's only: they are not written out.
 */
typedef struct MemElemHdr
{
	uint32		size;			/* of the tuple */
	uint32		ovlen;			/* an overflowed value follows the tuple: its bytes, else 0 */
} MemElemHdr;

#define MEM_HDR			MAXALIGN(sizeof(MemElemHdr))
#define MEM_TUPLE(h)	((HnswElementTuple) ((char *) (h) + MEM_HDR))
#define MEM_VERDICTS(t) \
	((uint8 *) (t) + MAXALIGN(((MemElemHdr *) ((char *) (t) - MEM_HDR))->size) + \
	 MAXALIGN(((MemElemHdr *) ((char *) (t) - MEM_HDR))->ovlen))

/*
 * An element table entry: where the element is, and where in it its value
 * starts and its bytes end, packed in 64 bits so that reaching an element's
 * value (each of the build's distance computations) and prefetching all of
 * its cache lines take one load from the table, not a load of the table
 * and then one of the element's header.
 *   bits  0-39  arena offset of its MemElemHdr / MAXIMUM_ALIGNOF (8 TB)
 *   bits 40-55  the value's offset from the tuple (< BLCKSZ, or MAXALIGN of
 *               the tuple size for an overflowed value, likewise < BLCKSZ)
 *   bits 56-63  cache lines from the tuple's start to the value's end (max 255)
 */
typedef uint64 MemSlot;

#define SLOT_OFF(s)		((Size) ((s) & UINT64CONST(0xFFFFFFFFFF)) * MAXIMUM_ALIGNOF)
#define SLOT_VOFF(s)	((uint32) (((s) >> 40) & 0xFFFF))
#define SLOT_LINES(s)	((int) ((s) >> 56))
#define MEM_LINE		64
#define MEM_PREFETCH_LINES 32	/* a value's first 2 kB (1000 halves) */

static inline MemSlot
mem_make_slot(Size off, uint32 voff, Size end)
{
	uint64		lines = Min((MEM_HDR + end + MEM_LINE - 1) / MEM_LINE, 255);

	Assert(off % MAXIMUM_ALIGNOF == 0 && off / MAXIMUM_ALIGNOF <= UINT64CONST(0xFFFFFFFFFF));
	Assert(voff <= 0xFFFF);
	return (uint64) (off / MAXIMUM_ALIGNOF) | ((uint64) voff << 40) | (lines << 56);
}

/*
 * The graph's region: this header, the two directories (offsets of the
 * chunks of the element table, which maps element numbers to offsets, and
 * of the block table), then the arena that elements and table chunks are
 * carved from by a bump pointer.  Every reference is an offset from the
 * header, so each process can map the region at its own address.
 */
struct HnswMemShared
{
	Size		total;			/* bytes of the region, this header included */
	int			m;
	int			tranche;		/* of the LWLocks below (concurrent builds) */
	uint32		elemdir_cap;	/* chunks the directories have room for */
	uint32		blockdir_cap;
	bool		shm_capped;		/* /dev/shm made it smaller than maintenance_work_mem */

	slock_t		mutex;			/* protects the fields below, up to the counters */
	Size		used;			/* bump pointer: offset of the first free byte */
	uint32		nelems;
	BlockNumber nblocks;		/* next block to assign; 0 is the metapage */
	BlockNumber curblk;			/* element page being filled, or Invalid */
	Size		curfree;		/* its pd_upper - pd_lower */
	ItemPointerData entry;
	int			entry_level;
	bool		full;			/* an element did not fit: the graph is to be written out */
	bool		flushed;		/* it has been: insert on disk */
	double		flushed_at;		/* tuples indexed when it was written out because full */

	HnswMemCounts counts;		/* the build's, every participant's */

	LWLock		graphlock;		/* shared: an insert into memory; exclusive: writing out */
	LWLock		firstlock;		/* serializes the very first insert */
	LWLock		locks[MEM_LOCKS];	/* an element's links and heap TIDs, by its TID */
};

/* one process's handle on the graph: the store */
typedef struct HnswMemGraph
{
	HnswStore	store;			/* ops, and the info whose store it is */
	HnswStore  *fallback;		/* the store that takes over once the graph is written out */
	HnswMemShared *sh;
	char	   *base;			/* where offsets count from: sh */
	Size	   *elemdir;		/* chunks of MemSlot */
	Size	   *blockdir;
	int			m;
	bool		concurrent;		/* other processes insert too: take the locks */
	bool		holding;		/* this process holds graphlock shared */
	bool		holding_first;	/* and firstlock */
	MemoryContext ctx;
	uint32	   *marks;			/* per element: the visit generation that saw it */
	int64		nmarks;
	uint32		visit_gen;
} HnswMemGraph;

static inline MemBlock *
mem_block(HnswMemGraph *g, BlockNumber blk)
{
	return (MemBlock *) (g->base + g->blockdir[blk / MEM_CHUNK]) + blk % MEM_CHUNK;
}

static inline MemSlot *
mem_slot(HnswMemGraph *g, int64 idx)
{
	return (MemSlot *) (g->base + g->elemdir[idx / MEM_CHUNK]) + idx % MEM_CHUNK;
}

static inline MemElemHdr *
mem_hdr(HnswMemGraph *g, int64 idx)
{
	return (MemElemHdr *) (g->base + SLOT_OFF(*mem_slot(g, idx)));
}

/* the element number of tid, or -1 if no element is there */
static inline int64
mem_index(HnswMemGraph *g, ItemPointer tid)
{
	BlockNumber blk = ItemPointerGetBlockNumberNoCheck(tid);
	OffsetNumber off = ItemPointerGetOffsetNumberNoCheck(tid);
	MemBlock   *b;

	if (blk >= g->sh->nblocks)
		return -1;
	b = mem_block(g, blk);
	if (b->count < 0 || off < FirstOffsetNumber || off > b->count)
		return -1;
	return (int64) b->elem + off - 1;
}

/* bytes before the arena; sets the directories' capacities */
static Size
mem_layout(Size total, int m, uint32 *elemdir_cap, uint32 *blockdir_cap)
{
	Size		min_elem = MEM_HDR + hnsw_tuple_header_size(0, m) + MAXALIGN(1);
	Size		max_elems = Min(total / min_elem + 1, (Size) PG_INT32_MAX - MEM_CHUNK);
	/* an element page holds one element at least; an overflowed value's pages ~ its bytes */
	Size		max_blocks = 2 + 2 * max_elems + total / HNSW_OVERFLOW_CHUNK;

	*elemdir_cap = max_elems / MEM_CHUNK + 1;
	*blockdir_cap = max_blocks / MEM_CHUNK + 1;
	return MAXALIGN(sizeof(HnswMemShared)) + MAXALIGN(sizeof(Size) * *elemdir_cap) +
		MAXALIGN(sizeof(Size) * *blockdir_cap);
}

static HnswMemGraph *
mem_attach(HnswMemShared *sh, bool concurrent)
{
	HnswMemGraph *g = palloc0(sizeof(HnswMemGraph));

	g->sh = sh;
	g->base = (char *) sh;
	g->elemdir = (Size *) (g->base + MAXALIGN(sizeof(HnswMemShared)));
	g->blockdir = (Size *) ((char *) g->elemdir + MAXALIGN(sizeof(Size) * sh->elemdir_cap));
	g->m = sh->m;
	g->concurrent = concurrent;
	g->ctx = CurrentMemoryContext;
	if (concurrent)
		LWLockRegisterTranche(sh->tranche, "hnsw_build");
	return g;
}

/* Assign the next block (under the mutex, or before anyone else attached). */
static BlockNumber
mem_new_block(HnswMemGraph *g, int elem, int count, int chunk)
{
	HnswMemShared *sh = g->sh;
	BlockNumber blk = sh->nblocks;
	MemBlock   *b;

	if (blk % MEM_CHUNK == 0)
	{
		g->blockdir[blk / MEM_CHUNK] = sh->used;
		sh->used += MAXALIGN(sizeof(MemBlock) * MEM_CHUNK);
	}
	b = mem_block(g, blk);
	b->elem = elem;
	b->count = count;
	b->chunk = chunk;
	sh->nblocks = blk + 1;
	return blk;
}

/* An empty graph in a region of `total` bytes; `concurrent`: with its locks. */
void
hnsw_memstore_init(HnswMemShared *sh, Size total, int m, bool concurrent, bool shm_capped)
{
	HnswMemGraph *g;

	memset(sh, 0, sizeof(HnswMemShared));
	sh->total = total;
	sh->m = m;
	sh->shm_capped = shm_capped;
	sh->used = mem_layout(total, m, &sh->elemdir_cap, &sh->blockdir_cap);
	Assert(sh->used + MEM_MIN_SIZE / 2 < total);
	sh->curblk = InvalidBlockNumber;
	ItemPointerSetInvalid(&sh->entry);
	sh->entry_level = -1;
	SpinLockInit(&sh->mutex);
	pg_atomic_init_u64(&sh->counts.heaptuples, 0);
	pg_atomic_init_u64(&sh->counts.indtuples, 0);
	if (concurrent)
	{
		sh->tranche = LWLockNewTrancheId();
		LWLockInitialize(&sh->graphlock, sh->tranche);
		LWLockInitialize(&sh->firstlock, sh->tranche);
		for (int i = 0; i < MEM_LOCKS; i++)
			LWLockInitialize(&sh->locks[i], sh->tranche);
	}

	/* block 0 is the metapage: no element there */
	g = mem_attach(sh, false);
	mem_new_block(g, 0, -1, 0);
	pfree(g);
}

/*
 * Add an element: assign its TID (the next slot of the page being filled,
 * as if pages were packed in insertion order) and copy it into the arena.
 * False, with nothing changed, if the arena has no room for it: the caller
 * then writes the graph out (mem_add).
 */
static bool
mem_add_tuple(HnswMemGraph *g, HnswElementTuple etup, Size size, Datum value, ItemPointer tid)
{
	HnswMemShared *sh = g->sh;
	bool		overflow = (etup->flags & HNSW_ELEMENT_OVERFLOW) != 0;
	Size		ovlen = overflow ? VARSIZE_ANY(DatumGetPointer(value)) : 0;
	int			nchunks = (ovlen + HNSW_OVERFLOW_CHUNK - 1) / HNSW_OVERFLOW_CHUNK;
	Size		vsize = MAXALIGN(hnsw_verdict_size(etup->level, g->m));
	Size		need = MEM_HDR + MAXALIGN(size) + MAXALIGN(ovlen) + vsize;
	uint32		idx;
	bool		newpage;
	BlockNumber nnew,
				first = InvalidBlockNumber;
	Size		off;
	uint32		voff;
	MemElemHdr *h;

	/* the value follows the tuple when overflowed, else sits at its end */
	voff = overflow ? MAXALIGN(size) :
		(uint32) ((char *) HnswValuePtr(etup, g->m) - (char *) etup);

	SpinLockAcquire(&sh->mutex);
	idx = sh->nelems;
	newpage = sh->curblk == InvalidBlockNumber || sh->curfree < size + sizeof(ItemIdData);
	nnew = (newpage ? 1 : 0) + nchunks;
	/* table chunks this element starts */
	if (idx % MEM_CHUNK == 0)
		need += MAXALIGN(sizeof(MemSlot) * MEM_CHUNK);
	for (BlockNumber b = sh->nblocks; b < sh->nblocks + nnew; b++)
		if (b % MEM_CHUNK == 0)
			need += MAXALIGN(sizeof(MemBlock) * MEM_CHUNK);
	if (sh->full || sh->used + need > sh->total ||
		idx / MEM_CHUNK >= sh->elemdir_cap ||
		(sh->nblocks + nnew) / MEM_CHUNK >= sh->blockdir_cap)
	{
		sh->full = true;
		SpinLockRelease(&sh->mutex);
		return false;
	}
	if (idx % MEM_CHUNK == 0)
	{
		g->elemdir[idx / MEM_CHUNK] = sh->used;
		sh->used += MAXALIGN(sizeof(MemSlot) * MEM_CHUNK);
	}
	if (newpage)
	{
		sh->curblk = mem_new_block(g, idx, 0, 0);
		sh->curfree = HNSW_PAGE_SPACE;
	}
	sh->curfree -= size + sizeof(ItemIdData);
	ItemPointerSet(tid, sh->curblk, ++mem_block(g, sh->curblk)->count);
	/* an overflowed value's chain gets consecutive blocks */
	for (int i = 0; i < nchunks; i++)
	{
		BlockNumber b = mem_new_block(g, idx, -1, i);

		if (i == 0)
			first = b;
	}
	off = sh->used;
	sh->used += MEM_HDR + MAXALIGN(size) + MAXALIGN(ovlen) + vsize;
	*mem_slot(g, idx) = mem_make_slot(off, voff, overflow ? voff + ovlen : size);
	sh->nelems++;
	SpinLockRelease(&sh->mutex);

	/* nobody reads the element before it is linked, which comes after this */
	h = (MemElemHdr *) (g->base + off);
	h->size = size;
	h->ovlen = ovlen;
	memcpy(MEM_TUPLE(h), etup, size);
	if (overflow)
	{
		memcpy((char *) MEM_TUPLE(h) + MAXALIGN(size), DatumGetPointer(value), ovlen);
		memcpy(HnswValuePtr(MEM_TUPLE(h), g->m), &first, sizeof(BlockNumber));
	}
	memset(MEM_VERDICTS(MEM_TUPLE(h)), 0, vsize);	/* HNSW_VERDICT_UNKNOWN */
	return true;
}

/*
 * The element at tid and its value, in place, or NULL.  An element's level
 * and value never change; its links and heap TIDs are read under
 * its lock when other processes may change them.
 */
static inline HnswElementTuple
mem_element(HnswMemGraph *g, ItemPointer tid, Datum *value)
{
	int64		idx = mem_index(g, tid);
	MemSlot		slot;
	HnswElementTuple t;

	if (idx < 0)
		return NULL;
	slot = *mem_slot(g, idx);
	t = MEM_TUPLE(g->base + SLOT_OFF(slot));
	*value = PointerGetDatum((char *) t + SLOT_VOFF(slot));
	return t;
}

/*
 * An element's lock, by TID.  Each process holds one element lock at most at
 * a time (never one element's while taking another's), so they cannot
 * deadlock.  No-ops in a serial build.
 */
static inline LWLock *
mem_lock_of(HnswMemGraph *g, ItemPointer tid)
{
	uint32		key = ItemPointerGetBlockNumberNoCheck(tid) * 64 + ItemPointerGetOffsetNumberNoCheck(tid);

	return &g->sh->locks[key & (MEM_LOCKS - 1)];
}

/*
 * Read an element in place, holding its lock shared unless only what never
 * changes is wanted (level, flags, value).  Values stay where they are for
 * the whole build, written out or not, so HNSW_READ_KEEP_VALUE needs no copy.
 */
static bool
mem_read(HnswStore *st, ItemPointer tid, int layer, int flags, HnswHeld *h)
{
	HnswMemGraph *g = (HnswMemGraph *) st;
	HnswElementTuple etup = mem_element(g, tid, &h->value);

	if (etup == NULL || etup->level < layer)
		return false;
	h->etup = etup;
	h->verdicts = MEM_VERDICTS(etup);
	h->lock = NULL;
	if (g->concurrent && !(flags & HNSW_READ_FIXED))
	{
		h->lock = mem_lock_of(g, tid);
		LWLockAcquire((LWLock *) h->lock, LW_SHARED);
	}
	h->must_release = h->lock != NULL;
	return true;
}

static HnswElementTuple
mem_write(HnswStore *st, ItemPointer tid, HnswHeld *h)
{
	HnswMemGraph *g = (HnswMemGraph *) st;
	HnswElementTuple etup = mem_element(g, tid, &h->value);

	if (etup == NULL)
		return NULL;
	h->etup = etup;
	h->verdicts = MEM_VERDICTS(etup);
	h->value = (Datum) 0;
	h->lock = NULL;
	if (g->concurrent)
	{
		h->lock = mem_lock_of(g, tid);
		LWLockAcquire((LWLock *) h->lock, LW_EXCLUSIVE);
	}
	h->must_release = h->lock != NULL;
	return etup;
}

static void
mem_release(HnswStore *st, HnswHeld *h, bool changed)
{
	if (h->lock != NULL)
		LWLockRelease((LWLock *) h->lock);
	h->etup = NULL;
}

/*
 * A search's visited set on the in-memory graph: a generation number per
 * element instead of a hash table (elements have dense numbers here).  The
 * marks are this process's own, grown as the shared graph grows; one search
 * runs at a time in a process, so each layer search takes a new generation
 * and everything marked before is unvisited again.
 */
static uint32
mem_new_visit(HnswStore *st)
{
	HnswMemGraph *g = (HnswMemGraph *) st;

	if (++g->visit_gen == 0)
	{
		if (g->marks)
			memset(g->marks, 0, sizeof(uint32) * g->nmarks);
		g->visit_gen = 1;
	}
	return g->visit_gen;
}

static void
mem_grow_marks(HnswMemGraph *g, int64 idx)
{
	int64		n = Max(Max(idx + 1, g->nmarks * 2), 1024);

	if (g->marks == NULL)
		g->marks = MemoryContextAllocHuge(g->ctx, sizeof(uint32) * n);
	else
		g->marks = repalloc_huge(g->marks, sizeof(uint32) * n);
	memset(g->marks + g->nmarks, 0, sizeof(uint32) * (n - g->nmarks));
	g->nmarks = n;
}

/* 1 if tid was visited in generation gen (else marks it: 0); -1 if tid is no element */
static int
mem_visit(HnswStore *st, ItemPointer tid, uint32 gen)
{
	HnswMemGraph *g = (HnswMemGraph *) st;
	int64		idx = mem_index(g, tid);

	Assert(gen == g->visit_gen);
	if (idx < 0)
		return -1;
	if (idx >= g->nmarks)
		mem_grow_marks(g, idx);
	if (g->marks[idx] == gen)
		return 1;
	g->marks[idx] = gen;
	return 0;
}

/*
 * CPU-cache prefetch of an element the build is about to read, in two calls
 * (the store is eager, see HnswStore.prefetch_eager).  The first, for every
 * neighbour of the element expanded, fetches the line of the element table
 * that locates it and the line of its visited mark; the second, for each
 * one not visited yet, loads that table entry (in cache by then) and
 * prefetches every line the read will touch (header, links, value).  A
 * distance computation (tens of nanoseconds) is too short to hide a miss to
 * memory behind; a whole neighbourhood's misses in flight at once are not,
 * and no miss waits for another one's answer.
 */
static void
mem_prefetch(HnswStore *st, ItemPointer tid, bool item)
{
	HnswMemGraph *g = (HnswMemGraph *) st;
	int64		idx;
	MemSlot		slot;
	char	   *t;
	int			lines;

	if ((idx = mem_index(g, tid)) < 0)
		return;
	if (!item)
	{
		__builtin_prefetch(mem_slot(g, idx));
		if (idx < g->nmarks)
			__builtin_prefetch(&g->marks[idx], 1);
		return;
	}
	slot = *mem_slot(g, idx);
	t = g->base + SLOT_OFF(slot);
	lines = Min(SLOT_LINES(slot) + 1, MEM_PREFETCH_LINES);	/* +1: t is not line-aligned */
	for (int i = 0; i < lines; i++)
		__builtin_prefetch(t + i * MEM_LINE);
}

static void
mem_entry(HnswStore *st, ItemPointer entry, int *level)
{
	HnswMemGraph *g = (HnswMemGraph *) st;

	SpinLockAcquire(&g->sh->mutex);
	*entry = g->sh->entry;
	*level = g->sh->entry_level;
	SpinLockRelease(&g->sh->mutex);
}

static void
mem_set_entry(HnswStore *st, ItemPointer entry, int level)
{
	HnswMemGraph *g = (HnswMemGraph *) st;

	SpinLockAcquire(&g->sh->mutex);
	if (level > g->sh->entry_level)
	{
		g->sh->entry = *entry;
		g->sh->entry_level = level;
	}
	SpinLockRelease(&g->sh->mutex);
}

/*
 * The first element of an empty graph: true if the graph is still empty,
 * and then the caller inserts it and calls mem_end_first; false if
 * another process inserted one meanwhile.
 */
static bool
mem_begin_first(HnswMemGraph *g)
{
	int			level;
	ItemPointerData entry;

	if (!g->concurrent)
		return true;
	LWLockAcquire(&g->sh->firstlock, LW_EXCLUSIVE);
	mem_entry(&g->store, &entry, &level);
	if (level < 0)
	{
		g->holding_first = true;
		return true;
	}
	LWLockRelease(&g->sh->firstlock);
	return false;
}

/*
 * An insert that raises the top of the graph takes the same lock, for the
 * whole insert (see hnsw_insert_value); mem_end_first releases it.
 */
static void
mem_begin_top(HnswMemGraph *g)
{
	if (!g->concurrent)
		return;
	LWLockAcquire(&g->sh->firstlock, LW_EXCLUSIVE);
	g->holding_first = true;
}

static void
mem_end_first(HnswMemGraph *g)
{
	if (g->holding_first)
		LWLockRelease(&g->sh->firstlock);
	g->holding_first = false;
}

/* Write the graph out block by block (the metapage is block 0 already). */
static void
mem_flush(HnswMemGraph *g, Relation index)
{
	HnswMemShared *sh = g->sh;
	Buffer		buf;
	HnswMetaPage meta;
	BlockNumber last_element_page = InvalidBlockNumber;

	for (BlockNumber blk = HNSW_METAPAGE_BLKNO + 1; blk < sh->nblocks; blk++)
	{
		MemBlock   *d = mem_block(g, blk);
		Page		page;

		CHECK_FOR_INTERRUPTS();
		buf = hnsw_new_buffer(index, MAIN_FORKNUM);
		if (BufferGetBlockNumber(buf) != blk)
			elog(ERROR, "hnsw build expected block %u, got %u", blk, BufferGetBlockNumber(buf));
		page = BufferGetPage(buf);
		if (d->count >= 0)
		{
			hnsw_init_page(page, HNSW_PAGE_ELEMENT);
			for (int i = 0; i < d->count; i++)
			{
				MemElemHdr *h = mem_hdr(g, (int64) d->elem + i);

				if (PageAddItem(page, (Item) MEM_TUPLE(h), h->size,
								InvalidOffsetNumber, false, false) != i + 1)
					elog(ERROR, "hnsw build could not place an element on block %u", blk);
			}
			last_element_page = blk;
		}
		else
		{
			MemElemHdr *h = mem_hdr(g, d->elem);
			Size		len = h->ovlen;
			Size		from = (Size) d->chunk * HNSW_OVERFLOW_CHUNK;
			Size		chunk = Min(len - from, HNSW_OVERFLOW_CHUNK);

			hnsw_init_page(page, HNSW_PAGE_OVERFLOW);
			memcpy(PageGetContents(page), (char *) MEM_TUPLE(h) + MAXALIGN(h->size) + from, chunk);
			((PageHeader) page)->pd_lower = SizeOfPageHeaderData + chunk;
			HnswPageGetOpaque(page)->nextblkno = (from + chunk < len) ? blk + 1 : InvalidBlockNumber;
		}
		MarkBufferDirty(buf);
		UnlockReleaseBuffer(buf);
	}

	buf = ReadBuffer(index, HNSW_METAPAGE_BLKNO);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	meta = HnswPageGetMeta(BufferGetPage(buf));
	meta->entry = sh->entry;
	meta->entry_level = sh->entry_level;
	meta->insert_page = last_element_page;
	MarkBufferDirty(buf);
	UnlockReleaseBuffer(buf);
}

/*
 * Write the graph out unless another process has, once every insert into
 * it has finished (they hold graphlock shared).
 */
static void
mem_write_out(HnswMemGraph *g, Relation index)
{
	HnswMemShared *sh = g->sh;

	if (g->concurrent)
	{
		/* (a first element too large for an empty graph: others wait for it) */
		mem_end_first(g);
		if (g->holding)
			LWLockRelease(&sh->graphlock);
		g->holding = false;
		LWLockAcquire(&sh->graphlock, LW_EXCLUSIVE);
	}
	if (!sh->flushed)
	{
		mem_flush(g, index);
		SpinLockAcquire(&sh->mutex);
		sh->flushed = true;
		if (sh->full)
			sh->flushed_at = (double) pg_atomic_read_u64(&sh->counts.indtuples);
		SpinLockRelease(&sh->mutex);
	}
	if (g->concurrent)
		LWLockRelease(&sh->graphlock);
}

/* Before an insert: true if it goes into the graph in memory (else it is on disk by now). */
bool
hnsw_memstore_begin_insert(HnswStore *st)
{
	HnswMemGraph *g = (HnswMemGraph *) st;
	HnswMemShared *sh = g->sh;
	Relation	index = st->info->index;

	if (!g->concurrent)
		return !sh->flushed;
	if (sh->full)
	{
		/* the graph is about to be written out: help, rather than search it in vain */
		mem_write_out(g, index);
		return false;
	}
	LWLockAcquire(&sh->graphlock, LW_SHARED);
	if (sh->flushed)
	{
		LWLockRelease(&sh->graphlock);
		return false;
	}
	g->holding = true;
	return true;
}

void
hnsw_memstore_end_insert(HnswStore *st)
{
	HnswMemGraph *g = (HnswMemGraph *) st;

	if (g->holding)
		LWLockRelease(&g->sh->graphlock);
	g->holding = false;
}

/*
 * Place a new element in the graph.  When it does not fit, the graph is
 * written out (by this process or another, once every insert into it is
 * done), the index takes over (info->store becomes the fallback store), and
 * the element goes there: its neighbours' TIDs are the same on disk.
 */
static void
mem_add(HnswStore *st, HnswElementTuple etup, Size size, Datum value, ItemPointer tid)
{
	HnswMemGraph *g = (HnswMemGraph *) st;

	if (mem_add_tuple(g, etup, size, value, tid))
		return;
	mem_write_out(g, st->info->index);
	st->info->store = g->fallback;
	g->fallback->ops->add(g->fallback, etup, size, value, tid);
}

static bool
mem_begin_turn(HnswStore *st, bool first)
{
	HnswMemGraph *g = (HnswMemGraph *) st;

	if (first)
		return mem_begin_first(g);
	mem_begin_top(g);
	return true;
}

/* (a no-op when the graph was written out meanwhile: that gave the turn up) */
static void
mem_end_turn(HnswStore *st)
{
	mem_end_first((HnswMemGraph *) st);
}

/* a virtual page's elements (an overflow page has none) */
static int
mem_block_slots(HnswStore *st, BlockNumber blk)
{
	HnswMemGraph *g = (HnswMemGraph *) st;
	BlockNumber nblocks;
	MemBlock   *b;

	SpinLockAcquire(&g->sh->mutex);
	nblocks = g->sh->nblocks;
	SpinLockRelease(&g->sh->mutex);
	if (blk >= nblocks)
		return -1;
	b = mem_block(g, blk);
	return b->count < 0 ? 0 : b->count;
}

static const HnswStoreOps mem_ops = {
	.read = mem_read,
	.write = mem_write,
	.release = mem_release,
	.add = mem_add,
	.entry = mem_entry,
	.set_entry = mem_set_entry,
	.begin_turn = mem_begin_turn,
	.end_turn = mem_end_turn,
	.new_visit = mem_new_visit,
	.visit = mem_visit,
	.prefetch = mem_prefetch,
	.block_slots = mem_block_slots,
};

/* ---------- what the build calls ---------- */

/* The bytes one element takes in the region: for sizing it from a row estimate. */
Size
hnsw_memstore_element_size(int m, Size value_size)
{
	return MEM_HDR + hnsw_tuple_header_size(1, m) + MAXALIGN(value_size) +
		MAXALIGN(hnsw_verdict_size(1, m)) +
		sizeof(Size) + sizeof(MemBlock);
}

/*
 * This process's store on the graph in region `sh` (set up by
 * hnsw_memstore_init), for `info`, handing over to `fallback` once the graph
 * is written out.  `concurrent`: other processes insert too (take the locks).
 */
HnswStore *
hnsw_memstore_attach(HnswMemShared *sh, bool concurrent, HnswIndexInfo *info,
					 HnswStore *fallback)
{
	HnswMemGraph *g = mem_attach(sh, concurrent);

	g->store.ops = &mem_ops;
	g->store.info = info;
	g->store.verdicts = true;
	g->store.prefetch_eager = true;
	g->fallback = fallback;
	return &g->store;
}

HnswMemCounts *
hnsw_memstore_counts(HnswMemShared *sh)
{
	return &sh->counts;
}

/*
 * Every participant is done: the store that holds the graph now, this one
 * (taking no locks from now on: this process is alone) or, once the graph
 * was written out, the one it handed over to.
 */
HnswStore *
hnsw_memstore_alone(HnswStore *st)
{
	HnswMemGraph *g = (HnswMemGraph *) st;

	g->concurrent = false;
	return g->sh->flushed ? g->fallback : st;
}

/*
 * Every participant is done: write out what is still in memory (no locks:
 * this process is alone now).
 */
void
hnsw_memstore_finish(HnswStore *st)
{
	HnswMemGraph *g = (HnswMemGraph *) st;

	g->concurrent = false;
	if (!g->sh->flushed)
		mem_write_out(g, st->info->index);
}

/*
 * True once the graph has been written out because it was full: *at tells
 * how many tuples it held, *total its bytes, *shm_capped whether /dev/shm
 * made it smaller than maintenance_work_mem.
 */
bool
hnsw_memstore_overflowed(HnswMemShared *sh, double *at, Size *total, bool *shm_capped)
{
	bool		overflowed;

	if (!sh->full)				/* a peek without the spinlock: it is set once */
		return false;
	SpinLockAcquire(&sh->mutex);
	overflowed = sh->full && sh->flushed;
	*at = sh->flushed_at;
	SpinLockRelease(&sh->mutex);
	*total = sh->total;
	*shm_capped = sh->shm_capped;
	return overflowed;
}
