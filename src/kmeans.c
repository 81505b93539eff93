/*
 * kmeans.c — k-means clustering of float vectors (see kmeans.h).
 *
 * Why here: moved out of src/ivf so that anything in embed can cluster
 * vectors; it depends only on the kernels and knows nothing of indexes or
 * shared memory (ivf runs the phases in parallel workers through
 * kmeans_run's runner).
 *
 * k-means++ seeding on a subset of the points, then Lloyd rounds accelerated
 * with Hamerly's bounds: each point keeps an upper bound on the distance to
 * its centroid and a lower bound on the distance to every other one, so that
 * after the first round many points are settled without computing a single
 * distance.  Nearest centroids come from inner products with cached centroid
 * norms, four centroids per pass over a point (the dot_rows kernel).
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "miscadmin.h"
#include "utils/memutils.h"

#include "kernels.h"
#include "kmeans.h"

/* seeding looks at this many points per centroid at most */
#define SEED_POINTS_PER_CENTROID	16
/* above this many centroids the centroid-centroid bound costs more than it saves */
#define CENTER_BOUND_MAX_K			2048

/* uniform in [0, 1) */
static inline double
next_unit(uint64 *state)
{
	return (embed_splitmix64(state) >> 11) * (1.0 / 9007199254740992.0);
}

static inline float
dist(const float *a, const float *b, int d)
{
	return sqrtf(embed_active_kernels->l2sq(a, b, d));
}

/* dots of x with centroids go through a stack buffer this many at a time */
#define DOT_BATCH 256

