/*
 * kernels.c — distance kernels and their runtime CPU dispatch.
 *
 * Three tables: "portable" (plain C, any CPU), "avx2" (AVX2 + FMA) and
 * "avx512" (AVX-512F).  The SIMD ones are compiled with target attributes so
 * one build runs anywhere; which one runs is decided from CPUID at load.
 *
 * All kernels keep several independent accumulators: a single running sum is
 * bound by FMA latency, not throughput, and also loses more precision.
 */
#include "postgres.h"

#include <math.h>

#include "kernels.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define EMBED_X86 1
#include <immintrin.h>
#endif

/* ---------- portable ---------- */

static float
l2sq_portable(const float *a, const float *b, int n)
{
	float		s0 = 0, s1 = 0, s2 = 0, s3 = 0;
	int			i = 0;

	for (; i + 4 <= n; i += 4)
	{
		float		d0 = a[i] - b[i],
					d1 = a[i + 1] - b[i + 1],
					d2 = a[i + 2] - b[i + 2],
					d3 = a[i + 3] - b[i + 3];

		s0 += d0 * d0;
		s1 += d1 * d1;
		s2 += d2 * d2;
		s3 += d3 * d3;
	}
	for (; i < n; i++)
	{
		float		d = a[i] - b[i];

		s0 += d * d;
	}
	return (s0 + s1) + (s2 + s3);
}

static float
dot_portable(const float *a, const float *b, int n)
{
	float		s0 = 0, s1 = 0, s2 = 0, s3 = 0;
	int			i = 0;

	for (; i + 4 <= n; i += 4)
	{
		s0 += a[i] * b[i];
		s1 += a[i + 1] * b[i + 1];
		s2 += a[i + 2] * b[i + 2];
		s3 += a[i + 3] * b[i + 3];
	}
	for (; i < n; i++)
		s0 += a[i] * b[i];
	return (s0 + s1) + (s2 + s3);
}

static float
l1_portable(const float *a, const float *b, int n)
{
	float		s0 = 0, s1 = 0, s2 = 0, s3 = 0;
	int			i = 0;

	for (; i + 4 <= n; i += 4)
	{
		s0 += fabsf(a[i] - b[i]);
		s1 += fabsf(a[i + 1] - b[i + 1]);
		s2 += fabsf(a[i + 2] - b[i + 2]);
		s3 += fabsf(a[i + 3] - b[i + 3]);
	}
	for (; i < n; i++)
		s0 += fabsf(a[i] - b[i]);
	return (s0 + s1) + (s2 + s3);
}

static void
cosine_parts_portable(const float *a, const float *b, int n,
					  float *ab, float *aa, float *bb)
{
	float		sab0 = 0, sab1 = 0, saa0 = 0, saa1 = 0, sbb0 = 0, sbb1 = 0;
	int			i = 0;

	for (; i + 2 <= n; i += 2)
	{
		sab0 += a[i] * b[i];
		sab1 += a[i + 1] * b[i + 1];
		saa0 += a[i] * a[i];
		saa1 += a[i + 1] * a[i + 1];
		sbb0 += b[i] * b[i];
		sbb1 += b[i + 1] * b[i + 1];
	}
	for (; i < n; i++)
	{
		sab0 += a[i] * b[i];
		saa0 += a[i] * a[i];
		sbb0 += b[i] * b[i];
	}
	*ab = sab0 + sab1;
	*aa = saa0 + saa1;
	*bb = sbb0 + sbb1;
}

static uint32
bitplane_dot_portable(const uint64 *code, const uint64 *planes, int words, int nplanes)
{
	uint32		dot = 0;

	for (int w = 0; w < words; w++)
	{
		uint64		c = code[w];

		for (int j = 0; j < nplanes; j++)
			dot += (uint32) __builtin_popcountll(c & planes[j * words + w]) << j;
	}
	return dot;
}

static void
fwht_portable(float *x, int n, float scale)
{
	for (int h = 1; h < n; h <<= 1)
		for (int i = 0; i < n; i += h << 1)
			for (int j = i; j < i + h; j++)
			{
				float		a = x[j],
							b = x[j + h];

				x[j] = a + b;
				x[j + h] = a - b;
			}
	for (int i = 0; i < n; i++)
		x[i] *= scale;
}

/* lo, step and 1 / step for quantize4, computed the same way by every table */
static inline void
quantize4_range(float lo, float hi, float *step, float *inv)
{
	*step = (hi - lo) / 15;
	*inv = *step > 0 ? 1.0f / *step : 0;
}

static uint32
quantize4_portable(const float *x, int n, uint64 *planes, float *lo, float *step)
{
	int			words = n / 64;
	float		mn = x[0],
				mx = x[0],
				inv;
	uint32		sum = 0;

	for (int i = 1; i < n; i++)
	{
		mn = x[i] < mn ? x[i] : mn;
		mx = x[i] > mx ? x[i] : mx;
	}
	quantize4_range(mn, mx, step, &inv);
	*lo = mn;
	for (int w = 0; w < words; w++)
	{
		uint64		p0 = 0,
					p1 = 0,
					p2 = 0,
					p3 = 0;

		for (int b = 0; b < 64; b++)
		{
			/* round to nearest: x >= lo, so adding 0.5 and truncating does it */
			float		t = (x[w * 64 + b] - mn) * inv;
			uint64		v = (uint64) (t + 0.5f);

			v = v > 15 ? 15 : v;
			sum += (uint32) v;
			p0 |= (v & 1) << b;
			p1 |= ((v >> 1) & 1) << b;
			p2 |= ((v >> 2) & 1) << b;
			p3 |= ((v >> 3) & 1) << b;
		}
		planes[w] = p0;
		planes[words + w] = p1;
		planes[2 * words + w] = p2;
		planes[3 * words + w] = p3;
	}
	return sum;
}

