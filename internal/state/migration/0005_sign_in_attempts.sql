-- Sign-in attempts, counted by the sign-in limiter of every pglinks process
-- on this state database, so several processes behind one address share one
-- limit. key is 'account:<email>' or 'ip:<address or IPv6 /64>'. A pending
-- row is an attempt that was let through and whose password check has not
-- ended yet; the others are failures. Rows older than the limiter's window
-- are deleted as sign-ins go on.
CREATE TABLE pglinks.sign_in_attempts (
    id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key     text NOT NULL CHECK (key <> ''),
    at      timestamptz NOT NULL,
    pending boolean NOT NULL
);

CREATE INDEX sign_in_attempts_key_idx ON pglinks.sign_in_attempts (key, at);
CREATE INDEX sign_in_attempts_at_idx ON pglinks.sign_in_attempts (at);
