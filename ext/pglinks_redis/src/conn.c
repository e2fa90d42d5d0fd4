/*
 * Connections to Redis: our own non-blocking sockets, OpenSSL for TLS, and
 * the RESP exchange of a request (one or more pipelined commands) for its
 * replies.
 *
 * Every wait goes through a WaitEventSet holding the socket and the
 * process latch, with the deadline of what is being waited for (connect or
 * command timeout). Query cancel and statement_timeout set the latch, so
 * CHECK_FOR_INTERRUPTS runs at once and the statement ends even when Redis
 * never answers. A connection interrupted mid-exchange may have a reply
 * still coming: it is closed rather than reused.
 *
 * Connections are kept for the session, one per (user mapping, user), and
 * dropped when the server or the mapping changes. The password is sent in
 * AUTH and appears in no message: errors from AUTH are reported by their
 * code, with any echo of the password masked.
 */
#include "pglinks_redis.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <arpa/inet.h>

#include <hiredis/read.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "access/xact.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_user_mapping.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

/* No single exchange may bring more than this (a batch of large values). */
#define MAX_EXCHANGE_BYTES ((size_t) 1024 * 1024 * 1024)
#define READ_CHUNK (64 * 1024)

struct RedisConn
{
	pgsocket	sock;			/* PGINVALID_SOCKET when closed */
	SSL_CTX    *ssl_ctx;
	SSL		   *ssl;
	redisReader *reader;
	WaitEventSet *wes;
	int			sock_pos;		/* the socket's event in wes */
	uint32		sock_events;	/* what wes waits for on the socket */
	bool		busy;			/* an exchange began and did not end */
	bool		tls;
	bool		tls_verify;
	char	   *endpoint;		/* "host:port", for messages */
	int			command_timeout_ms;
	char		inbuf[READ_CHUNK];
};

typedef struct ConnKey
{
	Oid			umid;
	Oid			userid;
} ConnKey;

typedef struct ConnEntry
{
	ConnKey		key;
	RedisConn  *conn;
	uint32		server_hash;
	uint32		mapping_hash;
	bool		invalidated;
} ConnEntry;

static HTAB *conn_cache = NULL;

/* ---- requests ---- */

void
redis_request_init(RedisRequest *req)
{
	initStringInfo(&req->buf);
	req->ncommands = 0;
	req->first = NULL;
}

void
redis_request_reset(RedisRequest *req)
{
	resetStringInfo(&req->buf);
	req->ncommands = 0;
	req->first = NULL;
}

void
redis_command_begin(RedisRequest *req, int nargs, const char *name)
{
	appendStringInfo(&req->buf, "*%d\r\n", nargs);
	if (req->ncommands++ == 0)
		req->first = name;
	redis_command_argstr(req, name);
}

void
redis_command_arg(RedisRequest *req, const char *arg, size_t len)
{
	appendStringInfo(&req->buf, "$%zu\r\n", len);
	appendBinaryStringInfo(&req->buf, arg, len);
	appendBinaryStringInfo(&req->buf, "\r\n", 2);
}

void
redis_command_argstr(RedisRequest *req, const char *arg)
{
	redis_command_arg(req, arg, strlen(arg));
}

void
redis_command_argint(RedisRequest *req, long long value)
{
	char		buf[32];

	snprintf(buf, sizeof(buf), "%lld", value);
	redis_command_argstr(req, buf);
}

/* ---- messages ---- */

const char *
redis_endpoint(RedisConn *conn)
{
	return conn->endpoint;
}

bool
redis_uses_tls(RedisConn *conn)
{
	return conn->tls;
}

static char *
seconds(int ms)
{
	return psprintf("%g s", ms / 1000.0);
}

static char *
make_endpoint(const char *host, int port)
{
	if (strchr(host, ':') != NULL)
		return psprintf("[%s]:%d", host, port);
	return psprintf("%s:%d", host, port);
}

