-- Everything outside schema $1 that DROP SCHEMA $1 CASCADE would also drop:
-- walk pg_depend (normal and auto dependencies) from the schema's relations
-- and types, mapping view rules to their views and relations to their row
-- types, transitively.
WITH RECURSIVE
seed(classid, objid) AS (
    SELECT 'pg_class'::regclass::oid, c.oid FROM pg_class c WHERE c.relnamespace = to_regnamespace($1)
    UNION
    SELECT 'pg_type'::regclass::oid, t.oid FROM pg_type t WHERE t.typnamespace = to_regnamespace($1)
    UNION
    SELECT 'pg_proc'::regclass::oid, p.oid FROM pg_proc p WHERE p.pronamespace = to_regnamespace($1)
),
edges(refclassid, refobjid, classid, objid) AS (
    SELECT d.refclassid, d.refobjid,
           CASE WHEN d.classid = 'pg_rewrite'::regclass THEN 'pg_class'::regclass::oid ELSE d.classid END,
           CASE WHEN d.classid = 'pg_rewrite'::regclass THEN r.ev_class ELSE d.objid END
      FROM pg_depend d
      LEFT JOIN pg_rewrite r ON d.classid = 'pg_rewrite'::regclass AND r.oid = d.objid
     WHERE d.deptype IN ('n', 'a')
    UNION ALL
    SELECT 'pg_class'::regclass::oid, c.oid, 'pg_type'::regclass::oid, c.reltype
      FROM pg_class c WHERE c.reltype <> 0
),
walk(classid, objid) AS (
    SELECT classid, objid FROM seed
    UNION
    SELECT e.classid, e.objid
      FROM walk w
      JOIN edges e ON e.refclassid = w.classid AND e.refobjid = w.objid
)
SELECT DISTINCT i.type, coalesce(i.schema, ''), coalesce(i.identity, '')
  FROM walk w
 CROSS JOIN LATERAL pg_identify_object(w.classid, w.objid, 0) i
 WHERE i.schema IS DISTINCT FROM $1
   AND i.type NOT IN ('type', 'table column', 'view column', 'materialized view column', 'foreign table column')
   AND NOT (w.classid = 'pg_type'::regclass AND EXISTS (SELECT 1 FROM pg_type t WHERE t.oid = w.objid AND t.typrelid <> 0))
 ORDER BY 1, 2, 3
