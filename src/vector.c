/*
 * vector.c — the dense types `vector` (float4) and `halfvec` (binary16):
 * I/O, casts, operators, functions.
 *
 * Every SQL function is written once, as a generic body over a DenseCodec
 * (dense.h), and stamped out per type by DENSE_BOTH / DENSE_FN.  Distances
 * go through kernels.c; this file only validates, decodes and encodes.
 */
#include "postgres.h"

#include <float.h>
#include <math.h>
#if defined(__x86_64__) && defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "catalog/pg_type.h"
#include "common/shortest_dec.h"
#include "fmgr.h"
#include "libpq/pqformat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/varbit.h"

#include "dense.h"
#include "embedtype.h"
#include "kernels.h"
#include "vecparse.h"
#include "vector.h"

/* ---------- shared checks ---------- */

void
embed_check_dims_max(int64 dim, int maxdim, const char *typname)
{
	if (dim < 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s must have at least 1 dimension", typname)));
	if (dim > maxdim)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s cannot have more than %d dimensions", typname, maxdim)));
}

void
embed_check_dims(int dim, const char *typname)
{
	embed_check_dims_max(dim, VECTOR_MAX_DIM, typname);
}

void
embed_check_same_dims(int a, int b)
{
	if (a != b)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different vector dimensions %d and %d", a, b)));
}

void
embed_check_typmod_dims(int dim, int32 typmod)
{
	if (typmod != -1 && dim != typmod)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("expected %d dimensions, not %d", typmod, dim)));
}

/* float8 -> float4 for array casts: like float84, but NaN/Inf are errors too */
float
embed_float8_to_float4(double v, const char *typname)
{
	float		f = (float) v;

	if (isnan(v) || isinf(v))
		embed_check_element((float) v, typname);
	/* values that round to FLT_MAX are fine, as in float84 */
	if (isinf(f))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("\"%g\" is out of range for type %s", v, typname)));
	return f;
}

Vector *
new_vector(int dim)
{
	Size		size = VECTOR_SIZE(dim);
	Vector	   *v = (Vector *) palloc0(size);

	SET_VARSIZE(v, size);
	v->dim = dim;
	return v;
}

static inline float
checked_result(float r, float a, float b, bool check_underflow)
{
	if (unlikely(isinf(r)))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("value out of range: overflow")));
	/* like float4mul: a product of non-zeros that rounds to zero is an error */
	if (check_underflow && unlikely(r == 0.0f) && a != 0.0f && b != 0.0f)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("value out of range: underflow")));
	return r;
}

/* ---------- the codecs: float4 and binary16 elements ---------- */

static float
float4_elem(const void *data, int i)
{
	return ((const float *) data)[i];
}

static void
float4_recv(StringInfo buf, void *dst, int n, const char *typname)
{
	float	   *x = (float *) dst;

	for (int i = 0; i < n; i++)
	{
		x[i] = pq_getmsgfloat4(buf);
		embed_check_element(x[i], typname);
	}
}

static void
float4_send(StringInfo buf, const void *src, int n)
{
	const float *x = (const float *) src;

	for (int i = 0; i < n; i++)
		pq_sendfloat4(buf, x[i]);
}

static const DenseCodec vector_codec = {
	.type = &embed_type_vector,
	.elem_size = sizeof(float),
	.float_storage = true,
	.decode = NULL,
	.encode = NULL,
	.elem = float4_elem,
	.recv = float4_recv,
	.send = float4_send
};

static void
half_decode(const void *src, float *out, int n)
{
	embed_active_kernels->half_to_float((const uint16 *) src, out, n);
}

static int
half_encode(const float *x, void *dst, int n)
{
	uint16	   *h = (uint16 *) dst;

	if (likely(embed_float_to_half(x, h, n)))
		return -1;
	/* find the culprit for the message */
	for (int i = 0; i < n; i++)
		if (!embed_float_to_half(x + i, h + i, 1))
			return i;
	return -1;					/* not reached */
}

