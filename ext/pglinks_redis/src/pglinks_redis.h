/*
 * pglinks_redis: a foreign data wrapper that shows Redis keys as rows.
 *
 * One foreign table sees the keys of one Redis type (string, hash, list, set,
 * sorted set), optionally under a key prefix. Key lookups (key = value,
 * key = ANY(array), and key = expression of an outer row in a nested loop)
 * become GET/MGET/HGETALL/...; everything else is a SCAN of the prefix.
 *
 * The protocol is spoken over our own sockets (non-blocking, every wait
 * interruptible by query cancel and statement_timeout) with OpenSSL for TLS;
 * hiredis is used only for its RESP reader.
 */
#ifndef PGLINKS_REDIS_H
#define PGLINKS_REDIS_H

#include "postgres.h"

#include "foreign/fdwapi.h"
#include "foreign/foreign.h"
#include "lib/stringinfo.h"
#include "nodes/pathnodes.h"
#include "utils/relcache.h"

#define PGLINKS_REDIS_VERSION "1.0"

/* ---- table layouts (options.c) ---- */

typedef enum RedisType
{
	RT_STRING,
	RT_HASH,
	RT_LIST,
	RT_SET,
	RT_ZSET
} RedisType;

/* The columns a table may have; which ones a type has is in options.c. */
typedef enum RedisColumn
{
	RC_KEY,
	RC_FIELD,
	RC_VALUE,
	RC_INDEX,
	RC_MEMBER,
	RC_SCORE,
	RC_NCOLUMNS
} RedisColumn;

/* Where and how to connect: the foreign server's options. */
typedef struct RedisServerOptions
{
	char	   *host;
	int			port;
	int			db;
	bool		tls;
	bool		tls_verify;
	char	   *tls_ca_file;	/* NULL: the system's trust store */
	char	   *tls_ca;			/* PEM text, NULL if not given */
	int			connect_timeout_ms;
	int			command_timeout_ms;
} RedisServerOptions;

/* Who to connect as: the user mapping's options. */
typedef struct RedisCredentials
{
	char	   *user;			/* NULL: AUTH with the password only */
	char	   *password;		/* NULL: no AUTH */
	bool		password_required;
} RedisCredentials;

/* A foreign table, with its server's options merged in. */
typedef struct RedisTable
{
	Oid			relid;
	Oid			serverid;
	char	   *relname;		/* schema-qualified, for messages */
	char	   *servername;
	RedisType	type;
	char	   *key_prefix;		/* UTF-8, as keys are; "" when none */
	bool		writable;
	int64		max_keys;
	int			scan_count;
	int			batch_size;
	AttrNumber	attnum[RC_NCOLUMNS];	/* 0: the type has no such column */
	RedisServerOptions server;
} RedisTable;

#define DEFAULT_REDIS_PORT 6379
#define DEFAULT_CONNECT_TIMEOUT_MS 5000
#define DEFAULT_COMMAND_TIMEOUT_MS 30000
#define DEFAULT_MAX_KEYS 100000
#define DEFAULT_SCAN_COUNT 1000
#define DEFAULT_BATCH_SIZE 100

extern const char *redis_type_name(RedisType type);
extern const char *redis_column_name(RedisColumn col);
extern void redis_server_options(ForeignServer *server, RedisServerOptions *opts);
extern void redis_credentials(UserMapping *um, RedisCredentials *creds);
extern RedisTable *redis_table(Relation rel, bool check_columns);
extern RedisTable *redis_table_by_oid(Oid relid, bool check_columns);

/* ---- replies (reply.c) ---- */

/* Reply types: the values of hiredis' REDIS_REPLY_* constants. */
#define RR_STRING 1
#define RR_ARRAY 2
#define RR_INTEGER 3
#define RR_NIL 4
#define RR_STATUS 5
#define RR_ERROR 6

/* A reply, allocated in the memory context given to redis_exchange. */
typedef struct RedisReply
{
	int			type;
	long long	integer;
	char	   *str;			/* STRING, STATUS, ERROR; NUL-terminated */
	size_t		len;
	size_t		elements;		/* ARRAY */
	struct RedisReply **element;
} RedisReply;

struct redisReader;
extern struct redisReader *redis_reader_create(void);
extern void redis_reader_set_context(MemoryContext cxt);
extern const char *redis_reader_refusal(void);

/* ---- connections and commands (conn.c) ---- */

typedef struct RedisConn RedisConn;

/* A request: one or more commands, sent in one write (pipelined). */
typedef struct RedisRequest
{
	StringInfoData buf;
	int			ncommands;
	const char *first;			/* name of the first command, for messages */
} RedisRequest;

