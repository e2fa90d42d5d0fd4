package app

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/pglinks/pglinks/internal/auth"
	"github.com/pglinks/pglinks/internal/pgtest"
	"github.com/pglinks/pglinks/internal/redistest"
	"github.com/pglinks/pglinks/internal/state"
)

const redisPassword = "redis-Handler-Secret-9"

// redisEnv is an app over DATABASE_URL (pglinks_redis installed, widgets),
// HEROKU_POSTGRESQL_BLUE_URL (without it) and REDIS_URL, a TLS Redis with
// a password whose CA the URL trusts, holding widget counters.
type redisEnv struct {
	*env
	redis *redistest.Server
	bare  *pgtest.Database
}

func newRedisEnv(t *testing.T) *redisEnv {
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
	e := &redisEnv{env: &env{local: mk("rlocal", pgtest.DBOptions{Redis: true})}, bare: mk("rbare", pgtest.DBOptions{})}
	execSQL(t, e.local.URL, `CREATE TABLE widgets (id int PRIMARY KEY, name text, stock int);
		INSERT INTO widgets SELECT g, 'Widget ' || g, g FROM generate_series(1, 5) g`)
	r, err := redistest.Start(ctx, redistest.Options{TLS: true, Password: redisPassword})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Stop)
	e.redis = r
	for i := 1; i <= 5; i++ {
		if _, err := r.Do(ctx, "SET", "widget:"+strconv.Itoa(i), strconv.Itoa(100+i)); err != nil {
			t.Fatal(err)
		}
	}
	db, err := state.Open(ctx, mk("state", pgtest.DBOptions{NoFDW: true}).URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	e.state, e.store = db, auth.NewStore(db)
	for email, role := range map[string]auth.Role{adminEmail: auth.RoleAdmin, viewerEmail: auth.RoleViewer} {
		if _, err := e.store.AddUser(ctx, email, role, password); err != nil {
			t.Fatal(err)
		}
	}
	redisURL := "rediss://:" + redisPassword + "@127.0.0.1:" + strconv.Itoa(r.Port) + "/0?tls_ca_file=" + r.CAFile
	svc := newLinks(t, []string{"DATABASE_URL=" + e.local.URL, "HEROKU_POSTGRESQL_BLUE_URL=" + e.bare.URL, "REDIS_URL=" + redisURL}, db)
	e.keys = []string{pgtest.RandomToken(32)}
	if e.app, err = New(testConfig(svc, e.store, e.keys)); err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(e.app.Handler())
	t.Cleanup(e.srv.Close)
	return e
}

