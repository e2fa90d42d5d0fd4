package app

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pglinks/pglinks/internal/auth"
	"github.com/pglinks/pglinks/internal/links"
	"github.com/pglinks/pglinks/internal/pgtest"
)

var pages = []string{
	"/",
	"/databases/DATABASE_URL/links/sales",
	"/links/new",
	"/databases/DATABASE_URL/links/sales/destroy",
	"/audit",
	"/users",
}

func stateChanges(createForm, destroyForm url.Values) map[string]url.Values {
	return map[string]url.Values{
		"/links": createForm,
		"/databases/DATABASE_URL/links/sales/destroy": destroyForm,
		"/users":            {"email": {"new@example.com"}, "role": {"admin"}},
		"/users/1/role":     {"role": {"viewer"}},
		"/users/1/delete":   {},
		"/users/1/password": {},
	}
}

func createSales(t *testing.T, e *env) {
	t.Helper()
	c := e.client(t)
	c.signIn(adminEmail)
	r := c.post("/links", url.Values{"remote": {"HEROKU_POSTGRESQL_BLUE_URL"}, "local": {"DATABASE_URL"}, "name": {"sales"}})
	if r.Status != http.StatusSeeOther || r.Location != "/databases/DATABASE_URL/links/sales" {
		t.Fatalf("create: %d %s %s", r.Status, r.Location, r.Body)
	}
}

var createForm = url.Values{"remote": {"HEROKU_POSTGRESQL_BLUE_URL"}, "local": {"DATABASE_URL"}, "name": {"other"}}
var destroyForm = url.Values{"confirm": {"sales"}}

func TestAnonymous(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	createSales(t, e)
	c := e.client(t)
	for _, p := range pages {
		r := c.get(p)
		if r.Status != http.StatusSeeOther || r.Location != "/login?next="+url.QueryEscape(p) {
			t.Errorf("GET %s anonymously: %d to %q", p, r.Status, r.Location)
		}
	}
	for p, form := range stateChanges(createForm, destroyForm) {
		if r := c.post(p, form); r.Status != http.StatusForbidden {
			t.Errorf("POST %s anonymously: %d", p, r.Status)
		}
	}
	if r := c.post("/logout", nil); r.Status != http.StatusForbidden {
		t.Errorf("POST /logout anonymously: %d", r.Status)
	}
	if n := linkCount(t, e); n != 1 {
		t.Fatalf("anonymous requests changed the links: %d servers", n)
	}
	for _, open := range []string{"/healthz", "/login", "/static/css/app.css"} {
		if r := c.get(open); r.Status != http.StatusOK {
			t.Errorf("GET %s: %d", open, r.Status)
		}
	}
}

func TestViewerCannotChangeAnything(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	createSales(t, e)
	c := e.client(t)
	c.signIn(viewerEmail)

	r := c.get("/")
	if r.Status != 200 || !strings.Contains(r.Body, "sales") {
		t.Fatalf("viewer inventory: %d", r.Status)
	}
	for _, control := range []string{`data-testid="new-link"`, `data-testid="destroy"`, `href="/audit"`, `href="/users"`} {
		if strings.Contains(r.Body, control) {
			t.Errorf("viewer sees %s", control)
		}
	}
	if r := c.get("/databases/DATABASE_URL/links/sales"); r.Status != 200 || strings.Contains(r.Body, `data-testid="destroy"`) {
		t.Errorf("viewer link page: %d, destroy control shown: %v", r.Status, strings.Contains(r.Body, `data-testid="destroy"`))
	}
	for _, p := range []string{"/links/new", "/databases/DATABASE_URL/links/sales/destroy", "/audit", "/users",
		"/users/1/password", "/users/1/password/new", "/users/1/role?role=viewer"} {
		if r := c.get(p); r.Status != http.StatusForbidden {
			t.Errorf("viewer GET %s: %d", p, r.Status)
		}
	}
	for p, form := range stateChanges(createForm, destroyForm) {
		if r := c.post(p, form); r.Status != http.StatusForbidden {
			t.Errorf("viewer POST %s (valid token): %d", p, r.Status)
		}
	}
	if n := linkCount(t, e); n != 1 {
		t.Fatalf("viewer changed the links: %d servers", n)
	}
	if n := auditCount(t, e, auth.ActionDenied); n != len(stateChanges(createForm, destroyForm)) {
		t.Errorf("%d denied audit rows for the viewer's attempts", n)
	}
	users, _ := e.store.ListUsers(context.Background())
	if len(users) != 2 || users[0].Role != auth.RoleAdmin {
		t.Fatalf("viewer changed users: %+v", users)
	}
}

