package app

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
)

// The attack of a remote role that may only create a schema: it builds a
// Heroku Connect lookalike whose _trigger_log.action has its own type with
// its own cast to text, reading public.people (which that role cannot
// read) as whoever casts. Opening the link page, as an admin or a viewer,
// runs none of its code: the page says which columns cannot be read
// safely, and the secret is nowhere.
func TestConnectLinkPageRunsNoRemoteCode(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	in, err := cluster.AddIntruder(context.Background(), e.remote)
	if err != nil {
		t.Fatal(err)
	}
	sql, err := os.ReadFile("../connect/testdata/lookalike.sql")
	if err != nil {
		t.Fatal(err)
	}
	in.MustExec(t, string(sql))
	admin := e.client(t)
	admin.signIn(adminEmail)
	if inv := admin.get("/"); !strings.Contains(inv.Body, `data-testid="connect-schema"`) {
		t.Fatalf("the lookalike is not recognised:\n%s", inv.Body)
	}
	form := url.Values{"remote": {"HEROKU_POSTGRESQL_BLUE_URL"}, "local": {"DATABASE_URL"}, "name": {"sf"}, "remote_schema": {"hc"},
		"tables_mode": {"some"}, "table": {"lead"}, "read_only": {"1"}, "op": {"create"}}
	if r := admin.post("/links", form); r.Status != http.StatusSeeOther {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	viewer := e.client(t)
	viewer.signIn(viewerEmail)
	for who, c := range map[string]*client{"admin": admin, "viewer": viewer} {
		page := c.get("/databases/DATABASE_URL/links/sf")
		if page.Status != http.StatusOK || !strings.Contains(page.Body, `data-testid="connect-trigger-log"`) {
			t.Fatalf("%s: link page %d:\n%s", who, page.Status, page.Body)
		}
		if strings.Contains(page.Body, in.Secret) || strings.Contains(page.Body, "LEAKED") {
			t.Errorf("%s: the link page shows the intruder's secret", who)
		}
		for _, want := range []string{`data-testid="connect-unreadable"`, "cannot be read safely", "action", "row-level security"} {
			if !strings.Contains(page.Body, want) {
				t.Errorf("%s: the link page lacks %q", who, want)
			}
		}
	}
	if ran := in.Ran(t); len(ran) > 0 {
		t.Errorf("the intruder's code ran as pglinks' role: %v", ran)
	}
}
