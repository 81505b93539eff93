/*
 * hnsw.h — the hnsw index access method (see README in this folder).
 */
#ifndef EMBED_HNSW_H
#define EMBED_HNSW_H

#include "postgres.h"

#include "access/genam.h"
#include "access/generic_xlog.h"
#include "../amutils.h"
#include "../embedtype.h"
#include "../vector.h"
#include "access/itup.h"
#include "fmgr.h"
#include "nodes/pg_list.h"
#include "storage/bufmgr.h"
#include "utils/relcache.h"

#define hnsw_vacuum_delay()	embed_vacuum_delay()

/* reloptions */
#define HNSW_DEFAULT_M				16
#define HNSW_MIN_M					2
#define HNSW_MAX_M					100
#define HNSW_DEFAULT_EF_CONSTRUCTION 64
#define HNSW_MIN_EF_CONSTRUCTION	4
#define HNSW_MAX_EF_CONSTRUCTION	1000

/* GUC defaults */
#define HNSW_DEFAULT_EF_SEARCH		40
#define HNSW_MAX_EF_SEARCH			1000

/* opclass support functions */
#define HNSW_DISTANCE_PROC			1	/* (type, type) -> float8, required */
#define HNSW_NORM_PROC				2	/* (type) -> float8, optional: zero norm is not indexed */

/* CREATE INDEX subphases (1 is PostgreSQL's "initializing") */
#define HNSW_PHASE_BUILD			2
#define HNSW_PHASE_WAL				3

#define HNSW_MAX_LEVEL				15
#define HNSW_HEAPTIDS				10	/* heap TIDs per element: identical vectors share one */

#define HNSW_MAGIC					0x454D4857	/* "EMHW" */
#define HNSW_VERSION				1
#define HNSW_METAPAGE_BLKNO			0

/* page types, in the special space */
#define HNSW_PAGE_META				1
#define HNSW_PAGE_ELEMENT			2
#define HNSW_PAGE_OVERFLOW			3	/* raw bytes of one large vector */
#define HNSW_PAGE_FREE				4	/* recycled, listed in the FSM */

/* the special space (amutils.h): nextblkno links overflow chains only */
typedef EmbedPageOpaqueData HnswPageOpaqueData;
typedef EmbedPageOpaque HnswPageOpaque;

#define HNSW_PAGE_ID				0xFE8A
/* bytes between the page header and the special space of an empty page */
#define HNSW_PAGE_SPACE \
	(BLCKSZ - SizeOfPageHeaderData - MAXALIGN(sizeof(HnswPageOpaqueData)))
/* the largest tuple an empty element page takes */
#define HNSW_MAX_ELEMENT_SIZE	(HNSW_PAGE_SPACE - sizeof(ItemIdData))
/* bytes of a value that fit on one overflow page */
#define HNSW_OVERFLOW_CHUNK		HNSW_PAGE_SPACE

#define HnswPageGetOpaque(page)	((HnswPageOpaque) PageGetSpecialPointer(page))

typedef struct HnswMetaPageData
{
	uint32		magic;
	uint32		version;
	uint16		m;
	uint16		ef_construction;
	int16		entry_level;	/* -1: empty graph */
	uint16		unused;
	ItemPointerData entry;		/* element at the top of the graph */
	BlockNumber insert_page;	/* last element page: where inserts look first */
} HnswMetaPageData;

typedef HnswMetaPageData *HnswMetaPage;

#define HnswPageGetMeta(page)	((HnswMetaPage) PageGetContents(page))

/*
 * An element tuple: one graph node, written once with room for all of its
 * neighbours, then updated in place (its size never changes).
 *
 *   HnswElementTupleData  fixed header
 *   uint16 count[level+1] neighbours in use per layer
 *   ItemPointerData nbr[slots]  layer 0 has 2m slots, every upper layer m
 *   float4 ndist[slots]   distance to each neighbour, so that a node's list
 *                         can be pruned without reading other pages
 *   vector                the indexed value (a varlena, inline) or, when
 *                         HNSW_ELEMENT_OVERFLOW, a BlockNumber of the first
 *                         overflow page holding it
 */
