package app

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pglinks/pglinks/internal/auth"
	"github.com/pglinks/pglinks/internal/pgtest"
	"github.com/pglinks/pglinks/internal/state"
)

// loginCancelled posts the sign-in form with a request context that has
// already ended, so the password is never checked.
func (c *client) loginCancelled(email, pw string) int {
	c.t.Helper()
	c.get("/login")
	form := url.Values{"email": {email}, "password": {pw}, "csrf": {c.csrf}}
	req := httptest.NewRequest("POST", "/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	u, _ := url.Parse(c.e.srv.URL)
	for _, ck := range c.http.Jar.Cookies(u) {
		req.AddCookie(ck)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rec := httptest.NewRecorder()
	c.e.app.Handler().ServeHTTP(rec, req.WithContext(ctx))
	return rec.Code
}

// Only a correct password clears an account's failures: a sign-in that
// failed for another reason (here a cancelled request) must not reset them.
func TestLoginLimitNotResetByOtherFailures(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client(t)
	for i := range 4 {
		if r := c.login(viewerEmail, "wrong guess number "+string(rune('a'+i)), ""); r.Status != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d", i+1, r.Status)
		}
	}
	if code := c.loginCancelled(viewerEmail, "cancelled guess!!"); code == http.StatusSeeOther || code == http.StatusUnauthorized {
		t.Fatalf("cancelled sign-in answered %d", code)
	}
	// The limit is 5 failures: the 5th guess is checked, the 6th refused.
	if r := c.login(viewerEmail, "wrong guess number e", ""); r.Status != http.StatusUnauthorized {
		t.Fatalf("5th guess: %d", r.Status)
	}
	if r := c.login(viewerEmail, "wrong guess number f", ""); r.Status != http.StatusTooManyRequests {
		t.Fatalf("6th guess answered %d: the cancelled sign-in reset the failures", r.Status)
	}
}

// A NUL byte in a form field or a query parameter is refused with a clear
// 400, never a 500 from the database.
func TestNULBytesRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client(t)
	c.get("/login")
	r := c.do("POST", "/login", url.Values{"email": {"ad\x00min@example.com"}, "password": {password}, "csrf": {c.csrf}})
	if r.Status != http.StatusBadRequest || !strings.Contains(r.Body, "control character") {
		t.Fatalf("NUL in email: %d %.300s", r.Status, r.Body)
	}
	c.signIn(adminEmail)
	for _, path := range []string{"/audit?target=%00", "/audit?action=%00", "/databases/DATABASE_URL%00/links/x", "/links/new?local=%00"} {
		r := c.get(path)
		if r.Status != http.StatusBadRequest || !strings.Contains(r.Body, "control character") {
			t.Errorf("%s: %d %.200s", path, r.Status, r.Body)
		}
	}
	r = c.post("/links", url.Values{"remote": {"HEROKU_POSTGRESQL_BLUE_URL"}, "local": {"DATABASE_URL"}, "name": {"a\x00b"}})
	if r.Status != http.StatusBadRequest {
		t.Fatalf("NUL in a create form: %d", r.Status)
	}
}

// Directory paths under /static answer 404 instead of redirecting to
// themselves.
func TestStaticDirectories(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client(t)
	for _, path := range []string{"/static/css/", "/static/js/", "/static/", "/static/css", "/static/nope.css"} {
		if r := c.get(path); r.Status != http.StatusNotFound {
			t.Errorf("%s: %d (Location %q)", path, r.Status, r.Location)
		}
	}
	if r := c.get("/static/css/app.css"); r.Status != http.StatusOK {
		t.Fatalf("app.css: %d", r.Status)
	}
}

