/*
 * ivfutils.c — what build, insert, scan and vacuum share: options and
 * settings, the index shape (metapage, centroids, rotation), entries, pages
 * and walking a list.  Calls only the shared code in src (kmeans, rabitq,
 * kernels, amutils, vector), never the files above it.
 */
#include "postgres.h"

#include <math.h>

#include "access/generic_xlog.h"
#include "access/reloptions.h"
#include "commands/vacuum.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/indexfsm.h"
#include "storage/lmgr.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "../kernels.h"
#include "../kmeans.h"
#include "../vector.h"
#include "ivf.h"

/* ---------- options and settings ---------- */

int			ivfflat_probes = 1;
int			ivfflat_iterative_scan = IVF_ITERATIVE_OFF;
int			ivfflat_max_probes = IVF_MAX_LISTS;
int			ivfrabitq_probes = 10;
int			ivfrabitq_iterative_scan = IVF_ITERATIVE_OFF;
int			ivfrabitq_max_probes = IVF_MAX_LISTS;

static relopt_kind ivfflat_relopt_kind;
static relopt_kind ivfrabitq_relopt_kind;

typedef struct IvfOptions
{
	int32		vl_len_;
	int			lists;
} IvfOptions;

static const struct config_enum_entry iterative_options[] = {
	{"off", IVF_ITERATIVE_OFF, false},
	{"relaxed_order", IVF_ITERATIVE_RELAXED, false},
	{NULL, 0, false}
};

/* the same three settings under each access method's prefix */
static void
define_gucs(const char *am, int *probes, int probes_default, int *iterative, int *max_probes)
{
	DefineCustomIntVariable(psprintf("%s.probes", am), "Number of lists to probe",
							"Larger is more accurate and slower.",
							probes, probes_default, 1, IVF_MAX_LISTS,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomEnumVariable(psprintf("%s.iterative_scan", am),
							 "Probes more lists when filters reject results",
							 NULL, iterative, IVF_ITERATIVE_OFF, iterative_options,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable(psprintf("%s.max_probes", am),
							"Max number of lists an iterative scan probes",
							NULL, max_probes, IVF_MAX_LISTS, 1, IVF_MAX_LISTS,
							PGC_USERSET, 0, NULL, NULL, NULL);
#if PG_VERSION_NUM >= 150000
	MarkGUCPrefixReserved(am);
#else
	EmitWarningsOnPlaceholders(am);
#endif
}

void
ivf_init_gucs(void)
{
	ivfflat_relopt_kind = add_reloption_kind();
	add_int_reloption(ivfflat_relopt_kind, "lists", "Number of inverted lists",
					  IVF_DEFAULT_LISTS, 1, IVF_MAX_LISTS, AccessExclusiveLock);
	ivfrabitq_relopt_kind = add_reloption_kind();
	add_int_reloption(ivfrabitq_relopt_kind, "lists", "Number of inverted lists",
					  IVF_DEFAULT_LISTS, 1, IVF_MAX_LISTS, AccessExclusiveLock);

	define_gucs("ivfflat", &ivfflat_probes, 1, &ivfflat_iterative_scan, &ivfflat_max_probes);
	define_gucs("ivfrabitq", &ivfrabitq_probes, 10, &ivfrabitq_iterative_scan,
				&ivfrabitq_max_probes);
}

static bytea *
ivf_options(Datum reloptions, bool validate, relopt_kind kind)
{
	static const relopt_parse_elt tab[] = {
		{"lists", RELOPT_TYPE_INT, offsetof(IvfOptions, lists)},
	};

	return (bytea *) build_reloptions(reloptions, validate, kind,
									  sizeof(IvfOptions), tab, lengthof(tab));
}

bytea *
ivfflatoptions(Datum reloptions, bool validate)
{
	return ivf_options(reloptions, validate, ivfflat_relopt_kind);
}

bytea *
ivfrabitqoptions(Datum reloptions, bool validate)
{
	return ivf_options(reloptions, validate, ivfrabitq_relopt_kind);
}

int
ivf_options_lists(Relation index)
{
	IvfOptions *opts = (IvfOptions *) index->rd_options;

	return opts ? opts->lists : IVF_DEFAULT_LISTS;
}

/* which of the two access methods an index belongs to */
int
ivf_index_kind(Relation index)
{
	return index->rd_indam->amoptions == ivfrabitqoptions ? IVF_KIND_RABITQ : IVF_KIND_FLAT;
}

/* ---------- the metric: embed's distance function the opclass names ---------- */

/* the largest centroid set kept in rd_amcache; bigger ones are read per use */
#define IVF_SHAPE_CACHE_MAX	(64 * 1024 * 1024)

/*
 * The opclass through the type layer: a dense type (its values decode to
 * float32: vector, halfvec) under one of the metrics k-means and RaBitQ
 * work in, or (ivfflat only) bit strings under Hamming: they decode to 0/1
 * floats, where squared L2 is the Hamming distance, so k-means and the
 * nearest-list search work unchanged; the lists keep the bits themselves.
 */
static EmbedOpclass
ivf_opclass(Relation index)
{
	EmbedOpclass oc = embed_opclass_of(index_getprocinfo(index, 1, IVF_DISTANCE_PROC));

	if (oc.type != NULL && oc.type->to_float != NULL && oc.metric == EMBED_METRIC_HAMMING)
	{
		if (ivf_index_kind(index) != IVF_KIND_FLAT)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("ivfrabitq does not support the hamming distance"),
					 errhint("Use ivfflat or hnsw with bit_hamming_ops.")));
		return oc;
	}
	if (oc.type == NULL || !oc.type->dense ||
		(oc.metric != EMBED_METRIC_L2SQ && oc.metric != EMBED_METRIC_NEG_IP &&
		 oc.metric != EMBED_METRIC_COSINE))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("ivf indexes support the l2, inner product and cosine distances of dense types, and the hamming distance of bit strings (ivfflat)")));
	return oc;
}

