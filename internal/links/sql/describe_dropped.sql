-- Describes objects (classid[], objid[], objsubid[]) that a drop would take
-- outside schema $4: view rules become their views, row and array types and
-- toast tables are left out (their relation or element is listed), and a
-- column is left out when its whole table goes too. A column default has
-- no schema of its own: it is its table's (a generated column of a foreign
-- table in the schema is one). Run with an empty search_path so every name
-- comes schema-qualified.
WITH k AS (
    SELECT * FROM unnest($1::oid[], $2::oid[], $3::int[]) AS k(classid, objid, objsubid)
),
mapped AS (
    SELECT CASE WHEN k.classid = 'pg_rewrite'::regclass THEN 'pg_class'::regclass::oid ELSE k.classid END AS classid,
           CASE WHEN k.classid = 'pg_rewrite'::regclass THEN r.ev_class ELSE k.objid END AS objid,
           CASE WHEN k.classid = 'pg_rewrite'::regclass THEN 0 ELSE k.objsubid END AS objsubid
      FROM k
      LEFT JOIN pg_rewrite r ON k.classid = 'pg_rewrite'::regclass AND r.oid = k.objid
)
SELECT DISTINCT i.type, coalesce(i.schema, ''), coalesce(i.identity, ''), pg_describe_object(m.classid, m.objid, m.objsubid)
  FROM mapped m
 CROSS JOIN LATERAL pg_identify_object(m.classid, m.objid, m.objsubid) i
  LEFT JOIN pg_attrdef ad ON m.classid = 'pg_attrdef'::regclass AND ad.oid = m.objid
  LEFT JOIN pg_class adrel ON adrel.oid = ad.adrelid
  LEFT JOIN pg_namespace adns ON adns.oid = adrel.relnamespace
 WHERE coalesce(i.schema, adns.nspname) IS DISTINCT FROM $4
   AND i.schema IS DISTINCT FROM 'pg_toast'
   AND m.classid <> 'pg_namespace'::regclass
   AND i.type NOT IN ('toast table', 'toast table column', 'index column')
   AND NOT (m.classid = 'pg_type'::regclass AND EXISTS (
           SELECT 1 FROM pg_type t WHERE t.oid = m.objid AND (t.typrelid <> 0 OR t.typcategory = 'A')))
   AND NOT (m.classid = 'pg_class'::regclass AND m.objsubid <> 0 AND EXISTS (
           SELECT 1 FROM mapped w WHERE w.classid = m.classid AND w.objid = m.objid AND w.objsubid = 0))
 ORDER BY 1, 3
