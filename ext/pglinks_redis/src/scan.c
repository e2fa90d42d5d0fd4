/*
 * Scans: keys come from SCAN (MATCH prefix*, COUNT, TYPE) or from the pushed
 * down key expression; values are fetched batch_size keys per round trip
 * (MGET for strings, pipelined HGETALL / LRANGE / SMEMBERS / ZRANGE for the
 * others). A key that SCAN returns twice, or that an array names twice, is
 * read once. A key that has gone or holds another type by the time it is
 * read gives no rows, as a scan of that moment would.
 *
 * A scan reads at most max_keys keys; past that it stops with an error
 * rather than reading an unbounded keyspace.
 */
#include "pglinks_redis.h"

#include <math.h>

#include "access/tupdesc.h"
#include "commands/explain.h"
#include "common/hashfn.h"
#include "executor/executor.h"
#include "foreign/fdwapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

/* One row: pointers into the batch's replies. */
typedef struct RedisRow
{
	const char *key;
	size_t		keylen;
	const char *a;				/* value (string, list), field (hash), member */
	size_t		alen;
	const char *b;				/* value (hash) */
	size_t		blen;
	int64		index;			/* list */
	double		score;			/* zset */
} RedisRow;

typedef struct KeyBytes
{
	const char *data;
	size_t		len;
} KeyBytes;

typedef struct RedisScan
{
	RedisTable *table;
	RedisConn  *conn;
	RedisKeySource source;
	int			nconstkeys;
	char	   *constkey;
	ExprState  *key_expr;
	Oid			userid;

	MemoryContext scan_cxt;		/* keys and the set of keys seen: one scan */
	MemoryContext batch_cxt;	/* replies and rows of one round trip */
	bool		started;
	bool		scan_done;		/* no more SCAN pages */
	char		cursor[32];
	char	   *pattern;		/* MATCH pattern, NULL for all keys */
	HTAB	   *seen;
	int64		scanned;		/* keys of SCAN read so far */

	KeyBytes   *keys;			/* keys waiting to be read */
	int			nkeys;
	int			keys_alloc;
	int			key_pos;

	RedisRow   *rows;
	int			nrows;
	int			rows_alloc;
	int			row_pos;

	RedisRequest req;
	struct
	{
		int64		commands;
		int64		round_trips;
		int64		keys;
	}			stats;			/* over all executions, for EXPLAIN ANALYZE */
} RedisScan;

/* ---- the set of keys seen ---- */

static uint32
key_hash(const void *key, Size keysize)
{
	const KeyBytes *k = key;

	return DatumGetUInt32(hash_any((const unsigned char *) k->data, (int) k->len));
}

static int
key_match(const void *a, const void *b, Size keysize)
{
	const KeyBytes *x = a,
			   *y = b;

	return !(x->len == y->len && memcmp(x->data, y->data, x->len) == 0);
}

