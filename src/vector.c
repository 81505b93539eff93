/*
 * vector.c — the float32 `vector` type: I/O, casts, operators, functions.
 *
 * Distances go through kernels.c; this file only validates and unpacks.
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "libpq/pqformat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/varbit.h"

#include "kernels.h"
#include "vecparse.h"
#include "vector.h"

/* ---------- shared checks ---------- */

void
embed_check_dims(int dim, const char *typname)
{
	if (dim < 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s must have at least 1 dimension", typname)));
	if (dim > VECTOR_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s cannot have more than %d dimensions", typname, VECTOR_MAX_DIM)));
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

/* ---------- I/O ---------- */

PG_FUNCTION_INFO_V1(vector_in);
Datum
vector_in(PG_FUNCTION_ARGS)
{
	char	   *str = PG_GETARG_CSTRING(0);
	int32		typmod = PG_GETARG_INT32(2);
	int			dim;
	float	   *x = embed_parse_float_list(str, "vector", VECTOR_MAX_DIM, &dim);
	Vector	   *v;

	embed_check_typmod_dims(dim, typmod);
	v = new_vector(dim);
	memcpy(v->x, x, sizeof(float) * dim);
	pfree(x);
	PG_RETURN_VECTOR_P(v);
}

PG_FUNCTION_INFO_V1(vector_out);
Datum
vector_out(PG_FUNCTION_ARGS)
{
	Vector	   *v = PG_GETARG_VECTOR_P(0);

	PG_RETURN_CSTRING(embed_format_float_list(v->x, v->dim));
}

PG_FUNCTION_INFO_V1(vector_typmod_in);
Datum
vector_typmod_in(PG_FUNCTION_ARGS)
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
				 errmsg("dimensions for type vector must be at least 1")));
	if (tl[0] > VECTOR_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dimensions for type vector cannot exceed %d", VECTOR_MAX_DIM)));
	PG_RETURN_INT32(tl[0]);
}

/* Binary: uint16 dim, uint16 unused, dim x float4, all big-endian. */
PG_FUNCTION_INFO_V1(vector_recv);
Datum
vector_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int32		typmod = PG_GETARG_INT32(2);
	int			dim,
				unused;
	Vector	   *v;

	if (buf->len - buf->cursor < 4)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid binary data for type vector: header truncated")));
	dim = pq_getmsgint(buf, 2);
	unused = pq_getmsgint(buf, 2);
	embed_check_dims(dim, "vector");
	if (unused != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid binary data for type vector: unused field must be 0, not %d", unused)));
	/* never trust the header: the payload must hold every element */
	if ((Size) (buf->len - buf->cursor) < sizeof(float) * (Size) dim)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid binary data for type vector: %d dimensions declared, %d bytes of data",
						dim, buf->len - buf->cursor)));
	embed_check_typmod_dims(dim, typmod);

	v = new_vector(dim);
	for (int i = 0; i < dim; i++)
	{
		v->x[i] = pq_getmsgfloat4(buf);
		embed_check_element(v->x[i], "vector");
	}
	PG_RETURN_VECTOR_P(v);
}

