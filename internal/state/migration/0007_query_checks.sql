-- Query checks of links (internal/links, link_querycheck*.go): each run's
-- statement, who ran it and when, what pglinks found (findings: the
-- foreign scans, what was sent and what stayed local, and why) and the
-- EXPLAIN output it came from (plan: NULL when larger than the bound the
-- store keeps). Viewers read them; only admins run new ones.
CREATE TABLE pglinks.query_checks (
    id               bigserial PRIMARY KEY,
    local_config_var text NOT NULL,
    link             text NOT NULL,
    at               timestamptz NOT NULL DEFAULT now(),
    actor            text NOT NULL DEFAULT '',
    statement        text NOT NULL,
    analyzed         boolean NOT NULL DEFAULT false,
    kept_local       integer NOT NULL DEFAULT 0,
    findings         jsonb NOT NULL,
    plan             jsonb
);

CREATE INDEX query_checks_link_idx ON pglinks.query_checks (local_config_var, link, id DESC);
