/*
 * amutils.c — see amutils.h.
 */
#include "postgres.h"

#include "access/relscan.h"
#include "access/xact.h"
#include "commands/vacuum.h"
#include "fmgr.h"
#include "storage/lmgr.h"

#include "amutils.h"

void
page_write_begin(PageWrite *w, Relation index, bool building)
{
	w->state = building ? NULL : GenericXLogStart(index);
	w->nbuf = 0;
}

Page
page_write_page(PageWrite *w, Buffer buf, bool new_page)
{
	Assert(w->nbuf < MAX_GENERIC_XLOG_PAGES);
	w->bufs[w->nbuf++] = buf;
	if (w->state)
		return GenericXLogRegisterBuffer(w->state, buf,
										 new_page ? GENERIC_XLOG_FULL_IMAGE : 0);
	return BufferGetPage(buf);
}

/* nothing was changed after all (a build's direct changes cannot be undone) */
void
page_write_abort(PageWrite *w)
{
	if (w->state)
		GenericXLogAbort(w->state);
}

void
page_write_finish(PageWrite *w)
{
	if (w->state)
		GenericXLogFinish(w->state);
	else
		for (int i = 0; i < w->nbuf; i++)
			MarkBufferDirty(w->bufs[i]);
}

Buffer
embed_extend_relation(Relation index, ForkNumber fork)
{
	Buffer		buf;

#if PG_VERSION_NUM >= 160000
	/* takes the relation extension lock itself */
	buf = ExtendBufferedRel(BMR_REL(index), fork, NULL, EB_LOCK_FIRST);
#else
	/* a relation built in this transaction is local, unless parallel workers write to it too */
	bool		needlock = !RELATION_IS_LOCAL(index) || IsInParallelMode();

	if (needlock)
		LockRelationForExtension(index, ExclusiveLock);
	buf = ReadBufferExtended(index, fork, P_NEW, RBM_NORMAL, NULL);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	if (needlock)
		UnlockRelationForExtension(index, ExclusiveLock);
#endif
	return buf;
}

void
embed_init_page(Page page, uint16 type, uint16 page_id)
{
	EmbedPageOpaque op;

	/* on-disk format: hnsw and ivf pages written before the merge read alike */
	StaticAssertStmt(sizeof(EmbedPageOpaqueData) == 8, "page special space changed size");
	PageInit(page, BLCKSZ, sizeof(EmbedPageOpaqueData));
	op = EmbedPageGetOpaque(page);
	op->nextblkno = InvalidBlockNumber;
	op->type = type;
	op->page_id = page_id;
}

IndexBulkDeleteResult *
embed_vacuumcleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats)
{
	if (info->analyze_only)
		return stats;
	if (stats == NULL)
	{
		/* no bulkdelete ran: report the heap's count, which is close enough */
		stats = palloc0(sizeof(IndexBulkDeleteResult));
		stats->num_index_tuples = info->num_heap_tuples;
		stats->estimated_count = info->estimated_count;
	}
	stats->num_pages = RelationGetNumberOfBlocks(info->index);
	return stats;
}

IndexAmRoutine *
embed_ordered_am_routine(void)
{
	IndexAmRoutine *am = makeNode(IndexAmRoutine);

	am->amstrategies = 0;
	am->amsupport = 2;
#if PG_VERSION_NUM >= 130000
	am->amoptsprocnum = 0;
#endif
	am->amcanorder = false;
	am->amcanorderbyop = true;
	am->amcanbackward = false;
	am->amcanunique = false;
	am->amcanmulticol = false;
	am->amoptionalkey = true;
	am->amsearcharray = false;
	am->amsearchnulls = false;
	am->amstorage = false;
	am->amclusterable = false;
	am->ampredlocks = false;
	am->amcanparallel = false;
	am->amcaninclude = false;
#if PG_VERSION_NUM >= 130000
	am->amusemaintenanceworkmem = false;
	am->amparallelvacuumoptions = VACUUM_OPTION_PARALLEL_BULKDEL;
#endif
#if PG_VERSION_NUM >= 160000
	am->amsummarizing = false;
#endif
#if PG_VERSION_NUM >= 170000
	am->amcanbuildparallel = true;
	am->aminsertcleanup = NULL;
#endif
	am->amkeytype = InvalidOid;

	am->amvacuumcleanup = embed_vacuumcleanup;
	am->amcanreturn = NULL;
	am->amproperty = NULL;
	am->amvalidate = embed_amvalidate;	/* amvalidate.c */
#if PG_VERSION_NUM >= 140000
	am->amadjustmembers = NULL;
#endif
	am->amgetbitmap = NULL;
	am->ammarkpos = NULL;
	am->amrestrpos = NULL;
	am->amestimateparallelscan = NULL;
	am->aminitparallelscan = NULL;
	am->amparallelrescan = NULL;
	return am;
}

bool
embed_rescan_keys(IndexScanDesc scan, ScanKey keys, ScanKey orderbys, MemoryContext ctx,
				  Datum *query)
{
	MemoryContext old;

	if (orderbys && scan->numberOfOrderBys > 0)
		memmove(scan->orderByData, orderbys, scan->numberOfOrderBys * sizeof(ScanKeyData));
	if (keys && scan->numberOfKeys > 0)
		memmove(scan->keyData, keys, scan->numberOfKeys * sizeof(ScanKeyData));
	if (scan->numberOfOrderBys == 0 || (scan->orderByData[0].sk_flags & SK_ISNULL))
		return false;
	old = MemoryContextSwitchTo(ctx);
	*query = PointerGetDatum(PG_DETOAST_DATUM_COPY(scan->orderByData[0].sk_argument));
	MemoryContextSwitchTo(old);
	return true;
}
