/*
 * bufhint.h — ReadBuffer for the random page reads of index searches.
 */
#ifndef EMBED_BUFHINT_H
#define EMBED_BUFHINT_H

#include "storage/bufmgr.h"
#include "utils/rel.h"

extern Buffer embed_read_buffer(Relation rel, BlockNumber blkno);

#endif
