/*
 * vector.h — the float32 `vector` type.
 *
 * On-disk and in-memory layout (fixed by pgvector compatibility: clients and
 * dumps see the same bytes):
 *   varlena header (4 bytes) | int16 dim | int16 unused (0) | dim x float4
 */
#ifndef EMBED_VECTOR_H
#define EMBED_VECTOR_H

#include "fmgr.h"

#define VECTOR_MAX_DIM 16000

typedef struct Vector
{
	int32		vl_len_;		/* varlena header (do not touch directly) */
	int16		dim;
	int16		unused;			/* always 0; reserved */
	float		x[FLEXIBLE_ARRAY_MEMBER];
} Vector;

#define VECTOR_SIZE(dim)		(offsetof(Vector, x) + sizeof(float) * (dim))

/*
 * The half-precision `halfvec` type: the same header, then IEEE binary16
 * bits (native order in memory, big-endian on the wire).
 *   varlena header (4 bytes) | int16 dim | int16 unused (0) | dim x uint16
 * Its SQL functions are the dense layer's (dense.h), like vector's.
 */
#define HALFVEC_MAX_DIM 16000

typedef struct HalfVec
{
	int32		vl_len_;		/* varlena header (do not touch directly) */
	int16		dim;
	int16		unused;			/* always 0; reserved */
	uint16		x[FLEXIBLE_ARRAY_MEMBER];
} HalfVec;

#define HALFVEC_SIZE(dim)		(offsetof(HalfVec, x) + sizeof(uint16) * (dim))
#define DatumGetVector(d)		embed_detoast_vector(d)
#define PG_GETARG_VECTOR_P(n)	DatumGetVector(PG_GETARG_DATUM(n))
#define PG_RETURN_VECTOR_P(v)	PG_RETURN_POINTER(v)

extern Vector *new_vector(int dim);
/* detoast.c: PG_DETOAST_DATUM, faster for inline pglz-compressed vectors */
extern Vector *embed_detoast_vector(Datum d);

/* shared checks, also used by other element types and the aggregates */
extern void embed_check_dims(int dim, const char *typname);
/* 1..maxdim dimensions: 22000 below, 54000 above */
extern void embed_check_dims_max(int64 dim, int maxdim, const char *typname);
extern void embed_check_same_dims(int a, int b);
extern void embed_check_typmod_dims(int dim, int32 typmod);
extern float embed_float8_to_float4(double v, const char *typname);
/* the array casts' input: see vector.c */
struct ArrayType;
extern float *embed_array_to_floats(struct ArrayType *a, int32 typmod, int maxdim,
									const char *typname, int *count);

/* the distance functions, as opclass support functions of the index AMs */
extern Datum vector_l2_squared_distance(PG_FUNCTION_ARGS);
extern Datum vector_negative_inner_product(PG_FUNCTION_ARGS);
extern Datum vector_cosine_distance(PG_FUNCTION_ARGS);
extern Datum vector_l1_distance(PG_FUNCTION_ARGS);
extern Datum halfvec_l2_squared_distance(PG_FUNCTION_ARGS);
extern Datum halfvec_negative_inner_product(PG_FUNCTION_ARGS);
extern Datum halfvec_cosine_distance(PG_FUNCTION_ARGS);
extern Datum halfvec_l1_distance(PG_FUNCTION_ARGS);

/* Which of them an index's support function is: embedtype.h (embed_opclass_of). */

#endif
