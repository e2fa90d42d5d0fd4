-- Every function of one name, with what postgres_fdw asks of it: built in
-- (oid below 10000) or from which extension, and its volatility.
-- $1: the name.
SELECT p.oid, n.nspname, coalesce(e.extname, ''), p.provolatile::text,
       pg_catalog.pg_function_is_visible(p.oid), p.pronargs::int
  FROM pg_catalog.pg_proc p
  JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
  LEFT JOIN pg_catalog.pg_depend d
         ON d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND d.objid = p.oid AND d.deptype = 'e'
  LEFT JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
 WHERE p.proname = $1
 LIMIT 200
