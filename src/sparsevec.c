/*
 * sparsevec.c — the sparse type `sparsevec`: I/O, casts, distances,
 * functions, ordering.
 *
 * Its layout (sparsevec.h) is not the dense types' one, so it has its own
 * file rather than a DenseCodec; what it shares with them it takes from
 * their layers: number parsing and checks (vecparse.h, vector.h), the array
 * casts' conversion (embed_array_to_floats), and reading/writing vector and
 * halfvec values for the casts (dense.h).
 *
 * Values are canonical: indices strictly ascending and in range, no stored
 * zeros (and so no -0).  Every input path (text, binary, casts) produces or
 * checks that form, and every function below relies on it: distances and
 * comparisons merge-walk the two index lists, in time proportional to the
 * non-zeros, never to the dimensions.
 */
#include "postgres.h"

#include <limits.h>
#include <math.h>

#include "catalog/pg_type.h"
#include "common/shortest_dec.h"
#include "fmgr.h"
#include "libpq/pqformat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "dense.h"
#include "embedtype.h"
#include "sparsevec.h"
#include "vecparse.h"
#include "vector.h"

#define TYPNAME "sparsevec"

/* ---------- construction and shared checks ---------- */

static SparseVec *
sparse_new(int dim, int nnz)
{
	Size		size = SPARSEVEC_SIZE(nnz);
	SparseVec  *v = (SparseVec *) palloc0(size);

	SET_VARSIZE(v, size);
	v->dim = dim;
	v->nnz = nnz;
	return v;
}

static void
check_nnz(int64 nnz)
{
	if (nnz > SPARSEVEC_MAX_NNZ)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("sparsevec cannot have more than %d non-zero elements",
						SPARSEVEC_MAX_NNZ)));
}

static inline SparseVec *
sparse_arg(FunctionCallInfo fcinfo, int n)
{
	return (SparseVec *) PG_DETOAST_DATUM(PG_GETARG_DATUM(n));
}

/* the non-zeros of x[0..dim) */
static SparseVec *
sparse_from_dense(const float *x, int dim)
{
	int			nnz = 0;
	SparseVec  *r;
	float	   *values;
	int			k = 0;

	for (int i = 0; i < dim; i++)
		nnz += x[i] != 0.0f;
	check_nnz(nnz);
	r = sparse_new(dim, nnz);
	values = SPARSEVEC_VALUES(r);
	for (int i = 0; i < dim; i++)
		if (x[i] != 0.0f)
		{
			r->indices[k] = i;
			values[k++] = x[i];
		}
	return r;
}

/* ---------- text I/O: {1:1.5,3:2}/5, 1-based indices ---------- */

typedef struct SparsePair
{
	int64		index;			/* 1-based, as written */
	float		value;
} SparsePair;

static int
pair_cmp(const void *a, const void *b)
{
	int64		x = ((const SparsePair *) a)->index;
	int64		y = ((const SparsePair *) b)->index;

	return (x > y) - (x < y);
}

static inline bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static inline const char *
skip_space(const char *p)
{
	while (is_space(*p))
		p++;
	return p;
}

/*
 * A decimal integer at p (optionally signed; no leading whitespace); values
 * beyond int64 saturate, which every caller reports as out of range.
 */
static int64
parse_int(const char *p, const char **end, const char *str)
{
	char	   *e;
	long long	v;

	if (!(*p >= '0' && *p <= '9') && *p != '-' && *p != '+')
		embed_syntax_error(str, TYPNAME);
	errno = 0;
	v = strtoll(p, &e, 10);
	if (e == p)
		embed_syntax_error(str, TYPNAME);
	*end = e;
	if (errno == ERANGE)
		return v < 0 ? PG_INT64_MIN : PG_INT64_MAX;
	return (int64) v;
}

