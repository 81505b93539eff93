/*
 * ivfvacuum.c — VACUUM removes the entries of dead rows, list by list.
 *
 * Each list page is cleaned under its exclusive lock, one page at a time, in
 * one generic WAL record per changed page.  Pages stay in their chains (a
 * list never shrinks); instead the list's insert hint moves back to the
 * first page with room for an entry, so later inserts refill the space.
 */
#include "postgres.h"

#include "access/generic_xlog.h"
#include "commands/vacuum.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/rel.h"

#include "ivf.h"

/* point the list's inserts at `blk` */
static void
set_insert_hint(Relation index, IvfMetaPageData *meta, int list, BlockNumber blk)
{
	Buffer		buf = ReadBuffer(index, meta->dir_start + list / IVF_DIR_PER_PAGE);
	Page		page;
	PageWrite	w;

	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	if (IvfPageGetOpaque(BufferGetPage(buf))->type == IVF_PAGE_DIRECTORY &&
		((IvfListDir *) PageGetContents(BufferGetPage(buf)))[list % IVF_DIR_PER_PAGE].insert != blk)
	{
		page_write_begin(&w, index, false);
		page = page_write_page(&w, buf, false);
		((IvfListDir *) PageGetContents(page))[list % IVF_DIR_PER_PAGE].insert = blk;
		page_write_finish(&w);
	}
	UnlockReleaseBuffer(buf);
}

typedef struct VacuumWalk
{
	IndexBulkDeleteCallback callback;
	void	   *callback_state;
	IndexBulkDeleteResult *stats;
	Size		entry_size;
	BlockNumber first_room;		/* of the list, Invalid until one is seen */
	OffsetNumber deletable[MaxOffsetNumber];
} VacuumWalk;

/* a list page, exclusively locked: delete the dead rows' entries */
static bool
vacuum_visit(Relation index, Buffer buf, BlockNumber blk, void *arg)
{
	VacuumWalk *vw = (VacuumWalk *) arg;
	Page		page = BufferGetPage(buf);
	OffsetNumber maxoff = PageGetMaxOffsetNumber(page);
	int			ndel = 0;

	for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
	{
		ItemId		iid = PageGetItemId(page, off);

		if (!ItemIdIsNormal(iid))
			continue;
		if (vw->callback(&((IvfEntry) PageGetItem(page, iid))->tid, vw->callback_state))
			vw->deletable[ndel++] = off;
		else
			vw->stats->num_index_tuples++;
	}
	if (ndel > 0)
	{
		PageWrite	w;

		page_write_begin(&w, index, false);
		PageIndexMultiDelete(page_write_page(&w, buf, false), vw->deletable, ndel);
		page_write_finish(&w);
		vw->stats->tuples_removed += ndel;
	}
	/* the buffer's page: the WAL copy written above is gone */
	page = BufferGetPage(buf);
	if (vw->first_room == InvalidBlockNumber &&
		PageGetFreeSpace(page) >= vw->entry_size)
		vw->first_room = blk;
	return true;
}

IndexBulkDeleteResult *
ivfbulkdelete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
			  IndexBulkDeleteCallback callback, void *callback_state)
{
	Relation	index = info->index;
	IvfShape   *shape = ivf_shape(index);
	IvfMetaPageData *meta = &shape->meta;
	VacuumWalk	vw;

	if (stats == NULL)
		stats = palloc0(sizeof(IndexBulkDeleteResult));
	vw.callback = callback;
	vw.callback_state = callback_state;
	vw.stats = stats;
	vw.entry_size = shape->entry_size;

	for (int list = 0; list < meta->nlists; list++)
	{
		IvfListDir	dir = ivf_read_dir(index, meta, list);

		vw.first_room = InvalidBlockNumber;
		ivf_walk_list(index, dir.head, BUFFER_LOCK_EXCLUSIVE, info, vacuum_visit, &vw);

		/*
		 * Any page of the chain is a valid hint (inserts walk forward from
		 * it and pages never leave a chain), so racing inserts are harmless.
		 */
		if (vw.first_room != InvalidBlockNumber && vw.first_room != dir.insert)
			set_insert_hint(index, meta, list, vw.first_room);
	}
	return stats;
}
