-- One database's inventory card in one statement: what links.sql,
-- support.sql and the stale check read, plus whether a Heroku Connect
-- schema may be there (a table named _hcmeta, found through pg_class's
-- name index). Links are candidates until matched with pglinks' records.
SELECT current_user::text,
       r.rolsuper,
       EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'postgres_fdw') AS installed,
       -- pg_available_extensions reads the extension directory (the
       -- costliest catalog read there is): only asked when it matters.
       CASE WHEN EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'postgres_fdw') THEN true
            ELSE EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'postgres_fdw') END AS available,
       CASE WHEN EXISTS (SELECT 1 FROM pg_foreign_data_wrapper WHERE fdwname = 'postgres_fdw')
            THEN has_foreign_data_wrapper_privilege('postgres_fdw', 'USAGE')
            ELSE false END AS fdw_usage,
       has_database_privilege(current_database(), 'CREATE') AS can_create,
       current_setting('server_version') AS server_version,
       current_setting('server_version_num')::int AS server_version_num,
       EXISTS (SELECT 1 FROM pg_class c WHERE c.relname = '_hcmeta' AND c.relkind IN ('r', 'p')) AS maybe_connect,
       coalesce((
         SELECT json_agg(json_build_object(
                  'server_oid', s.oid::bigint,
                  'schema_oid', coalesce(n.oid, 0)::bigint,
                  'name', s.srvname,
                  'server_comment', coalesce(obj_description(s.oid, 'pg_foreign_server'), ''),
                  'server_options', coalesce(s.srvoptions, '{}'),
                  'has_schema', n.oid IS NOT NULL,
                  'schema_comment', coalesce(obj_description(n.oid, 'pg_namespace'), ''),
                  'table_count', (SELECT count(*)
                                    FROM pg_foreign_table ft
                                    JOIN pg_class c ON c.oid = ft.ftrelid
                                   WHERE ft.ftserver = s.oid AND c.relnamespace = n.oid),
                  'has_mapping', um.umid IS NOT NULL,
                  'mapping_options', coalesce(um.umoptions, '{}'),
                  'fdw', w.fdwname)
                ORDER BY s.srvname)
           FROM pg_foreign_server s
           JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw
           LEFT JOIN pg_namespace n ON n.nspname = s.srvname
           LEFT JOIN pg_user_mappings um ON um.srvid = s.oid AND um.usename = current_user
          WHERE w.fdwname IN ('postgres_fdw', 'pglinks_redis')
            AND obj_description(s.oid, 'pg_foreign_server') LIKE '{"pglinks"%'), '[]') AS links
  FROM pg_roles r
 WHERE r.rolname = current_user
