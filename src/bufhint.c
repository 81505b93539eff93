/*
 * bufhint.c — ReadBuffer with a backend-local memory of where blocks were.
 *
 * A graph search reads hundreds of random index pages per query, and for a
 * page already in shared buffers the cost of ReadBuffer is mostly the
 * buffer-mapping lookup: hashing the tag and taking a partition lock.  We
 * remember the buffer each (relation, block) was last found in, and
 * ReadRecentBuffer (PostgreSQL 14+) pins it directly after checking that it
 * still holds that block; a stale hint just falls back to ReadBuffer.  The
 * table is direct-mapped and only ever a hint, so collisions cost nothing
 * but a lookup.
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
 * One slot per shared buffer (a power of two at least NBuffers, so blocks
 * resident at the same time rarely collide), but at most 2^18 slots (1 MB);
 * allocated on first use, so only backends that search pay for it.  A slot
 * holds only a buffer number: small enough for the table to stay in the
 * CPU's cache, since its lookup comes first on every step of a search.
 * What block the buffer holds is checked where it matters: ReadRecentBuffer
 * checks the tag, and a prefetch of the wrong page costs nothing but the
 * prefetch.
 */
#define HINT_MIN_SLOTS	4096
#define HINT_MAX_SLOTS	(1 << 18)
#ifndef PREFETCH_ITEM_BYTES
#define PREFETCH_ITEM_BYTES 4096
#endif

#if PG_VERSION_NUM >= 140000
static Buffer *hints;
static uint32 hint_mask;

static inline Buffer *
hint_slot(Oid relnumber, BlockNumber blkno)
{
	if (unlikely(hints == NULL))
	{
		uint32		n = HINT_MIN_SLOTS;

		while (n < (uint32) NBuffers && n < HINT_MAX_SLOTS)
			n <<= 1;
		hints = MemoryContextAllocZero(TopMemoryContext, sizeof(Buffer) * n);
		hint_mask = n - 1;
	}
	return &hints[(blkno * 2654435761u ^ relnumber * 40503u) & hint_mask];
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
	Buffer		buf = *hint_slot(rel_number(rel), blkno);
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
	Buffer	   *h = hint_slot(rel_number(rel), blkno);
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
