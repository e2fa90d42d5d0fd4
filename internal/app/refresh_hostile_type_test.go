package app

import (
	"net/http"
	"net/url"
	"regexp"
	"testing"
)

// A refresh writes the remote's own words for a new column's type into the
// DDL it runs on the local database. Whoever controls the remote's answers
// (its superuser, or anything standing in for it on the network) controls
// those words: they must never run as statements of their own in the local
// database. postgres_fdw's IMPORT FOREIGN SCHEMA guards the same text by
// parsing each statement and refusing anything but CREATE FOREIGN TABLE.
func TestRefreshRunsNoStatementFromARemoteTypeName(t *testing.T) {
	e := newEnv(t)
	c := e.client(t)
	c.signIn(adminEmail)
	if r := c.post("/links", url.Values{"remote": {"HEROKU_POSTGRESQL_BLUE_URL"}, "local": {"DATABASE_URL"}, "name": {"crm"}, "op": {"create"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("create: %d %.400s", r.Status, r.Body)
	}
	// The remote gains a column, and its superuser has format_type answer
	// with more than a type for text columns (a server on the network path
	// could answer the same). A sequence's nextval survives a rollback: it
	// tells whether the words ran even where the transaction was undone.
	execSQL(t, e.remote.URL, "ALTER TABLE customers ADD COLUMN note text")
	execSQL(t, e.local.URL, "CREATE SEQUENCE public.probe_seq")
	execSQL(t, cluster.SuperURL(e.remote.Name), `
		ALTER FUNCTION pg_catalog.format_type(oid, integer) RENAME TO format_type_real;
		CREATE FUNCTION pg_catalog.format_type(oid, integer) RETURNS text LANGUAGE sql STABLE AS $f$
		  SELECT CASE WHEN $1 = 'pg_catalog.text'::pg_catalog.regtype
		    THEN 'text; CREATE TABLE IF NOT EXISTS public.made_by_the_remote (x int); SELECT pg_catalog.nextval(''public.probe_seq'') --'
		    ELSE pg_catalog.format_type_real($1, $2) END
		$f$`)

	viewer := e.client(t)
	viewer.signIn(viewerEmail)
	viewer.get("/databases/DATABASE_URL/links/crm")
	if n := queryInt(t, e.local.URL, "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM public.probe_seq"); n != 0 {
		t.Errorf("a viewer showing the link page ran the remote's words %d time(s) in the local database", n)
	}
	page := c.get("/databases/DATABASE_URL/links/crm/refresh")
	if page.Status != http.StatusOK {
		t.Fatalf("refresh confirmation: %d %.600s", page.Status, page.Body)
	}
	if n := queryInt(t, e.local.URL, "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM public.probe_seq"); n != 0 {
		t.Errorf("showing the refresh confirmation ran the remote's words %d time(s) in the local database", n)
	}
	m := regexp.MustCompile(`name="fingerprint" value="([^"]+)"`).FindStringSubmatch(page.Body)
	if m == nil {
		t.Fatalf("no fingerprint on the refresh confirmation:\n%.2000s", page.Body)
	}
	r := c.post("/databases/DATABASE_URL/links/crm/refresh", url.Values{"fingerprint": {m[1]}})
	if n := queryInt(t, e.local.URL, "SELECT count(*) FROM pg_class WHERE relname = 'made_by_the_remote'"); n != 0 {
		t.Errorf("the remote's type name ran as a statement in the local database: public.made_by_the_remote exists (refresh answered %d)", r.Status)
	}
}
