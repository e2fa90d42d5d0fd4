/*
 * Writes, when the server or the table has writable 'true'. Each row is one
 * or two Redis commands sent as the row is written: Redis has no
 * transaction to join, so a ROLLBACK (or an error later in the statement)
 * does not undo them.
 *
 *   type    INSERT          UPDATE                          DELETE
 *   string  SET k v         SET k v XX (the key must exist) DEL k
 *   hash    HSET k f v      HSET k f v                      HDEL k f
 *   list    RPUSH k v       LSET k i v                      refused
 *   set     SADD k m        SREM k old + SADD k new         SREM k m
 *   zset    ZADD k s m      ZADD k s m (ZREM old first when ZREM k m
 *                           the member changes)
 *
 * The key (and a hash's field, a list's index) cannot be changed by UPDATE:
 * that would be a new row. A row whose key is gone by the time it is
 * updated or deleted counts as not found.
 */
#include "pglinks_redis.h"

#include <math.h>

#include "access/htup_details.h"
#include "access/sysattr.h"
#include "access/table.h"
#include "commands/explain.h"
#include "executor/executor.h"
#include "foreign/fdwapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "optimizer/appendinfo.h"
#include "optimizer/inherit.h"
#include "optimizer/pathnode.h"
#include "parser/parsetree.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#define JUNK_KEY "pglinks_redis_key"
#define JUNK_ID "pglinks_redis_id"

typedef struct ModifyState
{
	RedisTable *table;
	RedisConn  *conn;
	CmdType		op;
	AttrNumber	junk_key;		/* the row's key before the update */
	AttrNumber	junk_id;		/* its field, index or member */
	MemoryContext row_cxt;
	RedisRequest req;
} ModifyState;

/* The column besides the key that tells a row of a collection apart. */
static RedisColumn
identity_column(RedisType type)
{
	switch (type)
	{
		case RT_HASH:
			return RC_FIELD;
		case RT_LIST:
			return RC_INDEX;
		case RT_SET:
		case RT_ZSET:
			return RC_MEMBER;
		default:
			return RC_NCOLUMNS;
	}
}

static void
add_identity(PlannerInfo *root, Index rtindex, Relation rel, AttrNumber attnum,
			 const char *name)
{
	Form_pg_attribute att = TupleDescAttr(RelationGetDescr(rel), attnum - 1);

	add_row_identity_var(root, makeVar(rtindex, attnum, att->atttypid, att->atttypmod,
									   att->attcollation, 0),
						 rtindex, name);
}

void
redisAddForeignUpdateTargets(PlannerInfo *root, Index rtindex,
							 RangeTblEntry *target_rte, Relation target_relation)
{
	RedisTable *t = redis_table(target_relation, true);
	RedisColumn id = identity_column(t->type);

	add_identity(root, rtindex, target_relation, t->attnum[RC_KEY], JUNK_KEY);
	if (id != RC_NCOLUMNS)
		add_identity(root, rtindex, target_relation, t->attnum[id], JUNK_ID);
}

int
redisIsForeignRelUpdatable(Relation rel)
{
	RedisTable *t = redis_table(rel, false);

	if (!t->writable)
		return 0;
	return (1 << CMD_INSERT) | (1 << CMD_UPDATE) |
		(t->type == RT_LIST ? 0 : (1 << CMD_DELETE));
}

List *
redisPlanForeignModify(PlannerInfo *root, ModifyTable *plan, Index resultRelation,
					   int subplan_index)
{
	RangeTblEntry *rte = planner_rt_fetch(resultRelation, root);
	Relation	rel = table_open(rte->relid, NoLock);
	RedisTable *t = redis_table(rel, true);
	CmdType		op = plan->operation;

	table_close(rel, NoLock);
	if (!t->writable)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("foreign table \"%s\" is read-only", t->relname),
				 errdetail("Writes to Redis are off unless the table or its server \"%s\" has writable 'true'. "
						   "They are not transactional: a ROLLBACK does not undo them.",
						   t->servername),
				 errhint("ALTER FOREIGN TABLE %s OPTIONS (ADD writable 'true')", t->relname)));
	if (plan->onConflictAction != ONCONFLICT_NONE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("INSERT ... ON CONFLICT is not supported on Redis foreign tables"),
				 errdetail("An INSERT into a Redis table already overwrites: SET, HSET, SADD and ZADD replace what is there.")));
	if (op == CMD_DELETE && t->type == RT_LIST)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot DELETE from list table \"%s\"", t->relname),
				 errdetail("Redis removes list elements by value, not by position, so a row of a list cannot be deleted alone.")));
	if (op == CMD_UPDATE)
	{
		Bitmapset  *cols = get_rel_all_updated_cols(root, find_base_rel(root, resultRelation));
		RedisColumn id = identity_column(t->type);

		if (bms_is_member(t->attnum[RC_KEY] - FirstLowInvalidHeapAttributeNumber, cols))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot change the key of a row of Redis table \"%s\"", t->relname),
					 errhint("INSERT the row under its new key and DELETE the old one.")));
		if ((t->type == RT_HASH || t->type == RT_LIST) &&
			bms_is_member(t->attnum[id] - FirstLowInvalidHeapAttributeNumber, cols))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot change the %s of a row of Redis table \"%s\"",
							redis_column_name(id), t->relname),
					 t->type == RT_HASH ? errhint("INSERT the new field and DELETE the old one.") : 0));
	}
	return list_make1(makeInteger(op));
}