func TestCSRF(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	createSales(t, e)
	admin := e.client(t)
	admin.signIn(adminEmail)
	other := e.client(t)
	other.signIn(adminEmail) // a second session: its token must not work for the first

	for name, token := range map[string]string{"missing": "", "wrong": "not-the-token", "other session's": other.csrf} {
		for p, form := range stateChanges(createForm, destroyForm) {
			f := url.Values{}
			for k, v := range form {
				f[k] = v
			}
			f.Set("csrf", token)
			if token == "" {
				f.Del("csrf")
				r := admin.do("POST", p, f)
				if r.Status != http.StatusForbidden {
					t.Errorf("%s token, POST %s: %d", name, p, r.Status)
				}
				continue
			}
			if r := admin.do("POST", p, f); r.Status != http.StatusForbidden {
				t.Errorf("%s token, POST %s: %d", name, p, r.Status)
			}
		}
	}
	if n := linkCount(t, e); n != 1 {
		t.Fatalf("forged requests changed the links: %d servers", n)
	}
	if n := auditCount(t, e, auth.ActionDenied); n != 3*len(stateChanges(createForm, destroyForm)) {
		t.Errorf("%d denied audit rows for forged requests", n)
	}
	// A cross-site form post is refused even with the right token.
	r := admin.do("POST", "/links", url.Values{"csrf": {admin.csrf}, "remote": {"HEROKU_POSTGRESQL_BLUE_URL"}, "local": {"DATABASE_URL"}, "name": {"x"}},
		"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site")
	if r.Status != http.StatusForbidden {
		t.Errorf("cross-site POST: %d", r.Status)
	}
	if n := linkCount(t, e); n != 1 {
		t.Fatalf("cross-site request changed the links")
	}
}

func TestLoginRedirects(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for next, want := range map[string]string{
		"/audit?target=x":        "/audit?target=x",
		"//evil.example/":        "/",
		"https://evil.example/":  "/",
		`/\evil.example`:         "/",
		"javascript:alert(1)":    "/",
		"/%2F%2Fevil.example":    "/%2F%2Fevil.example",
		"":                       "/",
		"/login":                 "/",
		"http:/\\evil.example":   "/",
		"/ok\r\nSet-Cookie: x=y": "/",
	} {
		c := e.client(t)
		r := c.login(adminEmail, password, next)
		if r.Status != http.StatusSeeOther || r.Location != want {
			t.Errorf("next=%q: %d to %q, want %q", next, r.Status, r.Location, want)
		}
	}
}

