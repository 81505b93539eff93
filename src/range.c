/*
 * range.c — range search through the indexes: the range operators and what
 * the scans need to read their keys.
 *
 * Why an operator on a (center, radius) pair and not `col <-> q < r`: an
 * index can only be handed `indexed column OPERATOR value` as a scan key,
 * and in `(col <-> q) < r` the column sits inside the distance, under the
 * comparison's own operator, which PostgreSQL's planner does not offer to an
 * index.  `col <<->> vector_ball(q, r)` is such a clause: a strategy 2 search
 * operator of the opclass (strategy 1 is the ORDER BY distance).  The scan
 * gets the ball as a scan key and stops reading once nothing within r can
 * remain, so the result is not capped by ef_search or probes; with
 * `ORDER BY col <-> q` on the same q the rows also come out closest first.
 * The executor rechecks every row with the operator itself, so an index's
 * approximate distances (half precision, RaBitQ estimates) only have to be
 * lower bounds of the true ones.
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "executor/executor.h"
#include "funcapi.h"
#include "utils/rel.h"

#include "range.h"

/* the distance functions of the vector operators (vector.c) */
extern Datum vector_l2_distance(PG_FUNCTION_ARGS);
extern Datum vector_negative_inner_product(PG_FUNCTION_ARGS);
extern Datum vector_cosine_distance(PG_FUNCTION_ARGS);
extern Datum vector_l1_distance(PG_FUNCTION_ARGS);
extern Datum halfvec_l2_distance(PG_FUNCTION_ARGS);
extern Datum halfvec_negative_inner_product(PG_FUNCTION_ARGS);
extern Datum halfvec_cosine_distance(PG_FUNCTION_ARGS);
extern Datum halfvec_l1_distance(PG_FUNCTION_ARGS);

/*
 * The center and radius of a ball; false if either is NULL (the operator is
 * then NULL: no row is within a NULL distance).  A NaN radius is an error:
 * as a float8, NaN sorts above every number, so `d <= NaN` would hold for
 * every row while the C comparison in the scans says the opposite.
 */
static bool
ball_fields(HeapTupleHeader ball, Datum *center, double *radius)
{
	bool		isnull;
	Datum		c,
				r;

	c = GetAttributeByNum(ball, 1, &isnull);
	if (isnull)
		return false;
	r = GetAttributeByNum(ball, 2, &isnull);
	if (isnull)
		return false;
	*radius = DatumGetFloat8(r);
	if (isnan(*radius))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the radius of a range search must not be NaN")));
	*center = c;
	return true;
}

/*
 * vector_ball(center, radius), and halfvec_ball: the composite, built here rather than by a SQL
 * function (`ROW($1, $2)::vector_ball` would look the type up through the
 * caller's search_path).  Not strict, like ROW(): a NULL field makes the
 * range operators NULL.  Immutable, so the planner folds a call with constant
 * arguments into a constant scan key.
 */
