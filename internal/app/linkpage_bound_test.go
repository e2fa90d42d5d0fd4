package app

import (
	"context"
	"html"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/pglinks/pglinks/internal/connect"
	"github.com/pglinks/pglinks/internal/links"
	"github.com/pglinks/pglinks/views"
)

// megabyte is an SQL expression for 1 MiB of double quotes, the character
// HTML escaping makes longest, after a marker.
const megabyte = `'MEGA:' || repeat('"', 1048576)`

// A Heroku Connect schema with megabyte messages and thousands of failed
// rows: the link page stays under views.LinkPageBytes with every list
// capped and counted, and each cut message can be read whole (up to
// connect.MessageBytes) on a page of its own.
func TestConnectLinkPageIsBounded(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sql, err := os.ReadFile("../connect/testdata/salesforce.sql")
	if err != nil {
		t.Fatal(err)
	}
	execSQL(t, e.remote.URL, string(sql))
	execSQL(t, e.remote.URL, `
ALTER TABLE salesforce.account ALTER COLUMN _hc_err TYPE text, ALTER COLUMN sfid TYPE text, ALTER COLUMN _hc_lastop TYPE text;
ALTER TABLE salesforce._trigger_log ALTER COLUMN action TYPE text, ALTER COLUMN table_name TYPE text, ALTER COLUMN sf_message TYPE text;
INSERT INTO salesforce.account (sfid, name, _hc_lastop, _hc_err)
  SELECT repeat('"', 5000) || g, 'n' || g, CASE WHEN g % 500 = 0 THEN repeat('"', 5000) || g ELSE 'FAILED' END,
         CASE WHEN g > 4990 THEN `+megabyte+` ELSE 'short' END
  FROM generate_series(1, 5000) g;
INSERT INTO salesforce._trigger_log (state, action, table_name, record_id, sf_message)
  SELECT 'FAILED', repeat('"', 5000), repeat('"', 5000), g, CASE WHEN g > 2980 THEN `+megabyte+` ELSE 'short' END
  FROM generate_series(1, 3000) g;
ANALYZE salesforce.account`)
	c := e.client(t)
	c.signIn(viewerEmail)
	c.get("/") // reads the remote's status: its Connect schema
	if _, err := e.app.cfg.Links.CreateLink(context.Background(), links.CreateRequest{RemoteVar: "HEROKU_POSTGRESQL_BLUE_URL", LocalVar: "DATABASE_URL", Name: "sf",
		RemoteSchema: "salesforce", Tables: []string{"account", "contact"}, ReadOnly: true}); err != nil {
		t.Fatal(err)
	}
	page := c.get("/databases/DATABASE_URL/links/sf")
	t.Logf("link page: %d bytes", len(page.Body))
	if page.Status != http.StatusOK || len(page.Body) > views.LinkPageBytes {
		t.Fatalf("link page: %d, %d bytes", page.Status, len(page.Body))
	}
	for _, want := range []string{
		`data-testid="connect-message-more"`,
		"the latest 5 of 4,991",  // failed rows of account
		"the latest 20 of 3,002", // failed _trigger_log entries
		`data-testid="count-FAILED"`,
	} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("link page lacks %q", want)
		}
	}
	if strings.Contains(page.Body, `data-testid="page-compact"`) {
		t.Error("the page left its lists out: it has no long names")
	}
	// The whole message, on demand.
	more := regexp.MustCompile(`href="(/databases/DATABASE_URL/links/sf/connect/message\?[^"]+)"`).FindAllStringSubmatch(page.Body, -1)
	if len(more) != 5+20 {
		t.Fatalf("%d links to whole messages, want 25", len(more))
	}
	for _, m := range []string{more[0][1], more[len(more)-1][1]} {
		msg := c.get(html.UnescapeString(m))
		t.Logf("%s: %d bytes", m, len(msg.Body))
		quotes := strings.Count(msg.Body, "&#34;")
		if msg.Status != http.StatusOK || len(msg.Body) > views.LinkPageBytes || !strings.Contains(msg.Body, "MEGA:") ||
			quotes < connect.MessageBytes-10 || !strings.Contains(msg.Body, `data-testid="connect-message-cut"`) || !strings.Contains(msg.Body, "1.0 MB") {
			t.Fatalf("message page %s: %d, %d bytes, %d quotes", m, msg.Status, len(msg.Body), quotes)
		}
	}
	// A message the link does not import, or a row that is not there.
	for _, path := range []string{
		"/databases/DATABASE_URL/links/sf/connect/message?table=opportunity&id=1",
		"/databases/DATABASE_URL/links/sf/connect/message?table=account&id=99999999",
		"/databases/DATABASE_URL/links/sf/connect/message?table=_hcmeta&id=1",
		"/databases/DATABASE_URL/links/sf/connect/message?table=account",
		"/databases/DATABASE_URL/links/sf/connect/message?table=account&id=%FF",
		"/databases/DATABASE_URL/links/sf/connect/message?table=account&id=1%00",
		"/databases/DATABASE_URL/links/nope/connect/message?table=account&id=1",
	} {
		if r := c.get(path); r.Status != http.StatusNotFound && r.Status != http.StatusBadRequest {
			t.Errorf("%s: %d, want 404 (or 400 for a NUL)", path, r.Status)
		}
	}
}