int
ivf_metric(Relation index)
{
	switch (ivf_opclass(index).metric)
	{
		case EMBED_METRIC_L2SQ:
			return IVF_METRIC_L2;
		case EMBED_METRIC_NEG_IP:
			return IVF_METRIC_IP;
		case EMBED_METRIC_HAMMING:
			return IVF_METRIC_HAMMING;
		default:
			return IVF_METRIC_COSINE;
	}
}

/*
 * A value's components as float32: in place for vector, decoded (palloc'd)
 * for other dense types.  *dim gets its dimensions.
 */
const float *
ivf_value_floats(const EmbedType *type, Datum value, int *dim)
{
	const void *p = PG_DETOAST_DATUM(value);
	float	   *out;

	*dim = type->dims(p);
	if (type->float_view != NULL)
		return type->float_view(p);
	out = palloc(sizeof(float) * Max(*dim, 1));
	type->to_float(p, out);
	return out;
}

void
ivf_info(IvfInfo *info, Relation index, bool building)
{
	memset(info, 0, sizeof(*info));
	info->index = index;
	info->kind = ivf_index_kind(index);
	info->oc = ivf_opclass(index);
	info->metric = ivf_metric(index);
	info->distproc = index_getprocinfo(index, 1, IVF_DISTANCE_PROC);
	info->collation = index->rd_indcollation[0];
	info->building = building;
	if (!building)
		info->shape = ivf_shape(index);
}

/* the most dimensions an index of the metric takes (bits: 64,000) */
int
ivf_max_dim(int metric)
{
	return metric == IVF_METRIC_HAMMING ? embed_type_bit.max_index_dim : VECTOR_MAX_DIM;
}

/*
 * The on-disk version a new index of this kind and type is written with:
 * the lowest whose layout it has (see IVF_VERSION in ivf.h).  Only a flat
 * index on a dense type not stored as float32 (halfvec) differs between 1
 * and 2.
 */
uint32
ivf_build_version(int kind, const EmbedType *type)
{
	if (kind == IVF_KIND_FLAT && type->dense && type->float_view == NULL)
		return IVF_VERSION_PACKED_ENTRIES;
	return IVF_VERSION_FLOAT_ENTRIES;
}

/* do the flat entries hold float4 components rather than the packed form? */
bool
ivf_entries_decoded(const IvfMetaPageData *meta, const EmbedType *type)
{
	return meta->kind == IVF_KIND_FLAT && meta->version < IVF_VERSION_PACKED_ENTRIES &&
		type->dense && type->float_view == NULL;
}