PG_FUNCTION_INFO_V1(sparsevec_in);
Datum
sparsevec_in(PG_FUNCTION_ARGS)
{
	char	   *str = PG_GETARG_CSTRING(0);
	int32		typmod = PG_GETARG_INT32(2);
	const char *p = str;
	int			cap = 16,
				n = 0,
				nnz = 0;
	SparsePair *pairs = palloc(sizeof(SparsePair) * cap);
	int64		dim;
	bool		sorted = true;
	SparseVec  *r;
	float	   *values;

	p = skip_space(p);
	if (*p != '{')
		embed_syntax_error(str, TYPNAME);
	p = skip_space(p + 1);
	if (*p == '}')
		p++;
	else
		for (;;)
		{
			char	   *e;

			if (n == cap)
			{
				/* zeros are stored too (to find repeated indices), so bound the count */
				if ((Size) cap * 2 > MaxAllocSize / sizeof(SparsePair))
					ereport(ERROR,
							(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
							 errmsg("sparsevec input has too many elements")));
				cap *= 2;
				pairs = repalloc(pairs, sizeof(SparsePair) * cap);
			}
			{
				const char *start = p;

				pairs[n].index = parse_int(p, &p, str);
				if (pairs[n].index < PG_INT32_MIN || pairs[n].index > PG_INT32_MAX)
					ereport(ERROR,
							(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
							 errmsg("sparsevec index \"%.*s\" is out of range",
									(int) (p - start), start)));
			}
			p = skip_space(p);
			if (*p != ':')
				embed_syntax_error(str, TYPNAME);
			p = skip_space(p + 1);
			pairs[n].value = embed_parse_float(p, &e, str, TYPNAME);
			if (n > 0 && pairs[n].index <= pairs[n - 1].index)
				sorted = false;
			n++;
			p = skip_space(e);
			if (*p == ',')
			{
				p = skip_space(p + 1);
				continue;
			}
			if (*p == '}')
			{
				p++;
				break;
			}
			embed_syntax_error(str, TYPNAME);
		}

	p = skip_space(p);
	if (*p != '/')
		embed_syntax_error(str, TYPNAME);
	p = skip_space(p + 1);
	dim = parse_int(p, &p, str);
	p = skip_space(p);
	if (*p != '\0')
		embed_syntax_error(str, TYPNAME);

	embed_check_dims_max(dim, SPARSEVEC_MAX_DIM, TYPNAME);
	embed_check_typmod_dims((int) dim, typmod);

	if (!sorted)
		qsort(pairs, n, sizeof(SparsePair), pair_cmp);
	for (int i = 0; i < n; i++)
	{
		if (pairs[i].index < 1 || pairs[i].index > dim)
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("sparsevec index %lld is out of range for %d dimensions",
							(long long) pairs[i].index, (int) dim)));
		if (i > 0 && pairs[i].index == pairs[i - 1].index)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("sparsevec index %lld appears more than once",
							(long long) pairs[i].index)));
		nnz += pairs[i].value != 0.0f;
	}
	check_nnz(nnz);

	r = sparse_new((int) dim, nnz);
	values = SPARSEVEC_VALUES(r);
	nnz = 0;
	for (int i = 0; i < n; i++)
		if (pairs[i].value != 0.0f)
		{
			r->indices[nnz] = (int32) (pairs[i].index - 1);
			values[nnz++] = pairs[i].value;
		}
	pfree(pairs);
	PG_RETURN_POINTER(r);
}

/* decimal digits of a non-negative int32 at p; returns their count */
static int
put_uint(uint32 v, char *p)
{
	char		tmp[10];
	int			n = 0;

	do
	{
		tmp[n++] = (char) ('0' + v % 10);
		v /= 10;
	} while (v > 0);
	for (int i = 0; i < n; i++)
		p[i] = tmp[n - 1 - i];
	return n;
}

