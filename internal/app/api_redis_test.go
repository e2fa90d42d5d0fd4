package app

import (
	"net/http"
	"strings"
	"testing"

	"github.com/pglinks/pglinks/internal/auth"
	"github.com/pglinks/pglinks/internal/pgtest"
)

// A Redis link through the API, as through its form: the dry run shows
// the statements (the Redis' password masked), the create takes the
// form's tables by type and key prefix and its writable box, the link
// and the Redis say their kind, drift and imports are refused as not
// applying, and the destroy is the destroy of any link.
func TestAPIRedisLink(t *testing.T) {
	t.Parallel()
	e := newRedisEnv(t)
	a := e.api(t, adminEmail, "ci")
	v := e.api(t, viewerEmail, "laptop")
	const dbs = "/api/v1/databases/DATABASE_URL/links"
	noSecret := func(what string, body []byte) {
		t.Helper()
		if strings.Contains(string(body), redisPassword) {
			t.Fatalf("%s shows the Redis password", what)
		}
	}
	body := map[string]any{
		"remote": "REDIS_URL", "name": "counters", "writable": true,
		"redis_tables": []map[string]any{{"name": "widgets", "type": "string", "key_prefix": "widget:"}, {"name": "people", "type": "hash", "key_prefix": "person:"}},
	}

	v.do("POST", dbs, body).Err(t, http.StatusForbidden, "forbidden")
	bad := a.do("POST", dbs, map[string]any{"remote": "REDIS_URL", "name": "counters", "redis_tables": []map[string]any{{"name": "Bad Name"}}}).Err(t, http.StatusUnprocessableEntity, "invalid")
	if bad.Error.Field != "redis_tables" {
		t.Errorf("bad table name: %+v", bad.Error)
	}

	dry := map[string]any{"dry_run": true}
	for k, val := range body {
		dry[k] = val
	}
	r := a.do("POST", dbs, dry)
	noSecret("the dry run", r.Body)
	var preview struct {
		Statements   []string
		PreviewToken string `json:"preview_token"`
	}
	r.JSON(t, &preview)
	all := strings.Join(preview.Statements, "\n")
	for _, want := range []string{"FOREIGN DATA WRAPPER pglinks_redis", "writable 'true'", "password '***'", "widget:", "person:"} {
		if !strings.Contains(all, want) {
			t.Errorf("dry run lacks %q:\n%s", want, all)
		}
	}
	if linkCount(t, &env{local: e.local}) != 0 {
		t.Fatal("the dry run made the link")
	}

	body["preview_token"] = preview.PreviewToken
	r = a.do("POST", dbs, body)
	noSecret("the create", r.Body)
	var created struct {
		Link struct {
			Kind     string
			ReadOnly bool `json:"read_only"`
		}
		Tables int
	}
	if r.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	r.JSON(t, &created)
	if created.Link.Kind != "redis" || created.Link.ReadOnly || created.Tables != 2 {
		t.Fatalf("created: %+v", created)
	}
	if got := pgtest.MustQueryString(t, e.local.URL, `SELECT string_agg(value, ',' ORDER BY key) FROM counters.widgets`); got != "101,102,103,104,105" {
		t.Fatalf("reading the Redis through the link: %s", got)
	}
	if d := e.auditBy(t, auth.ActionLinkCreate, adminEmail+" (token ci)"); len(d) != 1 || !strings.Contains(d[0].Detail, "a Redis link, writable") {
		t.Fatalf("create audit: %+v", d)
	}

	// The link and the Redis, as any role reads them.
	var one struct {
		Link struct {
			Kind   string
			Server struct{ Host, Port string }
		}
		Tables []struct{ Name string }
	}
	v.get(dbs+"/counters").JSON(t, &one)
	if one.Link.Kind != "redis" || one.Link.Server.Host != "127.0.0.1" || len(one.Tables) != 2 {
		t.Fatalf("link: %+v", one)
	}
	var redis struct{ Kind string }
	r = v.get("/api/v1/databases/REDIS_URL")
	noSecret("the Redis", r.Body)
	if r.JSON(t, &redis); redis.Kind != "redis" {
		t.Fatalf("the Redis: %s", r.Body)
	}
	var local struct{ Kind string }
	if v.get("/api/v1/databases/DATABASE_URL").JSON(t, &local); local.Kind != "postgres" {
		t.Fatalf("DATABASE_URL's kind: %q", local.Kind)
	}
	for _, path := range []string{"/refresh", "/import"} {
		if e := a.get(dbs+"/counters"+path).Err(t, http.StatusUnprocessableEntity, "invalid"); !strings.Contains(e.Error.Message, "does not apply") {
			t.Errorf("%s: %+v", path, e.Error)
		}
	}

	// Destroy, as any link.
	var plan struct{ Fingerprint string }
	a.get(dbs+"/counters/destroy").JSON(t, &plan)
	a.do("POST", dbs+"/counters/destroy", map[string]any{"confirm": "counters", "fingerprint": plan.Fingerprint})
	if linkCount(t, &env{local: e.local}) != 0 {
		t.Fatal("not destroyed")
	}
	if d := e.auditBy(t, auth.ActionLinkDestroy, adminEmail+" (token ci)"); len(d) != 1 {
		t.Fatalf("destroy audit: %+v", d)
	}
}
