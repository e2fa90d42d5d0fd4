-- Personal API tokens: a user's credential for /api/v1 and the CLI. Only
-- sha256 of the token is stored (a leaked copy of this table hands out no
-- token); prefix is its first characters, shown so a person can tell their
-- tokens apart and match one found in a log. A revoked token's row is
-- deleted; a removed user's tokens go with the user.
CREATE TABLE pglinks.api_tokens (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES pglinks.users (id) ON DELETE CASCADE,
    name         text NOT NULL CHECK (name <> ''),
    hash         bytea NOT NULL UNIQUE CHECK (length(hash) = 32),
    prefix       text NOT NULL,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz,
    last_used_at timestamptz,
    UNIQUE (user_id, name)
);
