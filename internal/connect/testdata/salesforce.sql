-- A schema laid out as Heroku Connect lays one out.
CREATE SCHEMA salesforce;
CREATE TABLE salesforce._hcmeta (id serial PRIMARY KEY, hcver integer, org_id varchar(50), details text);
INSERT INTO salesforce._hcmeta (hcver, org_id, details) VALUES (40, '00D000000000001EAA', NULL);
CREATE TABLE salesforce._trigger_log (
  id bigserial PRIMARY KEY, txid bigint, created_at timestamptz DEFAULT now(), updated_at timestamptz DEFAULT now(),
  processed_at timestamptz, processed_tx bigint, state varchar(8), action varchar(7), table_name varchar(128),
  record_id integer, sfid varchar(18), old text, "values" text, sf_result integer, sf_message text);
CREATE TABLE salesforce._trigger_log_archive (LIKE salesforce._trigger_log);
CREATE TABLE salesforce.account (id serial PRIMARY KEY, sfid varchar(18) UNIQUE, systemmodstamp timestamp, isdeleted boolean,
  _hc_lastop varchar(32), _hc_err varchar(1024), name varchar(255), accountnumber varchar(40));
CREATE TABLE salesforce.contact (id serial PRIMARY KEY, sfid varchar(18) UNIQUE, systemmodstamp timestamp, isdeleted boolean,
  _hc_lastop varchar(32), _hc_err varchar(1024), lastname varchar(80), email varchar(80), accountid varchar(18));
CREATE TABLE salesforce.opportunity (id serial PRIMARY KEY, sfid varchar(18) UNIQUE, systemmodstamp timestamp, isdeleted boolean,
  _hc_lastop varchar(32), _hc_err varchar(1024), name varchar(120), amount double precision);
-- Not Connect's: no system columns.
CREATE TABLE salesforce.notes (id serial PRIMARY KEY, body text);
INSERT INTO salesforce.account (sfid, name, _hc_lastop, _hc_err) VALUES
  ('001000000000001AAA', 'Acme', NULL, NULL),
  ('001000000000002AAA', 'Globex', 'SYNCED', NULL),
  ('001000000000003AAA', 'Initech', 'SYNCED', NULL),
  (NULL, 'Umbrella', 'PENDING', NULL),
  (NULL, 'Hooli', 'FAILED', '{"op":"CREATE","src":"SFDC","msg":"REQUIRED_FIELD_MISSING: <b>Name</b> \"quoted\" & <script>alert(1)</script>"}');
INSERT INTO salesforce.contact (sfid, lastname, _hc_lastop, _hc_err) VALUES
  ('003000000000001AAA', 'Lovelace', 'UPDATED', NULL),
  ('003000000000002AAA', 'Hopper', 'FAILED', '{"op":"UPDATE","src":"SFDC",<i>not json');
INSERT INTO salesforce.opportunity (sfid, name, _hc_lastop) VALUES ('006000000000001AAA', 'Big deal', 'INSERTED');
INSERT INTO salesforce._trigger_log (state, action, table_name, record_id, sf_message) VALUES
  ('SUCCESS', 'UPDATE', 'contact', 1, NULL),
  ('FAILED', 'INSERT', 'account', 5, 'REQUIRED_FIELD_MISSING: <img src=x onerror=alert(1)> "Name"'),
  ('FAILED', 'UPDATE', 'contact', 2, 'FIELD_CUSTOM_VALIDATION_EXCEPTION: Email is invalid');
