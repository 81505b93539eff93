/*
 * analytics.c — clustering and projection in SQL: the kmeans() and pca()
 * aggregates, vector_nearest() and vector_project().
 *
 * Why here and this thin: the maths lives in kmeans.c (the very k-means the
 * ivf build runs) and pca.c; this file is only the SQL layer around them:
 * aggregate states that are bounded, mergeable and serializable (so both
 * aggregates run in parallel plans and with GROUP BY), the checks, and the
 * conversion to and from the dense types (dense.h).
 *
 * kmeans() keeps a sample, not the rows: the distinct rows whose content
 * hashes lowest, each with the number of times it occurred, at most
 * km_cap(k, dim) of them (256 per centroid, at least 10,000, at most
 * KM_SAMPLE_BYTES of floats), and clusters them weighted by those counts.
 * Choosing by content rather than by arrival makes the sample, and so the
 * centroids, independent of the order rows arrive in and of how a parallel
 * plan split them; counting duplicates keeps a sample of distinct rows an
 * unbiased one of the rows.  Sorting the sample by hash before clustering
 * gives k-means++ the random order it wants, with a fixed seed.
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "access/detoast.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "fmgr.h"
#include "libpq/pqformat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "dense.h"
#include "kernels.h"
#include "kmeans.h"
#include "pca.h"
#include "vector.h"

/* Faiss's rule: more than 256 points per centroid add little */
#define KM_SAMPLE_PER_CENTROID	256
#define KM_SAMPLE_MIN			10000
#define KM_SAMPLE_BYTES			((int64) 256 * 1024 * 1024)
#define KM_SEED					UINT64CONST(0x656d6265646b6d73)
#define KM_HASH_SEED			UINT64CONST(0x6b6d73616d706c65)
#define KM_ITERATIONS			25

static MemoryContext
agg_context(FunctionCallInfo fcinfo, const char *fname)
{
	MemoryContext ctx;

	if (!AggCheckCallContext(fcinfo, &ctx))
		elog(ERROR, "%s called in non-aggregate context", fname);
	return ctx;
}

/* 'l2' -> false, 'cosine' -> true */
static bool
parse_metric(FunctionCallInfo fcinfo, int argno)
{
	char	   *m;

	if (PG_NARGS() <= argno)
		return false;
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("metric must not be NULL")));
	m = text_to_cstring(PG_GETARG_TEXT_PP(argno));
	if (pg_strcasecmp(m, "l2") == 0)
		return false;
	if (pg_strcasecmp(m, "cosine") == 0)
		return true;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown metric \"%s\"", m),
			 errhint("The metric is 'l2' or 'cosine'.")));
	return false;				/* keep compiler quiet */
}

static int32
int_arg(FunctionCallInfo fcinfo, int argno, const char *name)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", name)));
	return PG_GETARG_INT32(argno);
}

/* an array of dense values, from its element type */
static ArrayType *
dense_array(FunctionCallInfo fcinfo, const DenseCodec *c, DenseValue **vals, int n)
{
	Oid			rettype = get_fn_expr_rettype(fcinfo->flinfo);
	Oid			elemtype = OidIsValid(rettype) ? get_element_type(rettype) : InvalidOid;
	int16		typlen;
	bool		typbyval;
	char		typalign;
	Datum	   *d = palloc(sizeof(Datum) * n);

	if (!OidIsValid(elemtype))
		elog(ERROR, "could not determine the result's element type");
	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	for (int i = 0; i < n; i++)
		d[i] = PointerGetDatum(vals[i]);
	return construct_array(d, n, elemtype, typlen, typbyval, typalign);
}

static DenseValue *
dense_from_floats(const DenseCodec *c, const float *x, int dim)
{
	DenseValue *r = dense_new(c, dim);
	float	   *out = dense_write(c, r);

	memcpy(out, x, sizeof(float) * dim);
	dense_write_done(c, r, out, DENSE_RANGE_ARITH, false);
	return r;
}

/*
 * An array of dense values (centroids, a projection) as an m x dim float
 * matrix.  NULL elements, an empty array and elements of different
 * dimensions are errors.  An array stored out of line (read from a table
 * column) is decoded once per query: the matrix is kept in fn_extra with the
 * TOAST pointer it came from, so labelling a million rows against a stored
 * array does not read the array a million times.
 */