func TestLoginFailures(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client(t)
	// Without the sign-in form's token (a login CSRF attempt) nobody signs in.
	if r := c.do("POST", "/login", url.Values{"email": {adminEmail}, "password": {password}}); r.Status != http.StatusForbidden {
		t.Fatalf("sign-in without the form token: %d", r.Status)
	}
	if r := c.get("/"); r.Status != http.StatusSeeOther {
		t.Fatalf("signed in without the form token: %d", r.Status)
	}
	wrongPw := c.login(adminEmail, "wrong password!!", "")
	unknown := c.login("nobody@example.com", "wrong password!!", "")
	if wrongPw.Status != http.StatusUnauthorized || unknown.Status != http.StatusUnauthorized {
		t.Fatalf("statuses %d %d", wrongPw.Status, unknown.Status)
	}
	if !strings.Contains(wrongPw.Body, "Invalid email or password.") || !strings.Contains(unknown.Body, "Invalid email or password.") {
		t.Fatal("wrong email and wrong password must give the same message")
	}
	if strings.Contains(wrongPw.Body, "wrong password!!") {
		t.Fatal("the password was echoed back")
	}
	if n := auditCount(t, e, auth.ActionLoginFailed); n != 2 {
		t.Fatalf("%d login_failed audit rows, want 2", n)
	}

	// The account locks after repeated failures, whatever X-Forwarded-For says.
	var last response
	for i := range 6 {
		last = c.login(viewerEmail, "nope nope nope", "", "X-Forwarded-For", "10.0.0."+string(rune('1'+i)))
	}
	if last.Status != http.StatusTooManyRequests || last.Header.Get("Retry-After") == "" {
		t.Fatalf("after 6 failures: %d", last.Status)
	}
	// Even the right password waits now.
	r := c.login(viewerEmail, password, "")
	if r.Status != http.StatusTooManyRequests {
		t.Fatalf("locked account signed in: %d", r.Status)
	}
}

func TestLogoutEndsSessionServerSide(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client(t)
	c.signIn(adminEmail)
	u, _ := url.Parse(e.srv.URL)
	stolen := c.http.Jar.Cookies(u)

	if r := c.post("/logout", nil); r.Status != http.StatusSeeOther || r.Location != "/login" {
		t.Fatalf("logout: %d %s", r.Status, r.Location)
	}
	if r := c.get("/login"); !strings.Contains(r.Body, "You have signed out.") {
		t.Error("no sign-out message")
	}
	// Replay the old cookie in a fresh client.
	replay := e.client(t)
	replay.http.Jar.SetCookies(u, stolen)
	if r := replay.get("/"); r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Location, "/login") {
		t.Fatalf("copied cookie after logout: %d %s", r.Status, r.Location)
	}
	if n := auditCount(t, e, auth.ActionLogout); n != 1 {
		t.Fatalf("%d logout audit rows", n)
	}
}

func TestSessionCookieAndFixation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client(t)
	r := c.login(adminEmail, password, "")
	sc := r.Header.Get("Set-Cookie")
	for _, want := range []string{"pglinks_session=", "HttpOnly", "SameSite=Lax", "Path=/"} {
		if !strings.Contains(sc, want) {
			t.Errorf("Set-Cookie %q lacks %s", sc, want)
		}
	}
	if strings.Contains(sc, "Secure") {
		t.Errorf("plain HTTP cookie marked Secure: %s", sc)
	}
	u, _ := url.Parse(e.srv.URL)
	first := c.http.Jar.Cookies(u)[0].Value
	// Signing in again issues a new session; the old one is gone.
	if r := c.login(adminEmail, password, ""); r.Status != http.StatusSeeOther {
		t.Fatalf("second sign-in: %d", r.Status)
	}
	if c.http.Jar.Cookies(u)[0].Value == first {
		t.Fatal("sign-in reused the session cookie")
	}
	old := e.client(t)
	old.http.Jar.SetCookies(u, []*http.Cookie{{Name: "pglinks_session", Value: first}})
	if r := old.get("/"); r.Status != http.StatusSeeOther {
		t.Fatalf("previous session still valid: %d", r.Status)
	}
}

func TestSecureCookieBehindTrustedProxy(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) {
		c.TrustedProxies = mustCIDRs(t, "127.0.0.1/32")
	})
	c := e.client(t)
	r := c.login(adminEmail, password, "", "X-Forwarded-Proto", "https")
	if sc := r.Header.Get("Set-Cookie"); !strings.Contains(sc, "Secure") {
		t.Fatalf("cookie behind a trusted https proxy lacks Secure: %s", sc)
	}
	if r.Header.Get("Strict-Transport-Security") == "" {
		t.Error("no HSTS over https")
	}
	// An untrusted peer cannot claim https.
	e2 := newEnv(t)
	r = e2.client(t).login(adminEmail, password, "", "X-Forwarded-Proto", "https")
	if sc := r.Header.Get("Set-Cookie"); strings.Contains(sc, "Secure") {
		t.Fatalf("untrusted X-Forwarded-Proto made the cookie Secure: %s", sc)
	}
}

