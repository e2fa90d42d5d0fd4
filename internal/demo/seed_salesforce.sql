-- A Heroku Connect-like schema in crm: the Salesforce objects Account,
-- Contact and Opportunity mapped to tables with Connect's system columns,
-- and Connect's system tables. Some writes are waiting for Salesforce
-- (PENDING) and some were refused by it (FAILED, with _hc_err).
CREATE SCHEMA salesforce;
CREATE TABLE salesforce._hcmeta (id serial PRIMARY KEY, hcver integer, org_id varchar(50), details text);
INSERT INTO salesforce._hcmeta (hcver, org_id) VALUES (40, '00D5e000000DemoEAA');
CREATE TABLE salesforce._trigger_log (
  id bigserial PRIMARY KEY, txid bigint, created_at timestamptz DEFAULT now(), updated_at timestamptz DEFAULT now(),
  processed_at timestamptz, processed_tx bigint, state varchar(8), action varchar(7), table_name varchar(128),
  record_id integer, sfid varchar(18), old text, "values" text, sf_result integer, sf_message text);
CREATE TABLE salesforce._trigger_log_archive (LIKE salesforce._trigger_log INCLUDING ALL);
CREATE TABLE salesforce.account (
  id serial PRIMARY KEY, sfid varchar(18) UNIQUE, systemmodstamp timestamp, isdeleted boolean,
  _hc_lastop varchar(32), _hc_err varchar(1024),
  name varchar(255), accountnumber varchar(40), industry varchar(255), annualrevenue double precision);
CREATE INDEX ON salesforce.account (systemmodstamp);
CREATE TABLE salesforce.contact (
  id serial PRIMARY KEY, sfid varchar(18) UNIQUE, systemmodstamp timestamp, isdeleted boolean,
  _hc_lastop varchar(32), _hc_err varchar(1024),
  firstname varchar(40), lastname varchar(80), email varchar(80), accountid varchar(18));
CREATE INDEX ON salesforce.contact (systemmodstamp);
CREATE TABLE salesforce.opportunity (
  id serial PRIMARY KEY, sfid varchar(18) UNIQUE, systemmodstamp timestamp, isdeleted boolean,
  _hc_lastop varchar(32), _hc_err varchar(1024),
  name varchar(120), stagename varchar(255), amount double precision, closedate date, accountid varchar(18));
CREATE INDEX ON salesforce.opportunity (systemmodstamp);

INSERT INTO salesforce.account (sfid, systemmodstamp, isdeleted, _hc_lastop, name, accountnumber, industry, annualrevenue)
SELECT '0015e00000Acc' || lpad(g::text, 4, '0') || 'A', now() - g * interval '1 hour', false,
       CASE WHEN g % 4 = 0 THEN 'SYNCED' WHEN g % 4 = 1 THEN 'UPDATED' ELSE NULL END,
       (ARRAY['Acme Corp', 'Globex', 'Initech', 'Umbrella', 'Hooli', 'Stark Industries', 'Wayne Enterprises', 'Soylent', 'Tyrell', 'Cyberdyne'])[g],
       'AC-' || (1000 + g), (ARRAY['Technology', 'Manufacturing', 'Retail'])[1 + g % 3], 1e6 * g
FROM generate_series(1, 10) g;
-- Written in the database, waiting for Salesforce: no sfid yet.
INSERT INTO salesforce.account (name, _hc_lastop, industry) VALUES ('Vandelay Industries', 'PENDING', 'Import/Export');
-- Refused by Salesforce.
INSERT INTO salesforce.account (name, _hc_lastop, _hc_err) VALUES
  ('Kramerica', 'FAILED', '{"op":"CREATE","src":"SFDC","msg":"REQUIRED_FIELD_MISSING: Required fields are missing: [Industry] <Account>"}');