static void
dot_rows_portable(const float *x, const float *rows, int nrows, int n, float *out)
{
	for (int r = 0; r < nrows; r++)
		out[r] = dot_portable(x, rows + (size_t) r * n, n);
}

/*
 * IEEE binary16 -> float32.  Shifting the 15 magnitude bits into a float's
 * place and scaling by 2^112 rebiases the exponent and also handles
 * subnormals exactly; half infinities and NaNs never reach here (the encoder
 * below does not produce them).
 */
static inline float
half_to_float_1(uint16 h)
{
	union
	{
		uint32		u;
		float		f;
	}			v;

	v.u = (uint32) (h & 0x7fff) << 13;
	v.f *= 0x1p112f;
	v.u |= (uint32) (h & 0x8000) << 16;
	return v.f;
}

static float
half_dot_portable(const float *a, const uint16 *h, int n)
{
	float		s0 = 0, s1 = 0;
	int			i = 0;

	for (; i + 2 <= n; i += 2)
	{
		s0 += a[i] * half_to_float_1(h[i]);
		s1 += a[i + 1] * half_to_float_1(h[i + 1]);
	}
	for (; i < n; i++)
		s0 += a[i] * half_to_float_1(h[i]);
	return s0 + s1;
}

static float
half_l2sq_portable(const float *a, const uint16 *h, int n)
{
	float		s0 = 0, s1 = 0;
	int			i = 0;

	for (; i + 2 <= n; i += 2)
	{
		float		d0 = a[i] - half_to_float_1(h[i]),
					d1 = a[i + 1] - half_to_float_1(h[i + 1]);

		s0 += d0 * d0;
		s1 += d1 * d1;
	}
	for (; i < n; i++)
	{
		float		d = a[i] - half_to_float_1(h[i]);

		s0 += d * d;
	}
	return s0 + s1;
}

static void
half_to_float_portable(const uint16 *h, float *out, int n)
{
	for (int i = 0; i < n; i++)
		out[i] = half_to_float_1(h[i]);
}

static void
byte_to_float_portable(const uint8 *b, float lo, float *out, int n)
{
	for (int i = 0; i < n; i++)
		out[i] = lo + b[i];
}

/*
 * Bit-string kernels: whole 64-bit words, then the tail bytes.  One body,
 * compiled once portable and once with the popcount instruction.
 */
#define BIT_KERNELS(SUFFIX, ATTR) \
ATTR static uint64 \
hamming_##SUFFIX(const uint8 *a, const uint8 *b, int n) \
{ \
	uint64		count = 0; \
	int			i = 0; \
\
	for (; i + 8 <= n; i += 8) \
	{ \
		uint64		x, y; \
\
		memcpy(&x, a + i, 8); \
		memcpy(&y, b + i, 8); \
		count += __builtin_popcountll(x ^ y); \
	} \
	for (; i < n; i++) \
		count += __builtin_popcount((unsigned) (a[i] ^ b[i])); \
	return count; \
} \
\
ATTR static void \
and_or_count_##SUFFIX(const uint8 *a, const uint8 *b, int n, uint64 *ac, uint64 *oc) \
{ \
	uint64		and_count = 0, or_count = 0; \
	int			i = 0; \
\
	for (; i + 8 <= n; i += 8) \
	{ \
		uint64		x, y; \
\
		memcpy(&x, a + i, 8); \
		memcpy(&y, b + i, 8); \
		and_count += __builtin_popcountll(x & y); \
		or_count += __builtin_popcountll(x | y); \
	} \
	for (; i < n; i++) \
	{ \
		and_count += __builtin_popcount((unsigned) (a[i] & b[i])); \
		or_count += __builtin_popcount((unsigned) (a[i] | b[i])); \
	} \
	*ac = and_count; \
	*oc = or_count; \
}

BIT_KERNELS(portable, )

static const EmbedKernels kernels_portable = {
	.name = "portable",
	.l2sq = l2sq_portable,
	.dot = dot_portable,
	.l1 = l1_portable,
	.cosine_parts = cosine_parts_portable,
	.bitplane_dot = bitplane_dot_portable,
	.fwht = fwht_portable,
	.dot_rows = dot_rows_portable,
	.quantize4 = quantize4_portable,
	.half_to_float = half_to_float_portable,
	.half_dot = half_dot_portable,
	.half_l2sq = half_l2sq_portable,
	.byte_to_float = byte_to_float_portable,
	.hamming = hamming_portable,
	.and_or_count = and_or_count_portable
};

#ifdef EMBED_X86

/* ---------- AVX2 + FMA: 8 lanes, 4 accumulators ---------- */

#define AVX2_TARGET __attribute__((target("avx2,fma")))

AVX2_TARGET static inline float
hsum256(__m256 v)
{
	__m128		lo = _mm256_castps256_ps128(v);
	__m128		hi = _mm256_extractf128_ps(v, 1);

	lo = _mm_add_ps(lo, hi);
	lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
	lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
	return _mm_cvtss_f32(lo);
}