/* binary16 bits -> float32, exact (finite halves; callers validate) */
static inline float
half_value(uint16 h)
{
	float		mag;

	if ((h & 0x7c00) == 0)
		mag = (float) (h & 0x03ff) * 0x1p-24f;	/* zero or subnormal */
	else
	{
		union
		{
			uint32		u;
			float		f;
		}			v;

		/* rebias the exponent: 15 -> 127 */
		v.u = ((uint32) (h & 0x7fff) << 13) + ((uint32) (127 - 15) << 23);
		mag = v.f;
	}
	return (h & 0x8000) ? -mag : mag;
}

static float
half_elem(const void *data, int i)
{
	return half_value(((const uint16 *) data)[i]);
}

static void
half_recv(StringInfo buf, void *dst, int n, const char *typname)
{
	uint16	   *h = (uint16 *) dst;

	for (int i = 0; i < n; i++)
	{
		h[i] = (uint16) pq_getmsgint(buf, 2);
		/* exponent all ones: infinity (no mantissa) or NaN */
		if ((h[i] & 0x7c00) == 0x7c00)
			embed_check_element((h[i] & 0x03ff) ? NAN : INFINITY, typname);
	}
}

static void
half_send(StringInfo buf, const void *src, int n)
{
	const uint16 *h = (const uint16 *) src;

	for (int i = 0; i < n; i++)
		pq_sendint16(buf, h[i]);
}

static const DenseCodec halfvec_codec = {
	.type = &embed_type_halfvec,
	.elem_size = sizeof(uint16),
	.float_storage = false,
	.decode = half_decode,
	.encode = half_encode,
	.elem = half_elem,
	.recv = half_recv,
	.send = half_send
};

const DenseCodec *const embed_dense_vector = &vector_codec;
const DenseCodec *const embed_dense_halfvec = &halfvec_codec;

void
embed_dense_range_error(const DenseCodec *c, float v, DenseRange how)
{
	char		buf[FLOAT_SHORTEST_DECIMAL_LEN];

	if (how == DENSE_RANGE_ARITH)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("value out of range: overflow")));
	float_to_shortest_decimal_buf(v, buf);
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("\"%s\" is out of range for type %s", buf, c->type->name)));
}

void
embed_dense_underflow_error(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("value out of range: underflow")));
}

/*
 * One fmgr entry point per type around a generic body: the codec is a
 * compile-time constant in each, so the body is specialised per type.
 */
