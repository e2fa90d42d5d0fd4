package app

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/pglinks/pglinks/internal/auth"
)

// "Analyze foreign tables" through the API: an admin's token analyzes
// every foreign table of a link (the hostile name as data), the planner
// then knows their sizes, the run is audited with its statements and the
// token's name; a table that fails does not stop the run and marks it
// failed; a viewer's token analyzes nothing.
func TestAPIAnalyzeTables(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.api(t, adminEmail, "ci")
	v := e.api(t, viewerEmail, "laptop")
	const actor = adminEmail + " (token ci)"
	apiLinkCRM(t, e, a)
	const link = "/api/v1/databases/DATABASE_URL/links/crm"
	const hostile = "<script>alert(1)</script>"

	analyzed := func() int {
		// reltuples is -1 until a table is analyzed.
		return queryInt(t, e.local.URL, `SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'crm' AND c.relkind = 'f' AND c.reltuples >= 0`)
	}
	v.do("POST", link+"/analyze", nil).Err(t, http.StatusForbidden, "forbidden")
	if n := analyzed(); n != 0 {
		t.Fatalf("%d tables analyzed by a viewer's token", n)
	}

	type run struct {
		Total     int
		Analyzed  []string
		Failed    []struct{ Table, Reason string }
		Remaining int
		SQL       []string
		Message   string
	}
	var r run
	a.do("POST", link+"/analyze", nil).JSON(t, &r)
	if r.Total != 2 || len(r.Analyzed) != 2 || !slices.Contains(r.Analyzed, hostile) || len(r.Failed) != 0 || r.Remaining != 0 ||
		!slices.Contains(r.SQL, `ANALYZE "crm"."customers"`) || !strings.Contains(r.Message, "Analyzed 2 of 2") {
		t.Fatalf("analyze: %+v", r)
	}
	if n := analyzed(); n != 2 {
		t.Fatalf("%d tables analyzed, want 2", n)
	}
	var p struct {
		NeverAnalyzed int `json:"never_analyzed"`
		Stats         []struct {
			Table string
			Rows  *float64
		}
	}
	v.get(link+"/performance").JSON(t, &p)
	if p.NeverAnalyzed != 0 || len(p.Stats) != 2 {
		t.Fatalf("after analyze: %+v", p)
	}
	for _, s := range p.Stats {
		if s.Table == "customers" && (s.Rows == nil || *s.Rows != 500) {
			t.Errorf("customers analyzed with %v rows, want 500", s.Rows)
		}
	}
	audited := e.auditBy(t, auth.ActionLinkAnalyze, actor)
	if len(audited) != 1 || audited[0].Outcome != auth.OutcomeOK || !strings.Contains(audited[0].DDL, `ANALYZE "crm"."customers"`) {
		t.Fatalf("audited: %+v", audited)
	}

	// A remote table gone: its ANALYZE fails, the other's runs.
	execSQL(t, e.remote.URL, `DROP TABLE "`+hostile+`"`)
	r = run{}
	a.do("POST", link+"/analyze", map[string]any{}).JSON(t, &r)
	if len(r.Analyzed) != 1 || r.Analyzed[0] != "customers" || len(r.Failed) != 1 || r.Failed[0].Table != hostile || r.Failed[0].Reason == "" {
		t.Fatalf("analyze with a table gone: %+v", r)
	}
	audited = e.auditBy(t, auth.ActionLinkAnalyze, actor)
	if len(audited) != 2 || audited[0].Outcome != auth.OutcomeFailed {
		t.Fatalf("a run with a failure audited: %+v", audited)
	}
	a.do("POST", "/api/v1/databases/DATABASE_URL/links/nope/analyze", nil).Err(t, http.StatusNotFound, "not_found")
}