AVX2_TARGET static float
l2sq_avx2(const float *a, const float *b, int n)
{
	__m256		s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
	int			i = 0;
	float		tail = 0;

	for (; i + 32 <= n; i += 32)
	{
		__m256		d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
		__m256		d1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
		__m256		d2 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16));
		__m256		d3 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24));

		s0 = _mm256_fmadd_ps(d0, d0, s0);
		s1 = _mm256_fmadd_ps(d1, d1, s1);
		s2 = _mm256_fmadd_ps(d2, d2, s2);
		s3 = _mm256_fmadd_ps(d3, d3, s3);
	}
	for (; i + 8 <= n; i += 8)
	{
		__m256		d = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));

		s0 = _mm256_fmadd_ps(d, d, s0);
	}
	for (; i < n; i++)
	{
		float		d = a[i] - b[i];

		tail += d * d;
	}
	return hsum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3))) + tail;
}

AVX2_TARGET static float
dot_avx2(const float *a, const float *b, int n)
{
	__m256		s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
	int			i = 0;
	float		tail = 0;

	for (; i + 32 <= n; i += 32)
	{
		s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
		s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
		s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
		s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
	}
	for (; i + 8 <= n; i += 8)
		s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
	for (; i < n; i++)
		tail += a[i] * b[i];
	return hsum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3))) + tail;
}

AVX2_TARGET static float
l1_avx2(const float *a, const float *b, int n)
{
	const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
	__m256		s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
	int			i = 0;
	float		tail = 0;

	for (; i + 32 <= n; i += 32)
	{
		s0 = _mm256_add_ps(s0, _mm256_and_ps(absmask, _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i))));
		s1 = _mm256_add_ps(s1, _mm256_and_ps(absmask, _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8))));
		s2 = _mm256_add_ps(s2, _mm256_and_ps(absmask, _mm256_sub_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16))));
		s3 = _mm256_add_ps(s3, _mm256_and_ps(absmask, _mm256_sub_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24))));
	}
	for (; i + 8 <= n; i += 8)
		s0 = _mm256_add_ps(s0, _mm256_and_ps(absmask, _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i))));
	for (; i < n; i++)
		tail += fabsf(a[i] - b[i]);
	return hsum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3))) + tail;
}

AVX2_TARGET static void
cosine_parts_avx2(const float *a, const float *b, int n,
				  float *ab, float *aa, float *bb)
{
	__m256		sab0 = _mm256_setzero_ps(), sab1 = sab0,
				saa0 = sab0, saa1 = sab0,
				sbb0 = sab0, sbb1 = sab0;
	int			i = 0;
	float		tab = 0, taa = 0, tbb = 0;

	for (; i + 16 <= n; i += 16)
	{
		__m256		a0 = _mm256_loadu_ps(a + i), b0 = _mm256_loadu_ps(b + i);
		__m256		a1 = _mm256_loadu_ps(a + i + 8), b1 = _mm256_loadu_ps(b + i + 8);

		sab0 = _mm256_fmadd_ps(a0, b0, sab0);
		saa0 = _mm256_fmadd_ps(a0, a0, saa0);
		sbb0 = _mm256_fmadd_ps(b0, b0, sbb0);
		sab1 = _mm256_fmadd_ps(a1, b1, sab1);
		saa1 = _mm256_fmadd_ps(a1, a1, saa1);
		sbb1 = _mm256_fmadd_ps(b1, b1, sbb1);
	}
	for (; i + 8 <= n; i += 8)
	{
		__m256		a0 = _mm256_loadu_ps(a + i), b0 = _mm256_loadu_ps(b + i);

		sab0 = _mm256_fmadd_ps(a0, b0, sab0);
		saa0 = _mm256_fmadd_ps(a0, a0, saa0);
		sbb0 = _mm256_fmadd_ps(b0, b0, sbb0);
	}
	for (; i < n; i++)
	{
		tab += a[i] * b[i];
		taa += a[i] * a[i];
		tbb += b[i] * b[i];
	}
	*ab = hsum256(_mm256_add_ps(sab0, sab1)) + tab;
	*aa = hsum256(_mm256_add_ps(saa0, saa1)) + taa;
	*bb = hsum256(_mm256_add_ps(sbb0, sbb1)) + tbb;
}

/*
 * The hardware popcount instruction is the whole gain here: the portable
 * build must not assume it, so it lives with the tables that check for it.
 */
__attribute__((target("popcnt"))) static uint32
bitplane_dot_popcnt(const uint64 *code, const uint64 *planes, int words, int nplanes)
{
	uint32		dot = 0;

	for (int w = 0; w < words; w++)
	{
		uint64		c = code[w];

		for (int j = 0; j < nplanes; j++)
			dot += (uint32) __builtin_popcountll(c & planes[j * words + w]) << j;
	}
	return dot;
}

BIT_KERNELS(popcnt, __attribute__((target("popcnt"))))

