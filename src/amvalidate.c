/*
 * amvalidate.c — the amvalidate callback of hnsw, ivfflat and ivfrabitq.
 *
 * Why: CREATE OPERATOR CLASS checks almost nothing for these methods (they
 * declare no fixed strategies), so an opclass with a search operator, an
 * ORDER BY operator that returns float4, a cross-type member or no distance
 * function is accepted, and fails later: wrong answers, or a C function
 * called on a value of the wrong type.  amvalidate() — run by hand, by
 * PostgreSQL's own regression tests, and by ours for every shipped opclass —
 * reports each such problem as an INFO message and returns false.
 *
 * What the methods need from an opclass (all three alike, except where
 * EmbedAmRules says otherwise):
 *   - ORDER BY operators (amoppurpose 'o'), strategy numbers
 *     1..norderby, each (type, type) -> float8 (the scan reports its distances
 *     as float8) with a btree sort family that sorts float8;
 *   - search operators only as strategy EMBED_RANGE_STRATEGY, and only
 *     embed's range operators (range.c: (type, vector_ball or halfvec_ball)
 *     -> boolean) that measure the metric of the family's distance function
 *     for that type: the scans read them as a ball to search, in the index's
 *     metric;
 *   - support functions by number as in EmbedProcRule: all arguments the
 *     opclass's type, result float8; the required ones present for every type
 *     that has an operator or an opclass in the family;
 *   - ivfflat and ivfrabitq: support function 1 one of embed's own distances,
 *     since it fixes the metric the lists are clustered for (ivf_metric()):
 *     l2, inner product or cosine on a dense type, or (ivfflat) hamming on bit.
 */
#include "postgres.h"

#include "access/amvalidate.h"
#include "access/htup_details.h"
#include "catalog/pg_am.h"
#include "catalog/pg_amop.h"
#include "catalog/pg_amproc.h"
#include "catalog/pg_opclass.h"
#include "catalog/pg_opfamily.h"
#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/syscache.h"

#include "amutils.h"
#include "range.h"
#include "hnsw/hnsw.h"
#include "ivf/ivf.h"
#include "vector.h"

/* one support function: nargs arguments of the opclass's type -> float8 */
typedef struct EmbedProcRule
{
	int16		number;
	int			nargs;
	bool		required;
	bool		distance;		/* the distance: EmbedAmRules.distances applies */
} EmbedProcRule;

typedef struct EmbedAmRules
{
	const char *amname;
	int16		norderby;		/* ORDER BY strategies 1..norderby, all required */
	const EmbedProcRule *procs;
	int			nprocs;
	uint32		distances;		/* EMBED_METRIC_BIT()s of the metrics the
								 * distance function may compute, on a dense
								 * type (embedtype.h); 0: any function */
} EmbedAmRules;

static const EmbedProcRule hnsw_procs[] = {
	{HNSW_DISTANCE_PROC, 2, true, true},
	{HNSW_NORM_PROC, 1, false, false},
};

static const EmbedProcRule ivf_procs[] = {
	{IVF_DISTANCE_PROC, 2, true, true},
	{IVF_NORM_PROC, 1, false, false},
};

#define IVF_DISTANCES	(EMBED_METRIC_BIT(EMBED_METRIC_L2SQ) | EMBED_METRIC_BIT(EMBED_METRIC_NEG_IP) | \
						 EMBED_METRIC_BIT(EMBED_METRIC_COSINE))

static const EmbedAmRules am_rules[] = {
	{"hnsw", 1, hnsw_procs, lengthof(hnsw_procs), 0},
	/* ivfflat also clusters bit strings by Hamming distance */
	{"ivfflat", 1, ivf_procs, lengthof(ivf_procs), IVF_DISTANCES | EMBED_METRIC_BIT(EMBED_METRIC_HAMMING)},
	{"ivfrabitq", 1, ivf_procs, lengthof(ivf_procs), IVF_DISTANCES},
};

/* the name of an access method (AMOID) or an operator family (OPFAMILYOID) */
static char *
catalog_name(int cacheid, Oid oid)
{
	HeapTuple	tup = SearchSysCache1(cacheid, ObjectIdGetDatum(oid));
	char	   *name;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for object %u of syscache %d", oid, cacheid);
	if (cacheid == AMOID)
		name = pstrdup(NameStr(((Form_pg_am) GETSTRUCT(tup))->amname));
	else
		name = pstrdup(NameStr(((Form_pg_opfamily) GETSTRUCT(tup))->opfname));
	ReleaseSysCache(tup);
	return name;
}

static const EmbedProcRule *
find_proc_rule(const EmbedAmRules *rules, int number)
{
	for (int i = 0; i < rules->nprocs; i++)
		if (rules->procs[i].number == number)
			return &rules->procs[i];
	return NULL;
}

/* does the family hold support function `number` for (type, type)? */
static bool
family_has_proc(CatCList *procs, Oid type, int number)
{
	for (int i = 0; i < procs->n_members; i++)
	{
		Form_pg_amproc p = (Form_pg_amproc) GETSTRUCT(&procs->members[i]->tuple);

		if (p->amprocnum == number && p->amproclefttype == type &&
			p->amprocrighttype == type)
			return true;
	}
	return false;
}

