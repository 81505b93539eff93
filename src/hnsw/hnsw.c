/*
 * hnsw.c — access method handler, options, settings and cost estimation.
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "access/amapi.h"
#include "access/genam.h"
#include "access/reloptions.h"
#include "commands/progress.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "optimizer/paths.h"
#include "utils/guc.h"
#include "utils/rel.h"
#include "utils/selfuncs.h"
#include "utils/spccache.h"

#include "hnsw.h"

int			hnsw_ef_search = HNSW_DEFAULT_EF_SEARCH;
int			hnsw_iterative_scan = HNSW_ITERATIVE_OFF;
int			hnsw_max_scan_tuples = 20000;
double		hnsw_scan_mem_multiplier = 1.0;

static relopt_kind hnsw_relopt_kind;

static relopt_enum_elt_def precision_options[] = {
	{"half", HNSW_PRECISION_HALF},
	{"full", HNSW_PRECISION_FULL},
	{NULL}
};

static const struct config_enum_entry iterative_options[] = {
	{"off", HNSW_ITERATIVE_OFF, false},
	{"relaxed_order", HNSW_ITERATIVE_RELAXED, false},
	{"strict_order", HNSW_ITERATIVE_STRICT, false},
	{NULL, 0, false}
};

void
hnsw_init_gucs(void)
{
	hnsw_relopt_kind = add_reloption_kind();
	add_int_reloption(hnsw_relopt_kind, "m", "Max number of connections per element per layer",
					  HNSW_DEFAULT_M, HNSW_MIN_M, HNSW_MAX_M, AccessExclusiveLock);
	add_int_reloption(hnsw_relopt_kind, "ef_construction",
					  "Size of the dynamic candidate list while building the graph",
					  HNSW_DEFAULT_EF_CONSTRUCTION, HNSW_MIN_EF_CONSTRUCTION,
					  HNSW_MAX_EF_CONSTRUCTION, AccessExclusiveLock);
	add_enum_reloption(hnsw_relopt_kind, "precision",
					   "How the graph stores vectors: half (float16, rechecked) or full",
					   precision_options, HNSW_PRECISION_HALF,
					   "Valid values are \"half\" and \"full\".", AccessExclusiveLock);

	DefineCustomIntVariable("hnsw.ef_search", "Size of the dynamic candidate list for search",
							"Larger is more accurate and slower.",
							&hnsw_ef_search, HNSW_DEFAULT_EF_SEARCH, 1, HNSW_MAX_EF_SEARCH,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomEnumVariable("hnsw.iterative_scan", "Keeps searching when filters reject results",
							 NULL, &hnsw_iterative_scan, HNSW_ITERATIVE_OFF, iterative_options,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("hnsw.max_scan_tuples", "Max elements an iterative scan reads",
							NULL, &hnsw_max_scan_tuples, 20000, 1, INT_MAX,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomRealVariable("hnsw.scan_mem_multiplier",
							 "Multiple of work_mem an iterative scan may use",
							 NULL, &hnsw_scan_mem_multiplier, 1.0, 1.0, 1000.0,
							 PGC_USERSET, 0, NULL, NULL, NULL);
#if PG_VERSION_NUM >= 150000
	MarkGUCPrefixReserved("hnsw");
#else
	EmitWarningsOnPlaceholders("hnsw");
#endif
}

static bytea *
hnswoptions(Datum reloptions, bool validate)
{
	static const relopt_parse_elt tab[] = {
		{"m", RELOPT_TYPE_INT, offsetof(HnswOptions, m)},
		{"ef_construction", RELOPT_TYPE_INT, offsetof(HnswOptions, ef_construction)},
		{"precision", RELOPT_TYPE_ENUM, offsetof(HnswOptions, precision)},
	};

	return (bytea *) build_reloptions(reloptions, validate, hnsw_relopt_kind,
									  sizeof(HnswOptions), tab, lengthof(tab));
}

/*
 * Cost.  A search reads about ef_search * m elements, whatever the table
 * size, before the first row comes out: that is the startup cost.  Going on
 * past that (a LIMIT larger than ef_search, or a WHERE clause rejecting rows
 * under an iterative scan) is costed like reading the whole index, so the
 * planner prefers another index or a sequential scan plus sort when a
 * selective filter leaves few rows.  An HNSW index is only fast when it is
 * cached, and its pages are then as cheap as a sequential scan's: pages are
 * charged seq_page_cost while the index fits effective_cache_size, and
 * random_page_cost beyond.  Each element read costs one distance call.
 * Without ORDER BY the index is useless.
 */
