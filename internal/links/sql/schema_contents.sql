-- What schema $1 holds besides foreign tables on server $2 and views:
-- everything with a normal dependency on the namespace (relations, types,
-- functions, collations, operators, text search objects, ...), described.
SELECT pg_describe_object(d.classid, d.objid, d.objsubid)
  FROM pg_depend d
 WHERE d.refclassid = 'pg_namespace'::regclass
   AND d.refobjid = to_regnamespace($1)
   AND d.deptype = 'n'
   AND NOT (d.classid = 'pg_class'::regclass AND EXISTS (
           SELECT 1 FROM pg_class c
             LEFT JOIN pg_foreign_table ft ON ft.ftrelid = c.oid
            WHERE c.oid = d.objid
              AND (c.relkind = 'v' OR (c.relkind = 'f' AND ft.ftserver = $2::oid))))
 ORDER BY 1