PG_FUNCTION_INFO_V1(vector_ball);
Datum
vector_ball(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[2];
	bool		nulls[2];

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "vector_ball must return a row type");
	tupdesc = BlessTupleDesc(tupdesc);
	for (int i = 0; i < 2; i++)
	{
		nulls[i] = PG_ARGISNULL(i);
		values[i] = nulls[i] ? (Datum) 0 : PG_GETARG_DATUM(i);
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/* a <op> ball: the distance as the ORDER BY operator computes it, <= radius */
static Datum
range_op(FunctionCallInfo fcinfo, PGFunction distance)
{
	Datum		a = PG_GETARG_DATUM(0);
	HeapTupleHeader ball = PG_GETARG_HEAPTUPLEHEADER(1);
	Datum		center;
	double		radius,
				d;

	if (!ball_fields(ball, &center, &radius))
		PG_RETURN_NULL();
	d = DatumGetFloat8(DirectFunctionCall2(distance, a, center));
	/* NaN (a zero vector under cosine) is within no radius */
	PG_RETURN_BOOL(d <= radius);
}

PG_FUNCTION_INFO_V1(vector_l2_within);
Datum
vector_l2_within(PG_FUNCTION_ARGS)
{
	return range_op(fcinfo, vector_l2_distance);
}

PG_FUNCTION_INFO_V1(vector_negative_inner_product_within);
Datum
vector_negative_inner_product_within(PG_FUNCTION_ARGS)
{
	return range_op(fcinfo, vector_negative_inner_product);
}

PG_FUNCTION_INFO_V1(vector_cosine_within);
Datum
vector_cosine_within(PG_FUNCTION_ARGS)
{
	return range_op(fcinfo, vector_cosine_distance);
}

PG_FUNCTION_INFO_V1(vector_l1_within);
Datum
vector_l1_within(PG_FUNCTION_ARGS)
{
	return range_op(fcinfo, vector_l1_distance);
}

/* the same on halfvec, with a halfvec_ball (center halfvec) */
PG_FUNCTION_INFO_V1(halfvec_l2_within);
Datum
halfvec_l2_within(PG_FUNCTION_ARGS)
{
	return range_op(fcinfo, halfvec_l2_distance);
}

PG_FUNCTION_INFO_V1(halfvec_negative_inner_product_within);
Datum
halfvec_negative_inner_product_within(PG_FUNCTION_ARGS)
{
	return range_op(fcinfo, halfvec_negative_inner_product);
}

PG_FUNCTION_INFO_V1(halfvec_cosine_within);
Datum
halfvec_cosine_within(PG_FUNCTION_ARGS)
{
	return range_op(fcinfo, halfvec_cosine_distance);
}

PG_FUNCTION_INFO_V1(halfvec_l1_within);
Datum
halfvec_l1_within(PG_FUNCTION_ARGS)
{
	return range_op(fcinfo, halfvec_l1_distance);
}

EmbedMetric
embed_range_func_metric(PGFunction fn)
{
	if (fn == vector_l2_within || fn == halfvec_l2_within)
		return EMBED_METRIC_L2SQ;
	if (fn == vector_negative_inner_product_within || fn == halfvec_negative_inner_product_within)
		return EMBED_METRIC_NEG_IP;
	if (fn == vector_cosine_within || fn == halfvec_cosine_within)
		return EMBED_METRIC_COSINE;
	if (fn == vector_l1_within || fn == halfvec_l1_within)
		return EMBED_METRIC_L1;
	return EMBED_METRIC_NONE;
}

double
embed_range_internal_radius(EmbedMetric metric, double radius)
{
	double		r = radius;

	if (metric == EMBED_METRIC_L2SQ)
	{
		if (radius < 0)
			return -1;			/* no squared distance is below 0 */
		r = radius * radius;
	}
	if (isinf(r))
		return r;
	/* float32 kernels may round a distance on the boundary either way */
	return r + fabs(r) * 1e-5 + 1e-6;
}

static bool
same_vector(Datum a, Datum b)
{
	return VARSIZE_ANY(DatumGetPointer(a)) == VARSIZE_ANY(DatumGetPointer(b)) &&
		memcmp(DatumGetPointer(a), DatumGetPointer(b), VARSIZE_ANY(DatumGetPointer(a))) == 0;
}

void
embed_range_from_keys(IndexScanDesc scan, MemoryContext ctx, EmbedRange *range)
{
	memset(range, 0, sizeof(EmbedRange));
	range->metric = EMBED_METRIC_NONE;
	for (int i = 0; i < scan->numberOfKeys; i++)
	{
		ScanKey		key = &scan->keyData[i];
		EmbedMetric metric;
		Datum		center;
		double		radius;

		if (key->sk_strategy != EMBED_RANGE_STRATEGY)
			elog(ERROR, "unexpected strategy %d in a scan key of index \"%s\"",
				 key->sk_strategy, RelationGetRelationName(scan->indexRelation));
		metric = embed_range_func_metric(key->sk_func.fn_addr);
		if (metric == EMBED_METRIC_NONE)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("index \"%s\" has a search operator that is not one of embed's range operators",
							RelationGetRelationName(scan->indexRelation))));
		if ((key->sk_flags & SK_ISNULL) ||
			!ball_fields(DatumGetHeapTupleHeader(key->sk_argument), &center, &radius))
		{
			range->present = true;
			range->empty = true;
			continue;
		}
		if (!range->present || range->metric == EMBED_METRIC_NONE)
		{
			MemoryContext old = MemoryContextSwitchTo(ctx);

			range->center = PointerGetDatum(PG_DETOAST_DATUM_COPY(center));
			MemoryContextSwitchTo(old);
			range->radius = radius;
			range->metric = metric;
		}
		else
		{
			struct varlena *c = PG_DETOAST_DATUM(center);

			if (metric == range->metric && radius < range->radius &&
				same_vector(PointerGetDatum(c), range->center))
				range->radius = radius;
		}
		range->present = true;
	}
}

void
embed_range_check_metric(Relation index, EmbedRange *range, EmbedMetric index_metric)
{
	if (range->present && !range->empty && range->metric != index_metric)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("index \"%s\" measures %s distance, its range operator %s",
						RelationGetRelationName(index), embed_metric_name(index_metric),
						embed_metric_name(range->metric))));
}

void
embed_range_check_center(EmbedRange *range, Datum query)
{
	if (range->present && !range->empty && !same_vector(range->center, query))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("an index range search must be ordered by the distance to its own center"),
				 errhint("ORDER BY the distance to the vector given to vector_ball(), or leave out ORDER BY.")));
}
