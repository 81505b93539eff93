/*
 * range.h — range search: "every row within distance r of q" through an
 * index.  The operators `col <<->> vector_ball(q, r)` (and <<=>>, <<#>>,
 * <<+>> for the other metrics; halfvec_ball for halfvec) are strategy 2
 * search operators of the vector and halfvec opclasses of hnsw, ivfflat and
 * ivfrabitq; a scan that gets one as a
 * scan key reads until nothing within r can remain (see README, "Range
 * search").  This header is what the scans and amvalidate share.
 */
#ifndef EMBED_RANGE_H
#define EMBED_RANGE_H

#include "access/genam.h"
#include "access/relscan.h"
#include "fmgr.h"

#include "embedtype.h"

/* the strategy number of the range operators in every opclass that has one */
#define EMBED_RANGE_STRATEGY	2

/* A scan's range condition, from its scan keys. */
typedef struct EmbedRange
{
	bool		present;		/* a range key was given */
	bool		empty;			/* NULL ball, center or radius: no row qualifies */
	Datum		center;			/* detoasted copy */
	double		radius;			/* in the operator's units (L2: not squared) */
	EmbedMetric metric;			/* what the operator measures */
} EmbedRange;

/*
 * Read the range keys of a scan (call after the keys are copied into
 * scan->keyData).  With several, the smallest radius with the same center
 * as the first is used; the executor rechecks all of them anyway.
 */
extern void embed_range_from_keys(IndexScanDesc scan, MemoryContext ctx, EmbedRange *range);

/* the metric of a range operator's function, EMBED_METRIC_NONE if not one */
extern EmbedMetric embed_range_func_metric(PGFunction fn);

/*
 * The radius in the index's internal distance units (squared for L2), with
 * a little slack for float rounding: the scans return a superset and the
 * executor rechecks every row with the operator itself.
 */
extern double embed_range_internal_radius(EmbedMetric metric, double radius);

/* ERROR unless the index's metric is the range operator's */
extern void embed_range_check_metric(Relation index, EmbedRange *range, EmbedMetric index_metric);

/* ERROR unless the ORDER BY query and the range center are the same vector */
extern void embed_range_check_center(EmbedRange *range, Datum query);

#endif
