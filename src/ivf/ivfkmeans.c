/*
 * ivfkmeans.c — k-means rounds in parallel workers for CREATE INDEX.
 *
 * Why this file: the clustering itself is src/kmeans.c, shared maths that
 * knows nothing of processes; what is left here is the build's plumbing to
 * run its phases in parallel (a dynamic shared memory segment holding the
 * points and the per-point state, and the workers' loop).
 */
#include "postgres.h"

#include "access/parallel.h"
#include "access/xact.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/condition_variable.h"
#include "storage/spin.h"

#include "../kmeans.h"
#include "../parbuild.h"
#include "ivf.h"

#define KM_CHUNK			256	/* points a participant takes at a time */

/*
 * The leader publishes a phase under a new generation number; participants
 * (the leader too) take chunks of points from a shared counter until none
 * are left, each adding into its own slot.  The leader waits until every
 * chunk is done, so a worker that starts late, or never, only means fewer
 * hands: nothing waits for a particular worker.
 */
typedef struct KmShared
{
	int			n;
	int			d;
	int			k;
	slock_t		mutex;			/* protects the fields below */
	uint32		gen;			/* of the phase published last */
	int			phase;
	bool		stop;
	int			next_chunk;
	int			chunks_done;
	int			changed;
	float		maxmove;
	ConditionVariable cv;		/* a new phase, or a chunk done */
	/* then: points, xnorms, assign, upper, lower, centroids, cnorms, half, moved */
} KmShared;

#define KM_KEY_SHARED	UINT64CONST(0xE4BED00000000011)

typedef struct KmLayout
{
	Size		points,
				xnorms,
				assign,
				upper,
				lower,
				centroids,
				cnorms,
				half,
				moved,
				total;
} KmLayout;

static void
km_layout(int n, int d, int k, KmLayout *l)
{
	Size		off = MAXALIGN(sizeof(KmShared));

#define KM_PLACE(field, bytes) do { l->field = off; off += MAXALIGN(bytes); } while (0)
	KM_PLACE(points, (Size) n * d * sizeof(float));
	KM_PLACE(xnorms, (Size) n * sizeof(float));
	KM_PLACE(assign, (Size) n * sizeof(int));
	KM_PLACE(upper, (Size) n * sizeof(float));
	KM_PLACE(lower, (Size) n * sizeof(float));
	KM_PLACE(centroids, (Size) k * d * sizeof(float));
	KM_PLACE(cnorms, (Size) k * sizeof(float));
	KM_PLACE(half, (Size) k * sizeof(float));
	KM_PLACE(moved, (Size) k * sizeof(float));
#undef KM_PLACE
	l->total = off;
}

static void
km_attach(KmShared *sh, KmLayout *l, KmeansState *st)
{
	char	   *base = (char *) sh;

	st->n = sh->n;
	st->dim = sh->d;
	st->k = sh->k;
	st->points = (float *) (base + l->points);
	st->weights = NULL;
	st->xnorms = (float *) (base + l->xnorms);
	st->assign = (int *) (base + l->assign);
	st->upper = (float *) (base + l->upper);
	st->lower = (float *) (base + l->lower);
	st->centroids = (float *) (base + l->centroids);
	st->cnorms = (float *) (base + l->cnorms);
	st->half = (float *) (base + l->half);
	st->moved = (float *) (base + l->moved);
}

/* take chunks of the current phase until none is left */
static void
km_participate(KmShared *sh, KmeansState *st)
{
	int			nchunks = (st->n + KM_CHUNK - 1) / KM_CHUNK;

	for (;;)
	{
		int			c,
					phase,
					changed;

		SpinLockAcquire(&sh->mutex);
		c = sh->next_chunk < nchunks ? sh->next_chunk++ : -1;
		phase = sh->phase;
		st->maxmove = sh->maxmove;
		SpinLockRelease(&sh->mutex);
		if (c < 0)
			return;
		changed = kmeans_step(st, phase, c * KM_CHUNK, Min(st->n, (c + 1) * KM_CHUNK));
		SpinLockAcquire(&sh->mutex);
		sh->chunks_done++;
		sh->changed += changed;
		SpinLockRelease(&sh->mutex);
		ConditionVariableBroadcast(&sh->cv);
	}
}

void
ivf_kmeans_worker_main(dsm_segment *seg, shm_toc *toc)
{
	KmShared   *sh = shm_toc_lookup(toc, KM_KEY_SHARED, false);
	KmLayout	l;
	KmeansState		st;
	uint32		seen = 0;

	km_layout(sh->n, sh->d, sh->k, &l);
	km_attach(sh, &l, &st);
	for (;;)
	{
		bool		stop;
		uint32		gen;

		ConditionVariablePrepareToSleep(&sh->cv);
		for (;;)
		{
			SpinLockAcquire(&sh->mutex);
			stop = sh->stop;
			gen = sh->gen;
			SpinLockRelease(&sh->mutex);
			if (stop || gen != seen)
				break;
			ConditionVariableSleep(&sh->cv, WAIT_EVENT_PARALLEL_CREATE_INDEX_SCAN);
		}
		ConditionVariableCancelSleep();
		if (stop)
			return;
		seen = gen;
		km_participate(sh, &st);
	}
}

