/*
 * hnswcheck.c — the hnsw half of embed_index_check() (src/check.c).
 *
 * Why a separate walk rather than reusing the search: the search validates
 * only what it reads and treats oddities it can survive (a link to a freed
 * slot) as absent; a checker must visit every page and tell the states the
 * code can produce from those it cannot.  Only low-level helpers of hnsw.h
 * are used (page macros, the tuple layout), so the check does not depend on
 * how search and insert are organised.
 *
 * What is checked (the invariants, from README.md and the code that writes
 * the pages):
 *  - metapage: page id and type, magic, version, m and ef_construction in
 *    range, entry level -1 (empty graph) or 0..HNSW_MAX_LEVEL with an entry
 *    TID that, read after the walk, is an element of exactly that level
 *    (the entry is set only after its element is written and moved off an
 *    element before VACUUM frees it); the insert hint inside the relation.
 *  - every page: header bounds, special space size, page id, a known type
 *    (metapage only at block 0).  All-zero pages (an extension a crash cut
 *    short) are allowed.
 *  - element tuples: every used line pointer is a normal one inside the
 *    tuple space; level, flags (known bits, at most one compact form),
 *    heap TID count (<= HNSW_HEAPTIDS; a deleted element holds none and a
 *    live one at least one: VACUUM sets the flag exactly when it removes the
 *    last one); the tuple length is exactly the one form_element gives for
 *    its level, m and value size, and the value is overflowed exactly when
 *    it would not fit; link counts within the layer's slots; an inline
 *    value's own varlena length is the recorded one; an overflow chain is
 *    made of overflow pages inside the relation holding full chunks, its
 *    length adds up to the value size and it ends there (walked while the
 *    element's page stays share-locked, as hnsw_load_value does, so VACUUM
 *    cannot recycle it meanwhile).
 *  - links: inside the relation, never to the metapage, not to the element
 *    itself, no TID twice in one list.  A link may point at a slot VACUUM
 *    freed (an unused line pointer, a free or overflow page after
 *    recycling, an offset past the line pointers) or at another element
 *    that reused it: both are legal (README, Locking), so not checked.
 *  - overflow pages: a next block inside the relation.
 *
 * Reachability is a statistic, not corruption (a concurrent VACUUM or an
 * insert racing an entry-point change can leave a live element without a
 * path to it): after the walk, the elements reachable from the entry point
 * are marked, descending as the search does (an element reached through a
 * layer-l link is expanded on layers l..0), and the live ones left unmarked
 * are counted.  Links are re-read page by page for this, so a large index
 * costs one page read per element and no per-link memory.
 */
#include "postgres.h"

#include "access/itup.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "../check.h"
#include "hnsw.h"

#define HNSW_KNOWN_FLAGS \
	(HNSW_ELEMENT_DELETED | HNSW_ELEMENT_OVERFLOW | HNSW_ELEMENT_HALF | HNSW_ELEMENT_BYTE)

/* what the reachability pass needs of an element */
typedef struct HElem
{
	ItemPointerData tid;
	uint8		level;
	uint8		flags;
} HElem;

typedef struct HnswCheckState
{
	int			m;
	BlockNumber nblocks;		/* refreshed when a link points past it */
	HElem	   *elems;			/* in TID order: the walk goes block by block */
	int64		nelems;
	int64		maxelems;
	FmgrInfo   *normproc;
	Oid			collation;
} HnswCheckState;