func TestKeyRotationKeepsSessions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client(t)
	c.signIn(adminEmail)
	// Restart with a new key in front of the old one.
	cfg := e.app.cfg
	cfg.SessionKeys = append([]string{pgtest.RandomToken(32)}, e.keys...)
	rotated, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.srv.Config.Handler = rotated.Handler()
	if r := c.get("/"); r.Status != http.StatusOK {
		t.Fatalf("after adding a key: %d", r.Status)
	}
	// Dropping the old key ends sessions signed with it.
	cfg.SessionKeys = []string{pgtest.RandomToken(32)}
	only, _ := New(cfg)
	e.srv.Config.Handler = only.Handler()
	if r := c.get("/"); r.Status != http.StatusSeeOther {
		t.Fatalf("after dropping the key: %d", r.Status)
	}
}

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client(t)
	for _, p := range []string{"/login", "/healthz", "/static/css/app.css", "/nope"} {
		r := c.get(p)
		h := r.Header
		if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s CSP = %q", p, csp)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("X-Frame-Options") != "DENY" || h.Get("Referrer-Policy") == "" {
			t.Errorf("%s headers = %v", p, h)
		}
	}
	checkNoInline := func(path, body string) {
		for _, tag := range scriptTag.FindAllString(body, -1) {
			if !strings.Contains(tag, ` src="/static/`) {
				t.Errorf("%s: inline script %q breaks the CSP", path, tag)
			}
		}
		if inlineAttr.MatchString(body) {
			t.Errorf("%s: inline style or event handler %q breaks the CSP", path, inlineAttr.FindString(body))
		}
	}
	checkNoInline("/login", c.get("/login").Body)
	createSales(t, e)
	c.signIn(adminEmail)
	for _, p := range pages {
		r := c.get(p)
		if r.Status != http.StatusOK {
			t.Fatalf("GET %s: %d", p, r.Status)
		}
		checkNoInline(p, r.Body)
	}
}

var (
	scriptTag  = regexpMust(`<script[^>]*>`)
	inlineAttr = regexpMust(`\s(style|on[a-z]+)=`)
)

