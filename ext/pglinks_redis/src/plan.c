/*
 * Planning: which keys a scan reads.
 *
 * A clause "key = X" or "key = ANY(X)" (IN lists too), where X does not
 * involve the foreign table and is not volatile, is pushed down: at run time
 * X is evaluated and only its keys are read (GET/MGET, HGETALL, ...). When X
 * uses columns of other tables, the scan gets a parameterized path, so a
 * nested loop driven from the PostgreSQL side reads one key per outer row
 * instead of scanning the keyspace; this covers join clauses that became
 * equivalence classes (r.key = CONCAT('widget:', w.id)) and outer-join
 * clauses alike. Everything else is a SCAN of the key prefix, with the other
 * conditions checked locally.
 *
 * A scan's cost assumes it reads max_keys keys, one round trip's worth each,
 * since the size of the keyspace is unknown: so a join prefers a key lookup
 * per outer row for outer sides smaller than max_keys.
 */
#include "pglinks_redis.h"

#include <math.h>

#include "catalog/pg_operator_d.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/paths.h"
#include "optimizer/planmain.h"
#include "optimizer/restrictinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#define REDIS_ROUND_TRIP_COST 1.0
#define REDIS_SCAN_KEY_COST 1.0
#define REDIS_SCAN_STARTUP_COST 10.0
#define DEFAULT_SCAN_ROWS 1000.0
/* Rows per key of the collection types, for estimates. */
#define ROWS_PER_COLLECTION 10.0
/* Keys of an array whose size is known only at run time. */
#define DEFAULT_ARRAY_KEYS 10.0

typedef struct KeyClause
{
	RestrictInfo *rinfo;
	Expr	   *expr;			/* what the key equals, or the array */
	RedisKeySource source;
	int			nkeys;			/* keys of a constant, -1 if not known */
} KeyClause;

typedef struct RedisRelInfo
{
	RedisTable *table;
	bool		have_key;
	KeyClause	key;			/* among the base restrictions */
	List	   *local_conds;	/* the other base restrictions */
} RedisRelInfo;

static Node *
strip_relabel(Node *n)
{
	while (n && IsA(n, RelabelType))
		n = (Node *) ((RelabelType *) n)->arg;
	return n;
}

static bool
is_key_var(Node *n, RelOptInfo *rel, RedisTable *t)
{
	Var		   *v;

	n = strip_relabel(n);
	if (n == NULL || !IsA(n, Var))
		return false;
	v = (Var *) n;
	return v->varno == rel->relid && v->varlevelsup == 0 &&
		v->varattno == t->attnum[RC_KEY];
}

/* X may be evaluated before the scan: it does not read the table itself. */
static bool
evaluable(PlannerInfo *root, RelOptInfo *rel, Expr *x)
{
	return !bms_is_member(rel->relid, pull_varnos(root, (Node *) x)) &&
		!contain_volatile_functions((Node *) x);
}

/* Redis compares keys byte for byte: so must the clause's collation. */
static bool
bytewise(Oid collid)
{
	return !OidIsValid(collid) || get_collation_isdeterministic(collid);
}