void
redis_format_server(StringInfo out, const RedisServerOptions *opts)
{
	char	   *ep = make_endpoint(opts->host, opts->port);

	appendStringInfo(out, "%s db %d", ep, opts->db);
	if (opts->tls)
		appendStringInfoString(out, opts->tls_verify ? ", TLS" : ", TLS without certificate verification");
}

/* The most recent OpenSSL error, or fallback; clears the queue, which the
 * backend shares with its own client connection's TLS. */
static const char *
ssl_error_text(const char *fallback)
{
	unsigned long e = ERR_get_error();
	const char *reason = e ? ERR_reason_error_string(e) : NULL;

	ERR_clear_error();
	return reason ? reason : fallback;
}

/* ---- closing ---- */

static void
close_socket(RedisConn *c)
{
	if (c->ssl)
	{
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->ssl_ctx)
	{
		SSL_CTX_free(c->ssl_ctx);
		c->ssl_ctx = NULL;
	}
	ERR_clear_error();
	if (c->reader)
	{
		redisReaderFree(c->reader);
		c->reader = NULL;
	}
	if (c->wes)
	{
		FreeWaitEventSet(c->wes);
		c->wes = NULL;
	}
	if (c->sock != PGINVALID_SOCKET)
	{
		closesocket(c->sock);
		c->sock = PGINVALID_SOCKET;
	}
	c->busy = false;
}

/* Closes and frees a connection made by redis_connect_uncached. */
void
redis_free_uncached(RedisConn *conn)
{
	close_socket(conn);
	if (conn->endpoint)
		pfree(conn->endpoint);
	pfree(conn);
}

/*
 * Closes the connection, then raises an error. The texts are made by the
 * caller before the call, while errno, OpenSSL's error queue and the reader
 * still hold the cause.
 */
static void pg_attribute_noreturn()
conn_error(RedisConn *c, int sqlstate, const char *msg, const char *detail, const char *hint)
{
	close_socket(c);
	ereport(ERROR,
			(errcode(sqlstate),
			 errmsg_internal("%s", msg),
			 detail ? errdetail_internal("%s", detail) : 0,
			 hint ? errhint("%s", hint) : 0));
}

static const char *
errno_text(int e, const char *if_zero)
{
	return e ? pstrdup(strerror(e)) : if_zero;
}

/* ---- waiting ---- */

/*
 * Waits until the socket is ready for events, an interrupt is pending (then
 * CHECK_FOR_INTERRUPTS raises it), or the deadline passes (then the
 * connection is closed and the error names what was awaited and the
 * option that bounds it).
 */
static void
conn_wait(RedisConn *c, uint32 events, TimestampTz deadline, const char *awaited,
		  const RedisRequest *req, const char *option, int option_ms, const char *hint)
{
	for (;;)
	{
		long		timeout_ms;
		WaitEvent	ev;
		int			n;

		CHECK_FOR_INTERRUPTS();
		timeout_ms = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
		if (timeout_ms <= 0)
		{
			if (req != NULL)
				awaited = psprintf("answer %s%s", req->first,
								   req->ncommands > 1 ? psprintf(" (%d commands)", req->ncommands) : "");
			conn_error(c, ERRCODE_CONNECTION_FAILURE,
					   psprintf("Redis at %s did not %s within %s (%s)",
								c->endpoint, awaited, seconds(option_ms), option),
					   NULL, hint);
		}
		if (c->sock_events != events)
		{
			ModifyWaitEvent(c->wes, c->sock_pos, events, NULL);
			c->sock_events = events;
		}
		n = WaitEventSetWait(c->wes, timeout_ms, &ev, 1, PG_WAIT_EXTENSION);
		if (n == 0)
			continue;
		if (ev.events & WL_LATCH_SET)
		{
			ResetLatch(MyLatch);
			continue;
		}
		if (ev.events & events)
			return;
	}
}

