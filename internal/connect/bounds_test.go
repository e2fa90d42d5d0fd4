package connect

import (
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/pgtest"
)

// megabyteSQL is a value of 1 MiB (1,048,576 bytes of hex, which does not
// compress much), starting with JSON so a whole one would parse.
const megabyteSQL = `'{"op":"UPDATE","src":"SFDC","msg":"' || (SELECT string_agg(md5(g::text), '') FROM generate_series(1, 32768) g)`

// Megabyte messages and thousands of failed rows: every value comes back
// cut to its bound with its size, the lists stay capped and say how many
// there are, and one message can be read in full up to MessageBytes.
func TestSyncStateBoundsWhatItReads(t *testing.T) {
	d, conn := connectDB(t)
	pgtest.MustExec(t, d.URL, `
ALTER TABLE salesforce.account ALTER COLUMN _hc_err TYPE text, ALTER COLUMN sfid TYPE text, ALTER COLUMN _hc_lastop TYPE text;
ALTER TABLE salesforce._trigger_log ALTER COLUMN action TYPE text, ALTER COLUMN table_name TYPE text, ALTER COLUMN sf_message TYPE text;
INSERT INTO salesforce.account (sfid, name, _hc_lastop, _hc_err)
  SELECT repeat('s', 5000) || g, 'n' || g, 'FAILED', CASE WHEN g > 2990 THEN `+megabyteSQL+` ELSE '{"op":"CREATE","src":"SFDC","msg":"short ' || g || '"}' END
  FROM generate_series(1, 3000) g;
INSERT INTO salesforce.account (sfid, name, _hc_lastop) SELECT 'x' || g, 'odd', repeat(chr(1000 + g), 3000) FROM generate_series(1, 50) g;
INSERT INTO salesforce._trigger_log (state, action, table_name, record_id, sf_message)
  SELECT 'FAILED', repeat('A', 5000), repeat('t', 5000), g, CASE WHEN g > 2990 THEN `+megabyteSQL+` ELSE 'short ' || g END
  FROM generate_series(1, 3000) g;
ANALYZE salesforce.account, salesforce._trigger_log`)
	st, err := ReadSyncState(ctx(t), conn, "salesforce", []string{"account"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	acc := st.Tables[0]
	if acc.Err != "" || len(acc.Failed) != DefaultOptions.FailedRows {
		t.Fatalf("account = %+v", acc)
	}
	if c := acc.Count("FAILED"); c == nil || c.N < 2500 {
		t.Errorf("FAILED count = %+v, want about 3,000", c)
	}
	if n := len(acc.Counts); n > len(Ops)+maxOtherOps {
		t.Errorf("%d distinct _hc_lastop values shown, want at most %d", n, len(Ops)+maxOtherOps)
	}
	for _, c := range acc.Counts {
		if utf8.RuneCountInString(c.Op) > ShortChars+1 {
			t.Errorf("an _hc_lastop value of %d characters", utf8.RuneCountInString(c.Op))
		}
	}
	for _, f := range acc.Failed {
		if !f.Err.Cut || f.ErrSize != 1<<20+35 || utf8.RuneCountInString(f.Err.Raw) != MessageChars+1 || !strings.HasSuffix(f.Err.Raw, "…") {
			t.Errorf("failed row %s: cut %v, size %d, %d characters", f.ID, f.Err.Cut, f.ErrSize, utf8.RuneCountInString(f.Err.Raw))
		}
		if utf8.RuneCountInString(f.SFID) != ShortChars+1 {
			t.Errorf("sfid of %d characters", utf8.RuneCountInString(f.SFID))
		}
	}
	if len(st.TriggerLog) != DefaultOptions.LogRows || st.TriggerLogFailed != 3002 || st.TriggerLogFailedAtLeast {
		t.Fatalf("trigger log: %d entries, %d failed (%s)", len(st.TriggerLog), st.TriggerLogFailed, st.TriggerLogErr)
	}
	for _, e := range st.TriggerLog {
		if len(e.Message) > 4*MessageChars+3 || len(e.Action) > 4*ShortChars+3 || len(e.Table) > 4*NameChars+3 {
			t.Errorf("entry %s: message %d, action %d, table %d bytes", e.ID, len(e.Message), len(e.Action), len(e.Table))
		}
		rec, _ := strconv.Atoi(e.Record)
		if big := rec > 2990; big != e.MessageCut || big && e.MessageSize != 1<<20+35 {
			t.Errorf("entry %s (record %s): cut %v, size %d", e.ID, e.Record, e.MessageCut, e.MessageSize)
		}
	}

	// One message, in full up to MessageBytes.
	id := pgtest.MustQueryString(t, d.URL, "SELECT max(id)::text FROM salesforce.account WHERE _hc_err IS NOT NULL")
	m, err := ReadMessage(ctx(t), conn, "salesforce", []string{"account"}, "account", id, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !m.Cut || len(m.Text) != MessageBytes || m.Size != 1<<20+35 || !strings.HasPrefix(m.Text, `{"op":"UPDATE"`) || m.Column != "_hc_err" {
		t.Fatalf("message: cut %v, %d bytes of %d, %.40q", m.Cut, len(m.Text), m.Size, m.Text)
	}
	id = pgtest.MustQueryString(t, d.URL, "SELECT min(id)::text FROM salesforce._trigger_log WHERE state = 'FAILED'")
	if m, err := ReadMessage(ctx(t), conn, "salesforce", nil, TableTriggerLog, id, Options{}); err != nil || m.Cut || m.Text != "REQUIRED_FIELD_MISSING: <img src=x onerror=alert(1)> \"Name\"" || m.Column != "sf_message" {
		t.Fatalf("short message = %+v, %v", m, err)
	}
	for _, c := range []struct {
		only      []string
		table, id string
	}{
		{nil, "account", "999999"},           // no such row
		{nil, "account", "abc"},              // not an id
		{nil, "notes", "1"},                  // not a mapped table
		{nil, "_hcmeta", "1"},                // a system table
		{[]string{"contact"}, "account", id}, // not imported by the link
	} {
		if m, err := ReadMessage(ctx(t), conn, "salesforce", c.only, c.table, c.id, Options{}); !errs.Is(err, errs.NotFound) {
			t.Errorf("message of %s %s = %+v, %v; want not found", c.table, c.id, m, err)
		}
	}
}

// A database full of lookalikes: Detect lists MaxSchemas of them, in name
// order, each with at most maxMapped mapped tables.
func TestDetectIsBounded(t *testing.T) {
	d, conn := connectDB(t)
	pgtest.MustExec(t, d.URL, `DO $$
BEGIN
  FOR i IN 1..30 LOOP
    EXECUTE format('CREATE SCHEMA s%s; CREATE TABLE s%s._hcmeta (hcver int, org_id text);
      CREATE TABLE s%s._trigger_log (id int, table_name text, record_id int, action text, state text, sf_message text);
      CREATE TABLE s%s.account (sfid text, _hc_lastop text, _hc_err text)', lpad(i::text, 2, '0'), lpad(i::text, 2, '0'), lpad(i::text, 2, '0'), lpad(i::text, 2, '0'));
  END LOOP;
END $$`)
	got, err := Detect(ctx(t), conn, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != MaxSchemas || got[0].Name != "s01" || len(got[0].Mapped) != 1 {
		t.Fatalf("%d schemas, first %+v", len(got), got[0])
	}
	if one, err := Detect(ctx(t), conn, "s30"); err != nil || len(one) != 1 {
		t.Fatalf("Detect(s30) = %+v, %v", one, err)
	}
}