#define DENSE_FN(fn, body, codec, ...) \
PG_FUNCTION_INFO_V1(fn); \
Datum \
fn(PG_FUNCTION_ARGS) \
{ \
	return body(fcinfo, codec, ##__VA_ARGS__); \
}

#define DENSE_BOTH(suffix, body, ...) \
	DENSE_FN(vector_##suffix, body, &vector_codec, ##__VA_ARGS__) \
	DENSE_FN(halfvec_##suffix, body, &halfvec_codec, ##__VA_ARGS__)

#define DENSE_INLINE static pg_attribute_always_inline Datum

/* decoded operands of up to this many dimensions stay on the stack */
#define DENSE_STACK_DIMS 1024

static inline DenseValue *
dense_arg(FunctionCallInfo fcinfo, int n)
{
	return (DenseValue *) embed_detoast_vector(PG_GETARG_DATUM(n));
}

/* ---------- I/O ---------- */

DENSE_INLINE
dense_in(FunctionCallInfo fcinfo, const DenseCodec *c)
{
	char	   *str = PG_GETARG_CSTRING(0);
	int32		typmod = PG_GETARG_INT32(2);
	int			dim;
	float	   *x = embed_parse_float_list(str, c->type->name, c->type->max_dim, &dim);
	DenseValue *r;
	float	   *out;

	embed_check_typmod_dims(dim, typmod);
	r = dense_new(c, dim);
	out = dense_write(c, r);
	memcpy(out, x, sizeof(float) * dim);
	dense_write_done(c, r, out, DENSE_RANGE_INPUT, false);
	pfree(x);
	PG_RETURN_POINTER(r);
}

DENSE_BOTH(in, dense_in)

DENSE_INLINE
dense_out(FunctionCallInfo fcinfo, const DenseCodec *c)
{
	DenseValue *v = dense_arg(fcinfo, 0);
	const float *x = dense_read(c, v, NULL, 0);

	PG_RETURN_CSTRING(embed_format_float_list(x, v->dim));
}

DENSE_BOTH(out, dense_out)

DENSE_INLINE
dense_typmod_in(FunctionCallInfo fcinfo, const DenseCodec *c)
{
	ArrayType  *ta = PG_GETARG_ARRAYTYPE_P(0);
	int32	   *tl;
	int			n;

	tl = ArrayGetIntegerTypmods(ta, &n);
	if (n != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid type modifier")));
	if (tl[0] < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dimensions for type %s must be at least 1", c->type->name)));
	if (tl[0] > c->type->max_dim)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dimensions for type %s cannot exceed %d", c->type->name, c->type->max_dim)));
	PG_RETURN_INT32(tl[0]);
}

DENSE_BOTH(typmod_in, dense_typmod_in)

/* Binary: uint16 dim, uint16 unused, dim elements, all big-endian. */
DENSE_INLINE
dense_recv(FunctionCallInfo fcinfo, const DenseCodec *c)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int32		typmod = PG_GETARG_INT32(2);
	const char *name = c->type->name;
	int			dim,
				unused;
	DenseValue *r;

	if (buf->len - buf->cursor < 4)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid binary data for type %s: header truncated", name)));
	dim = pq_getmsgint(buf, 2);
	unused = pq_getmsgint(buf, 2);
	embed_check_dims(dim, name);
	if (unused != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid binary data for type %s: unused field must be 0, not %d", name, unused)));
	/* never trust the header: the payload must hold every element */
	if ((Size) (buf->len - buf->cursor) < (Size) c->elem_size * (Size) dim)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid binary data for type %s: %d dimensions declared, %d bytes of data",
						name, dim, buf->len - buf->cursor)));
	embed_check_typmod_dims(dim, typmod);

	r = dense_new(c, dim);
	c->recv(buf, r->data, dim, name);
	PG_RETURN_POINTER(r);
}

DENSE_BOTH(recv, dense_recv)

DENSE_INLINE
dense_send(FunctionCallInfo fcinfo, const DenseCodec *c)
{
	DenseValue *v = dense_arg(fcinfo, 0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	enlargeStringInfo(&buf, 4 + c->elem_size * v->dim);
	pq_sendint16(&buf, v->dim);
	pq_sendint16(&buf, 0);
	c->send(&buf, v->data, v->dim);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

DENSE_BOTH(send, dense_send)

/* ---------- typmod coercion and casts ---------- */

DENSE_INLINE
dense_coerce(FunctionCallInfo fcinfo, const DenseCodec *c)
{
	DenseValue *v = dense_arg(fcinfo, 0);

	embed_check_typmod_dims(v->dim, PG_GETARG_INT32(1));
	PG_RETURN_POINTER(v);
}

DENSE_BOTH(coerce, dense_coerce)

/*
 * integer[], real[], double precision[], numeric[] -> float4 values, for the
 * array casts of every type: one-dimensional, 1..maxdim elements, typmod
 * (-1: none) equal to the count, no NULLs, finite float4 values.
 */
float *
embed_array_to_floats(ArrayType *a, int32 typmod, int maxdim, const char *typname, int *count)
{
	Oid			elemtype = ARR_ELEMTYPE(a);
	int16		typlen;
	bool		typbyval;
	char		typalign;
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	float	   *x;

	if (ARR_NDIM(a) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("array must be 1-D")));
	if (ARR_NDIM(a) == 1 && ArrayGetNItems(1, ARR_DIMS(a)) > maxdim)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s cannot have more than %d dimensions", typname, maxdim)));

	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(a, elemtype, typlen, typbyval, typalign, &elems, &nulls, &n);
	embed_check_dims_max(n, maxdim, typname);
	embed_check_typmod_dims(n, typmod);

	x = palloc(sizeof(float) * n);
	for (int i = 0; i < n; i++)
	{
		float		f;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("array must not contain nulls")));
		switch (elemtype)
		{
			case INT4OID:
				f = (float) DatumGetInt32(elems[i]);
				break;
			case FLOAT4OID:
				f = DatumGetFloat4(elems[i]);
				embed_check_element(f, typname);
				break;
			case FLOAT8OID:
				f = embed_float8_to_float4(DatumGetFloat8(elems[i]), typname);
				break;
			case NUMERICOID:
				/* numeric_float4 raises 22003 itself when out of float4 range */
				f = DatumGetFloat4(DirectFunctionCall1(numeric_float4, elems[i]));
				embed_check_element(f, typname);
				break;
			default:
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 errmsg("unsupported array element type %s", format_type_be(elemtype))));
				f = 0;			/* keep compiler quiet */
		}
		x[i] = f;
	}
	pfree(elems);
	pfree(nulls);
	*count = n;
	return x;
}

