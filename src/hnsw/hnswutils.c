/*
 * hnswutils.c — element tuple layout, page helpers, WAL helpers.
 */
#include "postgres.h"

#include <math.h>

#include "access/generic_xlog.h"
#if PG_VERSION_NUM >= 150000
#include "common/pg_prng.h"
#endif
#include "storage/bufmgr.h"
#include "storage/indexfsm.h"
#include "storage/lmgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "hnsw.h"
#include "../kernels.h"
#include "../vector.h"

/* ---------- relation-level info ---------- */

void
hnsw_build_options(Relation index, int *m, int *ef_construction)
{
	HnswOptions *opts = (HnswOptions *) index->rd_options;

	*m = opts ? opts->m : HNSW_DEFAULT_M;
	*ef_construction = opts ? opts->ef_construction : HNSW_DEFAULT_EF_CONSTRUCTION;
	if (*ef_construction < 2 * *m)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ef_construction must be greater than or equal to 2 * m")));
}

int
hnsw_precision(Relation index)
{
	HnswOptions *opts = (HnswOptions *) index->rd_options;

	return opts ? opts->precision : HNSW_PRECISION_HALF;
}

static double
neg_dot(const float *a, const float *b, int n)
{
	return -embed_dot(a, b, n);
}

/* the float32 kernel embed_metric_dense uses for metric, or NULL */
static double (*vec_kernel_of(EmbedMetric metric)) (const float *, const float *, int)
{
	switch (metric)
	{
		case EMBED_METRIC_L2SQ:
			return embed_l2sq;
		case EMBED_METRIC_NEG_IP:
			return neg_dot;
		case EMBED_METRIC_COSINE:
			return embed_cosine_distance;
		case EMBED_METRIC_L1:
			return embed_l1;
		default:
			return NULL;
	}
}

void
hnsw_index_info(HnswIndexInfo *info, Relation index, bool building)
{
	HnswMetaPageData meta;

	memset(info, 0, sizeof(*info));
	info->index = index;
	info->building = building;
	info->distproc = index_getprocinfo(index, 1, HNSW_DISTANCE_PROC);
	info->oc = embed_opclass_of(info->distproc);
	info->work = info->oc;
	if (info->oc.type != NULL && info->oc.type->dense)
		info->work.type = &embed_type_vector;
	if (info->work.type == &embed_type_vector)
		info->vec_kernel = vec_kernel_of(info->work.metric);
	info->normproc = OidIsValid(index_getprocid(index, 1, HNSW_NORM_PROC))
		? index_getprocinfo(index, 1, HNSW_NORM_PROC) : NULL;
	info->collation = index->rd_indcollation[0];
	/*
	 * Half precision needs to know the metric, to bound its error.  A dense
	 * type other than vector (halfvec) is always stored compact: its values
	 * are halves already, so the compact form is exact.
	 */
	info->half = info->work.type == &embed_type_vector &&
		(info->oc.type != &embed_type_vector ||
		 hnsw_precision(index) == HNSW_PRECISION_HALF);
	/*
	 * m and ef_construction are fixed when the metapage is written: once read
	 * they live in rd_amcache (freed with the relcache entry, e.g. by a
	 * REINDEX), which saves every scan and insert a metapage read.
	 */
	if (index->rd_amcache == NULL || building)
	{
		hnsw_read_meta(index, &meta);
		if (building)
		{
			info->m = meta.m;
			info->ef_construction = meta.ef_construction;
			return;
		}
		index->rd_amcache = MemoryContextAlloc(index->rd_indexcxt, sizeof(HnswMetaPageData));
		memcpy(index->rd_amcache, &meta, sizeof(HnswMetaPageData));
	}
	info->m = ((HnswMetaPageData *) index->rd_amcache)->m;
	info->ef_construction = ((HnswMetaPageData *) index->rd_amcache)->ef_construction;
}

/*
 * The opclass distance.  When the support function is one of embed's (the
 * type layer resolved it) and both values are plain, the type's kernel is
 * called directly: the same result without an fmgr call per distance.
 * Values of dense types are float32 vectors by now (hnsw_as_vector).
 */
