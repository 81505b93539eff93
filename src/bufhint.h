/*
 * bufhint.h — ReadBuffer for the random page reads of index searches.
 */
#ifndef EMBED_BUFHINT_H
#define EMBED_BUFHINT_H

#include "storage/bufmgr.h"
#include "storage/off.h"
#include "utils/rel.h"

extern Buffer embed_read_buffer(Relation rel, BlockNumber blkno);
extern void embed_prefetch_item(Relation rel, BlockNumber blkno, OffsetNumber off, bool item);

#endif
