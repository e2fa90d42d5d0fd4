package app

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pglinks/pglinks/internal/auth"
)

// The link page's connections through the API: any role lists them; an
// admin's token sees the statement that ends them and how many, and ends
// them only with the link's name as confirm, audited as the page audits
// it (a refusal too); a viewer's token may neither plan nor end.
func TestAPILinkConnections(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	a := e.api(t, adminEmail, "ci")
	v := e.api(t, viewerEmail, "laptop")
	const actor = adminEmail + " (token ci)"
	if r := a.do("POST", "/api/v1/databases/DATABASE_URL/links", map[string]any{"remote": "HEROKU_POSTGRESQL_BLUE_URL", "name": "crm"}); r.Status != http.StatusCreated {
		t.Fatalf("create crm: %d %s", r.Status, r.Body)
	}
	const link = "/api/v1/databases/DATABASE_URL/links/crm"
	session, err := pgx.Connect(ctx, e.local.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer session.Close(ctx)
	read := func() {
		t.Helper()
		if _, err := session.Exec(ctx, "SELECT count(*) FROM crm.customers"); err != nil {
			t.Fatalf("a local session's read through the link: %v", err)
		}
	}
	read()

	type conns struct {
		AppName           string `json:"app_name"`
		KeepConnectionsOn bool   `json:"keep_connections_on"`
		Unread            string
		Role              string
		Endable           int
		Connections       []struct {
			PID           int32
			Client        string
			State         string
			LastStatement string `json:"last_statement"`
		}
	}
	var list conns
	v.get(link+"/connections").JSON(t, &list)
	if len(list.Connections) != 1 || list.Endable != 1 || list.Unread != "" || !list.KeepConnectionsOn || list.AppName == "" ||
		list.Connections[0].LastStatement == "" || list.Connections[0].PID == 0 {
		t.Fatalf("connections: %+v", list)
	}
	pid := list.Connections[0].PID
	alive := func() bool {
		return queryInt(t, e.remote.URL, "SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid) == 1
	}

	// A viewer's token may neither see the plan nor end them.
	v.get(link+"/connections/end").Err(t, http.StatusForbidden, "forbidden")
	v.do("POST", link+"/connections/end", map[string]any{"confirm": "crm"}).Err(t, http.StatusForbidden, "forbidden")
	if !alive() {
		t.Fatal("a viewer's token ended the connection")
	}

	var plan struct {
		Remote, Role, SQL string
		Endable           int
		Until             *time.Time
	}
	a.get(link+"/connections/end").JSON(t, &plan)
	if plan.Endable != 1 || plan.Remote != "HEROKU_POSTGRESQL_BLUE_URL" || !strings.Contains(plan.SQL, "pg_terminate_backend(pid)") || !strings.Contains(plan.SQL, list.AppName) || plan.Until == nil {
		t.Fatalf("plan: %+v", plan)
	}

	// Without the name, or with another, nothing is ended; both refusals
	// are audited.
	for _, body := range []map[string]any{{}, {"confirm": "CRM"}, {"confirm": "crm "}} {
		r := a.do("POST", link+"/connections/end", body).Err(t, http.StatusUnprocessableEntity, "invalid")
		if r.Error.Field != "confirm" || !strings.Contains(r.Error.Message, "Nothing was ended") {
			t.Errorf("%v: %+v", body, r.Error)
		}
	}
	if !alive() {
		t.Fatal("a refused end ended the connection")
	}
	if n := len(e.auditBy(t, auth.ActionLinkConnectionsEndRefused, actor)); n != 3 {
		t.Errorf("%d refusals audited, want 3", n)
	}

	var ended struct {
		Ended        int
		SQL, Message string
	}
	a.do("POST", link+"/connections/end", map[string]any{"confirm": "crm", "until": plan.Until}).JSON(t, &ended)
	if ended.Ended != 1 || ended.SQL != plan.SQL || !strings.Contains(ended.Message, "Ended 1 connection(s) through link crm") {
		t.Fatalf("ended: %+v", ended)
	}
	done := e.auditBy(t, auth.ActionLinkConnectionsEnd, actor)
	if len(done) != 1 || done[0].Target != "DATABASE_URL/crm" || done[0].DDL != plan.SQL+";" || done[0].Outcome != auth.OutcomeOK {
		t.Fatalf("audited: %+v", done)
	}
	v.get(link+"/connections").JSON(t, &list)
	if len(list.Connections) != 0 || list.Endable != 0 {
		t.Errorf("after ending: %+v", list)
	}
	read() // the session connects afresh

	a.get("/api/v1/databases/DATABASE_URL/links/nope/connections").Err(t, http.StatusNotFound, "not_found")
	a.do("POST", "/api/v1/databases/DATABASE_URL/links/nope/connections/end", map[string]any{"confirm": "nope"}).Err(t, http.StatusNotFound, "not_found")
}