/* butterflies 8 lanes at a time once the half-width h reaches 8 */
AVX2_TARGET static void
fwht_avx2(float *x, int n, float scale)
{
	int			h = 1;
	__m256		vs = _mm256_set1_ps(scale);

	for (; h < 8 && h < n; h <<= 1)
		for (int i = 0; i < n; i += h << 1)
			for (int j = i; j < i + h; j++)
			{
				float		a = x[j],
							b = x[j + h];

				x[j] = a + b;
				x[j + h] = a - b;
			}
	for (; h < n; h <<= 1)
		for (int i = 0; i < n; i += h << 1)
			for (int j = i; j < i + h; j += 8)
			{
				__m256		a = _mm256_loadu_ps(x + j),
							b = _mm256_loadu_ps(x + j + h);

				_mm256_storeu_ps(x + j, _mm256_add_ps(a, b));
				_mm256_storeu_ps(x + j + h, _mm256_sub_ps(a, b));
			}
	{
		int			i = 0;

		for (; i + 8 <= n; i += 8)
			_mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), vs));
		for (; i < n; i++)
			x[i] *= scale;
	}
}

/*
 * Four rows at a time: each load of x feeds four FMAs, so one vector is
 * compared with many (centroids) at close to the FMA rate, not the load rate.
 */
AVX2_TARGET static void
dot_rows_avx2(const float *x, const float *rows, int nrows, int n, float *out)
{
	int			r = 0;

	for (; r + 4 <= nrows; r += 4)
	{
		const float *c0 = rows + (size_t) r * n,
				   *c1 = c0 + n,
				   *c2 = c1 + n,
				   *c3 = c2 + n;
		__m256		s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
		int			i = 0;

		for (; i + 8 <= n; i += 8)
		{
			__m256		xv = _mm256_loadu_ps(x + i);

			s0 = _mm256_fmadd_ps(xv, _mm256_loadu_ps(c0 + i), s0);
			s1 = _mm256_fmadd_ps(xv, _mm256_loadu_ps(c1 + i), s1);
			s2 = _mm256_fmadd_ps(xv, _mm256_loadu_ps(c2 + i), s2);
			s3 = _mm256_fmadd_ps(xv, _mm256_loadu_ps(c3 + i), s3);
		}
		out[r] = hsum256(s0);
		out[r + 1] = hsum256(s1);
		out[r + 2] = hsum256(s2);
		out[r + 3] = hsum256(s3);
		for (; i < n; i++)
		{
			out[r] += x[i] * c0[i];
			out[r + 1] += x[i] * c1[i];
			out[r + 2] += x[i] * c2[i];
			out[r + 3] += x[i] * c3[i];
		}
	}
	for (; r < nrows; r++)
		out[r] = dot_avx2(x, rows + (size_t) r * n, n);
}

/*
 * quantize4 eight values at a time: the bits of each plane come from
 * movemask of the value shifted so that bit j is the sign bit.  Multiply
 * then add, not FMA, so that rounding matches the portable code exactly.
 */
AVX2_TARGET static uint32
quantize4_avx2(const float *x, int n, uint64 *planes, float *lo, float *step)
{
	int			words = n / 64;
	__m256		vmn = _mm256_loadu_ps(x),
				vmx = vmn;
	float		mn,
				mx,
				inv,
				t[8];
	__m256i		vsum = _mm256_setzero_si256();
	uint32		sum = 0;

	for (int i = 8; i < n; i += 8)
	{
		__m256		v = _mm256_loadu_ps(x + i);

		vmn = _mm256_min_ps(vmn, v);
		vmx = _mm256_max_ps(vmx, v);
	}
	_mm256_storeu_ps(t, vmn);
	mn = t[0];
	for (int i = 1; i < 8; i++)
		mn = t[i] < mn ? t[i] : mn;
	_mm256_storeu_ps(t, vmx);
	mx = t[0];
	for (int i = 1; i < 8; i++)
		mx = t[i] > mx ? t[i] : mx;
	quantize4_range(mn, mx, step, &inv);
	*lo = mn;

	{
		__m256		vlo = _mm256_set1_ps(mn),
					vinv = _mm256_set1_ps(inv),
					half = _mm256_set1_ps(0.5f);
		__m256i		fifteen = _mm256_set1_epi32(15);

		for (int w = 0; w < words; w++)
		{
			uint64		p0 = 0,
						p1 = 0,
						p2 = 0,
						p3 = 0;

			for (int b = 0; b < 64; b += 8)
			{
				__m256		tq = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + w * 64 + b), vlo), vinv);
				__m256i		v = _mm256_min_epi32(_mm256_cvttps_epi32(_mm256_add_ps(tq, half)), fifteen);

				vsum = _mm256_add_epi32(vsum, v);
				p0 |= (uint64) _mm256_movemask_ps(_mm256_castsi256_ps(_mm256_slli_epi32(v, 31))) << b;
				p1 |= (uint64) _mm256_movemask_ps(_mm256_castsi256_ps(_mm256_slli_epi32(v, 30))) << b;
				p2 |= (uint64) _mm256_movemask_ps(_mm256_castsi256_ps(_mm256_slli_epi32(v, 29))) << b;
				p3 |= (uint64) _mm256_movemask_ps(_mm256_castsi256_ps(_mm256_slli_epi32(v, 28))) << b;
			}
			planes[w] = p0;
			planes[words + w] = p1;
			planes[2 * words + w] = p2;
			planes[3 * words + w] = p3;
		}
	}
	{
		int32		s8[8];

		_mm256_storeu_si256((__m256i *) s8, vsum);
		for (int i = 0; i < 8; i++)
			sum += s8[i];
	}
	return sum;
}

/* F16C converts 8 halves per instruction (every AVX2 CPU has it) */
__attribute__((target("avx2,f16c"))) static void
half_to_float_f16c(const uint16 *h, float *out, int n)
{
	int			i = 0;

	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *) (h + i))));
	for (; i < n; i++)
		out[i] = half_to_float_1(h[i]);
}

