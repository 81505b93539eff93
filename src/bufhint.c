/*
 * bufhint.c — ReadBuffer with a backend-local memory of where blocks were.
 *
 * A graph search reads hundreds of random index pages per query, and for a
 * page already in shared buffers the cost of ReadBuffer is mostly the
 * buffer-mapping lookup: hashing the tag and taking a partition lock.  We
 * remember the buffer each (relation, block) was last found in, and
 * ReadRecentBuffer (PostgreSQL 14+) pins it directly after checking that it
 * still holds that block; a stale hint just falls back to ReadBuffer.  A
 * hint is only ever a hint: a wrong one costs a lookup, never a wrong page.
 *
 * The same hints let a search prefetch into the CPU cache the pages it is
 * about to read (a search knows all of an element's neighbours before it
 * reads the first), so their cache misses overlap instead of queueing.
 */
#include "postgres.h"

#include "storage/buf_internals.h"
#include "storage/bufpage.h"
#include "utils/memutils.h"

#include "bufhint.h"

/*
 * The hints of a relation are an array indexed by block number, so that a
 * search over an index of a few thousand pages touches a few tens of KB of
 * them, which stay in the CPU's cache (their lookup comes first on every
 * step of a search).  A few relations keep arrays, most recently used
 * first; blocks past HINT_MAX_BLOCKS, and further relations, share a small
 * hashed table instead.  A slot holds only a buffer number.  What block the
 * buffer holds is checked where it matters: ReadRecentBuffer checks the
 * tag, and a prefetch of the wrong page costs nothing but the prefetch.
 */
#define HINT_RELS		4
#define HINT_MAX_BLOCKS	(1 << 20)	/* 4 MB of hints: an 8 GB index */
#define HINT_HASH_SLOTS	(1 << 14)
#ifndef PREFETCH_ITEM_BYTES
#define PREFETCH_ITEM_BYTES 4096
#endif

#if PG_VERSION_NUM >= 140000
typedef struct RelHints
{
	Oid			relnumber;
	uint32		nblocks;		/* slots allocated */
	Buffer	   *slots;
} RelHints;

static RelHints relhints[HINT_RELS];	/* [0] is the most recently used */
static Buffer *hashed;

/*
 * The hint slot of a block; with `grow`, made to exist (the caller stores
 * into it), else NULL when there is none yet.
 */
static Buffer *
hint_slot_slow(Oid relnumber, BlockNumber blkno, bool grow)
{
	int			i;

	for (i = 0; i < HINT_RELS; i++)
		if (relhints[i].relnumber == relnumber && relhints[i].slots != NULL)
			break;
	if (i == HINT_RELS)
	{
		if (!grow)
			return NULL;
		/* the least recently used gives way */
		i = HINT_RELS - 1;
		if (relhints[i].slots != NULL)
			pfree(relhints[i].slots);
		relhints[i].relnumber = relnumber;
		relhints[i].nblocks = 0;
		relhints[i].slots = NULL;
	}
	if (i > 0)
	{
		RelHints	r = relhints[i];

		memmove(&relhints[1], &relhints[0], sizeof(RelHints) * i);
		relhints[0] = r;
	}
	if (blkno >= relhints[0].nblocks)
	{
		uint32		n = Max(relhints[0].nblocks, 1024);

		if (blkno >= HINT_MAX_BLOCKS)
		{
			if (hashed == NULL)
			{
				if (!grow)
					return NULL;
				hashed = MemoryContextAllocZero(TopMemoryContext, sizeof(Buffer) * HINT_HASH_SLOTS);
			}
			return &hashed[(blkno * 2654435761u ^ relnumber * 40503u) & (HINT_HASH_SLOTS - 1)];
		}
		if (!grow)
			return NULL;
		while (n <= blkno)
			n *= 2;
		n = Min(n, HINT_MAX_BLOCKS);
		relhints[0].slots = relhints[0].slots
			? repalloc(relhints[0].slots, sizeof(Buffer) * n)
			: MemoryContextAlloc(TopMemoryContext, sizeof(Buffer) * n);
		memset(relhints[0].slots + relhints[0].nblocks, 0,
			   sizeof(Buffer) * (n - relhints[0].nblocks));
		relhints[0].nblocks = n;
	}
	return &relhints[0].slots[blkno];
}

