-- Run on a remote: the user-defined types that columns of the relations
-- IMPORT FOREIGN SCHEMA would bring over from schema $1 depend on (array
-- columns count as their element type), with enum labels and the extension
-- a type comes from, if any. $2, when not NULL, is the LIMIT TO list.
WITH cols AS (
    SELECT c.relname,
           a.attname,
           CASE WHEN t.typcategory = 'A' AND t.typelem <> 0 THEN t.typelem ELSE t.oid END AS typid
      FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      JOIN pg_type t ON t.oid = a.atttypid
     WHERE n.nspname = $1
       AND c.relkind IN ('r', 'v', 'm', 'f', 'p')
       AND ($2::text[] IS NULL OR c.relname = ANY ($2::text[]))
)
SELECT tn.nspname::text,
       t.typname::text,
       t.typtype::text,
       coalesce((SELECT array_agg(e.enumlabel::text ORDER BY e.enumsortorder)
                   FROM pg_enum e WHERE e.enumtypid = t.oid), '{}') AS labels,
       coalesce((SELECT x.extname::text
                   FROM pg_depend d JOIN pg_extension x ON x.oid = d.refobjid
                  WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid
                    AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
                  LIMIT 1), '') AS extension,
       array_agg(DISTINCT cols.relname::text || '.' || cols.attname::text ORDER BY cols.relname::text || '.' || cols.attname::text) AS used_by
  FROM cols
  JOIN pg_type t ON t.oid = cols.typid
  JOIN pg_namespace tn ON tn.oid = t.typnamespace
 WHERE tn.nspname NOT IN ('pg_catalog', 'information_schema')
 GROUP BY t.oid, tn.nspname, t.typname, t.typtype
 ORDER BY 1, 2