/* the last n % 8 halves, zero-padded to 8 (a zero half is 0.0f) */
__attribute__((target("avx2,f16c"))) static inline __m256
half_tail8(const uint16 *h, int r)
{
	uint16		t[8] = {0};

	memcpy(t, h, sizeof(uint16) * r);
	return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *) t));
}

__attribute__((target("avx2,fma,f16c"))) static float
half_dot_f16c(const float *a, const uint16 *h, int n)
{
	__m256		s0 = _mm256_setzero_ps(), s1 = s0;
	int			i = 0;

	for (; i + 16 <= n; i += 16)
	{
		s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i),
							 _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *) (h + i))), s0);
		s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8),
							 _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *) (h + i + 8))), s1);
	}
	for (; i + 8 <= n; i += 8)
		s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i),
							 _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *) (h + i))), s0);
	if (i < n)
	{
		float		at[8] = {0};

		memcpy(at, a + i, sizeof(float) * (n - i));
		s1 = _mm256_fmadd_ps(_mm256_loadu_ps(at), half_tail8(h + i, n - i), s1);
	}
	return hsum256(_mm256_add_ps(s0, s1));
}

__attribute__((target("avx2,fma,f16c"))) static float
half_l2sq_f16c(const float *a, const uint16 *h, int n)
{
	__m256		s0 = _mm256_setzero_ps(), s1 = s0;
	int			i = 0;

	for (; i + 16 <= n; i += 16)
	{
		__m256		d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i),
									   _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *) (h + i))));
		__m256		d1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8),
									   _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *) (h + i + 8))));

		s0 = _mm256_fmadd_ps(d0, d0, s0);
		s1 = _mm256_fmadd_ps(d1, d1, s1);
	}
	for (; i + 8 <= n; i += 8)
	{
		__m256		d = _mm256_sub_ps(_mm256_loadu_ps(a + i),
									  _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *) (h + i))));

		s0 = _mm256_fmadd_ps(d, d, s0);
	}
	if (i < n)
	{
		float		at[8] = {0};
		__m256		d;

		memcpy(at, a + i, sizeof(float) * (n - i));
		d = _mm256_sub_ps(_mm256_loadu_ps(at), half_tail8(h + i, n - i));
		s1 = _mm256_fmadd_ps(d, d, s1);
	}
	return hsum256(_mm256_add_ps(s0, s1));
}

AVX2_TARGET static void
byte_to_float_avx2(const uint8 *b, float lo, float *out, int n)
{
	__m256		vlo = _mm256_set1_ps(lo);
	int			i = 0;

	for (; i + 8 <= n; i += 8)
	{
		__m256i		w = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *) (b + i)));

		_mm256_storeu_ps(out + i, _mm256_add_ps(vlo, _mm256_cvtepi32_ps(w)));
	}
	for (; i < n; i++)
		out[i] = lo + b[i];
}

static const EmbedKernels kernels_avx2 = {
	.name = "avx2",
	.l2sq = l2sq_avx2,
	.dot = dot_avx2,
	.l1 = l1_avx2,
	.cosine_parts = cosine_parts_avx2,
	.bitplane_dot = bitplane_dot_popcnt,
	.fwht = fwht_avx2,
	.dot_rows = dot_rows_avx2,
	.quantize4 = quantize4_avx2,
	.half_to_float = half_to_float_f16c,
	.half_dot = half_dot_f16c,
	.half_l2sq = half_l2sq_f16c,
	.byte_to_float = byte_to_float_avx2,
	.hamming = hamming_popcnt,
	.and_or_count = and_or_count_popcnt
};

/* ---------- AVX-512F: 16 lanes, masked tails ---------- */

#define AVX512_TARGET __attribute__((target("avx512f")))

/* mask selecting the first r (< 16) lanes */
#define TAILMASK(r) ((__mmask16) ((1u << (r)) - 1))

AVX512_TARGET static float
l2sq_avx512(const float *a, const float *b, int n)
{
	__m512		s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
	int			i = 0;

	for (; i + 64 <= n; i += 64)
	{
		__m512		d0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
		__m512		d1 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));
		__m512		d2 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32));
		__m512		d3 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48));

		s0 = _mm512_fmadd_ps(d0, d0, s0);
		s1 = _mm512_fmadd_ps(d1, d1, s1);
		s2 = _mm512_fmadd_ps(d2, d2, s2);
		s3 = _mm512_fmadd_ps(d3, d3, s3);
	}
	for (; i + 16 <= n; i += 16)
	{
		__m512		d = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));

		s0 = _mm512_fmadd_ps(d, d, s0);
	}
	if (i < n)
	{
		__mmask16	m = TAILMASK(n - i);
		__m512		d = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i));

		s1 = _mm512_fmadd_ps(d, d, s1);
	}
	return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

AVX512_TARGET static float
dot_avx512(const float *a, const float *b, int n)
{
	__m512		s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
	int			i = 0;

	for (; i + 64 <= n; i += 64)
	{
		s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
		s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
		s2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32), s2);
		s3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48), s3);
	}
	for (; i + 16 <= n; i += 16)
		s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
	if (i < n)
	{
		__mmask16	m = TAILMASK(n - i);

		s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s1);
	}
	return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

AVX512_TARGET static inline __m512
abs512(__m512 v)
{
	return _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(v),
												_mm512_set1_epi32(0x7fffffff)));
}