/* Connects for the rows about to be written. */
static void
begin_writes(ModifyState *ms, EState *estate, ResultRelInfo *rinfo)
{
	Oid			userid = GetUserId();
	ForeignServer *server;

	if (rinfo->ri_RangeTableIndex > 0)
	{
		RangeTblEntry *rte = exec_rt_fetch(rinfo->ri_RangeTableIndex, estate);

		if (OidIsValid(rte->checkAsUser))
			userid = rte->checkAsUser;
	}
	server = GetForeignServer(ms->table->serverid);
	ms->conn = redis_connection(server, GetUserMapping(userid, server->serverid), userid);
	ms->row_cxt = AllocSetContextCreate(estate->es_query_cxt, "pglinks_redis row",
										ALLOCSET_DEFAULT_SIZES);
	redis_request_init(&ms->req);
}

/*
 * COPY FROM and rows routed into a partition that is a Redis table: no
 * planning step ran, so the table's own checks come here.
 */
void
redisBeginForeignInsert(ModifyTableState *mtstate, ResultRelInfo *rinfo)
{
	ModifyState *ms = palloc0(sizeof(ModifyState));

	ms->table = redis_table(rinfo->ri_RelationDesc, true);
	ms->op = CMD_INSERT;
	if (!ms->table->writable)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("foreign table \"%s\" is read-only", ms->table->relname)));
	begin_writes(ms, mtstate->ps.state, rinfo);
	rinfo->ri_FdwState = ms;
}

void
redisEndForeignInsert(EState *estate, ResultRelInfo *rinfo)
{
}

void
redisBeginForeignModify(ModifyTableState *mtstate, ResultRelInfo *rinfo,
						List *fdw_private, int subplan_index, int eflags)
{
	ModifyState *ms = palloc0(sizeof(ModifyState));

	rinfo->ri_FdwState = ms;
	ms->table = redis_table(rinfo->ri_RelationDesc, true);
	ms->op = intVal(linitial(fdw_private));
	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
		return;
	begin_writes(ms, mtstate->ps.state, rinfo);

	if (ms->op == CMD_UPDATE || ms->op == CMD_DELETE)
	{
		List	   *tlist = outerPlanState(mtstate)->plan->targetlist;

		ms->junk_key = ExecFindJunkAttributeInTlist(tlist, JUNK_KEY);
		if (!AttributeNumberIsValid(ms->junk_key))
			elog(ERROR, "pglinks_redis: row identity column %s not found", JUNK_KEY);
		if (identity_column(ms->table->type) != RC_NCOLUMNS)
		{
			ms->junk_id = ExecFindJunkAttributeInTlist(tlist, JUNK_ID);
			if (!AttributeNumberIsValid(ms->junk_id))
				elog(ERROR, "pglinks_redis: row identity column %s not found", JUNK_ID);
		}
	}
}

/* ---- values of a row ---- */

static char *
required_text(ModifyState *ms, TupleTableSlot *slot, RedisColumn col, size_t *len)
{
	bool		isnull;
	Datum		d = slot_getattr(slot, ms->table->attnum[col], &isnull);

	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("%s cannot be NULL in Redis table \"%s\"",
						redis_column_name(col), ms->table->relname)));
	return redis_text_bytes(d, len);
}

static char *
row_key(ModifyState *ms, TupleTableSlot *slot, size_t *len)
{
	char	   *key = required_text(ms, slot, RC_KEY, len);
	const char *prefix = ms->table->key_prefix;

	if (strncmp(key, prefix, strlen(prefix)) != 0)
	{
		StringInfoData k,
					p;

		initStringInfo(&k);
		redis_append_quoted(&k, key, *len, 100);
		initStringInfo(&p);
		redis_append_quoted(&p, prefix, strlen(prefix), 100);
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("key %s does not start with the key_prefix %s of Redis table \"%s\"",
						k.data, p.data, ms->table->relname)));
	}
	return key;
}

