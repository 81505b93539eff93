/*
 * amutils.h — what the index access methods (hnsw, ivf) share: their
 * IndexAmRoutine flags and opclass validation, taking a rescan's keys, the
 * page special space, changing pages under generic WAL, adding pages, and
 * VACUUM's cleanup callback and cost delay.
 */
#ifndef EMBED_AMUTILS_H
#define EMBED_AMUTILS_H

#include "access/amapi.h"
#include "access/genam.h"
#include "access/generic_xlog.h"
#include "commands/vacuum.h"
#include "storage/bufmgr.h"
#include "utils/rel.h"

#include "stress.h"

/*
 * The special space of every page of an embed index.  page_id is a constant
 * per access method (HNSW_PAGE_ID, IVF_PAGE_ID) so that tools can tell the
 * pages apart; type is the AM's page type.  Part of the on-disk format.
 */
typedef struct EmbedPageOpaqueData
{
	BlockNumber nextblkno;		/* next page of a chain (overflow, posting list) */
	uint16		type;
	uint16		page_id;
} EmbedPageOpaqueData;

typedef EmbedPageOpaqueData *EmbedPageOpaque;

#define EmbedPageGetOpaque(page)	((EmbedPageOpaque) PageGetSpecialPointer(page))

/* an empty page with the special space set and no next page */
extern void embed_init_page(Page page, uint16 type, uint16 page_id);

/* VACUUM's cost-based delay (PostgreSQL 18 added an argument) */
#if PG_VERSION_NUM >= 180000
#define embed_vacuum_delay()	vacuum_delay_point(false)
#else
#define embed_vacuum_delay()	vacuum_delay_point()
#endif

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

/*
 * An IndexAmRoutine for a single-column index that answers ORDER BY
 * col <op> value and nothing else: every flag set, every optional callback
 * NULL, amvacuumcleanup = embed_vacuumcleanup.  The caller fills in its
 * build, insert, bulkdelete, scan, options, cost and phase-name callbacks.
 */
extern IndexAmRoutine *embed_ordered_am_routine(void);

/*
 * amvalidate of all three methods (amvalidate.c): reports what is wrong
 * with the opclass's family as INFO messages and returns false.
 */
extern bool embed_amvalidate(Oid opclassoid);

/*
 * amrescan's common part: take the new keys and ORDER BY keys, and return
 * the first ORDER BY argument detoasted into ctx; false when there is none
 * or it is NULL (every distance is then NULL).
 */
extern bool embed_rescan_keys(IndexScanDesc scan, ScanKey keys, ScanKey orderbys,
							  MemoryContext ctx, Datum *query);

#endif