// A state database that accepts connections and never answers: signed-in
// pages answer 503 naming the state database within the call timeout,
// instead of hanging.
func TestStateDatabaseSilent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	n := seq.Add(1)
	stateDB, err := cluster.CreateDatabase(ctx, fmt.Sprintf("state_silent_%d", n), pgtest.DBOptions{NoFDW: true})
	if err != nil {
		t.Fatal(err)
	}
	proxy, err := cluster.NewProxy()
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	db, err := state.Open(ctx, proxy.URL(stateDB.URL))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		// The proxy goes first: pgx closes a connection whose statement
		// timed out by draining it until the server hangs up, up to 15 s,
		// and behind a stalled proxy the server never does.
		proxy.Close()
		db.Close()
	}()
	store := auth.NewStore(db)
	if _, err := store.AddUser(ctx, adminEmail, auth.RoleAdmin, password); err != nil {
		t.Fatal(err)
	}
	store.CallTimeout = 2 * time.Second
	a, err := New(testConfig(newLinks(t, nil, db), store, []string{pgtest.RandomToken(32)}))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	e := &env{app: a, srv: srv, store: store}
	c := e.client(t)
	c.signIn(adminEmail)

	// From now on every new statement on the state database stalls.
	proxy.Stall("pglinks", "pglinks.")
	store.Pool().Reset() // new connections, which the proxy now watches
	start := time.Now()
	r := c.get("/")
	took := time.Since(start)
	if r.Status != http.StatusServiceUnavailable || !strings.Contains(r.Body, "state database") {
		t.Fatalf("with the state database silent: %d %.400s", r.Status, r.Body)
	}
	if took > 10*time.Second {
		t.Fatalf("answer took %v", took)
	}
	if proxy.Stalled() == 0 {
		t.Fatal("the proxy stalled nothing: the test proves nothing")
	}
}

