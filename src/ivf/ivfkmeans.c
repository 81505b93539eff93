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

void
ivf_kmeans(const float *points, int n, int d, int k, bool spherical,
		   uint64 seed, int max_iter, float *centroids)
{
	uint64		rng = seed;
	int			m = (int) Min((int64) n, (int64) k * SEED_POINTS_PER_CENTROID);
	int		   *assign = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int) * n);
	float	   *upper = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(float) * n);
	float	   *lower = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(float) * n);
	Size		csize = (Size) k * d * sizeof(float);
	float	   *sums = MemoryContextAllocHuge(CurrentMemoryContext, csize);
	float	   *oldc = MemoryContextAllocHuge(CurrentMemoryContext, csize);
	int		   *count = palloc0(sizeof(int) * k);
	float	   *half = palloc0(sizeof(float) * k);
	float	   *moved = palloc(sizeof(float) * k);
	float	   *cnorms = palloc(sizeof(float) * k);
	float	   *xnorms = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(float) * n);

	int			changed = 1;

	Assert(n >= 1 && k >= 1 && k <= n);

	m = Max(m, k);
	seed_centroids(points, m, d, k, &rng, centroids);
	if (spherical)
		for (int j = 0; j < k; j++)
			normalise(centroids + (Size) j * d, d);

	for (int i = 0; i < n; i++)
		xnorms[i] = embed_active_kernels->dot(points + (Size) i * d, points + (Size) i * d, d);
	centroid_norms(centroids, k, d, cnorms);

	/* first assignment: exact, and it sets both bounds */
	memset(sums, 0, csize);
	for (int i = 0; i < n; i++)
	{
		const float *x = points + (Size) i * d;
		int			a;

		if ((i & 255) == 0)
			CHECK_FOR_INTERRUPTS();
		a = nearest_two(x, xnorms[i], centroids, cnorms, k, d, &upper[i], &lower[i]);
		assign[i] = a;
		count[a]++;
		for (int t = 0; t < d; t++)
			sums[(Size) a * d + t] += x[t];
	}

	for (int iter = 0; iter < max_iter; iter++)
	{
		float		maxmove = 0;

		changed = 0;

		/* move each centroid to its mean; an empty one restarts at a random point */
		memcpy(oldc, centroids, csize);
		for (int j = 0; j < k; j++)
		{
			float	   *c = centroids + (Size) j * d;

			if (count[j] > 0)
			{
				float		inv = 1.0f / count[j];

				for (int t = 0; t < d; t++)
					c[t] = sums[(Size) j * d + t] * inv;
			}
			else
				memcpy(c, points + (Size) (next_unit(&rng) * n) * d, sizeof(float) * d);
			if (spherical)
				normalise(c, d);
			moved[j] = dist(c, oldc + (Size) j * d, d);
			maxmove = Max(maxmove, moved[j]);
		}
		if (maxmove == 0)
			break;
		centroid_norms(centroids, k, d, cnorms);

		/* half the distance to the nearest other centroid: inside it, x cannot move */
		if (k > 1 && k <= CENTER_BOUND_MAX_K)
		{
			for (int j = 0; j < k; j++)
				half[j] = FLT_MAX;
			for (int j = 0; j < k; j++)
			{
				CHECK_FOR_INTERRUPTS();
				for (int j2 = j + 1; j2 < k; j2++)
				{
					float		h = dist(centroids + (Size) j * d, centroids + (Size) j2 * d, d) / 2;

					half[j] = Min(half[j], h);
					half[j2] = Min(half[j2], h);
				}
			}
		}

		for (int i = 0; i < n; i++)
		{
			const float *x = points + (Size) i * d;
			int			a = assign[i];
			float		bound;

			if ((i & 255) == 0)
				CHECK_FOR_INTERRUPTS();
			upper[i] += moved[a];
			lower[i] -= maxmove;
			bound = Max(half[a], lower[i]);
			if (upper[i] <= bound)
				continue;
			upper[i] = dist(x, centroids + (Size) a * d, d);
			if (upper[i] <= bound)
				continue;

			{
				int			b = nearest_two(x, xnorms[i], centroids, cnorms, k, d, &upper[i], &lower[i]);

				if (b != a)
				{
					assign[i] = b;
					count[a]--;
					count[b]++;
					for (int t = 0; t < d; t++)
					{
						sums[(Size) a * d + t] -= x[t];
						sums[(Size) b * d + t] += x[t];
					}
					changed++;
				}
			}
		}
		if (changed == 0)
			break;

		/* running sums drift in float: recompute them now and then */
		if (iter % 4 == 3)
		{
			memset(sums, 0, csize);
			for (int i = 0; i < n; i++)
				for (int t = 0; t < d; t++)
					sums[(Size) assign[i] * d + t] += points[(Size) i * d + t];
		}
	}

	/* the means of the final assignment, when the last round still moved points */
	if (changed > 0)
	{
		memset(sums, 0, csize);
		for (int i = 0; i < n; i++)
			for (int t = 0; t < d; t++)
				sums[(Size) assign[i] * d + t] += points[(Size) i * d + t];
		for (int j = 0; j < k; j++)
		{
			float	   *c = centroids + (Size) j * d;

			if (count[j] == 0)
				continue;
			for (int t = 0; t < d; t++)
				c[t] = sums[(Size) j * d + t] / count[j];
			if (spherical)
				normalise(c, d);
		}
	}

	pfree(assign);
	pfree(upper);
	pfree(lower);
	pfree(sums);
	pfree(oldc);
	pfree(count);
	pfree(half);
	pfree(moved);
	pfree(cnorms);
	pfree(xnorms);
}
