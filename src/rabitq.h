/*
 * rabitq.h — RaBitQ (Gao and Long, SIGMOD 2024): a random rotation, 1-bit
 * codes of rotated vectors and inner-product estimates with error bounds.
 *
 * Why a header of its own at the top of src: the maths knows nothing about
 * index pages, so any part of embed can store or compare RaBitQ codes (ivf's
 * posting lists today) without reaching into an access method.  Plain C on
 * float arrays; include postgres.h first.  See rabitq.c for the estimator.
 */
#ifndef EMBED_RABITQ_H
#define EMBED_RABITQ_H

/*
 * A random orthogonal rotation of R^dim into R^pdim (pdim = dim rounded up to
 * a multiple of 64, the input zero-padded): RABITQ_ROUNDS rounds of random
 * sign flips followed by normalised fast Walsh-Hadamard transforms on
 * power-of-two blocks.  Fully determined by (dim, seed), so it need not be
 * stored.
 */
#define RABITQ_ROUNDS 4

typedef struct Rabitq
{
	int			dim;
	int			pdim;			/* multiple of 64 */
	uint64		seed;
	float	   *signs;			/* RABITQ_ROUNDS * pdim values of +1/-1 */
} Rabitq;

/* signs are palloc'd in the current memory context */
extern void rabitq_init(Rabitq *rq, int dim, uint64 seed);
/* out (pdim floats) = P * in (dim floats); norms and inner products kept */
extern void rabitq_rotate(const Rabitq *rq, const float *in, float *out);

#define RABITQ_CODE_BYTES(pdim)	((pdim) / 8)

/* per-vector corrections stored beside the code */
typedef struct RabitqFactors
{
	float		norm;			/* ||r||: length of the (rotated) vector */
	float		xo;				/* <xbar, r/||r||>, in (0, 1]; 1 if r == 0 */
} RabitqFactors;

/*
 * code bit i = (r[i] > 0); r is a rotated vector (pdim floats), usually a
 * residual to a centroid.  Returns the number of bits set, which estimates
 * need.
 */
extern uint32 rabitq_encode(int pdim, const float *r, uint8 *code, RabitqFactors *f);

/*
 * A query direction prepared for comparison with codes: the unit vector of
 * the rotated query (residual), scalar-quantised to RABITQ_QUERY_BITS bits
 * per dimension and laid out as bit planes for AND + popcount.
 */
#define RABITQ_QUERY_BITS 4

typedef struct RabitqQuery
{
	int			pdim;
	float		norm;			/* ||q||: length before normalisation */
	float		lo;				/* quantised value v stands for lo + v * delta */
	float		delta;
	uint32		sum_q;			/* sum of the quantised values */
	uint64	   *planes;			/* RABITQ_QUERY_BITS * pdim / 64 words, plane j
								 * holds bit j of every quantised value */
} RabitqQuery;

/* q->planes is palloc'd on first use (planes == NULL) and reused after */
extern void rabitq_prepare_query(int pdim, const float *r, RabitqQuery *q);

/*
 * Estimate <o, q> for unit vectors o (the encoded vector's direction) and q
 * (the prepared query's), and a bound `*err` such that |<o,q> - est| <= err
 * with high probability (the RaBitQ bound with confidence constant
 * RABITQ_EPSILON, widened by the query quantisation error).
 */
#define RABITQ_EPSILON 2.5

extern float rabitq_estimate(const RabitqQuery *q, const uint8 *code, uint32 ones,
							 const RabitqFactors *f, float *err);

#endif