double
hnsw_distance_general(HnswIndexInfo *info, Datum a, Datum b)
{
	double		d;

	if (info->work.type != NULL && embed_distance_direct(info->work, a, b, &d))
		return d;
	return DatumGetFloat8(FunctionCall2Coll(info->distproc, info->collation, a, b));
}

/*
 * The type layer's limit on indexed dimensions (EmbedType.max_index_dim),
 * for the types whose own limit is higher (bit strings: 64,000 bits).  The
 * same check and message as ivf's; nothing to check for an opclass whose
 * distance is not one of embed's.
 */
void
hnsw_check_dims(EmbedOpclass oc, int dim)
{
	if (oc.type != NULL && dim > oc.type->max_index_dim)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("column cannot have more than %d dimensions", oc.type->max_index_dim)));
}

/*
 * A value as the graph works with it: a dense type other than vector is
 * decoded into a float32 vector (once per insert or scan), so that every
 * distance inside the graph runs on one representation; anything else is
 * returned as it is.
 */
Datum
hnsw_as_vector(HnswIndexInfo *info, Datum value)
{
	const void *p;
	Vector	   *v;

	if (info->oc.type == NULL || !info->oc.type->dense || info->oc.type == &embed_type_vector)
		return value;
	p = PG_DETOAST_DATUM(value);
	v = new_vector(info->oc.type->dims(p));
	info->oc.type->to_float(p, v->x);
	return PointerGetDatum(v);
}

/* ---------- compact values: half precision, bytes ---------- */

/*
 * A value whose half-precision error is larger than this fraction of its
 * norm is stored in full: binary16 keeps about 3.3 significant digits, so
 * only vectors with components spread over many orders of magnitude (tiny
 * ones flush to zero) get here.
 */
#define HNSW_HALF_MAX_REL_ERR	2e-3

/* a float4 not below x */
static float4
float_up(double x)
{
	float4		f = (float4) x;

	return (double) f < x ? nextafterf(f, INFINITY) : f;
}

/*
 * The byte form of v, or NULL when some component is not an integer or the
 * components span more than 256 values.  Integers up to 2^24 are exact in a
 * float, so decoding gives back v bit for bit.
 */
static HnswByteValue *
byte_form(const Vector *v)
{
	float		lo = v->x[0],
				hi = v->x[0];
	HnswByteValue *bv;
	Size		size;

	for (int i = 0; i < v->dim; i++)
	{
		float		x = v->x[i];

		if (x != rintf(x) || fabsf(x) > (float) (1 << 24))
			return NULL;
		lo = Min(lo, x);
		hi = Max(hi, x);
	}
	if (hi - lo > 255)
		return NULL;
	size = offsetof(HnswByteValue, b) + v->dim;
	bv = palloc(size);
	SET_VARSIZE(bv, size);
	bv->lo = lo;
	for (int i = 0; i < v->dim; i++)
		bv->b[i] = (uint8) (v->x[i] - lo);
	return bv;
}

/*
 * The form a value is stored in (*form gets its HNSW_ELEMENT_FORM bits):
 * when the index stores compact values, an HnswByteValue if the value
 * survives it exactly, else an HnswHalfValue if it survives half precision
 * closely enough, else the value itself.
 */
