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
#include "access/generic_xlog.h"
#include "storage/dsm.h"
#include "storage/shm_toc.h"
#include "../amutils.h"
#include "../embedtype.h"
#include "../rabitq.h"
#include "fmgr.h"
#include "storage/bufmgr.h"
#include "utils/relcache.h"

/*
 * Layers, each calling only those below it:
 *   ivf.c                                  handlers, cost estimates
 *   ivfbuild.c ivfinsert.c ivfscan.c ivfvacuum.c
 *   ivfkmeans.c                            parallel k-means rounds (build)
 *   ivfutils.c                             options, shape, entries, pages
 *   ../kmeans ../rabitq ../kernels ../amutils ../parbuild ../vector
 */

#define ivf_vacuum_delay()	embed_vacuum_delay()

/* what a posting-list entry holds */
#define IVF_KIND_FLAT		1
#define IVF_KIND_RABITQ		2

/* the distance, known from the opclass's distance function */
#define IVF_METRIC_L2		1	/* squared L2 */
#define IVF_METRIC_IP		2	/* negative inner product */
#define IVF_METRIC_COSINE	3	/* cosine distance: unit vectors, L2 inside */
#define IVF_METRIC_HAMMING	4	/* bit strings (ivfflat): clustered as 0/1
								 * floats by L2, entries hold the bits */

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
/*
 * On-disk versions.  1: a flat entry holds float4 components whatever the
 * type (halfvec values decoded).  2: a flat entry holds the type's packed
 * form (EmbedType.packed: halfvec 2 bytes per dimension).  Nothing else
 * differs, and for vector and bit the two are the same bytes, so a build
 * writes the lowest version that describes its index (ivf_build_version):
 * 2 only for ivfflat on halfvec; every other index stays readable by builds
 * that know version 1 alone.  Both are read.
 */
#define IVF_VERSION_FLOAT_ENTRIES	1
#define IVF_VERSION_PACKED_ENTRIES	2
#define IVF_VERSION			IVF_VERSION_PACKED_ENTRIES	/* the newest read */
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
 *   flat:   header | packed value            the value as given, in its
 *                                            type's packed form (version 1
 *                                            halfvec indexes: float4 x[dim])
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
	bool		decoded;		/* flat entries hold float4, not the packed
								 * form (version 1 indexes on halfvec) */
} IvfShape;

/* per-index state derived from the relation */
typedef struct IvfInfo
{
	Relation	index;
	int			kind;
	int			metric;
	EmbedOpclass oc;			/* the opclass's type and metric (embedtype.h) */
	FmgrInfo   *distproc;
	Oid			collation;
	bool		building;		/* in CREATE INDEX: no WAL until the end */
	IvfShape   *shape;			/* NULL during a build until the lists exist */
} IvfInfo;

/* ivfutils.c: options and settings */
extern int	ivfflat_probes;
extern int	ivfflat_iterative_scan;
extern int	ivfflat_max_probes;
extern int	ivfrabitq_probes;
extern int	ivfrabitq_iterative_scan;
extern int	ivfrabitq_max_probes;
extern void ivf_init_gucs(void);
extern bytea *ivfflatoptions(Datum reloptions, bool validate);
extern bytea *ivfrabitqoptions(Datum reloptions, bool validate);
extern int	ivf_index_kind(Relation index);
extern int	ivf_options_lists(Relation index);

/* ivfutils.c: shape, entries, pages */
extern void ivf_info(IvfInfo *info, Relation index, bool building);
extern int	ivf_metric(Relation index);
extern IvfShape *ivf_shape(Relation index);
extern uint32 ivf_build_version(int kind, const EmbedType *type);
extern bool ivf_entries_decoded(const IvfMetaPageData *meta, const EmbedType *type);
extern Size ivf_entry_size(const IvfMetaPageData *meta, const EmbedType *type);
extern int	ivf_max_dim(int metric);
extern bool ivf_prepare(IvfInfo *info, Datum value, int dim, float *out);
extern const float *ivf_value_floats(const EmbedType *type, Datum value, int *dim);
extern double ivf_exact_distance(int metric, const float *a, const float *b, int dim);
extern void ivf_make_entry(IvfInfo *info, const float *x, const float *centroid,
						   ItemPointer tid, Datum value, IvfEntry entry);
extern int	ivf_nearest_list(IvfShape *shape, const float *x);
#define ivf_init_page(page, type)	embed_init_page(page, type, IVF_PAGE_ID)
extern Buffer ivf_new_buffer(Relation index, ForkNumber fork);
extern void ivf_read_meta(Relation index, IvfMetaPageData *meta);
extern IvfListDir ivf_read_dir(Relation index, IvfMetaPageData *meta, int list);
extern void ivf_check_list_page(Relation index, Page page, BlockNumber blk);

/*
 * Called by ivf_walk_list for each page of a list, the buffer locked as the
 * walk asked; returns false to end the walk.  May change the page (under an
 * exclusive lock), even chain a new page after it.
 */
typedef bool (*IvfPageVisitor) (Relation index, Buffer buf, BlockNumber blk, void *arg);
extern void ivf_walk_list(Relation index, BlockNumber blk, int mode, IndexVacuumInfo *vacinfo,
						  IvfPageVisitor visit, void *arg);

/*
 * ivfkmeans.c: kmeans() (../kmeans.h) with its rounds shared among up to
 * nworkers parallel workers when shared memory allows; the same centroids
 * either way.
 */
extern void ivf_kmeans(const float *points, int n, int d, int k, bool spherical,
					   uint64 seed, int max_iter, int nworkers, float *centroids);
/* a parallel worker of ivf_kmeans, started by name */
extern PGDLLEXPORT void ivf_kmeans_worker_main(dsm_segment *seg, shm_toc *toc);


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
