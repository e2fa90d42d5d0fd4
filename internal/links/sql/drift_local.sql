-- The link's foreign tables as postgres_fdw sees them: each table's remote
-- schema_name/table_name options and each column's column_name option
-- (defaults: the local names), with types formatted for an empty
-- search_path. $1 is the quoted link schema, $2 the link's server oid.
SELECT c.relname::text,
       coalesce((SELECT option_value FROM pg_options_to_table(ft.ftoptions) WHERE option_name = 'schema_name'), '') AS remote_schema,
       coalesce((SELECT option_value FROM pg_options_to_table(ft.ftoptions) WHERE option_name = 'table_name'), c.relname::text) AS remote_table,
       coalesce(a.attname::text, '') AS column_name,
       coalesce((SELECT option_value FROM pg_options_to_table(a.attfdwoptions) WHERE option_name = 'column_name'), a.attname::text, '') AS remote_column,
       coalesce(format_type(a.atttypid, a.atttypmod), '') AS column_type
  FROM pg_foreign_table ft
  JOIN pg_class c ON c.oid = ft.ftrelid
  LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
 WHERE c.relnamespace = to_regnamespace($1) AND ft.ftserver = $2
 ORDER BY c.relname, a.attnum
