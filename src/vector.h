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
#define DatumGetVector(d)		((Vector *) PG_DETOAST_DATUM(d))
#define PG_GETARG_VECTOR_P(n)	DatumGetVector(PG_GETARG_DATUM(n))
#define PG_RETURN_VECTOR_P(v)	PG_RETURN_POINTER(v)

extern Vector *new_vector(int dim);

/* shared checks, also used by other element types and the aggregates */
extern void embed_check_dims(int dim, const char *typname);
extern void embed_check_same_dims(int a, int b);
extern void embed_check_typmod_dims(int dim, int32 typmod);
extern float embed_float8_to_float4(double v, const char *typname);

#endif