static bool
key_clause(PlannerInfo *root, RelOptInfo *rel, RedisTable *t, Expr *clause,
		   KeyClause *kc)
{
	memset(kc, 0, sizeof(*kc));
	if (IsA(clause, OpExpr))
	{
		OpExpr	   *op = (OpExpr *) clause;
		Node	   *other;

		if (op->opno != TextEqualOperator || list_length(op->args) != 2 ||
			!bytewise(op->inputcollid))
			return false;
		if (is_key_var(linitial(op->args), rel, t))
			other = lsecond(op->args);
		else if (is_key_var(lsecond(op->args), rel, t))
			other = linitial(op->args);
		else
			return false;
		if (!evaluable(root, rel, (Expr *) other))
			return false;
		kc->expr = (Expr *) other;
		kc->source = RK_ONE;
		kc->nkeys = 1;
		return true;
	}
	if (IsA(clause, ScalarArrayOpExpr))
	{
		ScalarArrayOpExpr *sa = (ScalarArrayOpExpr *) clause;
		Node	   *arr;

		if (!sa->useOr || sa->opno != TextEqualOperator ||
			list_length(sa->args) != 2 || !bytewise(sa->inputcollid) ||
			!is_key_var(linitial(sa->args), rel, t))
			return false;
		arr = lsecond(sa->args);
		if (!evaluable(root, rel, (Expr *) arr))
			return false;
		kc->expr = (Expr *) arr;
		kc->source = RK_ARRAY;
		kc->nkeys = -1;
		arr = strip_relabel(arr);
		if (IsA(arr, Const) && !((Const *) arr)->constisnull)
		{
			ArrayType  *a = DatumGetArrayTypeP(((Const *) arr)->constvalue);

			kc->nkeys = ArrayGetNItems(ARR_NDIM(a), ARR_DIMS(a));
		}
		else if (IsA(arr, ArrayExpr))
			kc->nkeys = list_length(((ArrayExpr *) arr)->elements);
		return true;
	}
	return false;
}

/* One key beats many; fewer known keys beat more or unknown. */
static bool
better(const KeyClause *a, const KeyClause *b)
{
	if (a->source != b->source)
		return a->source == RK_ONE;
	if (a->nkeys < 0)
		return false;
	return b->nkeys < 0 || a->nkeys < b->nkeys;
}

static double
lookup_keys(const KeyClause *kc)
{
	if (kc->source == RK_ONE)
		return 1;
	return kc->nkeys >= 0 ? kc->nkeys : DEFAULT_ARRAY_KEYS;
}

static double
rows_per_key(RedisTable *t)
{
	return t->type == RT_STRING ? 1.0 : ROWS_PER_COLLECTION;
}

static void
scan_cost(RedisTable *t, double rows, Cost *startup, Cost *total)
{
	*startup = REDIS_SCAN_STARTUP_COST;
	*total = *startup + t->max_keys * REDIS_SCAN_KEY_COST + rows * cpu_tuple_cost;
}

static void
lookup_cost(RedisTable *t, double keys, double rows, Cost *startup, Cost *total)
{
	double		round_trips = ceil(keys / t->batch_size);

	*startup = 0;
	*total = Max(round_trips, 1) * REDIS_ROUND_TRIP_COST + keys * cpu_operator_cost +
		rows * cpu_tuple_cost;
}

void
redisGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	RedisRelInfo *ri = palloc0(sizeof(RedisRelInfo));
	ListCell   *lc;
	double		rows;

	ri->table = redis_table_by_oid(foreigntableid, true);
	foreach(lc, baserel->baserestrictinfo)
	{
		RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);
		KeyClause	kc;

		if (key_clause(root, baserel, ri->table, rinfo->clause, &kc) &&
			(!ri->have_key || better(&kc, &ri->key)))
		{
			if (ri->have_key)
				ri->local_conds = lappend(ri->local_conds, ri->key.rinfo);
			kc.rinfo = rinfo;
			ri->key = kc;
			ri->have_key = true;
			continue;
		}
		ri->local_conds = lappend(ri->local_conds, rinfo);
	}

	if (ri->have_key)
		rows = lookup_keys(&ri->key) * rows_per_key(ri->table);
	else
		rows = DEFAULT_SCAN_ROWS;
	baserel->tuples = rows;
	baserel->rows = clamp_row_est(rows * clauselist_selectivity(root, ri->local_conds,
																baserel->relid,
																JOIN_INNER, NULL));
	baserel->fdw_private = ri;
}

typedef struct KeyMatchArg
{
	RedisTable *table;
} KeyMatchArg;

static bool
ec_member_is_key(PlannerInfo *root, RelOptInfo *rel, EquivalenceClass *ec,
				 EquivalenceMember *em, void *arg)
{
	return is_key_var((Node *) em->em_expr, rel, ((KeyMatchArg *) arg)->table);
}