/* does the family hold ORDER BY strategy `strategy` for (type, type)? */
static bool
family_has_operator(CatCList *oprs, Oid type, int strategy)
{
	for (int i = 0; i < oprs->n_members; i++)
	{
		Form_pg_amop o = (Form_pg_amop) GETSTRUCT(&oprs->members[i]->tuple);

		if (o->amopstrategy == strategy && o->amoppurpose == AMOP_ORDER &&
			o->amoplefttype == type &&
			o->amoprighttype == type)
			return true;
	}
	return false;
}

/* is the function one of the distances the method accepts? */
static bool
distance_allowed(Oid funcid, uint32 allowed)
{
	FmgrInfo	flinfo;
	EmbedOpclass oc;

	if (allowed == 0)
		return true;
	/* what the method itself does when it opens the index */
	fmgr_info(funcid, &flinfo);
	oc = embed_opclass_of(&flinfo);
	/* values the engine can decode to float32: dense types, and bit */
	return oc.type != NULL && oc.type->to_float != NULL &&
		(allowed & oc.type->metrics & EMBED_METRIC_BIT(oc.metric)) != 0;
}

/* the metric of the family's distance support function for a type */
static EmbedMetric
family_distance_metric(CatCList *procs, Oid type)
{
	for (int i = 0; i < procs->n_members; i++)
	{
		Form_pg_amproc p = (Form_pg_amproc) GETSTRUCT(&procs->members[i]->tuple);

		if (p->amprocnum == 1 && p->amproclefttype == type && p->amprocrighttype == type)
		{
			FmgrInfo	flinfo;

			fmgr_info(p->amproc, &flinfo);
			return embed_opclass_of(&flinfo).metric;
		}
	}
	return EMBED_METRIC_NONE;
}

/* a search operator: one of embed's range operators, in the family's metric */
static bool
check_range_operator(const EmbedAmRules *rules, const char *family, CatCList *procs,
					 Form_pg_amop o)
{
	FmgrInfo	flinfo;
	EmbedMetric metric;

	fmgr_info(get_opcode(o->amopopr), &flinfo);
	metric = embed_range_func_metric(flinfo.fn_addr);
	if (o->amopstrategy != EMBED_RANGE_STRATEGY || metric == EMBED_METRIC_NONE ||
		!check_amop_signature(o->amopopr, BOOLOID, o->amoplefttype, o->amoprighttype))
	{
		ereport(INFO,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("operator family \"%s\" of access method %s contains search operator %s; only embed's range operators are supported, as strategy %d",
						family, rules->amname, format_operator(o->amopopr),
						EMBED_RANGE_STRATEGY)));
		return false;
	}
	if (metric != family_distance_metric(procs, o->amoplefttype))
	{
		ereport(INFO,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("operator family \"%s\" of access method %s contains range operator %s, which measures %s distance, not the distance of its support function 1",
						family, rules->amname, format_operator(o->amopopr),
						embed_metric_name(metric))));
		return false;
	}
	return true;
}

/* the required members for one data type of the family */
static bool
check_type_complete(const EmbedAmRules *rules, const char *family, CatCList *oprs,
					CatCList *procs, Oid type)
{
	bool		ok = true;

	for (int s = 1; s <= rules->norderby; s++)
		if (!family_has_operator(oprs, type, s))
		{
			ereport(INFO,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("operator family \"%s\" of access method %s has no ORDER BY operator of strategy %d for type %s",
							family, rules->amname, s, format_type_be(type))));
			ok = false;
		}
	for (int i = 0; i < rules->nprocs; i++)
		if (rules->procs[i].required &&
			!family_has_proc(procs, type, rules->procs[i].number))
		{
			ereport(INFO,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("operator family \"%s\" of access method %s has no support function %d for type %s",
							family, rules->amname, rules->procs[i].number,
							format_type_be(type))));
			ok = false;
		}
	return ok;
}