typedef struct DenseMatrix
{
	bool		cached;			/* came from the on-disk value below */
	struct varatt_external ptr;
	int			m;
	int			dim;
	const float **rows;			/* m: each element's floats */
	float	   *data;			/* m * dim, when the floats had to be copied */
} DenseMatrix;

static DenseMatrix *
dense_matrix(FunctionCallInfo fcinfo, int argno, const DenseCodec *c, const char *what)
{
	Datum		raw = PG_GETARG_DATUM(argno);
	struct varlena *rawp = (struct varlena *) DatumGetPointer(raw);
	bool		ondisk = VARATT_IS_EXTERNAL_ONDISK(rawp);
	struct varatt_external ptr;
	DenseMatrix *mat = (DenseMatrix *) fcinfo->flinfo->fn_extra;
	MemoryContext dest = ondisk ? fcinfo->flinfo->fn_mcxt : CurrentMemoryContext;
	ArrayType  *a;
	int16		typlen;
	bool		typbyval;
	char		typalign;
	Datum	   *elems;
	bool	   *nulls;
	int			n;

	if (ondisk)
	{
		VARATT_EXTERNAL_GET_POINTER(ptr, rawp);
		if (mat != NULL && mat->cached && memcmp(&mat->ptr, &ptr, sizeof(ptr)) == 0)
			return mat;
	}

	a = DatumGetArrayTypeP(raw);
	get_typlenbyvalalign(ARR_ELEMTYPE(a), &typlen, &typbyval, &typalign);
	deconstruct_array(a, ARR_ELEMTYPE(a), typlen, typbyval, typalign, &elems, &nulls, &n);
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the %s array is empty", what)));

	/* a stored array's matrix lives as long as the function's FmgrInfo */
	if (ondisk)
	{
		if (mat == NULL)
			mat = fcinfo->flinfo->fn_extra =
				MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(DenseMatrix));
		else
		{
			if (mat->data)
				pfree(mat->data);
			if (mat->rows)
				pfree(mat->rows);
		}
		mat->cached = false;
		mat->data = NULL;
		mat->rows = NULL;
	}
	else
		mat = palloc0(sizeof(DenseMatrix));
	mat->rows = MemoryContextAlloc(dest, sizeof(float *) * n);
	for (int i = 0; i < n; i++)
	{
		DenseValue *v;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("the %s array must not contain NULL", what)));
		v = (DenseValue *) embed_detoast_vector(elems[i]);
		if (i == 0)
		{
			mat->dim = v->dim;
			/* float4 elements of an array in memory are used where they lie */
			if (ondisk || !c->float_storage)
				mat->data = MemoryContextAllocHuge(dest, sizeof(float) * n * v->dim);
		}
		else
			embed_check_same_dims(mat->dim, v->dim);
		if (mat->data == NULL)
			mat->rows[i] = (const float *) v->data;
		else
		{
			float	   *row = mat->data + (Size) i * mat->dim;

			if (c->float_storage)
				memcpy(row, v->data, sizeof(float) * mat->dim);
			else
				c->decode(v->data, row, mat->dim);
			mat->rows[i] = row;
		}
	}
	mat->m = n;
	if (ondisk)
	{
		mat->ptr = ptr;
		mat->cached = true;
	}
	return mat;
}

/* ---------------------------------------------------------------------
 * kmeans(): the sample
 * ---------------------------------------------------------------------
 */
typedef struct KmSample
{
	int			dim;
	int			k;
	bool		spherical;		/* rows are stored unit length */
	int			cap;			/* at most this many rows */
	int			n;				/* rows held */
	int			alloc;			/* rows allocated */
	int64		seen;			/* rows offered */
	uint64	   *hash;			/* alloc: each row's hash */
	int64	   *count;			/* alloc: how often each row occurred */
	float	   *rows;			/* alloc * dim */
	int		   *heap;			/* n: max-heap of row slots by (hash, content) */
	HTAB	   *index;			/* hash -> slot, to count duplicates */
} KmSample;

typedef struct KmIndexEntry
{
	uint64		hash;
	int			slot;
} KmIndexEntry;

static int
km_cap(int k, int dim)
{
	int64		cap = Max((int64) k * KM_SAMPLE_PER_CENTROID, KM_SAMPLE_MIN);

	return (int) Min(cap, KM_SAMPLE_BYTES / ((int64) sizeof(float) * dim));
}

