-- pg_trgm (trusted: the owner may create it) for the demo's query check
-- of the link crm, whose condition uses similarity().
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE TABLE page_views (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    path      text NOT NULL,
    viewed_at timestamptz NOT NULL DEFAULT now(),
    user_agent text
);
CREATE TABLE daily_revenue (
    day     date PRIMARY KEY,
    revenue numeric(14, 2) NOT NULL
);
INSERT INTO page_views (path, user_agent)
SELECT '/products/' || (g % 40), 'demo-agent' FROM generate_series(1, 2000) g;
INSERT INTO daily_revenue SELECT current_date - g, 1000 + g * 7 FROM generate_series(1, 90) g;
