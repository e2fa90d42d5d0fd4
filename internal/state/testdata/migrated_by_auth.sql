-- A state database as auth.Migrate left it before the migrations moved to
-- package state (commit 73ba9a1): its schema_migrations table, each
-- migration's SQL as it was then, the (version, name) row it recorded, and
-- a user and a link record made by that version. Frozen: do not edit.

CREATE SCHEMA IF NOT EXISTS pglinks;
CREATE TABLE IF NOT EXISTS pglinks.schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);

-- 0001_init.sql
-- Accounts, server-side sessions and the audit trail.

CREATE TABLE pglinks.users (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email         text NOT NULL UNIQUE CHECK (email <> '' AND email = lower(email)),
    role          text NOT NULL CHECK (role IN ('admin', 'viewer')),
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- id_hash is sha256 of the session id: a leaked copy of this table does not
-- hand out live sessions.
CREATE TABLE pglinks.sessions (
    id_hash      bytea PRIMARY KEY CHECK (length(id_hash) = 32),
    user_id      bigint NOT NULL REFERENCES pglinks.users (id) ON DELETE CASCADE,
    csrf_token   text NOT NULL,
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL
);

CREATE INDEX sessions_user_id_idx ON pglinks.sessions (user_id);
CREATE INDEX sessions_last_seen_at_idx ON pglinks.sessions (last_seen_at);

-- No foreign key to users: the trail outlives the accounts it names.
CREATE TABLE pglinks.audit (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text NOT NULL DEFAULT '',
    action      text NOT NULL CHECK (action <> ''),
    target      text NOT NULL DEFAULT '',
    outcome     text NOT NULL CHECK (outcome IN ('ok', 'refused', 'failed')),
    detail      text NOT NULL DEFAULT '',
    ddl         text NOT NULL DEFAULT '',
    remote_addr text NOT NULL DEFAULT ''
);

CREATE INDEX audit_action_idx ON pglinks.audit (action, id);
INSERT INTO pglinks.schema_migrations (version, name) VALUES (1, '0001_init.sql');

-- 0002_links.sql
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
INSERT INTO pglinks.schema_migrations (version, name) VALUES (2, '0002_links.sql');

-- 0003_last_sign_in.sql
-- When each user last signed in, for the Users page. NULL: never.

ALTER TABLE pglinks.users ADD COLUMN last_sign_in_at timestamptz;
INSERT INTO pglinks.schema_migrations (version, name) VALUES (3, '0003_last_sign_in.sql');

-- 0004_link_options.sql
-- What a link imports and how: tables is NULL for every table of the
-- remote schema, or the LIMIT TO list; read_only is the server option
-- updatable 'false'; copied_types are the enum types (quoted, schema
-- qualified) pglinks created in the local database for the link, which
-- destroy drops when nothing else uses them.
ALTER TABLE pglinks.links
    ADD COLUMN tables       text[],
    ADD COLUMN read_only    boolean NOT NULL DEFAULT false,
    ADD COLUMN copied_types text[] NOT NULL DEFAULT '{}';
INSERT INTO pglinks.schema_migrations (version, name) VALUES (4, '0004_link_options.sql');

INSERT INTO pglinks.users (email, role, password_hash) VALUES ('kept@example.com', 'admin', 'argon2id-hash-as-stored');
INSERT INTO pglinks.links (id, local_config_var, local_database, name, server_oid, schema_oid,
    remote_config_var, remote_resource_name, remote_schema, mapping_role, created_at, created_by, tables, read_only, copied_types)
VALUES ('0123456789abcdef01234567', 'DATABASE_URL', 'shop', 'crm', 16500, 16501,
    'HEROKU_POSTGRESQL_ORANGE_URL', 'postgresql-round-06985', 'public', 'shop_owner', '2026-11-01 10:00:00+00', 'ada@example.com', NULL, false, '{}');
