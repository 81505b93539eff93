/*
 * ivfcheck.c — the ivfflat / ivfrabitq half of embed_index_check()
 * (src/check.c).
 *
 * Why a separate walk: scans read only the lists they probe and trust the
 * directory; a checker reads every page and checks the layout CREATE INDEX
 * and inserts produce (README.md, On-disk layout), using only ivf.h's page
 * macros and the metapage layout, so it does not depend on how build, scan
 * or k-means are organised.
 *
 * What is checked:
 *  - metapage: page id and type, magic, version (1 or 2), kind matching the access
 *    method, metric matching the opclass, list count and dimensions in
 *    range, centroid dimension (the dimension for flat, rounded up to 64 for
 *    RaBitQ), the fixed skeleton CREATE INDEX writes (directory from block
 *    1, centroids right after, one head page per list right after them) and
 *    that it fits the relation.
 *  - directory pages: type, pd_lower covering their entries; each list's
 *    head is its skeleton block; its insert hint is a page of its chain
 *    (hints only ever move to pages already chained, and pages never leave
 *    a chain, so a hint read before the walk is on the chain walked after).
 *  - centroid pages: type, pd_lower covering their floats, every float
 *    finite.
 *  - each list's chain: inside the list pages, no cycle and no page on two
 *    chains (the walk is bounded by the relation size), every page a list
 *    page, every line pointer normal (VACUUM compacts with
 *    PageIndexMultiDelete) and inside the tuple space, every entry of the
 *    index's entry size (the type's packed form for flat entries, float4
 *    for halfvec at on-disk version 1), a valid heap TID, finite components
 *    (float4 or binary16), zero pad bits for bit strings, and for RaBitQ a
 *    bit count equal to the code's and factors in range (|r| >= 0,
 *    0 < <x, r> <= 1).
 *  - pages past the skeleton on no chain (an insert's new page not yet
 *    linked, or one a crash left behind) must be list pages or all zeros.
 */
#include "postgres.h"

#include <math.h>

#include "miscadmin.h"
#include "port/pg_bitutils.h"
#include "storage/bufmgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/varbit.h"

#include "../check.h"
#include "../kernels.h"
#include "../vector.h"
#include "ivf.h"

typedef struct IvfCheckState
{
	IvfMetaPageData meta;
	const EmbedType *type;		/* the opclass's */
	bool		decoded;		/* flat entries of float4 (version 1 halfvec) */
	Size		entry_size;
	BlockNumber nblocks;
} IvfCheckState;

static void
check_page_common(EmbedCheck *c, BlockNumber blk, Page page, uint16 type, const char *what)
{
	IvfPageOpaque op;

	if (PageIsNew(page))
		check_corrupt(c, "%s %u is uninitialized", what, blk);
	check_page_header(c, blk, page, sizeof(IvfPageOpaqueData));
	op = IvfPageGetOpaque(page);
	if (op->page_id != IVF_PAGE_ID || op->type != type)
		check_corrupt(c, "%s %u has page id 0x%04x and type %u, expected 0x%04x and %u",
					  what, blk, op->page_id, op->type, IVF_PAGE_ID, type);
}

