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