static KmSample *
km_new(MemoryContext ctx, int dim, int k, bool spherical)
{
	KmSample   *s = MemoryContextAllocZero(ctx, sizeof(KmSample));

	if (k < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("k must be at least 1")));
	s->dim = dim;
	s->k = k;
	s->spherical = spherical;
	s->cap = km_cap(k, dim);
	if (k > s->cap)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("k = %d is too large for %d dimensions", k, dim),
				 errdetail("kmeans() clusters a sample of at most %d rows at %d dimensions.",
						   s->cap, dim)));
	s->alloc = Min(s->cap, 64);
	s->hash = MemoryContextAlloc(ctx, sizeof(uint64) * s->alloc);
	s->count = MemoryContextAlloc(ctx, sizeof(int64) * s->alloc);
	s->rows = MemoryContextAllocHuge(ctx, sizeof(float) * s->alloc * dim);
	s->heap = MemoryContextAlloc(ctx, sizeof(int) * s->alloc);
	{
		HASHCTL		hctl;

		memset(&hctl, 0, sizeof(hctl));
		hctl.keysize = sizeof(uint64);
		hctl.entrysize = sizeof(KmIndexEntry);
		hctl.hcxt = ctx;
		s->index = hash_create("kmeans sample", 256, &hctl,
							   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	return s;
}

/* (h, x) < row slot j */
static inline int
km_cmp(const KmSample *s, uint64 h, const float *x, int j)
{
	if (h != s->hash[j])
		return h < s->hash[j] ? -1 : 1;
	return memcmp(x, s->rows + (Size) j * s->dim, sizeof(float) * s->dim);
}

static void
km_sift_down(KmSample *s, int i)
{
	for (;;)
	{
		int			l = 2 * i + 1,
					big = i;

		if (l < s->n && km_cmp(s, s->hash[s->heap[big]], s->rows + (Size) s->heap[big] * s->dim,
							   s->heap[l]) < 0)
			big = l;
		if (l + 1 < s->n && km_cmp(s, s->hash[s->heap[big]], s->rows + (Size) s->heap[big] * s->dim,
								   s->heap[l + 1]) < 0)
			big = l + 1;
		if (big == i)
			return;
		{
			int			t = s->heap[i];

			s->heap[i] = s->heap[big];
			s->heap[big] = t;
		}
		i = big;
	}
}

/* slot's hash no longer leads to slot */
static void
km_unindex(KmSample *s, int slot)
{
	KmIndexEntry *e = hash_search(s->index, &s->hash[slot], HASH_FIND, NULL);

	if (e != NULL && e->slot == slot)
		hash_search(s->index, &s->hash[slot], HASH_REMOVE, NULL);
}

static void
km_index(KmSample *s, int slot)
{
	bool		found;
	KmIndexEntry *e = hash_search(s->index, &s->hash[slot], HASH_ENTER, &found);

	/* on a 64-bit collision the first row keeps the entry: only counting suffers */
	if (!found)
		e->slot = slot;
}

/*
 * Offer a row (already unit length when spherical) that occurred cnt times,
 * with its hash.  A row held already is counted; a new one is kept while
 * the sample has room or its key is below the largest kept, which it then
 * replaces.  The largest kept key only decreases, so a row that is dropped
 * never comes back and every kept row's count is complete.
 */
static void
km_add(KmSample *s, MemoryContext ctx, const float *x, uint64 h, int64 cnt)
{
	KmIndexEntry *e;
	int			slot;

	s->seen += cnt;
	e = hash_search(s->index, &h, HASH_FIND, NULL);
	if (e != NULL && memcmp(x, s->rows + (Size) e->slot * s->dim, sizeof(float) * s->dim) == 0)
	{
		s->count[e->slot] += cnt;
		return;
	}
	if (s->n < s->cap)
	{
		int			i;

		if (s->n == s->alloc)
		{
			int			na = (int) Min((int64) s->alloc * 2, s->cap);

			s->hash = repalloc(s->hash, sizeof(uint64) * na);
			s->count = repalloc(s->count, sizeof(int64) * na);
			s->rows = repalloc_huge(s->rows, sizeof(float) * na * s->dim);
			s->heap = repalloc(s->heap, sizeof(int) * na);
			s->alloc = na;
		}
		slot = s->n++;
		s->hash[slot] = h;
		s->count[slot] = cnt;
		memcpy(s->rows + (Size) slot * s->dim, x, sizeof(float) * s->dim);
		km_index(s, slot);
		/* sift up */
		i = s->n - 1;
		while (i > 0)
		{
			int			p = (i - 1) / 2;

			if (km_cmp(s, h, x, s->heap[p]) <= 0)
				break;
			s->heap[i] = s->heap[p];
			i = p;
		}
		s->heap[i] = slot;
		return;
	}
	/* full: replace the largest key if this one is smaller */
	slot = s->heap[0];
	if (km_cmp(s, h, x, slot) >= 0)
		return;
	km_unindex(s, slot);
	s->hash[slot] = h;
	s->count[slot] = cnt;
	memcpy(s->rows + (Size) slot * s->dim, x, sizeof(float) * s->dim);
	km_index(s, slot);
	km_sift_down(s, 0);
}

static void
km_check_same(const KmSample *s, int dim, int k, bool spherical)
{
	embed_check_same_dims(s->dim, dim);
	if (k != s->k)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("k must be the same for every row of a group")));
	if (spherical != s->spherical)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the metric must be the same for every row of a group")));
}

