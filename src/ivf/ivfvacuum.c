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

IndexBulkDeleteResult *
ivfbulkdelete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
			  IndexBulkDeleteCallback callback, void *callback_state)
{
	Relation	index = info->index;
	IvfShape   *shape = ivf_shape(index);
	IvfMetaPageData *meta = &shape->meta;
	OffsetNumber deletable[MaxOffsetNumber];

	if (stats == NULL)
		stats = palloc0(sizeof(IndexBulkDeleteResult));

	for (int list = 0; list < meta->nlists; list++)
	{
		IvfListDir	dir = ivf_read_dir(index, meta, list);
		BlockNumber blk = dir.head;
		BlockNumber first_room = InvalidBlockNumber;

		while (BlockNumberIsValid(blk))
		{
			Buffer		buf = ReadBufferExtended(index, MAIN_FORKNUM, blk, RBM_NORMAL,
												 info->strategy);
			Page		page;
			OffsetNumber maxoff;
			int			ndel = 0;

			ivf_vacuum_delay();
			LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
			page = BufferGetPage(buf);
			ivf_check_list_page(index, page, blk);
			maxoff = PageGetMaxOffsetNumber(page);
			for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
			{
				ItemId		iid = PageGetItemId(page, off);

				if (!ItemIdIsNormal(iid))
					continue;
				if (callback(&((IvfEntry) PageGetItem(page, iid))->tid, callback_state))
					deletable[ndel++] = off;
				else
					stats->num_index_tuples++;
			}
			if (ndel > 0)
			{
				PageWrite	w;

				page_write_begin(&w, index, false);
				page = page_write_page(&w, buf, false);
				PageIndexMultiDelete(page, deletable, ndel);
				page_write_finish(&w);
				stats->tuples_removed += ndel;
			}
			if (first_room == InvalidBlockNumber &&
				PageGetFreeSpace(page) >= shape->entry_size)
				first_room = blk;
			blk = IvfPageGetOpaque(page)->nextblkno;
			UnlockReleaseBuffer(buf);
		}

		/*
		 * Any page of the chain is a valid hint (inserts walk forward from
		 * it and pages never leave a chain), so racing inserts are harmless.
		 */
		if (first_room != InvalidBlockNumber && first_room != dir.insert)
			set_insert_hint(index, meta, list, first_room);
	}
	return stats;
}