func TestCreateAndDestroyThroughHandlers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client(t)
	c.signIn(adminEmail)

	// Invalid input comes back in the form with the message by the field.
	r := c.post("/links", url.Values{"remote": {"HEROKU_POSTGRESQL_BLUE_URL"}, "local": {"DATABASE_URL"}, "name": {"<b>Bad</b>"}})
	if r.Status != http.StatusUnprocessableEntity || !strings.Contains(r.Body, `data-testid="error-name"`) || !strings.Contains(r.Body, `value="&lt;b&gt;Bad&lt;/b&gt;"`) {
		t.Fatalf("bad name: %d\n%s", r.Status, r.Body)
	}
	r = c.post("/links", url.Values{"remote": {"NOPE_URL"}, "local": {"DATABASE_URL"}, "name": {"x"}})
	if r.Status != http.StatusNotFound || !strings.Contains(r.Body, `data-testid="error-remote"`) {
		t.Fatalf("unknown remote: %d", r.Status)
	}
	r = c.post("/links", url.Values{"local": {"DATABASE_URL"}})
	if r.Status != http.StatusUnprocessableEntity || !strings.Contains(r.Body, "Choose the remote database.") {
		t.Fatalf("missing remote: %d", r.Status)
	}
	if linkCount(t, e) != 0 {
		t.Fatal("a refused create left a server")
	}

	r = c.post("/links", url.Values{"remote": {"HEROKU_POSTGRESQL_BLUE_URL"}, "local": {"DATABASE_URL"}, "name": {"sales"}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	page := c.get(r.Location)
	if !strings.Contains(page.Body, "&lt;script&gt;alert(1)&lt;/script&gt;") || strings.Contains(page.Body, "<script>alert(1)") {
		t.Fatal("a remote table name was not escaped")
	}
	if !strings.Contains(page.Body, "Link sales created") {
		t.Error("no flash after create")
	}

	// Destroy: the name must match, and only links can be destroyed.
	confirm := c.get("/databases/DATABASE_URL/links/sales/destroy")
	fp := regexpFind(t, confirm.Body, `name="fingerprint" value="([0-9a-f]+)"`)
	r = c.post("/databases/DATABASE_URL/links/sales/destroy", url.Values{"confirm": {"nope"}, "fingerprint": {fp}})
	if r.Status != http.StatusUnprocessableEntity || !strings.Contains(r.Body, "does not match") || linkCount(t, e) != 1 {
		t.Fatalf("mismatch: %d", r.Status)
	}
	execSQL(t, e.local.URL, "CREATE SCHEMA mine")
	for _, victim := range []string{"public", "pg_catalog", "mine"} {
		r = c.post("/databases/DATABASE_URL/links/"+victim+"/destroy", url.Values{"confirm": {victim}})
		if r.Status != http.StatusForbidden && r.Status != http.StatusNotFound {
			t.Errorf("destroy %s: %d", victim, r.Status)
		}
	}
	if n := queryInt(t, e.local.URL, "SELECT count(*) FROM pg_namespace WHERE nspname IN ('public', 'mine')"); n != 2 {
		t.Fatal("a crafted destroy dropped a schema")
	}
	r = c.post("/databases/DATABASE_URL/links/sales/destroy", url.Values{"confirm": {"sales"}, "fingerprint": {fp}})
	if r.Status != http.StatusSeeOther || r.Location != "/" || linkCount(t, e) != 0 {
		t.Fatalf("destroy: %d %s", r.Status, r.Body)
	}

	// Every step is in the audit trail, without a password.
	entries, _ := e.store.ListAudit(context.Background(), auth.AuditFilter{})
	var actions []string
	for _, a := range entries {
		actions = append(actions, a.Action+":"+a.Outcome)
		for _, s := range []string{a.Detail, a.DDL, a.Target} {
			if strings.Contains(s, e.remote.Password) || strings.Contains(s, e.local.Password) || strings.Contains(s, password) {
				t.Fatalf("audit row holds a password: %+v", a)
			}
		}
	}
	got := strings.Join(actions, " ")
	for _, want := range []string{"link_create_refused:refused", "link_create:ok", "link_destroy_refused:refused", "link_destroy:ok", "login:ok"} {
		if !strings.Contains(got, want) {
			t.Errorf("audit lacks %s: %s", want, got)
		}
	}
	r = c.get("/audit?target=DATABASE_URL/sales&action=link_destroy")
	if r.Status != 200 || strings.Count(r.Body, `data-testid="audit-row"`) != 1 {
		t.Errorf("audit filter: %d, %d rows", r.Status, strings.Count(r.Body, `data-testid="audit-row"`))
	}
	if r := c.get("/audit?action=bogus"); r.Status != http.StatusUnprocessableEntity {
		t.Errorf("bad audit action: %d", r.Status)
	}
}

func TestUsersThroughHandlers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client(t)
	c.signIn(adminEmail)
	// Post/redirect/get: the password is on the Users page the add leads
	// to, once; the POST's answer holds no password, a reload shows none.
	r := c.post("/users", url.Values{"email": {"new@example.com"}, "role": {"viewer"}})
	if r.Status != http.StatusSeeOther || r.Location != "/users" || strings.Contains(r.Body, "new-password") {
		t.Fatalf("add user: %d to %q", r.Status, r.Location)
	}
	r = c.get(r.Location)
	if r.Status != 200 || !strings.Contains(r.Body, `data-testid="new-password"`) || !strings.Contains(r.Body, "Added <span") {
		t.Fatalf("the Users page after an add: %d %.300s", r.Status, r.Body)
	}
	pw := regexpFind(t, r.Body, `<code[^>]*>([^<]+)</code>`)
	if _, err := e.store.Authenticate(context.Background(), "new@example.com", pw); err != nil {
		t.Fatalf("the shown password does not work: %v", err)
	}
	if again := c.get("/users"); again.Status != 200 || strings.Contains(again.Body, pw) || strings.Contains(again.Body, `data-testid="new-password"`) {
		t.Fatalf("a reload of the Users page shows the password again: %d", again.Status)
	}
	entries, _ := e.store.ListAudit(context.Background(), auth.AuditFilter{Action: auth.ActionUserAdd})
	if len(entries) != 1 || strings.Contains(entries[0].Detail, pw) {
		t.Fatalf("user_add audit: %+v", entries)
	}
	r = c.post("/users", url.Values{"email": {"new@example.com"}, "role": {"viewer"}})
	if r.Status != http.StatusConflict {
		t.Fatalf("duplicate user: %d", r.Status)
	}
	r = c.post("/users", url.Values{"email": {"x@example.com"}, "role": {"root"}})
	if r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("bad role: %d", r.Status)
	}

	ctx := context.Background()
	users, _ := e.store.ListUsers(ctx)
	ids := map[string]string{}
	for _, u := range users {
		ids[u.Email] = strconv.FormatInt(u.ID, 10)
	}
	if r := c.post("/users/"+ids["new@example.com"]+"/role", url.Values{"role": {"admin"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("set role: %d", r.Status)
	}
	if r := c.post("/users/"+ids[adminEmail]+"/delete", nil); r.Status != http.StatusSeeOther {
		t.Fatalf("remove self: %d", r.Status)
	}
	if r := c.post("/users/"+ids["new@example.com"]+"/delete", nil); r.Status != http.StatusSeeOther {
		t.Fatalf("remove: %d", r.Status)
	}
	if r := c.post("/users/999999/delete", nil); r.Status != http.StatusNotFound {
		t.Fatalf("remove unknown: %d", r.Status)
	}
	users, _ = e.store.ListUsers(ctx)
	if len(users) != 2 || users[0].Email != adminEmail {
		t.Fatalf("users after changes: %+v", users)
	}
	for action, want := range map[string]int{auth.ActionUserSetRole: 1, auth.ActionUserRemove: 1} {
		if n := auditCount(t, e, action); n != want {
			t.Errorf("%s audit rows: %d, want %d", action, n, want)
		}
	}
}

// fingerprintOf is the plan fingerprint a confirmation page carries.
func fingerprintOf(t *testing.T, page string) string {
	t.Helper()
	return regexpFind(t, page, `name="fingerprint" value="([0-9a-f]+)"`)
}

func regexpFind(t *testing.T, s, re string) string {
	t.Helper()
	m := regexpMust(re).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("no %s in page", re)
	}
	return m[1]
}

