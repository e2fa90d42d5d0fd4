/*
 * Options of the wrapper's servers, user mappings and foreign tables: their
 * validator, their parsing, and the column layout each Redis type requires.
 */
#include "pglinks_redis.h"

#include <math.h>

#include "access/reloptions.h"
#include "access/table.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_foreign_table.h"
#include "catalog/pg_type.h"
#include "catalog/pg_user_mapping.h"
#include "commands/defrem.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

/* Where an option may appear. */
#define OPT_SERVER	0x1
#define OPT_MAPPING 0x2
#define OPT_TABLE	0x4

typedef struct RedisOption
{
	const char *name;
	int			where;
} RedisOption;

static const RedisOption redis_options[] = {
	{"host", OPT_SERVER},
	{"port", OPT_SERVER},
	{"db", OPT_SERVER},
	{"tls", OPT_SERVER},
	{"tls_verify", OPT_SERVER},
	{"tls_ca_file", OPT_SERVER},
	{"tls_ca", OPT_SERVER},
	{"connect_timeout", OPT_SERVER},
	{"command_timeout", OPT_SERVER},
	{"writable", OPT_SERVER | OPT_TABLE},
	{"max_keys", OPT_SERVER | OPT_TABLE},
	{"scan_count", OPT_SERVER | OPT_TABLE},
	{"batch_size", OPT_SERVER | OPT_TABLE},
	{"type", OPT_TABLE},
	{"key_prefix", OPT_TABLE},
	{"user", OPT_MAPPING},
	{"password", OPT_MAPPING},
	{"password_required", OPT_MAPPING},
	{NULL, 0}
};

/* ---- layouts ---- */

typedef struct RedisLayout
{
	RedisType	type;
	const char *name;
	int			ncolumns;
	RedisColumn columns[3];
} RedisLayout;

static const RedisLayout layouts[] = {
	{RT_STRING, "string", 2, {RC_KEY, RC_VALUE}},
	{RT_HASH, "hash", 3, {RC_KEY, RC_FIELD, RC_VALUE}},
	{RT_LIST, "list", 3, {RC_KEY, RC_INDEX, RC_VALUE}},
	{RT_SET, "set", 2, {RC_KEY, RC_MEMBER}},
	{RT_ZSET, "zset", 3, {RC_KEY, RC_MEMBER, RC_SCORE}},
};

static const char *const column_names[RC_NCOLUMNS] = {
	"key", "field", "value", "index", "member", "score"
};

static Oid
column_type(RedisColumn col)
{
	switch (col)
	{
		case RC_INDEX:
			return INT8OID;
		case RC_SCORE:
			return FLOAT8OID;
		default:
			return TEXTOID;
	}
}

const char *
redis_type_name(RedisType type)
{
	return layouts[type].name;
}

const char *
redis_column_name(RedisColumn col)
{
	return column_names[col];
}

static bool
parse_type(const char *s, RedisType *type)
{
	for (int i = 0; i < lengthof(layouts); i++)
	{
		if (strcmp(s, layouts[i].name) == 0)
		{
			*type = layouts[i].type;
			return true;
		}
	}
	return false;
}

/* "(key text, value text)" */
static void
append_layout(StringInfo out, RedisType type)
{
	const RedisLayout *l = &layouts[type];

	appendStringInfoChar(out, '(');
	for (int i = 0; i < l->ncolumns; i++)
		appendStringInfo(out, "%s%s %s", i ? ", " : "", column_names[l->columns[i]],
						 format_type_be(column_type(l->columns[i])));
	appendStringInfoChar(out, ')');
}

/* ---- value parsing; every error names the option ---- */

static void
invalid_value(const char *option, const char *value, const char *expected)
{
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
			 errmsg("invalid value for option \"%s\": \"%s\"", option, value),
			 errdetail("Expected %s.", expected)));
}

static int64
parse_int(DefElem *def, int64 min, int64 max)
{
	const char *s = defGetString(def);
	char	   *end;
	long long	v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
	{
		char	   *expected = psprintf("an integer from " INT64_FORMAT " to " INT64_FORMAT,
										min, max);

		invalid_value(def->defname, s, expected);
	}
	return v;
}

