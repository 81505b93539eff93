/*
 * check.c — embed_index_check(index regclass, heapallindexed bool): verify an
 * hnsw, ivfflat or ivfrabitq index the way contrib/amcheck verifies B-trees.
 *
 * Why: a corrupt vector index does not crash (every read is validated) but
 * answers wrongly or fails one query at a time; after a crash, a storage
 * fault or a suspected bug we want one call that walks the whole index,
 * names the first block/offset that does not add up (ERROR, SQLSTATE XX002),
 * checks that the heap TIDs it holds exist, and that every row that should
 * be indexed is.
 *
 * This file is the dispatcher and the heap side: relation locking and
 * permissions, the list of heap TIDs the per-method walks collect
 * (src/hnsw/hnswcheck.c, src/ivf/ivfcheck.c), their check against the heap
 * and the heapallindexed heap scan.  It only reads: no page is written, no
 * WAL is produced, so it runs on a hot standby.
 *
 * Locking: AccessShareLock on the heap and then the index (the order every
 * other path takes), as bt_index_check does, so reads, inserts, updates and
 * VACUUM go on meanwhile.  Pages are read one at a time under a share lock;
 * what is checked later is copied first.
 *
 * Concurrency, the rules that keep findings real:
 *  - heapallindexed uses an MVCC snapshot taken BEFORE the index walk starts
 *    (amcheck's rule).  A row visible to it was committed before the walk,
 *    and an index entry is made before its row's transaction commits, so
 *    the entry is in the index when the walk begins.  Entries never move
 *    between pages or elements (hnsw elements stay at their TID, ivf entries
 *    on their page; VACUUM compacts within one element or page, which the
 *    walk reads atomically under the page lock), and VACUUM removes only
 *    entries of rows dead to every snapshot, ours included.  So a visible
 *    row without an entry is corruption; rows committed later are not
 *    required.  On a standby, replaying a removal our snapshot still needs
 *    cancels the query (a recovery conflict), never a false finding.
 *  - A heap TID found in the index must lie inside the heap (which cannot
 *    shrink: truncation needs AccessExclusiveLock) and point at a used line
 *    pointer that is not a heap-only tuple.  A concurrent VACUUM may remove
 *    the entry after the walk read it and then free the line pointer, so a
 *    suspicious TID is reported only if the index item still holds it when
 *    read again and the heap still shows the same problem after that.  The
 *    same recheck applies to one heap TID found in two index items.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xlog.h"
#include "catalog/index.h"
#include "catalog/pg_class.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "check.h"
#include "hnsw/hnsw.h"
#include "ivf/ivf.h"

PG_FUNCTION_INFO_V1(embed_index_check);

/* ---------- helpers for the page walks ---------- */

void
check_read_page(EmbedCheck *c, BlockNumber blk, char *copy)
{
	Buffer		buf = ReadBufferExtended(c->index, MAIN_FORKNUM, blk, RBM_NORMAL, c->strategy);

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	memcpy(copy, BufferGetPage(buf), BLCKSZ);
	UnlockReleaseBuffer(buf);
}

BlockNumber
check_nblocks(EmbedCheck *c, BlockNumber blk, BlockNumber nblocks)
{
	/* the index only grows while we hold our lock: look again only when needed */
	if (blk < nblocks)
		return nblocks;
	return RelationGetNumberOfBlocks(c->index);
}

void
check_page_header(EmbedCheck *c, BlockNumber blk, Page page, Size special)
{
	PageHeader	ph = (PageHeader) page;

	if (PageGetPageSize(page) != BLCKSZ ||
		ph->pd_lower < SizeOfPageHeaderData ||
		ph->pd_lower > ph->pd_upper ||
		ph->pd_upper > ph->pd_special ||
		ph->pd_special != BLCKSZ - MAXALIGN(special))
		check_corrupt(c, "block %u has a bad page header (lower %u, upper %u, special %u)",
					  blk, ph->pd_lower, ph->pd_upper, ph->pd_special);
}

void
check_item_bounds(EmbedCheck *c, BlockNumber blk, Page page, OffsetNumber off)
{
	ItemId		iid = PageGetItemId(page, off);
	PageHeader	ph = (PageHeader) page;

	if (ItemIdGetOffset(iid) < ph->pd_upper ||
		ItemIdGetOffset(iid) + ItemIdGetLength(iid) > ph->pd_special ||
		ItemIdGetOffset(iid) != MAXALIGN(ItemIdGetOffset(iid)))
		check_corrupt(c, "item (%u,%u) lies outside the page's tuple space (at %u, %u bytes)",
					  blk, off, ItemIdGetOffset(iid), ItemIdGetLength(iid));
}

