/*
 * amutils.h — what the index access methods (hnsw, ivf) share: changing
 * pages under generic WAL, adding pages, and the VACUUM cleanup callback.
 */
#ifndef EMBED_AMUTILS_H
#define EMBED_AMUTILS_H

#include "access/genam.h"
#include "access/generic_xlog.h"
#include "storage/bufmgr.h"
#include "utils/rel.h"

/*
 * Page changes: one generic WAL record per change, or plain dirty buffers
 * while CREATE INDEX builds a relation that is WAL-logged as a whole at the
 * end.
 */
typedef struct PageWrite
{
	GenericXLogState *state;	/* NULL while building */
	int			nbuf;
	Buffer		bufs[MAX_GENERIC_XLOG_PAGES];
} PageWrite;

/* the caller holds every buffer it registers exclusively locked */
extern void page_write_begin(PageWrite *w, Relation index, bool building);
/* the page to change: a WAL working copy, or the buffer's page itself */
extern Page page_write_page(PageWrite *w, Buffer buf, bool new_page);
extern void page_write_abort(PageWrite *w);
extern void page_write_finish(PageWrite *w);

/* a new page at the end of the relation's fork, exclusively locked, uninitialised */
extern Buffer embed_extend_relation(Relation index, ForkNumber fork);

/* amvacuumcleanup of both methods: page count, and a tuple count if no bulkdelete ran */
extern IndexBulkDeleteResult *embed_vacuumcleanup(IndexVacuumInfo *info,
												  IndexBulkDeleteResult *stats);

#endif