PG_FUNCTION_INFO_V1(sparsevec_out);
Datum
sparsevec_out(PG_FUNCTION_ARGS)
{
	SparseVec  *v = sparse_arg(fcinfo, 0);
	const float *values = SPARSEVEC_VALUES(v);
	/* per element: index, ':', value, ','; then braces, '/', dim, '\0' */
	char	   *buf = palloc((Size) v->nnz * (10 + 1 + FLOAT_SHORTEST_DECIMAL_LEN + 1) + 16);
	char	   *p = buf;

	*p++ = '{';
	for (int i = 0; i < v->nnz; i++)
	{
		if (i > 0)
			*p++ = ',';
		p += put_uint((uint32) v->indices[i] + 1, p);
		*p++ = ':';
		p += float_to_shortest_decimal_bufn(values[i], p);
	}
	*p++ = '}';
	*p++ = '/';
	p += put_uint((uint32) v->dim, p);
	*p = '\0';
	PG_RETURN_CSTRING(buf);
}

PG_FUNCTION_INFO_V1(sparsevec_typmod_in);
Datum
sparsevec_typmod_in(PG_FUNCTION_ARGS)
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
				 errmsg("dimensions for type sparsevec must be at least 1")));
	if (tl[0] > SPARSEVEC_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dimensions for type sparsevec cannot exceed %d", SPARSEVEC_MAX_DIM)));
	PG_RETURN_INT32(tl[0]);
}

/* ---------- binary I/O ---------- */

static void
recv_error(const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("invalid binary data for type sparsevec: %s", detail)));
}

/*
 * int32 dim, int32 nnz, int32 unused, nnz x int32 index (0-based), nnz x
 * float4, all big-endian.  Everything is checked before it is used: the
 * header against the bytes that are there, then each index and value.
 */
PG_FUNCTION_INFO_V1(sparsevec_recv);
Datum
sparsevec_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int32		typmod = PG_GETARG_INT32(2);
	int32		dim,
				nnz,
				unused;
	SparseVec  *r;
	float	   *values;

	if (buf->len - buf->cursor < 12)
		recv_error("header truncated");
	dim = (int32) pq_getmsgint(buf, 4);
	nnz = (int32) pq_getmsgint(buf, 4);
	unused = (int32) pq_getmsgint(buf, 4);
	embed_check_dims_max(dim, SPARSEVEC_MAX_DIM, TYPNAME);
	if (nnz < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid binary data for type sparsevec: %d non-zero elements", nnz)));
	check_nnz(nnz);
	if (nnz > dim)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid binary data for type sparsevec: %d non-zero elements in %d dimensions",
						nnz, dim)));
	if (unused != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid binary data for type sparsevec: unused field must be 0, not %d", unused)));
	if ((Size) (buf->len - buf->cursor) < (Size) nnz * 8)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid binary data for type sparsevec: %d non-zero elements declared, %d bytes of data",
						nnz, buf->len - buf->cursor)));
	embed_check_typmod_dims(dim, typmod);

	r = sparse_new(dim, nnz);
	values = SPARSEVEC_VALUES(r);
	for (int i = 0; i < nnz; i++)
	{
		int32		idx = (int32) pq_getmsgint(buf, 4);

		if (idx < 0 || idx >= dim)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
					 errmsg("invalid binary data for type sparsevec: index %d is out of range for %d dimensions",
							idx, dim)));
		if (i > 0 && idx <= r->indices[i - 1])
			recv_error("indices must be strictly ascending");
		r->indices[i] = idx;
	}
	for (int i = 0; i < nnz; i++)
	{
		values[i] = pq_getmsgfloat4(buf);
		embed_check_element(values[i], TYPNAME);
		if (values[i] == 0.0f)
			recv_error("values must not be zero");
	}
	PG_RETURN_POINTER(r);
}