extern void redis_request_init(RedisRequest *req);
extern void redis_request_reset(RedisRequest *req);
extern void redis_command_begin(RedisRequest *req, int nargs, const char *name);
extern void redis_command_arg(RedisRequest *req, const char *arg, size_t len);
extern void redis_command_argstr(RedisRequest *req, const char *arg);
extern void redis_command_argint(RedisRequest *req, long long value);

extern RedisConn *redis_connection(ForeignServer *server, UserMapping *um, Oid userid);
extern RedisConn *redis_connect_uncached(ForeignServer *server, UserMapping *um, Oid userid);
extern void redis_free_uncached(RedisConn *conn);
extern RedisReply **redis_exchange(RedisConn *conn, RedisRequest *req,
								   MemoryContext cxt);
extern RedisReply *redis_command(RedisConn *conn, MemoryContext cxt, int nargs,
								 const char *const *args);
extern void redis_error_reply(RedisConn *conn, RedisReply *reply,
							  const char *command) pg_attribute_noreturn();
extern bool redis_is_wrongtype(RedisReply *reply);
extern const char *redis_endpoint(RedisConn *conn);
extern bool redis_uses_tls(RedisConn *conn);
extern void redis_format_server(StringInfo out, const RedisServerOptions *opts);

/* ---- text (text.c) ---- */

extern Datum redis_text_datum(const char *data, size_t len, const char *what,
							  const char *key, size_t keylen);
extern char *redis_text_bytes(Datum text, size_t *len);
extern void redis_append_quoted(StringInfo out, const char *data, size_t len,
								size_t maxlen);
extern char *redis_match_pattern(const char *prefix);

/* ---- planner (plan.c) ---- */

/* How a scan finds its keys; stored in ForeignScan.fdw_private. */
typedef enum RedisKeySource
{
	RK_SCAN,					/* SCAN the key prefix */
	RK_ONE,						/* key = expression */
	RK_ARRAY					/* key = ANY(array expression) */
} RedisKeySource;

/* Indexes into ForeignScan.fdw_private. */
enum
{
	FSP_SOURCE,					/* RedisKeySource */
	FSP_NKEYS,					/* keys of a constant expression, -1 if not constant */
	FSP_CONSTKEY,				/* the key of a constant RK_ONE, else "" */
	FSP_COUNT
};

extern void redisGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel,
								   Oid foreigntableid);
extern void redisGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel,
								 Oid foreigntableid);
extern ForeignScan *redisGetForeignPlan(PlannerInfo *root, RelOptInfo *baserel,
										Oid foreigntableid, ForeignPath *best_path,
										List *tlist, List *scan_clauses,
										Plan *outer_plan);

/* ---- executor (scan.c, modify.c) ---- */

extern void redisBeginForeignScan(ForeignScanState *node, int eflags);
extern TupleTableSlot *redisIterateForeignScan(ForeignScanState *node);
extern void redisReScanForeignScan(ForeignScanState *node);
extern void redisEndForeignScan(ForeignScanState *node);
extern void redisExplainForeignScan(ForeignScanState *node, struct ExplainState *es);

extern void redisAddForeignUpdateTargets(PlannerInfo *root, Index rtindex,
										 RangeTblEntry *target_rte,
										 Relation target_relation);
extern List *redisPlanForeignModify(PlannerInfo *root, ModifyTable *plan,
									Index resultRelation, int subplan_index);
extern void redisBeginForeignModify(ModifyTableState *mtstate,
									ResultRelInfo *rinfo, List *fdw_private,
									int subplan_index, int eflags);
extern TupleTableSlot *redisExecForeignInsert(EState *estate, ResultRelInfo *rinfo,
											  TupleTableSlot *slot,
											  TupleTableSlot *planSlot);
extern TupleTableSlot **redisExecForeignBatchInsert(EState *estate,
													ResultRelInfo *rinfo,
													TupleTableSlot **slots,
													TupleTableSlot **planSlots,
													int *numSlots);
extern int	redisGetForeignModifyBatchSize(ResultRelInfo *rinfo);
extern TupleTableSlot *redisExecForeignUpdate(EState *estate, ResultRelInfo *rinfo,
											  TupleTableSlot *slot,
											  TupleTableSlot *planSlot);
extern TupleTableSlot *redisExecForeignDelete(EState *estate, ResultRelInfo *rinfo,
											  TupleTableSlot *slot,
											  TupleTableSlot *planSlot);
extern void redisEndForeignModify(EState *estate, ResultRelInfo *rinfo);
extern void redisBeginForeignInsert(ModifyTableState *mtstate, ResultRelInfo *rinfo);
extern void redisEndForeignInsert(EState *estate, ResultRelInfo *rinfo);
extern int	redisIsForeignRelUpdatable(Relation rel);
extern void redisExplainForeignModify(ModifyTableState *mtstate,
									  ResultRelInfo *rinfo, List *fdw_private,
									  int subplan_index, struct ExplainState *es);

#endif							/* PGLINKS_REDIS_H */
