package app

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Two pglinks processes behind one address share the state database
// (sessions, audit, link records) and serialise link work through the
// databases' advisory locks: a session made on one is good on the other,
// and of two creates of one name at once, exactly one wins.
func TestTwoProcessesShareStateAndLocks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	second := func() *httptest.Server {
		svc := newLinks(t, []string{"DATABASE_URL=" + e.local.URL, "HEROKU_POSTGRESQL_BLUE_URL=" + e.remote.URL}, e.state)
		a, err := New(testConfig(svc, e.store, e.keys))
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(a.Handler())
		t.Cleanup(srv.Close)
		return srv
	}()

	c := e.client(t)
	c.signIn(adminEmail)
	// The same browser, now talking to the other process: the cookie is
	// for the same host (127.0.0.1), so the jar sends it.
	other := &client{t: t, e: &env{app: e.app, srv: second, store: e.store}, http: c.http, csrf: c.csrf}
	if r := other.get("/"); r.Status != http.StatusOK || !strings.Contains(r.Body, adminEmail) {
		t.Fatalf("session from process 1 on process 2: %d", r.Status)
	}

	var wg sync.WaitGroup
	statuses := make([]int, 2)
	bodies := make([]string, 2)
	for i, cl := range []*client{c, other} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// duplicate_ok: the race under test is the one on the name;
			// without it, a create that starts after the other finished
			// is stopped earlier by the same-pair warning.
			form := url.Values{"remote": {"HEROKU_POSTGRESQL_BLUE_URL"}, "local": {"DATABASE_URL"}, "name": {"both"}, "duplicate_ok": {"1"}, "csrf": {c.csrf}}
			r := cl.do("POST", "/links", form)
			statuses[i], bodies[i] = r.Status, r.Body
		}()
	}
	wg.Wait()
	wins := 0
	for i, s := range statuses {
		switch s {
		case http.StatusSeeOther:
			wins++
		case http.StatusConflict:
			if !strings.Contains(bodies[i], "taken") && !strings.Contains(bodies[i], "in progress") {
				t.Errorf("loser's message: %.400s", bodies[i])
			}
		default:
			t.Errorf("process %d answered %d", i+1, s)
		}
	}
	if wins != 1 {
		t.Fatalf("%d creates won, want exactly 1 (statuses %v)", wins, statuses)
	}
	if n := queryInt(t, e.local.URL, "SELECT count(*) FROM pg_foreign_server WHERE srvname = 'both'"); n != 1 {
		t.Fatalf("%d servers named both", n)
	}
	// The link made through either process is pglinks' own to both.
	for _, cl := range []*client{c, other} {
		if r := cl.get("/databases/DATABASE_URL/links/both"); r.Status != http.StatusOK {
			t.Fatalf("link page: %d", r.Status)
		}
	}
}

// A large fleet's inventory offers search and shows 20 cards a page.
func TestInventorySearchAndPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	vars := []string{"DATABASE_URL=" + e.local.URL}
	var names []string
	for i := 1; i <= 24; i++ {
		v := "FLEET_DB_" + strconv.Itoa(100+i)
		names = append(names, v)
		vars = append(vars, v+"="+e.remote.URL)
	}
	vars = append(vars, "PGLINKS_DATABASES="+strings.Join(names, ","))
	a, err := New(testConfig(newLinks(t, vars, e.state), e.store, e.keys))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	c := (&env{app: a, srv: srv, store: e.store}).client(t)
	c.signIn(viewerEmail)

	cards := func(body string) int { return strings.Count(body, `<section class="card scroll-mt-4"`) }
	r := c.get("/")
	if !strings.Contains(r.Body, `data-testid="fleet-search"`) || cards(r.Body) != 20 || !strings.Contains(r.Body, "25 databases.") {
		t.Fatalf("page 1: %d cards", cards(r.Body))
	}
	if r := c.get("/?page=2"); cards(r.Body) != 5 || !strings.Contains(r.Body, "Page 2 of 2") {
		t.Fatalf("page 2: %d cards", cards(r.Body))
	}
	r = c.get("/?q=db_107")
	if cards(r.Body) != 1 || !strings.Contains(r.Body, `data-testid="db-FLEET_DB_107"`) || !strings.Contains(r.Body, "1 of 25 databases match") {
		t.Fatalf("search: %d cards", cards(r.Body))
	}
	r = c.get("/?q=%3Cscript%3E")
	if !strings.Contains(r.Body, `data-testid="no-match"`) || strings.Contains(r.Body, "<script>") {
		t.Fatal("no-match message missing or the query echoed raw")
	}
	if r := c.get("/?page=x"); r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("bad page: %d", r.Status)
	}
}