static void
check_meta(EmbedCheck *c, HnswCheckState *st, Page page, HnswMetaPageData *meta)
{
	HnswPageOpaque op;

	if (PageIsNew(page))
		check_corrupt(c, "the metapage (block 0) is uninitialized");
	check_page_header(c, HNSW_METAPAGE_BLKNO, page, sizeof(HnswPageOpaqueData));
	op = HnswPageGetOpaque(page);
	if (op->page_id != HNSW_PAGE_ID || op->type != HNSW_PAGE_META)
		check_corrupt(c, "block 0 is not an hnsw metapage (page id 0x%04x, type %u)",
					  op->page_id, op->type);
	memcpy(meta, HnswPageGetMeta(page), sizeof(HnswMetaPageData));
	if (meta->magic != HNSW_MAGIC)
		check_corrupt(c, "the metapage has magic 0x%08x, expected 0x%08x", meta->magic, HNSW_MAGIC);
	if (meta->version != HNSW_VERSION)
		check_corrupt(c, "the metapage has on-disk version %u, this build reads %u",
					  meta->version, HNSW_VERSION);
	if (meta->m < HNSW_MIN_M || meta->m > HNSW_MAX_M)
		check_corrupt(c, "the metapage has m = %u, outside %d..%d", meta->m, HNSW_MIN_M, HNSW_MAX_M);
	if (meta->ef_construction < HNSW_MIN_EF_CONSTRUCTION ||
		meta->ef_construction > HNSW_MAX_EF_CONSTRUCTION)
		check_corrupt(c, "the metapage has ef_construction = %u, outside %d..%d",
					  meta->ef_construction, HNSW_MIN_EF_CONSTRUCTION, HNSW_MAX_EF_CONSTRUCTION);
	if (meta->entry_level < -1 || meta->entry_level > HNSW_MAX_LEVEL)
		check_corrupt(c, "the metapage has entry level %d, outside -1..%d",
					  meta->entry_level, HNSW_MAX_LEVEL);
	if (meta->entry_level >= 0)
	{
		BlockNumber eblk = ItemPointerGetBlockNumberNoCheck(&meta->entry);
		OffsetNumber eoff = ItemPointerGetOffsetNumberNoCheck(&meta->entry);

		st->nblocks = check_nblocks(c, eblk, st->nblocks);
		if (eblk == HNSW_METAPAGE_BLKNO || eblk >= st->nblocks ||
			eoff < FirstOffsetNumber || eoff > MaxIndexTuplesPerPage)
			check_corrupt(c, "the metapage's entry point (%u,%u) is outside the index (%u blocks)",
						  eblk, eoff, st->nblocks);
	}
	if (meta->insert_page != InvalidBlockNumber)
	{
		st->nblocks = check_nblocks(c, meta->insert_page, st->nblocks);
		if (meta->insert_page == HNSW_METAPAGE_BLKNO || meta->insert_page >= st->nblocks)
			check_corrupt(c, "the metapage's insert page %u is outside the index (%u blocks)",
						  meta->insert_page, st->nblocks);
	}
}

/*
 * Walk an element's overflow chain: full chunks of overflow pages inside the
 * relation, adding up to the value's size and ending there.  The caller
 * holds the element's page share-locked.
 */
