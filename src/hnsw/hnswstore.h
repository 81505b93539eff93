/*
 * hnswstore.h — where the graph's elements live, behind one small interface.
 *
 * Why: the search and insert algorithms are the same whether the graph is
 * CREATE INDEX's graph in memory (hnswmemstore.c) or the index's pages
 * (hnswdiskstore.c).  They reach elements, the entry point and the
 * serialization of first and new-top inserts only through these operations,
 * so they never test which store they run on, and the stores know nothing of
 * searching.  Calls go one way: scan / insert / build / vacuum -> search
 * (hnswsearch.c) -> store -> page utilities (hnswutils.c).
 */
#ifndef EMBED_HNSWSTORE_H
#define EMBED_HNSWSTORE_H

#include "port/atomics.h"

#include "hnsw.h"

/*
 * An element held by a store, for reading (shared) or for writing
 * (exclusive), between read/write and release.  `etup` and `value` point
 * into the store (a locked buffer, or the graph in memory): they are valid
 * only until the release, except a value read with HNSW_READ_KEEP_VALUE.
 */
typedef struct HnswHeld
{
	HnswElementTuple etup;
	Datum		value;			/* (Datum) 0 with HNSW_READ_NO_VALUE and for writes */
	/*
	 * false: the store holds nothing for this read or write (the in-memory
	 * graph in a serial build), and a hot path may skip the release call.
	 */
	bool		must_release;
	/*
	 * The element's link verdicts (HNSW_VERDICT_*, two bits per link slot,
	 * numbered as in HnswNeighbors), or NULL where the store keeps none (the
	 * pages).  Like the links, read under a read and changed under a write.
	 */
	uint8	   *verdicts;
	/* the store's own */
	Buffer		buf;
	void	   *lock;
	bool		writing;
	bool		free_value;
	PageWrite	w;
} HnswHeld;

/*
 * A link's verdict under the neighbour-selection heuristic, kept by the
 * build's graph in memory so that a full list takes a new link after a few
 * distance computations instead of the whole heuristic (hnswinsert.c).
 */
#define HNSW_VERDICT_UNKNOWN	0	/* not judged yet (appended to a list with room) */
#define HNSW_VERDICT_KEPT		1	/* closer to the owner than to every kept link nearer it */
#define HNSW_VERDICT_PRUNED		2	/* a nearer kept link is closer to it: a filler */

static inline int
hnsw_verdict_get(const uint8 *v, int slot)
{
	return (v[slot / 4] >> (2 * (slot % 4))) & 3;
}

static inline void
hnsw_verdict_set(uint8 *v, int slot, int verdict)
{
	v[slot / 4] = (uint8) ((v[slot / 4] & ~(3 << (2 * (slot % 4)))) | (verdict << (2 * (slot % 4))));
}

/* bytes of the verdicts of an element of `level` */
static inline Size
hnsw_verdict_size(int level, int m)
{
	return (2 * hnsw_slots(level, m) + 7) / 8;
}

/* what a read is for */
#define HNSW_READ_KEEP_VALUE	0x01	/* the value outlives the release */
#define HNSW_READ_NO_VALUE		0x02	/* links and heap TIDs only: the value is not loaded */
#define HNSW_READ_FIXED			0x04	/* only level, flags and value (they never change) */