Datum
hnsw_stored_form(HnswIndexInfo *info, Datum value, uint8 *form)
{
	Vector	   *v = (Vector *) DatumGetPointer(value);
	int			dim;
	HnswHalfValue *hv;
	HnswByteValue *bv;
	Size		size;
	double		err = 0,
				xx = 0,
				hh = 0,
				scale;
	float	   *h;

	*form = 0;
	if (!info->half || VARATT_IS_EXTENDED(v))
		return value;
	if ((bv = byte_form(v)) != NULL)
	{
		*form = HNSW_ELEMENT_BYTE;
		return PointerGetDatum(bv);
	}
	dim = v->dim;
	size = offsetof(HnswHalfValue, h) + sizeof(uint16) * dim;
	hv = palloc0(size);
	SET_VARSIZE(hv, size);
	if (!embed_float_to_half(v->x, hv->h, dim))
	{
		pfree(hv);
		return value;
	}
	h = palloc(sizeof(float) * dim);
	embed_active_kernels->half_to_float(hv->h, h, dim);
	for (int i = 0; i < dim; i++)
	{
		xx += (double) v->x[i] * v->x[i];
		hh += (double) h[i] * h[i];
	}
	if (info->work.metric == EMBED_METRIC_COSINE)
	{
		double		nx = sqrt(xx),
					nh = sqrt(hh);

		if (nx == 0 || nh == 0)
		{
			pfree(h);
			pfree(hv);
			return value;
		}
		for (int i = 0; i < dim; i++)
		{
			double		d = v->x[i] / nx - h[i] / nh;

			err += d * d;
		}
		err = sqrt(err);
		scale = 1;
	}
	else if (info->work.metric == EMBED_METRIC_L1)
	{
		scale = 0;
		for (int i = 0; i < dim; i++)
		{
			err += fabs((double) v->x[i] - h[i]);
			scale += fabs((double) v->x[i]);
		}
	}
	else
	{
		for (int i = 0; i < dim; i++)
		{
			double		d = (double) v->x[i] - h[i];

			err += d * d;
		}
		err = sqrt(err);
		scale = sqrt(xx);
	}
	pfree(h);
	if (err > HNSW_HALF_MAX_REL_ERR * scale)
	{
		pfree(hv);
		return value;
	}
	/* rounded up: the bounds built on it must hold */
	hv->err = err > 0 ? float_up(err * (1 + 1e-9)) : 0;
	hv->norm = float_up(sqrt(hh));
	*form = HNSW_ELEMENT_HALF;
	return PointerGetDatum(hv);
}

/*
 * The bytes before a compact value's components; above any varlena's size
 * (so flagged corrupt) when both form bits are set.
 */
Size
hnsw_compact_header(uint8 flags)
{
	switch (flags & HNSW_ELEMENT_FORM)
	{
		case HNSW_ELEMENT_HALF:
			return offsetof(HnswHalfValue, h);
		case HNSW_ELEMENT_BYTE:
			return offsetof(HnswByteValue, b);
		case 0:
			return VARHDRSZ;
	}
	return MaxAllocSize;
}

/* The dimensions of a value in a compact form */
int
hnsw_compact_dim(Datum stored, uint8 form)
{
	if (form == HNSW_ELEMENT_BYTE)
		return HNSW_BYTE_DIM(DatumGetPointer(stored));
	return HNSW_HALF_DIM(DatumGetPointer(stored));
}

/* A compact value's components, into out[dim] */
static void
decode_compact(Datum stored, uint8 form, float *out)
{
	if (form == HNSW_ELEMENT_BYTE)
	{
		const HnswByteValue *bv = (const HnswByteValue *) DatumGetPointer(stored);

		embed_active_kernels->byte_to_float(bv->b, bv->lo, out, HNSW_BYTE_DIM(bv));
	}
	else
	{
		const HnswHalfValue *hv = (const HnswHalfValue *) DatumGetPointer(stored);

		embed_active_kernels->half_to_float(hv->h, out, HNSW_HALF_DIM(hv));
	}
}

/* A stored value as a vector (palloc'd if it had to be decoded). */
Datum
hnsw_full_value(Datum stored, uint8 form)
{
	Vector	   *v;

	if (form == 0)
		return stored;
	v = new_vector(hnsw_compact_dim(stored, form));
	decode_compact(stored, form, v->x);
	return PointerGetDatum(v);
}

/* A candidate's value as a vector, decoded once */
Datum
hnsw_candidate_full(HnswCandidate *c)
{
	if (c->full == (Datum) 0)
		c->full = hnsw_full_value(c->value, c->form);
	return c->full;
}

/*
 * The distance from a query vector to a half value's vector in one pass over
 * the halves, with no float copy, and for cosine the stored norm instead of
 * another sum of squares: the common case (the build's every distance, and a
 * scan's).  False for anything unusual (L1, a zero or huge norm, float32
 * overflow): the caller decodes the value and uses the float kernels.
 */
