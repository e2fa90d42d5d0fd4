/* pglinks_redis 1.0: Redis keys as foreign tables. See README.md ("Redis links"). */

\echo Use "CREATE EXTENSION pglinks_redis" to load this file. \quit

CREATE FUNCTION pglinks_redis_handler()
RETURNS fdw_handler
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT;

CREATE FUNCTION pglinks_redis_validator(text[], oid)
RETURNS void
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT;

CREATE FOREIGN DATA WRAPPER pglinks_redis
  HANDLER pglinks_redis_handler
  VALIDATOR pglinks_redis_validator;

COMMENT ON FOREIGN DATA WRAPPER pglinks_redis IS
  'Redis keys as rows: strings, hashes, lists, sets, sorted sets; read-only unless writable';

-- The version of the loaded library (the extension's version is in pg_extension).
CREATE FUNCTION pglinks_redis_version()
RETURNS text
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT STABLE;

-- Connects to the server afresh with the caller's user mapping and returns
-- what Redis says about itself; raises the connection's error otherwise.
-- Needs USAGE on the server.
CREATE FUNCTION pglinks_redis_ping(
  server name,
  OUT redis_version text,
  OUT redis_mode text,
  OUT dbsize bigint,
  OUT latency_ms double precision)
RETURNS record
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT VOLATILE;