/* the MAXALIGN'd size of every entry of an index (metapage and type) */
Size
ivf_entry_size(const IvfMetaPageData *meta, const EmbedType *type)
{
	if (meta->kind == IVF_KIND_RABITQ)
		return MAXALIGN(sizeof(IvfEntryData) + sizeof(RabitqFactors) +
						RABITQ_CODE_BYTES(meta->cdim));
	if (ivf_entries_decoded(meta, type))
		return MAXALIGN(sizeof(IvfEntryData) + sizeof(float) * meta->dim);
	return MAXALIGN(sizeof(IvfEntryData) + type->packed_size(meta->dim));
}

/* ---------- the shape: metapage, centroids, rotation ---------- */

void
ivf_read_meta(Relation index, IvfMetaPageData *meta)
{
	Buffer		buf = ReadBuffer(index, IVF_METAPAGE_BLKNO);
	Page		page;

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	if (IvfPageGetOpaque(page)->page_id != IVF_PAGE_ID ||
		IvfPageGetOpaque(page)->type != IVF_PAGE_META ||
		IvfPageGetMeta(page)->magic != IVF_MAGIC)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" is not a valid ivf index",
						RelationGetRelationName(index))));
	if (IvfPageGetMeta(page)->version < IVF_VERSION_FLOAT_ENTRIES ||
		IvfPageGetMeta(page)->version > IVF_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("ivf index \"%s\" has on-disk version %u, this build reads %u",
						RelationGetRelationName(index),
						IvfPageGetMeta(page)->version, IVF_VERSION),
				 errhint("REINDEX the index.")));
	memcpy(meta, IvfPageGetMeta(page), sizeof(IvfMetaPageData));
	UnlockReleaseBuffer(buf);

	if (meta->nlists < 1 || meta->nlists > IVF_MAX_LISTS ||
		meta->dim < 1 || meta->dim > ivf_max_dim(meta->metric) ||
		meta->cdim < meta->dim || meta->cdim > meta->dim + 64 ||
		(meta->kind != IVF_KIND_FLAT && meta->kind != IVF_KIND_RABITQ))
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("ivf index \"%s\" has a corrupt metapage",
						RelationGetRelationName(index)),
				 errhint("REINDEX the index.")));
}

/*
 * The shape is immutable after CREATE INDEX (a REINDEX or TRUNCATE makes a
 * new relfilenode and a relcache invalidation, which frees rd_amcache), so a
 * backend reads the centroid pages once.  rd_amcache is freed with a single
 * pfree: everything lives in one chunk.
 */