static char *
score_text(ModifyState *ms, TupleTableSlot *slot)
{
	bool		isnull;
	double		v = DatumGetFloat8(slot_getattr(slot, ms->table->attnum[RC_SCORE], &isnull));

	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("score cannot be NULL in Redis table \"%s\"", ms->table->relname)));
	if (isnan(v))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("score cannot be NaN in Redis table \"%s\"", ms->table->relname)));
	if (isinf(v))
		return pstrdup(v > 0 ? "+inf" : "-inf");
	return psprintf("%.17g", v);
}

/* The value of a junk (row identity) column of the plan's row. */
static Datum
junk_value(TupleTableSlot *planSlot, AttrNumber attno)
{
	bool		isnull;
	Datum		d = ExecGetJunkAttribute(planSlot, attno, &isnull);

	if (isnull)
		elog(ERROR, "pglinks_redis: row identity is NULL");
	return d;
}

/* ---- INSERT ---- */

static void
add_insert(ModifyState *ms, TupleTableSlot *slot)
{
	RedisRequest *req = &ms->req;
	size_t		klen,
				alen,
				blen;
	char	   *key,
			   *a,
			   *b;
	bool		isnull;

	slot_getallattrs(slot);
	key = row_key(ms, slot, &klen);
	switch (ms->table->type)
	{
		case RT_STRING:
			a = required_text(ms, slot, RC_VALUE, &alen);
			redis_command_begin(req, 3, "SET");
			redis_command_arg(req, key, klen);
			redis_command_arg(req, a, alen);
			break;
		case RT_HASH:
			a = required_text(ms, slot, RC_FIELD, &alen);
			b = required_text(ms, slot, RC_VALUE, &blen);
			redis_command_begin(req, 4, "HSET");
			redis_command_arg(req, key, klen);
			redis_command_arg(req, a, alen);
			redis_command_arg(req, b, blen);
			break;
		case RT_LIST:
			(void) slot_getattr(slot, ms->table->attnum[RC_INDEX], &isnull);
			if (!isnull)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("index must be NULL in an INSERT into list table \"%s\"",
								ms->table->relname),
						 errdetail("INSERT appends to the list (RPUSH); Redis chooses the index.")));
			a = required_text(ms, slot, RC_VALUE, &alen);
			redis_command_begin(req, 3, "RPUSH");
			redis_command_arg(req, key, klen);
			redis_command_arg(req, a, alen);
			break;
		case RT_SET:
			a = required_text(ms, slot, RC_MEMBER, &alen);
			redis_command_begin(req, 3, "SADD");
			redis_command_arg(req, key, klen);
			redis_command_arg(req, a, alen);
			break;
		case RT_ZSET:
			a = required_text(ms, slot, RC_MEMBER, &alen);
			b = score_text(ms, slot);
			redis_command_begin(req, 4, "ZADD");
			redis_command_arg(req, key, klen);
			redis_command_argstr(req, b);
			redis_command_arg(req, a, alen);
			break;
	}
}

static void
check_reply(ModifyState *ms, RedisReply *r, const char *command)
{
	if (r->type == RR_ERROR)
	{
		if (redis_is_wrongtype(r))
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("a key written through Redis table \"%s\" holds another type than %s",
							ms->table->relname, redis_type_name(ms->table->type)),
					 errdetail("Redis answered %s with: %s", command, r->str)));
		redis_error_reply(ms->conn, r, command);
	}
}

TupleTableSlot *
redisExecForeignInsert(EState *estate, ResultRelInfo *rinfo, TupleTableSlot *slot,
					   TupleTableSlot *planSlot)
{
	ModifyState *ms = rinfo->ri_FdwState;
	MemoryContext old;
	RedisReply *r;

	MemoryContextReset(ms->row_cxt);
	old = MemoryContextSwitchTo(ms->row_cxt);
	redis_request_reset(&ms->req);
	add_insert(ms, slot);
	r = redis_exchange(ms->conn, &ms->req, ms->row_cxt)[0];
	check_reply(ms, r, ms->req.first);
	MemoryContextSwitchTo(old);

	/* RPUSH answers the list's new length: the row's index, for RETURNING. */
	if (ms->table->type == RT_LIST && r->type == RR_INTEGER)
	{
		TupleDesc	desc = slot->tts_tupleDescriptor;
		Datum	   *values = palloc(sizeof(Datum) * desc->natts);
		bool	   *nulls = palloc(sizeof(bool) * desc->natts);

		slot_getallattrs(slot);
		memcpy(values, slot->tts_values, sizeof(Datum) * desc->natts);
		memcpy(nulls, slot->tts_isnull, sizeof(bool) * desc->natts);
		values[ms->table->attnum[RC_INDEX] - 1] = Int64GetDatum(r->integer - 1);
		nulls[ms->table->attnum[RC_INDEX] - 1] = false;
		ExecForceStoreHeapTuple(heap_form_tuple(desc, values, nulls), slot, true);
	}
	return slot;
}

