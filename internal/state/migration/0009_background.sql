-- What the background work found, shared by every pglinks process on this
-- state database: each database's inventory card and replication state
-- (kind 'card', 'replication', key its config var) and each link's last
-- health probe (kind 'link_health', key 'LOCAL_CONFIG_VAR/link'). The
-- process holding the lease 'background' (pglinks.leases) writes them as it
-- reads; a person's Refresh, Check now or link change writes from the
-- process that served it. Every process reads the rows written since the
-- highest seq it has seen, so all of them show the same results with the
-- same ages. down says why a database did not answer, cause classifies it
-- (fleet.Cause). target fingerprints the config var as the process that read
-- it had it (an HMAC of its URL): during a rolling restart after a rotation
-- or a failover each value has its own row, and a process shows only its own.
-- as_of (when the read started) orders writes: an older result
-- never replaces a newer one; took_ms is how long the read took (the lease's
-- next holder reads slow databases in its slow lane from the start). body is the result as JSON (never a password); NULL marks a deleted
-- one (a destroyed link's health).
CREATE SEQUENCE pglinks.background_seq;

CREATE TABLE pglinks.background_results (
    kind          text NOT NULL CHECK (kind <> ''),
    key           text NOT NULL CHECK (key <> ''),
    target        text NOT NULL DEFAULT '',
    as_of         timestamptz NOT NULL,
    took_ms       integer NOT NULL DEFAULT 0,
    failing_since timestamptz,
    retry_at      timestamptz,
    down          text NOT NULL DEFAULT '',
    cause         text NOT NULL DEFAULT '',
    body          json,
    seq           bigint NOT NULL DEFAULT nextval('pglinks.background_seq'),
    PRIMARY KEY (kind, key, target)
);

CREATE INDEX background_results_seq_idx ON pglinks.background_results (seq);

-- Leases: the process whose holder row has not expired does the fleet's
-- background work. Expiry is set and checked with the state database's
-- clock; the holder renews every third of the lease's time.
CREATE TABLE pglinks.leases (
    name       text PRIMARY KEY CHECK (name <> ''),
    holder     text NOT NULL CHECK (holder <> ''),
    expires_at timestamptz NOT NULL,
    since      timestamptz NOT NULL
);