PG_FUNCTION_INFO_V1(vector_send);
Datum
vector_send(PG_FUNCTION_ARGS)
{
	Vector	   *v = PG_GETARG_VECTOR_P(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	enlargeStringInfo(&buf, 4 + sizeof(float) * v->dim);
	pq_sendint16(&buf, v->dim);
	pq_sendint16(&buf, 0);
	for (int i = 0; i < v->dim; i++)
		pq_sendfloat4(&buf, v->x[i]);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* ---------- typmod coercion and casts ---------- */

PG_FUNCTION_INFO_V1(vector_coerce);
Datum
vector_coerce(PG_FUNCTION_ARGS)
{
	Vector	   *v = PG_GETARG_VECTOR_P(0);

	embed_check_typmod_dims(v->dim, PG_GETARG_INT32(1));
	PG_RETURN_VECTOR_P(v);
}

/* integer[], real[], double precision[], numeric[] -> vector */
PG_FUNCTION_INFO_V1(array_to_vector);
Datum
array_to_vector(PG_FUNCTION_ARGS)
{
	ArrayType  *a = PG_GETARG_ARRAYTYPE_P(0);
	int32		typmod = PG_GETARG_INT32(1);
	Oid			elemtype = ARR_ELEMTYPE(a);
	int16		typlen;
	bool		typbyval;
	char		typalign;
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	Vector	   *v;

	if (ARR_NDIM(a) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("array must be 1-D")));
	if (ARR_NDIM(a) == 1 && ArrayGetNItems(1, ARR_DIMS(a)) > VECTOR_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("vector cannot have more than %d dimensions", VECTOR_MAX_DIM)));

	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(a, elemtype, typlen, typbyval, typalign, &elems, &nulls, &n);
	embed_check_dims(n, "vector");
	embed_check_typmod_dims(n, typmod);

	v = new_vector(n);
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
				embed_check_element(f, "vector");
				break;
			case FLOAT8OID:
				f = embed_float8_to_float4(DatumGetFloat8(elems[i]), "vector");
				break;
			case NUMERICOID:
				/* numeric_float4 raises 22003 itself when out of float4 range */
				f = DatumGetFloat4(DirectFunctionCall1(numeric_float4, elems[i]));
				embed_check_element(f, "vector");
				break;
			default:
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 errmsg("unsupported array element type %s", format_type_be(elemtype))));
				f = 0;			/* keep compiler quiet */
		}
		v->x[i] = f;
	}
	PG_RETURN_VECTOR_P(v);
}

PG_FUNCTION_INFO_V1(vector_to_float4);
Datum
vector_to_float4(PG_FUNCTION_ARGS)
{
	Vector	   *v = PG_GETARG_VECTOR_P(0);
	Datum	   *d = palloc(sizeof(Datum) * v->dim);

	for (int i = 0; i < v->dim; i++)
		d[i] = Float4GetDatum(v->x[i]);
	PG_RETURN_ARRAYTYPE_P(construct_array(d, v->dim, FLOAT4OID, sizeof(float4), true, TYPALIGN_INT));
}

/* ---------- distances ---------- */

/* Unpack two vectors of equal dimension; shared by every binary function. */
#define GET_TWO_VECTORS(a, b) \
	Vector	   *a = PG_GETARG_VECTOR_P(0); \
	Vector	   *b = PG_GETARG_VECTOR_P(1); \
	embed_check_same_dims(a->dim, b->dim)

PG_FUNCTION_INFO_V1(vector_l2_distance);
Datum
vector_l2_distance(PG_FUNCTION_ARGS)
{
	GET_TWO_VECTORS(a, b);
	PG_RETURN_FLOAT8(sqrt(embed_l2sq(a->x, b->x, a->dim)));
}

PG_FUNCTION_INFO_V1(vector_l2_squared_distance);
Datum
vector_l2_squared_distance(PG_FUNCTION_ARGS)
{
	GET_TWO_VECTORS(a, b);
	PG_RETURN_FLOAT8(embed_l2sq(a->x, b->x, a->dim));
}

PG_FUNCTION_INFO_V1(vector_inner_product);
Datum
vector_inner_product(PG_FUNCTION_ARGS)
{
	GET_TWO_VECTORS(a, b);
	PG_RETURN_FLOAT8(embed_dot(a->x, b->x, a->dim));
}

PG_FUNCTION_INFO_V1(vector_negative_inner_product);
Datum
vector_negative_inner_product(PG_FUNCTION_ARGS)
{
	GET_TWO_VECTORS(a, b);
	PG_RETURN_FLOAT8(-embed_dot(a->x, b->x, a->dim));
}

PG_FUNCTION_INFO_V1(vector_cosine_distance);
Datum
vector_cosine_distance(PG_FUNCTION_ARGS)
{
	GET_TWO_VECTORS(a, b);
	PG_RETURN_FLOAT8(embed_cosine_distance(a->x, b->x, a->dim));
}

