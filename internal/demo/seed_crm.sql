-- pg_trgm on the remote side too, so listing it in the link crm's
-- extensions option sends similarity() conditions here; a server build
-- without it (some PGLINKS_DEMO_PG majors) goes on without.
DO $$ BEGIN CREATE EXTENSION IF NOT EXISTS pg_trgm; EXCEPTION WHEN undefined_file OR feature_not_supported THEN NULL; END $$;
CREATE TYPE deal_stage AS ENUM ('lead', 'qualified', 'proposal', 'won', 'lost');
CREATE TABLE accounts (
    id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name    text NOT NULL,
    website text,
    owner   text
);
CREATE TABLE contacts (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id bigint REFERENCES accounts,
    full_name  text NOT NULL,
    email      text
);
CREATE TABLE deals (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id bigint REFERENCES accounts,
    stage      deal_stage NOT NULL DEFAULT 'lead',
    amount     numeric(12, 2),
    closes_on  date
);
INSERT INTO accounts (name, website, owner)
SELECT 'Account ' || g, 'https://account' || g || '.example', (ARRAY['kim', 'lee', 'sam'])[1 + g % 3]
  FROM generate_series(1, 60) g;
INSERT INTO contacts (account_id, full_name, email)
SELECT 1 + g % 60, 'Contact ' || g, 'contact' || g || '@example.com' FROM generate_series(1, 150) g;
INSERT INTO deals (account_id, stage, amount, closes_on)
SELECT 1 + g % 60, (ARRAY['lead', 'qualified', 'proposal', 'won', 'lost']::deal_stage[])[1 + g % 5], g * 120, current_date + g
  FROM generate_series(1, 90) g;