func TestIdleSessionEnds(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client(t)
	c.signIn(adminEmail)
	e.store.IdleTimeout = time.Nanosecond
	r := c.get("/audit")
	if r.Status != http.StatusSeeOther || r.Location != "/login?next=%2Faudit" {
		t.Fatalf("idle session: %d %s", r.Status, r.Location)
	}
	e.store.IdleTimeout = auth.DefaultIdleTimeout
	if r := c.get("/login"); !strings.Contains(r.Body, "Your session has ended") {
		t.Error("no message saying the session ended")
	}
	if r := c.get("/"); r.Status != http.StatusSeeOther {
		t.Fatalf("expired session came back: %d", r.Status)
	}
}

func TestInventoryShowsMisconfiguredDatabase(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a, err := New(testConfig(newLinks(t, []string{"DATABASE_URL=" + e.local.URL, "HEROKU_POSTGRESQL_RED_URL=mysql://root:topsecret@db/x"}, e.state), e.store, e.keys))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	c := (&env{app: a, srv: srv, store: e.store}).client(t)
	c.signIn(adminEmail)
	r := c.get("/")
	if r.Status != 200 || !strings.Contains(r.Body, "misconfigured") || !strings.Contains(r.Body, "does not hold a postgres:// URL") {
		t.Fatalf("inventory: %d", r.Status)
	}
	if strings.Contains(r.Body, "topsecret") {
		t.Fatal("a misconfigured URL's password is rendered")
	}
}

