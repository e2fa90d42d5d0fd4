-- Can links be made in the current database by the current role?
SELECT current_user::text,
       r.rolsuper,
       EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'postgres_fdw') AS installed,
       -- pg_available_extensions reads the extension directory (the
       -- costliest catalog read pglinks makes): only asked when it matters.
       CASE WHEN EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'postgres_fdw') THEN true
            ELSE EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'postgres_fdw') END AS available,
       CASE WHEN EXISTS (SELECT 1 FROM pg_foreign_data_wrapper WHERE fdwname = 'postgres_fdw')
            THEN has_foreign_data_wrapper_privilege('postgres_fdw', 'USAGE')
            ELSE false END AS fdw_usage,
       has_database_privilege(current_database(), 'CREATE') AS can_create,
       current_setting('server_version') AS server_version
  FROM pg_roles r
 WHERE r.rolname = current_user
