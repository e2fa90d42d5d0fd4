package app

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/pglinks/pglinks/internal/auth"
	"github.com/pglinks/pglinks/internal/pgtest"
	"github.com/pglinks/pglinks/internal/state"
	"github.com/pglinks/pglinks/internal/state/statetest"
)

var cluster *pgtest.Cluster

func TestMain(m *testing.M) {
	// Fixtures add users and sign in, each a password hash: cheap ones
	// here (the parameters themselves are auth's tests' business).
	auth.UseCheapHashesInTests()
	flag.Parse()
	// The fuzz targets decode forms and need no database; every fuzz
	// worker is a process of its own that would start a cluster here.
	if f := flag.Lookup("test.fuzz"); f != nil && f.Value.String() != "" || flag.Lookup("test.fuzzworker").Value.String() == "true" {
		os.Exit(m.Run())
	}
	var err error
	if cluster, err = pgtest.Start(context.Background(), pgtest.Options{ForTests: true}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	cluster.Stop()
	os.Exit(code)
}

var seq atomic.Int64

const (
	adminEmail  = "admin@example.com"
	viewerEmail = "viewer@example.com"
	password    = "a long enough password"
)

// env is one test's app over fresh databases: a local and a remote (same
// cluster) and a state database with an admin and a viewer.
type env struct {
	app           *App
	srv           *httptest.Server
	state         *state.DB
	store         *auth.Store
	local, remote *pgtest.Database
	keys          []string
}

func newEnv(t *testing.T, opts ...func(*Config)) *env {
	t.Helper()
	ctx := context.Background()
	n := seq.Add(1)
	mk := func(name string, o pgtest.DBOptions) *pgtest.Database {
		d, err := cluster.CreateDatabase(ctx, fmt.Sprintf("%s_%d", name, n), o)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	e := &env{local: mk("local", pgtest.DBOptions{}), remote: mk("remote", pgtest.DBOptions{})}
	stateDB, err := statetest.CreateDatabase(ctx, cluster, fmt.Sprintf("state_%d", n))
	if err != nil {
		t.Fatal(err)
	}
	execSQL(t, e.remote.URL, `CREATE TABLE customers (id int, name text); CREATE TABLE "<script>alert(1)</script>" (x int)`)
	db, err := state.Open(ctx, stateDB.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	store := auth.NewStore(db)
	e.state, e.store = db, store
	for email, role := range map[string]auth.Role{adminEmail: auth.RoleAdmin, viewerEmail: auth.RoleViewer} {
		if _, err := store.AddUser(ctx, email, role, password); err != nil {
			t.Fatal(err)
		}
	}
	svc := newLinks(t, []string{"DATABASE_URL=" + e.local.URL, "HEROKU_POSTGRESQL_BLUE_URL=" + e.remote.URL}, db)
	e.keys = []string{pgtest.RandomToken(32)}
	cfg := testConfig(svc, store, e.keys)
	for _, o := range opts {
		o(&cfg)
	}
	e.app, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(e.app.Handler())
	t.Cleanup(e.srv.Close)
	return e
}

// client is a browser-like client: a cookie jar, no automatic redirects.
type client struct {
	t    *testing.T
	e    *env
	http *http.Client
	csrf string
}

func (e *env) client(t *testing.T) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, e: e, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type response struct {
	Status int
	// Body is the page without the <wbr> views.Name puts where a name may
	// wrap, so tests find names as people read them.
	Body     string
	Header   http.Header
	Location string
}

func (c *client) do(method, path string, form url.Values, headers ...string) response {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.e.srv.URL+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := response{Status: resp.StatusCode, Body: strings.ReplaceAll(string(b), "<wbr>", ""), Header: resp.Header, Location: resp.Header.Get("Location")}
	if m := csrfRe.FindStringSubmatch(r.Body); m != nil {
		c.csrf = m[1]
	}
	return r
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (c *client) get(path string) response { c.t.Helper(); return c.do("GET", path, nil) }

// post sends a form with the client's current CSRF token.
func (c *client) post(path string, form url.Values) response {
	c.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if form.Get("csrf") == "" && c.csrf != "" {
		form.Set("csrf", c.csrf)
	}
	return c.do("POST", path, form)
}

// login fills in the sign-in form as a browser would: GET it, then POST
// with its token.
func (c *client) login(email, pw, next string, headers ...string) response {
	c.t.Helper()
	c.get("/login")
	form := url.Values{"email": {email}, "password": {pw}, "csrf": {c.csrf}}
	if next != "" {
		form.Set("next", next)
	}
	return c.do("POST", "/login", form, headers...)
}

func (c *client) signIn(email string) {
	c.t.Helper()
	r := c.login(email, password, "")
	if r.Status != http.StatusSeeOther {
		c.t.Fatalf("sign in as %s: %d %s", email, r.Status, r.Body)
	}
	c.get("/") // pick up the CSRF token
	if c.csrf == "" {
		c.t.Fatal("no CSRF token after sign-in")
	}
}

func linkCount(t *testing.T, e *env) int {
	return queryInt(t, e.local.URL, "SELECT count(*) FROM pg_foreign_server")
}

func auditCount(t *testing.T, e *env, action string) int {
	entries, err := e.store.ListAudit(context.Background(), auth.AuditFilter{Action: action})
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

func execSQL(t *testing.T, url, sql string) { t.Helper(); pgtest.MustExec(t, url, sql) }

func queryInt(t *testing.T, url, sql string, args ...any) int {
	t.Helper()
	return pgtest.MustQueryInt(t, url, sql, args...)
}