static inline Datum
kmeans_accum(FunctionCallInfo fcinfo, const DenseCodec *c)
{
	MemoryContext ctx = agg_context(fcinfo, "kmeans_accum");
	KmSample   *s = PG_ARGISNULL(0) ? NULL : (KmSample *) PG_GETARG_POINTER(0);
	int32		k = int_arg(fcinfo, 2, "k");
	bool		spherical = parse_metric(fcinfo, 3);
	DenseValue *v;
	float		stack[1024];
	const float *x;
	uint64		h;

	if (PG_ARGISNULL(1))
	{
		if (s == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(s);
	}
	v = (DenseValue *) embed_detoast_vector(PG_GETARG_DATUM(1));
	if (s == NULL)
		s = km_new(ctx, v->dim, k, spherical);
	else
		km_check_same(s, v->dim, k, spherical);

	x = dense_read(c, v, stack, lengthof(stack));
	h = hash_bytes_extended((const unsigned char *) x, sizeof(float) * v->dim, KM_HASH_SEED);
	if (spherical)
	{
		float	   *u = palloc(sizeof(float) * v->dim);

		memcpy(u, x, sizeof(float) * v->dim);
		/* a zero vector has no direction: skipped, like NULL */
		if (embed_l2_normalize(u, v->dim) > 0)
			km_add(s, ctx, u, h, 1);
		pfree(u);
	}
	else
		km_add(s, ctx, x, h, 1);
	dense_read_done(c, x, stack);
	PG_RETURN_POINTER(s);
}

PG_FUNCTION_INFO_V1(vector_kmeans_accum);
Datum
vector_kmeans_accum(PG_FUNCTION_ARGS)
{
	return kmeans_accum(fcinfo, embed_dense_vector);
}

PG_FUNCTION_INFO_V1(halfvec_kmeans_accum);
Datum
halfvec_kmeans_accum(PG_FUNCTION_ARGS)
{
	return kmeans_accum(fcinfo, embed_dense_halfvec);
}

PG_FUNCTION_INFO_V1(kmeans_combine);
Datum
kmeans_combine(PG_FUNCTION_ARGS)
{
	MemoryContext ctx = agg_context(fcinfo, "kmeans_combine");
	KmSample   *a = PG_ARGISNULL(0) ? NULL : (KmSample *) PG_GETARG_POINTER(0);
	KmSample   *b = PG_ARGISNULL(1) ? NULL : (KmSample *) PG_GETARG_POINTER(1);
	int64		seen;

	if (b == NULL)
	{
		if (a == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(a);
	}
	if (a == NULL)
		a = km_new(ctx, b->dim, b->k, b->spherical);
	else
		km_check_same(a, b->dim, b->k, b->spherical);
	seen = a->seen + b->seen;
	for (int i = 0; i < b->n; i++)
		km_add(a, ctx, b->rows + (Size) i * b->dim, b->hash[i], b->count[i]);
	a->seen = seen;
	PG_RETURN_POINTER(a);
}

/*
 * int32 dim, k, spherical, n; int64 seen; n hashes; n counts; n * dim floats
 * (native byte order: the form only travels between parallel workers)
 */
PG_FUNCTION_INFO_V1(kmeans_serialize);
Datum
kmeans_serialize(PG_FUNCTION_ARGS)
{
	KmSample   *s;
	StringInfoData buf;

	agg_context(fcinfo, "kmeans_serialize");
	s = (KmSample *) PG_GETARG_POINTER(0);
	pq_begintypsend(&buf);
	pq_sendint32(&buf, s->dim);
	pq_sendint32(&buf, s->k);
	pq_sendint32(&buf, s->spherical ? 1 : 0);
	pq_sendint32(&buf, s->n);
	pq_sendint64(&buf, s->seen);
	pq_sendbytes(&buf, (const char *) s->hash, sizeof(uint64) * s->n);
	pq_sendbytes(&buf, (const char *) s->count, sizeof(int64) * s->n);
	pq_sendbytes(&buf, (const char *) s->rows, sizeof(float) * s->n * s->dim);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

PG_FUNCTION_INFO_V1(kmeans_deserialize);
Datum
kmeans_deserialize(PG_FUNCTION_ARGS)
{
	MemoryContext ctx = agg_context(fcinfo, "kmeans_deserialize");
	bytea	   *b = PG_GETARG_BYTEA_PP(0);
	StringInfoData buf;
	KmSample   *s;
	int			dim,
				k,
				sph,
				n;
	int64		seen;
	uint64	   *hash;
	int64	   *count;
	float	   *rows;

	buf.data = VARDATA_ANY(b);
	buf.len = VARSIZE_ANY_EXHDR(b);
	buf.maxlen = buf.len;
	buf.cursor = 0;
	dim = pq_getmsgint(&buf, 4);
	k = pq_getmsgint(&buf, 4);
	sph = pq_getmsgint(&buf, 4);
	n = pq_getmsgint(&buf, 4);
	seen = pq_getmsgint64(&buf);
	if (dim < 1 || dim > VECTOR_MAX_DIM || k < 1 || n < 0 ||
		(int64) (buf.len - buf.cursor) != (int64) n * (int64) (sizeof(uint64) + sizeof(int64) + sizeof(float) * dim))
		elog(ERROR, "corrupt kmeans aggregate state");
	s = km_new(ctx, dim, k, sph != 0);
	hash = (uint64 *) palloc(sizeof(uint64) * Max(n, 1));
	pq_copymsgbytes(&buf, (char *) hash, sizeof(uint64) * n);
	count = (int64 *) palloc(sizeof(int64) * Max(n, 1));
	pq_copymsgbytes(&buf, (char *) count, sizeof(int64) * n);
	rows = (float *) MemoryContextAllocHuge(CurrentMemoryContext, sizeof(float) * Max(n, 1) * dim);
	pq_copymsgbytes(&buf, (char *) rows, sizeof(float) * n * dim);
	for (int i = 0; i < n; i++)
		km_add(s, ctx, rows + (Size) i * dim, hash[i], count[i]);
	s->seen = seen;
	pfree(hash);
	pfree(count);
	pfree(rows);
	PG_RETURN_POINTER(s);
}

static int
km_order_cmp(const void *a, const void *b, void *arg)
{
	const KmSample *s = arg;
	int			i = *(const int *) a,
				j = *(const int *) b;

	return km_cmp(s, s->hash[i], s->rows + (Size) i * s->dim, j);
}

static inline Datum
kmeans_final(FunctionCallInfo fcinfo, const DenseCodec *c)
{
	KmSample   *s = PG_ARGISNULL(0) ? NULL : (KmSample *) PG_GETARG_POINTER(0);
	int		   *order;
	float	   *points,
			   *weights,
			   *centroids;
	DenseValue **vals;

	if (s == NULL)
		PG_RETURN_NULL();
	if (s->n < s->k)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("k = %d is more than the %d distinct rows to cluster", s->k, s->n),
				 s->spherical ? errdetail("NULL and zero vectors are skipped.") :
				 errdetail("NULL vectors are skipped.")));

	/*
	 * Cluster a copy in hash order (the state stays usable: the final
	 * function may run more than once).
	 */
	order = palloc(sizeof(int) * s->n);
	for (int i = 0; i < s->n; i++)
		order[i] = i;
	qsort_arg(order, s->n, sizeof(int), km_order_cmp, s);
	points = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(float) * s->n * s->dim);
	weights = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(float) * s->n);
	for (int i = 0; i < s->n; i++)
	{
		memcpy(points + (Size) i * s->dim, s->rows + (Size) order[i] * s->dim,
			   sizeof(float) * s->dim);
		weights[i] = (float) s->count[order[i]];
	}
	centroids = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(float) * s->k * s->dim);
	kmeans_weighted(points, weights, s->n, s->dim, s->k, s->spherical, KM_SEED, KM_ITERATIONS,
					centroids);

	vals = palloc(sizeof(DenseValue *) * s->k);
	for (int j = 0; j < s->k; j++)
		vals[j] = dense_from_floats(c, centroids + (Size) j * s->dim, s->dim);
	pfree(points);
	pfree(weights);
	pfree(centroids);
	pfree(order);
	PG_RETURN_ARRAYTYPE_P(dense_array(fcinfo, c, vals, s->k));
}

