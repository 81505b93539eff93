/*
 * check.h — embed_index_check(): what the dispatcher (src/check.c) shares
 * with the per-method checkers (src/hnsw/hnswcheck.c, src/ivf/ivfcheck.c).
 *
 * A checker walks its index's pages, reports structural corruption itself
 * (check_corrupt: an ERROR with SQLSTATE XX002 naming the block/offset), and
 * hands every heap TID it finds to check_add_tid together with where it
 * found it.  The dispatcher then checks those TIDs against the heap and,
 * with heapallindexed, the heap against them.
 */
#ifndef EMBED_CHECK_H
#define EMBED_CHECK_H

#include "postgres.h"

#include "storage/bufmgr.h"
#include "storage/bufpage.h"
#include "storage/itemptr.h"
#include "utils/relcache.h"

/* one heap TID found in the index, and the index item (block, offset) holding it */
typedef struct CheckTid
{
	ItemPointerData htid;
	ItemPointerData loc;
} CheckTid;

typedef struct EmbedCheck EmbedCheck;

struct EmbedCheck
{
	Relation	heap;
	Relation	index;
	const char *amname;			/* for messages */
	BufferAccessStrategy strategy;	/* for the sequential page walk */

	/* filled by the checker */
	CheckTid   *tids;
	int64		ntids;
	int64		maxtids;
	int64		pages;			/* index pages read by the walk */
	int64		tuples;			/* hnsw elements / ivf entries */
	int64		unreachable;	/* hnsw: live elements the search cannot reach; -1: n/a */

	/*
	 * Is heap TID `htid` still held by the index item at `loc`?  Asked
	 * before a heap-side finding is reported, to tell corruption from a
	 * concurrent VACUUM that removed the entry after the walk read it.
	 */
	bool		(*still_there) (EmbedCheck *c, ItemPointer loc, ItemPointer htid);

	/*
	 * heapallindexed: does the index skip this (non-NULL) value?  hnsw and
	 * cosine ivf do not index zero-norm values.  NULL: nothing is skipped.
	 */
	bool		(*skips_value) (EmbedCheck *c, Datum value);
	void	   *am_state;
};

/* a page read into local memory under a share lock (the checkers' rule) */
extern void check_read_page(EmbedCheck *c, BlockNumber blk, char *copy);
extern void check_add_tid(EmbedCheck *c, ItemPointer htid, BlockNumber blk, OffsetNumber off);
/* page header and line pointer bounds: pd_lower/pd_upper/pd_special, items inside */
extern void check_page_header(EmbedCheck *c, BlockNumber blk, Page page, Size special);
extern void check_item_bounds(EmbedCheck *c, BlockNumber blk, Page page, OffsetNumber off);
/* the current number of blocks when `blk` is past what the caller last saw */
extern BlockNumber check_nblocks(EmbedCheck *c, BlockNumber blk, BlockNumber nblocks);

/*
 * Report corruption: ERROR, SQLSTATE XX002, the index named, a hint to
 * REINDEX.  A macro so that the compiler sees ereport(ERROR) not return.
 */
#define check_corrupt(c, ...) \
	ereport(ERROR, \
			(errcode(ERRCODE_INDEX_CORRUPTED), \
			 errmsg("%s index \"%s\": %s", (c)->amname, \
					RelationGetRelationName((c)->index), psprintf(__VA_ARGS__)), \
			 errhint("REINDEX the index.")))

/* the per-method walks */
extern void hnsw_check(EmbedCheck *c);
extern void ivf_check(EmbedCheck *c);

#endif
