-- Candidate links in the current database: postgres_fdw (and pglinks_redis)
-- servers carrying a pglinks comment, with their schema (same name) and its
-- foreign table count. Only those matching pglinks' records (ids, oids and
-- kind) are links.
-- $2 bounds the count (NULL: exact): a link page counts a large link's
-- tables only up to $2 and remembers the exact count for a while.
SELECT s.oid,
       coalesce(n.oid, 0),
       s.srvname,
       coalesce(obj_description(s.oid, 'pg_foreign_server'), '') AS server_comment,
       coalesce(s.srvoptions, '{}') AS server_options,
       n.oid IS NOT NULL AS has_schema,
       coalesce(obj_description(n.oid, 'pg_namespace'), '') AS schema_comment,
       (SELECT count(*)
          FROM (SELECT
                  FROM pg_foreign_table ft
                  JOIN pg_class c ON c.oid = ft.ftrelid
                 WHERE ft.ftserver = s.oid AND c.relnamespace = n.oid
                 LIMIT $2::bigint) t) AS table_count,
       w.fdwname::text AS fdw
  FROM pg_foreign_server s
  JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw
  LEFT JOIN pg_namespace n ON n.nspname = s.srvname
 WHERE w.fdwname IN ('postgres_fdw', 'pglinks_redis')
   AND obj_description(s.oid, 'pg_foreign_server') LIKE '{"pglinks"%'
   AND ($1::text IS NULL OR s.srvname = $1)
 ORDER BY s.srvname
