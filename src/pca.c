/*
 * pca.c — mean/covariance accumulation and a symmetric eigen-solver (pca.h).
 *
 * Why this shape: pca() over 100,000 x 768 rows does ~3e10 multiply-adds
 * to build the covariance, so rows are buffered PCA_BATCH at a time and
 * folded in with a blocked rank-k update (a 4 x 12 register tile, compiled
 * for AVX2+FMA where embed.simd allows it), which keeps the d x d matrix
 * out of the inner loop; every batch is centred on its own mean and merged with
 * Chan's formula, so the float8 sums stay accurate however far the data
 * sits from the origin.  The eigen-solver is the classic Householder + QL
 * pair, O(d^3) and independent of the eigenvalue gaps (power iteration
 * would crawl on the flat spectra of real embeddings); its matrix is kept
 * column-major so that every hot loop walks memory contiguously.
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "miscadmin.h"
#include "utils/memutils.h"

#include "kernels.h"
#include "pca.h"

PcaAccum *
pca_accum_new(int dim)
{
	PcaAccum   *a = palloc0(sizeof(PcaAccum));
	int			dpad = (dim + 11) / 12 * 12;

	a->dim = dim;
	a->dpad = dpad;
	a->mean = palloc0(sizeof(double) * dim);
	a->m2 = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(double) * dpad * dpad);
	memset(a->m2, 0, sizeof(double) * dpad * dpad);
	a->buf = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(double) * PCA_BATCH * dpad);
	memset(a->buf, 0, sizeof(double) * PCA_BATCH * dpad);
	return a;
}

void
pca_accum_add(PcaAccum *a, const float *x)
{
	double	   *row = a->buf + (Size) a->nbuf * a->dpad;

	for (int i = 0; i < a->dim; i++)
		row[i] = x[i];
	if (++a->nbuf == PCA_BATCH)
		pca_accum_flush(a);
}

/*
 * The rank-k update c += x^T x over the upper blocks of c, for nrows rows of
 * x (row stride dpad, a multiple of 12, padding zero): a 4 x 12 tile of c
 * lives in twelve 4-wide registers while the rows stream past, three loads
 * and four broadcasts feeding twelve multiply-adds.  One body, compiled
 * twice: portable, and with AVX2+FMA on x86-64 (picked by use_avx2()).
 */
typedef double v4d __attribute__((vector_size(32)));

#define V4_LOAD(v, p)	memcpy(&(v), (p), sizeof(v4d))
#define V4_ADD_TO(p, a) \
	do { v4d t_; memcpy(&t_, (p), sizeof(v4d)); t_ += (a); memcpy((p), &t_, sizeof(v4d)); } while (0)
#define V4_SPLAT(s)		((v4d) {(s), (s), (s), (s)})

#define SYRK_BODY \
{ \
	for (int i0 = 0; i0 < dpad; i0 += 4) \
	{ \
		if ((i0 & 63) == 0) \
			CHECK_FOR_INTERRUPTS(); \
		for (int j0 = i0 / 12 * 12; j0 < dpad; j0 += 12) \
		{ \
			v4d			a00 = {0}, a01 = {0}, a02 = {0}, a10 = {0}, a11 = {0}, a12 = {0}; \
			v4d			a20 = {0}, a21 = {0}, a22 = {0}, a30 = {0}, a31 = {0}, a32 = {0}; \
			const double *xr = x; \
			double	   *cr = c + (Size) i0 * dpad + j0; \
			for (int r = 0; r < nrows; r++, xr += dpad) \
			{ \
				v4d			b0, b1, b2, s; \
				V4_LOAD(b0, xr + j0); \
				V4_LOAD(b1, xr + j0 + 4); \
				V4_LOAD(b2, xr + j0 + 8); \
				s = V4_SPLAT(xr[i0]); \
				a00 += s * b0; a01 += s * b1; a02 += s * b2; \
				s = V4_SPLAT(xr[i0 + 1]); \
				a10 += s * b0; a11 += s * b1; a12 += s * b2; \
				s = V4_SPLAT(xr[i0 + 2]); \
				a20 += s * b0; a21 += s * b1; a22 += s * b2; \
				s = V4_SPLAT(xr[i0 + 3]); \
				a30 += s * b0; a31 += s * b1; a32 += s * b2; \
			} \
			V4_ADD_TO(cr, a00); V4_ADD_TO(cr + 4, a01); V4_ADD_TO(cr + 8, a02); \
			cr += dpad; \
			V4_ADD_TO(cr, a10); V4_ADD_TO(cr + 4, a11); V4_ADD_TO(cr + 8, a12); \
			cr += dpad; \
			V4_ADD_TO(cr, a20); V4_ADD_TO(cr + 4, a21); V4_ADD_TO(cr + 8, a22); \
			cr += dpad; \
			V4_ADD_TO(cr, a30); V4_ADD_TO(cr + 4, a31); V4_ADD_TO(cr + 8, a32); \
		} \
	} \
}

static void
syrk_portable(double *c, const double *x, int nrows, int dpad)
SYRK_BODY

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_PCA_AVX2 1
__attribute__((target("avx2,fma")))
static void
syrk_avx2(double *c, const double *x, int nrows, int dpad)
SYRK_BODY
#endif

static bool use_avx2(void);

