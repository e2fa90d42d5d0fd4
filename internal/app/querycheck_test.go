package app

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/pglinks/pglinks/internal/auth"
)

// An admin checks a query through a link: the remote SQL and the
// condition kept local with its reason, the fix applied from the check
// through the option preview (audited), the check again with everything
// sent; EXPLAIN ANALYZE only after its confirmation; viewers read saved
// checks and the Performance section but may run nothing.
func TestQueryCheckPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	execSQL(t, e.remote.URL, `CREATE EXTENSION pg_trgm; INSERT INTO customers SELECT g, 'n' || g FROM generate_series(1, 500) g`)
	execSQL(t, e.local.URL, `CREATE EXTENSION pg_trgm`)
	c := e.client(t)
	c.signIn(adminEmail)
	if r := c.post("/links", url.Values{"remote": {"HEROKU_POSTGRESQL_BLUE_URL"}, "local": {"DATABASE_URL"}, "name": {"crm"}, "op": {"create"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	const linkPath = "/databases/DATABASE_URL/links/crm"

	page := c.get(linkPath)
	if !strings.Contains(page.Body, `data-testid="performance"`) || !strings.Contains(page.Body, "planned blind") || !strings.Contains(page.Body, `data-testid="check-query"`) {
		t.Fatalf("link page:\n%s", page.Body)
	}

	// Refusals come back on the form with the statement.
	for sql, want := range map[string]string{
		"DELETE FROM crm.customers":                 "this is a DELETE",
		"SELECT 1; SELECT 2":                        "holds 2 statements",
		"SELECT * FROM crm.customers FOR UPDATE":    "locks rows",
		"SELECT * FROM crm.customers WHERE x = <b>": "cannot parse",
	} {
		r := c.post(linkPath+"/query", url.Values{"sql": {sql}})
		if r.Status != http.StatusUnprocessableEntity || !strings.Contains(r.Body, want) || !strings.Contains(r.Body, "&lt;b&gt;") && strings.Contains(sql, "<b>") {
			t.Fatalf("%s: %d\n%s", sql, r.Status, r.Body)
		}
	}
	if n := auditCount(t, e, auth.ActionQueryCheckRefused); n != 4 {
		t.Errorf("refusals audited: %d", n)
	}

	sql := "SELECT * FROM crm.customers WHERE similarity(name, 'n42') > 0.5"
	r := c.post(linkPath+"/query", url.Values{"sql": {sql}})
	if r.Status != http.StatusSeeOther || !regexp.MustCompile(`^`+linkPath+`/query/\d+$`).MatchString(r.Location) {
		t.Fatalf("check: %d %s", r.Status, r.Body)
	}
	checkPath := r.Location
	res := c.get(checkPath)
	if !strings.Contains(res.Body, `data-reason="extension"`) || !strings.Contains(res.Body, "FROM public.customers</pre>") || !strings.Contains(res.Body, `data-testid="apply-fix"`) {
		t.Fatalf("result:\n%s", res.Body)
	}
	entries, err := e.store.ListAudit(context.Background(), auth.AuditFilter{Action: auth.ActionQueryCheck})
	if err != nil || len(entries) != 1 || entries[0].DDL != sql || !strings.Contains(entries[0].Detail, "1 thing kept local") {
		t.Fatalf("audit = %+v, %v", entries, err)
	}

	// The fix: preview, apply, audited.
	fix := regexp.MustCompile(`href="([^"]+/options\?[^"]+)" class="btn btn-primary btn-sm mt-2" data-testid="apply-fix"`).FindStringSubmatch(res.Body)
	if fix == nil {
		t.Fatal("no fix link")
	}
	preview := c.get(strings.ReplaceAll(fix[1], "&amp;", "&"))
	if preview.Status != http.StatusOK || !strings.Contains(preview.Body, `ALTER SERVER &#34;crm&#34; OPTIONS (ADD extensions &#39;pg_trgm&#39;);`) {
		t.Fatalf("preview: %d\n%s", preview.Status, preview.Body)
	}
	if n := queryInt(t, e.local.URL, "SELECT count(*) FROM pg_foreign_server WHERE 'extensions=pg_trgm' = ANY(srvoptions)"); n != 0 {
		t.Fatal("the preview changed the server")
	}
	r = c.post(linkPath+"/options", url.Values{"key": {"extensions"}, "value": {"pg_trgm"}})
	if r.Status != http.StatusSeeOther || queryInt(t, e.local.URL, "SELECT count(*) FROM pg_foreign_server WHERE 'extensions=pg_trgm' = ANY(srvoptions)") != 1 {
		t.Fatalf("apply: %d %s", r.Status, r.Body)
	}
	if n := auditCount(t, e, auth.ActionLinkOption); n != 1 {
		t.Errorf("option changes audited: %d", n)
	}
	r = c.post(linkPath+"/query", url.Values{"sql": {sql}})
	if again := c.get(r.Location); !strings.Contains(again.Body, `data-testid="check-summary">Everything`) || !strings.Contains(again.Body, "similarity(") {
		t.Fatalf("check again:\n%s", again.Body)
	}
	if r := c.post(linkPath+"/options", url.Values{"key": {"fetch_size"}, "value": {"0"}}); r.Status != http.StatusUnprocessableEntity || !strings.Contains(r.Body, "whole number") {
		t.Fatalf("bad value: %d %s", r.Status, r.Body)
	}

	// EXPLAIN ANALYZE: a confirmation page first; without the confirm
	// field nothing runs.
	if conf := c.get(checkPath + "/analyze"); !strings.Contains(conf.Body, `data-testid="analyze-confirm"`) || !strings.Contains(conf.Body, "runs this statement") {
		t.Fatalf("confirm page:\n%s", conf.Body)
	}
	if r := c.post(checkPath+"/analyze", url.Values{}); r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("unconfirmed analyze: %d", r.Status)
	}
	r = c.post(checkPath+"/analyze", url.Values{"confirm": {"run"}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("analyze: %d %s", r.Status, r.Body)
	}
	if an := c.get(r.Location); !strings.Contains(an.Body, `data-testid="actual-fetched"`) || !strings.Contains(an.Body, "EXPLAIN ANALYZE through") {
		t.Fatalf("analyze result:\n%s", an.Body)
	}

	// Analyze foreign tables.
	if conf := c.get(linkPath + "/analyze"); !strings.Contains(conf.Body, "0 of 2 foreign tables analyzed") {
		t.Fatalf("analyze page:\n%s", conf.Body)
	}
	if r := c.post(linkPath+"/analyze", nil); r.Status != http.StatusSeeOther {
		t.Fatalf("analyze tables: %d %s", r.Status, r.Body)
	}
	if p := c.get(linkPath); !strings.Contains(p.Body, "2 of 2 foreign tables analyzed") || !strings.Contains(p.Body, "Analyzed 2 of 2 foreign tables") {
		t.Fatalf("after analyze:\n%s", p.Body)
	}

	// A viewer reads, runs nothing.
	v := e.client(t)
	v.signIn(viewerEmail)
	if p := v.get(linkPath); !strings.Contains(p.Body, `data-testid="saved-check"`) || strings.Contains(p.Body, `data-testid="option-form"`) || strings.Contains(p.Body, `data-testid="advice-apply"`) {
		t.Fatalf("viewer's link page:\n%s", p.Body)
	}
	if p := v.get(checkPath); p.Status != http.StatusOK || strings.Contains(p.Body, `data-testid="apply-fix"`) || strings.Contains(p.Body, `data-testid="analyze-check"`) {
		t.Fatalf("viewer's saved check: %d", p.Status)
	}
	if p := v.get(linkPath + "/query"); !strings.Contains(p.Body, `data-testid="viewer-note"`) || strings.Contains(p.Body, `data-testid="query-form"`) {
		t.Fatal("viewer's query page offers a form")
	}
	for path, form := range map[string]url.Values{
		linkPath + "/query":    {"sql": {sql}},
		checkPath + "/analyze": {"confirm": {"run"}},
		linkPath + "/options":  {"key": {"fetch_size"}, "value": {"500"}},
		linkPath + "/analyze":  {},
	} {
		if r := v.post(path, form); r.Status != http.StatusForbidden {
			t.Errorf("viewer POST %s: %d", path, r.Status)
		}
	}
	for _, path := range []string{checkPath + "/analyze", linkPath + "/options?key=fetch_size&value=5", linkPath + "/analyze"} {
		if r := v.get(path); r.Status != http.StatusForbidden {
			t.Errorf("viewer GET %s: %d", path, r.Status)
		}
	}
	if r := v.get(linkPath + "/query/999999"); r.Status != http.StatusNotFound {
		t.Errorf("unknown check: %d", r.Status)
	}
}