func TestRedisLinkThroughHandlers(t *testing.T) {
	t.Parallel()
	e := newRedisEnv(t)
	c := e.client(t)
	c.signIn(adminEmail)
	noSecret := func(what, body string) {
		t.Helper()
		if strings.Contains(body, redisPassword) {
			t.Fatalf("%s shows the Redis password", what)
		}
	}

	// The inventory: a Redis card, and the card of a database where Redis
	// links cannot be made says what a superuser runs.
	inv := c.get("/")
	noSecret("the inventory", inv.Body)
	card := section(t, inv.Body, "db-REDIS_URL")
	for _, want := range []string{`data-testid="kind"`, "Redis 7", ">reachable<", ">5</bdi></dd>", "rediss://:***@127.0.0.1", "TLS, certificate verified against tls_ca_file", `data-testid="link-redis"`} {
		if !strings.Contains(card, want) {
			t.Errorf("Redis card lacks %q:\n%s", want, card)
		}
	}
	if strings.Contains(card, "Connection info") {
		t.Error("a Redis card offers PostgreSQL connection info")
	}
	if s := section(t, inv.Body, "db-DATABASE_URL"); strings.Contains(s, "redis-support") {
		t.Error("a database with pglinks_redis installed says Redis links cannot be made")
	}
	bare := section(t, inv.Body, "db-HEROKU_POSTGRESQL_BLUE_URL")
	if !strings.Contains(bare, `data-testid="redis-support"`) || !strings.Contains(bare, "CREATE EXTENSION pglinks_redis;\nGRANT USAGE ON FOREIGN DATA WRAPPER pglinks_redis TO &#34;"+e.bare.Owner+"&#34;;") {
		t.Errorf("card without pglinks_redis:\n%s", bare)
	}

	// The form for a Redis remote: tables by type and prefix; a Redis is
	// never offered as local.
	form := c.get("/links/new?remote=REDIS_URL")
	if !strings.Contains(form.Body, `data-testid="redis-options"`) || !strings.Contains(form.Body, `name="redis_table" value="redis"`) || strings.Contains(form.Body, `data-testid="import-options"`) {
		t.Fatalf("create form for a Redis:\n%s", form.Body)
	}
	if local := regexpFind(t, form.Body, `(?s)<select id="local"(.*?)</select>`); strings.Contains(local, "REDIS_URL") {
		t.Errorf("a Redis is offered as local: %s", local)
	}
	add := c.post("/links", url.Values{"op": {"load"}, "remote": {"REDIS_URL"}, "local": {"DATABASE_URL"}, "redis_table": {"redis", ""}, "redis_type": {"string", "string"}, "redis_prefix": {"", ""}})
	if n := strings.Count(add.Body, `data-testid="redis-table-row"`); n != 2 {
		t.Errorf("Add a table: %d rows, want the table and an empty one", n)
	}

	// Refusals come back in the form, at their field.
	r := c.post("/links", url.Values{"op": {"preview"}, "remote": {"REDIS_URL"}, "local": {"DATABASE_URL"}, "name": {"hredis"}, "redis_table": {"Bad Name"}, "redis_type": {"string"}})
	if r.Status != http.StatusUnprocessableEntity || !strings.Contains(r.Body, `data-testid="error-redis_tables"`) || !strings.Contains(r.Body, "lowercase letters") {
		t.Fatalf("bad table name: %d", r.Status)
	}
	r = c.post("/links", url.Values{"op": {"create"}, "remote": {"REDIS_URL"}, "local": {"HEROKU_POSTGRESQL_BLUE_URL"}, "name": {"hredis"}})
	if r.Status != http.StatusUnprocessableEntity || !strings.Contains(r.Body, `data-testid="error-local"`) || !strings.Contains(r.Body, "CREATE EXTENSION pglinks_redis;") {
		t.Fatalf("local without pglinks_redis: %d", r.Status)
	}

	// Preview, then create from it.
	prev := c.post("/links", url.Values{"op": {"preview"}, "remote": {"REDIS_URL"}, "local": {"DATABASE_URL"}, "name": {"hredis"}, "redis_table": {"redis", ""}, "redis_type": {"string", "string"}, "redis_prefix": {"", ""}})
	noSecret("the preview", prev.Body)
	for _, want := range []string{`data-testid="redis-preflight"`, "Redis 7", "5 keys", "FOREIGN DATA WRAPPER pglinks_redis", "OPTIONS (password &#39;***&#39;)", "redis: strings, every key", `name="redis_table" value="redis"`} {
		if !strings.Contains(prev.Body, want) {
			t.Errorf("preview lacks %q", want)
		}
	}
	if strings.Contains(prev.Body, "redis-not-transactional") {
		t.Error("a read-only link is called writable")
	}
	token := regexpFind(t, prev.Body, `name="token" value="([^"]+)"`)
	r = c.post("/links", url.Values{"op": {"create"}, "remote": {"REDIS_URL"}, "local": {"DATABASE_URL"}, "name": {"hredis"}, "redis_table": {"redis"}, "redis_type": {"string"}, "redis_prefix": {""}, "token": {token}})
	if r.Status != http.StatusSeeOther || r.Location != "/databases/DATABASE_URL/links/hredis" {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	if got := pgtest.MustQueryString(t, e.local.URL, `SELECT string_agg(id || '=' || my_counter, ',') FROM (SELECT w.id, w.name, w.stock, r.value AS my_counter FROM widgets w JOIN hredis.redis r ON r.key = CONCAT('widget:', w.id) ORDER BY r.value DESC) j`); got != "5=105,4=104,3=103,2=102,1=101" {
		t.Fatalf("the seed's join through the link: %s", got)
	}

	// The link page: \det with the Redis type and prefix, no drift.
	page := c.get(r.Location)
	noSecret("the link page", page.Body)
	for _, want := range []string{"Link hredis created", `data-testid="redis-keys">strings, every key`, `data-testid="no-drift"`, "Drift and refresh do not apply", "127.0.0.1:" + strconv.Itoa(e.redis.Port) + " db 0, TLS", "read-only"} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("link page lacks %q", want)
		}
	}
	if strings.Contains(page.Body, `data-testid="drift"`) || strings.Contains(page.Body, "Refresh link") {
		t.Error("a Redis link page offers drift or refresh")
	}
	r = c.post("/databases/DATABASE_URL/links/hredis/check", nil)
	if r.Status != http.StatusSeeOther {
		t.Fatalf("check now: %d", r.Status)
	}
	page = c.get("/databases/DATABASE_URL/links/hredis")
	if facts := section(t, page.Body, "redis-link"); !strings.Contains(facts, ">healthy<") && !strings.Contains(page.Body, ">healthy<") || !strings.Contains(facts, "Redis version") {
		t.Errorf("after a probe the page lacks the Redis facts:\n%s", facts)
	}
	if r := c.get("/databases/DATABASE_URL/links/hredis/refresh"); r.Status != http.StatusUnprocessableEntity || !strings.Contains(r.Body, "does not apply") {
		t.Errorf("refresh of a Redis link: %d", r.Status)
	}
	if r := c.get("/databases/DATABASE_URL/links/hredis/import"); r.Status != http.StatusUnprocessableEntity || !strings.Contains(r.Body, "does not apply") {
		t.Errorf("import into a Redis link: %d", r.Status)
	}
	if r := c.get("/databases/REDIS_URL/connection"); r.Status != http.StatusUnprocessableEntity || !strings.Contains(r.Body, "is a Redis") {
		t.Errorf("connection info of a Redis: %d", r.Status)
	}
	inv = c.get("/")
	if s := section(t, inv.Body, "db-REDIS_URL"); !strings.Contains(s, `data-testid="read-by"`) || !strings.Contains(s, "hredis") {
		t.Error("the Redis card does not say which link reads it")
	}

	// Destroy, as for any link.
	confirm := c.get("/databases/DATABASE_URL/links/hredis/destroy")
	fp := regexpFind(t, confirm.Body, `name="fingerprint" value="([0-9a-f]+)"`)
	r = c.post("/databases/DATABASE_URL/links/hredis/destroy", url.Values{"confirm": {"hredis"}, "fingerprint": {fp}})
	if r.Status != http.StatusSeeOther || linkCount(t, &env{local: e.local}) != 0 {
		t.Fatalf("destroy: %d %s", r.Status, r.Body)
	}
	entries, _ := e.store.ListAudit(context.Background(), auth.AuditFilter{Target: "DATABASE_URL/hredis"})
	var got []string
	for _, a := range entries {
		noSecret("the audit trail", a.DDL+a.Detail)
		got = append(got, a.Action+":"+a.Outcome)
		if a.Action == auth.ActionLinkCreate && (!strings.Contains(a.Detail, "a Redis link, read-only") || !strings.Contains(a.DDL, "pglinks_redis")) {
			t.Errorf("create audit: %+v", a)
		}
	}
	if s := strings.Join(got, " "); !strings.Contains(s, "link_create:ok") || !strings.Contains(s, "link_destroy:ok") {
		t.Errorf("audit: %s", s)
	}
}

