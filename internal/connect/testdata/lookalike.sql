-- A Heroku Connect lookalike that an intruder (pgtest.Intruder: a role that
-- may only create schemas) builds in schema hc: columns pglinks reads are of
-- the intruder's own types, each with its own cast to text (which runs
-- trap.leak as whoever casts), or guarded by a row-level security policy
-- (which runs trap.boom as whoever reads).
CREATE SCHEMA hc;
GRANT USAGE ON SCHEMA hc TO PUBLIC;
CREATE TYPE hc.act AS ENUM ('INSERT', 'UPDATE');
CREATE FUNCTION hc.act_text(hc.act) RETURNS text LANGUAGE sql AS $$ SELECT trap.leak('cast act') $$;
CREATE CAST (hc.act AS text) WITH FUNCTION hc.act_text(hc.act);
CREATE TYPE hc.op AS ENUM ('FAILED', 'SYNCED');
CREATE FUNCTION hc.op_text(hc.op) RETURNS text LANGUAGE sql AS $$ SELECT trap.leak('cast op') $$;
CREATE CAST (hc.op AS text) WITH FUNCTION hc.op_text(hc.op);
CREATE TYPE hc.msg AS ENUM ('boom');
CREATE FUNCTION hc.msg_text(hc.msg) RETURNS text LANGUAGE sql AS $$ SELECT trap.leak('cast msg') $$;
CREATE CAST (hc.msg AS text) WITH FUNCTION hc.msg_text(hc.msg);
CREATE TABLE hc._hcmeta (id serial, hcver int, org_id text);
CREATE TABLE hc._trigger_log (id serial PRIMARY KEY, table_name text, record_id int, action hc.act, state text, sf_message hc.msg);
INSERT INTO hc._trigger_log (table_name, record_id, action, state, sf_message) VALUES ('account', 1, 'INSERT', 'FAILED', 'boom');
-- _hc_err of the intruder's type: not readable, the rest of the table is.
CREATE TABLE hc.account (id serial PRIMARY KEY, sfid text, _hc_lastop text, _hc_err hc.msg);
INSERT INTO hc.account (sfid, _hc_lastop, _hc_err) VALUES ('001', 'FAILED', 'boom'), ('002', 'SYNCED', NULL);
-- _hc_lastop of the intruder's type: the table cannot be counted safely.
CREATE TABLE hc.contact (id serial PRIMARY KEY, sfid text, _hc_lastop hc.op, _hc_err text);
INSERT INTO hc.contact (sfid, _hc_lastop, _hc_err) VALUES ('003', 'FAILED', 'x');
-- Row-level security: its policy is the intruder's code.
CREATE TABLE hc.lead (id serial PRIMARY KEY, sfid text, _hc_lastop text, _hc_err text);
INSERT INTO hc.lead (sfid, _hc_lastop) VALUES ('00Q', 'FAILED');
ALTER TABLE hc.lead ENABLE ROW LEVEL SECURITY;
CREATE POLICY everyone ON hc.lead USING (trap.boom('policy'));
GRANT SELECT ON ALL TABLES IN SCHEMA hc TO PUBLIC;