int
redisGetForeignModifyBatchSize(ResultRelInfo *rinfo)
{
	ModifyState *ms = rinfo->ri_FdwState;

	/* RETURNING and row triggers need each row back as it is written. */
	if (ms == NULL || rinfo->ri_projectReturning != NULL ||
		(rinfo->ri_TrigDesc &&
		 (rinfo->ri_TrigDesc->trig_insert_before_row ||
		  rinfo->ri_TrigDesc->trig_insert_after_row)))
		return 1;
	return ms->table->batch_size;
}

TupleTableSlot **
redisExecForeignBatchInsert(EState *estate, ResultRelInfo *rinfo,
							TupleTableSlot **slots, TupleTableSlot **planSlots,
							int *numSlots)
{
	ModifyState *ms = rinfo->ri_FdwState;
	MemoryContext old;
	RedisReply **r;

	MemoryContextReset(ms->row_cxt);
	old = MemoryContextSwitchTo(ms->row_cxt);
	redis_request_reset(&ms->req);
	for (int i = 0; i < *numSlots; i++)
		add_insert(ms, slots[i]);
	r = redis_exchange(ms->conn, &ms->req, ms->row_cxt);
	for (int i = 0; i < *numSlots; i++)
		check_reply(ms, r[i], ms->req.first);
	MemoryContextSwitchTo(old);
	return slots;
}

/* ---- UPDATE and DELETE ---- */

TupleTableSlot *
redisExecForeignUpdate(EState *estate, ResultRelInfo *rinfo, TupleTableSlot *slot,
					   TupleTableSlot *planSlot)
{
	ModifyState *ms = rinfo->ri_FdwState;
	RedisRequest *req = &ms->req;
	MemoryContext old;
	size_t		klen,
				alen,
				olen = 0;
	char	   *key,
			   *a,
			   *old_id = NULL;
	RedisReply **r;
	bool		found = true;

	MemoryContextReset(ms->row_cxt);
	old = MemoryContextSwitchTo(ms->row_cxt);
	redis_request_reset(req);
	slot_getallattrs(slot);
	key = redis_text_bytes(junk_value(planSlot, ms->junk_key), &klen);
	if (ms->junk_id && ms->table->type != RT_LIST)
		old_id = redis_text_bytes(junk_value(planSlot, ms->junk_id), &olen);

	switch (ms->table->type)
	{
		case RT_STRING:
			a = required_text(ms, slot, RC_VALUE, &alen);
			redis_command_begin(req, 4, "SET");
			redis_command_arg(req, key, klen);
			redis_command_arg(req, a, alen);
			redis_command_argstr(req, "XX");
			break;
		case RT_HASH:
			a = required_text(ms, slot, RC_VALUE, &alen);
			redis_command_begin(req, 4, "HSET");
			redis_command_arg(req, key, klen);
			redis_command_arg(req, old_id, olen);
			redis_command_arg(req, a, alen);
			break;
		case RT_LIST:
			a = required_text(ms, slot, RC_VALUE, &alen);
			redis_command_begin(req, 4, "LSET");
			redis_command_arg(req, key, klen);
			redis_command_argint(req, DatumGetInt64(junk_value(planSlot, ms->junk_id)));
			redis_command_arg(req, a, alen);
			break;
		case RT_SET:
		case RT_ZSET:
			a = required_text(ms, slot, RC_MEMBER, &alen);
			if (alen != olen || memcmp(a, old_id, alen) != 0)
			{
				redis_command_begin(req, 3, ms->table->type == RT_SET ? "SREM" : "ZREM");
				redis_command_arg(req, key, klen);
				redis_command_arg(req, old_id, olen);
			}
			if (ms->table->type == RT_SET)
			{
				if (req->ncommands == 0)
					break;		/* same member: nothing changes */
				redis_command_begin(req, 3, "SADD");
				redis_command_arg(req, key, klen);
				redis_command_arg(req, a, alen);
			}
			else
			{
				redis_command_begin(req, 4, "ZADD");
				redis_command_arg(req, key, klen);
				redis_command_argstr(req, score_text(ms, slot));
				redis_command_arg(req, a, alen);
			}
			break;
	}
	if (req->ncommands > 0)
	{
		r = redis_exchange(ms->conn, req, ms->row_cxt);
		if (ms->table->type == RT_LIST && r[0]->type == RR_ERROR &&
			(strncmp(r[0]->str, "ERR no such key", 15) == 0 ||
			 strncmp(r[0]->str, "ERR index out of range", 22) == 0))
			found = false;
		else
		{
			for (int i = 0; i < req->ncommands; i++)
				check_reply(ms, r[i], req->first);
			/* SET XX: nil when the key is gone. */
			if (ms->table->type == RT_STRING && r[0]->type == RR_NIL)
				found = false;
			/* SREM/ZREM of the old member: 0 when it is gone. */
			if ((ms->table->type == RT_SET || ms->table->type == RT_ZSET) &&
				req->ncommands == 2 && r[0]->type == RR_INTEGER && r[0]->integer == 0)
				found = false;
		}
	}
	MemoryContextSwitchTo(old);
	return found ? slot : NULL;
}