// New refuses a Config that lacks a part cmd/web wires: the app builds
// none of them itself.
func TestNewRefusesMissingParts(t *testing.T) {
	t.Parallel()
	whole := routesApp(t).cfg
	for name, drop := range map[string]func(*Config){
		"Fleet":       func(c *Config) { c.Fleet = nil },
		"Links":       func(c *Config) { c.Links = nil },
		"Health":      func(c *Config) { c.Health = nil },
		"Replication": func(c *Config) { c.Replication = nil },
		"Auth":        func(c *Config) { c.Auth = nil },
		"Limiter":     func(c *Config) { c.Limiter = nil },
	} {
		cfg := whole
		drop(&cfg)
		if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("without %s: %v", name, err)
		}
	}
}

// A database that is not in the fleet gets the one answer, 404 with the
// one message, whichever page asks: the fleet's Lookup says it for all.
func TestUnknownDatabaseOneAnswer(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client(t)
	c.signIn(adminEmail)
	const want = `There is no database &#34;NOPE_URL&#34; in this fleet.`
	for _, path := range []string{
		"/databases/NOPE_URL/links/sales",
		"/databases/NOPE_URL/links/sales/destroy",
		"/databases/NOPE_URL/links/sales/repair",
		"/databases/NOPE_URL/links/sales/refresh",
		"/databases/NOPE_URL/links/sales/import",
		"/databases/NOPE_URL/connection",
		"/replication/slots/drop?db=NOPE_URL&name=s",
		"/replication/subscriptions/drop?db=NOPE_URL&name=s",
	} {
		if r := c.get(path); r.Status != http.StatusNotFound || !strings.Contains(r.Body, want) {
			t.Errorf("GET %s: %d, message missing", path, r.Status)
		}
	}
	for _, path := range []string{"/databases/NOPE_URL/links/sales/check", "/databases/NOPE_URL/refresh"} {
		if r := c.post(path, url.Values{}); r.Status != http.StatusNotFound || !strings.Contains(r.Body, want) {
			t.Errorf("POST %s: %d, message missing", path, r.Status)
		}
	}
}

// A refused create and a refused repair are audited as every refused link
// change is: under their own *_refused action, with the message shown.
func TestRefusedCreateAndRepairAudited(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	c := e.client(t)
	c.signIn(adminEmail)
	if r := c.post("/links", url.Values{"remote": {"HEROKU_POSTGRESQL_BLUE_URL"}, "local": {"DATABASE_URL"}, "name": {"pg_bad"}}); r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("reserved name: %d", r.Status)
	}
	if _, err := e.app.cfg.Links.CreateLink(ctx, links.CreateRequest{RemoteVar: "HEROKU_POSTGRESQL_BLUE_URL", LocalVar: "DATABASE_URL", Name: "sales", CopyEnums: true}); err != nil {
		t.Fatal(err)
	}
	// In step with its remote: nothing to repair.
	if r := c.post("/databases/DATABASE_URL/links/sales/repair", url.Values{}); r.Status != http.StatusSeeOther {
		t.Fatalf("repair of a link in step: %d", r.Status)
	}
	for action, want := range map[string]string{auth.ActionLinkCreateRefused: "reserved", auth.ActionLinkRepairRefused: "nothing to repair"} {
		entries, err := e.store.ListAudit(ctx, auth.AuditFilter{Action: action})
		if err != nil || len(entries) != 1 || entries[0].Outcome != auth.OutcomeRefused || !strings.Contains(entries[0].Detail, want) {
			t.Errorf("%s: %+v, %v", action, entries, err)
		}
	}
	for _, action := range []string{auth.ActionLinkCreate, auth.ActionLinkRepair} {
		if entries, _ := e.store.ListAudit(ctx, auth.AuditFilter{Action: action}); len(entries) != 0 {
			t.Errorf("%s recorded for a change that did not happen: %+v", action, entries)
		}
	}
}