void
check_add_tid(EmbedCheck *c, ItemPointer htid, BlockNumber blk, OffsetNumber off)
{
	CheckTid   *t;

	if (!ItemPointerIsValid(htid) ||
		ItemPointerGetOffsetNumberNoCheck(htid) > MaxHeapTuplesPerPage)
		check_corrupt(c, "item (%u,%u) holds an invalid heap TID (%u,%u)", blk, off,
					  ItemPointerGetBlockNumberNoCheck(htid),
					  ItemPointerGetOffsetNumberNoCheck(htid));
	if (c->ntids == c->maxtids)
	{
		c->maxtids *= 2;
		c->tids = repalloc_huge(c->tids, sizeof(CheckTid) * c->maxtids);
	}
	t = &c->tids[c->ntids++];
	t->htid = *htid;
	ItemPointerSet(&t->loc, blk, off);
}

/* ---------- the heap side ---------- */

static int
tid_cmp(const void *a, const void *b)
{
	const CheckTid *x = a;
	const CheckTid *y = b;
	int			r = ItemPointerCompare((ItemPointer) &x->htid, (ItemPointer) &y->htid);

	return r != 0 ? r : ItemPointerCompare((ItemPointer) &x->loc, (ItemPointer) &y->loc);
}

static int
htid_cmp(const void *key, const void *elem)
{
	return ItemPointerCompare((ItemPointer) key, (ItemPointer) &((const CheckTid *) elem)->htid);
}

/* What is wrong with heap TID `htid` on this (locked) heap page, or NULL. */
static const char *
heap_tid_problem(Page page, ItemPointer htid)
{
	OffsetNumber off = ItemPointerGetOffsetNumber(htid);
	ItemId		iid;

	if (PageIsNew(page))
		return "an uninitialized heap page";
	if (off > PageGetMaxOffsetNumber(page))
		return "a line pointer past the end of the heap page's array";
	iid = PageGetItemId(page, off);
	if (!ItemIdIsUsed(iid))
		return "an unused heap line pointer";
	if (ItemIdIsNormal(iid) &&
		HeapTupleHeaderIsHeapOnly((HeapTupleHeader) PageGetItem(page, iid)))
		return "a heap-only tuple (an index points only at the root of a HOT chain)";
	return NULL;
}

static const char *
heap_tid_problem_now(EmbedCheck *c, ItemPointer htid)
{
	Buffer		buf;
	const char *problem;

	buf = ReadBufferExtended(c->heap, MAIN_FORKNUM, ItemPointerGetBlockNumber(htid),
							 RBM_NORMAL, c->strategy);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	problem = heap_tid_problem(BufferGetPage(buf), htid);
	UnlockReleaseBuffer(buf);
	return problem;
}

/*
 * Every heap TID must be inside the heap, on a used line pointer that is not
 * a heap-only tuple, and held by one index item only (see the top of the
 * file for the recheck that tells corruption from a concurrent VACUUM).
 */
static void
check_heap_tids(EmbedCheck *c)
{
	BlockNumber heap_nblocks = RelationGetNumberOfBlocks(c->heap);
	int64		i = 0;

	for (int64 j = 1; j < c->ntids; j++)
	{
		CheckTid   *a = &c->tids[j - 1];
		CheckTid   *b = &c->tids[j];

		if (!ItemPointerEquals(&a->htid, &b->htid))
			continue;
		if (ItemPointerEquals(&a->loc, &b->loc) ||
			(c->still_there(c, &a->loc, &a->htid) && c->still_there(c, &b->loc, &b->htid)))
			check_corrupt(c, "heap TID (%u,%u) is held twice: by items (%u,%u) and (%u,%u)",
						  ItemPointerGetBlockNumber(&a->htid), ItemPointerGetOffsetNumber(&a->htid),
						  ItemPointerGetBlockNumber(&a->loc), ItemPointerGetOffsetNumber(&a->loc),
						  ItemPointerGetBlockNumber(&b->loc), ItemPointerGetOffsetNumber(&b->loc));
	}

	while (i < c->ntids)
	{
		BlockNumber hblk = ItemPointerGetBlockNumber(&c->tids[i].htid);
		int64		end = i;
		int64	   *bad;
		int			nbad = 0;
		Buffer		buf;
		Page		page;

		CHECK_FOR_INTERRUPTS();
		while (end < c->ntids && ItemPointerGetBlockNumber(&c->tids[end].htid) == hblk)
			end++;

		if (hblk >= heap_nblocks)
		{
			CheckTid   *t = &c->tids[i];

			check_corrupt(c, "item (%u,%u) holds heap TID (%u,%u) past the end of table \"%s\" (%u blocks)",
						  ItemPointerGetBlockNumber(&t->loc), ItemPointerGetOffsetNumber(&t->loc),
						  hblk, ItemPointerGetOffsetNumber(&t->htid),
						  RelationGetRelationName(c->heap), heap_nblocks);
		}

		/* read the page once for all of its TIDs; recheck the suspects unlocked */
		bad = palloc(sizeof(int64) * (end - i));
		buf = ReadBufferExtended(c->heap, MAIN_FORKNUM, hblk, RBM_NORMAL, c->strategy);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		for (int64 k = i; k < end; k++)
			if (heap_tid_problem(page, &c->tids[k].htid) != NULL)
				bad[nbad++] = k;
		UnlockReleaseBuffer(buf);

		for (int n = 0; n < nbad; n++)
		{
			CheckTid   *t = &c->tids[bad[n]];
			const char *problem;

			if (!c->still_there(c, &t->loc, &t->htid))
				continue;
			if ((problem = heap_tid_problem_now(c, &t->htid)) == NULL)
				continue;
			check_corrupt(c, "item (%u,%u) holds heap TID (%u,%u), which is %s",
						  ItemPointerGetBlockNumber(&t->loc), ItemPointerGetOffsetNumber(&t->loc),
						  hblk, ItemPointerGetOffsetNumber(&t->htid), problem);
		}
		pfree(bad);
		i = end;
	}
}

