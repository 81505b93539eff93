/*
 * ivfkmeans.c — k-means for IVF list centroids.
 *
 * k-means++ seeding on a subset of the sample, then Lloyd rounds accelerated
 * with Hamerly's bounds: each point keeps an upper bound on the distance to
 * its centroid and a lower bound on the distance to every other one, so that
 * after the first round many points are settled without computing a single
 * distance.  Nearest centroids come from inner products with cached centroid
 * norms, four centroids per pass over a point (the dot_rows kernel).
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "ivf.h"
#include "../kernels.h"
#include "miscadmin.h"
#include "utils/memutils.h"
#include "access/parallel.h"
#include "access/xact.h"
#include "pgstat.h"
#include "storage/condition_variable.h"
#include "storage/spin.h"

/* seeding looks at this many points per centroid at most */
#define SEED_POINTS_PER_CENTROID	16
/* above this many centroids the centroid-centroid bound costs more than it saves */
#define CENTER_BOUND_MAX_K			2048

/* uniform in [0, 1) */
static inline double
next_unit(uint64 *state)
{
	return (ivf_random(state) >> 11) * (1.0 / 9007199254740992.0);
}

static inline float
dist(const float *a, const float *b, int d)
{
	return sqrtf(embed_active_kernels->l2sq(a, b, d));
}

/* dots of x with centroids go through a stack buffer this many at a time */
#define DOT_BATCH 256

static void
normalise(float *c, int d)
{
	double		s = 0;

	for (int i = 0; i < d; i++)
		s += (double) c[i] * c[i];
	if (s > 0)
	{
		float		inv = (float) (1.0 / sqrt(s));

		for (int i = 0; i < d; i++)
			c[i] *= inv;
	}
}

/* k-means++ over the first m points (the sample is in random order) */
static void
seed_centroids(const float *points, int m, int d, int k, uint64 *rng, float *centroids)
{
	float	   *mind = palloc(sizeof(float) * m);
	double		total = 0;
	int			first = (int) (next_unit(rng) * m);

	memcpy(centroids, points + (Size) first * d, sizeof(float) * d);
	for (int i = 0; i < m; i++)
	{
		mind[i] = embed_active_kernels->l2sq(points + (Size) i * d, centroids, d);
		total += mind[i];
	}

	for (int j = 1; j < k; j++)
	{
		float	   *c = centroids + (Size) j * d;
		int			pick = m - 1;

		CHECK_FOR_INTERRUPTS();
		if (total > 0)
		{
			double		target = next_unit(rng) * total,
						acc = 0;

			for (int i = 0; i < m; i++)
			{
				acc += mind[i];
				if (acc > target && mind[i] > 0)
				{
					pick = i;
					break;
				}
			}
		}
		else
			pick = (int) (next_unit(rng) * m);	/* all points coincide */
		memcpy(c, points + (Size) pick * d, sizeof(float) * d);

		total = 0;
		for (int i = 0; i < m; i++)
		{
			float		s = embed_active_kernels->l2sq(points + (Size) i * d, c, d);

			if (s < mind[i])
				mind[i] = s;
			total += mind[i];
		}
	}
	pfree(mind);
}

/*
 * The centroid nearest to x and the two best scores |c|^2 - 2 <x, c>
 * (|x - c|^2 less |x|^2), through a stack buffer of inner products.
 */
static int
nearest_scores(const float *x, const float *centroids, const float *cnorms, int k, int d,
			   float *s1, float *s2)
{
	float		dots[DOT_BATCH];
	float		b1 = FLT_MAX,
				b2 = FLT_MAX;
	int			besti = 0;

	for (int j0 = 0; j0 < k; j0 += DOT_BATCH)
	{
		int			nb = Min(DOT_BATCH, k - j0);

		embed_active_kernels->dot_rows(x, centroids + (Size) j0 * d, nb, d, dots);
		for (int j = 0; j < nb; j++)
		{
			float		s = cnorms[j0 + j] - 2 * dots[j];

			if (s < b1)
			{
				b2 = b1;
				b1 = s;
				besti = j0 + j;
			}
			else if (s < b2)
				b2 = s;
		}
	}
	*s1 = b1;
	*s2 = b2;
	return besti;
}

int
ivf_nearest_centroid(const float *x, const float *centroids, const float *cnorms, int k, int d)
{
	float		s1,
				s2;

	return nearest_scores(x, centroids, cnorms, k, d, &s1, &s2);
}

/* nearest and second-nearest centroid of x, as distances; xnorm = |x|^2 */
static inline int
nearest_two(const float *x, float xnorm, const float *centroids, const float *cnorms,
			int k, int d, float *d1, float *d2)
{
	float		s1,
				s2;
	int			besti = nearest_scores(x, centroids, cnorms, k, d, &s1, &s2);

	/* back to distances; rounding can take a tiny one below zero */
	*d1 = sqrtf(Max(s1 + xnorm, 0.0f));
	*d2 = k > 1 ? sqrtf(Max(s2 + xnorm, 0.0f)) : FLT_MAX;
	return besti;
}