static bool
half_distance(HnswIndexInfo *info, const Vector *q, const HnswHalfValue *hv,
			  double *qnorm, double *dist)
{
	double		d,
				qn;

	switch (info->work.metric)
	{
		case EMBED_METRIC_L2SQ:
			d = embed_active_kernels->half_l2sq(q->x, hv->h, q->dim);
			break;
		case EMBED_METRIC_NEG_IP:
			d = -embed_active_kernels->half_dot(q->x, hv->h, q->dim);
			break;
		case EMBED_METRIC_COSINE:
			if (*qnorm < 0)
				*qnorm = embed_norm(q->x, q->dim);
			qn = *qnorm * hv->norm;
			if (!(qn > 1e-15 && qn < 1e30))
				return false;
			d = embed_active_kernels->half_dot(q->x, hv->h, q->dim) / qn;
			d = 1.0 - Max(-1.0, Min(1.0, d));
			break;
		default:
			return false;
	}
	if (!isfinite(d))
		return false;
	*dist = d;
	return true;
}

/*
 * The distance from a query vector to a compact value, as a lower bound of
 * the distance to the vector it stands for (in the support function's
 * units); *exact when it is that distance (byte values, and half values with
 * err = 0, which are decoded and computed as the operator computes them).
 * The bound also covers float32 rounding in both computations: the worst
 * case grows with the dimension (n * 2^-24 relative), padded as `slack`.
 * `scratch` holds dim floats; *qnorm is the query norm, -1 until computed.
 */
double
hnsw_compact_distance(HnswIndexInfo *info, Datum query, double *qnorm,
					  Datum stored, uint8 form, float *scratch, bool *exact)
{
	Vector	   *q = (Vector *) DatumGetPointer(query);
	const HnswHalfValue *hv = (const HnswHalfValue *) DatumGetPointer(stored);
	int			dim = hnsw_compact_dim(stored, form);
	double		d,
				r,
				slack = 1e-6 + dim * 1.2e-7;

	embed_check_same_dims(q->dim, dim);
	*exact = form == HNSW_ELEMENT_BYTE || hv->err == 0;
	if (*exact || !half_distance(info, q, hv, qnorm, &d))
	{
		decode_compact(stored, form, scratch);
		switch (info->work.metric)
		{
			case EMBED_METRIC_L2SQ:
				d = embed_l2sq(q->x, scratch, dim);
				break;
			case EMBED_METRIC_NEG_IP:
				d = -embed_dot(q->x, scratch, dim);
				break;
			case EMBED_METRIC_COSINE:
				d = embed_cosine_distance(q->x, scratch, dim);
				break;
			case EMBED_METRIC_L1:
				d = embed_l1(q->x, scratch, dim);
				break;
			default:
				elog(ERROR, "hnsw: compact value under an unknown distance");
		}
	}
	if (*exact)
		return d;
	switch (info->work.metric)
	{
		case EMBED_METRIC_L2SQ:
			r = sqrt(d) * (1 - slack) - hv->err;
			return r > 0 ? r * r : 0;
		case EMBED_METRIC_NEG_IP:
			if (*qnorm < 0)
				*qnorm = embed_norm(q->x, dim);
			return d - *qnorm * (hv->err + slack * hv->norm);
		case EMBED_METRIC_COSINE:
			return d - hv->err - slack;
		case EMBED_METRIC_L1:
			return d * (1 - slack) - hv->err;
		default:
			break;				/* not reached: the decoding switch errors first */
	}
	return 0;
}

/* A distance in support-function units as the ORDER BY operator's value */
double
hnsw_order_value(HnswIndexInfo *info, double dist)
{
	return embed_metric_order_value(info->oc.metric, dist);
}

/* geometric level distribution with mL = 1 / ln(m), as in the HNSW paper */
int
hnsw_random_level(int m)
{
#if PG_VERSION_NUM >= 150000
	double		u = pg_prng_double(&pg_global_prng_state);
#else
	double		u = (double) random() / ((double) MAX_RANDOM_VALUE + 1);
#endif
	int			level;

	if (u <= 0)
		u = 1e-300;
	level = Min((int) floor(-log(u) / log((double) m)), HNSW_MAX_LEVEL);
	/* never so high that the links alone overflow a page (large m only) */
	while (level > 0 &&
		   hnsw_tuple_header_size(level, m) + MAXALIGN(sizeof(BlockNumber)) > HNSW_MAX_ELEMENT_SIZE)
		level--;
	return level;
}