PG_FUNCTION_INFO_V1(vector_kmeans_final);
Datum
vector_kmeans_final(PG_FUNCTION_ARGS)
{
	return kmeans_final(fcinfo, embed_dense_vector);
}

PG_FUNCTION_INFO_V1(halfvec_kmeans_final);
Datum
halfvec_kmeans_final(PG_FUNCTION_ARGS)
{
	return kmeans_final(fcinfo, embed_dense_halfvec);
}

/* ---------------------------------------------------------------------
 * vector_nearest()
 * ---------------------------------------------------------------------
 */
static inline Datum
nearest(FunctionCallInfo fcinfo, const DenseCodec *c)
{
	DenseValue *v = (DenseValue *) embed_detoast_vector(PG_GETARG_DATUM(0));
	bool		cosine = parse_metric(fcinfo, 2);
	DenseMatrix *cents = dense_matrix(fcinfo, 1, c, "centroid");
	float		xs[1024];
	const float *x;
	int			best = -1;
	double		bestscore = 0;

	embed_check_same_dims(v->dim, cents->dim);
	x = dense_read(c, v, xs, lengthof(xs));
	if (cosine && embed_active_kernels->dot(x, x, v->dim) == 0)
		PG_RETURN_NULL();		/* a zero vector is no nearer to any direction */
	for (int j = 0; j < cents->m; j++)
	{
		const float *y = cents->rows[j];
		double		score;

		if (cosine)
		{
			double		nn = embed_active_kernels->dot(y, y, v->dim);

			/* the highest cosine similarity; a zero centroid never wins */
			score = nn > 0 ? -embed_active_kernels->dot(x, y, v->dim) / sqrt(nn) : DBL_MAX;
		}
		else
			score = embed_active_kernels->l2sq(x, y, v->dim);
		if (score < DBL_MAX && (best < 0 || score < bestscore))
		{
			best = j;
			bestscore = score;
		}
	}
	dense_read_done(c, x, xs);
	if (best < 0)
		PG_RETURN_NULL();
	PG_RETURN_INT32(best + 1);
}

