-- Every operator of one name, as check_functions.sql describes functions;
-- volatility is that of the function the operator calls.
-- $1: the name.
SELECT o.oid, n.nspname, coalesce(e.extname, ''), p.provolatile::text,
       pg_catalog.pg_operator_is_visible(o.oid), o.oprleft, o.oprright, p.proname
  FROM pg_catalog.pg_operator o
  JOIN pg_catalog.pg_namespace n ON n.oid = o.oprnamespace
  JOIN pg_catalog.pg_proc p ON p.oid = o.oprcode
  LEFT JOIN pg_catalog.pg_depend d
         ON d.classid = 'pg_catalog.pg_operator'::pg_catalog.regclass AND d.objid = o.oid AND d.deptype = 'e'
  LEFT JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
 WHERE o.oprname = $1
 LIMIT 200
