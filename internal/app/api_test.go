package app

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/pglinks/pglinks/internal/auth"
)

// Every /api/v1 route the app serves is in openapi.json, and every
// operation there is served: the document cannot drift from the router.
func TestAPIRoutesMatchOpenAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	doc, err := openapi3.NewLoader().LoadFromData(openAPIDoc)
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" /api/v1"+strings.NewReplacer("{db}", ":db", "{name}", ":name", "{id}", ":id").Replace(path)] = true
		}
	}
	served := map[string]bool{}
	for _, r := range e.app.echo.Routes() {
		if strings.HasPrefix(r.Path, "/api/v1/") && !strings.HasSuffix(r.Path, "*") && r.Method != "echo_route_not_found" && r.Path != "/api/v1" {
			served[r.Method+" "+r.Path] = true
		}
	}
	for k := range served {
		if !documented[k] {
			t.Errorf("%s is served but not in openapi.json", k)
		}
	}
	for k := range documented {
		if !served[k] {
			t.Errorf("%s is in openapi.json but not served", k)
		}
	}
	if len(served) < 25 {
		t.Fatalf("only %d API routes found: %v", len(served), served)
	}
}

// The API answers to a bearer token only: no token, a junk one, or a
// browser's session cookie (with its CSRF token) is 401, for reads and
// for writes, and changes nothing. The document itself needs no token.
func TestAPIRequiresToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	anon := &apiClient{t: t, e: e}
	r := anon.get("/api/v1/openapi.json")
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"openapi": "3.0.3"`) {
		t.Fatalf("openapi.json: %d", r.Status)
	}
	r = anon.get("/api/v1/databases")
	r.Err(t, http.StatusUnauthorized, "unauthorized")
	if h := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Bearer") {
		t.Errorf("WWW-Authenticate %q", h)
	}
	for _, token := range []string{"pgl_nope", "pgl_" + strings.Repeat("A", 43), "Basic Zm9vOmJhcg=="} {
		c := &apiClient{t: t, e: e, token: token}
		c.get("/api/v1/me").Err(t, http.StatusUnauthorized, "unauthorized")
	}
	basic := &apiClient{t: t, e: e, header: http.Header{"Authorization": {"Basic Zm9vOmJhcg=="}}}
	basic.get("/api/v1/me").Err(t, http.StatusUnauthorized, "unauthorized")

	// A signed-in admin's browser: its cookie and CSRF token do nothing here.
	b := e.client(t)
	b.signIn(adminEmail)
	u, _ := url.Parse(e.srv.URL)
	var cookies []string
	for _, ck := range b.http.Jar.Cookies(u) {
		cookies = append(cookies, ck.Name+"="+ck.Value)
	}
	if len(cookies) == 0 {
		t.Fatal("no session cookie")
	}
	browser := &apiClient{t: t, e: e, header: http.Header{"Cookie": {strings.Join(cookies, "; ")}, "X-Csrf-Token": {b.csrf}}}
	browser.get("/api/v1/databases").Err(t, http.StatusUnauthorized, "unauthorized")
	browser.do("POST", "/api/v1/databases/DATABASE_URL/links", map[string]any{"remote": "HEROKU_POSTGRESQL_BLUE_URL", "name": "sales"}).Err(t, http.StatusUnauthorized, "unauthorized")
	if n := linkCount(t, e); n != 0 {
		t.Fatalf("a cookie-only request made a link: %d servers", n)
	}
}

// Revoked and expired tokens, and tokens of a removed user, are refused;
// a role change applies at the next request.
func TestAPITokenLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	viewer := e.api(t, viewerEmail, "laptop")
	var me struct {
		Email, Role string
		Token       struct{ Name, Prefix string }
	}
	viewer.get("/api/v1/me").JSON(t, &me)
	if me.Email != viewerEmail || me.Role != "viewer" || me.Token.Name != "laptop" || !strings.HasPrefix(viewer.token, me.Token.Prefix) {
		t.Fatalf("me: %+v", me)
	}
	create := map[string]any{"remote": "HEROKU_POSTGRESQL_BLUE_URL", "name": "sales"}
	viewer.do("POST", "/api/v1/databases/DATABASE_URL/links", create).Err(t, http.StatusForbidden, "forbidden")

	// Made an admin: the same token may change things at once.
	if err := e.store.SetRole(ctx, viewerEmail, auth.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	if r := viewer.do("POST", "/api/v1/databases/DATABASE_URL/links", create); r.Status != http.StatusCreated {
		t.Fatalf("after promotion: %d %s", r.Status, r.Body)
	}
	if err := e.store.SetRole(ctx, viewerEmail, auth.RoleViewer); err != nil {
		t.Fatal(err)
	}
	viewer.do("POST", "/api/v1/databases/DATABASE_URL/links/sales/destroy", map[string]any{"dry_run": true}).Err(t, http.StatusForbidden, "forbidden")

	// Expired.
	expiring := e.api(t, adminEmail, "expiring")
	expiring.get("/api/v1/me")
	if _, err := e.store.Pool().Exec(ctx, `UPDATE pglinks.api_tokens SET expires_at = now() - interval '1 second' WHERE name = 'expiring'`); err != nil {
		t.Fatal(err)
	}
	expiring.get("/api/v1/me").Err(t, http.StatusUnauthorized, "unauthorized")

	// Revoked.
	admin := e.api(t, adminEmail, "ci")
	admin.get("/api/v1/me")
	tokens, err := e.store.ListTokens(ctx, e.userID(t, adminEmail))
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range tokens {
		if tok.Name == "ci" {
			if _, err := e.store.RevokeToken(ctx, tok.ID, 0); err != nil {
				t.Fatal(err)
			}
		}
	}
	admin.get("/api/v1/me").Err(t, http.StatusUnauthorized, "unauthorized")
	admin.do("POST", "/api/v1/databases/DATABASE_URL/links/sales/destroy", map[string]any{"confirm": "sales"}).Err(t, http.StatusUnauthorized, "unauthorized")

	// The user removed.
	if err := e.store.RemoveUser(ctx, viewerEmail); err != nil {
		t.Fatal(err)
	}
	viewer.get("/api/v1/databases").Err(t, http.StatusUnauthorized, "unauthorized")
	if n := linkCount(t, e); n != 1 {
		t.Fatalf("refused tokens changed the links: %d servers", n)
	}
}

// A viewer's token reads everything a viewer sees and changes nothing:
// every change and plan is 403, audited with the token named.
func TestAPIViewerReadsOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	createSales(t, e)
	v := e.api(t, viewerEmail, "dashboards")
	for _, p := range []string{"/api/v1/databases", "/api/v1/databases/DATABASE_URL", "/api/v1/databases/DATABASE_URL/links", "/api/v1/databases/DATABASE_URL/links/sales", "/api/v1/replication",
		"/api/v1/databases/DATABASE_URL/links/sales/query", "/api/v1/databases/DATABASE_URL/links/sales/performance"} {
		if r := v.get(p); r.Status != http.StatusOK {
			t.Errorf("viewer GET %s: %d %s", p, r.Status, r.Body)
		}
	}
	if r := v.do("POST", "/api/v1/databases/DATABASE_URL/links/sales/check", nil); r.Status != http.StatusOK {
		t.Errorf("viewer check: %d %s", r.Status, r.Body)
	}
	writes := []struct {
		method, path string
		body         any
	}{
		{"POST", "/api/v1/databases/DATABASE_URL/links", map[string]any{"remote": "HEROKU_POSTGRESQL_BLUE_URL", "name": "other"}},
		{"POST", "/api/v1/databases/DATABASE_URL/links/sales/destroy", map[string]any{"confirm": "sales"}},
		{"POST", "/api/v1/databases/DATABASE_URL/links/sales/refresh", map[string]any{"fingerprint": "x"}},
		{"POST", "/api/v1/databases/DATABASE_URL/links/sales/import", map[string]any{"tables": []string{"customers"}, "fingerprint": "x"}},
		{"POST", "/api/v1/databases/DATABASE_URL/links/sales/repair", map[string]any{"fingerprint": "x"}},
		{"POST", "/api/v1/databases/DATABASE_URL/links/sales/query", map[string]any{"sql": "SELECT * FROM sales.customers"}},
		{"POST", "/api/v1/databases/DATABASE_URL/links/sales/options", map[string]any{"key": "fetch_size", "value": "1000"}},
		{"POST", "/api/v1/databases/DATABASE_URL/links/sales/analyze", nil},
		{"POST", "/api/v1/replication/subscriptions/enable", map[string]any{"db": "DATABASE_URL", "name": "s"}},
		{"POST", "/api/v1/replication/subscriptions/disable", map[string]any{"db": "DATABASE_URL", "name": "s"}},
		{"POST", "/api/v1/replication/subscriptions/drop", map[string]any{"db": "DATABASE_URL", "name": "s", "confirm": "s"}},
		{"POST", "/api/v1/replication/slots/drop", map[string]any{"db": "DATABASE_URL", "name": "s", "confirm": "s"}},
		{"POST", "/api/v1/replication/publications", map[string]any{"db": "DATABASE_URL", "name": "p", "all_tables": true}},
		{"POST", "/api/v1/replication/subscriptions", map[string]any{"publisher": "DATABASE_URL", "subscriber": "HEROKU_POSTGRESQL_BLUE_URL", "publication": "p", "name": "s"}},
	}
	for _, w := range writes {
		v.do(w.method, w.path, w.body).Err(t, http.StatusForbidden, "forbidden")
	}
	for _, p := range []string{"/api/v1/databases/DATABASE_URL/links/sales/destroy", "/api/v1/databases/DATABASE_URL/links/sales/refresh",
		"/api/v1/databases/DATABASE_URL/links/sales/import", "/api/v1/databases/DATABASE_URL/links/sales/repair",
		"/api/v1/databases/DATABASE_URL/links/sales/options?key=fetch_size&value=1000",
		"/api/v1/replication/subscriptions/drop?db=DATABASE_URL&name=s", "/api/v1/replication/slots/drop?db=DATABASE_URL&name=s", "/api/v1/audit"} {
		v.get(p).Err(t, http.StatusForbidden, "forbidden")
	}
	if n := linkCount(t, e); n != 1 {
		t.Fatalf("a viewer's token changed the links: %d servers", n)
	}
	if got := len(e.auditBy(t, auth.ActionDenied, viewerEmail+" (token dashboards)")); got != len(writes) {
		t.Errorf("%d denied audit entries naming the token, want %d", got, len(writes))
	}
}

// apiLinkJSONForTest is the part of a link the tests look at.
type apiTestLink struct {
	Name       string
	Local      string
	CreatedAt  time.Time `json:"created_at"`
	RemoteName string    `json:"remote_name"`
	Remote     struct {
		ConfigVar    string `json:"config_var"`
		ResourceName string `json:"resource_name"`
	}
	Tables   []string
	ReadOnly bool `json:"read_only"`
	Health   struct{ State string }
}

// Create, list, read and destroy through the API, as the pages would:
// the dry run shows the SQL with the password masked, a destroy without
// or with a wrong confirmation changes nothing, and the audit names the
// token.
func TestAPICreateAndDestroy(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.api(t, adminEmail, "ci-deploy")
	const actor = adminEmail + " (token ci-deploy)"
	links := "/api/v1/databases/DATABASE_URL/links"

	var preview struct {
		Name         string
		Statements   []string
		Tables       []string
		PreviewToken string `json:"preview_token"`
	}
	a.do("POST", links, map[string]any{"remote": "HEROKU_POSTGRESQL_BLUE_URL", "name": "sales", "dry_run": true, "read_only": true}).JSON(t, &preview)
	sql := strings.Join(preview.Statements, "\n")
	if preview.Name != "sales" || !strings.Contains(sql, "CREATE SERVER") || !strings.Contains(sql, "password '***'") || strings.Contains(sql, e.remote.Password) || !strings.Contains(sql, "updatable 'false'") {
		t.Fatalf("dry run: %+v", preview)
	}
	if linkCount(t, e) != 0 {
		t.Fatal("the dry run made a link")
	}

	r := a.do("POST", links, map[string]any{"remote": "HEROKU_POSTGRESQL_BLUE_URL", "name": "sales", "read_only": true, "preview_token": preview.PreviewToken})
	if r.Status != http.StatusCreated || r.Header.Get("Location") != "/api/v1/databases/DATABASE_URL/links/sales" {
		t.Fatalf("create: %d %s %s", r.Status, r.Header.Get("Location"), r.Body)
	}
	var created struct {
		Link   apiTestLink
		Tables int
		SQL    []string
	}
	r.JSON(t, &created)
	if created.Link.Name != "sales" || created.Tables != 2 || !created.Link.ReadOnly || strings.Contains(strings.Join(created.SQL, ";"), e.remote.Password) {
		t.Fatalf("created: %+v", created)
	}
	if strings.Join(created.SQL, "\n") != sql {
		t.Errorf("the create ran other statements than its dry run showed:\n%s\nvs\n%s", strings.Join(created.SQL, "\n"), sql)
	}
	if n := len(e.auditBy(t, auth.ActionLinkCreate, actor)); n != 1 {
		t.Errorf("%d create audit entries by %q", n, actor)
	}

	// The same name again: a conflict, on the name field.
	if e := a.do("POST", links, map[string]any{"remote": "HEROKU_POSTGRESQL_BLUE_URL", "name": "sales", "duplicate_ok": true}).Err(t, http.StatusConflict, "conflict"); e.Error.Field != "name" {
		t.Errorf("name taken: field %q", e.Error.Field)
	}
	// A second link between the same databases asks first.
	dup := a.do("POST", links, map[string]any{"remote": "HEROKU_POSTGRESQL_BLUE_URL", "name": "sales2"}).Err(t, http.StatusConflict, "conflict")
	if dup.Error.Field != "duplicate_ok" || !slices.Equal(dup.Error.Details, []string{"sales"}) {
		t.Errorf("duplicate: %+v", dup)
	}

	// The listing, as pg:links.
	var list struct {
		Database struct {
			ConfigVar    string `json:"config_var"`
			ResourceName string `json:"resource_name"`
		}
		Links []apiTestLink
	}
	a.get(links).JSON(t, &list)
	if len(list.Links) != 1 || list.Links[0].Name != "sales" || list.Links[0].Remote.ConfigVar != "HEROKU_POSTGRESQL_BLUE_URL" || list.Links[0].RemoteName != "sales" || list.Links[0].CreatedAt.IsZero() || list.Database.ConfigVar != "DATABASE_URL" {
		t.Fatalf("listing: %+v", list)
	}
	var all struct {
		Databases []struct {
			ConfigVar string `json:"config_var"`
			URL       string
			Links     []apiTestLink
			ReadBy    []struct{ Local, Name string } `json:"read_by"`
		}
		Total    int
		NextPage *int `json:"next_page"`
	}
	a.get("/api/v1/databases?per_page=1").JSON(t, &all)
	if all.Total != 2 || len(all.Databases) != 1 || all.NextPage == nil || *all.NextPage != 2 || len(all.Databases[0].Links) != 1 || strings.Contains(all.Databases[0].URL, e.local.Password) {
		t.Fatalf("databases page 1: %+v", all)
	}
	a.get("/api/v1/databases?per_page=1&page=2").JSON(t, &all)
	if len(all.Databases) != 1 || all.NextPage != nil || all.Databases[0].ConfigVar != "HEROKU_POSTGRESQL_BLUE_URL" || len(all.Databases[0].ReadBy) != 1 {
		t.Fatalf("databases page 2: %+v", all)
	}

	// One link, its tables one page at a time.
	var page struct {
		Link   apiTestLink
		Tables []struct {
			Name, Server string
			Columns      []struct{ Name, Type string }
		}
		Total    int
		NextPage *int `json:"next_page"`
	}
	a.get(links+"/sales?per_page=1").JSON(t, &page)
	if page.Total != 2 || len(page.Tables) != 1 || page.NextPage == nil || page.Tables[0].Server != "sales" {
		t.Fatalf("link page 1: %+v", page)
	}
	a.get(links+"/sales?per_page=1&page=2").JSON(t, &page)
	if len(page.Tables) != 1 || page.NextPage != nil {
		t.Fatalf("link page 2: %+v", page)
	}
	a.get(links+"/sales?q=CUSTOM").JSON(t, &page)
	if page.Total != 1 || page.Tables[0].Name != "customers" || len(page.Tables[0].Columns) != 2 {
		t.Fatalf("filtered: %+v", page)
	}
	a.get(links+"/nope").Err(t, http.StatusNotFound, "not_found")
	a.get("/api/v1/databases/NOPE_URL/links").Err(t, http.StatusNotFound, "not_found")
	a.raw("GET", links+"/sales?page=0", "", "").Err(t, http.StatusUnprocessableEntity, "invalid")

	// Destroy: the plan, then refusals that change nothing.
	var plan struct {
		Tables      []string
		SQL         []string
		Fingerprint string
	}
	a.get(links+"/sales/destroy").JSON(t, &plan)
	if len(plan.Tables) != 2 || len(plan.SQL) == 0 {
		t.Fatalf("plan: %+v", plan)
	}
	var dry struct{ Fingerprint string }
	a.do("POST", links+"/sales/destroy", map[string]any{"dry_run": true}).JSON(t, &dry)
	if dry.Fingerprint != plan.Fingerprint {
		t.Errorf("dry run fingerprint %q, plan's %q", dry.Fingerprint, plan.Fingerprint)
	}
	for _, body := range []map[string]any{
		{},
		{"fingerprint": plan.Fingerprint},
		{"confirm": "sales ", "fingerprint": plan.Fingerprint},
		{"confirm": "SALES", "fingerprint": plan.Fingerprint},
		{"confirm": "", "fingerprint": plan.Fingerprint},
	} {
		if e := a.do("POST", links+"/sales/destroy", body).Err(t, http.StatusUnprocessableEntity, "invalid"); e.Error.Field != "confirm" {
			t.Errorf("destroy %v: field %q", body, e.Error.Field)
		}
		if linkCount(t, e) != 1 {
			t.Fatalf("destroy %v destroyed the link", body)
		}
	}
	a.do("POST", links+"/sales/destroy", map[string]any{"confirm": "sales", "fingerprint": "stale"}).Err(t, http.StatusConflict, "conflict")
	if linkCount(t, e) != 1 {
		t.Fatal("a wrong fingerprint destroyed the link")
	}
	if n := len(e.auditBy(t, auth.ActionLinkDestroyRefused, actor)); n != 6 {
		t.Errorf("%d refused destroys audited by %q, want 6", n, actor)
	}
	var destroyed struct {
		Message string
		SQL     []string
	}
	a.do("POST", links+"/sales/destroy", map[string]any{"confirm": "sales", "fingerprint": plan.Fingerprint}).JSON(t, &destroyed)
	if linkCount(t, e) != 0 || !strings.Contains(destroyed.Message, "destroyed") {
		t.Fatalf("destroy: %+v, %d servers left", destroyed, linkCount(t, e))
	}
	entries := e.auditBy(t, auth.ActionLinkDestroy, actor)
	if len(entries) != 1 || !strings.Contains(entries[0].DDL, "DROP SCHEMA") || entries[0].Target != "DATABASE_URL/sales" {
		t.Errorf("destroy audit: %+v", entries)
	}
}

// The request body is read strictly, and every refusal has the one error
// shape, naming the field.
func TestAPIStrictJSON(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.api(t, adminEmail, "ci")
	links := "/api/v1/databases/DATABASE_URL/links"
	for _, tc := range []struct {
		body, contentType, field, says string
		status                         int
	}{
		{`{"remote": "HEROKU_POSTGRESQL_BLUE_URL", "nmae": "x"}`, "application/json", "nmae", `"nmae"`, 422},
		{`{"remote": "HEROKU_POSTGRESQL_BLUE_URL", "read_only": "yes"}`, "application/json", "read_only", "true or false", 422},
		{`{"remote": "HEROKU_POSTGRESQL_BLUE_URL", "tables": "a,b"}`, "application/json", "tables", "an array", 422},
		{`{"remote": "HEROKU_POSTGRESQL_BLUE_URL"} {"x": 1}`, "application/json", "", "more than one JSON value", 422},
		{`{"remote": `, "application/json", "", "ends in the middle", 422},
		{`remote=HEROKU_POSTGRESQL_BLUE_URL`, "application/x-www-form-urlencoded", "", "Content-Type: application/json", 422},
		{`{"remote": "HEROKU_POSTGRESQL_BLUE_URL", "name": "a\u0000b"}`, "application/json", "name", "NUL", 422},
		{`{"name": "x"}`, "application/json", "remote", "remote", 422},
	} {
		r := a.raw("POST", links, tc.body, tc.contentType)
		got := r.Err(t, tc.status, "invalid")
		if got.Error.Field != tc.field || !strings.Contains(got.Error.Message, tc.says) {
			t.Errorf("%s: field %q, message %q", tc.body, got.Error.Field, got.Error.Message)
		}
	}
	big := `{"remote": "HEROKU_POSTGRESQL_BLUE_URL", "tables": ["` + strings.Repeat("x", 70_000) + `"]}`
	a.raw("POST", links, big, "application/json").Err(t, http.StatusRequestEntityTooLarge, "invalid")
	if linkCount(t, e) != 0 {
		t.Fatal("a refused request made a link")
	}
}

// Names read from a remote come back as the exact strings they are: JSON
// data, never markup or escapes of pglinks' own.
func TestAPIHostileNames(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	hostile := []string{`<script>alert(1)</script>`, `it's "quoted"`, "evil\u202Elive", "with  spaces ", `back\slash`}
	for _, n := range hostile[1:] {
		execSQL(t, e.remote.URL, fmt.Sprintf(`CREATE TABLE %s ("<b>col</b>" int)`, quoteIdentForTest(n)))
	}
	a := e.api(t, adminEmail, "ci")
	if r := a.do("POST", "/api/v1/databases/DATABASE_URL/links", map[string]any{"remote": "HEROKU_POSTGRESQL_BLUE_URL", "name": "odd"}); r.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	r := a.get("/api/v1/databases/DATABASE_URL/links/odd?per_page=500")
	var page struct {
		Tables []struct {
			Name        string
			RemoteTable string `json:"remote_table"`
			Columns     []struct{ Name string }
		}
	}
	r.JSON(t, &page)
	var names []string
	for _, tb := range page.Tables {
		names = append(names, tb.Name)
		if tb.RemoteTable != tb.Name {
			t.Errorf("remote table %q for %q", tb.RemoteTable, tb.Name)
		}
		if tb.Name != "customers" && (len(tb.Columns) != 1 || tb.Columns[0].Name != "<b>col</b>") && tb.Name != hostile[0] {
			t.Errorf("columns of %q: %+v", tb.Name, tb.Columns)
		}
	}
	want := append([]string{"customers"}, hostile...)
	sort.Strings(want)
	sort.Strings(names)
	if !slices.Equal(names, want) {
		t.Fatalf("names:\n%q\nwant\n%q", names, want)
	}
	if !strings.Contains(string(r.Body), `"<script>alert(1)</script>"`) || !strings.Contains(string(r.Body), "evil\u202Elive") {
		t.Errorf("names are not in the answer as plain JSON strings:\n%s", r.Body)
	}
	if cto := r.Header.Get("X-Content-Type-Options"); cto != "nosniff" {
		t.Errorf("X-Content-Type-Options %q", cto)
	}
}

func quoteIdentForTest(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
