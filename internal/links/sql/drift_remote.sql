-- Run on a remote: what IMPORT FOREIGN SCHEMA $1 would see, relation by
-- relation and column by column, types formatted for an empty search_path
-- (as postgres_fdw does when it imports).
SELECT c.relname::text,
       coalesce(a.attname::text, '') AS column_name,
       coalesce(format_type(a.atttypid, a.atttypmod), '') AS column_type,
       coalesce(a.attnotnull, false) AS not_null
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
 WHERE n.nspname = $1 AND c.relkind IN ('r', 'v', 'm', 'f', 'p') AND NOT c.relispartition
 ORDER BY c.relname, a.attnum