INSERT INTO salesforce.contact (sfid, systemmodstamp, isdeleted, _hc_lastop, firstname, lastname, email, accountid)
SELECT '0035e00000Con' || lpad(g::text, 4, '0') || 'A', now() - g * interval '30 minutes', false,
       CASE WHEN g % 3 = 0 THEN 'SYNCED' WHEN g % 5 = 0 THEN 'INSERTED' ELSE NULL END,
       (ARRAY['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Ken'])[1 + g % 6], 'Person' || g, 'person' || g || '@example.com',
       '0015e00000Acc' || lpad((1 + g % 10)::text, 4, '0') || 'A'
FROM generate_series(1, 30) g;
INSERT INTO salesforce.contact (firstname, lastname, email, _hc_lastop) VALUES ('Elaine', 'Benes', 'elaine@example.com', 'PENDING');
UPDATE salesforce.contact SET _hc_lastop = 'FAILED',
  _hc_err = '{"op":"UPDATE","src":"SFDC","msg":"FIELD_CUSTOM_VALIDATION_EXCEPTION: Email must not be \"@example.com\" for <b>partners</b>"}'
WHERE lastname = 'Person7';
-- A value Connect did not write as JSON: the page shows it as stored.
UPDATE salesforce.contact SET _hc_lastop = 'FAILED', _hc_err = 'UNABLE_TO_LOCK_ROW: unable to obtain exclusive access to this record (truncated'
WHERE lastname = 'Person8';

INSERT INTO salesforce.opportunity (sfid, systemmodstamp, isdeleted, _hc_lastop, name, stagename, amount, closedate, accountid)
SELECT '0065e00000Opp' || lpad(g::text, 4, '0') || 'A', now() - g * interval '2 hours', false,
       CASE WHEN g % 2 = 0 THEN 'SYNCED' ELSE NULL END,
       'Deal ' || g, (ARRAY['Prospecting', 'Negotiation', 'Closed Won', 'Closed Lost'])[1 + g % 4], 5000 * g,
       current_date + g, '0015e00000Acc' || lpad((1 + g % 10)::text, 4, '0') || 'A'
FROM generate_series(1, 20) g;
INSERT INTO salesforce.opportunity (name, stagename, amount, _hc_lastop) VALUES ('Renewal 2027', 'Prospecting', 12000, 'PENDING');
INSERT INTO salesforce.opportunity (name, stagename, amount, _hc_lastop, _hc_err) VALUES
  ('Big expansion', 'Closed Won', -1, 'FAILED', '{"op":"CREATE","src":"SFDC","msg":"FIELD_INTEGRITY_EXCEPTION: Amount: value outside of valid range"}');

INSERT INTO salesforce._trigger_log (txid, state, action, table_name, record_id, sfid, "values", sf_result, sf_message) VALUES
  (1001, 'SUCCESS', 'UPDATE', 'account', 1, '0015e00000Acc0001A', '"industry"=>"Technology"', 0, NULL),
  (1002, 'FAILED', 'INSERT', 'account', 12, NULL, '"name"=>"Kramerica"', 1, 'REQUIRED_FIELD_MISSING: Required fields are missing: [Industry]'),
  (1003, 'FAILED', 'UPDATE', 'contact', 7, '0035e00000Con0007A', '"email"=>"person7@example.com"', 1, 'FIELD_CUSTOM_VALIDATION_EXCEPTION: Email must not be "@example.com" for <b>partners</b>'),
  (1004, 'FAILED', 'INSERT', 'opportunity', 22, NULL, '"amount"=>"-1"', 1, 'FIELD_INTEGRITY_EXCEPTION: Amount: value outside of valid range'),
  (1005, 'NEW', 'INSERT', 'account', 11, NULL, '"name"=>"Vandelay Industries"', NULL, NULL);
INSERT INTO salesforce._trigger_log_archive (txid, state, action, table_name, record_id, sfid, sf_result)
VALUES (900, 'SUCCESS', 'UPDATE', 'contact', 3, '0035e00000Con0003A', 0);