// A remote whose tables have hundreds of columns with the costliest names
// there are, and whose columns then changed: the link page stays under
// views.LinkPageBytes (leaving out its column lists and drift details, and
// saying so), and so does a page filtered to one table, which lists its
// columns.
func TestLinkPageIsBoundedWhateverTheRemoteHolds(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	execSQL(t, e.remote.URL, `
CREATE SCHEMA wide;
DO $$
DECLARE cols text;
BEGIN
  FOR i IN 1..50 LOOP
    SELECT string_agg(format('%I text', repeat(chr(1) || '"', 30) || lpad(j::text, 3, '0')), ', ') INTO cols FROM generate_series(1, 300) j;
    EXECUTE format('CREATE TABLE wide.%I (%s)', repeat(chr(1) || '"', 30) || lpad(i::text, 3, '0'), cols);
  END LOOP;
END $$`)
	if _, err := e.app.cfg.Links.CreateLink(context.Background(), links.CreateRequest{RemoteVar: "HEROKU_POSTGRESQL_BLUE_URL", LocalVar: "DATABASE_URL", Name: "wide", RemoteSchema: "wide"}); err != nil {
		t.Fatal(err)
	}
	execSQL(t, e.remote.URL, `
DO $$
DECLARE cols text;
BEGIN
  FOR i IN 1..50 LOOP
    SELECT string_agg(format('ADD COLUMN %I text', repeat('"' || chr(1), 30) || lpad(j::text, 3, '0')), ', ') INTO cols FROM generate_series(1, 200) j;
    EXECUTE format('ALTER TABLE wide.%I %s', repeat(chr(1) || '"', 30) || lpad(i::text, 3, '0'), cols);
    EXECUTE format('CREATE TABLE wide.%I (x int)', repeat('"' || chr(1), 30) || lpad(i::text, 3, '0'));
  END LOOP;
END $$`)
	c := e.client(t)
	c.signIn(adminEmail)
	page := c.get("/databases/DATABASE_URL/links/wide")
	t.Logf("link page: %d bytes", len(page.Body))
	if page.Status != http.StatusOK || len(page.Body) > views.LinkPageBytes {
		t.Fatalf("link page: %d, %d bytes", page.Status, len(page.Body))
	}
	for _, want := range []string{`data-testid="page-compact"`, `data-testid="columns-left-out"`, "50 tables on the remote, not in the link", "50 tables whose columns changed"} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("link page lacks %q", want)
		}
	}
	// One table alone: its 300 columns, still under the bound.
	one := c.get("/databases/DATABASE_URL/links/wide?q=" + strings.Repeat("%01%22", 30) + "007")
	t.Logf("one table: %d bytes", len(one.Body))
	if one.Status != http.StatusOK || len(one.Body) > views.LinkPageBytes || strings.Count(one.Body, `data-testid="foreign-table"`) != 1 ||
		strings.Count(one.Body, `data-testid="column"`) != 300 {
		t.Fatalf("one table: %d, %d bytes, %d tables", one.Status, len(one.Body), strings.Count(one.Body, `data-testid="foreign-table"`))
	}
}

