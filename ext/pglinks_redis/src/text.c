/*
 * Redis strings are bytes; PostgreSQL text is characters in the database
 * encoding without NUL. Bytes from Redis are taken as UTF-8, checked, and
 * converted; text sent to Redis is converted to UTF-8. Keys shown in
 * messages and EXPLAIN are quoted, escaped and cut, since they come from the
 * remote and may hold anything.
 */
#include "pglinks_redis.h"

#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

/* Appends data (UTF-8 from or for Redis) as a double-quoted string:
 * printable text as it is, other bytes as \xNN, cut after maxlen bytes with
 * "...". */
void
redis_append_quoted(StringInfo out, const char *data, size_t len, size_t maxlen)
{
	size_t		n = Min(len, maxlen);
	int			enc = GetDatabaseEncoding();
	bool		utf8 = (enc == PG_UTF8 || enc == PG_SQL_ASCII) &&
		pg_verify_mbstr(PG_UTF8, data, (int) n, true);

	/*
	 * The text goes into messages and EXPLAIN, in the database encoding:
	 * non-ASCII UTF-8 is shown as it is only where that is the encoding.
	 * Elsewhere, and when a cut splits a character, bytes above ASCII are
	 * escaped, which is still exact.
	 */
	appendStringInfoChar(out, '"');
	for (size_t i = 0; i < n; i++)
	{
		unsigned char c = (unsigned char) data[i];

		if (c == '"' || c == '\\')
			appendStringInfo(out, "\\%c", c);
		else if (c == '\n')
			appendStringInfoString(out, "\\n");
		else if (c < 0x20 || c == 0x7f || (c >= 0x80 && !utf8))
			appendStringInfo(out, "\\x%02x", c);
		else
			appendStringInfoChar(out, (char) c);
	}
	appendStringInfoChar(out, '"');
	if (len > maxlen)
		appendStringInfoString(out, "...");
}

static char *
quoted_key(const char *key, size_t keylen)
{
	StringInfoData s;

	initStringInfo(&s);
	redis_append_quoted(&s, key, keylen, 100);
	return s.data;
}

typedef struct ConversionContext
{
	const char *what;
	const char *key;
	size_t		keylen;
} ConversionContext;

static void
conversion_context(void *arg)
{
	ConversionContext *c = arg;

	errcontext("reading the %s of Redis key %s", c->what, quoted_key(c->key, c->keylen));
}

/*
 * The text Datum for bytes read from Redis; what says which part of the key
 * they are ("value", "field", "member", "key"), for the error message.
 */
Datum
redis_text_datum(const char *data, size_t len, const char *what,
				 const char *key, size_t keylen)
{
	char	   *converted;
	text	   *result;

	if (len > MaxAllocSize - VARHDRSZ - 1)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the %s of Redis key %s is too long for text (%zu bytes)",
						what, quoted_key(key, keylen), len)));
	if (memchr(data, '\0', len) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
				 errmsg("the %s of Redis key %s contains a NUL byte, which text cannot hold",
						what, quoted_key(key, keylen)),
				 errhint("Binary values cannot be read through this wrapper; leave such keys out with key_prefix.")));
	if (!pg_verify_mbstr(PG_UTF8, data, (int) len, true))
		ereport(ERROR,
				(errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
				 errmsg("the %s of Redis key %s is not valid UTF-8 text",
						what, quoted_key(key, keylen)),
				 errhint("Binary values cannot be read through this wrapper; leave such keys out with key_prefix.")));

	if (GetDatabaseEncoding() == PG_UTF8 || GetDatabaseEncoding() == PG_SQL_ASCII)
		converted = (char *) data;
	else
	{
		ErrorContextCallback cb;
		ConversionContext c = {what, key, keylen};

		cb.callback = conversion_context;
		cb.arg = &c;
		cb.previous = error_context_stack;
		error_context_stack = &cb;
		converted = pg_any_to_server(data, (int) len, PG_UTF8);
		error_context_stack = cb.previous;
		if (converted != data)
			len = strlen(converted);
	}
	result = (text *) palloc(len + VARHDRSZ);
	SET_VARSIZE(result, len + VARHDRSZ);
	memcpy(VARDATA(result), converted, len);
	return PointerGetDatum(result);
}

/* The UTF-8 bytes of a text Datum, for a command. */
char *
redis_text_bytes(Datum value, size_t *len)
{
	text	   *t = DatumGetTextPP(value);
	const char *s = VARDATA_ANY(t);
	int			n = VARSIZE_ANY_EXHDR(t);
	char	   *out;

	out = pg_server_to_any(s, n, PG_UTF8);
	if (out == s)
	{
		out = palloc(n + 1);
		memcpy(out, s, n);
		out[n] = '\0';
		*len = n;
	}
	else
		*len = strlen(out);
	return out;
}

/*
 * The SCAN MATCH pattern for keys starting with prefix: every character
 * Redis' glob treats specially is escaped, so the prefix matches literally.
 */
char *
redis_match_pattern(const char *prefix)
{
	StringInfoData s;

	initStringInfo(&s);
	for (const char *p = prefix; *p; p++)
	{
		if (strchr("*?[]\\^-", *p) != NULL)
			appendStringInfoChar(&s, '\\');
		appendStringInfoChar(&s, *p);
	}
	appendStringInfoChar(&s, '*');
	return s.data;
}