typedef struct HnswStoreOps
{
	/*
	 * Read the element at tid, held shared: false (nothing held) if the slot
	 * holds no element, or none on `layer`.  The caller copies what it needs
	 * and calls release; it never follows a link while holding one.
	 */
	bool		(*read) (HnswStore *st, ItemPointer tid, int layer, int flags, HnswHeld *h);

	/*
	 * The element at tid held exclusively, to change in place (on disk: the
	 * WAL copy of its page), or NULL (nothing held) if there is none.  The
	 * caller checks again whatever it read before (level, counts, links).
	 */
	HnswElementTuple (*write) (HnswStore *st, ItemPointer tid, HnswHeld *h);

	/* End a read or a write; `changed`: the write changed the element (log it). */
	void		(*release) (HnswStore *st, HnswHeld *h, bool changed);

	/*
	 * Place a new element (its links already in the tuple; an overflowed
	 * value is in `value`), setting *tid.  A store that runs out of room
	 * hands the graph over to the next store (info->store changes) and the
	 * element goes there.
	 */
	void		(*add) (HnswStore *st, HnswElementTuple etup, Size size, Datum value,
						ItemPointer tid);

	/* The entry point (level -1: empty graph); set_entry raises it only. */
	void		(*entry) (HnswStore *st, ItemPointer tid, int *level);
	void		(*set_entry) (HnswStore *st, ItemPointer tid, int level);

	/*
	 * Take the turn of an insert that starts the graph (`first`: true, and
	 * the turn held, only if the graph is still empty) or raises its top
	 * (always taken); end_turn gives it back.
	 */
	bool		(*begin_turn) (HnswStore *st, bool first);
	void		(*end_turn) (HnswStore *st);

	/*
	 * Visited marks of the store's own, per layer search: new_visit returns
	 * a generation, or 0 if the store keeps none (the search then uses its
	 * own set); visit says 1 if tid was marked in generation gen, else
	 * marks it and says 0, or -1 if tid is no element.
	 */
	uint32		(*new_visit) (HnswStore *st);
	int			(*visit) (HnswStore *st, ItemPointer tid, uint32 gen);

	/* CPU-cache prefetch of an element about to be read (its slot, or `item`: its lines) */
	void		(*prefetch) (HnswStore *st, ItemPointer tid, bool item);

	/*
	 * The element slots block blk has now (offsets 1..n may hold elements;
	 * 0 for a block of another kind), or -1 past the last block: how a walk
	 * of the whole graph (hnswconnect.c) numbers the elements.
	 */
	int			(*block_slots) (HnswStore *st, BlockNumber blk);
} HnswStoreOps;

struct HnswStore
{
	const HnswStoreOps *ops;
	HnswIndexInfo *info;
	bool		verdicts;		/* its elements carry link verdicts (HnswHeld.verdicts) */

	/*
	 * How a search prefetches the neighbours of the element it expands.
	 * false (pages): a first prefetch reads a page's lines (TLB misses), so
	 * it goes only to the neighbours not visited yet, and the items two
	 * ahead of their reads.  true (memory): the first prefetch is one line
	 * of the element table (and of the visited marks), cheap enough for
	 * every neighbour before the visited test, which then hits the cache;
	 * the second loads that line and prefetches all of the element, for
	 * every unseen neighbour before the first is read.  Three rounds of
	 * independent misses instead of a chain of dependent ones per
	 * neighbour: a 300k x 100 build with one worker took 19% less time.
	 */
	bool		prefetch_eager;
};

/* the index's own pages (hnswdiskstore.c), allocated in the current memory context */
extern HnswStore *hnsw_disk_store(HnswIndexInfo *info);

/*
 * The graph of a build in one region of memory (hnswmemstore.c): only
 * hnswbuild.c sets it up, feeds it and writes it out.
 */
typedef struct HnswMemShared HnswMemShared;

/* the build's counts, kept in the region so that every participant adds to them */
typedef struct HnswMemCounts
{
	pg_atomic_uint64 heaptuples;
	pg_atomic_uint64 indtuples;
} HnswMemCounts;

#define HNSW_MEM_MIN_SIZE	((Size) 1024 * 1024)	/* holds the header and the largest element */

extern Size hnsw_memstore_element_size(int m, Size value_size);
extern void hnsw_memstore_init(HnswMemShared *sh, Size total, int m, bool concurrent,
							   bool shm_capped);
extern HnswStore *hnsw_memstore_attach(HnswMemShared *sh, bool concurrent, HnswIndexInfo *info,
									   HnswStore *fallback);
extern HnswMemCounts *hnsw_memstore_counts(HnswMemShared *sh);
extern bool hnsw_memstore_begin_insert(HnswStore *st);
extern void hnsw_memstore_end_insert(HnswStore *st);
extern HnswStore *hnsw_memstore_alone(HnswStore *st);
extern void hnsw_memstore_finish(HnswStore *st);
extern bool hnsw_memstore_overflowed(HnswMemShared *sh, double *at, Size *total,
									 bool *shm_capped);

#endif
