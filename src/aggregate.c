/*
 * aggregate.c — avg() and sum() over the dense types (vector, halfvec), and
 * pgvector's array-state helpers vector_accum/vector_combine/vector_avg.
 *
 * One accumulator serves both aggregates and every dense element type (the
 * transition function decodes the input through its codec, the final
 * functions encode the result into the type): a count and per-dimension float8 sums, allocated once per group in
 * the aggregate context and updated in place.  float8 sums keep avg() of
 * millions of float4 vectors accurate and make sum() overflow detectable at
 * the end instead of silently saturating.
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "libpq/pqformat.h"
#include "utils/array.h"
#include "utils/memutils.h"

#include "dense.h"
#include "vector.h"

typedef struct VecAccum
{
	int64		n;				/* non-NULL inputs seen */
	int32		dim;
	double		sum[FLEXIBLE_ARRAY_MEMBER];
} VecAccum;

#define VECACCUM_SIZE(dim) (offsetof(VecAccum, sum) + sizeof(double) * (dim))

static MemoryContext
agg_context(FunctionCallInfo fcinfo, const char *fname)
{
	MemoryContext ctx;

	if (!AggCheckCallContext(fcinfo, &ctx))
		elog(ERROR, "%s called in non-aggregate context", fname);
	return ctx;
}

static VecAccum *
accum_new(MemoryContext ctx, int dim)
{
	VecAccum   *s = MemoryContextAllocZero(ctx, VECACCUM_SIZE(dim));

	s->dim = dim;
	return s;
}