/* ---- raw I/O; 0 means "wait for *wait_for" ---- */

static ssize_t
conn_send(RedisConn *c, const char *data, size_t len, uint32 *wait_for)
{
	if (c->ssl)
	{
		int			n,
					err;

		ERR_clear_error();
		n = SSL_write(c->ssl, data, (int) Min(len, INT_MAX));
		if (n > 0)
			return n;
		err = SSL_get_error(c->ssl, n);
		if (err == SSL_ERROR_WANT_WRITE)
			*wait_for = WL_SOCKET_WRITEABLE;
		else if (err == SSL_ERROR_WANT_READ)
			*wait_for = WL_SOCKET_READABLE;
		else
			conn_error(c, ERRCODE_CONNECTION_FAILURE,
					   psprintf("could not send to Redis at %s: %s", c->endpoint,
								err == SSL_ERROR_SYSCALL ? errno_text(errno, "connection closed")
								: ssl_error_text("TLS error")),
					   NULL, NULL);
		return 0;
	}
	else
	{
		ssize_t		n = send(c->sock, data, len, MSG_NOSIGNAL);

		if (n >= 0)
			return n;
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		{
			*wait_for = WL_SOCKET_WRITEABLE;
			return 0;
		}
		conn_error(c, ERRCODE_CONNECTION_FAILURE,
				   psprintf("could not send to Redis at %s: %s", c->endpoint,
							errno_text(errno, "error")),
				   NULL, NULL);
	}
	return 0;					/* not reached */
}

/* A TLS port drops a client that speaks plain RESP to it. */
#define PLAIN_TO_TLS_HINT "If Redis listens for TLS there, set the server option tls 'true'."

static ssize_t
conn_recv(RedisConn *c, char *buf, size_t len, uint32 *wait_for)
{
	if (c->ssl)
	{
		int			n,
					err;

		ERR_clear_error();
		n = SSL_read(c->ssl, buf, (int) len);
		if (n > 0)
			return n;
		err = SSL_get_error(c->ssl, n);
		if (err == SSL_ERROR_WANT_READ)
			*wait_for = WL_SOCKET_READABLE;
		else if (err == SSL_ERROR_WANT_WRITE)
			*wait_for = WL_SOCKET_WRITEABLE;
		else if (err == SSL_ERROR_ZERO_RETURN || (err == SSL_ERROR_SYSCALL && errno == 0))
			conn_error(c, ERRCODE_CONNECTION_FAILURE,
					   psprintf("Redis at %s closed the connection", c->endpoint),
					   NULL, NULL);
		else
			conn_error(c, ERRCODE_CONNECTION_FAILURE,
					   psprintf("could not read from Redis at %s: %s", c->endpoint,
								err == SSL_ERROR_SYSCALL ? errno_text(errno, "error")
								: ssl_error_text("TLS error")),
					   NULL, NULL);
		return 0;
	}
	else
	{
		ssize_t		n = recv(c->sock, buf, len, 0);

		if (n > 0)
			return n;
		if (n == 0)
			conn_error(c, ERRCODE_CONNECTION_FAILURE,
					   psprintf("Redis at %s closed the connection", c->endpoint), NULL,
					   PLAIN_TO_TLS_HINT);
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		{
			*wait_for = WL_SOCKET_READABLE;
			return 0;
		}
		conn_error(c, ERRCODE_CONNECTION_FAILURE,
				   psprintf("could not read from Redis at %s: %s", c->endpoint,
							errno_text(errno, "error")),
				   NULL, PLAIN_TO_TLS_HINT);
	}
	return 0;					/* not reached */
}

/* ---- exchanges ---- */