/* integer[], real[], double precision[], numeric[] -> the type */
DENSE_INLINE
dense_from_array(FunctionCallInfo fcinfo, const DenseCodec *c)
{
	int			n;
	float	   *x = embed_array_to_floats(PG_GETARG_ARRAYTYPE_P(0), PG_GETARG_INT32(1),
										  c->type->max_dim, c->type->name, &n);
	DenseValue *r = dense_new(c, n);
	float	   *out = dense_write(c, r);

	memcpy(out, x, sizeof(float) * n);
	pfree(x);
	dense_write_done(c, r, out, DENSE_RANGE_INPUT, false);
	PG_RETURN_POINTER(r);
}

DENSE_FN(array_to_vector, dense_from_array, &vector_codec)
DENSE_FN(array_to_halfvec, dense_from_array, &halfvec_codec)

DENSE_INLINE
dense_to_float4(FunctionCallInfo fcinfo, const DenseCodec *c)
{
	DenseValue *v = dense_arg(fcinfo, 0);
	const float *x = dense_read(c, v, NULL, 0);
	Datum	   *d = palloc(sizeof(Datum) * v->dim);

	for (int i = 0; i < v->dim; i++)
		d[i] = Float4GetDatum(x[i]);
	PG_RETURN_ARRAYTYPE_P(construct_array(d, v->dim, FLOAT4OID, sizeof(float4), true, TYPALIGN_INT));
}

DENSE_BOTH(to_float4, dense_to_float4)

/* one dense type to another (vector <-> halfvec), with the typmod check */
DENSE_INLINE
dense_convert(FunctionCallInfo fcinfo, const DenseCodec *from, const DenseCodec *to)
{
	DenseValue *v = dense_arg(fcinfo, 0);
	const float *x = dense_read(from, v, NULL, 0);
	DenseValue *r;
	float	   *out;

	embed_check_typmod_dims(v->dim, PG_GETARG_INT32(1));
	r = dense_new(to, v->dim);
	out = dense_write(to, r);
	memcpy(out, x, sizeof(float) * v->dim);
	dense_write_done(to, r, out, DENSE_RANGE_INPUT, false);
	PG_RETURN_POINTER(r);
}

DENSE_FN(halfvec_to_vector, dense_convert, &halfvec_codec, &vector_codec)
DENSE_FN(vector_to_halfvec, dense_convert, &vector_codec, &halfvec_codec)

/* ---------- distances ---------- */

typedef enum DenseDist
{
	DIST_L2,
	DIST_L2SQ,
	DIST_IP,
	DIST_NEG_IP,
	DIST_COSINE,
	DIST_L1
} DenseDist;