void
redisGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	RedisRelInfo *ri = baserel->fdw_private;
	RedisTable *t = ri->table;
	Cost		startup,
				total;
	List	   *candidates = NIL;
	ListCell   *lc;

	if (ri->have_key)
		lookup_cost(t, lookup_keys(&ri->key), baserel->rows, &startup, &total);
	else
		scan_cost(t, baserel->rows, &startup, &total);
	add_path(baserel, (Path *) create_foreignscan_path(root, baserel, NULL,
													   baserel->rows, startup, total,
													   NIL, baserel->lateral_relids,
													   NULL, NIL));

	/* A base restriction already names the one key: nothing to gain. */
	if (ri->have_key && ri->key.source == RK_ONE)
		return;

	/* Parameterized paths: key = expression of other tables' columns. */
	foreach(lc, baserel->joininfo)
	{
		RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);
		KeyClause	kc;

		if (join_clause_is_movable_to(rinfo, baserel) &&
			key_clause(root, baserel, t, rinfo->clause, &kc))
			candidates = lappend(candidates, rinfo);
	}
	if (baserel->has_eclass_joins)
	{
		KeyMatchArg arg = {t};
		List	   *ec_clauses;

		ec_clauses = generate_implied_equalities_for_column(root, baserel,
															ec_member_is_key, &arg,
															baserel->lateral_referencers);
		foreach(lc, ec_clauses)
		{
			RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);
			KeyClause	kc;

			if (key_clause(root, baserel, t, rinfo->clause, &kc))
				candidates = lappend(candidates, rinfo);
		}
	}

	foreach(lc, candidates)
	{
		RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);
		KeyClause	kc;
		Relids		required_outer;
		double		rows;

		required_outer = bms_union(rinfo->clause_relids, baserel->lateral_relids);
		required_outer = bms_del_member(required_outer, baserel->relid);
		if (bms_is_empty(required_outer))
			continue;
		(void) key_clause(root, baserel, t, rinfo->clause, &kc);
		rows = clamp_row_est(lookup_keys(&kc) * rows_per_key(t) *
							 clauselist_selectivity(root, ri->local_conds, baserel->relid,
													JOIN_INNER, NULL));
		lookup_cost(t, lookup_keys(&kc), rows, &startup, &total);
		add_path(baserel, (Path *) create_foreignscan_path(root, baserel, NULL, rows,
														   startup, total, NIL,
														   required_outer, NULL, NIL));
	}
}

ForeignScan *
redisGetForeignPlan(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid,
					ForeignPath *best_path, List *tlist, List *scan_clauses,
					Plan *outer_plan)
{
	RedisRelInfo *ri = baserel->fdw_private;
	KeyClause	best;
	bool		have = false;
	List	   *local_exprs = NIL;
	List	   *fdw_exprs = NIL;
	char	   *constkey = "";
	ListCell   *lc;

	/*
	 * scan_clauses are the base restrictions plus, for a parameterized path,
	 * its join clauses: the best key clause among them is pushed down, the
	 * rest are checked here.
	 */
	foreach(lc, scan_clauses)
	{
		RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);
		KeyClause	kc;

		if (rinfo->pseudoconstant)
			continue;
		if (key_clause(root, baserel, ri->table, rinfo->clause, &kc) &&
			(!have || better(&kc, &best)))
		{
			if (have)
				local_exprs = lappend(local_exprs, best.rinfo->clause);
			kc.rinfo = rinfo;
			best = kc;
			have = true;
			continue;
		}
		local_exprs = lappend(local_exprs, rinfo->clause);
	}

	if (have)
	{
		Node	   *x = strip_relabel((Node *) best.expr);

		fdw_exprs = list_make1(best.expr);
		if (best.source == RK_ONE && IsA(x, Const) && !((Const *) x)->constisnull)
		{
			size_t		len;

			constkey = redis_text_bytes(((Const *) x)->constvalue, &len);
		}
	}

	return make_foreignscan(tlist, local_exprs, baserel->relid, fdw_exprs,
							list_make3(makeInteger(have ? best.source : RK_SCAN),
									   makeInteger(have ? best.nkeys : -1),
									   makeString(constkey)),
							NIL, NIL, outer_plan);
}
