package app

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pglinks/pglinks/internal/auth"
)

// A create through the API and one through the browser, of the same link
// at the same moment: exactly one wins, the other is told it conflicts.
func TestAPIConcurrentCreateWithBrowser(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.api(t, adminEmail, "ci")
	b := e.client(t)
	b.signIn(adminEmail)
	for round := range 3 {
		name := fmt.Sprintf("race_%d", round)
		var wg sync.WaitGroup
		var apiStatus, browserStatus int
		var apiBody string
		start := make(chan struct{})
		wg.Add(2)
		go func() {
			defer wg.Done()
			<-start
			r := a.do("POST", "/api/v1/databases/DATABASE_URL/links", map[string]any{"remote": "HEROKU_POSTGRESQL_BLUE_URL", "name": name, "duplicate_ok": true})
			apiStatus, apiBody = r.Status, string(r.Body)
		}()
		go func() {
			defer wg.Done()
			<-start
			r := b.post("/links", url.Values{"remote": {"HEROKU_POSTGRESQL_BLUE_URL"}, "local": {"DATABASE_URL"}, "name": {name}, "duplicate_ok": {"1"}})
			browserStatus = r.Status
		}()
		close(start)
		wg.Wait()
		apiWon, browserWon := apiStatus == http.StatusCreated, browserStatus == http.StatusSeeOther
		if apiWon == browserWon {
			t.Fatalf("round %d: API %d, browser %d: want exactly one to win\n%s", round, apiStatus, browserStatus, apiBody)
		}
		if apiWon && browserStatus != http.StatusConflict {
			t.Errorf("round %d: the browser's loser got %d, want 409", round, browserStatus)
		}
		if browserWon && (apiStatus != http.StatusConflict || !strings.Contains(apiBody, `"kind": "conflict"`)) {
			t.Errorf("round %d: the API's loser got %d %s, want a 409 conflict", round, apiStatus, apiBody)
		}
		if n := queryInt(t, e.local.URL, "SELECT count(*) FROM pg_foreign_server WHERE srvname = $1", name); n != 1 {
			t.Fatalf("round %d: %d servers named %s", round, n, name)
		}
	}
}