DENSE_INLINE
dense_distance(FunctionCallInfo fcinfo, const DenseCodec *c, DenseDist kind)
{
	DenseValue *a = dense_arg(fcinfo, 0);
	DenseValue *b = dense_arg(fcinfo, 1);
	float		sa[DENSE_STACK_DIMS],
				sb[DENSE_STACK_DIMS];
	const float *x,
			   *y;
	double		d = 0;

	embed_check_same_dims(a->dim, b->dim);
	x = dense_read(c, a, sa, DENSE_STACK_DIMS);
	y = dense_read(c, b, sb, DENSE_STACK_DIMS);
	switch (kind)
	{
		case DIST_L2:
			d = sqrt(embed_l2sq(x, y, a->dim));
			break;
		case DIST_L2SQ:
			d = embed_l2sq(x, y, a->dim);
			break;
		case DIST_IP:
			d = embed_dot(x, y, a->dim);
			break;
		case DIST_NEG_IP:
			d = -embed_dot(x, y, a->dim);
			break;
		case DIST_COSINE:
			d = embed_cosine_distance(x, y, a->dim);
			break;
		case DIST_L1:
			d = embed_l1(x, y, a->dim);
			break;
	}
	dense_read_done(c, x, sa);
	dense_read_done(c, y, sb);
	PG_RETURN_FLOAT8(d);
}

DENSE_BOTH(l2_distance, dense_distance, DIST_L2)
DENSE_BOTH(l2_squared_distance, dense_distance, DIST_L2SQ)
DENSE_BOTH(inner_product, dense_distance, DIST_IP)
DENSE_BOTH(negative_inner_product, dense_distance, DIST_NEG_IP)
DENSE_BOTH(cosine_distance, dense_distance, DIST_COSINE)
DENSE_BOTH(l1_distance, dense_distance, DIST_L1)

/*
 * vector_spherical_distance(a, b): the angle between two unit vectors as a
 * fraction of pi, acos(a . b) / pi, in [0, 1].  The inputs are taken to be
 * normalized already (as pgvector does); the dot product is clamped to
 * [-1, 1] so rounding never makes acos NaN.
 */
PG_FUNCTION_INFO_V1(vector_spherical_distance);
Datum
vector_spherical_distance(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = PG_GETARG_VECTOR_P(1);
	double		dot;

	embed_check_same_dims(a->dim, b->dim);
	dot = embed_dot(a->x, b->x, a->dim);
	if (dot > 1.0)
		dot = 1.0;
	else if (dot < -1.0)
		dot = -1.0;
	PG_RETURN_FLOAT8(acos(dot) / M_PI);
}


/* ---------- functions ---------- */

DENSE_INLINE
dense_dims(FunctionCallInfo fcinfo, const DenseCodec *c)
{
	DenseValue *v = dense_arg(fcinfo, 0);

	PG_RETURN_INT32(v->dim);
}

DENSE_BOTH(dims, dense_dims)

DENSE_INLINE
dense_norm(FunctionCallInfo fcinfo, const DenseCodec *c)
{
	DenseValue *v = dense_arg(fcinfo, 0);
	float		s[DENSE_STACK_DIMS];
	const float *x = dense_read(c, v, s, DENSE_STACK_DIMS);
	double		norm = embed_norm(x, v->dim);

	dense_read_done(c, x, s);
	PG_RETURN_FLOAT8(norm);
}

DENSE_FN(vector_norm, dense_norm, &vector_codec)
DENSE_FN(halfvec_l2_norm, dense_norm, &halfvec_codec)

/* A zero vector has no direction; it is returned unchanged. */
DENSE_INLINE
dense_l2_normalize(FunctionCallInfo fcinfo, const DenseCodec *c)
{
	DenseValue *v = dense_arg(fcinfo, 0);
	const float *x = dense_read(c, v, NULL, 0);
	DenseValue *r = dense_new(c, v->dim);
	float	   *out = dense_write(c, r);

	/* the one normaliser (kernels.h); a zero vector stays zero */
	if (out != x)
		memcpy(out, x, sizeof(float) * v->dim);
	embed_l2_normalize(out, v->dim);
	dense_write_done(c, r, out, DENSE_RANGE_ARITH, false);
	PG_RETURN_POINTER(r);
}

DENSE_BOTH(l2_normalize, dense_l2_normalize)