/* Seconds, fractions allowed ("0.5"), as milliseconds; at most a day. */
static int
parse_seconds(DefElem *def)
{
	const char *s = defGetString(def);
	char	   *end;
	double		v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !isfinite(v) ||
		v < 0.001 || v > 86400)
		invalid_value(def->defname, s, "a number of seconds from 0.001 to 86400");
	return (int) rint(v * 1000);
}

static bool
parse_bool_option(DefElem *def)
{
	const char *s = defGetString(def);
	bool		v;

	if (!parse_bool(s, &v))
		invalid_value(def->defname, s, "true or false");
	return v;
}

/* ---- the validator ---- */

static void
reject_unknown(const char *name, int where)
{
	StringInfoData valid;

	if (where == OPT_SERVER &&
		(strcmp(name, "password") == 0 || strcmp(name, "user") == 0))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("Redis credentials belong in the user mapping, not in the server's options"),
				 errdetail("Server options are readable by every role; a user mapping's are not."),
				 errhint("CREATE USER MAPPING FOR CURRENT_USER SERVER ... OPTIONS (user '...', password '...')")));
	if (where == OPT_TABLE && strcmp(name, "key") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("invalid option \"key\""),
				 errhint("Use key_prefix to limit a table to the keys that start with a prefix.")));

	initStringInfo(&valid);
	for (const RedisOption *o = redis_options; o->name; o++)
		if (o->where & where)
			appendStringInfo(&valid, "%s%s", valid.len ? ", " : "", o->name);
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
			 errmsg("invalid option \"%s\"", name),
			 valid.len ? errhint("Valid options in this context are: %s", valid.data)
			 : errhint("There are no valid options in this context.")));
}

static void
check_option_value(DefElem *def)
{
	const char *name = def->defname;

	if (strcmp(name, "port") == 0)
		(void) parse_int(def, 1, 65535);
	else if (strcmp(name, "db") == 0)
		(void) parse_int(def, 0, INT_MAX);
	else if (strcmp(name, "max_keys") == 0)
		(void) parse_int(def, 1, INT64CONST(1000000000));
	else if (strcmp(name, "scan_count") == 0)
		(void) parse_int(def, 1, 100000);
	else if (strcmp(name, "batch_size") == 0)
		(void) parse_int(def, 1, 10000);
	else if (strcmp(name, "connect_timeout") == 0 ||
			 strcmp(name, "command_timeout") == 0)
		(void) parse_seconds(def);
	else if (strcmp(name, "tls") == 0 || strcmp(name, "tls_verify") == 0 ||
			 strcmp(name, "writable") == 0)
		(void) parse_bool_option(def);
	else if (strcmp(name, "host") == 0)
	{
		const char *s = defGetString(def);

		if (s[0] == '\0' || strpbrk(s, " \t\r\n/") != NULL)
			invalid_value(name, s, "a host name or an IP address");
	}
	else if (strcmp(name, "type") == 0)
	{
		RedisType	t;

		if (!parse_type(defGetString(def), &t))
			invalid_value(name, defGetString(def), "string, hash, list, set or zset");
	}
	else if (strcmp(name, "tls_ca_file") == 0)
	{
		/* The file is read by the server process: like file_fdw's filename. */
		if (!superuser() && !has_privs_of_role(GetUserId(), ROLE_PG_READ_SERVER_FILES))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("only superusers and members of pg_read_server_files may set tls_ca_file"),
					 errhint("Give the CA certificate itself, in PEM, with the option tls_ca.")));
		if (!is_absolute_path(defGetString(def)))
			invalid_value(name, defGetString(def), "an absolute path");
	}
	else if (strcmp(name, "tls_ca") == 0)
	{
		if (strstr(defGetString(def), "-----BEGIN CERTIFICATE-----") == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("invalid value for option \"tls_ca\""),
					 errdetail("Expected one or more certificates in PEM (-----BEGIN CERTIFICATE-----).")));
	}
	else if (strcmp(name, "password_required") == 0)
	{
		if (!parse_bool_option(def) && !superuser())
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("password_required=false is superuser-only"),
					 errdetail("A Redis that asks for no password would be open to every role allowed to use this server.")));
	}
	/* user, password, key_prefix: any text. Never print the password. */
}

