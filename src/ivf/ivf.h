/*
 * ivf.h — the inverted-file index access methods (see README in this folder).
 *
 * One implementation serves two access methods that differ only in what a
 * posting-list entry holds:
 *   ivfflat    the full vector (pgvector compatible): exact distances
 *   ivfrabitq  a RaBitQ code (1 bit per rotated dimension + two floats):
 *              distances are estimated with an error bound and the
 *              candidates that can still rank are reranked with the exact
 *              distance of the heap row
 */
#ifndef EMBED_IVF_H
#define EMBED_IVF_H

#include "postgres.h"

#include "access/genam.h"
#include "storage/dsm.h"
#include "storage/shm_toc.h"
#include "access/generic_xlog.h"
#include "../amutils.h"
#include "fmgr.h"
#include "storage/bufmgr.h"
#include "utils/relcache.h"

/*
 * splitmix64: the seedable generator of sampling, seeding and the rotation,
 * the same on every platform (the rotation is part of the on-disk format)
 */
static inline uint64
ivf_random(uint64 *state)
{
	uint64		z = (*state += UINT64CONST(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64CONST(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64CONST(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

/* ======================= math: k-means (ivfkmeans.c) ======================= */

/*
 * Cluster n points of d dims (row-major) into k centroids (row-major, k * d,
 * written to `centroids`).  k-means++ seeding, then at most `max_iter` Lloyd
 * rounds (early stop when assignments settle).  `spherical`: centroids are
 * renormalised to unit length after each update (for cosine).  Deterministic
 * for a given seed.  n >= 1 and 1 <= k <= n.  Empty clusters are re-seeded.
 * Checks for interrupts.  Memory: O(k * d + n) beyond the inputs.
 */
extern void ivf_kmeans(const float *points, int n, int d, int k, bool spherical,
					   uint64 seed, int max_iter, int nworkers, float *centroids);
/* a parallel worker of ivf_kmeans, started by name */
extern PGDLLEXPORT void ivf_kmeans_worker_main(dsm_segment *seg, shm_toc *toc);

/*
 * Index of the centroid nearest to x by L2 (ties: lowest index); cnorms[j]
 * is |centroid j|^2.  Computed as argmin |c|^2 - 2 <x, c>, four centroids
 * per pass over x.
 */
extern int	ivf_nearest_centroid(const float *x, const float *centroids, const float *cnorms,
								 int k, int d);

/* ======================= math: RaBitQ (rabitq.c) ======================= */

/*
 * A random orthogonal rotation of R^dim into R^pdim (pdim = dim rounded up to
 * a multiple of 64, the input zero-padded): RABITQ_ROUNDS rounds of random
 * sign flips followed by normalised fast Walsh-Hadamard transforms on
 * power-of-two blocks.  Fully determined by (dim, seed), so it is not stored.
 */
#define RABITQ_ROUNDS 4

typedef struct Rabitq
{
	int			dim;
	int			pdim;			/* multiple of 64 */
	uint64		seed;
	float	   *signs;			/* RABITQ_ROUNDS * pdim values of +1/-1 */
} Rabitq;

extern void rabitq_init(Rabitq *rq, int dim, uint64 seed);
/* out (pdim floats) = P * in (dim floats); norms and inner products kept */
extern void rabitq_rotate(const Rabitq *rq, const float *in, float *out);

#define RABITQ_CODE_BYTES(pdim)	((pdim) / 8)

/* per-vector corrections stored beside the code */
typedef struct RabitqFactors
{
	float		norm;			/* ||r||: length of the (rotated) residual */
	float		xo;				/* <xbar, r/||r||>, in (0, 1]; 1 if r == 0 */
} RabitqFactors;

/*
 * code bit i = (r[i] > 0); r is the rotated residual (pdim floats).  Returns
 * the number of bits set, which estimates need.
 */
extern uint32 rabitq_encode(int pdim, const float *r, uint8 *code, RabitqFactors *f);

/*
 * A query direction prepared for one posting list: the unit vector of the
 * rotated query residual, scalar-quantised to RABITQ_QUERY_BITS bits per
 * dimension and laid out as bit planes for AND + popcount.
 */
#define RABITQ_QUERY_BITS 4

typedef struct RabitqQuery
{
	int			pdim;
	float		norm;			/* ||q||: length before normalisation */
	float		lo;				/* quantised value v stands for lo + v * delta */
	float		delta;
	uint32		sum_q;			/* sum of the quantised values */
	uint64	   *planes;			/* RABITQ_QUERY_BITS * pdim / 64 words, plane j
								 * holds bit j of every quantised value */
} RabitqQuery;

/* q->planes is allocated on first use and reused for later lists */
extern void rabitq_prepare_query(int pdim, const float *r, RabitqQuery *q);

/*
 * Estimate <o, q> for unit vectors o (the encoded residual's direction) and
 * q (the prepared query's), and a bound `*err` such that |<o,q> - est| <= err
 * with high probability (the RaBitQ bound with confidence constant
 * RABITQ_EPSILON, widened by the query quantisation error).
 */
#define RABITQ_EPSILON 2.5

extern float rabitq_estimate(const RabitqQuery *q, const uint8 *code, uint32 ones,
							 const RabitqFactors *f, float *err);

/* ======================= the access methods ======================= */

#define ivf_vacuum_delay()	embed_vacuum_delay()

/* what a posting-list entry holds */
#define IVF_KIND_FLAT		1
#define IVF_KIND_RABITQ		2

/* the distance, known from the opclass's distance function */
#define IVF_METRIC_L2		1	/* squared L2 */
#define IVF_METRIC_IP		2	/* negative inner product */
#define IVF_METRIC_COSINE	3	/* cosine distance: unit vectors, L2 inside */

/* reloptions and GUC defaults */
#define IVF_DEFAULT_LISTS	100
#define IVF_MAX_LISTS		32768
#define IVF_ITERATIVE_OFF		0
#define IVF_ITERATIVE_RELAXED	1

/* opclass support functions */
#define IVF_DISTANCE_PROC	1	/* (type, type) -> float8: one of embed's */
#define IVF_NORM_PROC		2	/* (type) -> float8, cosine only */

/* CREATE INDEX subphases (1 is PostgreSQL's "initializing") */
#define IVF_PHASE_KMEANS	2
#define IVF_PHASE_ASSIGN	3
#define IVF_PHASE_LOAD		4

/* fewer rows per list than this at build time and the list count shrinks */
#define IVF_MIN_ROWS_PER_LIST	16
/* rows sampled for k-means per list (and at most this many in all) */
#define IVF_SAMPLE_PER_LIST		50
#define IVF_SAMPLE_MAX			100000
#define IVF_KMEANS_ITERATIONS	5
#define IVF_ROTATION_SEED		UINT64CONST(0x5EED0F1EEDC0DE5)

#define IVF_MAGIC			0x454D4956	/* "EMIV" */
#define IVF_VERSION			1
#define IVF_METAPAGE_BLKNO	0

/* page types, in the special space */
#define IVF_PAGE_META		1
#define IVF_PAGE_DIRECTORY	2	/* IvfListDir per list */
#define IVF_PAGE_CENTROID	3	/* centroid floats, a stream across pages */
#define IVF_PAGE_LIST		4	/* posting-list entries (items) */

/* the special space (amutils.h): nextblkno links a posting list's pages */
typedef EmbedPageOpaqueData IvfPageOpaqueData;
typedef EmbedPageOpaque IvfPageOpaque;

#define IVF_PAGE_ID			0xFE8B
#define IVF_PAGE_SPACE \
	(BLCKSZ - SizeOfPageHeaderData - MAXALIGN(sizeof(IvfPageOpaqueData)))
#define IvfPageGetOpaque(page)	((IvfPageOpaque) PageGetSpecialPointer(page))

typedef struct IvfMetaPageData
{
	uint32		magic;
	uint32		version;
	uint16		kind;
	uint16		metric;
	int32		dim;			/* of the indexed vectors */
	int32		cdim;			/* of centroids: dim, or the rotated pdim */
	int32		nlists;
	uint64		seed;			/* of the RaBitQ rotation */
	BlockNumber dir_start;
	BlockNumber cent_start;
	uint32		cent_pages;
} IvfMetaPageData;

typedef IvfMetaPageData *IvfMetaPage;

#define IvfPageGetMeta(page)	((IvfMetaPage) PageGetContents(page))

/* one per list, in the directory pages */
typedef struct IvfListDir
{
	BlockNumber head;			/* first page; every list has one */
	BlockNumber insert;			/* where inserts start looking for room */
} IvfListDir;

#define IVF_DIR_PER_PAGE	(IVF_PAGE_SPACE / sizeof(IvfListDir))
#define IVF_CENT_PER_PAGE	(IVF_PAGE_SPACE / sizeof(float))

/*
 * A posting-list entry, an item on a list page:
 *   flat:   header | float4 x[dim]           the vector as given
 *   rabitq: header | RabitqFactors | code    rotated residual to the centroid
 */
typedef struct IvfEntryData
{
	ItemPointerData tid;		/* heap row */
	uint16		ones;			/* rabitq: bits set in the code (0 for flat) */
} IvfEntryData;

typedef IvfEntryData *IvfEntry;

#define IvfEntryPayload(e)	((char *) (e) + sizeof(IvfEntryData))

/*
 * Everything about an index that does not change after CREATE INDEX: the
 * metapage, the centroids and the rotation.  Kept in rd_amcache (one chunk)
 * when small enough, so a query does not reread the centroid pages.
 */
typedef struct IvfShape
{
	IvfMetaPageData meta;
	float	   *centroids;		/* nlists * cdim */
	float	   *cnorms;			/* nlists squared norms */
	Rabitq		rq;				/* rabitq only */
	Size		entry_size;		/* MAXALIGN'd item size */
} IvfShape;

/* per-index state derived from the relation */
typedef struct IvfInfo
{
	Relation	index;
	int			kind;
	int			metric;
	FmgrInfo   *distproc;
	Oid			collation;
	bool		building;		/* in CREATE INDEX: no WAL until the end */
	IvfShape   *shape;			/* NULL during a build until the lists exist */
} IvfInfo;

/* ivf.c */
extern int	ivfflat_probes;
extern int	ivfflat_iterative_scan;
extern int	ivfflat_max_probes;
extern int	ivfrabitq_probes;
extern int	ivfrabitq_iterative_scan;
extern int	ivfrabitq_max_probes;
extern void ivf_init_gucs(void);
extern int	ivf_index_kind(Relation index);
extern int	ivf_options_lists(Relation index);

/* ivfutils.c */
extern void ivf_info(IvfInfo *info, Relation index, bool building);
extern int	ivf_metric(Relation index);
extern IvfShape *ivf_shape(Relation index);
extern Size ivf_entry_size(int kind, int dim, int cdim);
extern bool ivf_prepare(IvfInfo *info, Datum value, int dim, float *out);
extern double ivf_exact_distance(int metric, const float *a, const float *b, int dim);
extern void ivf_make_entry(IvfInfo *info, const float *x, const float *centroid,
						   ItemPointer tid, const float *orig, IvfEntry entry);
extern int	ivf_nearest_list(IvfShape *shape, const float *x);
#define ivf_init_page(page, type)	embed_init_page(page, type, IVF_PAGE_ID)
extern Buffer ivf_new_buffer(Relation index, ForkNumber fork);
extern void ivf_read_meta(Relation index, IvfMetaPageData *meta);
extern IvfListDir ivf_read_dir(Relation index, IvfMetaPageData *meta, int list);
extern void ivf_check_list_page(Relation index, Page page, BlockNumber blk);


/* AM callbacks */
extern IndexBuildResult *ivfbuild(Relation heap, Relation index, struct IndexInfo *indexInfo);
extern void ivfbuildempty(Relation index);
extern bool ivfinsert(Relation index, Datum *values, bool *isnull, ItemPointer heap_tid,
					  Relation heap, IndexUniqueCheck checkUnique,
#if PG_VERSION_NUM >= 140000
					  bool indexUnchanged,
#endif
					  struct IndexInfo *indexInfo);
extern IndexScanDesc ivfbeginscan(Relation index, int nkeys, int norderbys);
extern void ivfrescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys, int norderbys);
extern bool ivfgettuple(IndexScanDesc scan, ScanDirection dir);
extern void ivfendscan(IndexScanDesc scan);
extern IndexBulkDeleteResult *ivfbulkdelete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
											IndexBulkDeleteCallback callback, void *callback_state);

#endif