typedef struct HeapScanState
{
	EmbedCheck *c;
	MemoryContext tmp;
	int64		rows;			/* rows that must be indexed */
} HeapScanState;

static void
heap_row_callback(Relation index, ItemPointer tid, Datum *values, bool *isnull,
				  bool tupleIsAlive, void *state)
{
	HeapScanState *hs = state;
	EmbedCheck *c = hs->c;
	bool		skip;
	MemoryContext old;

	if (isnull[0])
		return;
	old = MemoryContextSwitchTo(hs->tmp);
	skip = c->skips_value != NULL && c->skips_value(c, values[0]);
	MemoryContextSwitchTo(old);
	MemoryContextReset(hs->tmp);
	if (skip)
		return;
	hs->rows++;
	if (c->ntids == 0 ||
		bsearch(tid, c->tids, c->ntids, sizeof(CheckTid), htid_cmp) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("%s index \"%s\": heap row (%u,%u) of table \"%s\" is not indexed",
						c->amname, RelationGetRelationName(c->index),
						ItemPointerGetBlockNumber(tid), ItemPointerGetOffsetNumber(tid),
						RelationGetRelationName(c->heap)),
				 errdetail("The row is visible to a snapshot taken before the index was read and its value is one the index stores."),
				 errhint("REINDEX the index.")));
}

/*
 * Every row visible to `snapshot` whose indexed value is not NULL (and not
 * one the method skips) must have its TID in the index.  The scan is the
 * one CREATE INDEX CONCURRENTLY's first pass makes: it evaluates index
 * expressions and partial-index predicates, and gives a heap-only tuple the
 * TID of its HOT chain's root, which is the TID the index holds.
 */
static int64
check_heap_all_indexed(EmbedCheck *c, Snapshot snapshot)
{
	IndexInfo  *ii = BuildIndexInfo(c->index);
	TableScanDesc scan;
	HeapScanState hs;

	hs.c = c;
	hs.rows = 0;
	hs.tmp = AllocSetContextCreate(CurrentMemoryContext, "embed_index_check row",
								   ALLOCSET_DEFAULT_SIZES);
	/* an MVCC snapshot, not SnapshotAny: the scan must not compute its own horizon */
	ii->ii_Concurrent = true;
	scan = table_beginscan_strat(c->heap, snapshot, 0, NULL, true, true);
	table_index_build_scan(c->heap, c->index, ii, true, false, heap_row_callback, &hs, scan);
	MemoryContextDelete(hs.tmp);
	return hs.rows;
}

/* ---------- the SQL function ---------- */

#define CHECK_COLS 5