static RedisReply **
exchange(RedisConn *c, RedisRequest *req, MemoryContext cxt, TimestampTz deadline,
		 const char *option, int option_ms)
{
	RedisReply **replies;
	size_t		off = 0,
				received = 0;
	int			got = 0;

	if (c->sock == PGINVALID_SOCKET)
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("the connection to Redis at %s was closed", c->endpoint)));
	replies = MemoryContextAllocZero(cxt, sizeof(RedisReply *) * req->ncommands);

	c->busy = true;
	while (off < req->buf.len)
	{
		uint32		wait_for = 0;
		ssize_t		n = conn_send(c, req->buf.data + off, req->buf.len - off, &wait_for);

		if (n > 0)
			off += n;
		else
			conn_wait(c, wait_for, deadline, NULL, req, option, option_ms, NULL);
	}

	redis_reader_set_context(cxt);
	while (got < req->ncommands)
	{
		void	   *reply = NULL;
		uint32		wait_for = 0;
		ssize_t		n;

		if (redisReaderGetReply(c->reader, &reply) != REDIS_OK)
		{
			const char *why = redis_reader_refusal();

			conn_error(c, ERRCODE_PROTOCOL_VIOLATION,
					   psprintf("could not read the reply of Redis at %s to %s: %s",
								c->endpoint, req->first, why ? why : c->reader->errstr),
					   NULL, NULL);
		}
		if (reply != NULL)
		{
			replies[got++] = reply;
			continue;
		}
		n = conn_recv(c, c->inbuf, READ_CHUNK, &wait_for);
		if (n == 0)
		{
			conn_wait(c, wait_for, deadline, NULL, req, option, option_ms, NULL);
			continue;
		}
		received += n;
		if (received > MAX_EXCHANGE_BYTES)
			conn_error(c, ERRCODE_PROGRAM_LIMIT_EXCEEDED,
					   psprintf("Redis at %s sent more than 1 GB in answer to %s",
								c->endpoint, req->first),
					   NULL, "Lower the option batch_size so fewer large values come at once.");
		if (redisReaderFeed(c->reader, c->inbuf, n) != REDIS_OK)
			conn_error(c, ERRCODE_PROTOCOL_VIOLATION,
					   psprintf("could not read the reply of Redis at %s: %s",
								c->endpoint, c->reader->errstr),
					   NULL, NULL);
	}
	redis_reader_set_context(NULL);
	c->busy = false;
	return replies;
}

RedisReply **
redis_exchange(RedisConn *conn, RedisRequest *req, MemoryContext cxt)
{
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
													   conn->command_timeout_ms);

	return exchange(conn, req, cxt, deadline, "command_timeout", conn->command_timeout_ms);
}

RedisReply *
redis_command(RedisConn *conn, MemoryContext cxt, int nargs, const char *const *args)
{
	RedisRequest req;
	RedisReply **r;

	redis_request_init(&req);
	redis_command_begin(&req, nargs, args[0]);
	for (int i = 1; i < nargs; i++)
		redis_command_argstr(&req, args[i]);
	r = redis_exchange(conn, &req, cxt);
	pfree(req.buf.data);
	return r[0];
}

bool
redis_is_wrongtype(RedisReply *reply)
{
	return reply->type == RR_ERROR && strncmp(reply->str, "WRONGTYPE", 9) == 0;
}

void
redis_error_reply(RedisConn *conn, RedisReply *reply, const char *command)
{
	const char *msg = reply->type == RR_ERROR ? reply->str : "an unexpected reply";
	StringInfoData said;

	/*
	 * The reply is the Redis's own text: shown quoted, control characters
	 * escaped (it reaches a psql user's terminal) and cut (a Redis may send
	 * megabytes), as keys are.
	 */
	initStringInfo(&said);
	if (reply->type == RR_ERROR)
		redis_append_quoted(&said, reply->str, reply->len, 200);
	else
		appendStringInfoString(&said, msg);
	if (strncmp(msg, "NOAUTH", 6) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("Redis at %s requires a password", conn->endpoint),
				 errhint("Set user and password in the user mapping.")));
	if (strncmp(msg, "MOVED", 5) == 0 || strncmp(msg, "ASK ", 4) == 0 ||
		strncmp(msg, "CLUSTERDOWN", 11) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Redis at %s is a cluster node; Redis Cluster is not supported", conn->endpoint),
				 errdetail("Redis answered %s with: %s", command, said.data)));
	if (strncmp(msg, "NOPERM", 6) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("Redis at %s refused %s: %s", conn->endpoint, command, said.data),
				 errhint("The Redis ACL user of the user mapping lacks this command or key pattern.")));
	ereport(ERROR,
			(errcode(ERRCODE_FDW_ERROR),
			 errmsg("Redis at %s answered %s with an error: %s", conn->endpoint, command, said.data)));
}

