-- The Performance section's counts for one link: its foreign tables, how
-- many were never analyzed (reltuples -1: PostgreSQL 14 and later), the
-- latest ANALYZE of any (foreign tables are not in pg_stat_user_tables, so
-- the time comes from pg_stat_get_last_analyze_time; autovacuum never
-- analyzes foreign tables), how many set options of their own among $2,
-- the extensions installed here, and the most rows an analyzed one had.
-- $1: the link's schema; $2: the option names.
SELECT count(*)::int,
       count(*) FILTER (WHERE c.reltuples < 0)::int,
       max(pg_catalog.pg_stat_get_last_analyze_time(c.oid)),
       count(*) FILTER (WHERE EXISTS (SELECT 1 FROM pg_catalog.unnest(ft.ftoptions) o
                                        WHERE pg_catalog.split_part(o, '=', 1) = ANY ($2)))::int,
       (SELECT coalesce(pg_catalog.array_agg(extname::text ORDER BY extname), '{}') FROM pg_catalog.pg_extension),
       coalesce(max(c.reltuples), -1)::float8
  FROM pg_catalog.pg_foreign_table ft
  JOIN pg_catalog.pg_class c ON c.oid = ft.ftrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = $1
