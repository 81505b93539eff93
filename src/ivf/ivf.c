/*
 * ivf.c — access method handlers and cost estimation for ivfflat and
 * ivfrabitq: the top of the ivf files (options and settings live in
 * ivfutils.c, which everything else calls).
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "access/amapi.h"
#include "commands/progress.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "utils/rel.h"
#include "utils/selfuncs.h"

#include "ivf.h"

/*
 * Cost.  A scan reads the centroids, then `probes` of the `lists` posting
 * lists in full before the first row comes out, so all of that is startup
 * cost; RaBitQ adds one heap fetch per reranked candidate (a few times the
 * LIMIT, estimated as 4 * 10 here).  Iterative scans may read more lists,
 * costed like the rest of the index.  Without ORDER BY the index is useless,
 * unless it has a range search (range.c): that reads the lists whose cells
 * can reach the ball, guessed here as ten times its selectivity (at least
 * `probes` lists), all before the first row.
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
	if (path->indexclauses != NIL)
		fraction = Min(1.0, Max(fraction, 10 * costs.indexSelectivity));

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
