package app

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/pglinks/pglinks/internal/auth"
	"github.com/pglinks/pglinks/internal/fleet"
	"github.com/pglinks/pglinks/internal/links"
	"github.com/pglinks/pglinks/internal/replication"
	"github.com/pglinks/pglinks/views"
)

// routesApp is an app over a fleet of no database, for its routes only.
func routesApp(t *testing.T) *App {
	t.Helper()
	fl := fleet.New(nil)
	svc := links.NewService(fl, nil)
	a, err := New(Config{Fleet: fl, Links: svc, Health: links.NewMonitor(svc), Replication: replication.New(fl),
		Auth: &auth.Store{}, Limiter: auth.NewLimiter(&auth.Store{}, 0, 0, 0), SessionKeys: []string{strings.Repeat("k", 32)}})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// routeRe matches the paths of an Echo route pattern.
func routeRe(pattern string) *regexp.Regexp {
	parts := strings.Split(pattern, "/")
	for i, p := range parts {
		switch {
		case strings.HasPrefix(p, ":"):
			parts[i] = `[^/]+`
		case p == "*":
			parts[i] = `.*`
		default:
			parts[i] = regexp.QuoteMeta(p)
		}
	}
	return regexp.MustCompile(`^` + strings.Join(parts, "/") + `$`)
}

// matchRoute is the route serving method and the path of u, or nil.
func matchRoute(routes []*echo.Route, method, u string) *echo.Route {
	p, err := url.Parse(u)
	if err != nil {
		return nil
	}
	path := p.EscapedPath()
	if path == "" {
		path = "/"
	}
	for _, r := range routes {
		if r.Method == method && routeRe(r.Path).MatchString(path) {
			return r
		}
	}
	return nil
}

// Every path views build is a route of the app, with the method the view
// uses, and every route that takes a parameter is built by views/paths.go.
func TestPathsMatchRoutes(t *testing.T) {
	t.Parallel()
	routes := routesApp(t).echo.Routes()
	const db, name, id = "HEROKU_POSTGRESQL_BLUE_URL", "a b/c<d>", int64(42)
	built := []struct{ method, path string }{
		{http.MethodGet, views.LinkPath(db, name)},
		{http.MethodGet, views.DestroyPath(db, name)},
		{http.MethodPost, views.DestroyPath(db, name)},
		{http.MethodGet, views.RepairPath(db, name)},
		{http.MethodPost, views.RepairPath(db, name)},
		{http.MethodGet, views.EndConnectionsPath(db, name)},
		{http.MethodPost, views.EndConnectionsPath(db, name)},
		{http.MethodGet, views.RefreshPath(db, name)},
		{http.MethodPost, views.RefreshPath(db, name)},
		{http.MethodGet, views.ImportPath(db, name)},
		{http.MethodPost, views.ImportPath(db, name)},
		{http.MethodPost, views.HealthPath(db, name)},
		{http.MethodGet, views.QueryCheckPath(db, name)},
		{http.MethodPost, views.QueryCheckPath(db, name)},
		{http.MethodGet, views.SavedCheckPath(db, name, id)},
		{http.MethodGet, views.AnalyzeCheckPath(db, name, id)},
		{http.MethodPost, views.AnalyzeCheckPath(db, name, id)},
		{http.MethodGet, views.OptionPreviewPath(db, name, links.OptionChange{Key: "fetch_size", Value: "1000", Table: "a b"})},
		{http.MethodPost, views.OptionPath(db, name)},
		{http.MethodGet, views.AnalyzeTablesPath(db, name)},
		{http.MethodPost, views.AnalyzeTablesPath(db, name)},
		{http.MethodPost, views.DatabaseRefreshPath(db)},
		{http.MethodGet, views.ConnInfoPath(db)},
		{http.MethodGet, views.DatabasePath(db)},
		{http.MethodGet, views.NewLinkPath("")},
		{http.MethodGet, views.NewLinkPath(db)},
		{http.MethodGet, views.NewLinkFromPath(db, "salesforce")},
		{http.MethodGet, views.AuditPathFor(db + "/" + name)},
		{http.MethodGet, views.ReplicationPath("")},
		{http.MethodGet, views.ReplicationPath(db)},
		{http.MethodGet, views.ReplicationSearchPath("a b")},
		{http.MethodGet, views.DropSubscriptionPath(db, name)},
		{http.MethodGet, views.DropSlotPath(db, name)},
		{http.MethodPost, views.UserRolePath(id)},
		{http.MethodGet, views.UserPasswordPath(id)},
		{http.MethodPost, views.UserPasswordPath(id)},
		{http.MethodGet, views.UserNewPasswordPath(id)},
		{http.MethodGet, views.DemoteSelfPath(id)},
		{http.MethodGet, views.ConnectMessagePath(db, name, "opportunity", "2")},
		{http.MethodGet, views.UserRemovePath(id)},
		{http.MethodPost, views.UserDeletePath(id)},
		{http.MethodPost, views.UserTokenRevokePath(id, id+1)},
		{http.MethodPost, views.TokenRevokePath(id)},
	}
	served := map[*echo.Route]bool{}
	for _, b := range built {
		r := matchRoute(routes, b.method, b.path)
		if r == nil {
			t.Errorf("%s %s: no route", b.method, b.path)
			continue
		}
		served[r] = true
	}
	for _, r := range routes {
		// /api/v1's routes are the OpenAPI document's to describe
		// (TestAPIRoutesMatchOpenAPI); no page links to them.
		if strings.HasPrefix(r.Path, "/api/") {
			continue
		}
		if strings.Contains(r.Path, "/:") && !served[r] {
			t.Errorf("route %s %s takes parameters but no path builder makes it", r.Method, r.Path)
		}
	}
}

// Every literal path a template links to or posts to is a route of the
// app: a path with a parameter must come from a builder instead.
func TestTemplatePathsAreRoutes(t *testing.T) {
	t.Parallel()
	routes := routesApp(t).echo.Routes()
	files, err := filepath.Glob("../../views/*.templ")
	if err != nil || len(files) == 0 {
		t.Fatalf("templates: %v", err)
	}
	attr := regexp.MustCompile(`(href|action)="(/[^"]*)"`)
	formPost := regexp.MustCompile(`method="post"[^>]*action="(/[^"]*)"`)
	posted := map[string]bool{}
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range formPost.FindAllStringSubmatch(string(b), -1) {
			posted[f+"\x00"+m[1]] = true
		}
		for _, m := range attr.FindAllStringSubmatch(string(b), -1) {
			method := http.MethodGet
			if m[1] == "action" && posted[f+"\x00"+m[2]] {
				method = http.MethodPost
			}
			n++
			if matchRoute(routes, method, m[2]) == nil {
				t.Errorf("%s: %s %s is no route of the app", filepath.Base(f), method, m[2])
			}
		}
	}
	if n < 10 {
		t.Fatalf("only %d literal paths found: the pattern is wrong", n)
	}
}