IvfShape *
ivf_shape(Relation index)
{
	IvfMetaPageData meta;
	IvfShape   *shape;
	Size		nfloats,
				cent_bytes,
				sign_bytes,
				total;
	char	   *chunk;
	float	   *dst;
	Size		left;
	BlockNumber blk;

	if (index->rd_amcache != NULL)
		return (IvfShape *) index->rd_amcache;

	ivf_read_meta(index, &meta);
	nfloats = (Size) meta.nlists * meta.cdim;
	cent_bytes = MAXALIGN(nfloats * sizeof(float));
	sign_bytes = meta.kind == IVF_KIND_RABITQ ? sizeof(float) * RABITQ_ROUNDS * meta.cdim : 0;
	total = MAXALIGN(sizeof(IvfShape)) + cent_bytes + sign_bytes +
		MAXALIGN(sizeof(float) * meta.nlists);

	if (total <= IVF_SHAPE_CACHE_MAX)
		chunk = MemoryContextAlloc(index->rd_indexcxt, total);
	else
		chunk = MemoryContextAllocHuge(CurrentMemoryContext, total);
	shape = (IvfShape *) chunk;
	shape->meta = meta;
	shape->centroids = (float *) (chunk + MAXALIGN(sizeof(IvfShape)));
	{
		const EmbedType *type = ivf_opclass(index).type;

		shape->entry_size = ivf_entry_size(&meta, type);
		shape->decoded = ivf_entries_decoded(&meta, type);
	}
	memset(&shape->rq, 0, sizeof(Rabitq));
	if (meta.kind == IVF_KIND_RABITQ)
	{
		/* the rotation is rebuilt from its seed into the chunk */
		Rabitq		tmp;

		rabitq_init(&tmp, meta.dim, meta.seed);
		if (tmp.pdim != meta.cdim)
			ereport(ERROR,
					(errcode(ERRCODE_INDEX_CORRUPTED),
					 errmsg("ivf index \"%s\" has a corrupt metapage",
							RelationGetRelationName(index))));
		shape->rq = tmp;
		shape->rq.signs = (float *) (chunk + MAXALIGN(sizeof(IvfShape)) + cent_bytes);
		memcpy(shape->rq.signs, tmp.signs, sign_bytes);
		pfree(tmp.signs);
	}

	/* centroid floats are a stream over consecutive pages */
	dst = shape->centroids;
	left = nfloats;
	blk = meta.cent_start;
	while (left > 0)
	{
		Buffer		buf = ReadBuffer(index, blk);
		Page		page;
		Size		n = Min(left, IVF_CENT_PER_PAGE);

		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		if (IvfPageGetOpaque(page)->type != IVF_PAGE_CENTROID ||
			((PageHeader) page)->pd_lower < SizeOfPageHeaderData + n * sizeof(float))
			ereport(ERROR,
					(errcode(ERRCODE_INDEX_CORRUPTED),
					 errmsg("ivf index \"%s\" has a corrupt centroid page %u",
							RelationGetRelationName(index), blk),
					 errhint("REINDEX the index.")));
		memcpy(dst, PageGetContents(page), n * sizeof(float));
		UnlockReleaseBuffer(buf);
		dst += n;
		left -= n;
		blk++;
	}

	/* squared norms, for nearest-centroid searches by inner products */
	shape->cnorms = (float *) (chunk + MAXALIGN(sizeof(IvfShape)) + cent_bytes + sign_bytes);
	kmeans_norms(shape->centroids, meta.nlists, meta.cdim, shape->cnorms);

	if (total <= IVF_SHAPE_CACHE_MAX)
		index->rd_amcache = chunk;
	return shape;
}

/* nearest centroid to x (in centroid space) by squared L2 */
int
ivf_nearest_list(IvfShape *shape, const float *x)
{
	return kmeans_nearest(x, shape->centroids, shape->cnorms, shape->meta.nlists,
						  shape->meta.cdim);
}

/*
 * A value as the index sees it, in `out` (cdim floats): unit length under
 * cosine, rotated under RaBitQ.  Returns false for a value the index skips
 * (a zero vector under cosine).  A value of another dimension is an error.
 */
bool
ivf_prepare(IvfInfo *info, Datum value, int dim, float *out)
{
	int			vdim;
	const float *x = ivf_value_floats(info->oc.type, value, &vdim);
	float	   *tmp;

	if (vdim != dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("expected %d dimensions, not %d", dim, vdim)));

	tmp = info->kind == IVF_KIND_RABITQ ? palloc(sizeof(float) * dim) : out;
	memcpy(tmp, x, sizeof(float) * dim);
	if (info->metric == IVF_METRIC_COSINE)
	{
		double		norm = embed_l2_normalize(tmp, dim);

		if (!(norm > 0) || isinf(norm))
			return false;
	}
	if (info->kind == IVF_KIND_RABITQ)
	{
		rabitq_rotate(&info->shape->rq, tmp, out);
		pfree(tmp);
	}
	return true;
}

/* the distance the opclass orders by, computed as its operator does */
double
ivf_exact_distance(int metric, const float *a, const float *b, int dim)
{
	switch (metric)
	{
		case IVF_METRIC_L2:
			return embed_l2sq(a, b, dim);
		case IVF_METRIC_IP:
			return -embed_dot(a, b, dim);
		default:
			return embed_cosine_distance(a, b, dim);
	}
}

/*
 * Fill an entry for heap row `tid` from the indexed value: the value in its
 * type's packed form (flat; float4 components in a version 1 index on
 * halfvec), or the RaBitQ code of x - centroid (x prepared, so already
 * rotated).  The value has the index's dimensions (ivf_prepare checked).
 */