bool
embed_amvalidate(Oid opclassoid)
{
	HeapTuple	classtup;
	Form_pg_opclass classform;
	Oid			opfamilyoid;
	Oid			opcintype;
	char	   *amname;
	char	   *family;
	const EmbedAmRules *rules = NULL;
	CatCList   *oprs;
	CatCList   *procs;
	List	   *types;
	ListCell   *lc;
	bool		ok = true;

	classtup = SearchSysCache1(CLAOID, ObjectIdGetDatum(opclassoid));
	if (!HeapTupleIsValid(classtup))
		elog(ERROR, "cache lookup failed for operator class %u", opclassoid);
	classform = (Form_pg_opclass) GETSTRUCT(classtup);
	opfamilyoid = classform->opcfamily;
	opcintype = classform->opcintype;
	amname = catalog_name(AMOID, classform->opcmethod);

	family = catalog_name(OPFAMILYOID, opfamilyoid);

	for (size_t i = 0; i < lengthof(am_rules); i++)
		if (strcmp(am_rules[i].amname, amname) == 0)
			rules = &am_rules[i];
	if (rules == NULL)
	{
		/* another access method borrowed embed's handler template */
		ereport(INFO,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("access method %s of operator class \"%s\" is not one embed knows",
						amname, NameStr(classform->opcname))));
		ReleaseSysCache(classtup);
		return false;
	}

	types = list_make1_oid(opcintype);
	oprs = SearchSysCacheList1(AMOPSTRATEGY, ObjectIdGetDatum(opfamilyoid));
	procs = SearchSysCacheList1(AMPROCNUM, ObjectIdGetDatum(opfamilyoid));

	/* support functions */
	for (int i = 0; i < procs->n_members; i++)
	{
		Form_pg_amproc p = (Form_pg_amproc) GETSTRUCT(&procs->members[i]->tuple);
		const EmbedProcRule *rule = find_proc_rule(rules, p->amprocnum);
		bool		sig;

		if (rule == NULL)
		{
			ereport(INFO,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("operator family \"%s\" of access method %s contains function %s with invalid support number %d",
							family, rules->amname, format_procedure(p->amproc),
							p->amprocnum)));
			ok = false;
			continue;
		}
		/* the methods call it on the column's values and the query only */
		if (p->amproclefttype != p->amprocrighttype)
		{
			ereport(INFO,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("operator family \"%s\" of access method %s contains cross-type support function %s for types %s and %s",
							family, rules->amname, format_procedure(p->amproc),
							format_type_be(p->amproclefttype),
							format_type_be(p->amprocrighttype))));
			ok = false;
			continue;
		}
		if (rule->nargs == 2)
			sig = check_amproc_signature(p->amproc, FLOAT8OID, true, 2, 2,
										 p->amproclefttype, p->amproclefttype);
		else
			sig = check_amproc_signature(p->amproc, FLOAT8OID, true, 1, 1,
										 p->amproclefttype);
		if (!sig)
		{
			ereport(INFO,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("operator family \"%s\" of access method %s contains function %s with wrong signature for support number %d (expected %d argument%s of type %s returning double precision)",
							family, rules->amname, format_procedure(p->amproc),
							p->amprocnum, rule->nargs, rule->nargs == 1 ? "" : "s",
							format_type_be(p->amproclefttype))));
			ok = false;
			continue;
		}
		if (rule->distance && !distance_allowed(p->amproc, rules->distances))
		{
			ereport(INFO,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("operator family \"%s\" of access method %s contains function %s as support function %d, which is not one of embed's squared L2, negative inner product or cosine distances",
							family, rules->amname, format_procedure(p->amproc),
							p->amprocnum)));
			ok = false;
		}
	}

	/* operators */
	for (int i = 0; i < oprs->n_members; i++)
	{
		Form_pg_amop o = (Form_pg_amop) GETSTRUCT(&oprs->members[i]->tuple);
		Oid			rettype;

		if (o->amoppurpose == AMOP_SEARCH)
		{
			if (!check_range_operator(rules, family, procs, o))
				ok = false;
			continue;
		}
		if (o->amopstrategy < 1 || o->amopstrategy > rules->norderby)
		{
			ereport(INFO,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("operator family \"%s\" of access method %s contains operator %s with invalid strategy number %d",
							family, rules->amname, format_operator(o->amopopr),
							o->amopstrategy)));
			ok = false;
		}
		if (o->amoplefttype != o->amoprighttype)
		{
			ereport(INFO,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("operator family \"%s\" of access method %s contains cross-type operator %s",
							family, rules->amname, format_operator(o->amopopr))));
			ok = false;
			continue;
		}
		rettype = get_op_rettype(o->amopopr);
		if (!check_amop_signature(o->amopopr, FLOAT8OID, o->amoplefttype, o->amoprighttype))
		{
			ereport(INFO,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("operator family \"%s\" of access method %s contains ORDER BY operator %s returning %s, not double precision",
							family, rules->amname, format_operator(o->amopopr),
							format_type_be(rettype))));
			ok = false;
		}
		if (!opfamily_can_sort_type(o->amopsortfamily, rettype))
		{
			ereport(INFO,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("operator family \"%s\" of access method %s contains ORDER BY operator %s whose sort family cannot sort type %s",
							family, rules->amname, format_operator(o->amopopr),
							format_type_be(rettype))));
			ok = false;
		}
		types = list_append_unique_oid(types, o->amoplefttype);
	}

	/*
	 * Completeness, for the opclass's type and for every type the family has
	 * an ORDER BY operator for (a scan with that operator calls support
	 * function 1 on two values of that type).
	 */
	foreach(lc, types)
	{
		if (!check_type_complete(rules, family, oprs, procs, lfirst_oid(lc)))
			ok = false;
	}

	ReleaseCatCacheList(procs);
	ReleaseCatCacheList(oprs);
	ReleaseSysCache(classtup);
	return ok;
}
