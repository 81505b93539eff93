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
#include "utils/rel.h"

#include "hnsw.h"
#include "../vector.h"

/* ---------- relation-level info ---------- */

void
hnsw_index_info(HnswIndexInfo *info, Relation index, bool building)
{
	HnswMetaPageData meta;

	memset(info, 0, sizeof(*info));
	info->index = index;
	info->building = building;
	info->distproc = index_getprocinfo(index, 1, HNSW_DISTANCE_PROC);
	info->distkind = vector_distance_of(info->distproc);
	info->normproc = OidIsValid(index_getprocid(index, 1, HNSW_NORM_PROC))
		? index_getprocinfo(index, 1, HNSW_NORM_PROC) : NULL;
	info->collation = index->rd_indcollation[0];
	hnsw_read_meta(index, &meta);
	info->m = meta.m;
	info->ef_construction = meta.ef_construction;
}

/*
 * The opclass distance.  When the support function is one of embed's vector
 * distances and both values are plain vectors, the kernel is called
 * directly: the same result without an fmgr call per distance.
 */
double
hnsw_distance(HnswIndexInfo *info, Datum a, Datum b)
{
	double		d;

	if (info->distkind != VECTOR_DIST_OTHER &&
		vector_distance_direct((VectorDistance) info->distkind, a, b, &d))
		return d;
	return DatumGetFloat8(FunctionCall2Coll(info->distproc, info->collation, a, b));
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

void
hnsw_init_page(Page page, uint16 type)
{
	HnswPageOpaque op;

	PageInit(page, BLCKSZ, sizeof(HnswPageOpaqueData));
	op = HnswPageGetOpaque(page);
	op->nextblkno = InvalidBlockNumber;
	op->type = type;
	op->page_id = HNSW_PAGE_ID;
}

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
	return PointerGetDatum(out);
}

/* ---------- writing pages ---------- */

