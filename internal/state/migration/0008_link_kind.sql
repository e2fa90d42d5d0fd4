-- What a link reads: a PostgreSQL database through postgres_fdw, or a Redis
-- through pglinks_redis (the foreign data wrapper in ext/pglinks_redis). A
-- record matches only a foreign server of its own kind's wrapper.
ALTER TABLE pglinks.links
    ADD COLUMN kind text NOT NULL DEFAULT 'postgres' CHECK (kind IN ('postgres', 'redis'));
