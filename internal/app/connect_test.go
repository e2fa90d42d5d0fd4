package app

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
)

// A remote holding a Heroku Connect schema: the inventory names it, the
// create form defaults to its mapped tables and a read-only link, a
// tampered form cannot import its system tables, and the link page shows
// the sync state with Salesforce's messages as text.
func TestConnectPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sql, err := os.ReadFile("../connect/testdata/salesforce.sql")
	if err != nil {
		t.Fatal(err)
	}
	execSQL(t, e.remote.URL, string(sql))
	c := e.client(t)
	c.signIn(adminEmail)

	inv := c.get("/")
	if !strings.Contains(inv.Body, `data-testid="connect-schema"`) || !strings.Contains(inv.Body, "3 mapped tables") {
		t.Fatalf("inventory does not name the Connect schema:\n%s", inv.Body)
	}
	form := c.get("/links/new?local=DATABASE_URL&remote=HEROKU_POSTGRESQL_BLUE_URL&remote_schema=salesforce")
	for _, want := range []string{
		`salesforce (Heroku Connect)</option>`,
		`data-testid="connect-notice"`,
		`data-testid="connect-read-only-advice"`,
		`value="account" checked`,
		`value="opportunity" checked`,
		`name="tables_mode" value="some" checked`,
		`name="read_only" value="1" checked`,
		`data-testid="connect-system-table"`,
	} {
		if !strings.Contains(form.Body, want) {
			t.Errorf("create form lacks %s", want)
		}
	}
	for _, sys := range []string{"_hcmeta", "_trigger_log", "_trigger_log_archive"} {
		if strings.Contains(form.Body, `value="`+sys+`" checked`) {
			t.Errorf("create form ticks %s", sys)
		}
	}

	base := url.Values{"remote": {"HEROKU_POSTGRESQL_BLUE_URL"}, "local": {"DATABASE_URL"}, "name": {"sf"}, "remote_schema": {"salesforce"}, "read_only": {"1"}, "op": {"create"}}
	tampered := url.Values{"tables_mode": {"some"}, "table": {"account", "_hcmeta"}}
	for k, v := range base {
		tampered[k] = v
	}
	r := c.post("/links", tampered)
	if r.Status != http.StatusUnprocessableEntity || !strings.Contains(r.Body, "_hcmeta is a Heroku Connect system table") {
		t.Fatalf("tampered form: %d %s", r.Status, r.Body)
	}
	allTables := url.Values{"tables_mode": {"all"}}
	for k, v := range base {
		allTables[k] = v
	}
	if r := c.post("/links", allTables); r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("all tables of a Connect schema: %d", r.Status)
	}
	if n := linkCount(t, e); n != 0 {
		t.Fatalf("refused forms made %d servers", n)
	}
	ok := url.Values{"tables_mode": {"some"}, "table": {"account", "contact", "opportunity"}}
	for k, v := range base {
		ok[k] = v
	}
	if r := c.post("/links", ok); r.Status != http.StatusSeeOther {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	// The debugging option brings _trigger_log along, into a read-only link only.
	debug := url.Values{"tables_mode": {"some"}, "table": {"account"}, "connect_trigger_log": {"1"}}
	for k, v := range base {
		debug[k] = v
	}
	debug.Set("name", "sfdebug")
	debug.Set("duplicate_ok", "1")
	debug.Del("read_only")
	if r := c.post("/links", debug); r.Status != http.StatusUnprocessableEntity || !strings.Contains(r.Body, "only into a read-only link") {
		t.Fatalf("_trigger_log into a read-write link: %d", r.Status)
	}
	debug.Set("read_only", "1")
	if r := c.post("/links", debug); r.Status != http.StatusSeeOther {
		t.Fatalf("create with _trigger_log: %d %s", r.Status, r.Body)
	}
	if n := queryInt(t, e.local.URL, "SELECT count(*) FROM information_schema.foreign_tables WHERE foreign_table_schema = 'sfdebug' AND foreign_table_name = '_trigger_log'"); n != 1 {
		t.Fatalf("_trigger_log imported %d times", n)
	}

	page := c.get("/databases/DATABASE_URL/links/sf")
	b := page.Body
	for _, want := range []string{
		`data-testid="connect"`,
		`own connection (not through the link)`,
		`data-testid="count-FAILED"`,
		// HTML and quotes in a Salesforce message are text.
		`REQUIRED_FIELD_MISSING: &lt;b&gt;Name&lt;/b&gt; &#34;quoted&#34; &amp; &lt;script&gt;alert(1)&lt;/script&gt;`,
		// Malformed _hc_err is shown as stored, escaped.
		`data-testid="connect-err-raw">{&#34;op&#34;:&#34;UPDATE&#34;,&#34;src&#34;:&#34;SFDC&#34;,&lt;i&gt;not json</pre>`,
		`REQUIRED_FIELD_MISSING: &lt;img src=x onerror=alert(1)&gt; &#34;Name&#34;`,
		`FIELD_CUSTOM_VALIDATION_EXCEPTION: Email is invalid`,
		`data-testid="connect-system-columns"`,
	} {
		if !strings.Contains(b, want) {
			t.Errorf("link page lacks %s", want)
		}
	}
	if strings.Contains(b, "<script>alert(1)") || strings.Contains(b, "<img src=x") {
		t.Error("a Salesforce message was rendered as HTML")
	}
	if strings.Count(b, `data-testid="connect-table"`) != 3 {
		t.Errorf("%d mapped tables shown, want 3", strings.Count(b, `data-testid="connect-table"`))
	}

	// The remote stops answering pglinks: the section says so, the page renders.
	execSQL(t, e.remote.URL, "ALTER ROLE CURRENT_USER PASSWORD 'rotated-password'")
	e.app.cfg.Links.Fleet.Close()
	// The remote's status is read again (unreachable): its Connect schema is
	// still known, so the section says the remote does not answer.
	if st, _ := e.app.cfg.Links.RefreshStatus(context.Background(), "HEROKU_POSTGRESQL_BLUE_URL"); st.Reachable {
		t.Fatal("the remote still answers pglinks")
	}
	page = c.get("/databases/DATABASE_URL/links/sf")
	if page.Status != http.StatusOK || !strings.Contains(page.Body, `data-testid="connect-error"`) || !strings.Contains(page.Body, `data-testid="foreign-tables"`) {
		t.Fatalf("unreachable remote: %d %s", page.Status, page.Body)
	}
}
