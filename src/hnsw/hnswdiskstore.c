/*
 * hnswdiskstore.c — the graph on the index's pages, as an HnswStore.
 *
 * Why a file of its own: the search and insert code used to hold an on-disk
 * branch next to every in-memory one.  Here is everything they need from the
 * pages: reading an element under its page's share lock, changing one under
 * an exclusive lock with one generic WAL record per change, placing a new
 * element (and its overflow pages), the entry point on the metapage, and the
 * locks that serialize first and new-top inserts.
 *
 * The rule for every read (README, "Locking"): a pointer into a page is used
 * only while its buffer is pinned and locked.  read() hands the caller the
 * element under the lock, and release() drops the lock and the pin together,
 * so whatever the caller keeps it has copied before; write() locks the page
 * afresh and gives the caller the element as it is now, to check again.
 * Only one page is locked at a time, except the element page held while its
 * overflow pages are read (hnsw_load_value) and the metapage held by the
 * first insert into an empty graph while it places its element.
 */
#include "postgres.h"

#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "utils/rel.h"

#include "hnswstore.h"
#include "../bufhint.h"

typedef struct HnswDiskStore
{
	HnswStore	base;
	Buffer		metabuf;		/* held exclusively by a first insert, else Invalid */
	bool		top;			/* holding the new-top page lock */
} HnswDiskStore;

static bool
disk_read(HnswStore *st, ItemPointer tid, int layer, int flags, HnswHeld *h)
{
	Relation	index = st->info->index;
	int			m = st->info->m;
	Buffer		buf = embed_read_buffer(index, ItemPointerGetBlockNumber(tid));
	HnswElementTuple etup;

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	etup = hnsw_get_element(index, BufferGetPage(buf), ItemPointerGetOffsetNumber(tid), m);
	if (etup == NULL || etup->level < layer)
	{
		UnlockReleaseBuffer(buf);
		return false;
	}
	h->buf = buf;
	h->etup = etup;
	h->must_release = true;
	h->verdicts = NULL;
	h->writing = false;
	h->free_value = false;
	h->value = (Datum) 0;
	if (!(flags & HNSW_READ_NO_VALUE))
	{
		bool		keep = (flags & HNSW_READ_KEEP_VALUE) != 0;

		h->value = hnsw_load_value(index, etup, m, keep);
		/* an overflowed value was read into memory of its own */
		h->free_value = !keep && DatumGetPointer(h->value) != HnswValuePtr(etup, m);
	}
	return true;
}

static HnswElementTuple
disk_write(HnswStore *st, ItemPointer tid, HnswHeld *h)
{
	Relation	index = st->info->index;
	Buffer		buf = ReadBuffer(index, ItemPointerGetBlockNumber(tid));
	Page		page;
	HnswElementTuple etup;

	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	hnsw_write_begin(&h->w, st->info);
	page = page_write_page(&h->w, buf, false);
	etup = hnsw_get_element(index, page, ItemPointerGetOffsetNumber(tid), st->info->m);
	if (etup == NULL)
	{
		page_write_abort(&h->w);
		UnlockReleaseBuffer(buf);
		return NULL;
	}
	h->buf = buf;
	h->etup = etup;
	h->value = (Datum) 0;
	h->must_release = true;
	h->verdicts = NULL;
	h->writing = true;
	h->free_value = false;
	return etup;
}

static void
disk_release(HnswStore *st, HnswHeld *h, bool changed)
{
	if (h->writing)
	{
		if (changed)
			page_write_finish(&h->w);
		else
			page_write_abort(&h->w);
	}
	else if (h->free_value)
		pfree(DatumGetPointer(h->value));
	h->etup = NULL;
	UnlockReleaseBuffer(h->buf);
}