void
ivf_make_entry(IvfInfo *info, const float *x, const float *centroid,
			   ItemPointer tid, Datum value, IvfEntry entry)
{
	IvfShape   *shape = info->shape;

	memset(entry, 0, shape->entry_size);
	entry->tid = *tid;
	if (info->kind == IVF_KIND_FLAT && shape->decoded)
	{
		int			dim;

		memcpy(IvfEntryPayload(entry), ivf_value_floats(info->oc.type, value, &dim),
			   sizeof(float) * shape->meta.dim);
	}
	else if (info->kind == IVF_KIND_FLAT)
	{
		const EmbedType *type = info->oc.type;

		memcpy(IvfEntryPayload(entry), type->packed(PG_DETOAST_DATUM(value)),
			   type->packed_size(shape->meta.dim));
	}
	else
	{
		int			pdim = shape->meta.cdim;
		float	   *r = palloc(sizeof(float) * pdim);
		RabitqFactors f;

		for (int i = 0; i < pdim; i++)
			r[i] = x[i] - centroid[i];
		entry->ones = (uint16) rabitq_encode(pdim, r,
											 (uint8 *) IvfEntryPayload(entry) + sizeof(RabitqFactors),
											 &f);
		memcpy(IvfEntryPayload(entry), &f, sizeof(RabitqFactors));
		pfree(r);
	}
}

/* ---------- pages ---------- */

/* A new page at the end of the relation, exclusively locked. */
Buffer
ivf_new_buffer(Relation index, ForkNumber fork)
{
	return embed_extend_relation(index, fork);
}

IvfListDir
ivf_read_dir(Relation index, IvfMetaPageData *meta, int list)
{
	BlockNumber blk = meta->dir_start + list / IVF_DIR_PER_PAGE;
	Buffer		buf = ReadBuffer(index, blk);
	Page		page;
	IvfListDir	dir;

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	if (IvfPageGetOpaque(page)->type != IVF_PAGE_DIRECTORY)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("ivf index \"%s\" has a corrupt directory page %u",
						RelationGetRelationName(index), blk),
				 errhint("REINDEX the index.")));
	dir = ((IvfListDir *) PageGetContents(page))[list % IVF_DIR_PER_PAGE];
	UnlockReleaseBuffer(buf);
	return dir;
}

/* A page reached through a list must be a list page; anything else is corruption. */
void
ivf_check_list_page(Relation index, Page page, BlockNumber blk)
{
	if (PageIsNew(page) ||
		IvfPageGetOpaque(page)->page_id != IVF_PAGE_ID ||
		IvfPageGetOpaque(page)->type != IVF_PAGE_LIST)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("ivf index \"%s\" has a corrupt list page %u",
						RelationGetRelationName(index), blk),
				 errhint("REINDEX the index.")));
}


/*
 * Walk a list's chain from page `blk`: each page is read, locked in `mode`
 * (BUFFER_LOCK_SHARE or BUFFER_LOCK_EXCLUSIVE), checked to be a list page
 * and handed to `visit`, which returns false to end the walk.  The next page
 * is read from the page while it is still locked, then the page is unlocked
 * and released before the next one is read: pointers into a page are good
 * only inside `visit` (which must copy what it keeps).  A VACUUM passes its
 * `vacinfo`, for its buffer strategy and cost-based delay (taken with the
 * page pinned but not locked); others pass NULL.
 */
void
ivf_walk_list(Relation index, BlockNumber blk, int mode, IndexVacuumInfo *vacinfo,
			  IvfPageVisitor visit, void *arg)
{
	while (BlockNumberIsValid(blk))
	{
		Buffer		buf = ReadBufferExtended(index, MAIN_FORKNUM, blk, RBM_NORMAL,
											 vacinfo ? vacinfo->strategy : NULL);
		BlockNumber next;
		bool		more;

		if (vacinfo)
			ivf_vacuum_delay();
		else
			CHECK_FOR_INTERRUPTS();
		LockBuffer(buf, mode);
		ivf_check_list_page(index, BufferGetPage(buf), blk);
		more = visit(index, buf, blk, arg);
		next = IvfPageGetOpaque(BufferGetPage(buf))->nextblkno;
		UnlockReleaseBuffer(buf);
		if (!more)
			break;
		blk = next;
	}
}
