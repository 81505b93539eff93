/*
 * embedtype.h — the one description of embed's element types and metrics.
 *
 * Every engine (hnsw, ivfflat, ivfrabitq, embed_index_recall, the SQL
 * analytics) reaches values through this layer instead of knowing a type:
 * an element type says how a value is laid out (dimensions, size limits,
 * decoding its components to float32, its own distance kernels) and a
 * metric says what is measured.  An index resolves both once, from its
 * distance support function, the way an operator class names its
 * functions; a support function that is not one of embed's resolves to
 * "none" and the engines call it through fmgr instead.
 *
 * Adding an element type means one EmbedType and its rows in the resolver
 * table (embedtype.c), not a copy of each engine.  See README.md, "How to
 * add a type or opclass".
 */
#ifndef EMBED_EMBEDTYPE_H
#define EMBED_EMBEDTYPE_H

#include "fmgr.h"

/* What a distance measures.  The numbers are stored nowhere: free to change. */
typedef enum EmbedMetric
{
	EMBED_METRIC_NONE = 0,		/* not one of embed's functions: use fmgr */
	EMBED_METRIC_L2SQ,			/* squared Euclidean; ORDER BY shows its root */
	EMBED_METRIC_NEG_IP,		/* minus the inner product */
	EMBED_METRIC_COSINE,		/* 1 - cosine similarity */
	EMBED_METRIC_L1,			/* taxicab */
	EMBED_METRIC_HAMMING,		/* differing bits */
	EMBED_METRIC_JACCARD		/* 1 - |a AND b| / |a OR b| */
} EmbedMetric;

#define EMBED_METRIC_BIT(m)		((uint32) 1 << (m))

typedef struct EmbedType
{
	const char *name;			/* the SQL type */
	int			max_dim;		/* the most dimensions a value may have */
	int			max_index_dim;	/* the most the index engines accept */
	uint32		metrics;		/* EMBED_METRIC_BIT() of each metric it has */
	bool		dense;			/* components decode to float32 (not bit) */

	/* dimensions of a detoasted value */
	int			(*dims) (const void *value);
	/* bytes of a value of dim dimensions; 0 when dim does not fix it */
	Size		(*value_size) (int dim);
	/*
	 * The components as float32 into out[dims]: dense types, and bit (each
	 * bit as 0 or 1, for ivfflat's clustering); NULL for the others.
	 */
	void		(*to_float) (const void *value, float *out);
	/*
	 * The components in place when the value stores float32 (no copy
	 * needed), else NULL: callers decode with to_float.
	 */
	const float *(*float_view) (const void *value);
	/* distance between two detoasted values of the same dimensions */
	double		(*distance) (EmbedMetric metric, const void *a, const void *b);

	/*
	 * The packed form: a value's components without its header, exactly as
	 * the value stores them (vector: float32, halfvec: binary16, bit: the
	 * bit bytes), for index entries that keep values in a fixed number of
	 * bytes per dimension count.  packed_size(dim) bytes from packed(value);
	 * NULL for types without one (sparsevec).
	 */
	Size		(*packed_size) (int dim);
	const void *(*packed) (const void *value);
	/* packed components as float32 into out[dim]: dense types, else NULL */
	void		(*packed_to_float) (const void *packed, int dim, float *out);
} EmbedType;

extern const EmbedType embed_type_vector;
extern const EmbedType embed_type_halfvec;
extern const EmbedType embed_type_sparsevec;
extern const EmbedType embed_type_bit;

/* What an index's distance support function is: resolved once per index. */
typedef struct EmbedOpclass
{
	const EmbedType *type;		/* NULL when metric is EMBED_METRIC_NONE */
	EmbedMetric metric;
} EmbedOpclass;

extern EmbedOpclass embed_opclass_of(FmgrInfo *distproc);

/*
 * The distance between two datums of the opclass's type, computed directly
 * when both are plain in-line values of the same dimensions (what index AMs
 * hold: values are detoasted when indexed and queries when a scan starts);
 * false when the caller must go through fmgr (which also raises the errors).
 */
extern bool embed_distance_direct(EmbedOpclass oc, Datum a, Datum b, double *dist);

/*
 * A query against values in packed form (index entries): prepared once per
 * scan, so the query is decoded once, then compared with each entry by the
 * type's kernels.  Dense types: the entry is decoded (in place when packed
 * as float32) and measured with embed_metric_dense against the query's
 * float32 components, the kernels `distance` uses, so a distance equals the
 * operator's; bit: the bytes are compared directly.
 */
typedef struct EmbedPackedQuery
{
	EmbedOpclass oc;
	int			dim;
	const float *x;				/* dense: the query's components as float32 */
	const void *packed;			/* the query's packed form */
	float	   *scratch;		/* dense, not packed as float32: dim floats */
} EmbedPackedQuery;

/* value: a detoasted value of oc's type (palloc's in the current context) */
extern void embed_packed_query(EmbedPackedQuery *pq, EmbedOpclass oc, const void *value);
extern double embed_packed_distance(const EmbedPackedQuery *pq, const void *packed);

/* A metric over float32 arrays, with the active kernels (dense metrics only). */
extern double embed_metric_dense(EmbedMetric metric, const float *a, const float *b, int n);

/* The distance as the ORDER BY operator shows it (L2: the root). */
extern double embed_metric_order_value(EmbedMetric metric, double dist);

extern const char *embed_metric_name(EmbedMetric metric);

#endif