/* Write a large value to a chain of fresh overflow pages; returns the first. */
static BlockNumber
write_overflow(HnswIndexInfo *info, const char *data, Size len)
{
	int			npages = (len + HNSW_OVERFLOW_CHUNK - 1) / HNSW_OVERFLOW_CHUNK;
	Buffer	   *bufs = palloc(sizeof(Buffer) * npages);
	BlockNumber first;

	/* new pages are unreachable until the element points at them */
	for (int i = 0; i < npages; i++)
		bufs[i] = hnsw_new_buffer(info->index, MAIN_FORKNUM);
	first = BufferGetBlockNumber(bufs[0]);
	for (int i = 0; i < npages; i++)
	{
		PageWrite	w;
		Page		page;
		Size		chunk = Min(len - (Size) i * HNSW_OVERFLOW_CHUNK, HNSW_OVERFLOW_CHUNK);

		hnsw_write_begin(&w, info);
		page = page_write_page(&w, bufs[i], true);
		hnsw_init_page(page, HNSW_PAGE_OVERFLOW);
		memcpy(PageGetContents(page), data + (Size) i * HNSW_OVERFLOW_CHUNK, chunk);
		((PageHeader) page)->pd_lower = SizeOfPageHeaderData + chunk;
		HnswPageGetOpaque(page)->nextblkno =
			(i + 1 < npages) ? BufferGetBlockNumber(bufs[i + 1]) : InvalidBlockNumber;
		page_write_finish(&w);
		UnlockReleaseBuffer(bufs[i]);
	}
	return first;
}

/*
 * Put the tuple on the insert page or on a new page; *tid receives its place.
 * The metapage is read alone, or, when a first insert holds it exclusively
 * (begin_turn), used as it is: metapage then data page, and nobody locks
 * them the other way round.
 */
static void
disk_add(HnswStore *st, HnswElementTuple etup, Size size, Datum value, ItemPointer tid)
{
	HnswIndexInfo *info = st->info;
	Relation	index = info->index;
	Buffer		metabuf = ((HnswDiskStore *) st)->metabuf;
	BlockNumber hint;
	Buffer		buf = InvalidBuffer;
	PageWrite	w;
	Page		page;
	OffsetNumber off;
	bool		extended = false;

	if (etup->flags & HNSW_ELEMENT_OVERFLOW)
	{
		BlockNumber first = write_overflow(info, DatumGetPointer(value),
										   VARSIZE_ANY(DatumGetPointer(value)));

		memcpy(HnswValuePtr(etup, info->m), &first, sizeof(BlockNumber));
	}

	if (BufferIsValid(metabuf))
		hint = HnswPageGetMeta(BufferGetPage(metabuf))->insert_page;
	else
	{
		HnswMetaPageData meta;

		hnsw_read_meta(index, &meta);
		hint = meta.insert_page;
	}
	if (hint != InvalidBlockNumber)
	{
		buf = ReadBuffer(index, hint);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		if (HnswPageGetOpaque(BufferGetPage(buf))->type != HNSW_PAGE_ELEMENT ||
			PageGetFreeSpace(BufferGetPage(buf)) < size)
		{
			UnlockReleaseBuffer(buf);
			buf = InvalidBuffer;
		}
	}
	if (!BufferIsValid(buf))
	{
		buf = hnsw_new_buffer(index, MAIN_FORKNUM);
		extended = true;
	}

	hnsw_write_begin(&w, info);
	page = page_write_page(&w, buf, extended);
	if (extended)
		hnsw_init_page(page, HNSW_PAGE_ELEMENT);
	off = PageAddItem(page, (Item) etup, size, InvalidOffsetNumber, false, false);
	if (off == InvalidOffsetNumber)
		elog(ERROR, "failed to add element to hnsw index \"%s\"", RelationGetRelationName(index));
	page_write_finish(&w);
	ItemPointerSet(tid, BufferGetBlockNumber(buf), off);
	UnlockReleaseBuffer(buf);

	/* point later inserts at the new page */
	if (extended)
	{
		Buffer		mbuf = metabuf;

		if (!BufferIsValid(metabuf))
		{
			mbuf = ReadBuffer(index, HNSW_METAPAGE_BLKNO);
			LockBuffer(mbuf, BUFFER_LOCK_EXCLUSIVE);
		}
		hnsw_write_begin(&w, info);
		page = page_write_page(&w, mbuf, false);
		HnswPageGetMeta(page)->insert_page = ItemPointerGetBlockNumber(tid);
		page_write_finish(&w);
		if (!BufferIsValid(metabuf))
			UnlockReleaseBuffer(mbuf);
	}
}

static void
disk_entry(HnswStore *st, ItemPointer tid, int *level)
{
	HnswMetaPageData meta;

	hnsw_read_meta(st->info->index, &meta);
	*level = meta.entry_level;
	*tid = meta.entry;
}