static void
centroid_norms(const float *centroids, int k, int d, float *cnorms)
{
	for (int j = 0; j < k; j++)
	{
		const float *c = centroids + (Size) j * d;

		cnorms[j] = embed_active_kernels->dot(c, c, d);
	}
}

/*
 * Everything a round works on: per-point state (assignment and Hamerly's
 * bounds), which participants update for the points they take, and what
 * the leader computes between rounds (centroids, norms, movements).  The
 * leader then recomputes the clusters' sums from the assignments in point
 * order, so the result does not depend on how many processes took part.
 */
typedef struct KmState
{
	int			n;
	int			d;
	int			k;
	const float *points;		/* n * d */
	const float *xnorms;		/* n */
	int		   *assign;			/* n */
	float	   *upper;			/* n: bound on the distance to its centroid */
	float	   *lower;			/* n: bound on the distance to any other */
	float	   *centroids;		/* k * d */
	float	   *cnorms;			/* k */
	float	   *half;			/* k: half the distance to the nearest other centroid */
	float	   *moved;			/* k: how far each centroid moved in the last update */
	float		maxmove;
} KmState;

#define KM_PHASE_ASSIGN		1	/* exact nearest two for every point */
#define KM_PHASE_ROUND		2	/* Hamerly: only points whose bounds overlap */
#define KM_CHUNK			256	/* points a participant takes at a time */
#define KM_MAX_SHARED		((Size) 48 * 1024 * 1024)

/* Process points [i0, i1) of a phase; returns how many changed cluster. */
static int
km_range(KmState *st, int phase, int i0, int i1)
{
	int			d = st->d,
				k = st->k,
				changed = 0;

	for (int i = i0; i < i1; i++)
	{
		const float *x = st->points + (Size) i * d;
		int			a = st->assign[i],
					b;
		float		bound;

		if ((i & 255) == 0)
			CHECK_FOR_INTERRUPTS();
		if (phase == KM_PHASE_ASSIGN)
		{
			st->assign[i] = nearest_two(x, st->xnorms[i], st->centroids, st->cnorms, k, d,
										&st->upper[i], &st->lower[i]);
			continue;
		}

		st->upper[i] += st->moved[a];
		st->lower[i] -= st->maxmove;
		bound = Max(st->half[a], st->lower[i]);
		if (st->upper[i] <= bound)
			continue;
		st->upper[i] = dist(x, st->centroids + (Size) a * d, d);
		if (st->upper[i] <= bound)
			continue;
		b = nearest_two(x, st->xnorms[i], st->centroids, st->cnorms, k, d,
						&st->upper[i], &st->lower[i]);
		if (b != a)
		{
			st->assign[i] = b;
			changed++;
		}
	}
	return changed;
}

