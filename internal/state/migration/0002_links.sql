-- pglinks' own record of every link it made. A link's identity is this row
-- matching the local database's catalog (server and schema oids and the id
-- in their comments): whoever can write catalog comments in a fleet
-- database cannot make something a link. Queried by internal/links.
CREATE TABLE pglinks.links (
    id                   text PRIMARY KEY CHECK (id <> ''),
    local_config_var     text NOT NULL,
    local_database       text NOT NULL,
    name                 text NOT NULL,
    server_oid           bigint NOT NULL,
    schema_oid           bigint NOT NULL,
    remote_config_var    text NOT NULL,
    remote_resource_name text NOT NULL,
    remote_schema        text NOT NULL,
    mapping_role         text NOT NULL,
    created_at           timestamptz NOT NULL,
    created_by           text NOT NULL DEFAULT ''
);

CREATE INDEX links_local_idx ON pglinks.links (local_config_var, name);
