/*
 * hnswbuild.c — CREATE INDEX and the init fork of unlogged indexes.
 *
 * The build inserts every heap tuple through the same code as aminsert, but
 * into a graph held in memory (HnswMemGraph): element tuples with the on-disk
 * layout whose TIDs are assigned up front by packing them into virtual pages
 * in insertion order, so links are final and writing out is a copy.
 *
 * The graph is one region of fixed size (at most maintenance_work_mem),
 * addressed by offsets: local memory in a serial build, dynamic shared memory
 * when parallel workers are allowed.  Then the leader and the workers each
 * take blocks of a parallel heap scan and insert into the same graph; an
 * element's links are read under a shared lock and changed under an
 * exclusive one (striped LWLocks), and element allocation (with its TID) is
 * a short critical section under a spinlock.
 *
 * If the region fills up, the graph is written out and the build goes on
 * inserting into the on-disk index, slower but with no memory cliff: every
 * in-memory insert holds the graph lock shared, and whoever first finds the
 * region full takes it exclusively and writes the graph out; then everyone
 * inserts on disk, whose page locks already allow concurrent inserts.
 * Nothing is WAL-logged until the end, when the finished relation is logged
 * in one pass (log_newpage_range) for crash recovery and replicas.
 */
#include "postgres.h"

#include "access/parallel.h"
#include "access/tableam.h"
#include "access/xloginsert.h"
#include "catalog/index.h"
#include "commands/progress.h"
#include "miscadmin.h"
#include "optimizer/plancat.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "storage/bufmgr.h"
#include "storage/lwlock.h"
#include "storage/spin.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "../parbuild.h"
#include "../vector.h"
#include "hnsw.h"

#define MEM_LOCKS		4096	/* striped element locks (a power of two) */
#define MEM_CHUNK		1024	/* entries per chunk of the element and block tables */
#define MEM_MIN_SIZE	((Size) 1024 * 1024)	/* holds the header and the largest element */

/* a virtual page of the graph */
typedef struct MemBlock
{
	int32		elem;			/* first element (element page) or owner (overflow page) */
	int32		count;			/* elements on it, or -1 for an overflow page */
	int32		chunk;			/* overflow: which chunk of the value */
} MemBlock;

/* before each element tuple in the arena */
typedef struct MemElemHdr
{
	uint32		size;			/* of the tuple */
	uint32		ovlen;			/* an overflowed value follows the tuple: its bytes, else 0 */
} MemElemHdr;

#define MEM_HDR			MAXALIGN(sizeof(MemElemHdr))
#define MEM_TUPLE(h)	((HnswElementTuple) ((char *) (h) + MEM_HDR))

/*
 * The graph's region: this header, the two directories (offsets of the
 * chunks of the element table, which maps element numbers to offsets, and
 * of the block table), then the arena that elements and table chunks are
 * carved from by a bump pointer.  Every reference is an offset from the
 * header, so each process can map the region at its own address.
 */
typedef struct HnswMemShared
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

	pg_atomic_uint64 heaptuples;	/* the build's counts, every participant's */
	pg_atomic_uint64 indtuples;

	LWLock		graphlock;		/* shared: an insert into memory; exclusive: writing out */
	LWLock		firstlock;		/* serializes the very first insert */
	LWLock		locks[MEM_LOCKS];	/* an element's links and heap TIDs, by its TID */
} HnswMemShared;

/* one process's handle on the graph */
struct HnswMemGraph
{
	HnswMemShared *sh;
	char	   *base;			/* where offsets count from: sh */
	Size	   *elemdir;
	Size	   *blockdir;
	int			m;
	bool		concurrent;		/* other processes insert too: take the locks */
	bool		holding;		/* this process holds graphlock shared */
	bool		holding_first;	/* and firstlock */
	MemoryContext ctx;
	uint32	   *marks;			/* per element: the visit generation that saw it */
	int64		nmarks;
	uint32		visit_gen;
};

