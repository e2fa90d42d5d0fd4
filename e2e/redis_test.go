package e2e

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/pglinks/pglinks/internal/pgtest"
	"github.com/pglinks/pglinks/internal/redistest"
	"github.com/playwright-community/playwright-go"
)

// seedJoin is seed 004's query, verbatim.
const seedJoin = `SELECT w.id, w.name, w.stock, r.value AS my_counter FROM widgets w JOIN hredis.redis r ON r.key = CONCAT('widget:', w.id) ORDER BY r.value DESC`

// TestRedisLinkInTheBrowser: an admin links a TLS Redis (REDIS_URL, its
// CA trusted through tls_ca_file) into DATABASE_URL in the browser, as
// `heroku pg:links:create REDIS_URL DATABASE_URL --as hredis` did: the
// form's Redis tables, the preview with the pre-flight's answer and the
// password masked, the link page, a probe through the link; then seed
// 004's join runs verbatim through it. The Redis card, the form and the
// link page fit at 1280 and 390 px and pass axe, with screenshots.
func TestRedisLinkInTheBrowser(t *testing.T) {
	t.Parallel()
	a, _ := clusters(t)
	ctx := context.Background()
	n := dbSeq.Add(1)
	mk := func(name string, opts pgtest.DBOptions) *pgtest.Database {
		d, err := a.CreateDatabase(ctx, fmt.Sprintf("%s_%d", name, n), opts)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	const redisPassword = "e2e-Redis-Secret-31"
	r, err := redistest.Start(ctx, redistest.Options{TLS: true, Password: redisPassword})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Stop)
	var cmds [][]any
	for i := 1; i <= 25; i++ {
		cmds = append(cmds, []any{"SET", "widget:" + strconv.Itoa(i), strconv.Itoa(100 + (i*389)%900)})
	}
	if _, err := r.Pipeline(ctx, cmds); err != nil {
		t.Fatal(err)
	}
	f := &testFleet{
		local: mk("shop", pgtest.DBOptions{Redis: true}),
		nofdw: mk("plain", pgtest.DBOptions{}),
		state: mk("state", pgtest.DBOptions{NoFDW: true}),

		adminEmail: "admin@example.com", adminPassword: "correct horse battery staple",
	}
	execSQL(t, f.local.URL, `CREATE TABLE widgets (id int PRIMARY KEY, name text NOT NULL, stock int NOT NULL);
		INSERT INTO widgets SELECT g, 'Widget ' || g, (g * 37) % 120 FROM generate_series(1, 25) g`)
	f.env = []string{
		"DATABASE_URL=" + f.local.URL,
		"HEROKU_POSTGRESQL_BLUE_URL=" + f.nofdw.URL,
		"REDIS_URL=rediss://:" + redisPassword + "@127.0.0.1:" + strconv.Itoa(r.Port) + "/0?tls_ca_file=" + r.CAFile,
		"PGLINKS_RESOURCE_NAMES=DATABASE_URL=postgresql-animate-91581,REDIS_URL=redis-cubed-58211",
		"PGLINKS_STATE_URL=" + f.state.URL,
		"PGLINKS_SESSION_KEYS=" + pgtest.RandomToken(32),
	}
	f.userAdd(t, f.adminEmail, "admin", f.adminPassword)
	srv := startServer(t, f.env)
	noSecret := func(page playwright.Page, what string) {
		t.Helper()
		html, err := page.Content()
		must(t, err)
		if strings.Contains(html, redisPassword) {
			t.Fatalf("%s shows the Redis password", what)
		}
	}
	check := func(page playwright.Page, name string, width int) {
		t.Helper()
		noSecret(page, name)
		checkFits(t, page, name)
		checkAxe(t, page, name)
		screenshot(t, page, fmt.Sprintf("redis-%s-%d", name, width))
	}

	page := newSizedPage(t, 1280)
	goTo(t, page, srv.URL+"/login")
	signIn(t, page, srv.URL, f.adminEmail, f.adminPassword)
	must(t, expect.Page(page).ToHaveURL(srv.URL+"/"))

	// The Redis card.
	goTo(t, page, srv.URL+"/?q=redis")
	card := page.GetByTestId("db-REDIS_URL")
	must(t, expect.Locator(card.GetByTestId("kind")).ToContainText("Redis 7"))
	must(t, expect.Locator(card.GetByTestId("status")).ToHaveText("reachable"))
	must(t, expect.Locator(card.GetByTestId("redis-facts")).ToContainText("25"))
	check(page, "card", 1280)
	goTo(t, page, srv.URL+"/")
	must(t, expect.Locator(page.GetByTestId("db-HEROKU_POSTGRESQL_BLUE_URL").GetByTestId("redis-support")).ToContainText("pglinks_redis is not installed"))

	// New data link: choose the Redis, load its choices, preview, create.
	goTo(t, page, srv.URL+"/links/new")
	_, err = page.Locator("#remote").SelectOption(playwright.SelectOptionValues{Values: &[]string{"REDIS_URL"}})
	must(t, err)
	_, err = page.Locator("#local").SelectOption(playwright.SelectOptionValues{Values: &[]string{"DATABASE_URL"}})
	must(t, err)
	must(t, page.GetByTestId("load-tables").Click())
	must(t, expect.Locator(page.GetByTestId("redis-options")).ToBeVisible())
	must(t, expect.Locator(page.Locator("#redis_table-0")).ToHaveValue("redis"))
	must(t, expect.Locator(page.GetByTestId("redis-writable")).Not().ToBeChecked())
	must(t, expect.Locator(page.Locator("#name")).ToHaveAttribute("placeholder", "cubed_58211"))
	check(page, "create", 1280)
	must(t, page.Locator("#name").Fill("hredis"))
	must(t, page.GetByTestId("preview").Click())
	must(t, expect.Locator(page.GetByTestId("redis-preflight")).ToContainText("Redis 7"))
	must(t, expect.Locator(page.GetByTestId("create-preview")).ToContainText("FOREIGN DATA WRAPPER pglinks_redis"))
	must(t, expect.Locator(page.GetByTestId("create-preview")).ToContainText("OPTIONS (password '***')"))
	noSecret(page, "the preview")
	screenshot(t, page, "redis-preview-1280")
	must(t, page.GetByTestId("create").Click())
	must(t, expect.Locator(page.GetByTestId("link-name")).ToHaveText("hredis"))
	must(t, expect.Locator(page.GetByTestId("redis-keys")).ToHaveText("strings, every key"))
	must(t, expect.Locator(page.GetByTestId("no-drift")).ToContainText("Drift and refresh do not apply"))
	must(t, page.GetByTestId("check-now").Click())
	must(t, expect.Locator(page.GetByTestId("health-badge")).ToHaveText("healthy"))
	must(t, expect.Locator(page.GetByTestId("redis-link-facts")).ToContainText("Redis version"))
	check(page, "link", 1280)

	// Seed 004's join, verbatim, through the link the browser made.
	got := pgtest.MustQueryString(t, f.local.URL, "SELECT string_agg(id || '=' || my_counter, ',') FROM ("+seedJoin+") j")
	if parts := strings.Split(got, ","); len(parts) != 25 || parts[0] != "23=947" || parts[1] != "16=924" {
		t.Fatalf("the seed's join through hredis: %s", got)
	}

	small := newSizedPage(t, 390)
	goTo(t, small, srv.URL+"/login")
	signIn(t, small, srv.URL, f.adminEmail, f.adminPassword)
	must(t, expect.Page(small).ToHaveURL(srv.URL+"/"))
	goTo(t, small, srv.URL+"/?q=redis")
	check(small, "card", 390)
	goTo(t, small, srv.URL+"/links/new?remote=REDIS_URL&local=DATABASE_URL")
	must(t, expect.Locator(small.GetByTestId("redis-options")).ToBeVisible())
	check(small, "create", 390)
	goTo(t, small, srv.URL+"/databases/DATABASE_URL/links/hredis")
	check(small, "link", 390)

	// Destroy, as for any link.
	goTo(t, page, srv.URL+"/databases/DATABASE_URL/links/hredis/destroy")
	must(t, page.Locator("#confirm").Fill("hredis"))
	must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Destroy link"}).Click())
	must(t, expect.Page(page).ToHaveURL(srv.URL+"/"))
	if n := countLinkObjects(t, f.local.URL, "hredis"); n != 0 {
		t.Fatalf("%d objects of hredis left", n)
	}
}
