-- The columns of one relation of a checked plan, with what postgres_fdw
-- asks of their types: built in (oid below 10000), or from which extension.
-- $1: the relation, quoted and schema-qualified.
SELECT a.attname, a.atttypid, pg_catalog.format_type(a.atttypid, a.atttypmod),
       coalesce(e.extname, ''), t.typtype::text
  FROM pg_catalog.pg_attribute a
  JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
  LEFT JOIN pg_catalog.pg_depend d
         ON d.classid = 'pg_catalog.pg_type'::pg_catalog.regclass AND d.objid = t.oid AND d.deptype = 'e'
  LEFT JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
 WHERE a.attrelid = $1::pg_catalog.regclass AND a.attnum > 0 AND NOT a.attisdropped