PG_FUNCTION_INFO_V1(vector_nearest);
Datum
vector_nearest(PG_FUNCTION_ARGS)
{
	return nearest(fcinfo, embed_dense_vector);
}

PG_FUNCTION_INFO_V1(halfvec_nearest);
Datum
halfvec_nearest(PG_FUNCTION_ARGS)
{
	return nearest(fcinfo, embed_dense_halfvec);
}

/* ---------------------------------------------------------------------
 * pca()
 * ---------------------------------------------------------------------
 */
typedef struct PcaState
{
	int			naxes;
	PcaAccum   *acc;
} PcaState;

static PcaState *
pca_new(MemoryContext ctx, int dim, int naxes)
{
	MemoryContext old;
	PcaState   *s;

	if (naxes < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the number of axes must be at least 1")));
	if (naxes > dim)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%d axes asked of %d-dimensional vectors", naxes, dim)));
	if (dim > PCA_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("pca() supports at most %d dimensions", PCA_MAX_DIM)));
	old = MemoryContextSwitchTo(ctx);
	s = palloc(sizeof(PcaState));
	s->naxes = naxes;
	s->acc = pca_accum_new(dim);
	MemoryContextSwitchTo(old);
	return s;
}

static void
pca_check_same(PcaState *s, int dim, int naxes)
{
	embed_check_same_dims(s->acc->dim, dim);
	if (naxes != s->naxes)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the number of axes must be the same for every row of a group")));
}