static void
check_overflow_chain(EmbedCheck *c, HnswCheckState *st, BlockNumber eblk, OffsetNumber eoff,
					 BlockNumber first, uint32 vecsize)
{
	BlockNumber blk = first;
	Size		left = vecsize;
	BlockNumber npages = 0;

	while (left > 0)
	{
		Buffer		buf;
		Page		page;
		HnswPageOpaque op;
		Size		chunk;
		Size		want = Min(left, (Size) HNSW_OVERFLOW_CHUNK);
		BlockNumber next;

		if (blk == InvalidBlockNumber)
			check_corrupt(c, "element (%u,%u)'s overflow chain ends after %zu of its %u bytes",
						  eblk, eoff, vecsize - left, vecsize);
		st->nblocks = check_nblocks(c, blk, st->nblocks);
		if (blk == HNSW_METAPAGE_BLKNO || blk >= st->nblocks)
			check_corrupt(c, "element (%u,%u)'s overflow chain reaches block %u, outside the index (%u blocks)",
						  eblk, eoff, blk, st->nblocks);
		if (++npages > st->nblocks)
			check_corrupt(c, "element (%u,%u)'s overflow chain has a cycle", eblk, eoff);

		buf = ReadBufferExtended(c->index, MAIN_FORKNUM, blk, RBM_NORMAL, c->strategy);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		op = HnswPageGetOpaque(page);
		if (PageIsNew(page) || PageGetSpecialSize(page) != MAXALIGN(sizeof(HnswPageOpaqueData)) ||
			op->page_id != HNSW_PAGE_ID || op->type != HNSW_PAGE_OVERFLOW)
			check_corrupt(c, "element (%u,%u)'s overflow chain reaches block %u, which is not an overflow page",
						  eblk, eoff, blk);
		chunk = ((PageHeader) page)->pd_lower - SizeOfPageHeaderData;
		if (((PageHeader) page)->pd_lower < SizeOfPageHeaderData || chunk != want)
			check_corrupt(c, "overflow page %u of element (%u,%u) holds %zu bytes, expected %zu",
						  blk, eblk, eoff,
						  (Size) ((PageHeader) page)->pd_lower - Min(((PageHeader) page)->pd_lower, SizeOfPageHeaderData),
						  want);
		if (blk == first && chunk >= VARHDRSZ &&
			(VARATT_IS_EXTERNAL(PageGetContents(page)) ||
			 VARATT_IS_COMPRESSED(PageGetContents(page)) ||
			 VARSIZE_ANY(PageGetContents(page)) != vecsize))
			check_corrupt(c, "element (%u,%u)'s overflowed value does not have its recorded length %u",
						  eblk, eoff, vecsize);
		next = op->nextblkno;
		UnlockReleaseBuffer(buf);
		left -= chunk;
		if (left == 0 && next != InvalidBlockNumber)
			check_corrupt(c, "element (%u,%u)'s overflow chain goes on past its %u bytes (block %u links to %u)",
						  eblk, eoff, vecsize, blk, next);
		blk = next;
	}
}