AVX512_TARGET static float
l1_avx512(const float *a, const float *b, int n)
{
	__m512		s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
	int			i = 0;

	for (; i + 64 <= n; i += 64)
	{
		s0 = _mm512_add_ps(s0, abs512(_mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i))));
		s1 = _mm512_add_ps(s1, abs512(_mm512_sub_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16))));
		s2 = _mm512_add_ps(s2, abs512(_mm512_sub_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32))));
		s3 = _mm512_add_ps(s3, abs512(_mm512_sub_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48))));
	}
	for (; i + 16 <= n; i += 16)
		s0 = _mm512_add_ps(s0, abs512(_mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i))));
	if (i < n)
	{
		__mmask16	m = TAILMASK(n - i);

		s1 = _mm512_add_ps(s1, abs512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + i),
													  _mm512_maskz_loadu_ps(m, b + i))));
	}
	return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

AVX512_TARGET static void
cosine_parts_avx512(const float *a, const float *b, int n,
					float *ab, float *aa, float *bb)
{
	__m512		sab = _mm512_setzero_ps(), saa = sab, sbb = sab;
	__m512		sab1 = sab, saa1 = sab, sbb1 = sab;
	int			i = 0;

	for (; i + 32 <= n; i += 32)
	{
		__m512		a0 = _mm512_loadu_ps(a + i), b0 = _mm512_loadu_ps(b + i);
		__m512		a1 = _mm512_loadu_ps(a + i + 16), b1 = _mm512_loadu_ps(b + i + 16);

		sab = _mm512_fmadd_ps(a0, b0, sab);
		saa = _mm512_fmadd_ps(a0, a0, saa);
		sbb = _mm512_fmadd_ps(b0, b0, sbb);
		sab1 = _mm512_fmadd_ps(a1, b1, sab1);
		saa1 = _mm512_fmadd_ps(a1, a1, saa1);
		sbb1 = _mm512_fmadd_ps(b1, b1, sbb1);
	}
	for (; i < n; i += 16)
	{
		__mmask16	m = (n - i >= 16) ? (__mmask16) 0xffff : TAILMASK(n - i);
		__m512		a0 = _mm512_maskz_loadu_ps(m, a + i), b0 = _mm512_maskz_loadu_ps(m, b + i);

		sab = _mm512_fmadd_ps(a0, b0, sab);
		saa = _mm512_fmadd_ps(a0, a0, saa);
		sbb = _mm512_fmadd_ps(b0, b0, sbb);
	}
	*ab = _mm512_reduce_add_ps(_mm512_add_ps(sab, sab1));
	*aa = _mm512_reduce_add_ps(_mm512_add_ps(saa, saa1));
	*bb = _mm512_reduce_add_ps(_mm512_add_ps(sbb, sbb1));
}

/* dot_rows_avx2 with 16 lanes and a masked tail */
AVX512_TARGET static void
dot_rows_avx512(const float *x, const float *rows, int nrows, int n, float *out)
{
	int			r = 0;

	for (; r + 4 <= nrows; r += 4)
	{
		const float *c0 = rows + (size_t) r * n,
				   *c1 = c0 + n,
				   *c2 = c1 + n,
				   *c3 = c2 + n;
		__m512		s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
		int			i = 0;

		for (; i + 16 <= n; i += 16)
		{
			__m512		xv = _mm512_loadu_ps(x + i);

			s0 = _mm512_fmadd_ps(xv, _mm512_loadu_ps(c0 + i), s0);
			s1 = _mm512_fmadd_ps(xv, _mm512_loadu_ps(c1 + i), s1);
			s2 = _mm512_fmadd_ps(xv, _mm512_loadu_ps(c2 + i), s2);
			s3 = _mm512_fmadd_ps(xv, _mm512_loadu_ps(c3 + i), s3);
		}
		if (i < n)
		{
			__mmask16	m = TAILMASK(n - i);
			__m512		xv = _mm512_maskz_loadu_ps(m, x + i);

			s0 = _mm512_fmadd_ps(xv, _mm512_maskz_loadu_ps(m, c0 + i), s0);
			s1 = _mm512_fmadd_ps(xv, _mm512_maskz_loadu_ps(m, c1 + i), s1);
			s2 = _mm512_fmadd_ps(xv, _mm512_maskz_loadu_ps(m, c2 + i), s2);
			s3 = _mm512_fmadd_ps(xv, _mm512_maskz_loadu_ps(m, c3 + i), s3);
		}
		out[r] = _mm512_reduce_add_ps(s0);
		out[r + 1] = _mm512_reduce_add_ps(s1);
		out[r + 2] = _mm512_reduce_add_ps(s2);
		out[r + 3] = _mm512_reduce_add_ps(s3);
	}
	for (; r < nrows; r++)
		out[r] = dot_avx512(x, rows + (size_t) r * n, n);
}

/*
 * With AVX512_VPOPCNTDQ, eight code words per instruction; the table gets
 * this one at load time when the CPU has it (not every AVX-512 CPU does).
 */
