/*
 * The wrapper's handler and the functions the dashboard calls:
 * pglinks_redis_version() and pglinks_redis_ping(server).
 */
#include "pglinks_redis.h"

#include "access/htup_details.h"
#include "foreign/fdwapi.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(pglinks_redis_handler);
PG_FUNCTION_INFO_V1(pglinks_redis_version);
PG_FUNCTION_INFO_V1(pglinks_redis_ping);

Datum
pglinks_redis_handler(PG_FUNCTION_ARGS)
{
	FdwRoutine *r = makeNode(FdwRoutine);

	r->GetForeignRelSize = redisGetForeignRelSize;
	r->GetForeignPaths = redisGetForeignPaths;
	r->GetForeignPlan = redisGetForeignPlan;
	r->BeginForeignScan = redisBeginForeignScan;
	r->IterateForeignScan = redisIterateForeignScan;
	r->ReScanForeignScan = redisReScanForeignScan;
	r->EndForeignScan = redisEndForeignScan;
	r->ExplainForeignScan = redisExplainForeignScan;

	r->AddForeignUpdateTargets = redisAddForeignUpdateTargets;
	r->PlanForeignModify = redisPlanForeignModify;
	r->BeginForeignModify = redisBeginForeignModify;
	r->ExecForeignInsert = redisExecForeignInsert;
	r->ExecForeignBatchInsert = redisExecForeignBatchInsert;
	r->GetForeignModifyBatchSize = redisGetForeignModifyBatchSize;
	r->ExecForeignUpdate = redisExecForeignUpdate;
	r->ExecForeignDelete = redisExecForeignDelete;
	r->EndForeignModify = redisEndForeignModify;
	r->BeginForeignInsert = redisBeginForeignInsert;
	r->EndForeignInsert = redisEndForeignInsert;
	r->IsForeignRelUpdatable = redisIsForeignRelUpdatable;
	r->ExplainForeignModify = redisExplainForeignModify;

	PG_RETURN_POINTER(r);
}

Datum
pglinks_redis_version(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(PGLINKS_REDIS_VERSION));
}

/* The value of "name:" in INFO's text, if it is short printable ASCII. */
static text *
info_field(RedisReply *info, const char *name)
{
	size_t		n = strlen(name);
	const char *p = info->str;

	while (p && *p)
	{
		if (strncmp(p, name, n) == 0 && p[n] == ':')
		{
			const char *v = p + n + 1;
			size_t		len = strcspn(v, "\r\n");

			if (len == 0 || len > 64)
				return NULL;
			for (size_t i = 0; i < len; i++)
				if (v[i] < 0x20 || v[i] > 0x7e)
					return NULL;
			return cstring_to_text_with_len(v, (int) len);
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return NULL;
}

/*
 * pglinks_redis_ping(server name) -> (redis_version, redis_mode, dbsize,
 * latency_ms): connects afresh with the caller's user mapping (so rotated
 * credentials show at once), then PING, INFO server and DBSIZE in one round
 * trip, whose duration is latency_ms. Failures raise the same errors a query
 * would; the caller needs USAGE on the server.
 */
Datum
pglinks_redis_ping(PG_FUNCTION_ARGS)
{
	ForeignServer *server = GetForeignServerByName(NameStr(*PG_GETARG_NAME(0)), false);
	FdwRoutine *routine = GetFdwRoutineByServerId(server->serverid);
	AclResult	acl;
	UserMapping *um;
	RedisConn  *volatile conn = NULL;
	TupleDesc	desc;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};
	MemoryContext cxt = CurrentMemoryContext;

	if (routine->GetForeignRelSize != redisGetForeignRelSize)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("server \"%s\" does not use the pglinks_redis wrapper", server->servername)));
	acl = pg_foreign_server_aclcheck(server->serverid, GetUserId(), ACL_USAGE);
	if (acl != ACLCHECK_OK)
		aclcheck_error(acl, OBJECT_FOREIGN_SERVER, server->servername);
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	um = GetUserMapping(GetUserId(), server->serverid);

	PG_TRY();
	{
		RedisRequest req;
		RedisReply **r;
		TimestampTz start;
		text	   *t;

		conn = redis_connect_uncached(server, um, GetUserId());
		redis_request_init(&req);
		redis_command_begin(&req, 1, "PING");
		redis_command_begin(&req, 2, "INFO");
		redis_command_argstr(&req, "server");
		redis_command_begin(&req, 1, "DBSIZE");
		start = GetCurrentTimestamp();
		r = redis_exchange(conn, &req, cxt);
		values[3] = Float8GetDatum((GetCurrentTimestamp() - start) / 1000.0);
		if (r[0]->type != RR_STATUS)
			redis_error_reply(conn, r[0], "PING");
		if (r[1]->type != RR_STRING)
			redis_error_reply(conn, r[1], "INFO");
		if (r[2]->type != RR_INTEGER)
			redis_error_reply(conn, r[2], "DBSIZE");
		t = info_field(r[1], "redis_version");
		nulls[0] = t == NULL;
		values[0] = PointerGetDatum(t);
		t = info_field(r[1], "redis_mode");
		nulls[1] = t == NULL;
		values[1] = PointerGetDatum(t);
		values[2] = Int64GetDatum(r[2]->integer);
	}
	PG_FINALLY();
	{
		if (conn)
			redis_free_uncached(conn);
	}
	PG_END_TRY();

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}