static inline MemBlock *
mem_block(HnswMemGraph *g, BlockNumber blk)
{
	return (MemBlock *) (g->base + g->blockdir[blk / MEM_CHUNK]) + blk % MEM_CHUNK;
}

static inline Size *
mem_slot(HnswMemGraph *g, int64 idx)
{
	return (Size *) (g->base + g->elemdir[idx / MEM_CHUNK]) + idx % MEM_CHUNK;
}

static inline MemElemHdr *
mem_hdr(HnswMemGraph *g, int64 idx)
{
	return (MemElemHdr *) (g->base + *mem_slot(g, idx));
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
static void
mem_init(HnswMemShared *sh, Size total, int m, bool concurrent, bool shm_capped)
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
	pg_atomic_init_u64(&sh->heaptuples, 0);
	pg_atomic_init_u64(&sh->indtuples, 0);
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
 * then writes the graph out (hnsw_mem_overflow).
 */
bool
hnsw_mem_add(HnswMemGraph *g, HnswElementTuple etup, Size size, Datum value, ItemPointer tid)
{
	HnswMemShared *sh = g->sh;
	bool		overflow = (etup->flags & HNSW_ELEMENT_OVERFLOW) != 0;
	Size		ovlen = overflow ? VARSIZE_ANY(DatumGetPointer(value)) : 0;
	int			nchunks = (ovlen + HNSW_OVERFLOW_CHUNK - 1) / HNSW_OVERFLOW_CHUNK;
	Size		need = MEM_HDR + MAXALIGN(size) + MAXALIGN(ovlen);
	uint32		idx;
	bool		newpage;
	BlockNumber nnew,
				first = InvalidBlockNumber;
	Size		off;
	MemElemHdr *h;

	SpinLockAcquire(&sh->mutex);
	idx = sh->nelems;
	newpage = sh->curblk == InvalidBlockNumber || sh->curfree < size + sizeof(ItemIdData);
	nnew = (newpage ? 1 : 0) + nchunks;
	/* table chunks this element starts */
	if (idx % MEM_CHUNK == 0)
		need += MAXALIGN(sizeof(Size) * MEM_CHUNK);
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
		sh->used += MAXALIGN(sizeof(Size) * MEM_CHUNK);
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
	sh->used += MEM_HDR + MAXALIGN(size) + MAXALIGN(ovlen);
	*mem_slot(g, idx) = off;
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
	return true;
}

/*
 * The element at tid and its value, in place, or NULL.  An element's level
 * and value never change; its links and heap TIDs are read under
 * hnsw_mem_lock when other processes may change them.
 */
HnswElementTuple
hnsw_mem_element(HnswMemGraph *g, ItemPointer tid, Datum *value)
{
	int64		idx = mem_index(g, tid);
	MemElemHdr *h;
	HnswElementTuple t;

	if (idx < 0)
		return NULL;
	h = mem_hdr(g, idx);
	t = MEM_TUPLE(h);
	*value = PointerGetDatum(h->ovlen ? (char *) t + MAXALIGN(h->size) : HnswValuePtr(t, g->m));
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

void
hnsw_mem_lock(HnswMemGraph *g, ItemPointer tid, bool exclusive)
{
	if (g->concurrent)
		LWLockAcquire(mem_lock_of(g, tid), exclusive ? LW_EXCLUSIVE : LW_SHARED);
}

void
hnsw_mem_unlock(HnswMemGraph *g, ItemPointer tid)
{
	if (g->concurrent)
		LWLockRelease(mem_lock_of(g, tid));
}

/*
 * A search's visited set on the in-memory graph: a generation number per
 * element instead of a hash table (elements have dense numbers here).  The
 * marks are this process's own, grown as the shared graph grows; one search
 * runs at a time in a process, so each layer search takes a new generation
 * and everything marked before is unvisited again.
 */
uint32
hnsw_mem_new_visit(HnswMemGraph *g)
{
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
int
hnsw_mem_visit(HnswMemGraph *g, ItemPointer tid, uint32 gen)
{
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

/* CPU-cache prefetch of an element the build is about to read: its slot, then its lines */
void
hnsw_mem_prefetch(HnswMemGraph *g, ItemPointer tid, bool item)
{
	BlockNumber blk = ItemPointerGetBlockNumberNoCheck(tid);

	if (blk >= g->sh->nblocks)
		return;
	if (!item)
		__builtin_prefetch(mem_block(g, blk));
	else
	{
		int64		idx = mem_index(g, tid);

		if (idx >= 0)
		{
			char	   *t = (char *) mem_hdr(g, idx);

			for (int i = 0; i < 256; i += 64)
				__builtin_prefetch(t + i);
		}
	}
}

void
hnsw_mem_entry(HnswMemGraph *g, ItemPointer entry, int *level)
{
	SpinLockAcquire(&g->sh->mutex);
	*entry = g->sh->entry;
	*level = g->sh->entry_level;
	SpinLockRelease(&g->sh->mutex);
}

void
hnsw_mem_set_entry(HnswMemGraph *g, ItemPointer entry, int level)
{
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
 * and then the caller inserts it and calls hnsw_mem_end_first; false if
 * another process inserted one meanwhile.
 */
bool
hnsw_mem_begin_first(HnswMemGraph *g)
{
	int			level;
	ItemPointerData entry;

	if (!g->concurrent)
		return true;
	LWLockAcquire(&g->sh->firstlock, LW_EXCLUSIVE);
	hnsw_mem_entry(g, &entry, &level);
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
 * whole insert (see hnsw_insert_value); hnsw_mem_end_first releases it.
 */
void
hnsw_mem_begin_top(HnswMemGraph *g)
{
	if (!g->concurrent)
		return;
	LWLockAcquire(&g->sh->firstlock, LW_EXCLUSIVE);
	g->holding_first = true;
}

void
hnsw_mem_end_first(HnswMemGraph *g)
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
		hnsw_mem_end_first(g);
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
			sh->flushed_at = (double) pg_atomic_read_u64(&sh->indtuples);
		SpinLockRelease(&sh->mutex);
	}
	if (g->concurrent)
		LWLockRelease(&sh->graphlock);
}

/*
 * hnsw_mem_add found no room: from now on this process inserts on disk,
 * the graph being written there first (by this process or another).
 */
void
hnsw_mem_overflow(HnswIndexInfo *info)
{
	mem_write_out(info->mem, info->index);
	info->mem = NULL;
}

/* Before an insert: true if it goes into the graph in memory (else it is on disk by now). */
static bool
mem_begin_insert(HnswMemGraph *g, Relation index)
{
	HnswMemShared *sh = g->sh;

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

static void
mem_end_insert(HnswMemGraph *g)
{
	if (g->holding)
		LWLockRelease(&g->sh->graphlock);
	g->holding = false;
}

/*
 * The region's size: maintenance_work_mem, but in shared memory not more
 * than embed_shm_room() (what /dev/shm can back): a smaller graph is only a
 * slower build.  0 if shared memory has no room for a useful one.
 */
static Size
graph_size(bool shared, bool *shm_capped)
{
	Size		size = Max((Size) maintenance_work_mem * 1024, MEM_MIN_SIZE);

	*shm_capped = false;
	if (shared)
	{
		Size		room = embed_shm_room();

		if (room < size)
		{
			size = room;
			*shm_capped = true;
		}
		if (size < MEM_MIN_SIZE)
			return 0;
	}
	return size;
}

/*
 * An upper estimate of the whole table's graph, when the column's
 * dimensions are declared and the values are embed's vectors: the row count
 * as the planner estimates it (scaled to the table's current size), each row
 * a full-precision element with links on two layers and its share of the
 * tables, then half again.  0 when unknown.
 */
static Size
graph_need(Relation heap, Relation index, int m)
{
	int32		dim = TupleDescAttr(RelationGetDescr(index), 0)->atttypmod;
	BlockNumber pages;
	double		tuples,
				allvisfrac,
				need;
	Size		per;

	if (dim <= 0 || dim > VECTOR_MAX_DIM ||
		vector_distance_of(index_getprocinfo(index, 1, HNSW_DISTANCE_PROC)) == VECTOR_DIST_OTHER)
		return 0;
	estimate_rel_size(heap, NULL, &pages, &tuples, &allvisfrac);
	per = MEM_HDR + hnsw_tuple_header_size(1, m) + MAXALIGN(VECTOR_SIZE(dim)) +
		sizeof(Size) + sizeof(MemBlock);
	need = 1.5 * Max(tuples, 1.0) * per + 16.0 * MEM_MIN_SIZE;
	return need < (double) MaxAllocHugeSize ? (Size) need : 0;
}

/* ---------- the build ---------- */

typedef struct HnswBuildState
{
	HnswIndexInfo info;			/* info.mem: the graph while inserts go there */
	HnswMemGraph *graph;		/* this process's handle on it */
	bool		leader;			/* reports progress and the NOTICE */
	bool		noticed;
	int64		ncalls;
	MemoryContext tmpctx;
} HnswBuildState;

/* a parallel build, in dynamic shared memory (the graph under its own key) */
typedef struct HnswBuildShared
{
	EmbedParallelShared base;	/* base.mutex guards brokenhotchain */
	bool		brokenhotchain;	/* a worker's scan found one */
} HnswBuildShared;

#define HNSW_KEY_GRAPH	UINT64CONST(0xE4BED00000000102)

typedef struct HnswParallel
{
	EmbedParallel base;
	HnswBuildShared *shared;	/* base.shared */
	HnswMemShared *graph;
} HnswParallel;

PGDLLEXPORT void hnsw_parallel_build_main(dsm_segment *seg, shm_toc *toc);

static void
init_metapage(Page page, int m, int ef_construction)
{
	HnswMetaPage meta;

	hnsw_init_page(page, HNSW_PAGE_META);
	meta = HnswPageGetMeta(page);
	meta->magic = HNSW_MAGIC;
	meta->version = HNSW_VERSION;
	meta->m = m;
	meta->ef_construction = ef_construction;
	meta->entry_level = -1;
	ItemPointerSetInvalid(&meta->entry);
	meta->insert_page = InvalidBlockNumber;
	((PageHeader) page)->pd_lower = ((char *) meta + sizeof(HnswMetaPageData)) - (char *) page;
}

/* The leader says once that the graph went to disk, whoever wrote it out. */
static void
maybe_notice(HnswBuildState *bs)
{
	HnswMemShared *sh = bs->graph->sh;
	bool		overflowed;
	double		at;

	if (!bs->leader || bs->noticed || !sh->full)
		return;
	SpinLockAcquire(&sh->mutex);
	overflowed = sh->full && sh->flushed;
	at = sh->flushed_at;
	SpinLockRelease(&sh->mutex);
	if (!overflowed)
		return;
	bs->noticed = true;
	if (sh->shm_capped)
		ereport(NOTICE,
				(errmsg("hnsw graph no longer fits into maintenance_work_mem"),
				 errdetail("It held %.0f tuples in %zu MB, all the shared memory available; the build goes on in the index itself, which is slower.",
						   at, sh->total / (1024 * 1024)),
				 errhint("Make more room in /dev/shm, or build with max_parallel_maintenance_workers = 0.")));
	else
		ereport(NOTICE,
				(errmsg("hnsw graph no longer fits into maintenance_work_mem"),
				 errdetail("It held %.0f tuples; the build goes on in the index itself, which is slower.", at),
				 errhint("Increase maintenance_work_mem to build faster.")));
}

static void
build_callback(Relation index, ItemPointer tid, Datum *values, bool *isnull,
			   bool tupleIsAlive, void *state)
{
	HnswBuildState *bs = (HnswBuildState *) state;
	HnswMemShared *sh = bs->graph->sh;
	HnswMemGraph *g = bs->info.mem;
	uint64		seen = pg_atomic_add_fetch_u64(&sh->heaptuples, 1);
	MemoryContext old;

	if (++bs->ncalls % 256 == 0 && bs->leader)
		pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, (int64) seen);
	if (isnull[0])
		return;

	if (g != NULL && !mem_begin_insert(g, index))
		bs->info.mem = g = NULL;
	old = MemoryContextSwitchTo(bs->tmpctx);
	if (hnsw_insert_value(&bs->info, PointerGetDatum(PG_DETOAST_DATUM(values[0])), tid))
		pg_atomic_add_fetch_u64(&sh->indtuples, 1);
	MemoryContextSwitchTo(old);
	MemoryContextReset(bs->tmpctx);
	if (g != NULL)
		mem_end_insert(g);
	maybe_notice(bs);
}

static void
build_state_init(HnswBuildState *bs, Relation index, HnswMemShared *graph, bool concurrent,
				 bool leader)
{
	memset(bs, 0, sizeof(*bs));
	hnsw_index_info(&bs->info, index, true);
	bs->graph = mem_attach(graph, concurrent);
	bs->info.mem = bs->graph;
	bs->leader = leader;
	bs->tmpctx = AllocSetContextCreate(CurrentMemoryContext, "hnsw build", ALLOCSET_DEFAULT_SIZES);
}

/* a worker's share: its blocks of the heap, into the shared graph */
static void
insert_share(dsm_segment *seg, EmbedParallelShared *base, void *graph, Relation heap,
			 Relation index)
{
	HnswBuildShared *shared = (HnswBuildShared *) base;
	IndexInfo  *indexInfo = BuildIndexInfo(index);
	HnswBuildState bs;
	TableScanDesc scan;

	indexInfo->ii_Concurrent = base->isconcurrent;
	build_state_init(&bs, index, graph, true, false);
	scan = embed_parallel_beginscan(heap, base);
	table_index_build_scan(heap, index, indexInfo, true, false, build_callback, &bs, scan);
	elog(DEBUG2, "hnsw build worker: %lld heap tuples", (long long) bs.ncalls);
	if (indexInfo->ii_BrokenHotChain)
	{
		SpinLockAcquire(&shared->base.mutex);
		shared->brokenhotchain = true;
		SpinLockRelease(&shared->base.mutex);
	}
}

/* entry point of a parallel worker, called by name */
void
hnsw_parallel_build_main(dsm_segment *seg, shm_toc *toc)
{
	embed_parallel_work(seg, toc, HNSW_KEY_GRAPH, insert_share);
}

/*
 * Set up the shared graph and the parallel heap scan, and launch the
 * workers.  NULL (nothing to undo) when shared memory has no room.
 */
static HnswParallel *
begin_parallel(Relation heap, Relation index, IndexInfo *indexInfo, int m, int nworkers)
{
	HnswParallel *par;
	bool		shm_capped;
	EmbedParallelChunk graph = {HNSW_KEY_GRAPH, graph_size(true, &shm_capped)};
	Size		need = graph_need(heap, index, m);
	int			launched;

	if (graph.size == 0)
		return NULL;
	/* shared memory is backed when created: take no more than the table needs */
	if (need > 0 && need < graph.size)
		graph.size = need;
	par = palloc0(sizeof(HnswParallel));
	if (!embed_parallel_begin(&par->base, "hnsw_parallel_build_main", nworkers, heap, index,
							  indexInfo, sizeof(HnswBuildShared), &graph, 1))
	{
		pfree(par);
		return NULL;
	}
	par->shared = (HnswBuildShared *) par->base.shared;
	par->graph = graph.addr;
	mem_init(par->graph, graph.size, m, true, shm_capped);

	launched = embed_parallel_launch(&par->base);
	elog(DEBUG1, "hnsw build: inserting with %d parallel workers requested", nworkers);
	elog(DEBUG2, "hnsw build: %d parallel workers launched, graph of %zu kB in shared memory",
		 launched, graph.size / 1024);
	return par;
}

IndexBuildResult *
hnswbuild(Relation heap, Relation index, IndexInfo *indexInfo)
{
	IndexBuildResult *result;
	HnswBuildState bs;
	HnswParallel *par = NULL;
	HnswMemShared *graph;
	TableScanDesc scan = NULL;
	Buffer		buf;
	int			m,
				efc,
				nworkers;

	if (RelationGetNumberOfBlocks(index) != 0)
		elog(ERROR, "index \"%s\" already contains data", RelationGetRelationName(index));

	hnsw_build_options(index, &m, &efc);

	/* metapage, then the graph; WAL for all of it at the end */
	buf = hnsw_new_buffer(index, MAIN_FORKNUM);
	Assert(BufferGetBlockNumber(buf) == HNSW_METAPAGE_BLKNO);
	init_metapage(BufferGetPage(buf), m, efc);
	MarkBufferDirty(buf);
	UnlockReleaseBuffer(buf);

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, HNSW_PHASE_BUILD);
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL,
								 (int64) Max(heap->rd_rel->reltuples, 0));

	/* workers insert into the graph in shared memory with the leader; else alone, in local memory */
	nworkers = embed_build_workers(heap, index, indexInfo);
	if (nworkers > 0)
		par = begin_parallel(heap, index, indexInfo, m, nworkers);
	if (par != NULL)
	{
		graph = par->graph;
		/* a leader left alone needs no locks */
		build_state_init(&bs, index, graph, par->base.pcxt->nworkers_launched > 0, true);
		scan = embed_parallel_beginscan(heap, &par->shared->base);
	}
	else
	{
		bool		capped;
		Size		size = graph_size(false, &capped);

		graph = MemoryContextAllocHuge(CurrentMemoryContext, size);
		mem_init(graph, size, m, false, false);
		build_state_init(&bs, index, graph, false, true);
	}
	table_index_build_scan(heap, index, indexInfo, true, true, build_callback, &bs, scan);
	if (par != NULL)
	{
		elog(DEBUG2, "hnsw build leader: %lld heap tuples", (long long) bs.ncalls);
		WaitForParallelWorkersToFinish(par->base.pcxt);
		if (par->shared->brokenhotchain)
			indexInfo->ii_BrokenHotChain = true;
	}

	/* every participant is done: write out what is still in memory */
	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, HNSW_PHASE_WAL);
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE,
								 (int64) pg_atomic_read_u64(&graph->heaptuples));
	bs.graph->concurrent = false;
	if (!graph->flushed)
		mem_write_out(bs.graph, index);
	maybe_notice(&bs);

	result = palloc(sizeof(IndexBuildResult));
	result->heap_tuples = (double) pg_atomic_read_u64(&graph->heaptuples);
	result->index_tuples = (double) pg_atomic_read_u64(&graph->indtuples);

	if (par != NULL)
		embed_parallel_end(&par->base);
	else
		pfree(graph);
	if (RelationNeedsWAL(index))
		log_newpage_range(index, MAIN_FORKNUM, 0, RelationGetNumberOfBlocks(index), true);

	MemoryContextDelete(bs.tmpctx);
	return result;
}

/* The init fork of an unlogged index: an empty metapage. */
void
hnswbuildempty(Relation index)
{
	Buffer		buf;
	int			m,
				efc;

	hnsw_build_options(index, &m, &efc);
	buf = hnsw_new_buffer(index, INIT_FORKNUM);
	START_CRIT_SECTION();
	init_metapage(BufferGetPage(buf), m, efc);
	MarkBufferDirty(buf);
	log_newpage_buffer(buf, true);
	END_CRIT_SECTION();
	UnlockReleaseBuffer(buf);
}