static inline Datum
pca_accum(FunctionCallInfo fcinfo, const DenseCodec *c)
{
	MemoryContext ctx = agg_context(fcinfo, "pca_accum");
	PcaState   *s = PG_ARGISNULL(0) ? NULL : (PcaState *) PG_GETARG_POINTER(0);
	int32		naxes = int_arg(fcinfo, 2, "the number of axes");
	DenseValue *v;
	float		stack[1024];
	const float *x;

	if (PG_ARGISNULL(1))
	{
		if (s == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(s);
	}
	v = (DenseValue *) embed_detoast_vector(PG_GETARG_DATUM(1));
	if (s == NULL)
		s = pca_new(ctx, v->dim, naxes);
	else
		pca_check_same(s, v->dim, naxes);
	x = dense_read(c, v, stack, lengthof(stack));
	pca_accum_add(s->acc, x);
	dense_read_done(c, x, stack);
	PG_RETURN_POINTER(s);
}

PG_FUNCTION_INFO_V1(vector_pca_accum);
Datum
vector_pca_accum(PG_FUNCTION_ARGS)
{
	return pca_accum(fcinfo, embed_dense_vector);
}

PG_FUNCTION_INFO_V1(halfvec_pca_accum);
Datum
halfvec_pca_accum(PG_FUNCTION_ARGS)
{
	return pca_accum(fcinfo, embed_dense_halfvec);
}

PG_FUNCTION_INFO_V1(pca_combine);
Datum
pca_combine(PG_FUNCTION_ARGS)
{
	MemoryContext ctx = agg_context(fcinfo, "pca_combine");
	PcaState   *a = PG_ARGISNULL(0) ? NULL : (PcaState *) PG_GETARG_POINTER(0);
	PcaState   *b = PG_ARGISNULL(1) ? NULL : (PcaState *) PG_GETARG_POINTER(1);

	if (b == NULL)
	{
		if (a == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(a);
	}
	if (a == NULL)
		a = pca_new(ctx, b->acc->dim, b->naxes);
	else
		pca_check_same(a, b->acc->dim, b->naxes);
	pca_accum_flush(a->acc);
	pca_accum_flush(b->acc);
	pca_accum_merge(a->acc, b->acc);
	PG_RETURN_POINTER(a);
}

/* int32 dim, naxes; int64 n; dim means; the upper triangle of M2 (native order) */
PG_FUNCTION_INFO_V1(pca_serialize);
Datum
pca_serialize(PG_FUNCTION_ARGS)
{
	PcaState   *s;
	PcaAccum   *a;
	StringInfoData buf;

	agg_context(fcinfo, "pca_serialize");
	s = (PcaState *) PG_GETARG_POINTER(0);
	a = s->acc;
	pca_accum_flush(a);
	pq_begintypsend(&buf);
	pq_sendint32(&buf, a->dim);
	pq_sendint32(&buf, s->naxes);
	pq_sendint64(&buf, a->n);
	pq_sendbytes(&buf, (const char *) a->mean, sizeof(double) * a->dim);
	for (int i = 0; i < a->dim; i++)
		pq_sendbytes(&buf, (const char *) (a->m2 + (Size) i * a->dpad + i),
					 sizeof(double) * (a->dim - i));
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

PG_FUNCTION_INFO_V1(pca_deserialize);
Datum
pca_deserialize(PG_FUNCTION_ARGS)
{
	MemoryContext ctx = agg_context(fcinfo, "pca_deserialize");
	bytea	   *b = PG_GETARG_BYTEA_PP(0);
	StringInfoData buf;
	PcaState   *s;
	PcaAccum   *a;
	int			dim,
				naxes;
	int64		n;

	buf.data = VARDATA_ANY(b);
	buf.len = VARSIZE_ANY_EXHDR(b);
	buf.maxlen = buf.len;
	buf.cursor = 0;
	dim = pq_getmsgint(&buf, 4);
	naxes = pq_getmsgint(&buf, 4);
	n = pq_getmsgint64(&buf);
	if (dim < 1 || dim > PCA_MAX_DIM || naxes < 1 || naxes > dim || n < 0 ||
		(int64) (buf.len - buf.cursor) !=
		(int64) sizeof(double) * (dim + (int64) dim * (dim + 1) / 2))
		elog(ERROR, "corrupt pca aggregate state");
	s = pca_new(ctx, dim, naxes);
	a = s->acc;
	a->n = n;
	pq_copymsgbytes(&buf, (char *) a->mean, sizeof(double) * dim);
	for (int i = 0; i < dim; i++)
		pq_copymsgbytes(&buf, (char *) (a->m2 + (Size) i * a->dpad + i),
						sizeof(double) * (dim - i));
	PG_RETURN_POINTER(s);
}

/* the mean, then the axes, as vector[] (for either input type) */
PG_FUNCTION_INFO_V1(pca_final);
Datum
pca_final(PG_FUNCTION_ARGS)
{
	PcaState   *s = PG_ARGISNULL(0) ? NULL : (PcaState *) PG_GETARG_POINTER(0);
	PcaAccum   *a;
	int			d;
	double	   *cov,
			   *w,
			   *vecs;
	float	   *f;
	DenseValue **vals;

	if (s == NULL)
		PG_RETURN_NULL();
	a = s->acc;
	d = a->dim;
	/* folding the buffer in changes no result: the state stays usable */
	pca_accum_flush(a);
	if (a->n <= s->naxes)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("pca() of %d axes needs more than %lld rows", s->naxes,
						(long long) a->n),
				 errdetail("NULL vectors are skipped.")));

	cov = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(double) * d * d);
	vecs = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(double) * d * d);
	w = palloc(sizeof(double) * d);
	for (int i = 0; i < d; i++)
		for (int j = i; j < d; j++)
		{
			double		cij = a->m2[(Size) i * a->dpad + j] / (double) (a->n - 1);

			cov[(Size) i * d + j] = cij;
			cov[(Size) j * d + i] = cij;
		}
	embed_sym_eigen(cov, d, w, vecs);

	vals = palloc(sizeof(DenseValue *) * (s->naxes + 1));
	f = palloc(sizeof(float) * d);
	for (int i = 0; i < d; i++)
		f[i] = (float) a->mean[i];
	vals[0] = dense_from_floats(embed_dense_vector, f, d);
	for (int j = 0; j < s->naxes; j++)
	{
		for (int i = 0; i < d; i++)
			f[i] = (float) vecs[(Size) j * d + i];
		vals[j + 1] = dense_from_floats(embed_dense_vector, f, d);
	}
	pfree(cov);
	pfree(vecs);
	pfree(w);
	pfree(f);
	PG_RETURN_ARRAYTYPE_P(dense_array(fcinfo, embed_dense_vector, vals, s->naxes + 1));
}