static inline Datum
dense_accum(FunctionCallInfo fcinfo, const DenseCodec *c, const char *fname)
{
	MemoryContext ctx = agg_context(fcinfo, fname);
	VecAccum   *s = PG_ARGISNULL(0) ? NULL : (VecAccum *) PG_GETARG_POINTER(0);
	DenseValue *v;
	float		buf[1024];
	const float *x;

	/* NULL inputs are skipped, as by every SQL aggregate */
	if (PG_ARGISNULL(1))
	{
		if (s == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(s);
	}
	v = (DenseValue *) embed_detoast_vector(PG_GETARG_DATUM(1));
	if (s == NULL)
		s = accum_new(ctx, v->dim);
	else
		embed_check_same_dims(s->dim, v->dim);

	x = dense_read(c, v, buf, lengthof(buf));
	for (int i = 0; i < v->dim; i++)
		s->sum[i] += x[i];
	dense_read_done(c, x, buf);
	s->n++;
	PG_RETURN_POINTER(s);
}

PG_FUNCTION_INFO_V1(vector_accum);
Datum
vector_accum(PG_FUNCTION_ARGS)
{
	return dense_accum(fcinfo, embed_dense_vector, "vector_accum");
}

PG_FUNCTION_INFO_V1(halfvec_accum);
Datum
halfvec_accum(PG_FUNCTION_ARGS)
{
	return dense_accum(fcinfo, embed_dense_halfvec, "halfvec_accum");
}

PG_FUNCTION_INFO_V1(vector_accum_combine);
Datum
vector_accum_combine(PG_FUNCTION_ARGS)
{
	MemoryContext ctx = agg_context(fcinfo, "vector_accum_combine");
	VecAccum   *a = PG_ARGISNULL(0) ? NULL : (VecAccum *) PG_GETARG_POINTER(0);
	VecAccum   *b = PG_ARGISNULL(1) ? NULL : (VecAccum *) PG_GETARG_POINTER(1);

	if (b == NULL)
	{
		if (a == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(a);
	}
	if (a == NULL)
	{
		/* b may live in a shorter-lived context: copy it into ours */
		a = accum_new(ctx, b->dim);
		memcpy(a, b, VECACCUM_SIZE(b->dim));
		PG_RETURN_POINTER(a);
	}
	embed_check_same_dims(a->dim, b->dim);
	for (int i = 0; i < a->dim; i++)
		a->sum[i] += b->sum[i];
	a->n += b->n;
	PG_RETURN_POINTER(a);
}

/* Serialized form: int64 n, int32 dim, dim x float8 (network order). */
PG_FUNCTION_INFO_V1(vector_accum_serialize);
Datum
vector_accum_serialize(PG_FUNCTION_ARGS)
{
	VecAccum   *s;
	StringInfoData buf;

	agg_context(fcinfo, "vector_accum_serialize");
	s = (VecAccum *) PG_GETARG_POINTER(0);
	pq_begintypsend(&buf);
	pq_sendint64(&buf, s->n);
	pq_sendint32(&buf, s->dim);
	for (int i = 0; i < s->dim; i++)
		pq_sendfloat8(&buf, s->sum[i]);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

PG_FUNCTION_INFO_V1(vector_accum_deserialize);
Datum
vector_accum_deserialize(PG_FUNCTION_ARGS)
{
	MemoryContext ctx = agg_context(fcinfo, "vector_accum_deserialize");
	bytea	   *b = PG_GETARG_BYTEA_PP(0);
	StringInfoData buf;
	VecAccum   *s;
	int64		n;
	int32		dim;

	buf.data = VARDATA_ANY(b);
	buf.len = VARSIZE_ANY_EXHDR(b);
	buf.maxlen = buf.len;
	buf.cursor = 0;
	n = pq_getmsgint64(&buf);
	dim = pq_getmsgint(&buf, 4);
	if (dim < 1 || dim > VECTOR_MAX_DIM || buf.len - buf.cursor != (int) sizeof(double) * dim)
		elog(ERROR, "corrupt vector aggregate state");
	s = accum_new(ctx, dim);
	s->n = n;
	for (int i = 0; i < dim; i++)
		s->sum[i] = pq_getmsgfloat8(&buf);
	PG_RETURN_POINTER(s);
}

/*
 * Build the result from the state; divisor 1 for sum, n for avg.  A value
 * beyond float4 is an error for every type; the codec rejects those beyond
 * the element's own range (halfvec: 65504).
 */
static DenseValue *
accum_result(const DenseCodec *c, const VecAccum *s, double divisor)
{
	DenseValue *r = dense_new(c, s->dim);
	float	   *out = dense_write(c, r);

	for (int i = 0; i < s->dim; i++)
	{
		double		x = s->sum[i] / divisor;

		if (fabs(x) > FLT_MAX)
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("value out of range: overflow")));
		out[i] = (float) x;
	}
	dense_write_done(c, r, out, DENSE_RANGE_ARITH, false);
	return r;
}

static inline Datum
dense_final(FunctionCallInfo fcinfo, const DenseCodec *c, bool avg)
{
	VecAccum   *s = PG_ARGISNULL(0) ? NULL : (VecAccum *) PG_GETARG_POINTER(0);

	if (s == NULL || s->n == 0)
		PG_RETURN_NULL();
	PG_RETURN_POINTER(accum_result(c, s, avg ? (double) s->n : 1.0));
}

PG_FUNCTION_INFO_V1(vector_avg_final);
Datum
vector_avg_final(PG_FUNCTION_ARGS)
{
	return dense_final(fcinfo, embed_dense_vector, true);
}

PG_FUNCTION_INFO_V1(vector_sum_final);
Datum
vector_sum_final(PG_FUNCTION_ARGS)
{
	return dense_final(fcinfo, embed_dense_vector, false);
}

PG_FUNCTION_INFO_V1(halfvec_avg_final);
Datum
halfvec_avg_final(PG_FUNCTION_ARGS)
{
	return dense_final(fcinfo, embed_dense_halfvec, true);
}

PG_FUNCTION_INFO_V1(halfvec_sum_final);
Datum
halfvec_sum_final(PG_FUNCTION_ARGS)
{
	return dense_final(fcinfo, embed_dense_halfvec, false);
}

/*
 * ---------- pgvector's array-state helpers ----------
 *
 * pgvector's avg(vector) keeps its state in a double precision[]: element 0
 * is the count, elements 1..dim the per-dimension sums.  Queries and
 * user-defined aggregates written against pgvector call these by name, so
 * they are provided as plain functions over that array with the same
 * results; embed's own aggregates above keep their internal state.
 */
/* The state's float8 values and length (1 + dim), after checking its shape. */
static const double *
state_values(ArrayType *a, const char *fname, int *len)
{
	if (ARR_NDIM(a) != 1 || ARR_DIMS(a)[0] < 1 || ARR_HASNULL(a) ||
		ARR_ELEMTYPE(a) != FLOAT8OID)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s: expected state array", fname),
				 errdetail("A state is a one-dimensional double precision array without NULLs: the count, then one sum per dimension.")));
	*len = ARR_DIMS(a)[0];
	/* no NULL bitmap (checked above): the data follows the fixed header */
	return (const double *) ((char *) a + ARR_OVERHEAD_NONULLS(1));
}

