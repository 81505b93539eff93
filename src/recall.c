/*
 * recall.c — embed_index_recall(index, queries, k): how close an approximate
 * index's answers are to exact ones, measured on the index's own data.
 *
 * `queries` rows are drawn from the table (reservoir sample) and used as
 * query vectors.  For each, the index returns its first k visible rows
 * (through the same access method calls a query plan makes, under the
 * current settings such as hnsw.ef_search or ivfflat.probes), and one heap
 * pass computes every query's exact k nearest.  Recall@k is the share of the
 * index's rows whose distance is within the exact k-th distance (so ties do
 * not count against the index), averaged over the queries.  Costs one heap
 * pass plus `queries` index scans.
 */
#include "postgres.h"

#include <math.h>

#include "access/amapi.h"
#include "access/genam.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/index.h"
#include "catalog/pg_am.h"
#include "catalog/pg_opclass.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"

#include "embedtype.h"

/* a bounded max-heap of the k smallest distances seen */
typedef struct TopK
{
	int			n;
	double	   *d;
} TopK;

static void
topk_add(TopK *t, int k, double d)
{
	int			i;

	if (isnan(d))
		return;
	if (t->n < k)
	{
		i = t->n++;
		while (i > 0 && t->d[(i - 1) / 2] < d)
		{
			t->d[i] = t->d[(i - 1) / 2];
			i = (i - 1) / 2;
		}
		t->d[i] = d;
		return;
	}
	if (d >= t->d[0])
		return;
	/* replace the largest and sift down */
	i = 0;
	for (;;)
	{
		int			l = 2 * i + 1,
					m = l;

		if (l >= t->n)
			break;
		if (l + 1 < t->n && t->d[l + 1] > t->d[l])
			m = l + 1;
		if (t->d[m] <= d)
			break;
		t->d[i] = t->d[m];
		i = m;
	}
	t->d[i] = d;
}

