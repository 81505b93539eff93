/*
 * kernels.h — the one home of embed's numeric kernels.
 *
 * Every distance and reduction over float32 arrays goes through the table
 * selected here.  Each CPU-specific table is compiled with per-function target
 * attributes (no -march flags), and the best one the running CPU supports is
 * chosen once at load time; `SET embed.simd = ...` can pin another supported
 * table (for tests, benchmarks and debugging).
 *
 * Raw kernels accumulate in float32 lanes, like every SIMD engine does.  The
 * embed_* wrappers below are what callers use: they widen the result to
 * float8 and, when float32 accumulation overflowed (finite inputs whose
 * squares or products exceed FLT_MAX), recompute in double so that a distance
 * between finite vectors is always finite and correct.
 */
#ifndef EMBED_KERNELS_H
#define EMBED_KERNELS_H

typedef struct EmbedKernels
{
	const char *name;
	/* sum((a-b)^2) */
	float		(*l2sq) (const float *a, const float *b, int n);
	/* sum(a*b) */
	float		(*dot) (const float *a, const float *b, int n);
	/* sum(|a-b|) */
	float		(*l1) (const float *a, const float *b, int n);
	/* sum(a*b), sum(a*a), sum(b*b) in one pass */
	void		(*cosine_parts) (const float *a, const float *b, int n,
								 float *ab, float *aa, float *bb);
	/*
	 * sum over j < nplanes of 2^j * popcount(code & plane_j), where plane j
	 * is planes[j * words .. (j + 1) * words): the RaBitQ inner product of a
	 * 1-bit code with a bit-sliced query.
	 */
	uint32		(*bitplane_dot) (const uint64 *code, const uint64 *planes,
								 int words, int nplanes);
	/* in-place Walsh-Hadamard transform of n (a power of two) values, times scale */
	void		(*fwht) (float *x, int n, float scale);
	/*
	 * Scalar-quantise x (n a multiple of 64) to 4 bits: value v_i stands for
	 * lo + v_i * step, rounded to nearest, with lo and step from x's range;
	 * planes receives 4 bit planes of n / 64 words each (plane j holds bit
	 * j of every v_i); returns sum(v_i).  Every table gives the same bits.
	 */
	uint32		(*quantize4) (const float *x, int n, uint64 *planes, float *lo, float *step);
	/* out[r] = sum(x * rows[r]) for nrows consecutive rows of n values */
	void		(*dot_rows) (const float *x, const float *rows, int nrows, int n, float *out);
	/* IEEE binary16 -> float32 (finite halves only) */
	void		(*half_to_float) (const uint16 *h, float *out, int n);
	/*
	 * sum(a*h) and sum((a-h)^2) with h in binary16: half_to_float then dot
	 * or l2sq in one pass, with no float copy of h (hnsw's compact values)
	 */
	float		(*half_dot) (const float *a, const uint16 *h, int n);
	float		(*half_l2sq) (const float *a, const uint16 *h, int n);
	/* out[i] = lo + b[i] (exact for the integers a float holds) */
	void		(*byte_to_float) (const uint8 *b, float lo, float *out, int n);
	/* popcount(a XOR b) over n bytes: the Hamming distance of bit strings */
	uint64		(*hamming) (const uint8 *a, const uint8 *b, int n);
	/* popcount(a AND b), popcount(a OR b) over n bytes: Jaccard's parts */
	void		(*and_or_count) (const uint8 *a, const uint8 *b, int n,
								 uint64 *and_count, uint64 *or_count);
} EmbedKernels;

/* the active table; never NULL after embed_kernels_init() */
extern const EmbedKernels *embed_active_kernels;

extern void embed_kernels_init(void);
/* NULL-terminated list of the tables this CPU can run, best last */
extern const EmbedKernels *const *embed_supported_kernels(void);
extern const EmbedKernels *embed_find_kernels(const char *name);
extern const EmbedKernels *embed_best_kernels(void);

/* Entry points with the overflow fallback: results are float8. */
extern double embed_l2sq(const float *a, const float *b, int n);
extern double embed_dot(const float *a, const float *b, int n);
extern double embed_l1(const float *a, const float *b, int n);
extern double embed_cosine_distance(const float *a, const float *b, int n);
extern double embed_norm(const float *a, int n);
/* bit strings of n bytes: Hamming distance, and 1 - |a AND b| / |a OR b| (0 when both are empty) */
extern double embed_hamming(const uint8 *a, const uint8 *b, int n);
extern double embed_jaccard(const uint8 *a, const uint8 *b, int n);

/*
 * Scale x (n floats) in place to unit L2 length: each value divided by the
 * norm computed in double (embed_norm), one rounding per value.  Returns the
 * norm; a zero vector (norm 0) is left as it is.  The one normaliser of
 * embed: SQL l2_normalize(), cosine values in ivf, spherical k-means.
 */
extern double embed_l2_normalize(float *x, int n);
/* float32 -> binary16, nearest even; false if a value is out of half range */
extern bool embed_float_to_half(const float *x, uint16 *out, int n);


/*
 * splitmix64: embed's seedable generator (ivf sampling, k-means seeding, the
 * RaBitQ rotation), the same on every platform.  The rotation of an
 * ivfrabitq index is rebuilt from its seed, so this sequence is part of that
 * on-disk format: never change it.
 */
static inline uint64
embed_splitmix64(uint64 *state)
{
	uint64		z = (*state += UINT64CONST(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64CONST(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64CONST(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

#endif
