/*
 * sparsevec.h — the sparse `sparsevec` type: float4 values at a few of up to
 * a billion dimensions.
 *
 * Layout (fixed by pgvector compatibility: clients and dumps see the same
 * bytes):
 *   varlena header | int32 dim | int32 nnz | int32 unused (0)
 *   | nnz x int32 index (0-based, strictly ascending) | nnz x float4 (no zeros)
 *
 * Every value is kept canonical (sorted unique indices, no stored zeros), so
 * equal values have equal bytes, and every function walks the non-zeros,
 * never the dimensions.
 */
#ifndef EMBED_SPARSEVEC_H
#define EMBED_SPARSEVEC_H

#include "fmgr.h"

#include "embedtype.h"

#define SPARSEVEC_MAX_DIM	1000000000
#define SPARSEVEC_MAX_NNZ	16000

typedef struct SparseVec
{
	int32		vl_len_;		/* varlena header (do not touch directly) */
	int32		dim;
	int32		nnz;
	int32		unused;			/* always 0 */
	int32		indices[FLEXIBLE_ARRAY_MEMBER];
	/* then nnz float4 values: SPARSEVEC_VALUES() */
} SparseVec;

#define SPARSEVEC_SIZE(nnz) \
	(offsetof(SparseVec, indices) + (sizeof(int32) + sizeof(float)) * (Size) (nnz))
#define SPARSEVEC_VALUES(v)		((float *) ((v)->indices + (v)->nnz))

/* the sparse kernel behind embed_type_sparsevec: same-dimension values */
extern double embed_sparse_distance(EmbedMetric metric, const void *a, const void *b);
extern int	embed_sparse_dims(const void *value);

/* the distance functions, as opclass support functions (embedtype.c) */
extern Datum sparsevec_l2_squared_distance(PG_FUNCTION_ARGS);
extern Datum sparsevec_negative_inner_product(PG_FUNCTION_ARGS);
extern Datum sparsevec_cosine_distance(PG_FUNCTION_ARGS);
extern Datum sparsevec_l1_distance(PG_FUNCTION_ARGS);

#endif
