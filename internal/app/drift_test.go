package app

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// The link page renders when the remote is unreachable, and says why in
// the Drift section; viewers see drift but no refresh; a refresh POST with
// a stale plan is refused and audited; a create form with an unknown
// schema creates nothing.
func TestDriftPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client(t)
	c.signIn(adminEmail)

	r := c.post("/links", url.Values{"remote": {"HEROKU_POSTGRESQL_BLUE_URL"}, "local": {"DATABASE_URL"}, "name": {"x"}, "remote_schema": {"nope"}, "op": {"create"}})
	if r.Status != http.StatusUnprocessableEntity || !strings.Contains(r.Body, `has no schema &#34;nope&#34; to import`) {
		t.Fatalf("unknown schema: %d %s", r.Status, r.Body)
	}
	if n := linkCount(t, e); n != 0 {
		t.Fatalf("an unknown schema made %d servers", n)
	}
	r = c.post("/links", url.Values{"remote": {"HEROKU_POSTGRESQL_BLUE_URL"}, "local": {"DATABASE_URL"}, "name": {"crm"}, "op": {"create"}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	execSQL(t, e.remote.URL, "CREATE TABLE tickets (id int)")
	page := c.get("/databases/DATABASE_URL/links/crm")
	if !strings.Contains(page.Body, `data-testid="drift-new-tables"`) || !strings.Contains(page.Body, `data-testid="refresh"`) {
		t.Fatalf("drift not shown:\n%s", page.Body)
	}
	viewer := e.client(t)
	viewer.signIn(viewerEmail)
	if vp := viewer.get("/databases/DATABASE_URL/links/crm"); !strings.Contains(vp.Body, `data-testid="drift-new-tables"`) || strings.Contains(vp.Body, `data-testid="refresh"`) {
		t.Error("viewer's link page: drift missing or refresh offered")
	}
	if r := viewer.get("/databases/DATABASE_URL/links/crm/refresh"); r.Status != http.StatusForbidden {
		t.Errorf("viewer refresh page: %d", r.Status)
	}

	r = c.post("/databases/DATABASE_URL/links/crm/refresh", url.Values{"fingerprint": {"stale"}})
	if r.Status != http.StatusConflict || !strings.Contains(r.Body, "changed since the confirmation page was shown") || !strings.Contains(r.Body, `LIMIT TO (&#34;tickets&#34;)`) {
		t.Fatalf("stale refresh: %d %s", r.Status, r.Body)
	}
	if n := auditCount(t, e, "link_refresh_refused"); n != 1 {
		t.Errorf("%d refused refreshes audited", n)
	}

	// The remote stops accepting pglinks: the page still renders.
	execSQL(t, e.remote.URL, "ALTER ROLE CURRENT_USER PASSWORD 'rotated-password'")
	e.app.cfg.Links.Fleet.Close()
	page = c.get("/databases/DATABASE_URL/links/crm")
	if page.Status != http.StatusOK || !strings.Contains(page.Body, `data-testid="drift-error"`) || !strings.Contains(page.Body, `data-testid="foreign-tables"`) {
		t.Fatalf("unreachable remote: %d %s", page.Status, page.Body)
	}
}
