/*
 * Replies read by hiredis' RESP reader are built here, in a PostgreSQL
 * memory context chosen per exchange, so a statement that ends in an error
 * leaks nothing: the context goes with the statement. Allocation failures
 * are reported to the reader (NULL), which turns them into a protocol error
 * instead of a longjmp through hiredis.
 *
 * The remote is untrusted: array sizes and element indexes are checked
 * before anything is allocated or stored.
 */
#include "pglinks_redis.h"

#include <hiredis/read.h>

#include "utils/memutils.h"

/* More elements than any reply this wrapper asks for can have. */
#define MAX_ARRAY_ELEMENTS (64 * 1024 * 1024)

static MemoryContext reply_cxt = NULL;

/* Why a reply was refused, when it was for its size rather than memory. */
static char refusal[128];

void
redis_reader_set_context(MemoryContext cxt)
{
	reply_cxt = cxt;
	refusal[0] = '\0';
}

const char *
redis_reader_refusal(void)
{
	return refusal[0] ? refusal : NULL;
}

static void *
reply_alloc(size_t size)
{
	if (reply_cxt == NULL)
		return NULL;
	return MemoryContextAllocExtended(reply_cxt, size,
									  MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM | MCXT_ALLOC_ZERO);
}

/* Stores r as its parent's element; false if the parent cannot hold it. */
static bool
attach(const redisReadTask *task, RedisReply *r)
{
	RedisReply *parent;

	if (task->parent == NULL)
		return true;
	parent = task->parent->obj;
	if (parent == NULL || parent->type != RR_ARRAY || task->idx < 0 ||
		(size_t) task->idx >= parent->elements)
		return false;
	parent->element[task->idx] = r;
	return true;
}

static void *
create_string(const redisReadTask *task, char *str, size_t len)
{
	RedisReply *r = reply_alloc(sizeof(RedisReply));

	if (r == NULL)
		return NULL;
	r->type = task->type;
	r->str = reply_alloc(len + 1);
	if (r->str == NULL)
		return NULL;
	memcpy(r->str, str, len);
	r->str[len] = '\0';
	r->len = len;
	return attach(task, r) ? r : NULL;
}

static void *
create_array(const redisReadTask *task, int elements)
{
	RedisReply *r;

	if (elements < 0 || elements > MAX_ARRAY_ELEMENTS)
	{
		snprintf(refusal, sizeof(refusal),
				 "an array of %d elements is more than any reply this wrapper asks for", elements);
		return NULL;
	}
	r = reply_alloc(sizeof(RedisReply));
	if (r == NULL)
		return NULL;
	r->type = RR_ARRAY;
	r->elements = elements;
	if (elements > 0)
	{
		r->element = reply_alloc(sizeof(RedisReply *) * elements);
		if (r->element == NULL)
			return NULL;
	}
	return attach(task, r) ? r : NULL;
}

static void *
create_integer(const redisReadTask *task, long long value)
{
	RedisReply *r = reply_alloc(sizeof(RedisReply));

	if (r == NULL)
		return NULL;
	r->type = RR_INTEGER;
	r->integer = value;
	return attach(task, r) ? r : NULL;
}

static void *
create_nil(const redisReadTask *task)
{
	RedisReply *r = reply_alloc(sizeof(RedisReply));

	if (r == NULL)
		return NULL;
	r->type = RR_NIL;
	return attach(task, r) ? r : NULL;
}

/* Memory belongs to the exchange's context; nothing to free one by one. */
static void
free_object(void *obj)
{
}

static redisReplyObjectFunctions reply_functions = {
	create_string,
	create_array,
	create_integer,
	create_nil,
	free_object
};

struct redisReader *
redis_reader_create(void)
{
	redisReader *r = redisReaderCreateWithFunctions(&reply_functions);

	if (r == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	return r;
}