/* One element tuple of a (locked or copied) element page. */
static void
check_element(EmbedCheck *c, HnswCheckState *st, BlockNumber blk, OffsetNumber off,
			  HnswElementTuple etup, Size len)
{
	int			m = st->m;
	Size		hdr;
	Size		expect;
	bool		overflow;
	bool		wants_overflow;
	uint16	   *counts;
	ItemPointer nbrs;
	HElem	   *e;

	if (len < MAXALIGN(sizeof(HnswElementTupleData)))
		check_corrupt(c, "element (%u,%u) is %zu bytes, shorter than an element header", blk, off, len);
	if (etup->level > HNSW_MAX_LEVEL)
		check_corrupt(c, "element (%u,%u) has level %u, above the maximum %d",
					  blk, off, etup->level, HNSW_MAX_LEVEL);
	if (etup->flags & ~HNSW_KNOWN_FLAGS)
		check_corrupt(c, "element (%u,%u) has unknown flags 0x%02x", blk, off, etup->flags);
	if ((etup->flags & HNSW_ELEMENT_FORM) == HNSW_ELEMENT_FORM)
		check_corrupt(c, "element (%u,%u) is flagged both half and byte", blk, off);
	if (etup->ntids > HNSW_HEAPTIDS)
		check_corrupt(c, "element (%u,%u) claims %u heap TIDs, it has room for %d",
					  blk, off, etup->ntids, HNSW_HEAPTIDS);
	if ((etup->flags & HNSW_ELEMENT_DELETED) && etup->ntids != 0)
		check_corrupt(c, "element (%u,%u) is flagged deleted but holds %u heap TIDs",
					  blk, off, etup->ntids);
	if (!(etup->flags & HNSW_ELEMENT_DELETED) && etup->ntids == 0)
		check_corrupt(c, "element (%u,%u) is live but holds no heap TID", blk, off);

	/* the exact length form_element gives this level, m and value */
	hdr = hnsw_tuple_header_size(etup->level, m);
	overflow = (etup->flags & HNSW_ELEMENT_OVERFLOW) != 0;
	wants_overflow = hdr + MAXALIGN((Size) etup->vecsize) > HNSW_MAX_ELEMENT_SIZE;
	if (overflow != wants_overflow)
		check_corrupt(c, "element (%u,%u) has a %u-byte value %s, which must %s",
					  blk, off, etup->vecsize,
					  overflow ? "on overflow pages" : "inline",
					  overflow ? "be inline" : "overflow");
	expect = hdr + (overflow ? MAXALIGN(sizeof(BlockNumber)) : MAXALIGN((Size) etup->vecsize));
	if (len != expect)
		check_corrupt(c, "element (%u,%u) is %zu bytes, its level %u and value size %u make %zu",
					  blk, off, len, etup->level, etup->vecsize, expect);
	if (etup->vecsize < hnsw_compact_header(etup->flags) +
		((etup->flags & HNSW_ELEMENT_HALF) ? sizeof(uint16) :
		 (etup->flags & HNSW_ELEMENT_BYTE) ? 1 : 0) ||
		((etup->flags & HNSW_ELEMENT_HALF) &&
		 (etup->vecsize - offsetof(HnswHalfValue, h)) % sizeof(uint16) != 0))
		check_corrupt(c, "element (%u,%u) has a value size %u that its form cannot have",
					  blk, off, etup->vecsize);

	counts = HnswCounts(etup);
	for (int l = 0; l <= etup->level; l++)
		if (counts[l] > hnsw_layer_slots(l, m))
			check_corrupt(c, "element (%u,%u) has %u links on layer %d, which has %d slots",
						  blk, off, counts[l], l, hnsw_layer_slots(l, m));

	/* the value */
	if (!overflow)
	{
		char	   *v = HnswValuePtr(etup, m);

		if (VARATT_IS_EXTERNAL(v) || VARATT_IS_COMPRESSED(v) ||
			VARSIZE_ANY(v) != etup->vecsize ||
			((etup->flags & HNSW_ELEMENT_FORM) && VARATT_IS_EXTENDED(v)))
			check_corrupt(c, "element (%u,%u)'s value does not have its recorded length %u",
						  blk, off, etup->vecsize);
	}
	else
	{
		BlockNumber first;

		memcpy(&first, HnswValuePtr(etup, m), sizeof(BlockNumber));
		check_overflow_chain(c, st, blk, off, first, etup->vecsize);
	}

	/* the links */
	nbrs = HnswNeighbors(etup, m);
	for (int l = 0; l <= etup->level; l++)
	{
		ItemPointer list = nbrs + hnsw_layer_start(l, m);

		for (int i = 0; i < counts[l]; i++)
		{
			BlockNumber nblk = ItemPointerGetBlockNumberNoCheck(&list[i]);
			OffsetNumber noff = ItemPointerGetOffsetNumberNoCheck(&list[i]);

			st->nblocks = check_nblocks(c, nblk, st->nblocks);
			if (nblk == HNSW_METAPAGE_BLKNO || nblk >= st->nblocks ||
				noff < FirstOffsetNumber || noff > MaxIndexTuplesPerPage)
				check_corrupt(c, "element (%u,%u) links to (%u,%u) on layer %d, which cannot hold an element (%u blocks)",
							  blk, off, nblk, noff, l, st->nblocks);
			if (nblk == blk && noff == off)
				check_corrupt(c, "element (%u,%u) links to itself on layer %d", blk, off, l);
			for (int j = 0; j < i; j++)
				if (ItemPointerEquals(&list[j], &list[i]))
					check_corrupt(c, "element (%u,%u) links to (%u,%u) twice on layer %d",
								  blk, off, nblk, noff, l);
		}
	}

	for (int i = 0; i < etup->ntids; i++)
		check_add_tid(c, &etup->heaptids[i], blk, off);

	if (st->nelems == st->maxelems)
	{
		st->maxelems *= 2;
		st->elems = repalloc_huge(st->elems, sizeof(HElem) * st->maxelems);
	}
	e = &st->elems[st->nelems++];
	ItemPointerSet(&e->tid, blk, off);
	e->level = etup->level;
	e->flags = etup->flags;
	c->tuples++;
}

