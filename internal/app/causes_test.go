package app

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/pglinks/pglinks/internal/auth"
	"github.com/pglinks/pglinks/internal/links"
)

// withEnv is e's databases, users and state served by another pglinks
// process whose environment is env (the same state database).
func (e *env) withEnv(t *testing.T, env []string, opts ...func(*Config)) *env {
	t.Helper()
	cfg := testConfig(newLinks(t, env, e.state), e.store, e.keys)
	for _, o := range opts {
		o(&cfg)
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e2 := *e
	e2.app, e2.srv = a, httptest.NewServer(a.Handler())
	t.Cleanup(e2.srv.Close)
	return &e2
}

// A failure is named by its cause on the cards, the link page's health
// badge, /metrics and the audit trail alike: a refused password is
// "password refused", never "unreachable" or "not answering", and is not
// said to be asked again; a closed port is "connection refused", asked
// again after its back-off.
//
// Serial: under the load of the parallel tests a probe that began before
// the password was rotated (or one through a local backend still holding
// its postgres_fdw connection from before) can finish after the check and
// leave the link healthy in /metrics.
func TestFailuresNamedByCause(t *testing.T) {
	ctx := context.Background()
	const token = "metrics-token"
	e := newEnv(t)
	if _, err := e.app.cfg.Links.CreateLink(ctx, links.CreateRequest{RemoteVar: "HEROKU_POSTGRESQL_BLUE_URL", LocalVar: "DATABASE_URL", Name: "crm"}); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	wrongPW := strings.Replace(e.remote.URL, ":"+e.remote.Password+"@", ":not-the-password@", 1)
	e = e.withEnv(t, []string{
		"DATABASE_URL=" + e.local.URL,
		"HEROKU_POSTGRESQL_BLUE_URL=" + e.remote.URL,
		"HEROKU_POSTGRESQL_GRAY_URL=postgres://someone:secret@" + closed + "/gone?sslmode=disable",
		"HEROKU_POSTGRESQL_RED_URL=" + wrongPW,
	}, func(c *Config) { c.MetricsToken = token })
	c := e.client(t)
	c.signIn(adminEmail)

	card := func(body, configVar string) string {
		t.Helper()
		i := strings.Index(body, `data-testid="db-`+configVar+`"`)
		if i < 0 {
			t.Fatalf("no card for %s", configVar)
		}
		s := body[i:]
		return s[:strings.Index(s, "</section>")]
	}
	inv := c.get("/").Body
	gray, red := card(inv, "HEROKU_POSTGRESQL_GRAY_URL"), card(inv, "HEROKU_POSTGRESQL_RED_URL")
	if !strings.Contains(gray, `data-testid="status">unreachable<`) || !regexp.MustCompile(`Connection refused since [^;<]+; pglinks asks again in \d+ s\.`).MatchString(gray) ||
		!strings.Contains(gray, "is unreachable: connection refused: nothing accepts connections at "+closed) {
		t.Errorf("closed port's card:\n%s", gray)
	}
	if !strings.Contains(red, `data-testid="status">password refused<`) || !strings.Contains(red, "Password refused since") ||
		!strings.Contains(red, "refused the connection: password refused") || strings.Contains(red, "not answering") ||
		strings.Contains(red, "Not answering") || strings.Contains(red, "asks again") || strings.Contains(red, "unreachable") {
		t.Errorf("refused password's card:\n%s", red)
	}

	// The link, its password rotated on the remote: the probe says so.
	if err := cluster.Exec(ctx, "postgres", "ALTER ROLE "+e.remote.Owner+" PASSWORD 'rotated-elsewhere'"); err != nil {
		t.Fatal(err)
	}
	if r := c.post("/databases/DATABASE_URL/links/crm/check", url.Values{}); r.Status != http.StatusSeeOther {
		t.Fatalf("check now: %d", r.Status)
	}
	page := c.get("/databases/DATABASE_URL/links/crm").Body
	if !strings.Contains(page, "password refused: HEROKU_POSTGRESQL_BLUE_URL rejected the credentials stored in the link") {
		t.Errorf("link page does not name the refused password:\n%s", page)
	}
	m := c.do("GET", "/metrics", nil, "Authorization", "Bearer "+token).Body
	for _, want := range []string{
		`pglinks_database_failure_reason{database="HEROKU_POSTGRESQL_GRAY_URL",reason="connection_refused"} 1`,
		`pglinks_database_failure_reason{database="HEROKU_POSTGRESQL_RED_URL",reason="password_refused"} 1`,
		`pglinks_link_failure_reason{database="DATABASE_URL",link="crm",reason="password_refused",remote="HEROKU_POSTGRESQL_BLUE_URL"} 1`,
		`pglinks_database_up{database="HEROKU_POSTGRESQL_RED_URL"} 0`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", m)
	}

	// A create the remote refuses is audited with the same words.
	if r := c.post("/links", url.Values{"remote": {"HEROKU_POSTGRESQL_RED_URL"}, "local": {"DATABASE_URL"}, "name": {"red"}}); r.Status < 400 {
		t.Fatalf("create from a refused remote: %d", r.Status)
	}
	entries, err := e.store.ListAudit(ctx, auth.AuditFilter{Action: auth.ActionLinkCreateRefused})
	if err != nil || len(entries) != 1 || !strings.Contains(entries[0].Detail, "password refused") || strings.Contains(entries[0].Detail, "unreachable") {
		t.Errorf("refused create audited as %+v (%v)", entries, err)
	}
}
