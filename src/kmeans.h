/*
 * kmeans.h — k-means clustering of float vectors.
 *
 * Why a header of its own at the top of src: clustering is plain maths on
 * float arrays, needed by ivf's list centroids today and by other parts of
 * embed later (a SQL kmeans() aggregate), none of which should reach into an
 * access method for it.  Include postgres.h first.  Memory comes from the
 * current memory context; long loops check for interrupts.
 *
 * The algorithm: k-means++ seeding on a prefix of the points, then Lloyd
 * rounds pruned with Hamerly's bounds (see kmeans.c).  Deterministic for a
 * given seed, and the same whoever runs the phases (see kmeans_run).
 */
#ifndef EMBED_KMEANS_H
#define EMBED_KMEANS_H

/*
 * Cluster n points of dim floats (row-major) into k centroids, written to
 * `centroids` (k * dim floats, row-major).  Seeding looks at the first
 * min(n, 16 k) points, so the points should be in random order (a sample).
 * At most max_iter Lloyd rounds, fewer once no point changes cluster.
 * spherical: centroids are scaled to unit length after every update (for
 * cosine distance on unit vectors); otherwise plain squared-L2 k-means.
 * Empty clusters restart at a random point.  Requires 1 <= k <= n.
 */
extern void kmeans(const float *points, int n, int dim, int k, bool spherical,
				   uint64 seed, int max_iter, float *centroids);

/*
 * kmeans() of weighted points: point i counts weights[i] times (>= 1; the
 * SQL kmeans() aggregate clusters distinct rows weighted by how often each
 * occurs), in the seeding's D^2 choice and in the means alike.
 */
extern void kmeans_weighted(const float *points, const float *weights, int n, int dim,
							int k, bool spherical, uint64 seed, int max_iter,
							float *centroids);

/*
 * Many centroids: above KMEANS_FLAT_MAX_K, kmeans() and kmeans_weighted()
 * work on two levels.  A flat round costs n * k * d multiply-adds and the
 * seeding about 16 k^2 d, hours at 10,000+ lists of 768 dimensions; instead
 * the points are clustered into kmeans_top_k(k) = ceil(sqrt(k)) groups, and
 * each group into its share of the k centroids, in proportion to its points
 * (kmeans_refine): about 2 sqrt(k) n d per round.  Each sub-clustering is an
 * ordinary kmeans_weighted() of a group's points.
 */
#define KMEANS_FLAT_MAX_K	1024
extern int	kmeans_top_k(int k);

/*
 * The second level: given k1 top centroids (`top`, k1 * dim), assign every
 * point to its nearest one, then cluster each group's points into its share
 * of k centroids, written group after group to `centroids` (k * dim).
 * Requires k1 <= k <= n.  weights may be NULL.
 */
extern void kmeans_refine(const float *points, const float *weights, int n, int dim,
						  const float *top, int k1, int k, bool spherical, uint64 seed,
						  int max_iter, float *centroids);

/*
 * Index of the centroid nearest to x by L2 (ties: the lowest index);
 * cnorms[j] = |centroid j|^2 (kmeans_norms).  Computed as the argmin of
 * |c|^2 - 2 <x, c>, several centroids per pass over x.
 */
extern int	kmeans_nearest(const float *x, const float *centroids, const float *cnorms,
						   int k, int dim);
/* cnorms[j] = |centroid j|^2 for k centroids */
extern void kmeans_norms(const float *centroids, int k, int dim, float *cnorms);

/*
 * Running the point phases elsewhere (in parallel workers, say).  The state
 * holds every array a round touches; the caller allocates them (for example
 * in dynamic shared memory) and kmeans_run fills them in.  Each round's work
 * on points is a phase; kmeans_step does one phase for points [i0, i1),
 * touching only those points' entries of assign/upper/lower and reading the
 * rest, so disjoint ranges may run at once.  The result does not depend on
 * how the ranges were split: between phases the sums are recomputed from the
 * assignments in point order.
 */
typedef struct KmeansState
{
	int			n;
	int			dim;
	int			k;
	const float *points;		/* n * dim */
	const float *weights;		/* n, or NULL: every point weighs 1 */
	float	   *xnorms;			/* n: |x|^2 */
	int		   *assign;			/* n: cluster of each point */
	float	   *upper;			/* n: bound on the distance to its centroid */
	float	   *lower;			/* n: bound on the distance to any other */
	float	   *centroids;		/* k * dim: the result, when kmeans_run returns */
	float	   *cnorms;			/* k: |c|^2 */
	float	   *half;			/* k: half the distance to the nearest other centroid */
	float	   *moved;			/* k: how far each centroid moved in the last update */
	float		maxmove;		/* the largest of moved[] */
} KmeansState;

#define KMEANS_PHASE_ASSIGN	1	/* exact nearest two for every point */
#define KMEANS_PHASE_ROUND	2	/* Hamerly: only points whose bounds overlap */

/* one phase over points [i0, i1); returns how many changed cluster */
extern int	kmeans_step(KmeansState *st, int phase, int i0, int i1);

/* runs a phase over all n points; returns how many changed cluster */
typedef int (*KmeansPhaseRunner) (KmeansState *st, int phase, void *arg);

/*
 * kmeans() on a state whose arrays the caller allocated and whose points
 * are set; runner NULL runs each phase here with kmeans_step.
 */
extern void kmeans_run(KmeansState *st, bool spherical, uint64 seed, int max_iter,
					   KmeansPhaseRunner runner, void *arg);

#endif
