/*
 * parbuild.c — see parbuild.h.  The shape follows nbtree's parallel build.
 */
#include "postgres.h"

#include <sys/statvfs.h>

#include "access/genam.h"
#include "access/table.h"
#include "access/xact.h"
#include "miscadmin.h"
#include "optimizer/optimizer.h"
#include "storage/dsm_impl.h"
#include "utils/snapmgr.h"

#include "parbuild.h"

/* where the shared struct lives in every segment; the methods' own keys differ */
#define EMBED_KEY_SHARED	UINT64CONST(0xE4BED00000000001)

/* the locks CREATE INDEX [CONCURRENTLY] holds in the leader */
#define HEAP_LOCK(shared)	((shared)->isconcurrent ? ShareUpdateExclusiveLock : ShareLock)
#define INDEX_LOCK(shared)	((shared)->isconcurrent ? RowExclusiveLock : AccessExclusiveLock)

static ParallelTableScanDesc
shared_scan(EmbedParallelShared *shared)
{
	return (ParallelTableScanDesc) ((char *) shared + shared->scanoffset);
}

Size
embed_shm_room(void)
{
	struct statvfs fs;
	Size		avail,
				margin;

	if (dynamic_shared_memory_type != DSM_IMPL_POSIX || statvfs("/dev/shm", &fs) != 0)
		return SIZE_MAX;
	avail = (Size) fs.f_bavail * fs.f_frsize;
	margin = Max(avail / 8, (Size) 16 * 1024 * 1024);
	return avail > margin ? avail - margin : 0;
}

/* PostgreSQL 17 plans the workers itself */
int
embed_build_workers(Relation heap, Relation index, IndexInfo *indexInfo)
{
#if PG_VERSION_NUM >= 170000
	return indexInfo->ii_ParallelWorkers;
#else
	if (!IsUnderPostmaster || IsInParallelMode())
		return 0;
	return plan_create_index_workers(RelationGetRelid(heap), RelationGetRelid(index));
#endif
}

bool
embed_parallel_begin(EmbedParallel *par, const char *entry, int nworkers,
					 Relation heap, Relation index, IndexInfo *indexInfo,
					 Size sharedsize, EmbedParallelChunk *chunks, int nchunks)
{
	ParallelContext *pcxt;
	Snapshot	snapshot;
	EmbedParallelShared *shared;
	Size		scanoffset = BUFFERALIGN(sharedsize);
	Size		estshared;

	Assert(sharedsize >= sizeof(EmbedParallelShared));
	EnterParallelMode();
	pcxt = CreateParallelContext("embed", entry, nworkers);
	/* a concurrent build indexes what its MVCC snapshot sees; a plain one every tuple */
	snapshot = indexInfo->ii_Concurrent ? RegisterSnapshot(GetTransactionSnapshot()) : SnapshotAny;

	estshared = scanoffset + table_parallelscan_estimate(heap, snapshot);
	shm_toc_estimate_chunk(&pcxt->estimator, estshared);
	for (int i = 0; i < nchunks; i++)
		shm_toc_estimate_chunk(&pcxt->estimator, chunks[i].size);
	shm_toc_estimate_keys(&pcxt->estimator, 1 + nchunks);
	InitializeParallelDSM(pcxt);
	if (pcxt->seg == NULL)
	{
		if (IsMVCCSnapshot(snapshot))
			UnregisterSnapshot(snapshot);
		DestroyParallelContext(pcxt);
		ExitParallelMode();
		return false;
	}

	shared = shm_toc_allocate(pcxt->toc, estshared);
	memset(shared, 0, sharedsize);
	shared->heaprelid = RelationGetRelid(heap);
	shared->indexrelid = RelationGetRelid(index);
	shared->isconcurrent = indexInfo->ii_Concurrent;
	SpinLockInit(&shared->mutex);
	shared->scanoffset = scanoffset;
	table_parallelscan_initialize(heap, shared_scan(shared), snapshot);
	shm_toc_insert(pcxt->toc, EMBED_KEY_SHARED, shared);
	for (int i = 0; i < nchunks; i++)
	{
		chunks[i].addr = shm_toc_allocate(pcxt->toc, chunks[i].size);
		shm_toc_insert(pcxt->toc, chunks[i].key, chunks[i].addr);
	}

	par->pcxt = pcxt;
	par->snapshot = snapshot;
	par->shared = shared;
	return true;
}

int
embed_parallel_launch(EmbedParallel *par)
{
	LaunchParallelWorkers(par->pcxt);
	return par->pcxt->nworkers_launched;
}

void
embed_parallel_end(EmbedParallel *par)
{
	if (IsMVCCSnapshot(par->snapshot))
		UnregisterSnapshot(par->snapshot);
	DestroyParallelContext(par->pcxt);
	ExitParallelMode();
}

TableScanDesc
embed_parallel_beginscan(Relation heap, EmbedParallelShared *shared)
{
	return table_beginscan_parallel(heap, shared_scan(shared));
}

void
embed_parallel_work(dsm_segment *seg, shm_toc *toc, uint64 chunkkey, EmbedParallelWork work)
{
	EmbedParallelShared *shared = shm_toc_lookup(toc, EMBED_KEY_SHARED, false);
	void	   *chunk = shm_toc_lookup(toc, chunkkey, false);
	Relation	heap = table_open(shared->heaprelid, HEAP_LOCK(shared));
	Relation	index = index_open(shared->indexrelid, INDEX_LOCK(shared));

	work(seg, shared, chunk, heap, index);
	index_close(index, INDEX_LOCK(shared));
	table_close(heap, HEAP_LOCK(shared));
}
