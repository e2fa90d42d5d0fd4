package app

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/pglinks/pglinks/internal/auth"
)

// apiLinkCRM makes the link crm from the remote into DATABASE_URL through
// the API, with a remote table worth checking queries over.
func apiLinkCRM(t *testing.T, e *env, a *apiClient) {
	t.Helper()
	execSQL(t, e.remote.URL, `CREATE EXTENSION pg_trgm; INSERT INTO customers SELECT g, 'n' || g FROM generate_series(1, 500) g`)
	execSQL(t, e.local.URL, `CREATE EXTENSION pg_trgm`)
	if r := a.do("POST", "/api/v1/databases/DATABASE_URL/links", map[string]any{"remote": "HEROKU_POSTGRESQL_BLUE_URL", "name": "crm"}); r.Status != http.StatusCreated {
		t.Fatalf("create crm: %d %s", r.Status, r.Body)
	}
}

// Query checks through the API, as on the Query check page: an admin's
// token checks a SELECT (the remote SQL, the condition kept local with
// its reason and the option that fixes it), saved and audited under the
// token's name; refusals are 422 on sql and audited; EXPLAIN ANALYZE runs
// the statement only when it calls nothing volatile; any role lists and
// reads saved checks, a viewer's token runs none.
func TestAPIQueryCheck(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.api(t, adminEmail, "ci")
	v := e.api(t, viewerEmail, "laptop")
	const actor = adminEmail + " (token ci)"
	apiLinkCRM(t, e, a)
	const base = "/api/v1/databases/DATABASE_URL/links/crm/query"

	var list struct {
		Link   struct{ Name string }
		Checks []struct {
			ID        int64
			Actor     string
			Statement string
			Analyzed  bool
			KeptLocal int `json:"kept_local"`
		}
	}
	v.get(base).JSON(t, &list)
	if list.Link.Name != "crm" || len(list.Checks) != 0 {
		t.Fatalf("no checks yet: %+v", list)
	}
	sql := "SELECT * FROM crm.customers WHERE similarity(name, 'n42') > 0.5"
	v.do("POST", base, map[string]any{"sql": sql}).Err(t, http.StatusForbidden, "forbidden")
	if n := len(e.auditBy(t, auth.ActionDenied, viewerEmail+" (token laptop)")); n != 1 {
		t.Errorf("viewer's check: %d denied entries", n)
	}

	for stmt, want := range map[string]string{
		"DELETE FROM crm.customers":              "this is a DELETE",
		"SELECT 1; SELECT 2":                     "holds 2 statements",
		"SELECT * FROM crm.customers FOR UPDATE": "locks rows",
	} {
		r := a.do("POST", base, map[string]any{"sql": stmt}).Err(t, http.StatusUnprocessableEntity, "invalid")
		if r.Error.Field != "sql" || !strings.Contains(r.Error.Message, want) {
			t.Errorf("%s: %+v", stmt, r.Error)
		}
	}
	if refused := e.auditBy(t, auth.ActionQueryCheckRefused, actor); len(refused) != 3 || refused[0].Outcome != auth.OutcomeRefused {
		t.Errorf("refusals audited: %+v", refused)
	}

	r := a.do("POST", base, map[string]any{"sql": sql})
	if r.Status != http.StatusCreated || !regexp.MustCompile(`^`+base+`/\d+$`).MatchString(r.Header.Get("Location")) {
		t.Fatalf("check: %d %s, Location %q", r.Status, r.Body, r.Header.Get("Location"))
	}
	type reason struct {
		Code, Object string
		Option       *struct{ Table, Key, Value string }
	}
	type check struct {
		ID        int64
		Statement string
		Analyze   bool
		Actor     string
		UsesLink  bool `json:"uses_link"`
		KeptLocal int  `json:"kept_local"`
		Scans     []struct {
			Mine          bool
			RemoteSQL     string `json:"remote_sql"`
			Actual        bool
			ActualFetched float64 `json:"actual_fetched"`
			KeptLocal     []struct {
				Expr    string
				Reasons []reason
			} `json:"kept_local"`
		}
	}
	var got check
	r.JSON(t, &got)
	if !got.UsesLink || got.Analyze || got.KeptLocal != 1 || got.Actor != actor || len(got.Scans) != 1 || !got.Scans[0].Mine ||
		!strings.Contains(got.Scans[0].RemoteSQL, "FROM public.customers") || len(got.Scans[0].KeptLocal) != 1 {
		t.Fatalf("check: %s", r.Body)
	}
	kept := got.Scans[0].KeptLocal[0]
	if !strings.Contains(kept.Expr, "similarity(") || len(kept.Reasons) == 0 || kept.Reasons[0].Code != "extension" ||
		kept.Reasons[0].Option == nil || kept.Reasons[0].Option.Key != "extensions" || kept.Reasons[0].Option.Value != "pg_trgm" {
		t.Fatalf("kept local: %+v", kept)
	}
	ok := e.auditBy(t, auth.ActionQueryCheck, actor)
	if len(ok) != 1 || ok[0].DDL != sql || !strings.Contains(ok[0].Detail, "1 thing kept local") {
		t.Fatalf("check audited: %+v", ok)
	}

	// Saved: read back by anyone, listed newest first.
	var saved check
	v.get(r.Header.Get("Location")).JSON(t, &saved)
	if saved.ID != got.ID || saved.Statement != sql || saved.Actor != actor || saved.KeptLocal != 1 {
		t.Fatalf("saved check: %+v", saved)
	}
	v.get(base+"/999999").Err(t, http.StatusNotFound, "not_found")
	a.get("/api/v1/databases/DATABASE_URL/links/nope/query").Err(t, http.StatusNotFound, "not_found")

	// EXPLAIN ANALYZE executes the statement, but nothing volatile: a
	// statement taking an advisory lock is refused, and audited as such.
	lock := "SELECT pg_advisory_lock(4242), * FROM crm.customers"
	if e := a.do("POST", base, map[string]any{"sql": lock, "analyze": true}).Err(t, http.StatusUnprocessableEntity, "invalid"); e.Error.Field != "sql" || !strings.Contains(e.Error.Message, "pg_advisory_lock()") {
		t.Errorf("volatile analyze: %+v", e.Error)
	}
	if refused := e.auditBy(t, auth.ActionQueryCheckRefused, actor); len(refused) != 4 || !strings.HasPrefix(refused[0].Detail, "EXPLAIN ANALYZE: ") || refused[0].DDL != lock {
		t.Fatalf("the refused analyze audited: %+v", refused)
	}
	var an check
	a.do("POST", base, map[string]any{"sql": sql, "analyze": true}).JSON(t, &an)
	if !an.Analyze || len(an.Scans) != 1 || !an.Scans[0].Actual || an.Scans[0].ActualFetched != 500 {
		t.Fatalf("analyze: %+v", an)
	}

	list.Checks = nil
	v.get(base+"?limit=1").JSON(t, &list)
	if len(list.Checks) != 1 || list.Checks[0].ID != an.ID || !list.Checks[0].Analyzed || list.Checks[0].Actor != actor {
		t.Fatalf("newest check: %+v", list.Checks)
	}
	v.get(base).JSON(t, &list)
	if len(list.Checks) != 2 || list.Checks[1].ID != got.ID || list.Checks[1].KeptLocal != 1 {
		t.Fatalf("checks: %+v", list.Checks)
	}
	a.raw("GET", base+"?limit=0", "", "").Err(t, http.StatusUnprocessableEntity, "invalid")
}