/* One page of the walk, read under its share lock (kept while overflow chains are walked). */
static void
check_page(EmbedCheck *c, HnswCheckState *st, BlockNumber blk, char *copy)
{
	Buffer		buf = ReadBufferExtended(c->index, MAIN_FORKNUM, blk, RBM_NORMAL, c->strategy);
	Page		page = (Page) copy;
	HnswPageOpaque op;

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	memcpy(copy, BufferGetPage(buf), BLCKSZ);
	c->pages++;
	if (PageIsNew(page))
	{
		UnlockReleaseBuffer(buf);
		return;
	}
	check_page_header(c, blk, page, sizeof(HnswPageOpaqueData));
	op = HnswPageGetOpaque(page);
	if (op->page_id != HNSW_PAGE_ID)
		check_corrupt(c, "block %u has page id 0x%04x, not hnsw's 0x%04x", blk, op->page_id, HNSW_PAGE_ID);
	switch (op->type)
	{
		case HNSW_PAGE_ELEMENT:
			for (OffsetNumber off = FirstOffsetNumber; off <= PageGetMaxOffsetNumber(page); off++)
			{
				ItemId		iid = PageGetItemId(page, off);

				if (!ItemIdIsUsed(iid))
					continue;	/* a freed slot */
				if (!ItemIdIsNormal(iid))
					check_corrupt(c, "element page %u has a dead or redirect line pointer at offset %u",
								  blk, off);
				check_item_bounds(c, blk, page, off);
				check_element(c, st, blk, off, (HnswElementTuple) PageGetItem(page, iid),
							  ItemIdGetLength(iid));
			}
			break;
		case HNSW_PAGE_OVERFLOW:
			if (op->nextblkno != InvalidBlockNumber)
			{
				st->nblocks = check_nblocks(c, op->nextblkno, st->nblocks);
				if (op->nextblkno == HNSW_METAPAGE_BLKNO || op->nextblkno >= st->nblocks)
					check_corrupt(c, "overflow page %u links to block %u, outside the index (%u blocks)",
								  blk, op->nextblkno, st->nblocks);
			}
			break;
		case HNSW_PAGE_FREE:
			break;
		case HNSW_PAGE_META:
			check_corrupt(c, "block %u is a second metapage", blk);
			break;
		default:
			check_corrupt(c, "block %u has unknown page type %u", blk, op->type);
	}
	UnlockReleaseBuffer(buf);
}

static int
helem_cmp(const void *key, const void *elem)
{
	return ItemPointerCompare((ItemPointer) key, (ItemPointer) &((const HElem *) elem)->tid);
}

static int64
find_elem(HnswCheckState *st, ItemPointer tid)
{
	HElem	   *e = bsearch(tid, st->elems, st->nelems, sizeof(HElem), helem_cmp);

	return e == NULL ? -1 : e - st->elems;
}

/*
 * Read the element at `tid` under its page's share lock and copy its header
 * and counts (and, if `nbrs` is given, its links) out.  False if the slot
 * holds no element whose header adds up (a freed slot).
 */
static bool
read_element(EmbedCheck *c, HnswCheckState *st, ItemPointer tid, HnswElementTupleData *hdr,
			 uint16 *counts, ItemPointerData *nbrs)
{
	BlockNumber blk = ItemPointerGetBlockNumber(tid);
	OffsetNumber off = ItemPointerGetOffsetNumber(tid);
	Buffer		buf;
	Page		page;
	bool		found = false;

	if (blk >= RelationGetNumberOfBlocks(c->index))
		return false;
	buf = ReadBuffer(c->index, blk);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	if (!PageIsNew(page) &&
		PageGetSpecialSize(page) == MAXALIGN(sizeof(HnswPageOpaqueData)) &&
		HnswPageGetOpaque(page)->type == HNSW_PAGE_ELEMENT &&
		off >= FirstOffsetNumber && off <= PageGetMaxOffsetNumber(page))
	{
		ItemId		iid = PageGetItemId(page, off);
		HnswElementTuple etup = (HnswElementTuple) PageGetItem(page, iid);

		if (ItemIdIsNormal(iid) &&
			ItemIdGetLength(iid) >= MAXALIGN(sizeof(HnswElementTupleData)) &&
			etup->level <= HNSW_MAX_LEVEL && etup->ntids <= HNSW_HEAPTIDS &&
			ItemIdGetLength(iid) >= hnsw_tuple_header_size(etup->level, st->m))
		{
			memcpy(hdr, etup, sizeof(HnswElementTupleData));
			memcpy(counts, HnswCounts(etup), sizeof(uint16) * (etup->level + 1));
			if (nbrs != NULL)
				memcpy(nbrs, HnswNeighbors(etup, st->m),
					   sizeof(ItemPointerData) * hnsw_slots(etup->level, st->m));
			found = true;
		}
	}
	UnlockReleaseBuffer(buf);
	return found;
}