static void
syrk_upper(double *c, const double *x, int nrows, int dpad)
{
#ifdef HAVE_PCA_AVX2
	if (use_avx2())
	{
		syrk_avx2(c, x, nrows, dpad);
		return;
	}
#endif
	syrk_portable(c, x, nrows, dpad);
}

/*
 * Chan's merge of (nb, mb, M2b) into a, M2b already added to a->m2:
 * M2 += delta delta^T na nb / n, mean += delta nb / n.
 */
static void
merge_moments(PcaAccum *a, int64 nb, const double *mb)
{
	int			d = a->dim;
	double		na = (double) a->n,
				n = na + (double) nb,
				w = na * (double) nb / n;
	double	   *delta = palloc(sizeof(double) * d);

	for (int i = 0; i < d; i++)
		delta[i] = mb[i] - a->mean[i];
	if (a->n > 0)
		for (int i = 0; i < d; i++)
		{
			double	   *row = a->m2 + (Size) i * a->dpad;
			double		di = delta[i] * w;

			for (int j = i; j < d; j++)
				row[j] += di * delta[j];
		}
	for (int i = 0; i < d; i++)
		a->mean[i] += delta[i] * ((double) nb / n);
	a->n += nb;
	pfree(delta);
}

void
pca_accum_flush(PcaAccum *a)
{
	int			d = a->dim,
				dpad = a->dpad,
				nb = a->nbuf;
	double	   *mb;

	if (nb == 0)
		return;
	mb = palloc0(sizeof(double) * d);
	for (int r = 0; r < nb; r++)
	{
		const double *row = a->buf + (Size) r * dpad;

		for (int i = 0; i < d; i++)
			mb[i] += row[i];
	}
	for (int i = 0; i < d; i++)
		mb[i] /= nb;
	for (int r = 0; r < nb; r++)
	{
		double	   *row = a->buf + (Size) r * dpad;

		for (int i = 0; i < d; i++)
			row[i] -= mb[i];
	}
	syrk_upper(a->m2, a->buf, nb, dpad);
	merge_moments(a, nb, mb);
	a->nbuf = 0;
	pfree(mb);
}

void
pca_accum_merge(PcaAccum *a, const PcaAccum *b)
{
	Assert(a->dim == b->dim && a->nbuf == 0 && b->nbuf == 0);
	if (b->n == 0)
		return;
	for (int i = 0; i < a->dim; i++)
	{
		double	   *ra = a->m2 + (Size) i * a->dpad;
		const double *rb = b->m2 + (Size) i * b->dpad;

		for (int j = i; j < a->dim; j++)
			ra[j] += rb[j];
	}
	merge_moments(a, b->n, b->mean);
}

/*
 * The eigen-solver, compiled twice from pca_eigen.inc like the rank-k update:
 * its hot loops (rotations, dot products, axpys over matrix columns) are
 * written with 4-wide vectors.
 */
#define EIG_SUFFIX(name) name##_portable
#define EIG_TARGET
#include "pca_eigen.inc"
#undef EIG_SUFFIX
#undef EIG_TARGET

#ifdef HAVE_PCA_AVX2
#define EIG_SUFFIX(name) name##_avx2
#define EIG_TARGET __attribute__((target("avx2,fma")))
#include "pca_eigen.inc"
#undef EIG_SUFFIX
#undef EIG_TARGET
#endif

/*
 * The AVX2 copies run whenever embed.simd's kernel table is not the portable
 * one (the avx2 and avx512 tables both require AVX2 and FMA), so that
 * SET embed.simd = portable tests the portable copies.
 */
static bool
use_avx2(void)
{
#ifdef HAVE_PCA_AVX2
	return strcmp(embed_active_kernels->name, "portable") != 0;
#else
	return false;
#endif
}

/* column-major: element (r, c) of the n x n matrix */
#define V(r, c)	v[(Size) (c) * n + (r)]

void
embed_sym_eigen(double *a, int n, double *w, double *vecs)
{
	double	   *d = palloc(sizeof(double) * n),
			   *e = palloc(sizeof(double) * n);
	int		   *order = palloc(sizeof(int) * n);
	double	   *v = a;

	/* a is symmetric: row-major and column-major are the same matrix */
#ifdef HAVE_PCA_AVX2
	if (use_avx2())
	{
		tred2_avx2(v, n, d, e);
		tql2_avx2(v, n, d, e);
	}
	else
#endif
	{
		tred2_portable(v, n, d, e);
		tql2_portable(v, n, d, e);
	}

	/* descending eigenvalues, ties by position (insertion sort on indexes) */
	for (int i = 0; i < n; i++)
	{
		int			j = i;

		while (j > 0 && d[order[j - 1]] < d[i])
		{
			order[j] = order[j - 1];
			j--;
		}
		order[j] = i;
	}

	for (int i = 0; i < n; i++)
	{
		const double *col = &V(0, order[i]);
		double	   *out = vecs + (Size) i * n;
		int			big = 0;

		w[i] = d[order[i]];
		for (int k = 0; k < n; k++)
			if (fabs(col[k]) > fabs(col[big]))
				big = k;
		/* (+ 0.0 turns a negated zero into a plain one) */
		for (int k = 0; k < n; k++)
			out[k] = (col[big] < 0 ? -col[k] : col[k]) + 0.0;
	}
	pfree(d);
	pfree(e);
	pfree(order);
}