/* ---- connecting ---- */

static bool
is_ip_literal(const char *host)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

static void
tcp_connect(RedisConn *c, const RedisServerOptions *o, TimestampTz deadline)
{
	struct addrinfo hints,
			   *addrs = NULL,
			   *a;
	char		port[16];
	int			rc;
	char	   *last_error = NULL;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof(port), "%d", o->port);
	rc = getaddrinfo(o->host, port, &hints, &addrs);
	if (rc != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
				 errmsg("could not resolve the Redis host \"%s\": %s", o->host, gai_strerror(rc))));

	for (a = addrs; a != NULL; a = a->ai_next)
	{
		int			one = 1;
		int			err = 0;
		socklen_t	errlen = sizeof(err);

		c->sock = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
		if (c->sock == PGINVALID_SOCKET)
		{
			last_error = pstrdup(strerror(errno));
			continue;
		}
		if (!pg_set_noblock(c->sock))
		{
			last_error = pstrdup(strerror(errno));
			close_socket(c);
			continue;
		}
		(void) setsockopt(c->sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		(void) setsockopt(c->sock, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));

		c->wes = CreateWaitEventSet(TopMemoryContext, 3);
		AddWaitEventToSet(c->wes, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
		AddWaitEventToSet(c->wes, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
		c->sock_events = WL_SOCKET_WRITEABLE;
		c->sock_pos = AddWaitEventToSet(c->wes, c->sock_events, c->sock, NULL, NULL);

		if (connect(c->sock, a->ai_addr, a->ai_addrlen) < 0)
		{
			if (errno != EINPROGRESS && errno != EINTR)
			{
				last_error = pstrdup(strerror(errno));
				close_socket(c);
				continue;
			}
			PG_TRY();
			{
				conn_wait(c, WL_SOCKET_WRITEABLE, deadline, "accept the connection", NULL,
						  "connect_timeout", o->connect_timeout_ms, NULL);
			}
			PG_CATCH();
			{
				freeaddrinfo(addrs);
				PG_RE_THROW();
			}
			PG_END_TRY();
			if (getsockopt(c->sock, SOL_SOCKET, SO_ERROR, &err, &errlen) < 0)
				err = errno;
			if (err != 0)
			{
				last_error = pstrdup(strerror(err));
				close_socket(c);
				continue;
			}
		}
		break;
	}
	freeaddrinfo(addrs);
	if (c->sock == PGINVALID_SOCKET)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
				 errmsg("could not connect to Redis at %s: %s", c->endpoint,
						last_error ? last_error : "no address")));
}

static void
load_ca_pem(RedisConn *c, const char *pem)
{
	BIO		   *bio = BIO_new_mem_buf(pem, -1);
	X509_STORE *store = SSL_CTX_get_cert_store(c->ssl_ctx);
	X509	   *x;
	int			n = 0;

	if (bio == NULL)
		conn_error(c, ERRCODE_OUT_OF_MEMORY, "out of memory", NULL, NULL);
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
	{
		if (X509_STORE_add_cert(store, x) == 1)
			n++;
		X509_free(x);
	}
	BIO_free(bio);
	ERR_clear_error();
	if (n == 0)
		conn_error(c, ERRCODE_FDW_INVALID_OPTION_NAME,
				   "the server option tls_ca holds no certificate OpenSSL can read", NULL, NULL);
}

