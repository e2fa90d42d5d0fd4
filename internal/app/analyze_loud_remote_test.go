package app

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/pglinks/pglinks/internal/auth"
)

// loudViews makes n views on the remote, as its owner (no superuser
// needed), each of whose rows cannot be read without an error of a
// megabyte: ANALYZE of their foreign tables fails with it.
func loudViews(n int) string {
	var b strings.Builder
	b.WriteString(`CREATE FUNCTION loud() RETURNS int LANGUAGE plpgsql AS $f$
BEGIN RAISE EXCEPTION '%', 'LOUD:' || repeat('"', 1048576); END $f$;`)
	for i := range n {
		fmt.Fprintf(&b, "\nCREATE VIEW loud_%02d AS SELECT loud() AS x;", i)
	}
	return b.String()
}

// "Analyze foreign tables" of a link whose remote tables answer with
// megabyte errors: every table's failure reason is the remote's whole
// error, joined into one message. The page's result is lost (the flash
// cookie is refused past 4 KB), the API answer and the audit row carry
// n megabytes (a remote of 10,000 such views: gigabytes in pglinks'
// memory, and an audit insert PostgreSQL refuses past 1 GB).
func TestAnalyzeOfALoudRemoteIsBounded(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	execSQL(t, e.remote.URL, loudViews(20))
	a := e.api(t, adminEmail, "ci")
	if r := a.do("POST", "/api/v1/databases/DATABASE_URL/links", map[string]any{"remote": "HEROKU_POSTGRESQL_BLUE_URL", "name": "crm"}); r.Status != http.StatusCreated {
		t.Fatalf("create crm: %d %.400s", r.Status, r.Body)
	}
	const bound = 256 << 10

	// The page: the result of the run reaches the admin after the redirect.
	c := e.client(t)
	c.signIn(adminEmail)
	if r := c.post("/databases/DATABASE_URL/links/crm/analyze", url.Values{}); r.Status != http.StatusSeeOther {
		t.Fatalf("analyze: %d %.400s", r.Status, r.Body)
	}
	page := c.get("/databases/DATABASE_URL/links/crm")
	if !strings.Contains(page.Body, "Analyzed 2 of 22") {
		t.Errorf("the link page after the run does not say how it went (the flash was lost)")
	}

	// The audit row of that run.
	audited := e.auditBy(t, auth.ActionLinkAnalyze, adminEmail)
	if len(audited) != 1 {
		t.Fatalf("audited: %d runs", len(audited))
	}
	if n := len(audited[0].Detail); n > bound {
		t.Errorf("the audit row of one analyze holds %d bytes of what the remote said", n)
	}

	// The API answer.
	r := a.do("POST", "/api/v1/databases/DATABASE_URL/links/crm/analyze", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("API analyze: %d %.400s", r.Status, r.Body)
	}
	if n := len(r.Body); n > bound {
		t.Errorf("the API's answer to one analyze is %d bytes", n)
	}
}