typedef struct HnswElementTupleData
{
	uint8		level;
	uint8		flags;
	uint16		ntids;			/* heap TIDs in use */
	uint32		vecsize;		/* bytes of the stored value */
	ItemPointerData heaptids[HNSW_HEAPTIDS];
} HnswElementTupleData;

typedef HnswElementTupleData *HnswElementTuple;

#define HNSW_ELEMENT_DELETED		0x01	/* no live heap TIDs: not returned */
#define HNSW_ELEMENT_OVERFLOW		0x02	/* value lives on overflow pages */
#define HNSW_ELEMENT_HALF			0x04	/* value is an HnswHalfValue */
#define HNSW_ELEMENT_BYTE			0x08	/* value is an HnswByteValue */
/* the compact forms: neither bit means the value is the datum itself */
#define HNSW_ELEMENT_FORM			(HNSW_ELEMENT_HALF | HNSW_ELEMENT_BYTE)

/* reloption `precision`: how vector values are stored in the graph */
#define HNSW_PRECISION_HALF			0
#define HNSW_PRECISION_FULL			1

/* the reloptions as parsed (hnsw.c), read by hnsw_build_options and hnsw_precision */
typedef struct HnswOptions
{
	int32		vl_len_;
	int			m;
	int			ef_construction;
	int			precision;
} HnswOptions;

/*
 * A vector stored at half precision (precision = half, the default, for
 * embed's own distances): every component as an IEEE binary16, plus the
 * error that turns a distance computed from it into a lower bound of the
 * distance to the vector it stands for.  A varlena, so that it is stored,
 * overflowed and copied exactly like a full value.  `err` depends on the
 * metric: ||x - h|| for L2 and inner product, ||x/|x| - h/|h||| for cosine,
 * sum|x - h| for L1; 0 when h is x exactly (e.g. integer pixel values).
 */
typedef struct HnswHalfValue
{
	int32		vl_len_;
	float4		err;
	float4		norm;			/* |h| */
	uint16		h[FLEXIBLE_ARRAY_MEMBER];
} HnswHalfValue;

#define HNSW_HALF_DIM(v) \
	((int) ((VARSIZE(v) - offsetof(HnswHalfValue, h)) / sizeof(uint16)))

/*
 * A vector whose components are all integers within a span of 256 (pixels,
 * SIFT descriptors, int8/uint8 embeddings), stored exactly in one byte per
 * component under the same `precision = half`: component i is lo + b[i].
 * Exact, so distances to it need no recheck.
 */
typedef struct HnswByteValue
{
	int32		vl_len_;
	float4		lo;
	uint8		b[FLEXIBLE_ARRAY_MEMBER];
} HnswByteValue;

#define HNSW_BYTE_DIM(v)	((int) (VARSIZE(v) - offsetof(HnswByteValue, b)))

/* offsets inside an element tuple: inline, they sit on every search step */
static inline int
hnsw_layer_slots(int layer, int m)
{
	return layer == 0 ? 2 * m : m;
}

static inline int
hnsw_layer_start(int layer, int m)
{
	return layer == 0 ? 0 : 2 * m + (layer - 1) * m;
}

static inline int
hnsw_slots(int level, int m)
{
	return hnsw_layer_start(level + 1, m);
}

#define HNSW_COUNTS_OFFSET	MAXALIGN(sizeof(HnswElementTupleData))
#define HNSW_NBRS_OFFSET(level) \
	(HNSW_COUNTS_OFFSET + MAXALIGN(sizeof(uint16) * ((level) + 1)))
#define HNSW_DISTS_OFFSET(level, m) \
	(HNSW_NBRS_OFFSET(level) + MAXALIGN(sizeof(ItemPointerData) * hnsw_slots(level, m)))

/* everything before the value */
static inline Size
hnsw_tuple_header_size(int level, int m)
{
	return HNSW_DISTS_OFFSET(level, m) + MAXALIGN(sizeof(float4) * hnsw_slots(level, m));
}

#define HnswCounts(t)	((uint16 *) ((char *) (t) + HNSW_COUNTS_OFFSET))

static inline ItemPointer
HnswNeighbors(HnswElementTuple t, int m)
{
	return (ItemPointer) ((char *) t + HNSW_NBRS_OFFSET(t->level));
}