static void
tls_handshake(RedisConn *c, const RedisServerOptions *o, TimestampTz deadline)
{
	ERR_clear_error();
	c->ssl_ctx = SSL_CTX_new(TLS_client_method());
	if (c->ssl_ctx == NULL)
		conn_error(c, ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION,
				   psprintf("could not set up TLS: %s", ssl_error_text("SSL_CTX_new failed")),
				   NULL, NULL);
	SSL_CTX_set_min_proto_version(c->ssl_ctx, TLS1_2_VERSION);
	if (o->tls_verify)
	{
		SSL_CTX_set_verify(c->ssl_ctx, SSL_VERIFY_PEER, NULL);
		if (o->tls_ca_file &&
			SSL_CTX_load_verify_locations(c->ssl_ctx, o->tls_ca_file, NULL) != 1)
			conn_error(c, ERRCODE_FDW_INVALID_OPTION_NAME,
					   psprintf("could not load the CA certificates of tls_ca_file \"%s\": %s",
								o->tls_ca_file, ssl_error_text("unreadable")),
					   NULL, NULL);
		if (o->tls_ca)
			load_ca_pem(c, o->tls_ca);
		if (!o->tls_ca_file && !o->tls_ca)
			SSL_CTX_set_default_verify_paths(c->ssl_ctx);
	}
	else
		SSL_CTX_set_verify(c->ssl_ctx, SSL_VERIFY_NONE, NULL);

	c->ssl = SSL_new(c->ssl_ctx);
	if (c->ssl == NULL || SSL_set_fd(c->ssl, c->sock) != 1)
		conn_error(c, ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION,
				   psprintf("could not set up TLS: %s", ssl_error_text("SSL_new failed")),
				   NULL, NULL);
	SSL_set_mode(c->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (!is_ip_literal(o->host))
		SSL_set_tlsext_host_name(c->ssl, o->host);
	if (o->tls_verify)
	{
		if (is_ip_literal(o->host))
			X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), o->host);
		else
			SSL_set1_host(c->ssl, o->host);
	}

	for (;;)
	{
		int			rc,
					err;

		ERR_clear_error();
		rc = SSL_connect(c->ssl);
		if (rc == 1)
			break;
		err = SSL_get_error(c->ssl, rc);
		if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
		{
			conn_wait(c, err == SSL_ERROR_WANT_READ ? WL_SOCKET_READABLE : WL_SOCKET_WRITEABLE,
					  deadline, "complete the TLS handshake", NULL, "connect_timeout",
					  o->connect_timeout_ms,
					  "A port without TLS waits for more; check that port is the TLS port of Redis (tls-port).");
			continue;
		}
		if (o->tls_verify && SSL_get_verify_result(c->ssl) != X509_V_OK)
		{
			const char *why = X509_verify_cert_error_string(SSL_get_verify_result(c->ssl));

			conn_error(c, ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION,
					   psprintf("could not verify the TLS certificate of Redis at %s: %s",
								c->endpoint, why),
					   NULL,
					   "Give the CA that signed it with the server option tls_ca (or tls_ca_file), "
					   "or, for a test server with a self-signed certificate, set tls_verify 'false'.");
		}
		conn_error(c, ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION,
				   psprintf("TLS handshake with Redis at %s failed: %s", c->endpoint,
							err == SSL_ERROR_SYSCALL ? errno_text(errno, "connection closed")
							: ssl_error_text("TLS error")),
				   NULL, "Check that host and port name a TLS port of Redis (tls 'true' needs one).");
	}
}

/* An error code from Redis ("WRONGPASS", "ERR"), never the rest of the text,
 * which a server that is not Redis could fill with the command it got. */
