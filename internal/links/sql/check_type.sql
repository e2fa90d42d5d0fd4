-- A type named in a checked condition (a cast), as check_columns.sql
-- describes column types; oid NULL when the name is unknown here.
-- $1: the type's name as written.
SELECT t.oid, coalesce(pg_catalog.format_type(t.oid, NULL), ''), coalesce(e.extname, ''), coalesce(t.typtype::text, '')
  FROM (SELECT pg_catalog.to_regtype($1) AS oid) r
  LEFT JOIN pg_catalog.pg_type t ON t.oid = r.oid
  LEFT JOIN pg_catalog.pg_depend d
         ON d.classid = 'pg_catalog.pg_type'::pg_catalog.regclass AND d.objid = t.oid AND d.deptype = 'e'
  LEFT JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