Datum
embed_index_check(PG_FUNCTION_ARGS)
{
	Oid			indrelid = PG_GETARG_OID(0);
	bool		heapallindexed = PG_GETARG_BOOL(1);
	Oid			heapid;
	Relation	heap = NULL;
	Relation	index;
	TupleDesc	tupdesc;
	Datum		values[CHECK_COLS];
	bool		nulls[CHECK_COLS];
	Oid			save_userid;
	int			save_sec_context;
	int			save_nestlevel;
	Snapshot	snapshot = InvalidSnapshot;
	EmbedCheck	c;
	bool		is_hnsw;
	int64		heap_rows = -1;
	MemoryContext ctx,
				old;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	memset(nulls, true, sizeof(nulls));

	/* the heap first, then the index: the order every other path locks them */
	heapid = IndexGetRelation(indrelid, true);
	if (OidIsValid(heapid))
		heap = table_open(heapid, AccessShareLock);
	index = index_open(indrelid, AccessShareLock);	/* "is not an index" otherwise */
	if (heap == NULL || heapid != IndexGetRelation(indrelid, false))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("could not open the table of index \"%s\"",
						RelationGetRelationName(index))));

	if (index->rd_rel->relkind != RELKIND_INDEX || index->rd_indam == NULL ||
		(index->rd_indam->ambuild != hnswbuild && index->rd_indam->ambuild != ivfbuild))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not an hnsw, ivfflat or ivfrabitq index",
						RelationGetRelationName(index)),
				 errhint("embed_index_check checks embed's index access methods; amcheck checks B-trees.")));
	if (RELATION_IS_OTHER_TEMP(index))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot check temporary indexes of other sessions")));
	if (!index->rd_index->indisvalid)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot check index \"%s\"", RelationGetRelationName(index)),
				 errdetail("The index is not valid (an interrupted CREATE INDEX CONCURRENTLY?).")));
	is_hnsw = index->rd_indam->ambuild == hnswbuild;

	/* an unlogged relation has no main fork contents on a standby */
	if (index->rd_rel->relpersistence == RELPERSISTENCE_UNLOGGED && RecoveryInProgress())
	{
		ereport(NOTICE,
				(errmsg("cannot check unlogged index \"%s\" during recovery, skipping",
						RelationGetRelationName(index))));
		index_close(index, AccessShareLock);
		table_close(heap, AccessShareLock);
		PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
	}

	/*
	 * Index expressions and the opclass's functions run as the table's
	 * owner, restricted, with GUC changes local to this call (as amcheck).
	 */
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(heap->rd_rel->relowner,
						   save_sec_context | SECURITY_RESTRICTED_OPERATION);
	save_nestlevel = NewGUCNestLevel();
#if PG_VERSION_NUM >= 170000
	RestrictSearchPath();
#endif

	/* before the index walk: see the top of the file */
	if (heapallindexed)
	{
		snapshot = RegisterSnapshot(GetTransactionSnapshot());
		if (IsolationUsesXactSnapshot() && index->rd_index->indcheckxmin &&
			!TransactionIdPrecedes(HeapTupleHeaderGetXmin(index->rd_indextuple->t_data),
								   snapshot->xmin))
			ereport(ERROR,
					(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
					 errmsg("index \"%s\" cannot be checked with heapallindexed using the transaction's snapshot",
							RelationGetRelationName(index)),
					 errhint("Run it in a READ COMMITTED transaction.")));
	}

	ctx = AllocSetContextCreate(CurrentMemoryContext, "embed_index_check",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(ctx);
	memset(&c, 0, sizeof(c));
	c.heap = heap;
	c.index = index;
	c.strategy = GetAccessStrategy(BAS_BULKREAD);
	c.maxtids = 1024;
	c.tids = MemoryContextAllocHuge(ctx, sizeof(CheckTid) * c.maxtids);
	c.unreachable = -1;
	if (is_hnsw)
	{
		c.amname = "hnsw";
		hnsw_check(&c);
	}
	else
	{
		c.amname = ivf_index_kind(index) == IVF_KIND_RABITQ ? "ivfrabitq" : "ivfflat";
		ivf_check(&c);
	}

	if (c.ntids > 1)
		qsort(c.tids, c.ntids, sizeof(CheckTid), tid_cmp);
	check_heap_tids(&c);
	if (heapallindexed)
	{
		heap_rows = check_heap_all_indexed(&c, snapshot);
		UnregisterSnapshot(snapshot);
	}

	MemoryContextSwitchTo(old);
	values[0] = Int64GetDatum(c.pages);
	values[1] = Int64GetDatum(c.tuples);
	values[2] = Int64GetDatum(c.ntids);
	values[3] = Int64GetDatum(heap_rows);
	values[4] = Int64GetDatum(c.unreachable);
	nulls[0] = nulls[1] = nulls[2] = false;
	nulls[3] = heap_rows < 0;
	nulls[4] = c.unreachable < 0;
	FreeAccessStrategy(c.strategy);
	MemoryContextDelete(ctx);

	AtEOXact_GUC(false, save_nestlevel);
	SetUserIdAndSecContext(save_userid, save_sec_context);
	index_close(index, AccessShareLock);
	table_close(heap, AccessShareLock);

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