/* Make tid the entry point if it is above the current one. */
static void
disk_set_entry(HnswStore *st, ItemPointer tid, int level)
{
	Buffer		metabuf = ((HnswDiskStore *) st)->metabuf;
	Buffer		buf = metabuf;

	if (!BufferIsValid(metabuf))
	{
		buf = ReadBuffer(st->info->index, HNSW_METAPAGE_BLKNO);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	}
	if (level > HnswPageGetMeta(BufferGetPage(buf))->entry_level)
	{
		PageWrite	w;
		Page		page;

		hnsw_write_begin(&w, st->info);
		page = page_write_page(&w, buf, false);
		HnswPageGetMeta(page)->entry = *tid;
		HnswPageGetMeta(page)->entry_level = level;
		page_write_finish(&w);
	}
	if (!BufferIsValid(metabuf))
		UnlockReleaseBuffer(buf);
}

/*
 * A first insert holds the metapage exclusively from the moment it sees the
 * graph empty until its element is the entry point; a new top holds a
 * heavyweight lock on the metapage's block number for its whole insert,
 * taken before any buffer lock.
 */
static bool
disk_begin_turn(HnswStore *st, bool first)
{
	HnswDiskStore *ds = (HnswDiskStore *) st;

	if (first)
	{
		Buffer		mbuf = ReadBuffer(st->info->index, HNSW_METAPAGE_BLKNO);

		LockBuffer(mbuf, BUFFER_LOCK_EXCLUSIVE);
		if (HnswPageGetMeta(BufferGetPage(mbuf))->entry_level >= 0)
		{
			UnlockReleaseBuffer(mbuf);
			return false;
		}
		ds->metabuf = mbuf;
		return true;
	}
	LockPage(st->info->index, HNSW_METAPAGE_BLKNO, ExclusiveLock);
	ds->top = true;
	return true;
}

static void
disk_end_turn(HnswStore *st)
{
	HnswDiskStore *ds = (HnswDiskStore *) st;

	if (BufferIsValid(ds->metabuf))
		UnlockReleaseBuffer(ds->metabuf);
	ds->metabuf = InvalidBuffer;
	if (ds->top)
		UnlockPage(st->info->index, HNSW_METAPAGE_BLKNO, ExclusiveLock);
	ds->top = false;
}

/* no marks of its own: a search keeps its visited set */
static uint32
disk_new_visit(HnswStore *st)
{
	return 0;
}

static int
disk_visit(HnswStore *st, ItemPointer tid, uint32 gen)
{
	return -1;
}

/* the page's buffer header and lines first, then the item (see bufhint.c) */
static void
disk_prefetch(HnswStore *st, ItemPointer tid, bool item)
{
	embed_prefetch_item(st->info->index, ItemPointerGetBlockNumber(tid),
						ItemPointerGetOffsetNumber(tid), item);
}

/* an element page's line pointers (the index's pages as they are now) */
static int
disk_block_slots(HnswStore *st, BlockNumber blk)
{
	Relation	index = st->info->index;
	Buffer		buf;
	Page		page;
	int			n = 0;

	if (blk >= RelationGetNumberOfBlocks(index))
		return -1;
	buf = embed_read_buffer(index, blk);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	if (!PageIsNew(page) && HnswPageGetOpaque(page)->type == HNSW_PAGE_ELEMENT)
		n = PageGetMaxOffsetNumber(page);
	UnlockReleaseBuffer(buf);
	return n;
}

static const HnswStoreOps disk_ops = {
	.read = disk_read,
	.write = disk_write,
	.release = disk_release,
	.add = disk_add,
	.entry = disk_entry,
	.set_entry = disk_set_entry,
	.begin_turn = disk_begin_turn,
	.end_turn = disk_end_turn,
	.new_visit = disk_new_visit,
	.visit = disk_visit,
	.prefetch = disk_prefetch,
	.block_slots = disk_block_slots,
};

HnswStore *
hnsw_disk_store(HnswIndexInfo *info)
{
	HnswDiskStore *ds = palloc0(sizeof(HnswDiskStore));

	ds->base.ops = &disk_ops;
	ds->base.info = info;
	ds->metabuf = InvalidBuffer;
	return &ds->base;
}