/* ---------- pages ---------- */

/*
 * A page for new data, returned exclusively locked: a recycled one from the
 * free space map if there is one, else a new page at the end.  The caller
 * initializes it.
 */
Buffer
hnsw_new_buffer(Relation index, ForkNumber fork)
{
	Buffer		buf;

	if (fork == MAIN_FORKNUM)
	{
		BlockNumber blk;

		while ((blk = GetFreeIndexPage(index)) != InvalidBlockNumber)
		{
			buf = ReadBuffer(index, blk);
			/* someone else may have taken it already: then skip it */
			if (ConditionalLockBuffer(buf))
			{
				Page		page = BufferGetPage(buf);

				if (PageIsNew(page) || HnswPageGetOpaque(page)->type == HNSW_PAGE_FREE)
					return buf;
				LockBuffer(buf, BUFFER_LOCK_UNLOCK);
			}
			ReleaseBuffer(buf);
		}
	}

	return embed_extend_relation(index, fork);
}

void
hnsw_read_meta(Relation index, HnswMetaPageData *meta)
{
	Buffer		buf = ReadBuffer(index, HNSW_METAPAGE_BLKNO);
	Page		page;

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	if (HnswPageGetOpaque(page)->page_id != HNSW_PAGE_ID ||
		HnswPageGetMeta(page)->magic != HNSW_MAGIC)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" is not a valid hnsw index",
						RelationGetRelationName(index))));
	if (HnswPageGetMeta(page)->version != HNSW_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("hnsw index \"%s\" has on-disk version %u, this build reads %u",
						RelationGetRelationName(index),
						HnswPageGetMeta(page)->version, HNSW_VERSION),
				 errhint("REINDEX the index.")));
	memcpy(meta, HnswPageGetMeta(page), sizeof(HnswMetaPageData));
	UnlockReleaseBuffer(buf);
}

/*
 * The element at (page, off), or NULL if the slot holds none (a link may
 * point at a slot VACUUM has freed: readers treat it as absent).  A tuple
 * whose header does not add up is corruption: an ERROR, never a wild read.
 */
HnswElementTuple
hnsw_get_element(Relation index, Page page, OffsetNumber off, int m)
{
	ItemId		iid;
	HnswElementTuple etup;
	Size		len;

	if (HnswPageGetOpaque(page)->type != HNSW_PAGE_ELEMENT ||
		off < FirstOffsetNumber || off > PageGetMaxOffsetNumber(page))
		return NULL;
	iid = PageGetItemId(page, off);
	if (!ItemIdIsNormal(iid))
		return NULL;
	etup = (HnswElementTuple) PageGetItem(page, iid);
	len = ItemIdGetLength(iid);
	if (len < MAXALIGN(sizeof(HnswElementTupleData)) ||
		etup->level > HNSW_MAX_LEVEL ||
		etup->ntids > HNSW_HEAPTIDS ||
		len < hnsw_tuple_header_size(etup->level, m) +
		((etup->flags & HNSW_ELEMENT_OVERFLOW) ? sizeof(BlockNumber) : etup->vecsize))
		goto corrupt;
	for (int l = 0; l <= etup->level; l++)
		if (HnswCounts(etup)[l] > hnsw_layer_slots(l, m))
			goto corrupt;
	/* an inline value's own length must be the one recorded: reads stay inside */
	if (etup->vecsize < hnsw_compact_header(etup->flags) ||
		(!(etup->flags & HNSW_ELEMENT_OVERFLOW) &&
		 (VARSIZE_ANY(HnswValuePtr(etup, m)) != etup->vecsize ||
		  ((etup->flags & HNSW_ELEMENT_FORM) && VARATT_IS_EXTENDED(HnswValuePtr(etup, m))))))
		goto corrupt;
	return etup;

corrupt:
	ereport(ERROR,
			(errcode(ERRCODE_INDEX_CORRUPTED),
			 errmsg("hnsw index \"%s\" has a corrupt element at offset %u",
					RelationGetRelationName(index), off),
			 errhint("REINDEX the index.")));
	return NULL;				/* keep compiler quiet */
}

