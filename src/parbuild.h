/*
 * parbuild.h — the parallel CREATE INDEX plumbing hnsw and ivf share: how
 * many workers, the parallel context and its snapshot, a shared struct
 * followed by the parallel heap scan, and the workers' side of it.  Each
 * method keeps only what it shares beyond that (hnsw: the graph; ivf: the
 * tuplesort) and what its participants do.
 */
#ifndef EMBED_PARBUILD_H
#define EMBED_PARBUILD_H

#include "access/parallel.h"
#include "access/tableam.h"
#include "nodes/execnodes.h"
#include "storage/spin.h"
#include "utils/rel.h"

/* The first member of each method's shared struct. */
typedef struct EmbedParallelShared
{
	Oid			heaprelid;
	Oid			indexrelid;
	bool		isconcurrent;
	slock_t		mutex;			/* for the method's fields that need one */
	Size		scanoffset;		/* of the ParallelTableScanDescData after the method's struct */
} EmbedParallelShared;

/* Another chunk of the segment, under its own key; the caller fills it in. */
typedef struct EmbedParallelChunk
{
	uint64		key;
	Size		size;
	void	   *addr;			/* set by embed_parallel_begin */
} EmbedParallelChunk;

/* The leader's handle on a parallel build. */
typedef struct EmbedParallel
{
	ParallelContext *pcxt;
	Snapshot	snapshot;
	EmbedParallelShared *shared;	/* the method's struct, zeroed past the head */
} EmbedParallel;

/*
 * The most dynamic shared memory a parallel build should ask for in one
 * segment: with POSIX shared memory, what /dev/shm has free less an eighth
 * (at least 16 MB), since a segment the OS cannot back is an ERROR (Docker
 * gives /dev/shm 64 MB) while a smaller one only makes a slower build;
 * SIZE_MAX when there is nothing to measure.  The one sizing policy of hnsw's
 * shared graph and ivf's parallel k-means.
 */
extern Size embed_shm_room(void);

/* workers the planner grants this build, 0 for none */
extern int	embed_build_workers(Relation heap, Relation index, IndexInfo *indexInfo);

/*
 * Set up a parallel context for the worker function entry (in this library)
 * with a shared struct of sharedsize bytes and the given chunks, but launch
 * nothing yet.  False, with everything undone, when no dynamic shared memory
 * could be had: the caller builds serially.
 */
extern bool embed_parallel_begin(EmbedParallel *par, const char *entry, int nworkers,
								 Relation heap, Relation index, IndexInfo *indexInfo,
								 Size sharedsize, EmbedParallelChunk *chunks, int nchunks);
/* launch the workers; how many started */
extern int	embed_parallel_launch(EmbedParallel *par);
/* after the workers finished */
extern void embed_parallel_end(EmbedParallel *par);

/* this participant's share of the parallel heap scan */
extern TableScanDesc embed_parallel_beginscan(Relation heap, EmbedParallelShared *shared);

/*
 * A worker's share of the build: the method's shared struct, the chunk under
 * the key the worker was started with, and the relations, opened as the
 * leader has them.
 */
typedef void (*EmbedParallelWork) (dsm_segment *seg, EmbedParallelShared *shared, void *chunk,
								   Relation heap, Relation index);

/* the body of a worker's entry point: open the relations, do work, close them */
extern void embed_parallel_work(dsm_segment *seg, shm_toc *toc, uint64 chunkkey,
								EmbedParallelWork work);

#endif