PG_FUNCTION_INFO_V1(embed_index_recall);
Datum
embed_index_recall(PG_FUNCTION_ARGS)
{
	Oid			indexoid = PG_GETARG_OID(0);
	int			nq = PG_GETARG_INT32(1);
	int			k = PG_GETARG_INT32(2);
	Oid			heapoid;
	Relation	heap,
				index;
	IndexInfo  *ii;
	AttrNumber	attnum;
	Oid			opfamily,
				opcintype,
				op,
				collation;
	FmgrInfo	dist;
	EmbedOpclass oc;
	Snapshot	snapshot;
	TableScanDesc hscan;
	TupleTableSlot *slot;
	Datum	   *queries;
	TopK	   *exact;
	double		seen = 0,
				total = 0;
	int			nsample = 0;
	uint64		rng = 0x243F6A8885A308D3;

	if (nq < 1 || nq > 10000 || k < 1 || k > 10000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("queries and k must be between 1 and 10000")));

	heapoid = IndexGetRelation(indexoid, true);
	if (!OidIsValid(heapoid))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not an index",
						get_rel_name(indexoid) ? get_rel_name(indexoid) : "?")));
	if (pg_class_aclcheck(heapoid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for table %s", get_rel_name(heapoid))));

	/*
	 * The sample and the exact pass read every row, and the index scans see
	 * every row: under row-level security that is more than the caller may
	 * see, so such a table is refused (its owner, a superuser or a role with
	 * BYPASSRLS, for whom no policy applies, may go on).
	 */
	if (check_enable_rls(heapoid, InvalidOid, true) == RLS_ENABLED)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("embed_index_recall cannot measure table \"%s\": row-level security applies to the current user",
						get_rel_name(heapoid)),
				 errhint("Run it as the table's owner or as a role with BYPASSRLS.")));

	heap = table_open(heapoid, AccessShareLock);
	index = index_open(indexoid, AccessShareLock);
	ii = BuildIndexInfo(index);
	attnum = ii->ii_IndexAttrNumbers[0];
	if (ii->ii_NumIndexAttrs != 1 || attnum == 0 || !index->rd_indam->amcanorderbyop)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("embed_index_recall needs a single-column ordering index on a table column")));

	/* the opclass's ORDER BY operator, strategy 1 */
	opfamily = index->rd_opfamily[0];
	opcintype = index->rd_opcintype[0];
	collation = index->rd_indcollation[0];
	op = get_opfamily_member(opfamily, opcintype, opcintype, 1);
	if (!OidIsValid(op))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("index \"%s\" has no ordering operator", RelationGetRelationName(index))));
	fmgr_info(get_opcode(op), &dist);
	/*
	 * The exact pass computes nsample distances per row: through the type
	 * layer, with the opclass's own kernel, when its distance function is
	 * one of embed's (the operator's value is that distance, or its root
	 * for L2); otherwise through the operator.
	 */
	oc = embed_opclass_of(index_getprocinfo(index, 1, 1));

	snapshot = RegisterSnapshot(GetTransactionSnapshot());
	slot = table_slot_create(heap, NULL);
	queries = palloc0(sizeof(Datum) * nq);
	exact = palloc0(sizeof(TopK) * nq);

	/* pass 1: a uniform sample of non-null values as queries */
	hscan = table_beginscan(heap, snapshot, 0, NULL);
	while (table_scan_getnextslot(hscan, ForwardScanDirection, slot))
	{
		bool		isnull;
		Datum		v = slot_getattr(slot, attnum, &isnull);
		int			at;

		CHECK_FOR_INTERRUPTS();
		if (isnull)
			continue;
		if (nsample < nq)
			at = nsample++;
		else
		{
			rng ^= rng << 13;
			rng ^= rng >> 7;
			rng ^= rng << 17;
			at = (int) (rng % (uint64) (seen + 1));
			if (at >= nq)
				at = -1;
		}
		if (at >= 0)
		{
			if (queries[at])
				pfree(DatumGetPointer(queries[at]));
			queries[at] = PointerGetDatum(PG_DETOAST_DATUM_COPY(v));
		}
		seen++;
	}
	table_endscan(hscan);
	if (nsample == 0)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("table \"%s\" has no rows to query", RelationGetRelationName(heap))));

	/* pass 2: exact k nearest of every query */
	for (int q = 0; q < nsample; q++)
		exact[q].d = palloc(sizeof(double) * k);
	hscan = table_beginscan(heap, snapshot, 0, NULL);
	while (table_scan_getnextslot(hscan, ForwardScanDirection, slot))
	{
		bool		isnull;
		Datum		v = slot_getattr(slot, attnum, &isnull);

		CHECK_FOR_INTERRUPTS();
		if (isnull)
			continue;
		/* detoast once per row, not once per query */
		{
			Datum		dv = PointerGetDatum(PG_DETOAST_DATUM(v));

			for (int q = 0; q < nsample; q++)
			{
				double		d;

				if (oc.type != NULL && embed_distance_direct(oc, queries[q], dv, &d))
					d = embed_metric_order_value(oc.metric, d);
				else
					d = DatumGetFloat8(FunctionCall2Coll(&dist, collation, queries[q], dv));
				topk_add(&exact[q], k, d);
			}
			if (DatumGetPointer(dv) != DatumGetPointer(v))
				pfree(DatumGetPointer(dv));
		}
	}
	table_endscan(hscan);

	/* the index's answers, as a plan would get them */
	for (int q = 0; q < nsample; q++)
	{
		IndexScanDesc iscan;
		ScanKeyData key;
		double		kth = 0;
		int			got = 0,
					hit = 0;

		for (int i = 0; i < exact[q].n; i++)
			kth = Max(kth, exact[q].d[i]);
		ScanKeyEntryInitialize(&key, 0, 1, 1, InvalidOid, collation, get_opcode(op), queries[q]);
#if PG_VERSION_NUM >= 180000
		iscan = index_beginscan(heap, index, snapshot, NULL, 0, 1);
#else
		iscan = index_beginscan(heap, index, snapshot, 0, 1);
#endif
		index_rescan(iscan, NULL, 0, &key, 1);
		while (got < k && index_getnext_slot(iscan, ForwardScanDirection, slot))
		{
			bool		isnull;
			Datum		v = slot_getattr(slot, attnum, &isnull);

			CHECK_FOR_INTERRUPTS();
			if (isnull)
				continue;
			got++;
			/* the same computation as the exact pass, so ties compare equal */
			{
				Datum		dv = PointerGetDatum(PG_DETOAST_DATUM(v));
				double		d;

				if (oc.type != NULL && embed_distance_direct(oc, queries[q], dv, &d))
					d = embed_metric_order_value(oc.metric, d);
				else
					d = DatumGetFloat8(FunctionCall2Coll(&dist, collation, queries[q], dv));
				if (d <= kth)
					hit++;
			}
		}
		index_endscan(iscan);
		total += exact[q].n > 0 ? (double) Min(hit, exact[q].n) / exact[q].n : 1.0;
	}

	ExecDropSingleTupleTableSlot(slot);
	UnregisterSnapshot(snapshot);
	index_close(index, AccessShareLock);
	table_close(heap, AccessShareLock);
	PG_RETURN_FLOAT8(total / nsample);
}