static ArrayType *
state_array(const double *v, int len)
{
	Datum	   *d = palloc(sizeof(Datum) * len);

	for (int i = 0; i < len; i++)
		d[i] = Float8GetDatum(v[i]);
	return construct_array(d, len, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
}

static inline double
checked_sum(double a, double b)
{
	double		r = a + b;

	if (unlikely(isinf(r)))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("value out of range: overflow")));
	return r;
}

/* vector_accum(double precision[], vector) -> double precision[] */
PG_FUNCTION_INFO_V1(embed_vector_accum_array);
Datum
embed_vector_accum_array(PG_FUNCTION_ARGS)
{
	ArrayType  *state = PG_GETARG_ARRAYTYPE_P(0);
	Vector	   *v = PG_GETARG_VECTOR_P(1);
	int			len;
	const double *in = state_values(state, "vector_accum", &len);
	double	   *out;

	/* a state of just a count ('{0}', the initial one) takes v's dimensions */
	if (len > 1)
		embed_check_typmod_dims(v->dim, len - 1);
	out = palloc(sizeof(double) * (v->dim + 1));
	out[0] = in[0] + 1.0;
	for (int i = 0; i < v->dim; i++)
		out[i + 1] = len > 1 ? checked_sum(in[i + 1], v->x[i]) : (double) v->x[i];
	PG_RETURN_ARRAYTYPE_P(state_array(out, v->dim + 1));
}

/* vector_combine(double precision[], double precision[]) -> double precision[] */
PG_FUNCTION_INFO_V1(embed_vector_combine_array);
Datum
embed_vector_combine_array(PG_FUNCTION_ARGS)
{
	ArrayType  *sa = PG_GETARG_ARRAYTYPE_P(0);
	ArrayType  *sb = PG_GETARG_ARRAYTYPE_P(1);
	int			la,
				lb;
	const double *a = state_values(sa, "vector_combine", &la);
	const double *b = state_values(sb, "vector_combine", &lb);
	double	   *out;

	/* a state that has seen nothing gives way to the other one */
	if (a[0] == 0.0)
		PG_RETURN_ARRAYTYPE_P(state_array(b, lb));
	if (b[0] == 0.0)
		PG_RETURN_ARRAYTYPE_P(state_array(a, la));
	embed_check_typmod_dims(lb - 1, la - 1);
	out = palloc(sizeof(double) * la);
	out[0] = a[0] + b[0];
	for (int i = 1; i < la; i++)
		out[i] = checked_sum(a[i], b[i]);
	PG_RETURN_ARRAYTYPE_P(state_array(out, la));
}

/* vector_avg(double precision[]) -> vector: the sums over the count */
PG_FUNCTION_INFO_V1(embed_vector_avg_array);
Datum
embed_vector_avg_array(PG_FUNCTION_ARGS)
{
	ArrayType  *state = PG_GETARG_ARRAYTYPE_P(0);
	int			len;
	const double *in = state_values(state, "vector_avg", &len);
	Vector	   *r;

	if (in[0] == 0.0)
		PG_RETURN_NULL();		/* avg over no rows */
	embed_check_dims(len - 1, "vector");
	r = new_vector(len - 1);
	for (int i = 0; i < r->dim; i++)
		r->x[i] = embed_float8_to_float4(in[i + 1] / in[0], "vector");
	PG_RETURN_VECTOR_P(r);
}
