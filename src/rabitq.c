/*
 * rabitq.c — RaBitQ: random rotation, 1-bit codes and their distance
 * estimates with error bounds (Gao and Long, SIGMOD 2024).
 *
 * A residual r (vector minus its list centroid) is rotated by a random
 * orthogonal P and stored as its sign bits b plus ||r|| and
 * xo = <xbar, r/||r||>, where xbar = (2b - 1) / sqrt(D) is the unit vector the
 * bits stand for.  For a unit query direction q,
 *
 *     <r/||r||, q>  ~  <xbar, q> / xo
 *
 * is an unbiased estimate whose error is about sqrt((1 - xo^2) / (D - 1)) / xo
 * standard deviations; the query is scalar-quantised to 4 bits so <xbar, q>
 * becomes AND + popcount over bit planes.
 *
 * Moved here from src/ivf so that any part of embed can use RaBitQ codes;
 * it depends only on the kernels.
 */
#include "postgres.h"

#include <math.h>

#include "kernels.h"
#include "rabitq.h"

void
rabitq_init(Rabitq *rq, int dim, uint64 seed)
{
	uint64		state = seed;
	int			pdim = TYPEALIGN(64, dim);

	rq->dim = dim;
	rq->pdim = pdim;
	rq->seed = seed;
	rq->signs = palloc(sizeof(float) * RABITQ_ROUNDS * pdim);
	for (int i = 0; i < RABITQ_ROUNDS * pdim; i += 64)
	{
		uint64		bits = embed_splitmix64(&state);

		for (int j = 0; j < 64; j++)
			rq->signs[i + j] = (bits >> j) & 1 ? 1.0f : -1.0f;
	}
}

/*
 * Each round flips signs, then transforms the largest power-of-two block:
 * the leading one in even rounds, the trailing one in odd rounds, so that
 * when pdim is not a power of two every coordinate still mixes with every
 * other.  Each step is orthogonal, so the product is.
 */
void
rabitq_rotate(const Rabitq *rq, const float *in, float *out)
{
	int			pdim = rq->pdim;
	int			block = 1;
	float		scale;

	while (block * 2 <= pdim)
		block *= 2;
	scale = 1.0f / sqrtf((float) block);	/* keeps the transform orthogonal */

	memcpy(out, in, sizeof(float) * rq->dim);
	memset(out + rq->dim, 0, sizeof(float) * (pdim - rq->dim));
	for (int r = 0; r < RABITQ_ROUNDS; r++)
	{
		const float *s = rq->signs + (Size) r * pdim;

		for (int i = 0; i < pdim; i++)
			out[i] *= s[i];
		embed_active_kernels->fwht(out + ((r & 1) ? pdim - block : 0), block, scale);
	}
}

uint32
rabitq_encode(int pdim, const float *r, uint8 *code, RabitqFactors *f)
{
	uint32		ones = 0;
	float		sq = embed_active_kernels->dot(r, r, pdim);
	float		a0 = 0,
				a1 = 0,
				a2 = 0,
				a3 = 0,
				abs;

	/* pdim is a multiple of 64: whole bytes, and four sums for the compiler to keep apart */
	for (int i = 0; i < pdim; i += 8)
	{
		const float *x = r + i;

		code[i >> 3] = (uint8) ((x[0] > 0) | (x[1] > 0) << 1 | (x[2] > 0) << 2 | (x[3] > 0) << 3 |
								(x[4] > 0) << 4 | (x[5] > 0) << 5 | (x[6] > 0) << 6 | (x[7] > 0) << 7);
		ones += __builtin_popcount(code[i >> 3]);
		a0 += fabsf(x[0]) + fabsf(x[4]);
		a1 += fabsf(x[1]) + fabsf(x[5]);
		a2 += fabsf(x[2]) + fabsf(x[6]);
		a3 += fabsf(x[3]) + fabsf(x[7]);
	}
	abs = (a0 + a1) + (a2 + a3);
	f->norm = sqrtf(sq);
	if (sq > 0 && isfinite(sq))
		f->xo = abs / (f->norm * sqrtf((float) pdim));
	else
		f->xo = 1.0f;
	/* |<xbar, u>| >= 1/sqrt(D) for a unit u; keep rounding from going lower */
	f->xo = Min(Max(f->xo, 1.0f / sqrtf((float) pdim)), 1.0f);
	return ones;
}

void
rabitq_prepare_query(int pdim, const float *r, RabitqQuery *q)
{
	int			words = pdim / 64;
	float		lo,
				step;
	uint32		sum;

	StaticAssertStmt(RABITQ_QUERY_BITS == 4, "quantize4 writes 4 planes");
	if (q->planes == NULL || q->pdim != pdim)
		q->planes = palloc(sizeof(uint64) * RABITQ_QUERY_BITS * words);
	q->pdim = pdim;

	q->norm = sqrtf(embed_active_kernels->dot(r, r, pdim));
	if (q->norm == 0 || !isfinite(q->norm))
	{
		memset(q->planes, 0, sizeof(uint64) * RABITQ_QUERY_BITS * words);
		q->norm = 0;
		q->lo = q->delta = 0;
		q->sum_q = 0;
		return;
	}

	/* quantise r itself; dividing lo and delta by the norm makes it a unit vector */
	sum = embed_active_kernels->quantize4(r, pdim, q->planes, &lo, &step);
	q->lo = lo / q->norm;
	q->delta = step / q->norm;
	q->sum_q = sum;
}

/*
 * With q_i ~ lo + delta * v_i:
 *   sum_i (2 b_i - 1) q_i = 2 (lo * |b| + delta * sum_{b_i} v_i) - (D lo + delta * sum v)
 * and <xbar, q> is that over sqrt(D).  Two independent errors: RaBitQ's own
 * (sd sqrt((1 - xo^2) / (D - 1))) and rounding the query (uniform in
 * +-delta/2 per coordinate, so sd delta / sqrt(12) after the 1/sqrt(D)
 * weights); both are divided by xo with the estimate.
 */
float
rabitq_estimate(const RabitqQuery *q, const uint8 *code, uint32 ones, const RabitqFactors *f,
				float *err)
{
	int			pdim = q->pdim;
	uint32		dot;
	float		xq,
				var;

	if (q->norm == 0 || f->norm == 0)
	{
		*err = 0;
		return 0;
	}
	dot = embed_active_kernels->bitplane_dot((const uint64 *) code, q->planes,
											 pdim / 64, RABITQ_QUERY_BITS);
	xq = (2 * (q->lo * ones + q->delta * dot) - (pdim * q->lo + q->delta * q->sum_q)) /
		sqrtf((float) pdim);
	var = Max(1 - f->xo * f->xo, 0.0f) / (pdim - 1) + q->delta * q->delta * (1.0f / 12);
	*err = (float) RABITQ_EPSILON * sqrtf(var) / f->xo;
	return xq / f->xo;
}