/* ---------- parallel rounds ---------- */

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
km_attach(KmShared *sh, KmLayout *l, KmState *st)
{
	char	   *base = (char *) sh;

	st->n = sh->n;
	st->d = sh->d;
	st->k = sh->k;
	st->points = (float *) (base + l->points);
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
km_participate(KmShared *sh, KmState *st)
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
		changed = km_range(st, phase, c * KM_CHUNK, Min(st->n, (c + 1) * KM_CHUNK));
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
	KmState		st;
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
 * Run one phase over every point, in parallel when there is a shared
 * segment; returns the points that changed cluster.
 */
static int
km_phase(KmState *st, int phase, KmShared *sh)
{
	int			nchunks,
				changed;

	if (sh == NULL)
		return km_range(st, phase, 0, st->n);

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

/* the clusters' sums and sizes, from the assignments in point order */
static void
km_recount(KmState *st, float *sums, int *count)
{
	int			d = st->d;

	memset(sums, 0, (Size) st->k * d * sizeof(float));
	memset(count, 0, sizeof(int) * st->k);
	for (int i = 0; i < st->n; i++)
	{
		const float *x = st->points + (Size) i * d;
		float	   *s = sums + (Size) st->assign[i] * d;

		count[st->assign[i]]++;
		for (int t = 0; t < d; t++)
			s[t] += x[t];
	}
}

void
ivf_kmeans(const float *points, int n, int d, int k, bool spherical,
		   uint64 seed, int max_iter, int nworkers, float *centroids)
{
	uint64		rng = seed;
	int			m = (int) Min((int64) n, (int64) k * SEED_POINTS_PER_CENTROID);
	Size		csize = (Size) k * d * sizeof(float);
	float	   *sums = MemoryContextAllocHuge(CurrentMemoryContext, csize);
	float	   *oldc = MemoryContextAllocHuge(CurrentMemoryContext, csize);
	int		   *count = palloc0(sizeof(int) * k);
	KmState		st;
	KmLayout	l = {0};
	KmShared   *sh = NULL;
	ParallelContext *pcxt = NULL;
	float	   *xnorms;
	int			changed = 1;

	Assert(n >= 1 && k >= 1 && k <= n);

	memset(&st, 0, sizeof(st));
	st.n = n;
	st.d = d;
	st.k = k;

	/*
	 * Workers share the points and the per-point state in dynamic shared
	 * memory, but not more than KM_MAX_SHARED of it: a segment the OS cannot
	 * back (Docker's /dev/shm is 64 MB by default) is an ERROR, not a
	 * fallback, and a serial k-means is only slower.
	 */
	if (nworkers > 0)
	{
		km_layout(n, d, k, &l);
		if (l.total > KM_MAX_SHARED)
			nworkers = 0;
	}
	if (nworkers > 0)
	{
		EnterParallelMode();
		pcxt = CreateParallelContext("embed", "ivf_kmeans_worker_main", nworkers);
		shm_toc_estimate_chunk(&pcxt->estimator, l.total);
		shm_toc_estimate_keys(&pcxt->estimator, 1);
		InitializeParallelDSM(pcxt);
		if (pcxt->seg == NULL)
		{
			DestroyParallelContext(pcxt);
			ExitParallelMode();
			pcxt = NULL;
		}
		else
		{
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
		}
	}
	if (sh == NULL)
	{
		st.points = points;
		st.assign = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int) * n);
		st.upper = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(float) * n);
		st.lower = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(float) * n);
		st.xnorms = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(float) * n);
		st.centroids = centroids;
		st.cnorms = palloc(sizeof(float) * k);
		st.half = palloc0(sizeof(float) * k);
		st.moved = palloc(sizeof(float) * k);
	}

	m = Max(m, k);
	seed_centroids(st.points, m, d, k, &rng, st.centroids);
	if (spherical)
		for (int j = 0; j < k; j++)
			normalise(st.centroids + (Size) j * d, d);

	xnorms = (float *) st.xnorms;
	for (int i = 0; i < n; i++)
		xnorms[i] = embed_active_kernels->dot(st.points + (Size) i * d, st.points + (Size) i * d, d);
	centroid_norms(st.centroids, k, d, st.cnorms);

	/* first assignment: exact, and it sets both bounds */
	km_phase(&st, KM_PHASE_ASSIGN, sh);
	km_recount(&st, sums, count);

	for (int iter = 0; iter < max_iter; iter++)
	{
		float		maxmove = 0;

		/* move each centroid to its mean; an empty one restarts at a random point */
		memcpy(oldc, st.centroids, csize);
		for (int j = 0; j < k; j++)
		{
			float	   *c = st.centroids + (Size) j * d;

			if (count[j] > 0)
			{
				float		inv = 1.0f / count[j];

				for (int t = 0; t < d; t++)
					c[t] = sums[(Size) j * d + t] * inv;
			}
			else
				memcpy(c, st.points + (Size) (next_unit(&rng) * n) * d, sizeof(float) * d);
			if (spherical)
				normalise(c, d);
			st.moved[j] = dist(c, oldc + (Size) j * d, d);
			maxmove = Max(maxmove, st.moved[j]);
		}
		if (maxmove == 0)
		{
			changed = 0;
			break;
		}
		st.maxmove = maxmove;
		centroid_norms(st.centroids, k, d, st.cnorms);

		/* half the distance to the nearest other centroid: inside it, x cannot move */
		if (k > 1 && k <= CENTER_BOUND_MAX_K)
		{
			for (int j = 0; j < k; j++)
				st.half[j] = FLT_MAX;
			for (int j = 0; j < k; j++)
			{
				CHECK_FOR_INTERRUPTS();
				for (int j2 = j + 1; j2 < k; j2++)
				{
					float		h = dist(st.centroids + (Size) j * d, st.centroids + (Size) j2 * d, d) / 2;

					st.half[j] = Min(st.half[j], h);
					st.half[j2] = Min(st.half[j2], h);
				}
			}
		}

		changed = km_phase(&st, KM_PHASE_ROUND, sh);
		if (changed == 0)
			break;
		km_recount(&st, sums, count);
	}

	/* the means of the final assignment, when the last round still moved points */
	if (changed > 0)
	{
		for (int j = 0; j < k; j++)
		{
			float	   *c = st.centroids + (Size) j * d;

			if (count[j] == 0)
				continue;
			for (int t = 0; t < d; t++)
				c[t] = sums[(Size) j * d + t] / count[j];
			if (spherical)
				normalise(c, d);
		}
	}

	if (sh != NULL)
	{
		memcpy(centroids, st.centroids, csize);
		SpinLockAcquire(&sh->mutex);
		sh->stop = true;
		SpinLockRelease(&sh->mutex);
		ConditionVariableBroadcast(&sh->cv);
		WaitForParallelWorkersToFinish(pcxt);
		DestroyParallelContext(pcxt);
		ExitParallelMode();
	}
	else
	{
		pfree(st.assign);
		pfree(st.upper);
		pfree(st.lower);
		pfree(xnorms);
		pfree(st.cnorms);
		pfree(st.half);
		pfree(st.moved);
	}
	pfree(sums);
	pfree(oldc);
	pfree(count);
}
