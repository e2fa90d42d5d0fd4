-- One page of \det SCHEMA.* with columns: the foreign tables of schema $1
-- whose name contains $2 (case-insensitive; '' for all), ordered by name,
-- $3 tables from offset $4, each with its columns in order. The page is cut
-- before the columns are joined, so a link of 10,000 tables costs about
-- what a link of one page costs. Each table lists its first $5 columns, or
-- more when the page has fewer tables ($6 columns shared among them), and
-- says how many it has.
WITH t AS MATERIALIZED (
    SELECT c.oid,
           n.nspname,
           c.relname,
           s.srvname,
           ft.ftoptions
      FROM pg_foreign_table ft
      JOIN pg_class c ON c.oid = ft.ftrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_foreign_server s ON s.oid = ft.ftserver
     WHERE n.nspname = $1
       AND ($2 = '' OR strpos(lower(c.relname), lower($2)) > 0)
     ORDER BY c.relname
     LIMIT $3 OFFSET $4
), cols AS (
    SELECT a.attrelid, a.attnum, a.attname, a.atttypid, a.atttypmod, a.attnotnull,
           row_number() OVER (PARTITION BY a.attrelid ORDER BY a.attnum) AS n,
           count(*) OVER (PARTITION BY a.attrelid) AS total
      FROM pg_attribute a
     WHERE a.attrelid IN (SELECT oid FROM t) AND a.attnum > 0 AND NOT a.attisdropped
)
SELECT t.nspname,
       t.relname,
       t.srvname,
       coalesce((SELECT option_value FROM pg_options_to_table(t.ftoptions) WHERE option_name = 'schema_name'), '') AS remote_schema,
       coalesce((SELECT option_value FROM pg_options_to_table(t.ftoptions) WHERE option_name = 'table_name'), '') AS remote_table,
       -- A Redis link's tables (pglinks_redis): the type and key prefix, cut.
       left(coalesce((SELECT option_value FROM pg_options_to_table(t.ftoptions) WHERE option_name = 'type'), ''), 16) AS redis_type,
       left(coalesce((SELECT option_value FROM pg_options_to_table(t.ftoptions) WHERE option_name = 'key_prefix'), ''), 256) AS key_prefix,
       coalesce(a.attname::text, '') AS column_name,
       coalesce(format_type(a.atttypid, a.atttypmod), '') AS column_type,
       coalesce(a.attnotnull, false) AS not_null,
       coalesce(a.total, 0)::int AS column_count
  FROM t
  LEFT JOIN cols a ON a.attrelid = t.oid AND a.n <= greatest($5::int8, $6::int8 / (SELECT count(*) FROM t))
 ORDER BY t.relname, a.attnum