__attribute__((target("avx512f,avx512vpopcntdq"))) static uint32
bitplane_dot_vpopcnt(const uint64 *code, const uint64 *planes, int words, int nplanes)
{
	__m512i		acc = _mm512_setzero_si512();

	for (int w = 0; w < words; w += 8)
	{
		__mmask8	m = words - w >= 8 ? 0xFF : (__mmask8) ((1u << (words - w)) - 1);
		__m512i		c = _mm512_maskz_loadu_epi64(m, code + w);

		for (int j = 0; j < nplanes; j++)
		{
			__m512i		p = _mm512_maskz_loadu_epi64(m, planes + (size_t) j * words + w);

			acc = _mm512_add_epi64(acc, _mm512_slli_epi64(_mm512_popcnt_epi64(_mm512_and_si512(c, p)), j));
		}
	}
	return (uint32) _mm512_reduce_add_epi64(acc);
}

AVX512_TARGET static void
half_to_float_avx512(const uint16 *h, float *out, int n)
{
	int			i = 0;

	for (; i + 16 <= n; i += 16)
		_mm512_storeu_ps(out + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *) (h + i))));
	for (; i < n; i++)
		out[i] = half_to_float_1(h[i]);
}

/* 16 halves as floats; the last n - i < 16 zero-padded */
AVX512_TARGET static inline __m512
half_load16(const uint16 *h, int r)
{
	uint16		t[16] = {0};

	if (r >= 16)
		return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *) h));
	memcpy(t, h, sizeof(uint16) * r);
	return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *) t));
}

AVX512_TARGET static float
half_dot_avx512(const float *a, const uint16 *h, int n)
{
	__m512		s0 = _mm512_setzero_ps(), s1 = s0;
	int			i = 0;

	for (; i + 32 <= n; i += 32)
	{
		s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), half_load16(h + i, 16), s0);
		s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), half_load16(h + i + 16, 16), s1);
	}
	for (; i + 16 <= n; i += 16)
		s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), half_load16(h + i, 16), s0);
	if (i < n)
		s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(TAILMASK(n - i), a + i), half_load16(h + i, n - i), s1);
	return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

AVX512_TARGET static float
half_l2sq_avx512(const float *a, const uint16 *h, int n)
{
	__m512		s0 = _mm512_setzero_ps(), s1 = s0;
	int			i = 0;

	for (; i + 32 <= n; i += 32)
	{
		__m512		d0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), half_load16(h + i, 16));
		__m512		d1 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 16), half_load16(h + i + 16, 16));

		s0 = _mm512_fmadd_ps(d0, d0, s0);
		s1 = _mm512_fmadd_ps(d1, d1, s1);
	}
	for (; i + 16 <= n; i += 16)
	{
		__m512		d = _mm512_sub_ps(_mm512_loadu_ps(a + i), half_load16(h + i, 16));

		s0 = _mm512_fmadd_ps(d, d, s0);
	}
	if (i < n)
	{
		__m512		d = _mm512_sub_ps(_mm512_maskz_loadu_ps(TAILMASK(n - i), a + i),
									  half_load16(h + i, n - i));

		s1 = _mm512_fmadd_ps(d, d, s1);
	}
	return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

AVX512_TARGET static void
byte_to_float_avx512(const uint8 *b, float lo, float *out, int n)
{
	__m512		vlo = _mm512_set1_ps(lo);
	int			i = 0;

	for (; i + 16 <= n; i += 16)
	{
		__m512i		w = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *) (b + i)));

		_mm512_storeu_ps(out + i, _mm512_add_ps(vlo, _mm512_cvtepi32_ps(w)));
	}
	for (; i < n; i++)
		out[i] = lo + b[i];
}

/* not const: bitplane_dot is upgraded at load time when the CPU allows */
static EmbedKernels kernels_avx512 = {
	.name = "avx512",
	.l2sq = l2sq_avx512,
	.dot = dot_avx512,
	.l1 = l1_avx512,
	.cosine_parts = cosine_parts_avx512,
	.bitplane_dot = bitplane_dot_popcnt,
	.fwht = fwht_avx2,
	.dot_rows = dot_rows_avx512,
	.quantize4 = quantize4_avx2,
	.half_to_float = half_to_float_avx512,
	.half_dot = half_dot_avx512,
	.half_l2sq = half_l2sq_avx512,
	.byte_to_float = byte_to_float_avx512,
	.hamming = hamming_popcnt,
	.and_or_count = and_or_count_popcnt
};

#endif							/* EMBED_X86 */

/* ---------- dispatch ---------- */

const EmbedKernels *embed_active_kernels = &kernels_portable;

/* filled once by embed_kernels_init(); NULL-terminated, best last */
static const EmbedKernels *supported[4];

#ifdef EMBED_X86
#include <cpuid.h>

/* F16C (CPUID leaf 1, ECX bit 29): older compilers' __builtin_cpu_supports lack it */
static bool
cpu_has_f16c(void)
{
	unsigned int a, b, c, d;

	return __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C) != 0;
}
#endif

void
embed_kernels_init(void)
{
	int			n = 0;

	supported[n++] = &kernels_portable;
#ifdef EMBED_X86
	__builtin_cpu_init();
	/* __builtin_cpu_supports also checks that the OS saves the wide registers */
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
		__builtin_cpu_supports("popcnt") && cpu_has_f16c())
		supported[n++] = &kernels_avx2;
	if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") &&
		__builtin_cpu_supports("fma") && __builtin_cpu_supports("popcnt") &&
		cpu_has_f16c())
	{
		if (__builtin_cpu_supports("avx512vpopcntdq"))
			kernels_avx512.bitplane_dot = bitplane_dot_vpopcnt;
		supported[n++] = &kernels_avx512;
	}
#endif
	supported[n] = NULL;
	embed_active_kernels = supported[n - 1];
}