/* subvector(v, start, count): 1-based; the range is clipped to the vector. */
DENSE_INLINE
dense_subvector(FunctionCallInfo fcinfo, const DenseCodec *c)
{
	DenseValue *v = dense_arg(fcinfo, 0);
	int64		start = PG_GETARG_INT32(1);
	int64		end = start + (int64) PG_GETARG_INT32(2);	/* exclusive */
	DenseValue *r;

	if (start < 1)
		start = 1;
	if (end > (int64) v->dim + 1)
		end = (int64) v->dim + 1;
	if (end <= start)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s must have at least 1 dimension", c->type->name)));
	r = dense_new(c, (int) (end - start));
	memcpy(r->data, v->data + (start - 1) * c->elem_size, (Size) c->elem_size * r->dim);
	PG_RETURN_POINTER(r);
}

DENSE_BOTH(subvector, dense_subvector)

/* out[i / 8] bit (7 - i % 8) = x[i] > 0: a bit string's layout; out has (n + 7) / 8 bytes */
static void
embed_binary_quantize_floats(const float *x, int n, bits8 *out)
{
	int			i = 0;

#if defined(__x86_64__) && defined(__SSE2__)
	const __m128 zero = _mm_setzero_ps();

	/* movemask puts lane 0 in bit 0: reverse the lanes so it lands in bit 3 */
	for (; i + 8 <= n; i += 8)
	{
		__m128		lo = _mm_loadu_ps(x + i),
					hi = _mm_loadu_ps(x + i + 4);
		int			a = _mm_movemask_ps(_mm_cmpgt_ps(_mm_shuffle_ps(lo, lo, _MM_SHUFFLE(0, 1, 2, 3)), zero)),
					b = _mm_movemask_ps(_mm_cmpgt_ps(_mm_shuffle_ps(hi, hi, _MM_SHUFFLE(0, 1, 2, 3)), zero));

		out[i / 8] = (bits8) ((a << 4) | b);
	}
#else
	for (; i + 8 <= n; i += 8)
		out[i / 8] = (bits8) ((x[i] > 0) << 7 | (x[i + 1] > 0) << 6 | (x[i + 2] > 0) << 5 |
							  (x[i + 3] > 0) << 4 | (x[i + 4] > 0) << 3 | (x[i + 5] > 0) << 2 |
							  (x[i + 6] > 0) << 1 | (x[i + 7] > 0));
#endif
	if (i < n)
	{
		unsigned int b = 0;

		for (int j = 0; i + j < n; j++)
			b |= (unsigned int) (x[i + j] > 0) << (7 - j);
		out[i / 8] = (bits8) b;
	}
}

/*
 * Bit i is set iff element i > 0.  A byte at a time from the floats: the
 * binary-quantized re-ranking pattern evaluates this twice per row returned
 * (the ORDER BY expression), and an indirect call per element cost 8,500
 * instructions per 768-d vector, 80 calls per query at LIMIT 40.  SSE2 (every
 * x86-64) compares four at a time.
 */
DENSE_INLINE
dense_binary_quantize(FunctionCallInfo fcinfo, const DenseCodec *c)
{
	DenseValue *v = dense_arg(fcinfo, 0);
	int			len = VARBITTOTALLEN(v->dim);
	VarBit	   *r = (VarBit *) palloc0(len);
	bits8	   *p = VARBITS(r);
	float		s[DENSE_STACK_DIMS];
	const float *x = dense_read(c, v, s, DENSE_STACK_DIMS);

	SET_VARSIZE(r, len);
	VARBITLEN(r) = v->dim;
	embed_binary_quantize_floats(x, v->dim, p);
	dense_read_done(c, x, s);
	PG_RETURN_VARBIT_P(r);
}

DENSE_BOTH(binary_quantize, dense_binary_quantize)

/* ---------- arithmetic ---------- */

typedef enum DenseArith
{
	ARITH_ADD,
	ARITH_SUB,
	ARITH_MUL
} DenseArith;

