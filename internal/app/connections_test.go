package app

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/pglinks/pglinks/internal/auth"
	"github.com/pglinks/pglinks/internal/links"
)

// The link page lists the connections local sessions hold through the
// link, read on the remote, with keep_connections; an admin ends them
// after a confirmation, and the audit trail records the statement.
func TestLinkConnectionsPage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	if _, err := e.app.cfg.Links.CreateLink(ctx, links.CreateRequest{RemoteVar: "HEROKU_POSTGRESQL_BLUE_URL", LocalVar: "DATABASE_URL", Name: "crm"}); err != nil {
		t.Fatal(err)
	}
	session, err := pgx.Connect(ctx, e.local.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer session.Close(ctx)
	// read uses the link in the session, which (re)opens its connection to
	// the remote: an idle session's postgres_fdw closes its connections
	// when its catalog caches are reset, which catalog changes elsewhere on
	// the cluster (parallel tests making databases) can cause.
	read := func() {
		t.Helper()
		if _, err := session.Exec(ctx, "SELECT count(*) FROM crm.customers"); err != nil {
			t.Fatalf("a local session's read through the link: %v", err)
		}
	}
	read()
	const page = "/databases/DATABASE_URL/links/crm"
	viewer := e.client(t)
	viewer.signIn(viewerEmail)
	if r := viewer.get(page); !strings.Contains(r.Body, `data-testid="conn"`) || strings.Contains(r.Body, `data-testid="end-conns"`) {
		t.Errorf("viewer's link page: the connection is not listed, or ending is offered")
	}
	if r := viewer.post(page+"/connections/end", url.Values{}); r.Status != http.StatusForbidden {
		t.Errorf("viewer's end: %d", r.Status)
	}

	c := e.client(t)
	c.signIn(adminEmail)
	read()
	r := c.get(page)
	if strings.Count(r.Body, `data-testid="conn"`) != 1 || !strings.Contains(r.Body, `data-testid="end-conns"`) ||
		!strings.Contains(r.Body, "keep_connections</span>: on (PostgreSQL&#39;s default)") || !strings.Contains(r.Body, "postgres_fdw_disconnect()") {
		t.Fatalf("admin's link page:\n%s", r.Body)
	}
	read()
	r = c.get(page + "/connections/end")
	if r.Status != http.StatusOK || !strings.Contains(r.Body, `data-testid="end-conns-sql"`) || !strings.Contains(r.Body, "pg_terminate_backend(pid)") || !strings.Contains(r.Body, "1 connection(s)") {
		t.Fatalf("confirmation (%d):\n%s", r.Status, r.Body)
	}
	read()
	until := regexpFind(t, r.Body, `name="until" value="([^"]+)"`)
	if r := c.post(page+"/connections/end", url.Values{"until": {until}}); r.Status != http.StatusSeeOther {
		t.Fatalf("end: %d %s", r.Status, r.Body)
	}
	if r := c.get(page); !strings.Contains(r.Body, "Ended 1 connection(s) through link crm") || !strings.Contains(r.Body, `data-testid="no-conns"`) {
		t.Errorf("after ending:\n%s", r.Body)
	}
	entries, err := e.store.ListAudit(ctx, auth.AuditFilter{Action: auth.ActionLinkConnectionsEnd})
	if err != nil || len(entries) != 1 || entries[0].Target != "DATABASE_URL/crm" || !strings.Contains(entries[0].DDL, "pg_terminate_backend(pid)") {
		t.Fatalf("audit: %+v, %v", entries, err)
	}
	read() // the session connects afresh
}
