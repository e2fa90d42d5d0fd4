-- What a link imports and how: tables is NULL for every table of the
-- remote schema, or the LIMIT TO list; read_only is the server option
-- updatable 'false'; copied_types are the enum types (quoted, schema
-- qualified) pglinks created in the local database for the link, which
-- destroy drops when nothing else uses them.
ALTER TABLE pglinks.links
    ADD COLUMN tables       text[],
    ADD COLUMN read_only    boolean NOT NULL DEFAULT false,
    ADD COLUMN copied_types text[] NOT NULL DEFAULT '{}';