static void
check_meta(EmbedCheck *c, IvfCheckState *st, Page page)
{
	IvfMetaPageData *meta = &st->meta;
	int			kind = ivf_index_kind(c->index);
	int			ndir;
	int64		nfloats;

	check_page_common(c, IVF_METAPAGE_BLKNO, page, IVF_PAGE_META, "metapage");
	memcpy(meta, IvfPageGetMeta(page), sizeof(IvfMetaPageData));
	if (meta->magic != IVF_MAGIC)
		check_corrupt(c, "the metapage has magic 0x%08x, expected 0x%08x", meta->magic, IVF_MAGIC);
	if (meta->version < IVF_VERSION_FLOAT_ENTRIES || meta->version > IVF_VERSION)
		check_corrupt(c, "the metapage has on-disk version %u, this build reads %u to %u",
					  meta->version, IVF_VERSION_FLOAT_ENTRIES, IVF_VERSION);
	if (meta->kind != kind)
		check_corrupt(c, "the metapage has entry kind %u, the access method's is %d", meta->kind, kind);
	if (meta->metric != ivf_metric(c->index))
		check_corrupt(c, "the metapage has metric %u, the opclass's is %d",
					  meta->metric, ivf_metric(c->index));
	if (meta->nlists < 1 || meta->nlists > IVF_MAX_LISTS)
		check_corrupt(c, "the metapage has %d lists, outside 1..%d", meta->nlists, IVF_MAX_LISTS);
	if (meta->dim < 1 || meta->dim > ivf_max_dim(meta->metric))
		check_corrupt(c, "the metapage has %d dimensions, outside 1..%d", meta->dim,
					  ivf_max_dim(meta->metric));
	if (meta->cdim != (kind == IVF_KIND_RABITQ ? (meta->dim + 63) / 64 * 64 : meta->dim))
		check_corrupt(c, "the metapage has centroid dimension %d for %d dimensions",
					  meta->cdim, meta->dim);
	st->type = embed_opclass_of(index_getprocinfo(c->index, 1, IVF_DISTANCE_PROC)).type;
	st->decoded = ivf_entries_decoded(meta, st->type);
	st->entry_size = ivf_entry_size(meta, st->type);
	if (st->entry_size > IVF_PAGE_SPACE - sizeof(ItemIdData))
		check_corrupt(c, "the metapage's dimensions make %zu-byte entries, more than a page holds",
					  st->entry_size);

	ndir = (meta->nlists + IVF_DIR_PER_PAGE - 1) / IVF_DIR_PER_PAGE;
	nfloats = (int64) meta->nlists * meta->cdim;
	if (meta->dir_start != IVF_METAPAGE_BLKNO + 1 ||
		meta->cent_start != meta->dir_start + ndir ||
		meta->cent_pages != (nfloats + IVF_CENT_PER_PAGE - 1) / IVF_CENT_PER_PAGE)
		check_corrupt(c, "the metapage places the directory at %u and %u centroid pages at %u, expected %u, %u and %u",
					  meta->dir_start, meta->cent_pages, meta->cent_start,
					  IVF_METAPAGE_BLKNO + 1, (uint32) ((nfloats + IVF_CENT_PER_PAGE - 1) / IVF_CENT_PER_PAGE),
					  IVF_METAPAGE_BLKNO + 1 + ndir);
	if ((int64) meta->cent_start + meta->cent_pages + meta->nlists > st->nblocks)
		check_corrupt(c, "the metapage's skeleton (%u blocks) does not fit the index (%u blocks)",
					  meta->cent_start + meta->cent_pages + meta->nlists, st->nblocks);
}

static void
check_entry(EmbedCheck *c, IvfCheckState *st, BlockNumber blk, OffsetNumber off, IvfEntry e)
{
	IvfMetaPageData *meta = &st->meta;

	if (meta->kind == IVF_KIND_FLAT && meta->metric == IVF_METRIC_HAMMING)
	{
		/* bit strings: the pad bits past the last one are zero */
		int			nbytes = (meta->dim + BITS_PER_BYTE - 1) / BITS_PER_BYTE;
		uint8		last = ((uint8 *) IvfEntryPayload(e))[nbytes - 1];
		int			pad = nbytes * BITS_PER_BYTE - meta->dim;

		if (pad > 0 && (last & ((1 << pad) - 1)) != 0)
			check_corrupt(c, "entry (%u,%u) has bits set past bit %d", blk, off, meta->dim);
	}
	else if (meta->kind == IVF_KIND_FLAT && (st->decoded || st->type->float_view != NULL))
	{
		/* float4 components: vector, or halfvec in a version 1 index */
		float	   *x = (float *) IvfEntryPayload(e);

		for (int i = 0; i < meta->dim; i++)
			if (!isfinite(x[i]))
				check_corrupt(c, "entry (%u,%u) has a non-finite component %d", blk, off, i);
	}
	else if (meta->kind == IVF_KIND_FLAT && st->type == &embed_type_halfvec)
	{
		/* binary16 components (halfvec): an all-ones exponent is not finite */
		const uint16 *h = (const uint16 *) IvfEntryPayload(e);

		for (int i = 0; i < meta->dim; i++)
			if ((h[i] & 0x7C00) == 0x7C00)
				check_corrupt(c, "entry (%u,%u) has a non-finite component %d", blk, off, i);
	}
	else if (meta->kind == IVF_KIND_RABITQ)
	{
		RabitqFactors f;
		const char *code = IvfEntryPayload(e) + sizeof(RabitqFactors);
		uint64		ones;

		memcpy(&f, IvfEntryPayload(e), sizeof(RabitqFactors));
		ones = pg_popcount(code, RABITQ_CODE_BYTES(meta->cdim));
		if (ones != e->ones)
			check_corrupt(c, "entry (%u,%u) records %u bits set, its code has %u",
						  blk, off, e->ones, (unsigned) ones);
		if (!isfinite(f.norm) || f.norm < 0 || !isfinite(f.xo) || !(f.xo > 0) || f.xo > 1.001f)
			check_corrupt(c, "entry (%u,%u) has factors |r| = %g, <x, r> = %g out of range",
						  blk, off, f.norm, f.xo);
	}
	check_add_tid(c, &e->tid, blk, off);
	c->tuples++;
}