const EmbedKernels *const *
embed_supported_kernels(void)
{
	return supported;
}

const EmbedKernels *
embed_best_kernels(void)
{
	const EmbedKernels *best = &kernels_portable;

	for (int i = 0; supported[i] != NULL; i++)
		best = supported[i];
	return best;
}

const EmbedKernels *
embed_find_kernels(const char *name)
{
	for (int i = 0; supported[i] != NULL; i++)
		if (strcmp(supported[i]->name, name) == 0)
			return supported[i];
	return NULL;
}

/* ---------- entry points with the double-precision fallback ---------- */

double
embed_l2sq(const float *a, const float *b, int n)
{
	float		r = embed_active_kernels->l2sq(a, b, n);

	if (unlikely(isinf(r)))
	{
		double		s = 0;

		for (int i = 0; i < n; i++)
		{
			double		d = (double) a[i] - (double) b[i];

			s += d * d;
		}
		return s;
	}
	return r;
}

double
embed_dot(const float *a, const float *b, int n)
{
	float		r = embed_active_kernels->dot(a, b, n);

	/* NaN too: +Inf and -Inf partial sums can meet */
	if (unlikely(isinf(r) || isnan(r)))
	{
		double		s = 0;

		for (int i = 0; i < n; i++)
			s += (double) a[i] * (double) b[i];
		return s;
	}
	return r;
}

double
embed_l1(const float *a, const float *b, int n)
{
	float		r = embed_active_kernels->l1(a, b, n);

	if (unlikely(isinf(r)))
	{
		double		s = 0;

		for (int i = 0; i < n; i++)
			s += fabs((double) a[i] - (double) b[i]);
		return s;
	}
	return r;
}

/*
 * 1 - cos(a, b), clamped to [0, 2].  A zero vector has no direction: NaN,
 * which sorts after every number, so it never wins an ORDER BY.
 */
double
embed_hamming(const uint8 *a, const uint8 *b, int n)
{
	return (double) embed_active_kernels->hamming(a, b, n);
}

double
embed_jaccard(const uint8 *a, const uint8 *b, int n)
{
	uint64		and_count,
				or_count;

	embed_active_kernels->and_or_count(a, b, n, &and_count, &or_count);
	if (or_count == 0)
		return 0;
	return 1.0 - (double) and_count / (double) or_count;
}

double
embed_cosine_distance(const float *a, const float *b, int n)
{
	float		fab, faa, fbb;
	double		ab, aa, bb, sim;

	embed_active_kernels->cosine_parts(a, b, n, &fab, &faa, &fbb);
	ab = fab;
	aa = faa;
	bb = fbb;
	/*
	 * Redo in double when float32 overflowed, or when a norm is so small that
	 * its squares fell into denormals (cosine is scale-free, so tiny vectors
	 * deserve the same answer as their scaled-up copies).
	 */
	if (unlikely(isinf(faa) || isinf(fbb) || isinf(fab) || isnan(fab) ||
				 faa < 1e-30f || fbb < 1e-30f))
	{
		ab = aa = bb = 0;
		for (int i = 0; i < n; i++)
		{
			ab += (double) a[i] * (double) b[i];
			aa += (double) a[i] * (double) a[i];
			bb += (double) b[i] * (double) b[i];
		}
	}
	/* one rounding, not three: parallel vectors give exactly 0, opposite 2 */
	sim = ab / sqrt(aa * bb);
	if (isnan(sim))
		return NAN;
	if (sim > 1.0)
		sim = 1.0;
	else if (sim < -1.0)
		sim = -1.0;
	return 1.0 - sim;
}

/*
 * float32 -> IEEE binary16, rounded to nearest even.  Returns false if some
 * value is too large for a half (|x| >= 65520 rounds to infinity); tiny
 * values become subnormal halves or zero, which the caller's error bound
 * accounts for.  Not hot (once per stored value): plain C.
 */
bool
embed_float_to_half(const float *x, uint16 *out, int n)
{
	for (int i = 0; i < n; i++)
	{
		union
		{
			float		f;
			uint32		u;
		}			v;
		uint32		sign,
					mag;
		uint16		h;

		v.f = x[i];
		sign = (v.u >> 16) & 0x8000;
		mag = v.u & 0x7fffffff;
		if (mag >= 0x477ff000)	/* 65520: rounds past the largest half */
			return false;
		if (mag < 0x38800000)
		{
			/* below the smallest normal half: a subnormal, in units of 2^-24 */
			float		a = fabsf(v.f) * 0x1p24f;

			h = (uint16) rintf(a);	/* default rounding mode: to nearest even */
		}
		else
		{
			/* rebias the exponent (127 -> 15), round the 13 dropped bits */
			uint32		r = mag - 0x38000000;

			r += 0x0fff + ((r >> 13) & 1);
			h = (uint16) (r >> 13);
		}
		out[i] = (uint16) (sign | h);
	}
	return true;
}

/* Norms are not hot: compute them in double, which cannot overflow here. */
double
embed_norm(const float *a, int n)
{
	double		s = 0;

	for (int i = 0; i < n; i++)
		s += (double) a[i] * (double) a[i];
	return sqrt(s);
}

double
embed_l2_normalize(float *x, int n)
{
	double		norm = embed_norm(x, n);

	if (norm > 0)
		for (int i = 0; i < n; i++)
			x[i] = (float) ((double) x[i] / norm);
	return norm;
}