PG_FUNCTION_INFO_V1(sparsevec_send);
Datum
sparsevec_send(PG_FUNCTION_ARGS)
{
	SparseVec  *v = sparse_arg(fcinfo, 0);
	const float *values = SPARSEVEC_VALUES(v);
	StringInfoData buf;

	pq_begintypsend(&buf);
	enlargeStringInfo(&buf, 12 + 8 * v->nnz);
	pq_sendint32(&buf, v->dim);
	pq_sendint32(&buf, v->nnz);
	pq_sendint32(&buf, 0);
	for (int i = 0; i < v->nnz; i++)
		pq_sendint32(&buf, v->indices[i]);
	for (int i = 0; i < v->nnz; i++)
		pq_sendfloat4(&buf, values[i]);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* ---------- typmod coercion and casts ---------- */

PG_FUNCTION_INFO_V1(sparsevec_coerce);
Datum
sparsevec_coerce(PG_FUNCTION_ARGS)
{
	SparseVec  *v = sparse_arg(fcinfo, 0);

	embed_check_typmod_dims(v->dim, PG_GETARG_INT32(1));
	PG_RETURN_POINTER(v);
}

/* vector / halfvec -> sparsevec: their non-zeros (-0 is a zero) */
static Datum
dense_to_sparse(FunctionCallInfo fcinfo, const DenseCodec *c)
{
	DenseValue *v = (DenseValue *) embed_detoast_vector(PG_GETARG_DATUM(0));
	const float *x = dense_read(c, v, NULL, 0);

	embed_check_typmod_dims(v->dim, PG_GETARG_INT32(1));
	PG_RETURN_POINTER(sparse_from_dense(x, v->dim));
}

PG_FUNCTION_INFO_V1(vector_to_sparsevec);
Datum
vector_to_sparsevec(PG_FUNCTION_ARGS)
{
	return dense_to_sparse(fcinfo, embed_dense_vector);
}

PG_FUNCTION_INFO_V1(halfvec_to_sparsevec);
Datum
halfvec_to_sparsevec(PG_FUNCTION_ARGS)
{
	return dense_to_sparse(fcinfo, embed_dense_halfvec);
}

/* sparsevec -> vector / halfvec: at most their 16,000 dimensions */
static Datum
sparse_to_dense(FunctionCallInfo fcinfo, const DenseCodec *c)
{
	SparseVec  *v = sparse_arg(fcinfo, 0);
	const float *values = SPARSEVEC_VALUES(v);
	DenseValue *r;
	float	   *x;

	embed_check_dims_max(v->dim, c->type->max_dim, c->type->name);
	embed_check_typmod_dims(v->dim, PG_GETARG_INT32(1));
	r = dense_new(c, v->dim);
	x = dense_write(c, r);
	memset(x, 0, sizeof(float) * v->dim);
	for (int i = 0; i < v->nnz; i++)
		x[v->indices[i]] = values[i];
	/* halfvec: values beyond its range are 22003 */
	dense_write_done(c, r, x, DENSE_RANGE_INPUT, false);
	PG_RETURN_POINTER(r);
}

PG_FUNCTION_INFO_V1(sparsevec_to_vector);
Datum
sparsevec_to_vector(PG_FUNCTION_ARGS)
{
	return sparse_to_dense(fcinfo, embed_dense_vector);
}

PG_FUNCTION_INFO_V1(sparsevec_to_halfvec);
Datum
sparsevec_to_halfvec(PG_FUNCTION_ARGS)
{
	return sparse_to_dense(fcinfo, embed_dense_halfvec);
}

/* integer[], real[], double precision[], numeric[]: element i is dimension i + 1 */
PG_FUNCTION_INFO_V1(array_to_sparsevec);
Datum
array_to_sparsevec(PG_FUNCTION_ARGS)
{
	int			n;
	float	   *x = embed_array_to_floats(PG_GETARG_ARRAYTYPE_P(0), PG_GETARG_INT32(1),
										  SPARSEVEC_MAX_DIM, TYPNAME, &n);
	SparseVec  *r = sparse_from_dense(x, n);

	pfree(x);
	PG_RETURN_POINTER(r);
}

/* ---------- the sparse kernel: merge walks over the non-zeros ---------- */

/*
 * The walks below are branch-free in their loop bodies: each step compares
 * the two current indices and advances one or both lists by the outcome
 * (as integers), and selects values by multiplying them by it (0 or 1:
 * exact, values are finite).  Which list moves
 * is data-dependent and unpredictable, so a branchy merge would mispredict
 * on about every other step; the hnsw build runs millions of these.
 */

/* sum(a*b): the indices both hold */
static double
sparse_dot(const SparseVec *a, const SparseVec *b)
{
	const int32 *ia = a->indices,
			   *ib = b->indices;
	const float *x = SPARSEVEC_VALUES(a),
			   *y = SPARSEVEC_VALUES(b);
	int			na = a->nnz,
				nb = b->nnz,
				i = 0,
				j = 0;
	double		s = 0;

	while (i < na && j < nb)
	{
		int32		p = ia[i],
					q = ib[j];
		int			adv_a = p <= q,
					adv_b = q <= p;

		/* both move exactly when the indices match */
		s += (double) x[i] * (double) y[j] * (double) (adv_a & adv_b);
		i += adv_a;
		j += adv_b;
	}
	return s;
}

/*
 * sum(x^2), or with `absolute` sum(|x|), over values from..n-1 of a list
 * (the tail a merge walk leaves: the other list holds 0 there)
 */
static inline double
tail_sum(const float *x, int from, int n, bool absolute)
{
	double		s = 0;

	for (int i = from; i < n; i++)
		s += absolute ? fabs((double) x[i]) : (double) x[i] * (double) x[i];
	return s;
}

static double
sparse_sumsq(const SparseVec *a)
{
	return tail_sum(SPARSEVEC_VALUES(a), 0, a->nnz, false);
}

/*
 * sum((a-b)^2), or with `absolute` sum(|a-b|), over the indices either holds
 * (the others contribute 0)
 */
static pg_attribute_always_inline double
sparse_union_sum(const SparseVec *a, const SparseVec *b, bool absolute)
{
	const int32 *ia = a->indices,
			   *ib = b->indices;
	const float *x = SPARSEVEC_VALUES(a),
			   *y = SPARSEVEC_VALUES(b);
	int			na = a->nnz,
				nb = b->nnz,
				i = 0,
				j = 0;
	double		s = 0;

	while (i < na && j < nb)
	{
		int32		p = ia[i],
					q = ib[j];
		int			adv_a = p <= q,
					adv_b = q <= p;
		/* the value of a list that does not hold this index is 0 */
		double		d = (double) x[i] * (double) adv_a - (double) y[j] * (double) adv_b;

		s += absolute ? fabs(d) : d * d;
		i += adv_a;
		j += adv_b;
	}
	return s + tail_sum(x, i, na, absolute) + tail_sum(y, j, nb, absolute);
}

static double
sparse_l2sq(const SparseVec *a, const SparseVec *b)
{
	return sparse_union_sum(a, b, false);
}

static double
sparse_l1(const SparseVec *a, const SparseVec *b)
{
	return sparse_union_sum(a, b, true);
}

/* 1 - cosine similarity, as the dense kernel: NaN for a zero vector, clamped to [0, 2] */
static double
sparse_cosine(const SparseVec *a, const SparseVec *b)
{
	double		sim = sparse_dot(a, b) / sqrt(sparse_sumsq(a) * sparse_sumsq(b));

	if (isnan(sim))
		return NAN;
	if (sim > 1.0)
		sim = 1.0;
	else if (sim < -1.0)
		sim = -1.0;
	return 1.0 - sim;
}

/*
 * A metric between two detoasted sparsevecs of the same dimensions: the
 * kernel behind embed_type_sparsevec (embedtype.c) and the SQL functions.
 * Sums are in double: exact enough that any two finite values give a finite
 * distance.
 */
double
embed_sparse_distance(EmbedMetric metric, const void *pa, const void *pb)
{
	const SparseVec *a = (const SparseVec *) pa;
	const SparseVec *b = (const SparseVec *) pb;

	switch (metric)
	{
		case EMBED_METRIC_L2SQ:
			return sparse_l2sq(a, b);
		case EMBED_METRIC_NEG_IP:
			return -sparse_dot(a, b);
		case EMBED_METRIC_COSINE:
			return sparse_cosine(a, b);
		case EMBED_METRIC_L1:
			return sparse_l1(a, b);
		default:
			elog(ERROR, "embed: sparsevec has no metric %s", embed_metric_name(metric));
	}
	return 0;					/* keep compiler quiet */
}

int
embed_sparse_dims(const void *value)
{
	return ((const SparseVec *) value)->dim;
}

/* ---------- distance functions ---------- */

static inline double
sparse_distance_args(FunctionCallInfo fcinfo, EmbedMetric metric)
{
	SparseVec  *a = sparse_arg(fcinfo, 0);
	SparseVec  *b = sparse_arg(fcinfo, 1);

	embed_check_same_dims(a->dim, b->dim);
	return embed_sparse_distance(metric, a, b);
}

PG_FUNCTION_INFO_V1(sparsevec_l2_distance);
Datum
sparsevec_l2_distance(PG_FUNCTION_ARGS)
{
	PG_RETURN_FLOAT8(sqrt(sparse_distance_args(fcinfo, EMBED_METRIC_L2SQ)));
}

PG_FUNCTION_INFO_V1(sparsevec_l2_squared_distance);
Datum
sparsevec_l2_squared_distance(PG_FUNCTION_ARGS)
{
	PG_RETURN_FLOAT8(sparse_distance_args(fcinfo, EMBED_METRIC_L2SQ));
}

PG_FUNCTION_INFO_V1(sparsevec_inner_product);
Datum
sparsevec_inner_product(PG_FUNCTION_ARGS)
{
	PG_RETURN_FLOAT8(-sparse_distance_args(fcinfo, EMBED_METRIC_NEG_IP));
}

PG_FUNCTION_INFO_V1(sparsevec_negative_inner_product);
Datum
sparsevec_negative_inner_product(PG_FUNCTION_ARGS)
{
	PG_RETURN_FLOAT8(sparse_distance_args(fcinfo, EMBED_METRIC_NEG_IP));
}

PG_FUNCTION_INFO_V1(sparsevec_cosine_distance);
Datum
sparsevec_cosine_distance(PG_FUNCTION_ARGS)
{
	PG_RETURN_FLOAT8(sparse_distance_args(fcinfo, EMBED_METRIC_COSINE));
}

PG_FUNCTION_INFO_V1(sparsevec_l1_distance);
Datum
sparsevec_l1_distance(PG_FUNCTION_ARGS)
{
	PG_RETURN_FLOAT8(sparse_distance_args(fcinfo, EMBED_METRIC_L1));
}

/* ---------- functions ---------- */

PG_FUNCTION_INFO_V1(sparsevec_l2_norm);
Datum
sparsevec_l2_norm(PG_FUNCTION_ARGS)
{
	PG_RETURN_FLOAT8(sqrt(sparse_sumsq(sparse_arg(fcinfo, 0))));
}

/*
 * v / |v|.  A zero vector has no direction and is returned unchanged; a
 * value so much smaller than the norm that its quotient rounds to zero
 * leaves the result (stored zeros are not allowed).
 */
PG_FUNCTION_INFO_V1(sparsevec_l2_normalize);
Datum
sparsevec_l2_normalize(PG_FUNCTION_ARGS)
{
	SparseVec  *v = sparse_arg(fcinfo, 0);
	const float *x = SPARSEVEC_VALUES(v);
	double		norm = sqrt(sparse_sumsq(v));
	SparseVec  *r;
	float	   *y;
	int			nnz = 0;

	if (norm == 0)
		PG_RETURN_POINTER(v);
	r = sparse_new(v->dim, v->nnz);
	y = SPARSEVEC_VALUES(r);
	for (int i = 0; i < v->nnz; i++)
	{
		float		f = (float) ((double) x[i] / norm);

		if (f != 0.0f)
		{
			r->indices[nnz] = v->indices[i];
			y[nnz++] = f;
		}
	}
	if (nnz < v->nnz)
	{
		/* close up: the values follow the (now fewer) indices */
		SparseVec  *c = sparse_new(v->dim, nnz);

		memcpy(c->indices, r->indices, sizeof(int32) * nnz);
		memcpy(SPARSEVEC_VALUES(c), y, sizeof(float) * nnz);
		r = c;
	}
	PG_RETURN_POINTER(r);
}

/* ---------- ordering ---------- */

/*
 * The order of the values written out densely, as vector orders them:
 * element by element (an absent index is 0), then by dimensions.  Only the
 * first position where the two differ matters, and that is an index one of
 * them stores, so the merge walk finds it.
 */
static int
sparse_cmp_internal(const SparseVec *a, const SparseVec *b)
{
	const float *x = SPARSEVEC_VALUES(a),
			   *y = SPARSEVEC_VALUES(b);
	int32		n = Min(a->dim, b->dim);
	int			i = 0,
				j = 0;

	while (i < a->nnz || j < b->nnz)
	{
		int32		pos;
		float		u,
					w;

		if (j == b->nnz || (i < a->nnz && a->indices[i] < b->indices[j]))
		{
			pos = a->indices[i];
			u = x[i++];
			w = 0;
		}
		else if (i == a->nnz || b->indices[j] < a->indices[i])
		{
			pos = b->indices[j];
			u = 0;
			w = y[j++];
		}
		else
		{
			pos = a->indices[i];
			u = x[i++];
			w = y[j++];
		}
		if (pos >= n)
			break;
		if (u < w)
			return -1;
		if (u > w)
			return 1;
	}
	return (a->dim > b->dim) - (a->dim < b->dim);
}

typedef enum SparseCmp
{
	CMP_LT,
	CMP_LE,
	CMP_EQ,
	CMP_NE,
	CMP_GE,
	CMP_GT
} SparseCmp;

static inline bool
sparse_compare(FunctionCallInfo fcinfo, SparseCmp op)
{
	int			r = sparse_cmp_internal(sparse_arg(fcinfo, 0), sparse_arg(fcinfo, 1));

	switch (op)
	{
		case CMP_LT:
			return r < 0;
		case CMP_LE:
			return r <= 0;
		case CMP_EQ:
			return r == 0;
		case CMP_NE:
			return r != 0;
		case CMP_GE:
			return r >= 0;
		case CMP_GT:
			return r > 0;
	}
	return false;				/* keep compiler quiet */
}

#define SPARSE_CMP_FN(name, op) \
PG_FUNCTION_INFO_V1(name); \
Datum \
name(PG_FUNCTION_ARGS) \
{ \
	PG_RETURN_BOOL(sparse_compare(fcinfo, op)); \
}

SPARSE_CMP_FN(sparsevec_lt, CMP_LT)
SPARSE_CMP_FN(sparsevec_le, CMP_LE)
SPARSE_CMP_FN(sparsevec_eq, CMP_EQ)
SPARSE_CMP_FN(sparsevec_ne, CMP_NE)
SPARSE_CMP_FN(sparsevec_ge, CMP_GE)
SPARSE_CMP_FN(sparsevec_gt, CMP_GT)

PG_FUNCTION_INFO_V1(sparsevec_cmp);
Datum
sparsevec_cmp(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(sparse_cmp_internal(sparse_arg(fcinfo, 0), sparse_arg(fcinfo, 1)));
}