/* EmbedCheck.still_there: does the element at `loc` still hold `htid`? */
static bool
hnsw_still_there(EmbedCheck *c, ItemPointer loc, ItemPointer htid)
{
	HnswCheckState *st = c->am_state;
	HnswElementTupleData hdr;
	uint16		counts[HNSW_MAX_LEVEL + 1];

	if (!read_element(c, st, loc, &hdr, counts, NULL))
		return false;
	for (int i = 0; i < hdr.ntids; i++)
		if (ItemPointerEquals(&hdr.heaptids[i], htid))
			return true;
	return false;
}

/* EmbedCheck.skips_value: hnsw_insert_value does not index a zero-norm value */
static bool
hnsw_skips_value(EmbedCheck *c, Datum value)
{
	HnswCheckState *st = c->am_state;

	if (st->normproc == NULL)
		return false;
	value = PointerGetDatum(PG_DETOAST_DATUM(value));
	return DatumGetFloat8(FunctionCall1Coll(st->normproc, st->collation, value)) == 0;
}

/*
 * The entry point, read after the walk: an element of the entry level.  The
 * metapage is read again when it is not, and only an entry that stayed the
 * same is reported (VACUUM may move it off an element it then frees).
 */
static void
check_entry(EmbedCheck *c, HnswCheckState *st, HnswMetaPageData *meta)
{
	char	   *copy = palloc(BLCKSZ);

	for (int tries = 0; tries < 5; tries++)
	{
		HnswElementTupleData hdr;
		uint16		counts[HNSW_MAX_LEVEL + 1];
		HnswMetaPageData again;
		bool		found;

		if (meta->entry_level < 0)
			break;
		found = read_element(c, st, &meta->entry, &hdr, counts, NULL);
		if (found && hdr.level == meta->entry_level)
			break;
		check_read_page(c, HNSW_METAPAGE_BLKNO, copy);
		check_meta(c, st, (Page) copy, &again);
		if (again.entry_level == meta->entry_level &&
			ItemPointerEquals(&again.entry, &meta->entry))
		{
			if (!found)
				check_corrupt(c, "the metapage's entry point (%u,%u) is not an element",
							  ItemPointerGetBlockNumber(&meta->entry),
							  ItemPointerGetOffsetNumber(&meta->entry));
			check_corrupt(c, "the metapage's entry point (%u,%u) has level %u, the metapage says %d",
						  ItemPointerGetBlockNumber(&meta->entry),
						  ItemPointerGetOffsetNumber(&meta->entry), hdr.level, meta->entry_level);
		}
		*meta = again;
	}
	pfree(copy);
}