/* ---------------------------------------------------------------------
 * vector_project()
 * ---------------------------------------------------------------------
 */
static inline Datum
project(FunctionCallInfo fcinfo, const DenseCodec *c)
{
	DenseValue *v = (DenseValue *) embed_detoast_vector(PG_GETARG_DATUM(0));
	DenseMatrix *p = dense_matrix(fcinfo, 1, embed_dense_vector, "projection");
	float		xs[1024];
	const float *x;
	double	   *centred;
	Vector	   *r;

	if (p->m < 2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a projection is a mean and at least one axis"),
				 errhint("Use the result of pca().")));
	embed_check_same_dims(v->dim, p->dim);
	x = dense_read(c, v, xs, lengthof(xs));
	centred = palloc(sizeof(double) * v->dim);
	for (int i = 0; i < v->dim; i++)
		centred[i] = (double) x[i] - p->rows[0][i];
	dense_read_done(c, x, xs);
	r = new_vector(p->m - 1);
	for (int j = 1; j < p->m; j++)
	{
		const float *axis = p->rows[j];
		double		y = 0;

		for (int i = 0; i < v->dim; i++)
			y += centred[i] * axis[i];
		r->x[j - 1] = embed_float8_to_float4(y, "vector");
	}
	pfree(centred);
	PG_RETURN_VECTOR_P(r);
}

PG_FUNCTION_INFO_V1(vector_project);
Datum
vector_project(PG_FUNCTION_ARGS)
{
	return project(fcinfo, embed_dense_vector);
}

PG_FUNCTION_INFO_V1(halfvec_project);
Datum
halfvec_project(PG_FUNCTION_ARGS)
{
	return project(fcinfo, embed_dense_halfvec);
}