PG_FUNCTION_INFO_V1(vector_l1_distance);
Datum
vector_l1_distance(PG_FUNCTION_ARGS)
{
	GET_TWO_VECTORS(a, b);
	PG_RETURN_FLOAT8(embed_l1(a->x, b->x, a->dim));
}

VectorDistance
vector_distance_of(FmgrInfo *proc)
{
	if (proc->fn_addr == vector_l2_squared_distance)
		return VECTOR_DIST_L2SQ;
	if (proc->fn_addr == vector_negative_inner_product)
		return VECTOR_DIST_NEG_IP;
	if (proc->fn_addr == vector_cosine_distance)
		return VECTOR_DIST_COSINE;
	if (proc->fn_addr == vector_l1_distance)
		return VECTOR_DIST_L1;
	return VECTOR_DIST_OTHER;
}

bool
vector_distance_direct(VectorDistance kind, Datum a, Datum b, double *dist)
{
	Vector	   *va = (Vector *) DatumGetPointer(a);
	Vector	   *vb = (Vector *) DatumGetPointer(b);

	if (kind == VECTOR_DIST_OTHER || VARATT_IS_EXTENDED(va) || VARATT_IS_EXTENDED(vb) ||
		va->dim != vb->dim)
		return false;
	switch (kind)
	{
		case VECTOR_DIST_L2SQ:
			*dist = embed_l2sq(va->x, vb->x, va->dim);
			break;
		case VECTOR_DIST_NEG_IP:
			*dist = -embed_dot(va->x, vb->x, va->dim);
			break;
		case VECTOR_DIST_COSINE:
			*dist = embed_cosine_distance(va->x, vb->x, va->dim);
			break;
		case VECTOR_DIST_L1:
			*dist = embed_l1(va->x, vb->x, va->dim);
			break;
		default:
			return false;
	}
	return true;
}

/* ---------- functions ---------- */

PG_FUNCTION_INFO_V1(vector_dims);
Datum
vector_dims(PG_FUNCTION_ARGS)
{
	Vector	   *v = PG_GETARG_VECTOR_P(0);

	PG_RETURN_INT32(v->dim);
}

PG_FUNCTION_INFO_V1(vector_norm);
Datum
vector_norm(PG_FUNCTION_ARGS)
{
	Vector	   *v = PG_GETARG_VECTOR_P(0);

	PG_RETURN_FLOAT8(embed_norm(v->x, v->dim));
}

/* A zero vector has no direction; it is returned unchanged. */
PG_FUNCTION_INFO_V1(vector_l2_normalize);
Datum
vector_l2_normalize(PG_FUNCTION_ARGS)
{
	Vector	   *v = PG_GETARG_VECTOR_P(0);
	Vector	   *r = new_vector(v->dim);

	memcpy(r->x, v->x, sizeof(float) * v->dim);
	embed_l2_normalize(r->x, v->dim);
	PG_RETURN_VECTOR_P(r);
}

/* subvector(v, start, count): 1-based; the range is clipped to the vector. */
PG_FUNCTION_INFO_V1(vector_subvector);
Datum
vector_subvector(PG_FUNCTION_ARGS)
{
	Vector	   *v = PG_GETARG_VECTOR_P(0);
	int64		start = PG_GETARG_INT32(1);
	int64		end = start + (int64) PG_GETARG_INT32(2);	/* exclusive */
	Vector	   *r;

	if (start < 1)
		start = 1;
	if (end > (int64) v->dim + 1)
		end = (int64) v->dim + 1;
	if (end <= start)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("vector must have at least 1 dimension")));
	r = new_vector((int) (end - start));
	memcpy(r->x, v->x + (start - 1), sizeof(float) * r->dim);
	PG_RETURN_VECTOR_P(r);
}