PG_FUNCTION_INFO_V1(pglinks_redis_validator);

Datum
pglinks_redis_validator(PG_FUNCTION_ARGS)
{
	List	   *options = untransformRelOptions(PG_GETARG_DATUM(0));
	Oid			catalog = PG_GETARG_OID(1);
	int			where;
	ListCell   *lc;
	bool		have_user = false,
				have_password = false;

	switch (catalog)
	{
		case ForeignServerRelationId:
			where = OPT_SERVER;
			break;
		case UserMappingRelationId:
			where = OPT_MAPPING;
			break;
		case ForeignTableRelationId:
			where = OPT_TABLE;
			break;
		default:
			/* The wrapper itself and columns take no options. */
			where = 0;
			break;
	}

	foreach(lc, options)
	{
		DefElem    *def = lfirst_node(DefElem, lc);
		const RedisOption *o;

		for (o = redis_options; o->name; o++)
			if ((o->where & where) && strcmp(o->name, def->defname) == 0)
				break;
		if (o->name == NULL)
			reject_unknown(def->defname, where);
		check_option_value(def);
		if (strcmp(def->defname, "user") == 0)
			have_user = true;
		if (strcmp(def->defname, "password") == 0)
			have_password = true;
	}
	if (where == OPT_MAPPING && have_user && !have_password)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("user mapping option \"user\" needs \"password\" too"),
				 errdetail("Redis authenticates a user with AUTH user password.")));
	if (where == OPT_TABLE)
	{
		bool		have_type = false;

		foreach(lc, options)
			if (strcmp(lfirst_node(DefElem, lc)->defname, "type") == 0)
				have_type = true;
		if (!have_type)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
					 errmsg("a Redis foreign table needs the option \"type\""),
					 errhint("OPTIONS (type 'string') for (key text, value text); also hash, list, set, zset.")));
	}
	PG_RETURN_VOID();
}

/* ---- reading the catalog ---- */

void
redis_server_options(ForeignServer *server, RedisServerOptions *opts)
{
	ListCell   *lc;

	memset(opts, 0, sizeof(*opts));
	opts->host = "127.0.0.1";
	opts->port = DEFAULT_REDIS_PORT;
	opts->tls_verify = true;
	opts->connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
	opts->command_timeout_ms = DEFAULT_COMMAND_TIMEOUT_MS;

	foreach(lc, server->options)
	{
		DefElem    *def = lfirst_node(DefElem, lc);
		const char *name = def->defname;

		if (strcmp(name, "host") == 0)
			opts->host = defGetString(def);
		else if (strcmp(name, "port") == 0)
			opts->port = parse_int(def, 1, 65535);
		else if (strcmp(name, "db") == 0)
			opts->db = parse_int(def, 0, INT_MAX);
		else if (strcmp(name, "tls") == 0)
			opts->tls = parse_bool_option(def);
		else if (strcmp(name, "tls_verify") == 0)
			opts->tls_verify = parse_bool_option(def);
		else if (strcmp(name, "tls_ca_file") == 0)
			opts->tls_ca_file = defGetString(def);
		else if (strcmp(name, "tls_ca") == 0)
			opts->tls_ca = defGetString(def);
		else if (strcmp(name, "connect_timeout") == 0)
			opts->connect_timeout_ms = parse_seconds(def);
		else if (strcmp(name, "command_timeout") == 0)
			opts->command_timeout_ms = parse_seconds(def);
	}
}

void
redis_credentials(UserMapping *um, RedisCredentials *creds)
{
	ListCell   *lc;

	memset(creds, 0, sizeof(*creds));
	creds->password_required = true;
	foreach(lc, um->options)
	{
		DefElem    *def = lfirst_node(DefElem, lc);

		if (strcmp(def->defname, "user") == 0)
			creds->user = defGetString(def);
		else if (strcmp(def->defname, "password") == 0)
			creds->password = defGetString(def);
		else if (strcmp(def->defname, "password_required") == 0)
			creds->password_required = parse_bool_option(def);
	}
}