TupleTableSlot *
redisExecForeignDelete(EState *estate, ResultRelInfo *rinfo, TupleTableSlot *slot,
					   TupleTableSlot *planSlot)
{
	ModifyState *ms = rinfo->ri_FdwState;
	RedisRequest *req = &ms->req;
	RedisTable *t = ms->table;
	MemoryContext old;
	size_t		klen,
				olen = 0;
	char	   *key,
			   *old_id = NULL;
	RedisReply *r;
	Datum		keyd = junk_value(planSlot, ms->junk_key);
	Datum		idd = 0;
	TupleDesc	desc = slot->tts_tupleDescriptor;

	MemoryContextReset(ms->row_cxt);
	old = MemoryContextSwitchTo(ms->row_cxt);
	redis_request_reset(req);
	key = redis_text_bytes(keyd, &klen);
	if (ms->junk_id)
	{
		idd = junk_value(planSlot, ms->junk_id);
		old_id = redis_text_bytes(idd, &olen);
	}
	switch (t->type)
	{
		case RT_STRING:
			redis_command_begin(req, 2, "DEL");
			redis_command_arg(req, key, klen);
			break;
		case RT_HASH:
		case RT_SET:
		case RT_ZSET:
			redis_command_begin(req, 3, t->type == RT_HASH ? "HDEL" : t->type == RT_SET ? "SREM" : "ZREM");
			redis_command_arg(req, key, klen);
			redis_command_arg(req, old_id, olen);
			break;
		case RT_LIST:
			elog(ERROR, "pglinks_redis: DELETE on a list table");
	}
	r = redis_exchange(ms->conn, req, ms->row_cxt)[0];
	check_reply(ms, r, req->first);
	MemoryContextSwitchTo(old);
	if (r->type == RR_INTEGER && r->integer == 0)
		return NULL;

	/* What RETURNING can show of the deleted row: its identity. */
	ExecClearTuple(slot);
	memset(slot->tts_isnull, true, sizeof(bool) * desc->natts);
	slot->tts_values[t->attnum[RC_KEY] - 1] = keyd;
	slot->tts_isnull[t->attnum[RC_KEY] - 1] = false;
	if (ms->junk_id)
	{
		AttrNumber	a = t->attnum[identity_column(t->type)];

		slot->tts_values[a - 1] = idd;
		slot->tts_isnull[a - 1] = false;
	}
	ExecStoreVirtualTuple(slot);
	return slot;
}

void
redisEndForeignModify(EState *estate, ResultRelInfo *rinfo)
{
}

void
redisExplainForeignModify(ModifyTableState *mtstate, ResultRelInfo *rinfo,
						  List *fdw_private, int subplan_index, ExplainState *es)
{
	ModifyState *ms = rinfo->ri_FdwState;
	CmdType		op = intVal(linitial(fdw_private));
	static const char *const insert_cmd[] = {"SET", "HSET", "RPUSH", "SADD", "ZADD"};
	static const char *const update_cmd[] = {"SET ... XX", "HSET", "LSET", "SREM + SADD", "ZADD (ZREM + ZADD when the member changes)"};
	static const char *const delete_cmd[] = {"DEL", "HDEL", "-", "SREM", "ZREM"};
	const char *cmd = op == CMD_INSERT ? insert_cmd[ms->table->type]
		: op == CMD_UPDATE ? update_cmd[ms->table->type] : delete_cmd[ms->table->type];

	ExplainPropertyText("Redis command", psprintf("%s per row", cmd), es);
	ExplainPropertyText("Redis writes", "not transactional: a ROLLBACK does not undo them", es);
}