/* bit i is set iff element i > 0 */
PG_FUNCTION_INFO_V1(vector_binary_quantize);
Datum
vector_binary_quantize(PG_FUNCTION_ARGS)
{
	Vector	   *v = PG_GETARG_VECTOR_P(0);
	int			len = VARBITTOTALLEN(v->dim);
	VarBit	   *r = (VarBit *) palloc0(len);
	bits8	   *p = VARBITS(r);

	SET_VARSIZE(r, len);
	VARBITLEN(r) = v->dim;
	for (int i = 0; i < v->dim; i++)
		if (v->x[i] > 0)
			p[i / BITS_PER_BYTE] |= (bits8) (0x80 >> (i % BITS_PER_BYTE));
	PG_RETURN_VARBIT_P(r);
}

/* ---------- arithmetic ---------- */

PG_FUNCTION_INFO_V1(vector_add);
Datum
vector_add(PG_FUNCTION_ARGS)
{
	Vector	   *r;

	GET_TWO_VECTORS(a, b);
	r = new_vector(a->dim);

	for (int i = 0; i < a->dim; i++)
		r->x[i] = checked_result(a->x[i] + b->x[i], a->x[i], b->x[i], false);
	PG_RETURN_VECTOR_P(r);
}

PG_FUNCTION_INFO_V1(vector_sub);
Datum
vector_sub(PG_FUNCTION_ARGS)
{
	Vector	   *r;

	GET_TWO_VECTORS(a, b);
	r = new_vector(a->dim);

	for (int i = 0; i < a->dim; i++)
		r->x[i] = checked_result(a->x[i] - b->x[i], a->x[i], b->x[i], false);
	PG_RETURN_VECTOR_P(r);
}

PG_FUNCTION_INFO_V1(vector_mul);
Datum
vector_mul(PG_FUNCTION_ARGS)
{
	Vector	   *r;

	GET_TWO_VECTORS(a, b);
	r = new_vector(a->dim);

	for (int i = 0; i < a->dim; i++)
		r->x[i] = checked_result(a->x[i] * b->x[i], a->x[i], b->x[i], true);
	PG_RETURN_VECTOR_P(r);
}

PG_FUNCTION_INFO_V1(vector_concat);
Datum
vector_concat(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = PG_GETARG_VECTOR_P(1);
	Vector	   *r;

	embed_check_dims(a->dim + b->dim, "vector");
	r = new_vector(a->dim + b->dim);
	memcpy(r->x, a->x, sizeof(float) * a->dim);
	memcpy(r->x + a->dim, b->x, sizeof(float) * b->dim);
	PG_RETURN_VECTOR_P(r);
}

/* ---------- ordering: element-wise, then by dimensions ---------- */

static int
vector_cmp_internal(const Vector *a, const Vector *b)
{
	int			n = Min(a->dim, b->dim);

	for (int i = 0; i < n; i++)
	{
		if (a->x[i] < b->x[i])
			return -1;
		if (a->x[i] > b->x[i])
			return 1;
	}
	return (a->dim > b->dim) - (a->dim < b->dim);
}

#define VECTOR_CMP_FUNC(name, expr) \
PG_FUNCTION_INFO_V1(name); \
Datum \
name(PG_FUNCTION_ARGS) \
{ \
	Vector	   *a = PG_GETARG_VECTOR_P(0); \
	Vector	   *b = PG_GETARG_VECTOR_P(1); \
	int			c = vector_cmp_internal(a, b); \
	PG_RETURN_BOOL(expr); \
}

VECTOR_CMP_FUNC(vector_lt, c < 0)
VECTOR_CMP_FUNC(vector_le, c <= 0)
VECTOR_CMP_FUNC(vector_eq, c == 0)
VECTOR_CMP_FUNC(vector_ne, c != 0)
VECTOR_CMP_FUNC(vector_ge, c >= 0)
VECTOR_CMP_FUNC(vector_gt, c > 0)

PG_FUNCTION_INFO_V1(vector_cmp);
Datum
vector_cmp(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = PG_GETARG_VECTOR_P(1);

	PG_RETURN_INT32(vector_cmp_internal(a, b));
}