/* Options a table may override: the server's value applies otherwise. */
static void
apply_shared_option(RedisTable *t, DefElem *def)
{
	const char *name = def->defname;

	if (strcmp(name, "writable") == 0)
		t->writable = parse_bool_option(def);
	else if (strcmp(name, "max_keys") == 0)
		t->max_keys = parse_int(def, 1, INT64CONST(1000000000));
	else if (strcmp(name, "scan_count") == 0)
		t->scan_count = parse_int(def, 1, 100000);
	else if (strcmp(name, "batch_size") == 0)
		t->batch_size = parse_int(def, 1, 10000);
}

static void
check_columns(RedisTable *t, TupleDesc desc)
{
	const RedisLayout *l = &layouts[t->type];
	bool		fits = true;
	int			ncols = 0;

	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		int			c;

		if (att->attisdropped)
			continue;
		ncols++;
		for (c = 0; c < l->ncolumns; c++)
			if (strcmp(NameStr(att->attname), column_names[l->columns[c]]) == 0)
				break;
		if (c == l->ncolumns || att->atttypid != column_type(l->columns[c]) ||
			t->attnum[l->columns[c]] != 0)
		{
			fits = false;
			continue;
		}
		t->attnum[l->columns[c]] = att->attnum;
	}
	for (int c = 0; c < l->ncolumns; c++)
		if (t->attnum[l->columns[c]] == 0)
			fits = false;

	if (!fits)
	{
		StringInfoData want,
					have;

		initStringInfo(&want);
		append_layout(&want, t->type);
		initStringInfo(&have);
		appendStringInfoChar(&have, '(');
		for (int i = 0, n = 0; i < desc->natts; i++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, i);

			if (att->attisdropped)
				continue;
			appendStringInfo(&have, "%s%s %s", n++ ? ", " : "",
							 quote_identifier(NameStr(att->attname)),
							 format_type_be(att->atttypid));
		}
		appendStringInfoChar(&have, ')');
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_COLUMN_NAME),
				 errmsg("foreign table \"%s\" does not fit Redis type \"%s\"",
						t->relname, l->name),
				 errdetail("A %s table has the columns %s; this one has %s.",
						   l->name, want.data, have.data),
				 errhint("Change the columns, or the table's option type (string, hash, list, set or zset).")));
	}
	(void) ncols;
}

RedisTable *
redis_table(Relation rel, bool check_columns_now)
{
	RedisTable *t = palloc0(sizeof(RedisTable));
	ForeignTable *ft = GetForeignTable(RelationGetRelid(rel));
	ForeignServer *server = GetForeignServer(ft->serverid);
	ListCell   *lc;
	bool		have_type = false;

	t->relid = RelationGetRelid(rel);
	t->serverid = server->serverid;
	t->relname = quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
											RelationGetRelationName(rel));
	t->servername = server->servername;
	t->key_prefix = "";
	t->max_keys = DEFAULT_MAX_KEYS;
	t->scan_count = DEFAULT_SCAN_COUNT;
	t->batch_size = DEFAULT_BATCH_SIZE;
	redis_server_options(server, &t->server);

	foreach(lc, server->options)
		apply_shared_option(t, lfirst_node(DefElem, lc));
	foreach(lc, ft->options)
	{
		DefElem    *def = lfirst_node(DefElem, lc);

		if (strcmp(def->defname, "type") == 0)
		{
			if (!parse_type(defGetString(def), &t->type))
				invalid_value("type", defGetString(def), "string, hash, list, set or zset");
			have_type = true;
		}
		else if (strcmp(def->defname, "key_prefix") == 0)
		{
			/* Compared with keys and sent in SCAN MATCH: as UTF-8, like keys. */
			const char *p = defGetString(def);

			t->key_prefix = pg_server_to_any(p, strlen(p), PG_UTF8);
		}
		else
			apply_shared_option(t, def);
	}
	if (!have_type)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("foreign table \"%s\" has no option \"type\"", t->relname)));
	if (check_columns_now)
		check_columns(t, RelationGetDescr(rel));
	return t;
}

RedisTable *
redis_table_by_oid(Oid relid, bool check_columns_now)
{
	Relation	rel = table_open(relid, NoLock);
	RedisTable *t = redis_table(rel, check_columns_now);

	table_close(rel, NoLock);
	return t;
}
