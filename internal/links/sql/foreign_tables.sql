-- \det SCHEMA.* with columns: every foreign table in one schema, whatever
-- the search_path, with its remote name and columns in order. The table
-- options are read once per table (MATERIALIZED), not once per column.
WITH t AS MATERIALIZED (
    SELECT c.oid,
           n.nspname,
           c.relname,
           s.srvname,
           coalesce((SELECT option_value FROM pg_options_to_table(ft.ftoptions) WHERE option_name = 'schema_name'), '') AS remote_schema,
           coalesce((SELECT option_value FROM pg_options_to_table(ft.ftoptions) WHERE option_name = 'table_name'), '') AS remote_table
      FROM pg_foreign_table ft
      JOIN pg_class c ON c.oid = ft.ftrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_foreign_server s ON s.oid = ft.ftserver
     WHERE n.nspname = $1
)
SELECT t.nspname,
       t.relname,
       t.srvname,
       t.remote_schema,
       t.remote_table,
       coalesce(a.attname::text, '') AS column_name,
       coalesce(format_type(a.atttypid, a.atttypmod), '') AS column_type,
       coalesce(a.attnotnull, false) AS not_null,
       count(a.attnum) OVER (PARTITION BY t.oid)::int AS column_count
  FROM t
  LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped
 ORDER BY t.relname, a.attnum
