-- Foreign tables of one link for the Performance section: the least
-- recently analyzed first (never analyzed before those), and every one
-- with options of its own among $2; at most $3 of each.
-- $1: the link's schema; $2: the option names; $3: the bound.
WITH t AS (
    SELECT c.relname, c.reltuples::float8 AS reltuples,
           pg_catalog.pg_stat_get_last_analyze_time(c.oid) AS analyzed,
           coalesce(ARRAY(SELECT o FROM pg_catalog.unnest(ft.ftoptions) o
                           WHERE pg_catalog.split_part(o, '=', 1) = ANY ($2)), '{}') AS own
      FROM pg_catalog.pg_foreign_table ft
      JOIN pg_catalog.pg_class c ON c.oid = ft.ftrelid
      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = $1
), stats AS (
    SELECT relname FROM t ORDER BY reltuples >= 0, analyzed NULLS FIRST, relname LIMIT $3
), opts AS (
    SELECT relname FROM t WHERE own <> '{}' ORDER BY relname LIMIT $3
)
SELECT t.relname, t.own, t.reltuples, t.analyzed, t.relname IN (SELECT relname FROM stats)
  FROM t
 WHERE t.relname IN (SELECT relname FROM stats) OR t.relname IN (SELECT relname FROM opts)
 ORDER BY t.reltuples >= 0, t.analyzed NULLS FIRST, t.relname