/* k-means++ over the first m points (the sample is in random order) */
static void
seed_centroids(const float *points, const float *w, int m, int d, int k, uint64 *rng,
			   float *centroids)
{
	float	   *mind = palloc(sizeof(float) * m);
	double		total = 0;
	int			first = (int) (next_unit(rng) * m);

	memcpy(centroids, points + (Size) first * d, sizeof(float) * d);
	for (int i = 0; i < m; i++)
	{
		mind[i] = embed_active_kernels->l2sq(points + (Size) i * d, centroids, d);
		total += w ? w[i] * mind[i] : mind[i];
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
				acc += w ? w[i] * mind[i] : mind[i];
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
			total += w ? w[i] * mind[i] : mind[i];
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
kmeans_nearest(const float *x, const float *centroids, const float *cnorms, int k, int d)
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

void
kmeans_norms(const float *centroids, int k, int d, float *cnorms)
{
	for (int j = 0; j < k; j++)
	{
		const float *c = centroids + (Size) j * d;

		cnorms[j] = embed_active_kernels->dot(c, c, d);
	}
}

int
kmeans_step(KmeansState *st, int phase, int i0, int i1)
{
	int			d = st->dim,
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
		if (phase == KMEANS_PHASE_ASSIGN)
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

/* the clusters' sums and sizes, from the assignments in point order */
static void
recount(KmeansState *st, float *sums, int *count, double *wsum)
{
	int			d = st->dim;

	memset(sums, 0, (Size) st->k * d * sizeof(float));
	memset(count, 0, sizeof(int) * st->k);
	if (st->weights)
		memset(wsum, 0, sizeof(double) * st->k);
	for (int i = 0; i < st->n; i++)
	{
		const float *x = st->points + (Size) i * d;
		float	   *s = sums + (Size) st->assign[i] * d;

		count[st->assign[i]]++;
		if (st->weights)
		{
			float		w = st->weights[i];

			wsum[st->assign[i]] += w;
			for (int t = 0; t < d; t++)
				s[t] += w * x[t];
		}
		else
			for (int t = 0; t < d; t++)
				s[t] += x[t];
	}
}

/* 1 / the weight of cluster j */
static inline float
inverse_weight(const KmeansState *st, const int *count, const double *wsum, int j)
{
	return st->weights ? (float) (1.0 / wsum[j]) : 1.0f / count[j];
}

static int
run_phase(KmeansState *st, int phase, KmeansPhaseRunner runner, void *arg)
{
	if (runner == NULL)
		return kmeans_step(st, phase, 0, st->n);
	return runner(st, phase, arg);
}

void
kmeans_run(KmeansState *st, bool spherical, uint64 seed, int max_iter,
		   KmeansPhaseRunner runner, void *arg)
{
	int			n = st->n,
				d = st->dim,
				k = st->k;
	uint64		rng = seed;
	int			m = (int) Min((int64) n, (int64) k * SEED_POINTS_PER_CENTROID);
	Size		csize = (Size) k * d * sizeof(float);
	float	   *sums = MemoryContextAllocHuge(CurrentMemoryContext, csize);
	float	   *oldc = MemoryContextAllocHuge(CurrentMemoryContext, csize);
	int		   *count = palloc0(sizeof(int) * k);
	double	   *wsum = palloc0(sizeof(double) * k);
	int			changed = 1;

	Assert(n >= 1 && k >= 1 && k <= n);

	/* no centroid-centroid bound until one is computed (or ever, past CENTER_BOUND_MAX_K) */
	memset(st->half, 0, sizeof(float) * k);
	st->maxmove = 0;

	m = Max(m, k);
	seed_centroids(st->points, st->weights, m, d, k, &rng, st->centroids);
	if (spherical)
		for (int j = 0; j < k; j++)
			embed_l2_normalize(st->centroids + (Size) j * d, d);

	for (int i = 0; i < n; i++)
		st->xnorms[i] = embed_active_kernels->dot(st->points + (Size) i * d,
												  st->points + (Size) i * d, d);
	kmeans_norms(st->centroids, k, d, st->cnorms);

	/* first assignment: exact, and it sets both bounds */
	run_phase(st, KMEANS_PHASE_ASSIGN, runner, arg);
	recount(st, sums, count, wsum);

	for (int iter = 0; iter < max_iter; iter++)
	{
		float		maxmove = 0;

		/* move each centroid to its mean; an empty one restarts at a random point */
		memcpy(oldc, st->centroids, csize);
		for (int j = 0; j < k; j++)
		{
			float	   *c = st->centroids + (Size) j * d;

			if (count[j] > 0)
			{
				float		inv = inverse_weight(st, count, wsum, j);

				for (int t = 0; t < d; t++)
					c[t] = sums[(Size) j * d + t] * inv;
			}
			else
				memcpy(c, st->points + (Size) (next_unit(&rng) * n) * d, sizeof(float) * d);
			if (spherical)
				embed_l2_normalize(c, d);
			st->moved[j] = dist(c, oldc + (Size) j * d, d);
			maxmove = Max(maxmove, st->moved[j]);
		}
		if (maxmove == 0)
		{
			changed = 0;
			break;
		}
		st->maxmove = maxmove;
		kmeans_norms(st->centroids, k, d, st->cnorms);

		/* half the distance to the nearest other centroid: inside it, x cannot move */
		if (k > 1 && k <= CENTER_BOUND_MAX_K)
		{
			for (int j = 0; j < k; j++)
				st->half[j] = FLT_MAX;
			for (int j = 0; j < k; j++)
			{
				CHECK_FOR_INTERRUPTS();
				for (int j2 = j + 1; j2 < k; j2++)
				{
					float		h = dist(st->centroids + (Size) j * d,
										 st->centroids + (Size) j2 * d, d) / 2;

					st->half[j] = Min(st->half[j], h);
					st->half[j2] = Min(st->half[j2], h);
				}
			}
		}

		changed = run_phase(st, KMEANS_PHASE_ROUND, runner, arg);
		if (changed == 0)
			break;
		recount(st, sums, count, wsum);
	}

	/* the means of the final assignment, when the last round still moved points */
	if (changed > 0)
	{
		for (int j = 0; j < k; j++)
		{
			float	   *c = st->centroids + (Size) j * d;

			if (count[j] == 0)
				continue;
			if (st->weights)
				for (int t = 0; t < d; t++)
					c[t] = sums[(Size) j * d + t] * inverse_weight(st, count, wsum, j);
			else
				for (int t = 0; t < d; t++)
					c[t] = sums[(Size) j * d + t] / count[j];
			if (spherical)
				embed_l2_normalize(c, d);
		}
	}
	pfree(sums);
	pfree(oldc);
	pfree(count);
	pfree(wsum);
}

void
kmeans(const float *points, int n, int dim, int k, bool spherical,
	   uint64 seed, int max_iter, float *centroids)
{
	kmeans_weighted(points, NULL, n, dim, k, spherical, seed, max_iter, centroids);
}

int
kmeans_top_k(int k)
{
	return (int) ceil(sqrt((double) k));
}

/*
 * How many of the k centroids each of k1 groups gets: in proportion to its
 * points (weight), at least one for a group that has points, never more
 * than its points; largest remainders first, so the shares add up to k
 * (possible because k <= n).
 */
static void
share_centroids(const int *count, const double *weight, double total, int k1, int k, int *share)
{
	int			given = 0;

	for (int j = 0; j < k1; j++)
	{
		share[j] = (count[j] == 0) ? 0 :
			Min(count[j], Max(1, (int) floor(k * weight[j] / total)));
		given += share[j];
	}
	/* too many (the minimum of one): take from the most generously served */
	while (given > k)
	{
		int			best = -1;

		for (int j = 0; j < k1; j++)
			if (share[j] > 1 &&
				(best < 0 || weight[j] / share[j] < weight[best] / share[best]))
				best = j;
		Assert(best >= 0);
		share[best]--;
		given--;
	}
	/* too few: give to the most crowded that still has points to spare */
	while (given < k)
	{
		int			best = -1;

		for (int j = 0; j < k1; j++)
			if (share[j] < count[j] &&
				(best < 0 || weight[j] / (share[j] + 1) > weight[best] / (share[best] + 1)))
				best = j;
		Assert(best >= 0);
		share[best]++;
		given++;
	}
}

#define KMEANS_POLISH_GROUPS	4
#define KMEANS_POLISH_ROUNDS	5

/*
 * The p top groups nearest x, nearest first (ties: the lower index, as
 * kmeans_nearest), into ni[0..p-1]; tdots has room for k1 floats.
 */
static void
nearest_groups(const float *x, const float *top, const float *tnorms, int k1, int d,
			   int p, float *tdots, int *ni)
{
	float		best[KMEANS_POLISH_GROUPS];

	embed_active_kernels->dot_rows(x, top, k1, d, tdots);
	for (int t = 0; t < p; t++)
	{
		best[t] = FLT_MAX;
		ni[t] = 0;
	}
	for (int g = 0; g < k1; g++)
	{
		float		sc = tnorms[g] - 2 * tdots[g];
		int			t = p - 1;

		if (sc >= best[t])
			continue;
		while (t > 0 && sc < best[t - 1])
		{
			best[t] = best[t - 1];
			ni[t] = ni[t - 1];
			t--;
		}
		best[t] = sc;
		ni[t] = g;
	}
}

/*
 * Rounds over the whole set after the groups were clustered apart: a point
 * near a group's border may belong to a centroid of the next group.  Each
 * point is assigned to the nearest centroid of its p nearest top groups
 * (near[i * p ...], from nearest_groups; their centroids are contiguous:
 * cfirst[g] up to cfirst[g + 1]), and every centroid moves to its points'
 * mean; an emptied centroid stays where it was.  About n * (k1 + 4 k / k1) * d per round.
 */
static void
polish(const float *points, const float *weights, int n, int d, const int *near, int p,
	   const int *cfirst, int k, bool spherical, float *centroids)
{
	float	   *cnorms = palloc(sizeof(float) * k);
	float	   *dots = palloc(sizeof(float) * k);
	double	   *sums = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(double) * (Size) k * d);
	double	   *wsum = palloc(sizeof(double) * k);

	for (int round = 0; round < KMEANS_POLISH_ROUNDS; round++)
	{
		kmeans_norms(centroids, k, d, cnorms);
		memset(sums, 0, sizeof(double) * (Size) k * d);
		memset(wsum, 0, sizeof(double) * k);
		for (int i = 0; i < n; i++)
		{
			const float *x = points + (Size) i * d;
			const int  *ni = near + (Size) i * p;
			float		bests = FLT_MAX;
			int			besti = -1;
			float		w = weights ? weights[i] : 1.0f;
			double	   *s;

			if ((i & 255) == 0)
				CHECK_FOR_INTERRUPTS();
			for (int t = 0; t < p; t++)
			{
				int			c0 = cfirst[ni[t]],
							nc = cfirst[ni[t] + 1] - c0;

				if (nc <= 0)
					continue;
				embed_active_kernels->dot_rows(x, centroids + (Size) c0 * d, nc, d, dots);
				for (int c = 0; c < nc; c++)
				{
					float		sc = cnorms[c0 + c] - 2 * dots[c];

					if (sc < bests || (sc == bests && c0 + c < besti))
					{
						bests = sc;
						besti = c0 + c;
					}
				}
			}
			Assert(besti >= 0);
			s = sums + (Size) besti * d;
			wsum[besti] += w;
			for (int t = 0; t < d; t++)
				s[t] += (double) w * x[t];
		}
		for (int c = 0; c < k; c++)
		{
			float	   *cc = centroids + (Size) c * d;

			if (wsum[c] <= 0)
				continue;
			for (int t = 0; t < d; t++)
				cc[t] = (float) (sums[(Size) c * d + t] / wsum[c]);
			if (spherical)
				embed_l2_normalize(cc, d);
		}
	}
	pfree(cnorms);
	pfree(dots);
	pfree(sums);
	pfree(wsum);
}

void
kmeans_refine(const float *points, const float *weights, int n, int d,
			  const float *top, int k1, int k, bool spherical, uint64 seed,
			  int max_iter, float *centroids)
{
	float	   *tnorms = palloc(sizeof(float) * k1);
	float	   *tdots = palloc(sizeof(float) * k1);
	int			p = Min(KMEANS_POLISH_GROUPS, k1);
	int		   *near = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int) * (Size) n * p);
	int		   *group = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int) * n);
	int		   *order = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int) * n);
	int		   *count = palloc0(sizeof(int) * k1);
	int		   *first = palloc(sizeof(int) * (k1 + 1));
	double	   *weight = palloc0(sizeof(double) * k1);
	int		   *share = palloc(sizeof(int) * k1);
	int			largest = 0;
	int			done = 0;
	double		total = 0;
	float	   *sub;
	float	   *subw = NULL;

	Assert(k1 >= 1 && k >= k1 && k <= n);
	kmeans_norms(top, k1, d, tnorms);
	for (int i = 0; i < n; i++)
	{
		if ((i & 255) == 0)
			CHECK_FOR_INTERRUPTS();
		nearest_groups(points + (Size) i * d, top, tnorms, k1, d, p, tdots, near + (Size) i * p);
		group[i] = near[(Size) i * p];
		count[group[i]]++;
		weight[group[i]] += weights ? weights[i] : 1.0;
	}
	for (int j = 0; j < k1; j++)
		total += weight[j];
	share_centroids(count, weight, total, k1, k, share);

	/* the points of each group together, in point order (a counting sort) */
	first[0] = 0;
	for (int j = 0; j < k1; j++)
	{
		first[j + 1] = first[j] + count[j];
		largest = Max(largest, count[j]);
	}
	memset(count, 0, sizeof(int) * k1);
	for (int i = 0; i < n; i++)
		order[first[group[i]] + count[group[i]]++] = i;

	sub = MemoryContextAllocHuge(CurrentMemoryContext, (Size) largest * d * sizeof(float));
	if (weights)
		subw = MemoryContextAllocHuge(CurrentMemoryContext, (Size) largest * sizeof(float));
	for (int j = 0; j < k1; j++)
	{
		int			nj = count[j];

		if (share[j] == 0)
			continue;
		for (int t = 0; t < nj; t++)
		{
			int			i = order[first[j] + t];

			memcpy(sub + (Size) t * d, points + (Size) i * d, sizeof(float) * d);
			if (weights)
				subw[t] = weights[i];
		}
		kmeans_weighted(sub, subw, nj, d, share[j], spherical,
						seed + (uint64) (j + 1) * UINT64CONST(0x9E3779B97F4A7C15), max_iter,
						centroids + (Size) done * d);
		done += share[j];
	}
	Assert(done == k);

	/* where each group's centroids start, for the rounds over the whole set */
	first[0] = 0;
	for (int j = 0; j < k1; j++)
		first[j + 1] = first[j] + share[j];
	polish(points, weights, n, d, near, p, first, k, spherical, centroids);

	pfree(sub);
	if (subw)
		pfree(subw);
	pfree(tnorms);
	pfree(tdots);
	pfree(near);
	pfree(group);
	pfree(order);
	pfree(count);
	pfree(first);
	pfree(weight);
	pfree(share);
}

