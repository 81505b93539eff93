/*
 * ivf.c — access method handlers, options, settings and cost estimation for
 * ivfflat and ivfrabitq.
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "access/amapi.h"
#include "access/reloptions.h"
#include "commands/progress.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "utils/guc.h"
#include "utils/rel.h"
#include "utils/selfuncs.h"

#include "ivf.h"

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

static bytea *
ivfflatoptions(Datum reloptions, bool validate)
{
	return ivf_options(reloptions, validate, ivfflat_relopt_kind);
}

static bytea *
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

/*
 * Cost.  A scan reads the centroids, then `probes` of the `lists` posting
 * lists in full before the first row comes out, so all of that is startup
 * cost; RaBitQ adds one heap fetch per reranked candidate (a few times the
 * LIMIT, estimated as 4 * 10 here).  Iterative scans may read more lists,
 * costed like the rest of the index.  Without ORDER BY the index is useless.
 */
static void
ivf_costestimate(PlannerInfo *root, IndexPath *path, double loop_count,
				 Cost *indexStartupCost, Cost *indexTotalCost,
				 Selectivity *indexSelectivity, double *indexCorrelation,
				 double *indexPages, int kind)
{
	GenericCosts costs;
	double		ntuples,
				pages,
				lists,
				probes,
				fraction,
				total;
	Relation	index;

	if (path->indexorderbys == NIL)
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

	/* the lists built, which a small table or ALTER INDEX makes differ from the option */
	index = index_open(path->indexinfo->indexoid, NoLock);
	if (RelationGetNumberOfBlocks(index) > IVF_METAPAGE_BLKNO)
	{
		IvfMetaPageData meta;

		ivf_read_meta(index, &meta);
		lists = Max(meta.nlists, 1);
	}
	else
		lists = ivf_options_lists(index);
	index_close(index, NoLock);
	probes = kind == IVF_KIND_RABITQ ? ivfrabitq_probes : ivfflat_probes;
	fraction = Min(1.0, probes / lists);

	ntuples = Max(path->indexinfo->tuples, 1.0);
	pages = Max(costs.numIndexPages, 1.0);
	total = pages * seq_page_cost + ntuples * (cpu_index_tuple_cost + cpu_operator_cost) +
		lists * cpu_operator_cost;
	*indexStartupCost = total * fraction;
	if (kind == IVF_KIND_RABITQ)
		*indexStartupCost += 40 * (random_page_cost * 0.1 + cpu_tuple_cost);
	*indexTotalCost = Max(total, *indexStartupCost);
	*indexSelectivity = costs.indexSelectivity;
	*indexCorrelation = 0;
	*indexPages = pages;
}

static void
ivfflatcostestimate(PlannerInfo *root, IndexPath *path, double loop_count,
					Cost *indexStartupCost, Cost *indexTotalCost,
					Selectivity *indexSelectivity, double *indexCorrelation,
					double *indexPages)
{
	ivf_costestimate(root, path, loop_count, indexStartupCost, indexTotalCost,
					 indexSelectivity, indexCorrelation, indexPages, IVF_KIND_FLAT);
}

static void
ivfrabitqcostestimate(PlannerInfo *root, IndexPath *path, double loop_count,
					  Cost *indexStartupCost, Cost *indexTotalCost,
					  Selectivity *indexSelectivity, double *indexCorrelation,
					  double *indexPages)
{
	ivf_costestimate(root, path, loop_count, indexStartupCost, indexTotalCost,
					 indexSelectivity, indexCorrelation, indexPages, IVF_KIND_RABITQ);
}

static char *
ivfbuildphasename(int64 phasenum)
{
	switch (phasenum)
	{
		case PROGRESS_CREATEIDX_SUBPHASE_INITIALIZE:
			return "initializing";
		case IVF_PHASE_KMEANS:
			return "performing k-means";
		case IVF_PHASE_ASSIGN:
			return "assigning tuples";
		case IVF_PHASE_LOAD:
			return "loading tuples";
		default:
			return NULL;
	}
}

static IndexAmRoutine *
ivf_routine(void)
{
	IndexAmRoutine *am = embed_ordered_am_routine();

	am->ambuild = ivfbuild;
	am->ambuildempty = ivfbuildempty;
	am->aminsert = ivfinsert;
	am->ambulkdelete = ivfbulkdelete;
	am->ambuildphasename = ivfbuildphasename;
	am->ambeginscan = ivfbeginscan;
	am->amrescan = ivfrescan;
	am->amgettuple = ivfgettuple;
	am->amendscan = ivfendscan;
	return am;
}

PG_FUNCTION_INFO_V1(ivfflathandler);
Datum
ivfflathandler(PG_FUNCTION_ARGS)
{
	IndexAmRoutine *am = ivf_routine();

	am->amoptions = ivfflatoptions;
	am->amcostestimate = ivfflatcostestimate;
	PG_RETURN_POINTER(am);
}

PG_FUNCTION_INFO_V1(ivfrabitqhandler);
Datum
ivfrabitqhandler(PG_FUNCTION_ARGS)
{
	IndexAmRoutine *am = ivf_routine();

	am->amoptions = ivfrabitqoptions;
	am->amcostestimate = ivfrabitqcostestimate;
	PG_RETURN_POINTER(am);
}
