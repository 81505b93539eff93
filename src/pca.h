/*
 * pca.h — principal component analysis of float vectors, in double precision.
 *
 * Why a file of its own: the maths (a mergeable mean/covariance accumulator
 * and a symmetric eigen-solver) is independent of SQL; src/analytics.c wraps
 * it as the pca() aggregate, and anything else in embed that needs a
 * covariance or the axes of a point cloud (a future rotation for quantizers,
 * say) can use it.  Include postgres.h first; memory comes from the current
 * memory context.
 */
#ifndef EMBED_PCA_H
#define EMBED_PCA_H

/* rows buffered before they are folded into the covariance */
#define PCA_BATCH	128
/* the covariance is dim x dim float8 and the eigen-solver O(dim^3) */
#define PCA_MAX_DIM	4096

/*
 * Running count, mean and M2 = sum of (x - mean)(x - mean)^T, merged batch by
 * batch (and state by state) with Chan et al.'s pairwise update, so that no
 * large sums of squares are ever subtracted.  m2 is dpad x dpad row-major and
 * only its upper triangle (j >= i) is meaningful.
 */
typedef struct PcaAccum
{
	int64		n;				/* rows folded into mean and m2 */
	int			dim;
	int			dpad;			/* dim rounded up to a multiple of 12 */
	int			nbuf;			/* rows waiting in buf */
	double	   *mean;			/* dim */
	double	   *m2;				/* dpad * dpad, upper triangle */
	double	   *buf;			/* PCA_BATCH * dpad */
} PcaAccum;

extern PcaAccum *pca_accum_new(int dim);
extern void pca_accum_add(PcaAccum *a, const float *x);
/* fold buffered rows in (done by merge and before reading mean/m2) */
extern void pca_accum_flush(PcaAccum *a);
/* a += b (both flushed, same dim) */
extern void pca_accum_merge(PcaAccum *a, const PcaAccum *b);

/*
 * Eigen-decomposition of the symmetric d x d matrix `a` (row-major; it is
 * overwritten): eigenvalues in w (descending) and the unit eigenvectors as
 * the rows of `vecs` (d x d), each with its largest-magnitude component
 * positive (the first such on ties).  Householder tridiagonalisation, then
 * the implicit QL method (the EISPACK tred2/tql2 pair).
 */
extern void embed_sym_eigen(double *a, int d, double *w, double *vecs);

#endif
