package app

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/pglinks/pglinks/internal/auth"
)

// An admin imports more tables into a LIMIT TO link through the
// confirmation page; viewers see the available tables but no form and
// cannot post; bad choices come back with the message and the ticks.
func TestImportMoreTables(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client(t)
	c.signIn(adminEmail)
	r := c.post("/links", url.Values{"remote": {"HEROKU_POSTGRESQL_BLUE_URL"}, "local": {"DATABASE_URL"}, "name": {"few"},
		"tables_mode": {"some"}, "table": {"customers"}, "op": {"create"}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	execSQL(t, e.remote.URL, `CREATE TYPE mood AS ENUM ('ok', 'bad'); CREATE TABLE tickets (id int, m mood); INSERT INTO tickets VALUES (1, 'bad')`)
	const linkPath = "/databases/DATABASE_URL/links/few"
	const importPath = linkPath + "/import"
	foreignTables := func() int {
		return queryInt(t, e.local.URL, "SELECT count(*) FROM pg_foreign_table ft JOIN pg_class c ON c.oid = ft.ftrelid WHERE c.relnamespace = 'few'::regnamespace")
	}

	page := c.get(linkPath)
	if !strings.Contains(page.Body, `data-testid="import-form"`) || !strings.Contains(page.Body, `value="tickets"`) ||
		!strings.Contains(page.Body, `value="&lt;script&gt;alert(1)&lt;/script&gt;"`) || strings.Contains(page.Body, `data-testid="drift-available"`) {
		t.Fatalf("admin's link page:\n%s", page.Body)
	}
	viewer := e.client(t)
	viewer.signIn(viewerEmail)
	if vp := viewer.get(linkPath); !strings.Contains(vp.Body, `data-testid="drift-available"`) || strings.Contains(vp.Body, `data-testid="import-form"`) {
		t.Error("viewer's link page: available tables missing or import offered")
	}
	if r := viewer.get(importPath + "?op=plan&table=tickets"); r.Status != http.StatusForbidden {
		t.Errorf("viewer import page: %d", r.Status)
	}
	if r := viewer.post(importPath, url.Values{"table": {"tickets"}, "fingerprint": {"x"}}); r.Status != http.StatusForbidden {
		t.Errorf("viewer import POST: %d", r.Status)
	}

	// Bad choices: the message next to the list, the ticks kept.
	r = c.get(importPath + "?op=plan")
	if r.Status != http.StatusUnprocessableEntity || !regexp.MustCompile(`data-testid="error-tables">Choose at least one table`).MatchString(r.Body) {
		t.Fatalf("nothing chosen: %d %s", r.Status, r.Body)
	}
	r = c.get(importPath + "?op=plan&table=tickets&table=" + url.QueryEscape("nope<b>"))
	if r.Status != http.StatusUnprocessableEntity || !strings.Contains(r.Body, `has no table &#34;nope&lt;b&gt;&#34;`) ||
		!regexp.MustCompile(`value="tickets" checked`).MatchString(r.Body) || !regexp.MustCompile(`value="nope&lt;b&gt;" checked`).MatchString(r.Body) {
		t.Fatalf("unknown table: %d %s", r.Status, r.Body)
	}
	r = c.get(importPath + "?op=plan&table=customers")
	if r.Status != http.StatusUnprocessableEntity || !strings.Contains(r.Body, "imports &#34;customers&#34; already") {
		t.Fatalf("imported already: %d %s", r.Status, r.Body)
	}
	r = c.get(importPath + "?op=plan&table=" + url.QueryEscape(strings.Repeat("x", 64)))
	if r.Status != http.StatusUnprocessableEntity || !strings.Contains(r.Body, "is not a table name") {
		t.Fatalf("not a name: %d %s", r.Status, r.Body)
	}
	many := url.Values{"op": {"plan"}}
	for i := range 201 {
		many.Add("table", "t"+strconv.Itoa(i))
	}
	r = c.get(importPath + "?" + many.Encode())
	if r.Status != http.StatusUnprocessableEntity || !strings.Contains(r.Body, "At most 200 tables") {
		t.Fatalf("too many: %d", r.Status)
	}
	// The filter narrows the list and keeps the ticks.
	r = c.get(importPath + "?op=filter&q=TICK&table=" + url.QueryEscape("<script>alert(1)</script>"))
	if r.Status != http.StatusOK || !strings.Contains(r.Body, `value="tickets"`) || !regexp.MustCompile(`value="&lt;script&gt;alert\(1\)&lt;/script&gt;" checked`).MatchString(r.Body) {
		t.Fatalf("filter: %d %s", r.Status, r.Body)
	}
	if n := foreignTables(); n != 1 {
		t.Fatalf("bad choices changed the link: %d foreign tables", n)
	}

	// The confirmation: exactly the SQL, with the enum the table needs.
	r = c.get(importPath + "?op=plan&table=tickets")
	if r.Status != http.StatusOK || !strings.Contains(r.Body, `CREATE TYPE &#34;public&#34;.&#34;mood&#34; AS ENUM (&#39;ok&#39;, &#39;bad&#39;);`) ||
		!strings.Contains(r.Body, `IMPORT FOREIGN SCHEMA &#34;public&#34; LIMIT TO (&#34;tickets&#34;) FROM SERVER &#34;few&#34; INTO &#34;few&#34;;`) {
		t.Fatalf("confirmation: %d %s", r.Status, r.Body)
	}
	m := regexp.MustCompile(`name="fingerprint" value="([0-9a-f]+)"`).FindStringSubmatch(r.Body)
	if m == nil {
		t.Fatal("no fingerprint on the confirmation")
	}
	r = c.post(importPath, url.Values{"table": {"tickets"}, "fingerprint": {"stale"}})
	if r.Status != http.StatusConflict || !strings.Contains(r.Body, "changed since the confirmation page was shown") || !strings.Contains(r.Body, `data-testid="apply-import"`) {
		t.Fatalf("stale import: %d %s", r.Status, r.Body)
	}
	if n := auditCount(t, e, auth.ActionLinkImportRefused); n != 1 {
		t.Errorf("%d refused imports audited", n)
	}
	r = c.post(importPath, url.Values{"table": {"tickets"}, "fingerprint": {m[1]}})
	if r.Status != http.StatusSeeOther || r.Location != linkPath {
		t.Fatalf("import: %d %s", r.Status, r.Body)
	}
	if n := queryInt(t, e.local.URL, "SELECT count(*) FROM few.tickets WHERE m = 'bad'"); n != 1 {
		t.Errorf("tickets through the link: %d", n)
	}
	entries, err := e.store.ListAudit(context.Background(), auth.AuditFilter{Action: auth.ActionLinkImportTables})
	if err != nil || len(entries) != 1 || entries[0].Outcome != auth.OutcomeOK || !strings.Contains(entries[0].DDL, `IMPORT FOREIGN SCHEMA "public" LIMIT TO ("tickets") FROM SERVER "few" INTO "few";`) {
		t.Fatalf("audit = %+v, %v", entries, err)
	}
	page = c.get(linkPath)
	if !strings.Contains(page.Body, "imports 1 more table: tickets") || strings.Contains(page.Body, `value="tickets"`) || !strings.Contains(page.Body, "2 chosen tables") {
		t.Errorf("link page after the import:\n%s", page.Body)
	}

	// A link of every table has nothing to choose.
	r = c.post("/links", url.Values{"remote": {"HEROKU_POSTGRESQL_BLUE_URL"}, "local": {"DATABASE_URL"}, "name": {"all"}, "copy_enums": {"1"}, "duplicate_ok": {"1"}, "op": {"create"}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("create all: %d %s", r.Status, r.Body)
	}
	r = c.get("/databases/DATABASE_URL/links/all/import?op=plan&table=tickets")
	if r.Status != http.StatusUnprocessableEntity || !strings.Contains(r.Body, "imports every table") {
		t.Errorf("every-table link: %d %s", r.Status, r.Body)
	}
}