static inline float4 *
HnswNeighborDists(HnswElementTuple t, int m)
{
	return (float4 *) ((char *) t + HNSW_DISTS_OFFSET(t->level, m));
}

static inline char *
HnswValuePtr(HnswElementTuple t, int m)
{
	return (char *) t + hnsw_tuple_header_size(t->level, m);
}

/* where the elements live (hnswstore.h) */
typedef struct HnswStore HnswStore;

/* per-index state derived from the relation */
typedef struct HnswIndexInfo
{
	Relation	index;
	int			m;
	int			ef_construction;
	FmgrInfo   *distproc;
	EmbedOpclass oc;			/* what distproc is (embedtype.h); type NULL: not embed's */
	/*
	 * How distances are computed inside the graph: the opclass itself, or
	 * for a dense type other than vector the same metric over float32
	 * vectors (its values are decoded once, on the way in: hnsw_as_vector).
	 */
	EmbedOpclass work;
	/*
	 * work.type is vector: its metric's float32 kernel, which hnsw_distance
	 * calls inline (no type-layer dispatch per distance); else NULL.
	 */
	double		(*vec_kernel) (const float *a, const float *b, int n);
	FmgrInfo   *normproc;		/* NULL if the opclass has none */
	bool		half;			/* store new values in a compact form */
	Oid			collation;
	bool		building;		/* in CREATE INDEX: no WAL until the end */
	HnswStore  *store;			/* the graph: the index's pages, or a build's graph in memory */
} HnswIndexInfo;

extern void hnsw_index_info(HnswIndexInfo *info, Relation index, bool building);

/* A candidate found during a search. */
typedef struct HnswCandidate
{
	ItemPointerData tid;		/* of the element tuple */
	double		dist;
	int			level;
	bool		deleted;
	int			ntids;
	ItemPointer heaptids;		/* ntids of them */
	Datum		value;			/* stored value (maybe compact), when asked for */
	uint8		form;			/* its HNSW_ELEMENT_FORM bits */
	bool		recheck;		/* dist is a lower bound, not exact */
	Datum		full;			/* value decoded to a vector, once needed */
} HnswCandidate;

/* search (hnswsearch.c) */
typedef struct HnswSearch HnswSearch;

extern HnswSearch *hnsw_search_begin(HnswIndexInfo *info, Datum query,
									 bool keep_values);
extern List *hnsw_search_layer(HnswSearch *s, List *entry, int ef, int layer);
extern List *hnsw_search_entry(HnswSearch *s, int *entry_level);
extern bool hnsw_search_more(HnswSearch *s, int ef, int64 max_visits);
extern void hnsw_search_set_radius(HnswSearch *s, double radius);
extern int64 hnsw_search_within(HnswSearch *s);
extern bool hnsw_search_done(HnswSearch *s);
extern void hnsw_search_release_all(HnswSearch *s);
extern HnswCandidate *hnsw_search_next(HnswSearch *s);
extern int64 hnsw_search_visited(HnswSearch *s);
extern Size hnsw_search_pooled(HnswSearch *s);
extern void hnsw_search_start_layer0(HnswSearch *s, List *entry);

/* page helpers (hnswutils.c) */
extern Buffer hnsw_new_buffer(Relation index, ForkNumber fork);
#define hnsw_init_page(page, type)	embed_init_page(page, type, HNSW_PAGE_ID)
extern void hnsw_read_meta(Relation index, HnswMetaPageData *meta);
extern double hnsw_distance_general(HnswIndexInfo *info, Datum a, Datum b);

/*
 * The distance between two values inside the graph.  The build and every
 * search make millions of these, so the common case (plain float32 vectors
 * of equal dimensions) calls the kernel directly; the rest goes through the
 * type layer or fmgr (which also raises the errors).
 */