static char *
error_code(RedisReply *r)
{
	size_t		n = 0;

	if (r->type != RR_ERROR)
		return pstrdup("unexpected reply");
	while (n < r->len && n < 32 && r->str[n] >= 'A' && r->str[n] <= 'Z')
		n++;
	return n ? pnstrdup(r->str, n) : pstrdup("error");
}

/*
 * The first exchange: for a user who is not a superuser, PING before AUTH to
 * learn whether this Redis asks for a password at all (a password alone
 * proves nothing: Redis accepts any password for a user without one); then
 * AUTH and SELECT.
 */
static void
handshake(RedisConn *c, const RedisServerOptions *o, const RedisCredentials *cr,
		  bool check_password, TimestampTz deadline)
{
	RedisRequest req;
	RedisReply **r;
	int			i = 0;
	MemoryContext cxt = CurrentMemoryContext;

	redis_request_init(&req);
	if (check_password)
	{
		redis_command_begin(&req, 1, "PING");
	}
	if (cr->password)
	{
		redis_command_begin(&req, cr->user ? 3 : 2, "AUTH");
		if (cr->user)
			redis_command_argstr(&req, cr->user);
		redis_command_argstr(&req, cr->password);
	}
	if (o->db != 0)
	{
		redis_command_begin(&req, 2, "SELECT");
		redis_command_argint(&req, o->db);
	}
	if (req.ncommands == 0)
		return;
	r = exchange(c, &req, cxt, deadline, "connect_timeout", o->connect_timeout_ms);
	/* The request held the password: do not leave it in memory. */
	memset(req.buf.data, 0, req.buf.maxlen);

	if (check_password)
	{
		if (r[i]->type != RR_ERROR)
			conn_error(c, ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION,
					   psprintf("Redis at %s does not ask for a password", c->endpoint),
					   "Only superusers may use a Redis that lets anyone in.",
					   "Give this Redis a password (requirepass or an ACL user), "
					   "or have a superuser set password_required 'false' on the user mapping.");
		i++;
	}
	if (cr->password)
	{
		if (r[i]->type == RR_ERROR)
		{
			char	   *code = error_code(r[i]);

			if (cr->user)
				conn_error(c, ERRCODE_INVALID_PASSWORD,
						   psprintf("Redis at %s refused the password of user \"%s\" (%s)",
									c->endpoint, cr->user, code),
						   NULL, NULL);
			conn_error(c, ERRCODE_INVALID_PASSWORD,
					   psprintf("Redis at %s refused the password (%s)", c->endpoint, code),
					   NULL,
					   strcmp(code, "ERR") == 0 ?
					   "A Redis without a password refuses AUTH; remove password from the user mapping, or set user too." : NULL);
		}
		i++;
	}
	if (o->db != 0 && r[i]->type == RR_ERROR)
		conn_error(c, ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION,
				   psprintf("Redis at %s refused SELECT %d (%s)", c->endpoint, o->db, error_code(r[i])),
				   "A Redis has the databases 0 to its setting \"databases\" minus one (16 by default).",
				   NULL);
}

/* Connects c (closed) as the server's options and the mapping's credentials say. */
static void
connect_to(RedisConn *c, ForeignServer *server, UserMapping *um, Oid userid)
{
	RedisServerOptions o;
	RedisCredentials cr;
	TimestampTz deadline;
	bool		check_password;

	redis_server_options(server, &o);
	redis_credentials(um, &cr);
	check_password = !superuser_arg(userid) && cr.password_required;
	if (check_password && cr.password == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_S_R_E_PROHIBITED_SQL_STATEMENT_ATTEMPTED),
				 errmsg("password is required"),
				 errdetail("Non-superusers must give a password in the user mapping of server \"%s\".",
						   server->servername)));

	if (c->endpoint)
		pfree(c->endpoint);
	c->endpoint = MemoryContextStrdup(TopMemoryContext, make_endpoint(o.host, o.port));
	c->command_timeout_ms = o.command_timeout_ms;
	c->tls = o.tls;
	c->tls_verify = o.tls_verify;
	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), o.connect_timeout_ms);

	PG_TRY();
	{
		tcp_connect(c, &o, deadline);
		if (o.tls)
			tls_handshake(c, &o, deadline);
		c->reader = redis_reader_create();
		handshake(c, &o, &cr, check_password, deadline);
	}
	PG_CATCH();
	{
		close_socket(c);
		PG_RE_THROW();
	}
	PG_END_TRY();
}