DENSE_INLINE
dense_arith(FunctionCallInfo fcinfo, const DenseCodec *c, DenseArith op)
{
	DenseValue *a = dense_arg(fcinfo, 0);
	DenseValue *b = dense_arg(fcinfo, 1);
	const float *x,
			   *y;
	DenseValue *r;
	float	   *out;

	embed_check_same_dims(a->dim, b->dim);
	x = dense_read(c, a, NULL, 0);
	y = dense_read(c, b, NULL, 0);
	r = dense_new(c, a->dim);
	out = dense_write(c, r);

	for (int i = 0; i < a->dim; i++)
	{
		switch (op)
		{
			case ARITH_ADD:
				out[i] = checked_result(x[i] + y[i], x[i], y[i], false);
				break;
			case ARITH_SUB:
				out[i] = checked_result(x[i] - y[i], x[i], y[i], false);
				break;
			case ARITH_MUL:
				out[i] = checked_result(x[i] * y[i], x[i], y[i], true);
				break;
		}
	}
	/* a result the element cannot hold overflows; a product can underflow */
	dense_write_done(c, r, out, DENSE_RANGE_ARITH, op == ARITH_MUL);
	PG_RETURN_POINTER(r);
}

DENSE_BOTH(add, dense_arith, ARITH_ADD)
DENSE_BOTH(sub, dense_arith, ARITH_SUB)
DENSE_BOTH(mul, dense_arith, ARITH_MUL)

DENSE_INLINE
dense_concat(FunctionCallInfo fcinfo, const DenseCodec *c)
{
	DenseValue *a = dense_arg(fcinfo, 0);
	DenseValue *b = dense_arg(fcinfo, 1);
	DenseValue *r;

	embed_check_dims(a->dim + b->dim, c->type->name);
	r = dense_new(c, a->dim + b->dim);
	memcpy(r->data, a->data, (Size) c->elem_size * a->dim);
	memcpy(r->data + (Size) c->elem_size * a->dim, b->data, (Size) c->elem_size * b->dim);
	PG_RETURN_POINTER(r);
}

DENSE_BOTH(concat, dense_concat)

/* ---------- ordering: element-wise, then by dimensions ---------- */

static pg_attribute_always_inline int
dense_cmp_internal(const DenseCodec *c, const DenseValue *a, const DenseValue *b)
{
	int			n = Min(a->dim, b->dim);

	for (int i = 0; i < n; i++)
	{
		float		x = c->elem(a->data, i),
					y = c->elem(b->data, i);

		if (x < y)
			return -1;
		if (x > y)
			return 1;
	}
	return (a->dim > b->dim) - (a->dim < b->dim);
}

typedef enum DenseCmp
{
	CMP_LT,
	CMP_LE,
	CMP_EQ,
	CMP_NE,
	CMP_GE,
	CMP_GT,
	CMP_CMP
} DenseCmp;

DENSE_INLINE
dense_compare(FunctionCallInfo fcinfo, const DenseCodec *c, DenseCmp op)
{
	DenseValue *a = dense_arg(fcinfo, 0);
	DenseValue *b = dense_arg(fcinfo, 1);
	int			r = dense_cmp_internal(c, a, b);

	switch (op)
	{
		case CMP_LT:
			PG_RETURN_BOOL(r < 0);
		case CMP_LE:
			PG_RETURN_BOOL(r <= 0);
		case CMP_EQ:
			PG_RETURN_BOOL(r == 0);
		case CMP_NE:
			PG_RETURN_BOOL(r != 0);
		case CMP_GE:
			PG_RETURN_BOOL(r >= 0);
		case CMP_GT:
			PG_RETURN_BOOL(r > 0);
		case CMP_CMP:
			break;
	}
	PG_RETURN_INT32(r);
}

DENSE_BOTH(lt, dense_compare, CMP_LT)
DENSE_BOTH(le, dense_compare, CMP_LE)
DENSE_BOTH(eq, dense_compare, CMP_EQ)
DENSE_BOTH(ne, dense_compare, CMP_NE)
DENSE_BOTH(ge, dense_compare, CMP_GE)
DENSE_BOTH(gt, dense_compare, CMP_GT)
DENSE_BOTH(cmp, dense_compare, CMP_CMP)