static inline Buffer *
hint_slot(Oid relnumber, BlockNumber blkno, bool grow)
{
	if (likely(relhints[0].relnumber == relnumber && blkno < relhints[0].nblocks))
		return &relhints[0].slots[blkno];
	return hint_slot_slow(relnumber, blkno, grow);
}

static inline Oid
rel_number(Relation rel)
{
#if PG_VERSION_NUM >= 160000
	return rel->rd_locator.relNumber;
#else
	return rel->rd_node.relNode;
#endif
}
#endif

/*
 * Prefetch what reading item `off` of block `blkno` touches first, when the
 * hints say which shared buffer held the block: the buffer descriptor, the
 * page header, the line pointer and the special space; with `item`, the item itself (up to
 * PREFETCH_ITEM_BYTES).  That reads the line pointer without a pin or lock, which is
 * harmless: it is only an address to prefetch, bounded to the page, and a
 * prefetch never faults.  Reading the item for real goes through the
 * buffer manager and its lock as always.
 */
void
embed_prefetch_item(Relation rel, BlockNumber blkno, OffsetNumber off, bool item)
{
#if PG_VERSION_NUM >= 140000 && defined(__GNUC__)
	Buffer	   *slot = hint_slot(rel_number(rel), blkno, false);
	Buffer		buf = slot ? *slot : InvalidBuffer;
	char	   *page;

	/* an offset from a corrupt link must not take the line pointer off the page */
	if (buf <= 0 || buf > NBuffers || off < FirstOffsetNumber ||
		offsetof(PageHeaderData, pd_linp) + off * sizeof(ItemIdData) > BLCKSZ)
		return;
	page = (char *) BufferGetBlock(buf);
	if (!item)
	{
		__builtin_prefetch(GetBufferDescriptor(buf - 1), 1);
		__builtin_prefetch(page);
		__builtin_prefetch(page + offsetof(PageHeaderData, pd_linp) +
						   (off - 1) * sizeof(ItemIdData));
		/* the special space, where index pages keep their type */
		__builtin_prefetch(page + BLCKSZ - 1);
	}
	else
	{
		ItemId		iid = (ItemId) (page + offsetof(PageHeaderData, pd_linp) +
									(off - 1) * sizeof(ItemIdData));
		unsigned	lp_off = iid->lp_off;
		unsigned	lp_len = iid->lp_len;

		if (lp_off >= SizeOfPageHeaderData && lp_off < BLCKSZ)
		{
			unsigned	end = Min(BLCKSZ, lp_off + Min(lp_len, PREFETCH_ITEM_BYTES));

			for (unsigned i = lp_off; i < end; i += 64)
				__builtin_prefetch(page + i);
		}
	}
#endif
}

Buffer
embed_read_buffer(Relation rel, BlockNumber blkno)
{
#if PG_VERSION_NUM >= 140000
	Buffer	   *h = hint_slot(rel_number(rel), blkno, true);
	Buffer		buf = *h;

	if (buf > 0 && buf <= NBuffers &&
#if PG_VERSION_NUM >= 160000
		ReadRecentBuffer(rel->rd_locator, MAIN_FORKNUM, blkno, buf)
#else
		ReadRecentBuffer(rel->rd_node, MAIN_FORKNUM, blkno, buf)
#endif
		)
		return buf;
	buf = ReadBuffer(rel, blkno);
	*h = buf;
	return buf;
#else
	return ReadBuffer(rel, blkno);
#endif
}

#ifdef EMBED_STRESS_RACES
extern void embed_stress_release(Buffer buf, bool unlock);

/* see stress.h: a release, then now and then a pause for others to run */
void
embed_stress_release(Buffer buf, bool unlock)
{
	static uint32 n;

	if (unlock)
		UnlockReleaseBuffer(buf);
	else
		ReleaseBuffer(buf);
	if ((++n & 15) == 0)
		pg_usleep(50);
}
#endif