// Refresh, import and repair through the API: each plan, then its apply
// with the plan's fingerprint (a stale one changes nothing).
func TestAPIRefreshImportRepair(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.api(t, adminEmail, "ops")
	base := "/api/v1/databases/DATABASE_URL/links"
	if r := a.do("POST", base, map[string]any{"remote": "HEROKU_POSTGRESQL_BLUE_URL", "name": "sales"}); r.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	execSQL(t, e.remote.URL, `CREATE TABLE tickets (id int)`)

	var plan struct {
		Drift struct {
			NewTables []string `json:"new_tables"`
			InStep    bool     `json:"in_step"`
		}
		SQL         []string
		Summary     string
		Empty       bool
		Fingerprint string
	}
	a.get(base+"/sales/refresh").JSON(t, &plan)
	if !slices.Equal(plan.Drift.NewTables, []string{"tickets"}) || plan.Empty || plan.Summary != "1 table added" || plan.Fingerprint == "" {
		t.Fatalf("refresh plan: %+v", plan)
	}
	a.do("POST", base+"/sales/refresh", map[string]any{"fingerprint": "stale"}).Err(t, http.StatusConflict, "conflict")
	if n := queryInt(t, e.local.URL, "SELECT count(*) FROM pg_foreign_table ft JOIN pg_class c ON c.oid = ft.ftrelid WHERE c.relname = 'tickets'"); n != 0 {
		t.Fatal("a stale fingerprint refreshed the link")
	}
	var refreshed struct{ Summary string }
	a.do("POST", base+"/sales/refresh", map[string]any{"fingerprint": plan.Fingerprint}).JSON(t, &refreshed)
	if refreshed.Summary != "1 table added" || queryInt(t, e.local.URL, "SELECT count(*) FROM pg_foreign_table ft JOIN pg_class c ON c.oid = ft.ftrelid WHERE c.relname = 'tickets'") != 1 {
		t.Fatalf("refresh: %+v", refreshed)
	}
	if n := len(e.auditBy(t, auth.ActionLinkRefresh, adminEmail+" (token ops)")); n != 1 {
		t.Errorf("%d refresh audit entries", n)
	}

	// Import into a LIMIT TO link.
	if r := a.do("POST", base, map[string]any{"remote": "HEROKU_POSTGRESQL_BLUE_URL", "name": "some", "tables": []string{"customers"}, "duplicate_ok": true}); r.Status != http.StatusCreated {
		t.Fatalf("create LIMIT TO: %d %s", r.Status, r.Body)
	}
	var imp struct {
		Importable []string
		Plan       *struct {
			Tables      []string
			SQL         []string
			Fingerprint string
		}
	}
	a.get(base+"/some/import").JSON(t, &imp)
	if !slices.Contains(imp.Importable, "tickets") || !slices.Contains(imp.Importable, "<script>alert(1)</script>") || imp.Plan != nil {
		t.Fatalf("importable: %+v", imp)
	}
	a.get(base+"/some/import?table=tickets").JSON(t, &imp)
	if imp.Plan == nil || !slices.Equal(imp.Plan.Tables, []string{"tickets"}) || !strings.Contains(strings.Join(imp.Plan.SQL, ";"), "LIMIT TO") {
		t.Fatalf("import plan: %+v", imp.Plan)
	}
	a.do("POST", base+"/some/import", map[string]any{"tables": []string{"tickets"}, "fingerprint": "stale"}).Err(t, http.StatusConflict, "conflict")
	var imported struct{ Tables []string }
	a.do("POST", base+"/some/import", map[string]any{"tables": []string{"tickets"}, "fingerprint": imp.Plan.Fingerprint}).JSON(t, &imported)
	if !slices.Equal(imported.Tables, []string{"tickets"}) {
		t.Fatalf("imported: %+v", imported)
	}
	var one struct{ Link apiTestLink }
	a.get(base+"/some").JSON(t, &one)
	if !slices.Equal(one.Link.Tables, []string{"customers", "tickets"}) {
		t.Fatalf("tables after import: %v", one.Link.Tables)
	}

	// Repair: the mapping's password no longer matches the remote's
	// config var.
	a.get(base+"/sales/repair").Err(t, http.StatusConflict, "conflict")
	execSQL(t, e.local.URL, fmt.Sprintf(`ALTER USER MAPPING FOR %q SERVER sales OPTIONS (SET password 'rotated-elsewhere')`, e.local.Owner))
	var rplan struct {
		Stale struct {
			Stale, Repairable bool
			Summary           string
		}
		SQL         []string
		Fingerprint string
	}
	a.get(base+"/sales/repair").JSON(t, &rplan)
	if !rplan.Stale.Stale || !rplan.Stale.Repairable || len(rplan.SQL) == 0 || strings.Contains(strings.Join(rplan.SQL, ";"), e.remote.Password) {
		t.Fatalf("repair plan: %+v", rplan)
	}
	var repaired struct {
		Health struct{ State string }
		SQL    []string
	}
	// With another plan's fingerprint nothing runs.
	a.do("POST", base+"/sales/repair", map[string]any{"fingerprint": "0000000000000000"}).Err(t, http.StatusConflict, "conflict")
	a.do("POST", base+"/sales/repair", map[string]any{"fingerprint": rplan.Fingerprint}).JSON(t, &repaired)
	if repaired.Health.State != "healthy" {
		t.Fatalf("repaired: %+v", repaired)
	}
	if entries := e.auditBy(t, auth.ActionLinkRepair, adminEmail+" (token ops)"); len(entries) != 1 || entries[0].Outcome != auth.OutcomeOK || strings.Contains(entries[0].DDL, e.remote.Password) {
		t.Errorf("repair audit: %+v", entries)
	}
	var checked struct{ Health struct{ State string } }
	a.do("POST", base+"/sales/check", nil).JSON(t, &checked)
	if checked.Health.State != "healthy" {
		t.Errorf("check: %+v", checked)
	}
}

