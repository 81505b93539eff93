/*
 * retrieval.c — SQL building blocks for retrieval beyond "one vector per row,
 * one ranking":
 *
 *   rrf_score(rank, k)   reciprocal rank fusion, 1 / (k + rank): the score
 *                        that fuses several rankings (full-text and vector
 *                        search for RAG) by summing it over the rankings.
 *   max_sim(q[], d[])    late interaction (ColBERT's MaxSim) between a query
 *                        and a document that are each a set of vectors.
 *
 * Why a per-row score function for fusion and not a set-returning "fuse
 * these two id lists" helper: the rankings stay ordinary SQL (each one a CTE
 * that uses its own index: GIN for tsvector, hnsw/ivf for ORDER BY <=>
 * LIMIT n), the key can be of any type, any number of rankings can be fused
 * and each can be weighted by a multiplication, and the planner sees the
 * whole query.  The README's "Hybrid retrieval" section has the recipe.
 *
 * max_sim's inner products go through the SIMD kernels (kernels.h): the
 * document's vectors are copied into one contiguous block and each query
 * vector is multiplied with all of them by dot_rows.  Like every distance in
 * embed, a float32 accumulation that overflowed is recomputed in double.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/lsyscache.h"

#include "kernels.h"
#include "vector.h"

PG_FUNCTION_INFO_V1(rrf_score);
PG_FUNCTION_INFO_V1(vector_max_sim);

/*
 * rrf_score(rank bigint, k integer DEFAULT 60) -> 1 / (k + rank)
 *
 * rank is 1-based (row_number() or rank() over a ranking).  k = 60 is the
 * constant of Cormack, Clarke and Büttcher (SIGIR 2009), which damps the
 * difference between the first few places.  STRICT: a row missing from a
 * ranking (NULL rank after a FULL JOIN) scores NULL, which coalesce(..., 0)
 * turns into "no contribution".
 */
Datum
rrf_score(PG_FUNCTION_ARGS)
{
	int64		rank = PG_GETARG_INT64(0);
	int32		k = PG_GETARG_INT32(1);

	if (rank < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("rank must be at least 1, not " INT64_FORMAT, rank),
				 errhint("Ranks are 1-based, as row_number() and rank() give them.")));
	if (k < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("k must not be negative, not %d", k)));

	PG_RETURN_FLOAT8(1.0 / ((double) k + (double) rank));
}

/*
 * The vectors of a vector[] argument, detoasted; all of dimension *dim (the
 * first one's when *dim is 0 on entry).  NULL elements, an empty array and
 * arrays of more than one dimension are errors.
 */
static Vector **
vector_array_elements(ArrayType *a, const char *which, int *count, int *dim)
{
	Oid			elemtype = ARR_ELEMTYPE(a);
	int16		typlen;
	bool		typbyval;
	char		typalign;
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	Vector	  **vecs;

	if (ARR_NDIM(a) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("max_sim: the %s must be a one-dimensional array of vectors", which)));

	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(a, elemtype, typlen, typbyval, typalign, &elems, &nulls, &n);
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("max_sim: the %s must have at least one vector", which)));

	vecs = palloc(sizeof(Vector *) * n);
	for (int i = 0; i < n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("max_sim: the %s must not contain NULL (element %d)", which, i + 1)));
		vecs[i] = DatumGetVector(elems[i]);
		if (*dim == 0)
			*dim = vecs[i]->dim;
		embed_check_same_dims(*dim, vecs[i]->dim);
	}
	*count = n;
	return vecs;
}

/*
 * max_sim(query vector[], document vector[]) -> float8
 *
 *   sum over the query's vectors q_i of  max over the document's vectors d_j
 *   of the inner product <q_i, d_j>
 *
 * ColBERT's late-interaction score: each query vector is matched with the
 * document vector most similar to it, and the similarities are added.
 * Larger is more similar (ORDER BY max_sim(...) DESC).  With unit-length
 * vectors (ColBERT normalises its token embeddings) the inner product is the
 * cosine similarity, so each term lies in [-1, 1].  Not symmetric: the sum
 * runs over the first argument.
 */
Datum
vector_max_sim(PG_FUNCTION_ARGS)
{
	ArrayType  *qa = PG_GETARG_ARRAYTYPE_P(0);
	ArrayType  *da = PG_GETARG_ARRAYTYPE_P(1);
	int			nq,
				nd,
				dim = 0;
	Vector	  **q;
	Vector	  **d;
	float	   *rows;
	float	   *dots;
	double		sum = 0.0;

	q = vector_array_elements(qa, "query", &nq, &dim);
	d = vector_array_elements(da, "document", &nd, &dim);

	/* the document as one block of nd rows, for dot_rows */
	rows = palloc(sizeof(float) * (Size) nd * dim);
	for (int j = 0; j < nd; j++)
		memcpy(rows + (Size) j * dim, d[j]->x, sizeof(float) * dim);
	dots = palloc(sizeof(float) * nd);

	for (int i = 0; i < nq; i++)
	{
		double		best = -INFINITY;

		embed_active_kernels->dot_rows(q[i]->x, rows, nd, dim, dots);
		for (int j = 0; j < nd; j++)
		{
			double		s = dots[j];

			/* float32 overflow: recompute this one in double */
			if (!isfinite(s))
				s = embed_dot(q[i]->x, d[j]->x, dim);
			if (s > best)
				best = s;
		}
		sum += best;
	}

	pfree(rows);
	pfree(dots);
	PG_RETURN_FLOAT8(sum);
}