// A writable link says, before it is made, that its writes are not
// transactional; a viewer is offered nothing to change.
func TestRedisWritableAndViewer(t *testing.T) {
	t.Parallel()
	e := newRedisEnv(t)
	c := e.client(t)
	c.signIn(adminEmail)
	prev := c.post("/links", url.Values{"op": {"preview"}, "remote": {"REDIS_URL"}, "local": {"DATABASE_URL"}, "name": {"counters"},
		"redis_table": {"widgets", "people"}, "redis_type": {"string", "hash"}, "redis_prefix": {"widget:", "person:"}, "redis_writable": {"1"}})
	for _, want := range []string{`data-testid="redis-not-transactional"`, "writable &#39;true&#39;", "widgets: strings, keys starting with &#34;widget:&#34;", "people: hashes", `name="redis_writable" value="1"`} {
		if !strings.Contains(prev.Body, want) {
			t.Errorf("writable preview lacks %q", want)
		}
	}
	v := e.client(t)
	v.signIn(viewerEmail)
	if inv := v.get("/"); strings.Contains(section(t, inv.Body, "db-REDIS_URL"), `data-testid="link-redis"`) {
		t.Error("a viewer is offered to link the Redis")
	}
	if r := v.get("/links/new?remote=REDIS_URL"); r.Status != http.StatusForbidden {
		t.Errorf("viewer create form: %d", r.Status)
	}
}

// section is the HTML of the element with data-testid id, up to the next
// card.
func section(t *testing.T, body, id string) string {
	t.Helper()
	i := strings.Index(body, `data-testid="`+id+`"`)
	if i < 0 {
		t.Fatalf("no %s in the page", id)
	}
	rest := body[i:]
	if j := strings.Index(rest[1:], "<section"); j >= 0 {
		rest = rest[:j+1]
	}
	return rest
}
