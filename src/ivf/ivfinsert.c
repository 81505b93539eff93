/*
 * ivfinsert.c — a new row goes to the list of its nearest centroid.
 *
 * The list's directory entry names the page where inserts start looking
 * (VACUUM moves it back to the first page with room); from there the insert
 * walks the chain to the first page the entry fits on, and extends the list
 * with a new last page when none does.  Lock order: list pages in chain
 * order, then the new page, then the directory page; no one takes a list
 * page while holding a directory page, so inserts, scans and VACUUM cannot
 * deadlock.
 */
#include "postgres.h"

#include "access/generic_xlog.h"
#include "miscadmin.h"
#include "nodes/execnodes.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "../vector.h"
#include "ivf.h"

typedef struct InsertWalk
{
	IvfShape   *shape;
	int			list;
	IvfEntry	entry;
} InsertWalk;

/* a page of the list, exclusively locked: add the entry if it fits */
static bool
insert_visit(Relation index, Buffer buf, BlockNumber blk, void *arg)
{
	InsertWalk *iw = (InsertWalk *) arg;
	IvfShape   *shape = iw->shape;
	Page		page = BufferGetPage(buf);
	PageWrite	w;

	if (PageGetFreeSpace(page) >= shape->entry_size)
	{
		page_write_begin(&w, index, false);
		page = page_write_page(&w, buf, false);
		if (PageAddItem(page, (Item) iw->entry, shape->entry_size, InvalidOffsetNumber,
						false, false) == InvalidOffsetNumber)
			elog(ERROR, "failed to add an entry to ivf index \"%s\"",
				 RelationGetRelationName(index));
		page_write_finish(&w);
		return false;
	}

	if (IvfPageGetOpaque(page)->nextblkno == InvalidBlockNumber)
	{
		/* the last page is full: chain a new one and point inserts at it */
		Buffer		nbuf = ivf_new_buffer(index, MAIN_FORKNUM);
		BlockNumber dirblk = shape->meta.dir_start + iw->list / IVF_DIR_PER_PAGE;
		Buffer		dbuf = ReadBuffer(index, dirblk);
		Page		npage,
					dpage;

		LockBuffer(dbuf, BUFFER_LOCK_EXCLUSIVE);
		page_write_begin(&w, index, false);
		page = page_write_page(&w, buf, false);
		npage = page_write_page(&w, nbuf, true);
		dpage = page_write_page(&w, dbuf, false);
		ivf_init_page(npage, IVF_PAGE_LIST);
		if (PageAddItem(npage, (Item) iw->entry, shape->entry_size, InvalidOffsetNumber,
						false, false) == InvalidOffsetNumber)
			elog(ERROR, "failed to add an entry to ivf index \"%s\"",
				 RelationGetRelationName(index));
		IvfPageGetOpaque(page)->nextblkno = BufferGetBlockNumber(nbuf);
		((IvfListDir *) PageGetContents(dpage))[iw->list % IVF_DIR_PER_PAGE].insert =
			BufferGetBlockNumber(nbuf);
		page_write_finish(&w);
		UnlockReleaseBuffer(dbuf);
		UnlockReleaseBuffer(nbuf);
		return false;
	}
	return true;
}

/* walk the list from its insert hint to the first page with room */
static void
insert_entry(IvfInfo *info, int list, IvfEntry entry)
{
	InsertWalk	iw = {info->shape, list, entry};
	IvfListDir	dir = ivf_read_dir(info->index, &info->shape->meta, list);

	ivf_walk_list(info->index, dir.insert, BUFFER_LOCK_EXCLUSIVE, NULL, insert_visit, &iw);
}

bool
ivfinsert(Relation index, Datum *values, bool *isnull, ItemPointer heap_tid,
		  Relation heap, IndexUniqueCheck checkUnique,
#if PG_VERSION_NUM >= 140000
		  bool indexUnchanged,
#endif
		  IndexInfo *indexInfo)
{
	MemoryContext ctx,
				old;
	IvfInfo		info;
	IvfShape   *shape;
	float	   *x;
	int			list;
	IvfEntry	entry;

	if (isnull[0])
		return false;

	ctx = AllocSetContextCreate(CurrentMemoryContext, "ivf insert", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(ctx);
	ivf_info(&info, index, false);
	shape = info.shape;
	x = palloc(sizeof(float) * shape->meta.cdim);
	if (ivf_prepare(&info, values[0], shape->meta.dim, x))
	{
		list = ivf_nearest_list(shape, x);
		entry = palloc0(shape->entry_size);
		ivf_make_entry(&info, x, shape->centroids + (Size) list * shape->meta.cdim, heap_tid,
					   values[0], entry);
		insert_entry(&info, list, entry);
	}
	MemoryContextSwitchTo(old);
	MemoryContextDelete(ctx);
	return false;
}