/*
 * kmeans_run's phase runner: one phase over every point, shared out among
 * the leader and the workers; returns the points that changed cluster.
 */
static int
km_phase(KmeansState *st, int phase, void *arg)
{
	KmShared   *sh = (KmShared *) arg;
	int			nchunks,
				changed;

	nchunks = (st->n + KM_CHUNK - 1) / KM_CHUNK;
	SpinLockAcquire(&sh->mutex);
	sh->phase = phase;
	sh->maxmove = st->maxmove;
	sh->next_chunk = 0;
	sh->chunks_done = 0;
	sh->changed = 0;
	sh->gen++;
	SpinLockRelease(&sh->mutex);
	ConditionVariableBroadcast(&sh->cv);

	km_participate(sh, st);
	ConditionVariablePrepareToSleep(&sh->cv);
	for (;;)
	{
		bool		done;

		SpinLockAcquire(&sh->mutex);
		done = sh->chunks_done == nchunks;
		changed = sh->changed;
		SpinLockRelease(&sh->mutex);
		if (done)
			break;
		ConditionVariableSleep(&sh->cv, WAIT_EVENT_PARALLEL_CREATE_INDEX_SCAN);
	}
	ConditionVariableCancelSleep();
	return changed;
}

void
ivf_kmeans(const float *points, int n, int d, int k, bool spherical,
		   uint64 seed, int max_iter, int nworkers, float *centroids)
{
	KmeansState st;
	KmLayout	l = {0};
	KmShared   *sh;
	ParallelContext *pcxt;

	/*
	 * Many lists: the top level (about sqrt(lists) groups of the whole
	 * sample) with the workers, each group's share of lists here (see
	 * kmeans.h).
	 */
	if (k > KMEANS_FLAT_MAX_K)
	{
		int			k1 = kmeans_top_k(k);
		float	   *top = MemoryContextAllocHuge(CurrentMemoryContext, (Size) k1 * d * sizeof(float));

		ivf_kmeans(points, n, d, k1, spherical, seed, max_iter, nworkers, top);
		kmeans_refine(points, NULL, n, d, top, k1, k, spherical, seed, max_iter, centroids);
		pfree(top);
		return;
	}

	/*
	 * Workers share the points and the per-point state in dynamic shared
	 * memory, but not more than the OS can back (embed_shm_room): a segment
	 * it cannot back is an ERROR, not a fallback, and a serial k-means is
	 * only slower.
	 */
	if (nworkers > 0)
	{
		km_layout(n, d, k, &l);
		if (l.total > embed_shm_room())
			nworkers = 0;
	}
	if (nworkers <= 0)
	{
		kmeans(points, n, d, k, spherical, seed, max_iter, centroids);
		return;
	}

	EnterParallelMode();
	pcxt = CreateParallelContext("embed", "ivf_kmeans_worker_main", nworkers);
	shm_toc_estimate_chunk(&pcxt->estimator, l.total);
	shm_toc_estimate_keys(&pcxt->estimator, 1);
	InitializeParallelDSM(pcxt);
	if (pcxt->seg == NULL)
	{
		DestroyParallelContext(pcxt);
		ExitParallelMode();
		kmeans(points, n, d, k, spherical, seed, max_iter, centroids);
		return;
	}

	sh = shm_toc_allocate(pcxt->toc, l.total);
	memset(sh, 0, sizeof(KmShared));
	sh->n = n;
	sh->d = d;
	sh->k = k;
	SpinLockInit(&sh->mutex);
	ConditionVariableInit(&sh->cv);
	shm_toc_insert(pcxt->toc, KM_KEY_SHARED, sh);
	km_attach(sh, &l, &st);
	memcpy((float *) st.points, points, (Size) n * d * sizeof(float));
	LaunchParallelWorkers(pcxt);
	elog(DEBUG1, "ivf k-means with %d parallel workers requested", nworkers);
	elog(DEBUG2, "ivf k-means: %d parallel workers launched", pcxt->nworkers_launched);

	kmeans_run(&st, spherical, seed, max_iter, km_phase, sh);
	memcpy(centroids, st.centroids, (Size) k * d * sizeof(float));

	SpinLockAcquire(&sh->mutex);
	sh->stop = true;
	SpinLockRelease(&sh->mutex);
	ConditionVariableBroadcast(&sh->cv);
	WaitForParallelWorkersToFinish(pcxt);
	DestroyParallelContext(pcxt);
	ExitParallelMode();
}