/* Live elements that no descent from the entry point reaches (see the top). */
static int64
count_unreachable(EmbedCheck *c, HnswCheckState *st, HnswMetaPageData *meta)
{
	int8	   *reach;			/* highest layer an element was reached on, -1 none */
	int8	   *done;			/* highest layer it was expanded on */
	int64	   *stack;
	int64		nstack = 0;
	int64		maxstack;
	int64		start;
	int64		unreachable = 0;
	ItemPointerData *nbrs = palloc(sizeof(ItemPointerData) * hnsw_slots(HNSW_MAX_LEVEL, st->m));

	if (meta->entry_level < 0)
		start = -1;
	else
		start = find_elem(st, &meta->entry);
	if (start < 0)
	{
		/* an empty graph, or an entry newer than the walk: count what is live */
		for (int64 i = 0; i < st->nelems; i++)
			if (!(st->elems[i].flags & HNSW_ELEMENT_DELETED))
				unreachable++;
		return meta->entry_level < 0 ? unreachable : -1;
	}

	reach = palloc_extended(Max(st->nelems, 1), MCXT_ALLOC_HUGE);
	done = palloc_extended(Max(st->nelems, 1), MCXT_ALLOC_HUGE);
	memset(reach, -1, st->nelems);
	memset(done, -1, st->nelems);
	maxstack = 1024;
	stack = palloc(sizeof(int64) * maxstack);
	reach[start] = (int8) Min(meta->entry_level, st->elems[start].level);
	stack[nstack++] = start;

	while (nstack > 0)
	{
		int64		i = stack[--nstack];
		HnswElementTupleData hdr;
		uint16		counts[HNSW_MAX_LEVEL + 1];
		int			top;

		CHECK_FOR_INTERRUPTS();
		if (done[i] >= reach[i])
			continue;
		if (!read_element(c, st, &st->elems[i].tid, &hdr, counts, nbrs) ||
			hdr.level != st->elems[i].level)
		{
			done[i] = reach[i];	/* freed or replaced since the walk */
			continue;
		}
		top = Min(reach[i], hdr.level);
		for (int l = done[i] + 1; l <= top; l++)
		{
			ItemPointer list = nbrs + hnsw_layer_start(l, st->m);
			int			n = Min(counts[l], hnsw_layer_slots(l, st->m));

			for (int k = 0; k < n; k++)
			{
				int64		j = find_elem(st, &list[k]);

				if (j < 0 || reach[j] >= l)
					continue;
				reach[j] = (int8) l;
				if (nstack == maxstack)
				{
					maxstack *= 2;
					stack = repalloc_huge(stack, sizeof(int64) * maxstack);
				}
				stack[nstack++] = j;
			}
		}
		done[i] = reach[i];
	}

	for (int64 i = 0; i < st->nelems; i++)
		if (reach[i] < 0 && !(st->elems[i].flags & HNSW_ELEMENT_DELETED))
			unreachable++;
	pfree(reach);
	pfree(done);
	pfree(stack);
	pfree(nbrs);
	return unreachable;
}

void
hnsw_check(EmbedCheck *c)
{
	HnswCheckState *st = palloc0(sizeof(HnswCheckState));
	HnswMetaPageData meta;
	char	   *copy = palloc(BLCKSZ);
	BlockNumber nblocks;

	c->am_state = st;
	c->still_there = hnsw_still_there;
	c->skips_value = hnsw_skips_value;
	st->collation = c->index->rd_indcollation[0];
	if (OidIsValid(index_getprocid(c->index, 1, HNSW_NORM_PROC)))
		st->normproc = index_getprocinfo(c->index, 1, HNSW_NORM_PROC);

	nblocks = st->nblocks = RelationGetNumberOfBlocks(c->index);
	if (nblocks == 0)
		check_corrupt(c, "the index has no metapage (0 blocks)");
	check_read_page(c, HNSW_METAPAGE_BLKNO, copy);
	c->pages++;
	check_meta(c, st, (Page) copy, &meta);
	st->m = meta.m;
	st->maxelems = 1024;
	st->elems = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(HElem) * st->maxelems);

	/* pages added after this count hold only rows newer than the heap check's snapshot */
	for (BlockNumber blk = HNSW_METAPAGE_BLKNO + 1; blk < nblocks; blk++)
	{
		CHECK_FOR_INTERRUPTS();
		check_page(c, st, blk, copy);
	}

	check_entry(c, st, &meta);
	c->unreachable = count_unreachable(c, st, &meta);
	pfree(copy);
}