/* A list page (copy): type, line pointers, entries. */
static void
check_list_page(EmbedCheck *c, IvfCheckState *st, BlockNumber blk, Page page, int list)
{
	char		what[64];

	snprintf(what, sizeof(what), "list %d's page", list);
	check_page_common(c, blk, page, IVF_PAGE_LIST, what);
	for (OffsetNumber off = FirstOffsetNumber; off <= PageGetMaxOffsetNumber(page); off++)
	{
		ItemId		iid = PageGetItemId(page, off);

		if (!ItemIdIsNormal(iid))
			check_corrupt(c, "list page %u has a line pointer that is not normal at offset %u", blk, off);
		check_item_bounds(c, blk, page, off);
		if (ItemIdGetLength(iid) != st->entry_size)
			check_corrupt(c, "entry (%u,%u) is %u bytes, the index's entries are %zu",
						  blk, off, ItemIdGetLength(iid), st->entry_size);
		check_entry(c, st, blk, off, (IvfEntry) PageGetItem(page, iid));
	}
}

/* EmbedCheck.still_there: does list page loc's block still hold htid? (VACUUM compacts pages) */
static bool
ivf_still_there(EmbedCheck *c, ItemPointer loc, ItemPointer htid)
{
	IvfCheckState *st = c->am_state;
	Buffer		buf = ReadBuffer(c->index, ItemPointerGetBlockNumber(loc));
	Page		page;
	bool		found = false;

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	if (!PageIsNew(page) &&
		PageGetSpecialSize(page) == MAXALIGN(sizeof(IvfPageOpaqueData)) &&
		IvfPageGetOpaque(page)->type == IVF_PAGE_LIST)
	{
		for (OffsetNumber off = FirstOffsetNumber; off <= PageGetMaxOffsetNumber(page) && !found; off++)
		{
			ItemId		iid = PageGetItemId(page, off);

			if (ItemIdIsNormal(iid) && ItemIdGetLength(iid) == st->entry_size &&
				ItemPointerEquals(&((IvfEntry) PageGetItem(page, iid))->tid, htid))
				found = true;
		}
	}
	UnlockReleaseBuffer(buf);
	return found;
}

/* EmbedCheck.skips_value: ivf_prepare skips a value without a direction under cosine */
static bool
ivf_skips_value(EmbedCheck *c, Datum value)
{
	IvfCheckState *st = c->am_state;
	const float *x;
	int			dim;
	double		norm;

	if (st->meta.metric != IVF_METRIC_COSINE)
		return false;
	x = ivf_value_floats(st->type, value, &dim);
	norm = embed_norm(x, dim);
	return !(norm > 0) || isinf(norm);
}

