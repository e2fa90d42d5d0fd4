package app

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/pglinks/pglinks/internal/auth"
)

// A link's options through the API, as in the Performance section: any
// role reads the section; an admin's token previews a change (nothing
// changes), applies it under the link's lock (audited with its statement
// and the token's name), to the server or to one foreign table, hostile
// names included; refusals are 422 on their field and audited; a viewer's
// token may neither preview nor apply.
func TestAPILinkOptions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.api(t, adminEmail, "ci")
	v := e.api(t, viewerEmail, "laptop")
	const actor = adminEmail + " (token ci)"
	apiLinkCRM(t, e, a)
	const link = "/api/v1/databases/DATABASE_URL/links/crm"
	const hostile = "<script>alert(1)</script>"

	type option struct {
		Key, Value string
		IsSet      bool `json:"is_set"`
	}
	type perf struct {
		Options       []option
		TableCount    int `json:"table_count"`
		NeverAnalyzed int `json:"never_analyzed"`
		Tables        []struct {
			Table   string
			Options map[string]string
		}
		Stats []struct {
			Table string
			Rows  *float64
		}
		Advice []struct {
			Key    string
			Option *struct{ Key, Value string }
		}
	}
	read := func() perf {
		var p perf
		v.get(link+"/performance").JSON(t, &p)
		return p
	}
	valueOf := func(p perf, key string) option {
		for _, o := range p.Options {
			if o.Key == key {
				return o
			}
		}
		t.Fatalf("no option %s in %+v", key, p.Options)
		return option{}
	}
	p := read()
	if p.TableCount != 2 || p.NeverAnalyzed != 2 || len(p.Stats) != 2 || p.Stats[0].Rows != nil || len(p.Options) != 6 {
		t.Fatalf("performance: %+v", p)
	}
	if o := valueOf(p, "fetch_size"); o.Value != "100" || o.IsSet {
		t.Errorf("fetch_size: %+v", o)
	}
	if len(p.Advice) == 0 || p.Advice[0].Key != "use_remote_estimate" || p.Advice[0].Option == nil || p.Advice[0].Option.Value != "true" {
		t.Errorf("advice: %+v", p.Advice)
	}

	hasOption := func(opt string) bool {
		return queryInt(t, e.local.URL, "SELECT count(*) FROM pg_foreign_server WHERE srvname = 'crm' AND $1 = ANY(srvoptions)", opt) == 1
	}
	v.get(link+"/options?key=extensions&value=pg_trgm").Err(t, http.StatusForbidden, "forbidden")
	v.do("POST", link+"/options", map[string]any{"key": "extensions", "value": "pg_trgm"}).Err(t, http.StatusForbidden, "forbidden")
	if hasOption("extensions=pg_trgm") {
		t.Fatal("a viewer's token changed an option")
	}

	var plan struct {
		Change   struct{ Table, Key, Value string }
		Current  string
		IsSet    bool `json:"is_set"`
		SQL      string
		Warnings []string
		Message  string
	}
	a.get(link+"/options?key=extensions&value=pg_trgm").JSON(t, &plan)
	if plan.SQL != `ALTER SERVER "crm" OPTIONS (ADD extensions 'pg_trgm')` || plan.IsSet || plan.Change.Value != "pg_trgm" || len(plan.Warnings) != 0 {
		t.Fatalf("preview: %+v", plan)
	}
	if hasOption("extensions=pg_trgm") {
		t.Fatal("the preview changed the server")
	}
	a.do("POST", link+"/options", map[string]any{"key": "extensions", "value": "pg_trgm"}).JSON(t, &plan)
	if !hasOption("extensions=pg_trgm") || !strings.Contains(plan.Message, "extensions of the server set to pg_trgm") {
		t.Fatalf("apply: %+v", plan)
	}
	done := e.auditBy(t, auth.ActionLinkOption, actor)
	if len(done) != 1 || done[0].DDL != `ALTER SERVER "crm" OPTIONS (ADD extensions 'pg_trgm');` || done[0].Target != "DATABASE_URL/crm" {
		t.Fatalf("audited: %+v", done)
	}

	// Refusals, each on its field, audited; nothing changes.
	for _, tc := range []struct {
		body  string
		field string
		want  string
	}{
		{`{"key": "extensions", "value": "pg_trgm"}`, "value", "already"},
		{`{"key": "fetch_size", "value": "0"}`, "value", "whole number"},
		{`{"key": "password", "value": "x"}`, "key", "not an option"},
		{`{"key": "keep_connections", "value": "off", "table": "customers"}`, "key", "server only"},
		{`{"key": "fetch_size", "value": "10", "table": "nope"}`, "table", "no foreign table"},
	} {
		r := a.raw("POST", link+"/options", tc.body, "application/json").Err(t, http.StatusUnprocessableEntity, "invalid")
		if r.Error.Field != tc.field || !strings.Contains(r.Error.Message, tc.want) {
			t.Errorf("%s: %+v", tc.body, r.Error)
		}
	}
	if n := len(e.auditBy(t, auth.ActionLinkOptionRefused, actor)); n != 5 {
		t.Errorf("%d refusals audited, want 5", n)
	}

	// Per foreign table, the hostile name as data; the value trimmed as
	// the page's form trims it.
	for _, table := range []string{"customers", hostile} {
		a.do("POST", link+"/options", map[string]any{"table": table, "key": "fetch_size", "value": " 5000 "}).JSON(t, &plan)
		if plan.Change.Table != table || plan.Change.Value != "5000" || !strings.HasPrefix(plan.SQL, "ALTER FOREIGN TABLE ") {
			t.Fatalf("table %q: %+v", table, plan)
		}
	}
	p = read()
	if len(p.Tables) != 2 || p.Tables[0].Options["fetch_size"] != "5000" || p.Tables[1].Options["fetch_size"] != "5000" ||
		p.Tables[0].Table != hostile && p.Tables[1].Table != hostile {
		t.Fatalf("tables with options: %+v", p.Tables)
	}
	if o := valueOf(p, "extensions"); o.Value != "pg_trgm" || !o.IsSet {
		t.Errorf("extensions: %+v", o)
	}

	// Reset to the default.
	a.get(link+"/options?"+url.Values{"key": {"extensions"}, "value": {""}}.Encode()).JSON(t, &plan)
	if plan.SQL != `ALTER SERVER "crm" OPTIONS (DROP extensions)` || !plan.IsSet || plan.Current != "pg_trgm" {
		t.Fatalf("reset preview: %+v", plan)
	}
	a.do("POST", link+"/options", map[string]any{"key": "extensions"})
	if hasOption("extensions=pg_trgm") {
		t.Fatal("reset did not drop the option")
	}
	a.get(link+"/options?key=fetch_size&value=lots").Err(t, http.StatusUnprocessableEntity, "invalid")
	a.get("/api/v1/databases/DATABASE_URL/links/nope/performance").Err(t, http.StatusNotFound, "not_found")
}