/* the index's m, from its options (no lock: the planner holds one) */
static int
index_m(Oid indexoid)
{
	Relation	index = index_open(indexoid, NoLock);
	HnswOptions *opts = (HnswOptions *) index->rd_options;
	int			m = opts ? opts->m : HNSW_DEFAULT_M;

	index_close(index, NoLock);
	return m;
}

static void
hnswcostestimate(PlannerInfo *root, IndexPath *path, double loop_count,
				 Cost *indexStartupCost, Cost *indexTotalCost,
				 Selectivity *indexSelectivity, double *indexCorrelation,
				 double *indexPages)
{
	GenericCosts costs;
	double		ntuples,
				pages,
				page_cost,
				per_tuple,
				visited;

	/* only ORDER BY distance, or a range search (range.c), uses the index */
	if (path->indexorderbys == NIL && path->indexclauses == NIL)
	{
		*indexStartupCost = DBL_MAX;
		*indexTotalCost = DBL_MAX;
		*indexSelectivity = 0;
		*indexCorrelation = 0;
		*indexPages = 0;
		return;
	}

	MemSet(&costs, 0, sizeof(costs));
	genericcostestimate(root, path, loop_count, &costs);

	/*
	 * A range search alone reads about the rows within the radius (its
	 * selectivity) and their neighbours: the generic estimate scaled by m.
	 */
	if (path->indexorderbys == NIL)
	{
		double		m = index_m(path->indexinfo->indexoid);

		*indexStartupCost = costs.indexStartupCost;
		*indexTotalCost = costs.indexTotalCost * Max(m / 4, 1.0);
		*indexSelectivity = costs.indexSelectivity;
		*indexCorrelation = 0;
		*indexPages = costs.numIndexPages;
		return;
	}

	ntuples = Max(path->indexinfo->tuples, 1.0);
	pages = Max(costs.numIndexPages, 1.0);
	page_cost = pages <= effective_cache_size ? seq_page_cost : random_page_cost;
	per_tuple = cpu_index_tuple_cost + cpu_operator_cost;
	visited = Min(ntuples, (double) hnsw_ef_search * index_m(path->indexinfo->indexoid));

	*indexTotalCost = pages * page_cost + ntuples * per_tuple;
	*indexStartupCost = *indexTotalCost * (visited / ntuples);
	*indexSelectivity = costs.indexSelectivity;
	*indexCorrelation = 0;
	*indexPages = pages;
}

static char *
hnswbuildphasename(int64 phasenum)
{
	switch (phasenum)
	{
		case PROGRESS_CREATEIDX_SUBPHASE_INITIALIZE:
			return "initializing";
		case HNSW_PHASE_BUILD:
			return "building graph";
		case HNSW_PHASE_WAL:
			return "logging index";
		default:
			return NULL;
	}
}

PG_FUNCTION_INFO_V1(hnswhandler);
Datum
hnswhandler(PG_FUNCTION_ARGS)
{
	IndexAmRoutine *am = embed_ordered_am_routine();

	am->ambuild = hnswbuild;
	am->ambuildempty = hnswbuildempty;
	am->aminsert = hnswinsert;
	am->ambulkdelete = hnswbulkdelete;
	am->amvacuumcleanup = hnswvacuumcleanup;
	am->amcostestimate = hnswcostestimate;
	am->amoptions = hnswoptions;
	am->ambuildphasename = hnswbuildphasename;
	am->ambeginscan = hnswbeginscan;
	am->amrescan = hnswrescan;
	am->amgettuple = hnswgettuple;
	am->amendscan = hnswendscan;
	PG_RETURN_POINTER(am);
}