void
ivf_check(EmbedCheck *c)
{
	IvfCheckState *st = palloc0(sizeof(IvfCheckState));
	IvfMetaPageData *meta = &st->meta;
	char	   *copy = palloc(BLCKSZ);
	Page		page = (Page) copy;
	IvfListDir *dirs;
	int32	   *owner;			/* list whose chain holds the block, -1: none yet */
	BlockNumber nowner;
	BlockNumber list_start;
	BlockNumber nblocks;
	int64		left;

	c->am_state = st;
	c->still_there = ivf_still_there;
	c->skips_value = ivf_skips_value;

	nblocks = st->nblocks = RelationGetNumberOfBlocks(c->index);
	if (nblocks == 0)
		check_corrupt(c, "the index has no metapage (0 blocks)");
	check_read_page(c, IVF_METAPAGE_BLKNO, copy);
	c->pages++;
	check_meta(c, st, page);
	list_start = meta->cent_start + meta->cent_pages;

	/* directory */
	dirs = palloc(sizeof(IvfListDir) * meta->nlists);
	for (int d = 0; d * (int) IVF_DIR_PER_PAGE < meta->nlists; d++)
	{
		BlockNumber blk = meta->dir_start + d;
		int			n = Min((int) IVF_DIR_PER_PAGE, meta->nlists - d * (int) IVF_DIR_PER_PAGE);

		check_read_page(c, blk, copy);
		c->pages++;
		check_page_common(c, blk, page, IVF_PAGE_DIRECTORY, "directory page");
		if (((PageHeader) page)->pd_lower < SizeOfPageHeaderData + n * sizeof(IvfListDir))
			check_corrupt(c, "directory page %u's pd_lower %u does not cover its %d entries",
						  blk, ((PageHeader) page)->pd_lower, n);
		memcpy(dirs + d * IVF_DIR_PER_PAGE, PageGetContents(page), n * sizeof(IvfListDir));
	}

	/* centroids */
	left = (int64) meta->nlists * meta->cdim;
	for (BlockNumber p = 0; p < meta->cent_pages; p++)
	{
		BlockNumber blk = meta->cent_start + p;
		int			n = (int) Min(left, (int64) IVF_CENT_PER_PAGE);
		float	   *x;

		CHECK_FOR_INTERRUPTS();
		check_read_page(c, blk, copy);
		c->pages++;
		check_page_common(c, blk, page, IVF_PAGE_CENTROID, "centroid page");
		if (((PageHeader) page)->pd_lower < SizeOfPageHeaderData + n * sizeof(float))
			check_corrupt(c, "centroid page %u's pd_lower %u does not cover its %d floats",
						  blk, ((PageHeader) page)->pd_lower, n);
		x = (float *) PageGetContents(page);
		for (int i = 0; i < n; i++)
			if (!isfinite(x[i]))
				check_corrupt(c, "centroid page %u holds a non-finite float at position %d", blk, i);
		left -= n;
	}

	/* the lists' chains */
	nowner = nblocks;
	owner = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int32) * nowner);
	memset(owner, -1, sizeof(int32) * nowner);
	for (int l = 0; l < meta->nlists; l++)
	{
		BlockNumber blk = dirs[l].head;
		bool		insert_seen = false;

		if (dirs[l].head != list_start + l)
			check_corrupt(c, "list %d's head is block %u, expected %u", l, dirs[l].head, list_start + l);
		while (blk != InvalidBlockNumber)
		{
			CHECK_FOR_INTERRUPTS();
			st->nblocks = check_nblocks(c, blk, st->nblocks);
			if (blk < list_start || blk >= st->nblocks)
				check_corrupt(c, "list %d's chain reaches block %u, outside the list pages (%u..%u)",
							  l, blk, list_start, st->nblocks - 1);
			if (blk >= nowner)
			{
				BlockNumber n = Max(st->nblocks, nowner * 2);

				owner = repalloc_huge(owner, sizeof(int32) * n);
				memset(owner + nowner, -1, sizeof(int32) * (n - nowner));
				nowner = n;
			}
			if (owner[blk] == l)
				check_corrupt(c, "list %d's chain has a cycle through block %u", l, blk);
			if (owner[blk] >= 0)
				check_corrupt(c, "block %u is on the chains of lists %d and %d", blk, owner[blk], l);
			owner[blk] = l;
			if (blk == dirs[l].insert)
				insert_seen = true;
			check_read_page(c, blk, copy);
			c->pages++;
			check_list_page(c, st, blk, page, l);
			blk = IvfPageGetOpaque(page)->nextblkno;
		}
		if (!insert_seen)
			check_corrupt(c, "list %d's insert page %u is not on its chain", l, dirs[l].insert);
	}

	/* pages on no chain: a new page not linked yet, or one a crash left */
	for (BlockNumber blk = list_start; blk < nblocks; blk++)
	{
		if (owner[blk] >= 0)
			continue;
		CHECK_FOR_INTERRUPTS();
		check_read_page(c, blk, copy);
		c->pages++;
		if (PageIsNew(page))
			continue;
		check_page_header(c, blk, page, sizeof(IvfPageOpaqueData));
		if (IvfPageGetOpaque(page)->page_id != IVF_PAGE_ID ||
			IvfPageGetOpaque(page)->type != IVF_PAGE_LIST)
			check_corrupt(c, "block %u (page id 0x%04x, type %u) is among the list pages but not a list page",
						  blk, IvfPageGetOpaque(page)->page_id, IvfPageGetOpaque(page)->type);
	}

	pfree(owner);
	pfree(dirs);
	pfree(copy);
}