// The costliest Heroku Connect schema to show: more mapped tables than the
// page reads, each named with the costliest names, with as many odd
// _hc_lastop values as are counted and failed rows whose every value
// (ids included) is long and made of double quotes; the same in
// _trigger_log. The link page stays under views.LinkPageBytes.
func TestConnectLinkPageIsBoundedWhateverTheRemoteHolds(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	execSQL(t, e.remote.URL, `
CREATE SCHEMA hc;
CREATE TABLE hc._hcmeta (id serial, hcver int, org_id text);
CREATE TABLE hc._trigger_log (id text PRIMARY KEY, table_name text, record_id text, action text, state text, sf_message text);
INSERT INTO hc._trigger_log SELECT repeat('"', 5000) || g, repeat('"', 5000), repeat('"', 5000), repeat('"', 5000), 'FAILED', `+megabyte+`
  FROM generate_series(1, 30) g;
DO $$
DECLARE name text;
BEGIN
  FOR i IN 1..30 LOOP
    name := repeat(chr(1) || '"', 30) || lpad(i::text, 3, '0');
    EXECUTE format('CREATE TABLE hc.%I (id text, sfid text, _hc_lastop text, _hc_err text)', name);
    EXECUTE format($q$INSERT INTO hc.%I SELECT repeat('"', 5000) || g, repeat('"', 5000), 'FAILED', %s FROM generate_series(1, 10) g$q$, name, $m$'MEGA:' || repeat('"', 1048576)$m$);
    EXECUTE format($q$INSERT INTO hc.%I SELECT 'x', 'x', repeat('"', 5000) || g, NULL FROM generate_series(1, 20) g$q$, name);
  END LOOP;
END $$`)
	c := e.client(t)
	c.signIn(viewerEmail)
	c.get("/")
	st, _ := e.app.cfg.Links.CachedStatus("HEROKU_POSTGRESQL_BLUE_URL")
	if len(st.Connect) != 1 || len(st.Connect[0].Mapped) != 30 {
		t.Fatalf("Connect schemas = %+v", st.Connect)
	}
	if _, err := e.app.cfg.Links.CreateLink(context.Background(), links.CreateRequest{RemoteVar: "HEROKU_POSTGRESQL_BLUE_URL", LocalVar: "DATABASE_URL", Name: "hc",
		RemoteSchema: "hc", Tables: st.Connect[0].Mapped, ReadOnly: true}); err != nil {
		t.Fatal(err)
	}
	page := c.get("/databases/DATABASE_URL/links/hc")
	t.Logf("link page: %d bytes", len(page.Body))
	if page.Status != http.StatusOK || len(page.Body) > views.LinkPageBytes {
		t.Fatalf("link page: %d, %d bytes", page.Status, len(page.Body))
	}
	if n := strings.Count(page.Body, `data-testid="connect-table"`); n != connect.DefaultOptions.MaxTables {
		t.Errorf("%d mapped tables shown, want %d", n, connect.DefaultOptions.MaxTables)
	}
	// Each message says it was cut; none links to a whole message by an id
	// that was cut too.
	if n := strings.Count(page.Body, `data-testid="connect-message-cut"`); n != connect.DefaultOptions.MaxTables*connect.DefaultOptions.FailedRows+connect.DefaultOptions.LogRows {
		t.Errorf("%d messages say they were cut", n)
	}
	if strings.Contains(page.Body, `data-testid="connect-message-more"`) {
		t.Error("a link to a whole message by a cut id")
	}
}