static RedisConn *
new_conn(void)
{
	RedisConn  *c = MemoryContextAllocZero(TopMemoryContext, sizeof(RedisConn));

	c->sock = PGINVALID_SOCKET;
	return c;
}

/* ---- the cache ---- */

static void
invalidate(Datum arg, int cacheid, uint32 hashvalue)
{
	HASH_SEQ_STATUS scan;
	ConnEntry  *e;

	hash_seq_init(&scan, conn_cache);
	while ((e = hash_seq_search(&scan)) != NULL)
	{
		if (hashvalue == 0 ||
			(cacheid == FOREIGNSERVEROID && e->server_hash == hashvalue) ||
			(cacheid == USERMAPPINGOID && e->mapping_hash == hashvalue))
			e->invalidated = true;
	}
}

/* A connection whose exchange was interrupted may still get its reply. */
static void
close_interrupted(void)
{
	HASH_SEQ_STATUS scan;
	ConnEntry  *e;

	hash_seq_init(&scan, conn_cache);
	while ((e = hash_seq_search(&scan)) != NULL)
		if (e->conn->busy)
			close_socket(e->conn);
}

static void
xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
		close_interrupted();
}

static void
subxact_callback(SubXactEvent event, SubTransactionId mySubid,
				 SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
		close_interrupted();
}

/* The session's connection for the user mapping um, used as userid (the
 * user the query runs as, or a view's owner). */
RedisConn *
redis_connection(ForeignServer *server, UserMapping *um, Oid userid)
{
	ConnKey		key;
	ConnEntry  *e;
	bool		found;

	if (conn_cache == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(ConnKey);
		ctl.entrysize = sizeof(ConnEntry);
		conn_cache = hash_create("pglinks_redis connections", 8, &ctl,
								 HASH_ELEM | HASH_BLOBS);
		CacheRegisterSyscacheCallback(FOREIGNSERVEROID, invalidate, (Datum) 0);
		CacheRegisterSyscacheCallback(USERMAPPINGOID, invalidate, (Datum) 0);
		RegisterXactCallback(xact_callback, NULL);
		RegisterSubXactCallback(subxact_callback, NULL);
	}

	memset(&key, 0, sizeof(key));
	key.umid = um->umid;
	key.userid = userid;
	e = hash_search(conn_cache, &key, HASH_ENTER, &found);
	if (!found)
	{
		e->conn = new_conn();
		e->invalidated = false;
	}
	if (e->conn->busy || e->invalidated)
		close_socket(e->conn);
	if (e->conn->sock == PGINVALID_SOCKET)
	{
		e->server_hash = GetSysCacheHashValue1(FOREIGNSERVEROID,
											   ObjectIdGetDatum(server->serverid));
		e->mapping_hash = GetSysCacheHashValue1(USERMAPPINGOID,
												ObjectIdGetDatum(um->umid));
		e->invalidated = false;
		connect_to(e->conn, server, um, userid);
	}
	return e->conn;
}

/* A connection of its own, for probes: the caller disconnects and frees it. */
RedisConn *
redis_connect_uncached(ForeignServer *server, UserMapping *um, Oid userid)
{
	RedisConn  *c = new_conn();

	PG_TRY();
	{
		connect_to(c, server, um, userid);
	}
	PG_CATCH();
	{
		redis_free_uncached(c);
		PG_RE_THROW();
	}
	PG_END_TRY();
	return c;
}
