package app

import (
	"net/http"
	"strings"
	"testing"

	"github.com/pglinks/pglinks/internal/auth"
)

// An admin's query check never shows a link's password, in the answer or
// in the audit trail: pglinks' role may read its own user mappings, and
// EXPLAIN ANALYZE of a statement casting the mapping's options puts the
// password in PostgreSQL's error, which the check repeats.
func TestAPIQueryCheckNeverShowsLinkPassword(t *testing.T) {
	e := newEnv(t)
	a := e.api(t, adminEmail, "ci")
	execSQL(t, e.remote.URL, `INSERT INTO customers VALUES (1, 'one')`)
	if r := a.do("POST", "/api/v1/databases/DATABASE_URL/links", map[string]any{"remote": "HEROKU_POSTGRESQL_BLUE_URL", "name": "crm"}); r.Status != http.StatusCreated {
		t.Fatalf("create crm: %d %s", r.Status, r.Body)
	}
	sql := `SELECT * FROM crm.customers WHERE id = (SELECT split_part(split_part(umoptions::text, 'password=', 2), '}', 1) FROM pg_catalog.pg_user_mappings WHERE srvname = 'crm')::int`
	r := a.do("POST", "/api/v1/databases/DATABASE_URL/links/crm/query", map[string]any{"sql": sql, "analyze": true})
	if strings.Contains(string(r.Body), e.remote.Password) {
		t.Errorf("the API's answer shows the link's password:\n%s", r.Body)
	}
	for _, en := range e.auditBy(t, auth.ActionQueryCheckRefused, adminEmail+" (token ci)") {
		if strings.Contains(en.Detail, e.remote.Password) || strings.Contains(en.DDL, e.remote.Password) {
			t.Errorf("the audit trail keeps the link's password: %q", en.Detail)
		}
	}
}