// Replication through the API: the overview, enable and disable, drops
// with their exact typed confirmations, and creates that run only after a
// clean preflight.
func TestAPIReplication(t *testing.T) {
	t.Parallel()
	// The replication clock moves instead of the test waiting out the
	// slot threshold (PGLINKS_SLOT_ORPHAN_AFTER).
	var offset atomic.Int64
	e := newEnv(t, func(cfg *Config) {
		cfg.Replication.Now = func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	})
	execSQL(t, cluster.SuperURL("postgres"), fmt.Sprintf(`ALTER ROLE "%s_owner" SUPERUSER`, e.local.Name))
	// pg_subscription is shared by the cluster's databases: these names
	// are this test's own, and go at its end.
	const twin = "api twin"
	for i, name := range []string{twin, twin + " "} {
		execSQL(t, e.local.URL, fmt.Sprintf(`CREATE SUBSCRIPTION "%s" CONNECTION 'host=127.0.0.1 port=1 dbname=x connect_timeout=1' PUBLICATION p WITH (connect = false, slot_name = 'api_twin_%d')`, name, i))
		t.Cleanup(func() {
			execSQL(t, e.local.URL, fmt.Sprintf(`DO $$ BEGIN
				IF EXISTS (SELECT FROM pg_subscription WHERE subname = '%[1]s' AND subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())) THEN
					ALTER SUBSCRIPTION "%[1]s" DISABLE; ALTER SUBSCRIPTION "%[1]s" SET (slot_name = NONE); DROP SUBSCRIPTION "%[1]s";
				END IF; END $$`, name))
		})
	}
	slot := "api_slot_" + e.local.Name
	execSQL(t, e.local.URL, fmt.Sprintf(`SELECT pg_create_physical_replication_slot('%s')`, slot))
	t.Cleanup(func() {
		execSQL(t, cluster.SuperURL("postgres"), fmt.Sprintf(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '%s'`, slot))
	})
	a := e.api(t, adminEmail, "repl")
	const actor = adminEmail + " (token repl)"
	subs := func() map[string]bool {
		var o struct {
			Databases []struct {
				ConfigVar     string `json:"config_var"`
				Subscriptions []struct {
					Name    string
					Enabled bool
				}
			}
		}
		a.get("/api/v1/replication").JSON(t, &o)
		got := map[string]bool{}
		for _, d := range o.Databases {
			if d.ConfigVar == "DATABASE_URL" {
				for _, s := range d.Subscriptions {
					got[s.Name] = s.Enabled
				}
			}
		}
		return got
	}
	if got := subs(); len(got) != 2 || got[twin] || got[twin+" "] {
		t.Fatalf("overview: %v", got)
	}
	a.do("POST", "/api/v1/replication/subscriptions/enable", map[string]any{"db": "DATABASE_URL", "name": twin + " "})
	if got := subs(); !got[twin+" "] || got[twin] {
		t.Fatalf("after enabling %q: %v", twin+" ", got)
	}
	a.do("POST", "/api/v1/replication/subscriptions/disable", map[string]any{"db": "DATABASE_URL", "name": twin + " "})
	a.do("POST", "/api/v1/replication/subscriptions/enable", map[string]any{"db": "DATABASE_URL", "name": "nope"}).Err(t, http.StatusNotFound, "not_found")

	var dplan struct {
		Subscription struct{ Name string }
		SlotFate     string `json:"slot_fate"`
		Fingerprint  string
	}
	a.get("/api/v1/replication/subscriptions/drop?db=DATABASE_URL&name=api%20twin%20").JSON(t, &dplan)
	if dplan.Subscription.Name != twin+" " || dplan.SlotFate == "" || dplan.Fingerprint == "" {
		t.Fatalf("drop plan: %+v", dplan)
	}
	// Another plan's fingerprint: the drop is refused.
	a.do("POST", "/api/v1/replication/subscriptions/drop", map[string]any{"db": "DATABASE_URL", "name": twin + " ", "confirm": twin + " ", "fingerprint": "0000000000000000"}).Err(t, http.StatusConflict, "conflict")
	if len(subs()) != 2 {
		t.Fatal("a drop with another plan's fingerprint dropped something")
	}
	for _, body := range []map[string]any{{"db": "DATABASE_URL", "name": twin + " "}, {"db": "DATABASE_URL", "name": twin + " ", "confirm": twin}, {"db": "DATABASE_URL", "name": twin, "confirm": twin + " "}} {
		if e := a.do("POST", "/api/v1/replication/subscriptions/drop", body).Err(t, http.StatusUnprocessableEntity, "invalid"); e.Error.Field != "confirm" {
			t.Errorf("drop %v: field %q", body, e.Error.Field)
		}
		if len(subs()) != 2 {
			t.Fatalf("drop %v dropped something", body)
		}
	}
	var dropped struct {
		Message string
		SQL     []string
	}
	a.do("POST", "/api/v1/replication/subscriptions/drop", map[string]any{"db": "DATABASE_URL", "name": twin + " ", "confirm": twin + " ", "fingerprint": dplan.Fingerprint}).JSON(t, &dropped)
	if got := subs(); len(got) != 1 {
		t.Fatalf("after the drop: %v (%+v)", got, dropped)
	} else if _, ok := got[twin]; !ok {
		t.Fatalf("the drop took the other one: %v", got)
	}
	if n := len(e.auditBy(t, auth.ActionSubscriptionDrop, actor)); n != 1 {
		t.Errorf("%d drop audit entries by the token", n)
	}
	if n := len(e.auditBy(t, auth.ActionReplicationRefused, actor)); n != 5 { // three confirmations, a fingerprint and "nope"
		t.Errorf("%d refused replication entries by the token, want 5", n)
	}

	// A slot: inactive for less than the threshold it is not a problem and
	// not offered (a drop is a conflict); past it, it is idle: plan,
	// refused confirmation, drop.
	type slotPlan struct {
		Slot struct {
			Name, Type, State string
			DropOffered       bool       `json:"drop_offered"`
			InactiveSince     *time.Time `json:"inactive_since"`
		}
		Refusal      string
		SQL          []string
		OrphanAfterS int `json:"orphan_after_s"`
	}
	var splan slotPlan
	a.get("/api/v1/replication/slots/drop?db=DATABASE_URL&name="+slot).JSON(t, &splan)
	if splan.Slot.Name != slot || splan.Slot.Type != "physical" || splan.Slot.State != "inactive" || splan.Slot.DropOffered ||
		splan.Slot.InactiveSince == nil || !strings.Contains(splan.Refusal, "PGLINKS_SLOT_ORPHAN_AFTER") || splan.OrphanAfterS != 300 {
		t.Fatalf("slot plan of a slot inactive moments ago: %+v", splan)
	}
	a.do("POST", "/api/v1/replication/slots/drop", map[string]any{"db": "DATABASE_URL", "name": slot, "confirm": slot}).Err(t, http.StatusConflict, "conflict")
	offset.Store(int64(10 * time.Minute))
	splan = slotPlan{}
	a.get("/api/v1/replication/slots/drop?db=DATABASE_URL&name="+slot).JSON(t, &splan)
	if splan.Slot.State != "idle" || !splan.Slot.DropOffered || splan.Refusal != "" || len(splan.SQL) != 1 {
		t.Fatalf("slot plan of an idle slot: %+v", splan)
	}
	a.do("POST", "/api/v1/replication/slots/drop", map[string]any{"db": "DATABASE_URL", "name": slot, "confirm": slot + " "}).Err(t, http.StatusUnprocessableEntity, "invalid")
	a.do("POST", "/api/v1/replication/slots/drop", map[string]any{"db": "DATABASE_URL", "name": slot, "confirm": slot})
	if n := queryInt(t, e.local.URL, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1", slot); n != 0 {
		t.Fatal("slot not dropped")
	}

	// Creates run only after a clean preflight: on this cluster (wal_level
	// replica) both are refused with the preflight's problems as details,
	// and nothing is made.
	for _, tc := range []struct {
		path string
		body map[string]any
		made string
	}{
		{"/api/v1/replication/publications", map[string]any{"db": "HEROKU_POSTGRESQL_BLUE_URL", "name": "pub", "tables": []string{"public.customers"}}, "SELECT count(*) FROM pg_publication WHERE pubname = 'pub'"},
		{"/api/v1/replication/subscriptions", map[string]any{"publisher": "HEROKU_POSTGRESQL_BLUE_URL", "subscriber": "DATABASE_URL", "publication": "pub", "name": "pull"}, "SELECT count(*) FROM pg_subscription WHERE subname = 'pull'"},
	} {
		var pf struct {
			OK       bool
			Problems []string
			SQL      []string
		}
		dry := map[string]any{"dry_run": true}
		for k, v := range tc.body {
			dry[k] = v
		}
		a.do("POST", tc.path, dry).JSON(t, &pf)
		if pf.OK || !strings.Contains(strings.Join(pf.Problems, " "), "wal_level") || len(pf.SQL) == 0 || !strings.HasPrefix(pf.SQL[0], "CREATE ") {
			t.Fatalf("%s preflight: %+v", tc.path, pf)
		}
		refused := a.do("POST", tc.path, tc.body).Err(t, http.StatusUnprocessableEntity, "invalid")
		if !slices.Equal(refused.Error.Details, pf.Problems) {
			t.Errorf("%s: refusal details %q, preflight problems %q", tc.path, refused.Error.Details, pf.Problems)
		}
		for _, url := range []string{e.local.URL, e.remote.URL} {
			if n := queryInt(t, url, tc.made); n != 0 {
				t.Fatalf("%s: refused, but made", tc.path)
			}
		}
	}
}

// The audit trail with the page's filters, a page at a time.
func TestAPIAudit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	createSales(t, e)
	a := e.api(t, adminEmail, "auditor")
	a.do("POST", "/api/v1/databases/DATABASE_URL/links/sales/destroy", map[string]any{"confirm": "nope"})
	type entries struct {
		Entries []struct {
			ID                             int64
			Actor, Action, Target, Outcome string
			DDL                            string
		}
		NextBefore *int64 `json:"next_before"`
	}
	var got entries
	a.get("/api/v1/audit?action=link_destroy_refused").JSON(t, &got)
	if len(got.Entries) != 1 || got.Entries[0].Actor != adminEmail+" (token auditor)" || got.Entries[0].Target != "DATABASE_URL/sales" || got.NextBefore != nil {
		t.Fatalf("filtered: %+v", got)
	}
	a.get("/api/v1/audit?limit=1").JSON(t, &got)
	if len(got.Entries) != 1 || got.NextBefore == nil {
		t.Fatalf("first page: %+v", got)
	}
	first := got.Entries[0].ID
	a.get(fmt.Sprintf("/api/v1/audit?limit=1&before=%d", *got.NextBefore)).JSON(t, &got)
	if len(got.Entries) != 1 || got.Entries[0].ID >= first {
		t.Fatalf("second page: %+v", got)
	}
	a.get(`/api/v1/audit?target=%22DATABASE_URL/sales%22&action=link_create`).JSON(t, &got)
	if len(got.Entries) != 1 || !strings.Contains(got.Entries[0].DDL, "IMPORT FOREIGN SCHEMA") {
		t.Fatalf("exact target: %+v", got)
	}
	if e := a.get("/api/v1/audit?from=yesterday").Err(t, http.StatusUnprocessableEntity, "invalid"); e.Error.Field != "from" {
		t.Errorf("bad date: %+v", e)
	}
	if e := a.get("/api/v1/audit?action=nope").Err(t, http.StatusUnprocessableEntity, "invalid"); e.Error.Field != "action" {
		t.Errorf("bad action: %+v", e)
	}
}

// Each token has its own bucket: an empty one is 429 with Retry-After,
// and another token goes on.
func TestAPIRateLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) { c.APIRate, c.APIBurst = 0.01, 3 })
	a := e.api(t, adminEmail, "loop")
	for range 3 {
		if r := a.get("/api/v1/me"); r.Status != http.StatusOK {
			t.Fatalf("within the burst: %d", r.Status)
		}
	}
	r := a.get("/api/v1/me")
	r.Err(t, http.StatusTooManyRequests, "rate_limited")
	if ra := r.Header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("Retry-After %q", ra)
	}
	b := e.api(t, adminEmail, "other")
	if r := b.get("/api/v1/me"); r.Status != http.StatusOK {
		t.Fatalf("another token: %d", r.Status)
	}
}