/*
 * The element's value as a Datum.  Inline values point into the page (the
 * caller holds the lock) unless `copy` asks for a palloc'd copy that outlives
 * the lock; overflowed ones are always read into palloc'd memory.
 */
Datum
hnsw_load_value(Relation index, HnswElementTuple etup, int m, bool copy)
{
	char	   *p = HnswValuePtr(etup, m);
	char	   *out,
			   *dst;
	BlockNumber blk;
	Size		left = etup->vecsize;

	if (!(etup->flags & HNSW_ELEMENT_OVERFLOW))
	{
		if (!copy)
			return PointerGetDatum(p);
		out = palloc(etup->vecsize);
		memcpy(out, p, etup->vecsize);
		return PointerGetDatum(out);
	}

	memcpy(&blk, p, sizeof(BlockNumber));
	out = dst = palloc(etup->vecsize);
	while (left > 0)
	{
		Buffer		buf;
		Page		page;
		Size		chunk;

		if (blk == InvalidBlockNumber)
			ereport(ERROR,
					(errcode(ERRCODE_INDEX_CORRUPTED),
					 errmsg("hnsw index \"%s\" has a truncated overflow chain",
							RelationGetRelationName(index))));
		buf = ReadBuffer(index, blk);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		if (HnswPageGetOpaque(page)->type != HNSW_PAGE_OVERFLOW)
			ereport(ERROR,
					(errcode(ERRCODE_INDEX_CORRUPTED),
					 errmsg("hnsw index \"%s\" has a bad overflow page %u",
							RelationGetRelationName(index), blk)));
		chunk = Min(left, (Size) (((PageHeader) page)->pd_lower - SizeOfPageHeaderData));
		memcpy(dst, PageGetContents(page), chunk);
		dst += chunk;
		left -= chunk;
		blk = HnswPageGetOpaque(page)->nextblkno;
		UnlockReleaseBuffer(buf);
	}
	if (VARSIZE_ANY(out) != etup->vecsize ||
		((etup->flags & HNSW_ELEMENT_FORM) && VARATT_IS_EXTENDED(out)))
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("hnsw index \"%s\" has a corrupt overflowed value",
						RelationGetRelationName(index)),
				 errhint("REINDEX the index.")));
	return PointerGetDatum(out);
}

/* ---------- neighbour lists, in an element of either store ---------- */

/*
 * Link `etup` to `newtid` on one layer: append if the list has room, else
 * replace the farthest neighbour if the new one is closer.  The stored
 * distances make this a one-element change.  Returns whether it changed.
 */
bool
hnsw_link(HnswElementTuple etup, int m, int layer, ItemPointer newtid, float4 dist)
{
	int			start = hnsw_layer_start(layer, m);
	int			count = HnswCounts(etup)[layer];
	ItemPointer nbrs = HnswNeighbors(etup, m) + start;
	float4	   *dists = HnswNeighborDists(etup, m) + start;
	int			target;

	if (etup->level < layer)
		return false;
	for (int i = 0; i < count; i++)
		if (ItemPointerEquals(&nbrs[i], newtid))
			return false;
	if (count < hnsw_layer_slots(layer, m))
		target = HnswCounts(etup)[layer]++;
	else
	{
		target = 0;
		for (int i = 1; i < count; i++)
			if (dists[i] > dists[target])
				target = i;
		if (!(dist < dists[target]))
			return false;
	}
	nbrs[target] = *newtid;
	dists[target] = dist;
	return true;
}

/* Replace one layer's list with `sel` (HnswCandidates: their TIDs and distances). */
void
hnsw_write_list(HnswElementTuple etup, int m, int layer, List *sel)
{
	int			start = hnsw_layer_start(layer, m);
	ItemPointer nbrs = HnswNeighbors(etup, m) + start;
	float4	   *dists = HnswNeighborDists(etup, m) + start;
	int			i = 0;
	ListCell   *lc;

	foreach(lc, sel)
	{
		HnswCandidate *c = lfirst(lc);

		nbrs[i] = c->tid;
		dists[i] = (float4) c->dist;
		i++;
	}
	HnswCounts(etup)[layer] = i;
}