void
kmeans_weighted(const float *points, const float *weights, int n, int dim, int k,
				bool spherical, uint64 seed, int max_iter, float *centroids)
{
	KmeansState st;

	if (k > KMEANS_FLAT_MAX_K)
	{
		int			k1 = kmeans_top_k(k);
		float	   *top = MemoryContextAllocHuge(CurrentMemoryContext, (Size) k1 * dim * sizeof(float));

		kmeans_weighted(points, weights, n, dim, k1, spherical, seed, max_iter, top);
		kmeans_refine(points, weights, n, dim, top, k1, k, spherical, seed, max_iter, centroids);
		pfree(top);
		return;
	}

	memset(&st, 0, sizeof(st));
	st.n = n;
	st.dim = dim;
	st.k = k;
	st.points = points;
	st.weights = weights;
	st.xnorms = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(float) * n);
	st.assign = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int) * n);
	st.upper = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(float) * n);
	st.lower = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(float) * n);
	st.centroids = centroids;
	st.cnorms = palloc(sizeof(float) * k);
	st.half = palloc(sizeof(float) * k);
	st.moved = palloc(sizeof(float) * k);

	kmeans_run(&st, spherical, seed, max_iter, NULL, NULL);

	pfree(st.xnorms);
	pfree(st.assign);
	pfree(st.upper);
	pfree(st.lower);
	pfree(st.cnorms);
	pfree(st.half);
	pfree(st.moved);
}
