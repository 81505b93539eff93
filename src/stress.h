/*
 * stress.h — a build of embed that makes races show.
 *
 * A page must not be read once its buffer is unpinned: from that moment any
 * process may evict it and read another page into the same memory.  The
 * window between an unpin and a stray read is a few instructions wide, so
 * such a bug surfaces once in thousands of runs, on a loaded machine.
 * `make stress` compiles embed with -DEMBED_STRESS_RACES, which follows
 * every sixteenth buffer release of the access methods with a short sleep:
 * with other processes churning the buffer pool, the released buffer then
 * usually holds another page by the time the caller goes on, and a stray
 * read gets garbage at once (test/t/027 fails in every run against the bug
 * it was written for).  Ordinary builds are untouched.
 */
#ifndef EMBED_STRESS_H
#define EMBED_STRESS_H

#ifdef EMBED_STRESS_RACES
#include "storage/bufmgr.h"

extern void embed_stress_release(Buffer buf, bool unlock);

#define UnlockReleaseBuffer(b) embed_stress_release((b), true)
#define ReleaseBuffer(b) embed_stress_release((b), false)
#endif

#endif
