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
 */
#include "postgres.h"

#include "bufhint.h"

#define HINT_SLOTS 16384		/* power of two */

typedef struct BufHint
{
	Oid			relnumber;
	BlockNumber blkno;
	Buffer		buffer;
} BufHint;

#if PG_VERSION_NUM >= 140000
static BufHint hints[HINT_SLOTS];
#endif

Buffer
embed_read_buffer(Relation rel, BlockNumber blkno)
{
#if PG_VERSION_NUM >= 140000
#if PG_VERSION_NUM >= 160000
	Oid			relnumber = rel->rd_locator.relNumber;
#else
	Oid			relnumber = rel->rd_node.relNode;
#endif
	BufHint    *h = &hints[(blkno * 2654435761u ^ relnumber) & (HINT_SLOTS - 1)];
	Buffer		buf;

	if (h->blkno == blkno && h->relnumber == relnumber && BufferIsValid(h->buffer) &&
#if PG_VERSION_NUM >= 160000
		ReadRecentBuffer(rel->rd_locator, MAIN_FORKNUM, blkno, h->buffer)
#else
		ReadRecentBuffer(rel->rd_node, MAIN_FORKNUM, blkno, h->buffer)
#endif
		)
		return h->buffer;
	buf = ReadBuffer(rel, blkno);
	h->relnumber = relnumber;
	h->blkno = blkno;
	h->buffer = buf;
	return buf;
#else
	return ReadBuffer(rel, blkno);
#endif
}