static HTAB *
new_seen_set(MemoryContext cxt)
{
	HASHCTL		ctl;

	ctl.keysize = sizeof(KeyBytes);
	ctl.entrysize = sizeof(KeyBytes);
	ctl.hash = key_hash;
	ctl.match = key_match;
	ctl.hcxt = cxt;
	return hash_create("pglinks_redis keys seen", 256, &ctl,
					   HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
}

/* Queues key unless it was seen or lies outside the key prefix; the queued
 * copy lives in scan_cxt. Returns whether it was new. */
static bool
queue_key(RedisScan *st, const char *data, size_t len)
{
	KeyBytes	probe = {data, len};
	KeyBytes   *entry = &probe;
	bool		found;
	size_t		plen = strlen(st->table->key_prefix);
	char	   *copy;

	if (len < plen || memcmp(data, st->table->key_prefix, plen) != 0)
		return false;
	/* One key (a lookup per outer row of a join) needs no set of keys seen. */
	if (st->source != RK_ONE)
	{
		if (st->seen == NULL)
			st->seen = new_seen_set(st->scan_cxt);
		entry = hash_search(st->seen, &probe, HASH_ENTER, &found);
		if (found)
			return false;
	}
	copy = MemoryContextAlloc(st->scan_cxt, len + 1);
	memcpy(copy, data, len);
	copy[len] = '\0';
	entry->data = copy;
	entry->len = len;

	if (st->nkeys == st->keys_alloc)
	{
		st->keys_alloc = st->keys_alloc ? st->keys_alloc * 2 : 256;
		st->keys = st->keys ? repalloc_huge(st->keys, sizeof(KeyBytes) * st->keys_alloc)
			: MemoryContextAlloc(st->scan_cxt, sizeof(KeyBytes) * st->keys_alloc);
	}
	st->keys[st->nkeys++] = *entry;
	return true;
}

static void
too_many_keys(RedisScan *st, const char *how)
{
	ereport(ERROR,
			(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
			 errmsg("%s more than " INT64_FORMAT " keys for foreign table \"%s\" (max_keys)",
					how, st->table->max_keys, st->table->relname),
			 errdetail("A scan reads at most max_keys keys from Redis at %s.",
					   redis_endpoint(st->conn)),
			 errhint("Look keys up by key (key = ..., key = ANY(...)), narrow the table with key_prefix, "
					 "or raise max_keys on the table or the server.")));
}

/* ---- rows ---- */

static RedisRow *
new_row(RedisScan *st, const char *key, size_t keylen)
{
	RedisRow   *r;

	if (st->nrows == st->rows_alloc)
	{
		st->rows_alloc = st->rows_alloc ? st->rows_alloc * 2 : 256;
		st->rows = st->rows ? repalloc_huge(st->rows, sizeof(RedisRow) * st->rows_alloc)
			: MemoryContextAllocHuge(st->batch_cxt, sizeof(RedisRow) * st->rows_alloc);
	}
	r = &st->rows[st->nrows++];
	memset(r, 0, sizeof(*r));
	r->key = key;
	r->keylen = keylen;
	return r;
}

static void
unexpected(RedisScan *st, const char *command)
{
	ereport(ERROR,
			(errcode(ERRCODE_PROTOCOL_VIOLATION),
			 errmsg("unexpected reply from Redis at %s to %s", redis_endpoint(st->conn), command)));
}

static bool
is_string(RedisReply *r)
{
	return r != NULL && r->type == RR_STRING;
}

/* A reply to a per-key command: an array of strings, or no rows. */
static bool
string_array(RedisScan *st, RedisReply *r, const char *command)
{
	if (r->type == RR_NIL || redis_is_wrongtype(r))
		return false;
	if (r->type == RR_ERROR)
		redis_error_reply(st->conn, r, command);
	if (r->type != RR_ARRAY)
		unexpected(st, command);
	for (size_t i = 0; i < r->elements; i++)
		if (!is_string(r->element[i]))
			unexpected(st, command);
	return true;
}

static double
parse_score(RedisScan *st, RedisReply *r)
{
	char	   *end;
	double		v;

	errno = 0;
	v = strtod(r->str, &end);
	if (end == r->str || *end != '\0' || isnan(v))
		unexpected(st, "ZRANGE");
	return v;
}

/* ---- round trips ---- */

static void
connect_if_needed(RedisScan *st)
{
	if (st->conn == NULL)
	{
		ForeignServer *server = GetForeignServer(st->table->serverid);
		UserMapping *um = GetUserMapping(st->userid, server->serverid);

		st->conn = redis_connection(server, um, st->userid);
	}
}

static RedisReply **
round_trip(RedisScan *st)
{
	RedisReply **r = redis_exchange(st->conn, &st->req, st->batch_cxt);

	st->stats.commands += st->req.ncommands;
	st->stats.round_trips++;
	return r;
}

/* Reads the next page of SCAN into the queue. */
static void
scan_page(RedisScan *st)
{
	RedisTable *t = st->table;
	RedisReply *r;
	RedisReply *keys;

	redis_request_reset(&st->req);
	redis_command_begin(&st->req, 2 + (st->pattern ? 2 : 0) + 4, "SCAN");
	redis_command_argstr(&st->req, st->cursor);
	if (st->pattern)
	{
		redis_command_argstr(&st->req, "MATCH");
		redis_command_argstr(&st->req, st->pattern);
	}
	redis_command_argstr(&st->req, "COUNT");
	redis_command_argint(&st->req, t->scan_count);
	redis_command_argstr(&st->req, "TYPE");
	redis_command_argstr(&st->req, redis_type_name(t->type));
	r = round_trip(st)[0];

	if (r->type == RR_ERROR)
		redis_error_reply(st->conn, r, "SCAN");
	if (r->type != RR_ARRAY || r->elements != 2 || !is_string(r->element[0]) ||
		r->element[0]->len == 0 || r->element[0]->len >= sizeof(st->cursor) ||
		strspn(r->element[0]->str, "0123456789") != r->element[0]->len ||
		r->element[1]->type != RR_ARRAY)
		unexpected(st, "SCAN");
	strcpy(st->cursor, r->element[0]->str);
	if (strcmp(st->cursor, "0") == 0)
		st->scan_done = true;

	keys = r->element[1];
	st->nkeys = st->key_pos = 0;
	for (size_t i = 0; i < keys->elements; i++)
	{
		if (!is_string(keys->element[i]))
			unexpected(st, "SCAN");
		(void) queue_key(st, keys->element[i]->str, keys->element[i]->len);
	}
}

static const char *const fetch_command[] = {
	[RT_STRING] = "MGET",
	[RT_HASH] = "HGETALL",
	[RT_LIST] = "LRANGE",
	[RT_SET] = "SMEMBERS",
	[RT_ZSET] = "ZRANGE",
};

/* Reads the values of the next batch of queued keys into rows. */
static void
fetch_batch(RedisScan *st)
{
	RedisTable *t = st->table;
	int			n = Min(t->batch_size, st->nkeys - st->key_pos);
	KeyBytes   *keys = &st->keys[st->key_pos];
	RedisReply **replies;

	/*
	 * The cap counts keys as they are read, so a scan that stops early (a
	 * LIMIT) never trips it, and one that would read key max_keys + 1 stops
	 * before it does.
	 */
	if (st->source == RK_SCAN)
	{
		if (st->scanned >= t->max_keys)
			too_many_keys(st, "SCAN found");
		n = (int) Min(n, t->max_keys - st->scanned);
		st->scanned += n;
	}

	redis_request_reset(&st->req);
	if (t->type == RT_STRING)
	{
		redis_command_begin(&st->req, n + 1, n == 1 ? "GET" : "MGET");
		for (int i = 0; i < n; i++)
			redis_command_arg(&st->req, keys[i].data, keys[i].len);
	}
	else
	{
		for (int i = 0; i < n; i++)
		{
			switch (t->type)
			{
				case RT_HASH:
				case RT_SET:
					redis_command_begin(&st->req, 2, fetch_command[t->type]);
					redis_command_arg(&st->req, keys[i].data, keys[i].len);
					break;
				case RT_LIST:
					redis_command_begin(&st->req, 4, "LRANGE");
					redis_command_arg(&st->req, keys[i].data, keys[i].len);
					redis_command_argstr(&st->req, "0");
					redis_command_argstr(&st->req, "-1");
					break;
				case RT_ZSET:
					redis_command_begin(&st->req, 5, "ZRANGE");
					redis_command_arg(&st->req, keys[i].data, keys[i].len);
					redis_command_argstr(&st->req, "0");
					redis_command_argstr(&st->req, "-1");
					redis_command_argstr(&st->req, "WITHSCORES");
					break;
				default:
					break;
			}
		}
	}
	replies = round_trip(st);
	st->stats.keys += n;
	st->key_pos += n;

	if (t->type == RT_STRING)
	{
		RedisReply *r = replies[0];

		if (n == 1)
		{
			if (is_string(r))
			{
				RedisRow   *row = new_row(st, keys[0].data, keys[0].len);

				row->a = r->str;
				row->alen = r->len;
			}
			else if (r->type == RR_ERROR && !redis_is_wrongtype(r))
				redis_error_reply(st->conn, r, "GET");
			else if (r->type != RR_NIL && r->type != RR_ERROR)
				unexpected(st, "GET");
			return;
		}
		if (r->type == RR_ERROR)
			redis_error_reply(st->conn, r, "MGET");
		if (r->type != RR_ARRAY || r->elements != (size_t) n)
			unexpected(st, "MGET");
		for (int i = 0; i < n; i++)
		{
			RedisReply *v = r->element[i];

			if (is_string(v))
			{
				RedisRow   *row = new_row(st, keys[i].data, keys[i].len);

				row->a = v->str;
				row->alen = v->len;
			}
			else if (v->type != RR_NIL)
				unexpected(st, "MGET");
		}
		return;
	}

	for (int i = 0; i < n; i++)
	{
		RedisReply *r = replies[i];
		const char *command = fetch_command[t->type];

		if (!string_array(st, r, command))
			continue;
		switch (t->type)
		{
			case RT_HASH:
				if (r->elements % 2 != 0)
					unexpected(st, command);
				for (size_t j = 0; j < r->elements; j += 2)
				{
					RedisRow   *row = new_row(st, keys[i].data, keys[i].len);

					row->a = r->element[j]->str;
					row->alen = r->element[j]->len;
					row->b = r->element[j + 1]->str;
					row->blen = r->element[j + 1]->len;
				}
				break;
			case RT_LIST:
			case RT_SET:
				for (size_t j = 0; j < r->elements; j++)
				{
					RedisRow   *row = new_row(st, keys[i].data, keys[i].len);

					row->a = r->element[j]->str;
					row->alen = r->element[j]->len;
					row->index = (int64) j;
				}
				break;
			case RT_ZSET:
				if (r->elements % 2 != 0)
					unexpected(st, command);
				for (size_t j = 0; j < r->elements; j += 2)
				{
					RedisRow   *row = new_row(st, keys[i].data, keys[i].len);

					row->a = r->element[j]->str;
					row->alen = r->element[j]->len;
					row->score = parse_score(st, r->element[j + 1]);
				}
				break;
			default:
				break;
		}
	}
}

/* Queues the keys of the pushed-down expression (evaluated now, so a
 * parameter takes its value for this execution). */
static void
queue_expression_keys(RedisScan *st, ForeignScanState *node)
{
	ExprContext *econtext = node->ss.ps.ps_ExprContext;
	MemoryContext old = MemoryContextSwitchTo(econtext->ecxt_per_tuple_memory);
	bool		isnull;
	Datum		value = ExecEvalExpr(st->key_expr, econtext, &isnull);

	if (!isnull && st->source == RK_ONE)
	{
		size_t		len;
		char	   *key = redis_text_bytes(value, &len);

		queue_key(st, key, len);
	}
	else if (!isnull)
	{
		ArrayType  *arr = DatumGetArrayTypeP(value);
		int16		typlen;
		bool		typbyval;
		char		typalign;
		Datum	   *elems;
		bool	   *nulls;
		int			n;

		get_typlenbyvalalign(ARR_ELEMTYPE(arr), &typlen, &typbyval, &typalign);
		deconstruct_array(arr, ARR_ELEMTYPE(arr), typlen, typbyval, typalign,
						  &elems, &nulls, &n);
		if (n > st->table->max_keys)
			too_many_keys(st, "an array names");
		for (int i = 0; i < n; i++)
		{
			size_t		len;
			char	   *key;

			if (nulls[i])
				continue;
			key = redis_text_bytes(elems[i], &len);
			queue_key(st, key, len);
		}
	}
	MemoryContextSwitchTo(old);
	ResetExprContext(econtext);
}

static void
start_scan(RedisScan *st, ForeignScanState *node)
{
	MemoryContextReset(st->scan_cxt);
	st->seen = NULL;
	st->keys = NULL;
	st->nkeys = st->keys_alloc = st->key_pos = 0;
	st->scanned = 0;
	st->started = true;
	if (st->source == RK_SCAN)
	{
		strcpy(st->cursor, "0");
		st->scan_done = false;
	}
	else
	{
		st->scan_done = true;
		queue_expression_keys(st, node);
	}
}

/* Fills rows with the next non-empty batch; false at the end. */
static bool
next_batch(RedisScan *st)
{
	MemoryContextReset(st->batch_cxt);
	st->rows = NULL;
	st->nrows = st->rows_alloc = st->row_pos = 0;
	for (;;)
	{
		CHECK_FOR_INTERRUPTS();
		if (st->key_pos < st->nkeys)
		{
			connect_if_needed(st);
			fetch_batch(st);
			if (st->nrows > 0)
				return true;
			MemoryContextReset(st->batch_cxt);
			st->rows = NULL;
			st->rows_alloc = 0;
			continue;
		}
		if (!st->scan_done)
		{
			connect_if_needed(st);
			scan_page(st);
			continue;
		}
		return false;
	}
}

/* ---- the executor's callbacks ---- */

void
redisBeginForeignScan(ForeignScanState *node, int eflags)
{
	ForeignScan *fsplan = (ForeignScan *) node->ss.ps.plan;
	EState	   *estate = node->ss.ps.state;
	RedisScan  *st = palloc0(sizeof(RedisScan));
	RangeTblEntry *rte;

	node->fdw_state = st;
	st->table = redis_table(node->ss.ss_currentRelation, true);
	st->source = intVal(list_nth(fsplan->fdw_private, FSP_SOURCE));
	st->nconstkeys = intVal(list_nth(fsplan->fdw_private, FSP_NKEYS));
	st->constkey = strVal(list_nth(fsplan->fdw_private, FSP_CONSTKEY));
	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
		return;

	rte = exec_rt_fetch(fsplan->scan.scanrelid, estate);
	st->userid = OidIsValid(rte->checkAsUser) ? rte->checkAsUser : GetUserId();
	if (fsplan->fdw_exprs != NIL)
		st->key_expr = ExecInitExpr(linitial(fsplan->fdw_exprs), (PlanState *) node);
	if (st->table->key_prefix[0] != '\0')
		st->pattern = redis_match_pattern(st->table->key_prefix);
	st->scan_cxt = AllocSetContextCreate(estate->es_query_cxt, "pglinks_redis scan",
										 ALLOCSET_DEFAULT_SIZES);
	st->batch_cxt = AllocSetContextCreate(estate->es_query_cxt, "pglinks_redis batch",
										  ALLOCSET_DEFAULT_SIZES);
	redis_request_init(&st->req);
}

TupleTableSlot *
redisIterateForeignScan(ForeignScanState *node)
{
	RedisScan  *st = node->fdw_state;
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;
	RedisTable *t = st->table;
	RedisRow   *row;
	AttrNumber	a;

	ExecClearTuple(slot);
	if (!st->started)
		start_scan(st, node);
	if (st->row_pos >= st->nrows && !next_batch(st))
		return slot;
	row = &st->rows[st->row_pos++];

	memset(slot->tts_isnull, true, slot->tts_tupleDescriptor->natts * sizeof(bool));
	a = t->attnum[RC_KEY];
	slot->tts_values[a - 1] = redis_text_datum(row->key, row->keylen, "name", row->key, row->keylen);
	slot->tts_isnull[a - 1] = false;
	switch (t->type)
	{
		case RT_STRING:
			a = t->attnum[RC_VALUE];
			slot->tts_values[a - 1] = redis_text_datum(row->a, row->alen, "value", row->key, row->keylen);
			slot->tts_isnull[a - 1] = false;
			break;
		case RT_HASH:
			a = t->attnum[RC_FIELD];
			slot->tts_values[a - 1] = redis_text_datum(row->a, row->alen, "field", row->key, row->keylen);
			slot->tts_isnull[a - 1] = false;
			a = t->attnum[RC_VALUE];
			slot->tts_values[a - 1] = redis_text_datum(row->b, row->blen, "value", row->key, row->keylen);
			slot->tts_isnull[a - 1] = false;
			break;
		case RT_LIST:
			a = t->attnum[RC_INDEX];
			slot->tts_values[a - 1] = Int64GetDatum(row->index);
			slot->tts_isnull[a - 1] = false;
			a = t->attnum[RC_VALUE];
			slot->tts_values[a - 1] = redis_text_datum(row->a, row->alen, "value", row->key, row->keylen);
			slot->tts_isnull[a - 1] = false;
			break;
		case RT_SET:
		case RT_ZSET:
			a = t->attnum[RC_MEMBER];
			slot->tts_values[a - 1] = redis_text_datum(row->a, row->alen, "member", row->key, row->keylen);
			slot->tts_isnull[a - 1] = false;
			if (t->type == RT_ZSET)
			{
				a = t->attnum[RC_SCORE];
				slot->tts_values[a - 1] = Float8GetDatum(row->score);
				slot->tts_isnull[a - 1] = false;
			}
			break;
	}
	return ExecStoreVirtualTuple(slot);
}

void
redisReScanForeignScan(ForeignScanState *node)
{
	RedisScan  *st = node->fdw_state;

	st->started = false;
	st->nrows = st->row_pos = 0;
}

void
redisEndForeignScan(ForeignScanState *node)
{
	/* Contexts go with the query; the connection stays for the session. */
}

/* What the scan sends, as EXPLAIN shows it. */
static char *
describe(RedisScan *st)
{
	RedisTable *t = st->table;
	StringInfoData s;
	const char *fetch = t->type == RT_STRING ? "MGET" : fetch_command[t->type];

	initStringInfo(&s);
	switch (st->source)
	{
		case RK_SCAN:
			appendStringInfoString(&s, "SCAN");
			if (t->key_prefix[0] != '\0')
			{
				char	   *pattern = redis_match_pattern(t->key_prefix);

				appendStringInfoString(&s, " MATCH ");
				redis_append_quoted(&s, pattern, strlen(pattern), 200);
			}
			appendStringInfo(&s, " COUNT %d TYPE %s, then %s", t->scan_count,
							 redis_type_name(t->type), fetch);
			if (t->type == RT_STRING)
				appendStringInfo(&s, " per %d keys", t->batch_size);
			else
				appendStringInfo(&s, " per key, %d keys per round trip", t->batch_size);
			break;
		case RK_ONE:
			appendStringInfoString(&s, t->type == RT_STRING ? "GET" : fetch);
			if (st->constkey[0] != '\0')
			{
				appendStringInfoChar(&s, ' ');
				redis_append_quoted(&s, st->constkey, strlen(st->constkey), 200);
			}
			else
				appendStringInfoString(&s, " (1 key per execution)");
			break;
		case RK_ARRAY:
			appendStringInfoString(&s, fetch);
			if (t->type != RT_STRING)
				appendStringInfoString(&s, " per key");
			if (st->nconstkeys >= 0)
				appendStringInfo(&s, " (%d key%s", st->nconstkeys, st->nconstkeys == 1 ? "" : "s");
			else
				appendStringInfoString(&s, " (keys of an array");
			appendStringInfo(&s, ", %d per round trip)", t->batch_size);
			break;
	}
	return s.data;
}

void
redisExplainForeignScan(ForeignScanState *node, ExplainState *es)
{
	RedisScan  *st = node->fdw_state;

	ExplainPropertyText("Redis command", describe(st), es);
	if (es->verbose)
	{
		StringInfoData server;

		initStringInfo(&server);
		redis_format_server(&server, &st->table->server);
		ExplainPropertyText("Redis server", server.data, es);
	}
	if (es->analyze)
	{
		ExplainPropertyInteger("Redis commands", NULL, st->stats.commands, es);
		ExplainPropertyInteger("Redis round trips", NULL, st->stats.round_trips, es);
		ExplainPropertyInteger("Redis keys read", NULL, st->stats.keys, es);
	}
}