static inline double
hnsw_distance(HnswIndexInfo *info, Datum a, Datum b)
{
	if (likely(info->vec_kernel != NULL))
	{
		const Vector *va = (const Vector *) DatumGetPointer(a);
		const Vector *vb = (const Vector *) DatumGetPointer(b);

		if (!VARATT_IS_EXTENDED(va) && !VARATT_IS_EXTENDED(vb) && va->dim == vb->dim)
			return info->vec_kernel(va->x, vb->x, va->dim);
	}
	return hnsw_distance_general(info, a, b);
}
extern Datum hnsw_stored_form(HnswIndexInfo *info, Datum value, uint8 *form);
extern int	hnsw_compact_dim(Datum stored, uint8 form);
extern Size hnsw_compact_header(uint8 flags);
extern Datum hnsw_full_value(Datum stored, uint8 form);
extern Datum hnsw_candidate_full(HnswCandidate *c);
extern Datum hnsw_as_vector(HnswIndexInfo *info, Datum value);
extern void hnsw_check_dims(EmbedOpclass oc, int dim);
extern double hnsw_compact_distance(HnswIndexInfo *info, Datum query, double *qnorm,
									Datum stored, uint8 form, float *scratch, bool *exact);
extern double hnsw_order_value(HnswIndexInfo *info, double dist);
extern Datum hnsw_load_value(Relation index, HnswElementTuple etup, int m, bool copy);
extern HnswElementTuple hnsw_get_element(Relation index, Page page, OffsetNumber off, int m);
extern int	hnsw_random_level(int m);

/* page changes (amutils.h): generic WAL, or plain dirtying during a build */
static inline void
hnsw_write_begin(PageWrite *w, HnswIndexInfo *info)
{
	page_write_begin(w, info->index, info->building);
}

/* element tuples (hnswutils.c), in either store: link `newtid` from one layer */
extern bool hnsw_link(HnswElementTuple etup, int m, int layer, ItemPointer newtid, float4 dist);
extern void hnsw_write_list(HnswElementTuple etup, int m, int layer, List *sel);

/* neighbour selection (hnswsearch.c) */
extern List *hnsw_load_candidates(HnswIndexInfo *info, ItemPointer tids, float4 *dists,
								   int n, Datum from);
extern int	hnsw_candidate_cmp(const ListCell *a, const ListCell *b);
extern List *hnsw_select_neighbors(HnswIndexInfo *info, List *cands, int max,
								   bool keep_pruned, int *nkept);

/* connectivity (hnswconnect.c): link in what no search reaches; the count linked */
extern int64 hnsw_connect(HnswIndexInfo *info);

/* insert (hnswinsert.c) */
extern bool hnsw_insert_value(HnswIndexInfo *info, Datum value, ItemPointer heaptid);

/* access method entry points */
extern IndexBuildResult *hnswbuild(Relation heap, Relation index, struct IndexInfo *indexInfo);
extern void hnswbuildempty(Relation index);
extern bool hnswinsert(Relation index, Datum *values, bool *isnull, ItemPointer heap_tid,
					   Relation heap, IndexUniqueCheck checkUnique,
#if PG_VERSION_NUM >= 140000
					   bool indexUnchanged,
#endif
					   struct IndexInfo *indexInfo);
extern IndexBulkDeleteResult *hnswbulkdelete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
											 IndexBulkDeleteCallback callback, void *callback_state);
extern IndexBulkDeleteResult *hnswvacuumcleanup(IndexVacuumInfo *info,
												IndexBulkDeleteResult *stats);
extern IndexScanDesc hnswbeginscan(Relation index, int nkeys, int norderbys);
extern void hnswrescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys, int norderbys);
extern bool hnswgettuple(IndexScanDesc scan, ScanDirection dir);
extern void hnswendscan(IndexScanDesc scan);

/* settings (hnsw.c) */
extern int	hnsw_ef_search;
extern int	hnsw_iterative_scan;
extern int	hnsw_max_scan_tuples;
extern double hnsw_scan_mem_multiplier;

#define HNSW_ITERATIVE_OFF		0
#define HNSW_ITERATIVE_RELAXED	1
#define HNSW_ITERATIVE_STRICT	2

extern void hnsw_init_gucs(void);

/* options (hnswutils.c): m and ef_construction from the reloptions, checked */
extern void hnsw_build_options(Relation index, int *m, int *ef_construction);
extern int	hnsw_precision(Relation index);

#endif