// A big link's page stays small: one page of tables, a filter, and names
// read from the remote shown with their invisible characters escaped.
func TestLinkPagePagedAndNamesEscaped(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	execSQL(t, e.remote.URL, `DO $$ BEGIN FOR i IN 1..130 LOOP EXECUTE format('CREATE TABLE t_%s (id int, v text)', lpad(i::text, 3, '0')); END LOOP; END $$;
		CREATE TABLE "`+"\u202E"+`evil" (x int)`)
	c := e.client(t)
	c.signIn(adminEmail)
	if r := c.post("/links", url.Values{"remote": {"HEROKU_POSTGRESQL_BLUE_URL"}, "local": {"DATABASE_URL"}, "name": {"big"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("create: %d %.300s", r.Status, r.Body)
	}
	r := c.get("/databases/DATABASE_URL/links/big")
	if r.Status != http.StatusOK {
		t.Fatalf("link page: %d", r.Status)
	}
	if n := strings.Count(r.Body, `data-testid="foreign-table"`); n != 50 {
		t.Fatalf("page 1 shows %d tables, want 50", n)
	}
	if !strings.Contains(r.Body, "Tables 1–50 of 133") || !strings.Contains(r.Body, `rel="next"`) {
		t.Fatal("no pager")
	}
	r = c.get("/databases/DATABASE_URL/links/big?page=3")
	if n := strings.Count(r.Body, `data-testid="foreign-table"`); n != 33 || !strings.Contains(r.Body, "t_130") {
		t.Fatalf("page 3 shows %d tables", n)
	}
	// The override sorts last, onto page 3.
	if strings.Contains(r.Body, "\u202E") {
		t.Fatal("a right-to-left override reached the page")
	}
	if !strings.Contains(r.Body, "&lt;U+202E&gt;</span>evil") {
		i := strings.Index(r.Body, "evil")
		t.Fatalf("the override is not shown as an escape: %q", r.Body[max(0, i-200):i+20])
	}
	r = c.get("/databases/DATABASE_URL/links/big?q=t_12")
	if n := strings.Count(r.Body, `data-testid="foreign-table"`); n != 10 || !strings.Contains(r.Body, "t_120") || strings.Contains(r.Body, "t_119") {
		t.Fatalf("filter shows %d tables", n)
	}
	r = c.get("/databases/DATABASE_URL/links/big?q=%3Cimg+src%3Dx%3E")
	if !strings.Contains(r.Body, "No foreign table name contains") || strings.Contains(r.Body, "<img src=x>") {
		t.Fatalf("filter with markup: %.300s", r.Body)
	}
	if r := c.get("/databases/DATABASE_URL/links/big?page=zero"); r.Status != http.StatusUnprocessableEntity || !strings.Contains(r.Body, "not a whole number") {
		t.Fatalf("bad page number: %d", r.Status)
	}
}

// The destroy page lists a column of an outside table that the drop would
// take, in PostgreSQL's own words; a forged link is neither listed nor
// destroyable.
func TestDestroyPageListsColumnsAndIgnoresForgeries(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client(t)
	c.signIn(adminEmail)
	if r := c.post("/links", url.Values{"remote": {"HEROKU_POSTGRESQL_BLUE_URL"}, "local": {"DATABASE_URL"}, "name": {"sales"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("create: %d", r.Status)
	}
	execSQL(t, e.local.URL, `CREATE TABLE public.snap (id int, c sales.customers);
		CREATE SERVER reporting FOREIGN DATA WRAPPER postgres_fdw; CREATE SCHEMA reporting; CREATE TABLE reporting.revenue (amount int)`)
	comment := queryString(t, e.local.URL, "SELECT replace(obj_description('sales'::regnamespace, 'pg_namespace'), '\"link\":\"sales\"', '\"link\":\"reporting\"')")
	execSQL(t, e.local.URL, "COMMENT ON SERVER reporting IS '"+strings.ReplaceAll(comment, "'", "''")+"'; COMMENT ON SCHEMA reporting IS '"+strings.ReplaceAll(comment, "'", "''")+"'")
	r := c.get("/databases/DATABASE_URL/links/sales/destroy")
	if !strings.Contains(r.Body, "column c of table public.snap") {
		t.Fatalf("destroy page does not list the column: %.2000s", r.Body)
	}
	inv := c.get("/")
	if strings.Contains(inv.Body, `data-testid="link-reporting"`) || !strings.Contains(inv.Body, `data-testid="unrecorded"`) {
		t.Fatal("the forged link shows as a link, or the notice is missing")
	}
	if r := c.get("/databases/DATABASE_URL/links/reporting/destroy"); r.Status != http.StatusForbidden {
		t.Fatalf("destroy page of a forged link: %d", r.Status)
	}
	if r := c.post("/databases/DATABASE_URL/links/reporting/destroy", url.Values{"confirm": {"reporting"}}); r.Status != http.StatusForbidden {
		t.Fatalf("destroy of a forged link: %d", r.Status)
	}
	if n := queryInt(t, e.local.URL, "SELECT count(*) FROM reporting.revenue"); n != 0 {
		t.Fatal("unexpected rows")
	}
}

func queryString(t *testing.T, url, sql string) string {
	t.Helper()
	return pgtest.MustQueryString(t, url, sql)
}

// Creating a link from a remote that stalls mid-import, through the form:
// a clear 503 within the bound, the attempt in the audit trail, and the
// same name free again right after.
func TestCreateStalledRemoteThroughForm(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	proxy, err := cluster.NewProxy()
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	svc := newLinks(t, []string{"DATABASE_URL=" + e.local.URL, "HEROKU_POSTGRESQL_BLUE_URL=" + proxy.URL(e.remote.URL)}, e.state)
	svc.Fleet.Deadlines.Statement = 2 * time.Second
	a, err := New(testConfig(svc, e.store, e.keys))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	e2 := &env{app: a, srv: srv, store: e.store, local: e.local, remote: e.remote}
	c := e2.client(t)
	c.signIn(adminEmail)

	proxy.Stall("pglinks/", "pg_class")
	start := time.Now()
	r := c.post("/links", url.Values{"remote": {"HEROKU_POSTGRESQL_BLUE_URL"}, "local": {"DATABASE_URL"}, "name": {"stall"}})
	if r.Status != http.StatusServiceUnavailable || !strings.Contains(r.Body, "stopped answering") {
		t.Fatalf("stalled create: %d %.300s", r.Status, r.Body)
	}
	if took := time.Since(start); took > 15*time.Second {
		t.Fatalf("stalled create answered after %v", took)
	}
	entries, err := e.store.ListAudit(context.Background(), auth.AuditFilter{Action: auth.ActionLinkCreateRefused})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Outcome != auth.OutcomeFailed || !strings.Contains(entries[0].Detail, "stopped answering") {
		t.Fatalf("audit = %+v", entries)
	}
	proxy.Unstall()
	if r := c.post("/links", url.Values{"remote": {"HEROKU_POSTGRESQL_BLUE_URL"}, "local": {"DATABASE_URL"}, "name": {"stall"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("retry: %d %.300s", r.Status, r.Body)
	}
}
